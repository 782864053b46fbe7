//! The crate-private `World`: every entity of the cluster model, the event queue, the random
//! streams and the history being recorded. Controllers (one file each under `controllers/`) are
//! `impl World` blocks; the public [`crate::Sim`] owns a `World` and drives it.
//!
//! Only the engine mutates the world. Policies see it through [`crate::policy::ClusterView`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use crate::history::History;
use crate::ids::{Arena, ConfigMapId, InstanceId, NodeId, PodId, ServiceId, WorkloadId};
use crate::queue::EventQueue;
use crate::rng::Streams;
use crate::spec::{ClusterKind, Labels, NodeRole, PoolAction, Pricing, RestartPolicy, Scenario};
use crate::time::SimTime;
use crate::traffic::Topology;

/// Things that happen at an instant. Events that refer to a pod carry the pod's generation at
/// scheduling time; a pod bumps its generation whenever its container changes state, which
/// makes any older event about it stale (lazy cancellation).
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// Fault number `i` of the scenario fires.
    Fault(usize),
    /// The scheduler tries the pending pods.
    Schedule,
    /// A container start attempt finishes (success or failure).
    StartDone { pod: PodId, epoch: u32 },
    /// A volume finished attaching to a node (`epoch` is the volume's).
    VolumeAttached { vol: u32, epoch: u32 },
    /// A volume is detached from its node.
    VolumeDetached { vol: u32, epoch: u32 },
    /// The next run of probe timeouts drawn for a service's pods below saturation (`epoch` is
    /// the service's draw generation, `controllers/waits.rs`).
    ProbeWaits { svc: ServiceId, epoch: u32 },
    /// A drawn run of probe timeouts is over (`epoch` is the pod's).
    ProbeWaitsEnd { pod: PodId, epoch: u32 },
    /// A warming container's capacity takes its next step (`epoch` is the container's).
    WarmupStep { pod: PodId, epoch: u32, step: u32 },
    /// CrashLoopBackOff is over: the kubelet starts the container again.
    Restart { pod: PodId, epoch: u32 },
    /// A probe reaches its success or failure threshold at this tick (`epoch` is the probe's).
    Probe { pod: PodId, kind: ProbeKind, epoch: u32 },
    /// A container told to stop (SIGTERM) has exited.
    Stopped { pod: PodId, epoch: u32 },
    /// The kubelets have refreshed the volumes of a ConfigMap to this version.
    VolumeRefresh { cm: ConfigMapId, version: u32 },
    /// PodGC removes pods bound to deleted nodes.
    PodGc,
    /// Alert rules are evaluated and the policy takes a look.
    Monitor,
    /// The policy asked to look again now.
    PolicyWake { epoch: u32 },
    /// An action the policy issued takes effect.
    Action { idx: usize },
    /// A cloud instance finished booting (after a start, purchase, reboot or reimage).
    InstanceBooted { inst: InstanceId, epoch: u32 },
    /// A booted instance's node has joined its cluster and is Ready.
    NodeJoined { inst: InstanceId, epoch: u32 },
    /// A scheduled job (cron) of a pool runs.
    Cron { pool: u32, action: PoolAction },
    /// A swarm manager gives up on a node that stopped sending heartbeats.
    SwarmNodeDown { node: NodeId, epoch: u32 },
    /// A classic swarm manager gives up on an engine that stopped answering its refreshes.
    ClassicNodeFailed { node: NodeId, epoch: u32 },
    /// A manager that joined swarm mode now answers as a Raft member.
    ManagerReachable { node: NodeId, epoch: u32 },
    /// A swarm cluster's managers elect a leader (`epoch` is the cluster's election generation).
    LeaderElected { cluster: u32, epoch: u32 },
    /// A node's CPU demand crosses its capacity (`epoch` is the node's CPU watch generation).
    CpuCross { node: NodeId, epoch: u32 },
    /// A node has been over 100 % CPU for its cluster's `agentStallAfter`: its agent stops.
    AgentStall { node: NodeId, epoch: u32 },
    /// A saturated node's backlog passes the router's timeout: its requests start failing.
    CpuBacklog { node: NodeId, epoch: u32 },
    /// Service discovery drops a stale record (a removed container's address) of a service.
    StaleRecordExpired { svc: ServiceId, mrps: u64 },
    /// A load balancer health-checks one backend (`epoch` is the backend's).
    LbCheck { lb: u32, backend: u32, epoch: u32 },
    /// A quiet service's load passes its capacity: its pods start queueing (`epoch` is its wake-up's).
    BacklogWake { svc: ServiceId, epoch: u32 },
    /// A pod's backlog crosses one of its probes' timeouts (`epoch` is the pod's backlog epoch).
    Backlog { pod: PodId, epoch: u32 },
    /// The node lifecycle controller acts on what it now sees of a node (`epoch` is the node's
    /// health generation): see `controllers/nodelifecycle.rs`.
    NodeCheck { node: NodeId, epoch: u32 },
    /// The taint manager's queue of one zone may taint its next node (see `TaintQueue`).
    ZoneTaint { cluster: u32, zone: u32 },
    /// The NoExecute taint's toleration ran out: the node's pods are evicted.
    NodeEvict { node: NodeId, epoch: u32 },
    /// A timed change of a node's agents: a restart finishes, the PLEG threshold passes, a
    /// network loss or overload ends, PLEG trouble comes back (see `controllers/nodeagent.rs`).
    AgentTimer { node: NodeId, epoch: u32 },
    /// The kubelet's eviction manager looks at a node under DiskPressure.
    PressureCheck { node: NodeId, epoch: u32 },
    /// `kubectl drain` number `idx` tries its evictions again.
    DrainTick { idx: usize },
    /// The run is over.
    End,
}

/// The three probe kinds, in the order the kubelet gates them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ProbeKind {
    Startup = 0,
    Liveness = 1,
    Readiness = 2,
}

impl ProbeKind {
    pub(crate) const ALL: [ProbeKind; 3] = [ProbeKind::Startup, ProbeKind::Liveness, ProbeKind::Readiness];

    pub(crate) fn name(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }
}

/// A probe's settings, resolved to milliseconds and service ids.
#[derive(Clone, Debug)]
pub(crate) struct ProbeCfg {
    pub initial_delay_ms: u64,
    pub period_ms: u64,
    pub success_threshold: u32,
    pub failure_threshold: u32,
    /// Services the check's handler calls; the check fails while any has no serving endpoint.
    pub calls: Vec<ServiceId>,
}

/// The kubelet's bookkeeping for one probe of one pod, evaluated lazily: instead of an event per
/// period, it remembers the result counts up to `next_tick` and the input (would a probe pass
/// now?), and schedules one event at the tick where a threshold will be reached.
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct ProbeRt {
    /// Whether the kubelet is running this probe now.
    pub active: bool,
    /// The first probe tick not yet counted.
    pub next_tick: SimTime,
    /// Consecutive successes counted so far.
    pub ok_run: u32,
    /// Consecutive failures counted so far.
    pub fail_run: u32,
    /// Current result: `None` before the first threshold (startup probes), else pass/fail.
    pub result: Option<bool>,
    /// Would a probe pass if it ran now?
    pub input: bool,
    /// Generation of the one threshold event scheduled for this probe; older ones are stale.
    pub epoch: u32,
}

/// Why a container stopped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ExitReason {
    /// The subPath bind source of this ConfigMap is gone (kubernetes issue 68211).
    MountFailed { cm: ConfigMapId, volume: u32 },
    /// The process crashed (a fault).
    Crashed,
    /// Killed after failing its liveness probe.
    LivenessFailed,
    /// Killed after failing its startup probe.
    StartupFailed,
    /// The node it ran on is gone or went down.
    NodeLost,
    /// Its classic swarm manager recreated it on another node (`reschedule:on-node-failure`).
    Rescheduled,
    /// The app could not resolve a name through cluster DNS at start, and exited.
    DnsFailed,
    /// Stopped because the pod is being deleted.
    Deleted,
    /// Stopped with the docker daemon (restarted without live-restore).
    RuntimeRestarted,
    /// Evicted by the kubelet under node pressure.
    Evicted,
}

impl ExitReason {
    /// A few words for the timeline.
    pub(crate) fn label(self) -> &'static str {
        match self {
            ExitReason::MountFailed { .. } => "create failed, subPath mount source is gone",
            ExitReason::Crashed => "crashed",
            ExitReason::LivenessFailed => "killed, liveness probe failed",
            ExitReason::StartupFailed => "killed, startup probe failed",
            ExitReason::NodeLost => "lost with its node",
            ExitReason::Rescheduled => "removed, rescheduled to another node",
            ExitReason::DnsFailed => "exited, DNS resolution failed at start",
            ExitReason::Deleted => "stopped, pod deleted",
            ExitReason::RuntimeRestarted => "stopped with the docker daemon (no live-restore)",
            ExitReason::Evicted => "evicted: the node was low on resource: ephemeral-storage",
        }
    }
}

/// The container's lifecycle as the kubelet sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Container {
    /// The pod has no node yet.
    NotCreated,
    /// A start attempt is in progress; `after_backoff` when it follows a CrashLoopBackOff wait.
    Starting { after_backoff: bool },
    /// Running (since `Pod::last_started`).
    Running,
    /// Told to stop (SIGTERM), still exiting; exits for `reason`.
    Stopping { reason: ExitReason },
    /// Exited; restarts at `until` (CrashLoopBackOff when the delay was not zero).
    Waiting { until: SimTime, backoff: bool },
    /// Exited for good (restartPolicy, or the node is gone).
    Exited,
}

/// Where the pod is in its life.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not yet bound to a node.
    Pending,
    /// Bound to a node.
    Bound,
    /// Being deleted gracefully (has a deletion timestamp).
    Terminating,
    /// The API object is gone.
    Deleted,
}

/// The STATUS column of `kubectl get pods`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PodStatus {
    /// Not scheduled yet.
    Pending,
    /// First container start in progress.
    ContainerCreating,
    /// Container running.
    Running,
    /// Waiting to restart after repeated failures.
    CrashLoopBackOff,
    /// Exited and not restarting.
    Error,
    /// The node stopped reporting (shown by kubectl as Unknown).
    Unknown,
    /// Being deleted.
    Terminating,
    /// Deleted.
    Deleted,
}

impl PodStatus {
    /// Parses the kubectl spelling.
    pub fn parse(s: &str) -> Option<PodStatus> {
        Some(match s {
            "Pending" => PodStatus::Pending,
            "ContainerCreating" => PodStatus::ContainerCreating,
            "Running" => PodStatus::Running,
            "CrashLoopBackOff" => PodStatus::CrashLoopBackOff,
            "Error" => PodStatus::Error,
            "Unknown" => PodStatus::Unknown,
            "Terminating" => PodStatus::Terminating,
            _ => return None,
        })
    }

    /// Every spelling [`PodStatus::parse`] accepts.
    pub const NAMES: &'static [&'static str] =
        &["Pending", "ContainerCreating", "Running", "CrashLoopBackOff", "Error", "Unknown", "Terminating"];
}

impl fmt::Display for PodStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PodStatus::Pending => "Pending",
            PodStatus::ContainerCreating => "ContainerCreating",
            PodStatus::Running => "Running",
            PodStatus::CrashLoopBackOff => "CrashLoopBackOff",
            PodStatus::Error => "Error",
            PodStatus::Unknown => "Unknown",
            PodStatus::Terminating => "Terminating",
            PodStatus::Deleted => "Deleted",
        })
    }
}

/// A machine in the cluster.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// `<pool>-<n>`.
    pub name: String,
    /// Index into `World::clusters`.
    pub cluster: u32,
    /// Index into `World::pools`.
    pub pool: u32,
    /// Worker, control plane or swarm manager.
    pub role: NodeRole,
    /// The machine under it.
    pub instance: InstanceId,
    /// Its agent (kubelet or swarm daemon) is running and the node is Ready: false while the
    /// machine is stopped, booting or rebooting.
    pub up: bool,
    /// Cluster DNS does not answer from this node (a fault; a reboot clears it).
    pub dns_broken: bool,
    /// The kubelet here does not start containers (a fault).
    pub kubelet_broken: bool,
    /// The machine or its agent hangs (a `nodeFailure`): it stays down until rebooted, or until
    /// it leaves its swarm and joins again.
    pub failed: bool,
    /// Swarm availability is `active`: takes tasks (`drain` does not).
    pub available: bool,
    /// Labels set on this node since the start, replacing its pool's (a label change).
    pub labels: Option<Labels>,
    /// Its CPU demand is over its capacity now (see `controllers/cpu.rs`).
    pub saturated: bool,
    /// Its backlog has grown past the router's timeout: requests to its containers fail.
    pub timing_out: bool,
    /// Generation of the node's one pending CPU crossing or agent stall event.
    pub cpu_epoch: u32,
    /// When the pending CPU crossing is due.
    pub cpu_due: Option<SimTime>,
    /// Generation of the pending agent stall (bumped whenever saturation starts or ends).
    pub stall_epoch: u32,
    /// Bumped when the node goes down or comes up; stale heartbeat events are ignored.
    pub epoch: u32,
    /// Index into `World::zones`, for zone spreading.
    pub zone: u32,
    /// Allocatable CPU, millicores.
    pub cpu: u64,
    /// Allocatable memory, bytes.
    pub mem: u64,
    /// kubelet maxPods.
    pub max_pods: u32,
    /// CPU requested by pods bound here (the scheduler's accounting).
    pub req_cpu: u64,
    /// Memory requested by pods bound here.
    pub req_mem: u64,
    /// Pods bound here whose objects still exist.
    pub pods: BTreeSet<PodId>,
    /// The machine is terminated and the Node object deleted.
    pub gone: bool,
    /// Active pods bound here, per workload (topology spreading counts them).
    pub by_workload: Counts,
    /// When PodGC will delete the pods of this node, once it is gone.
    pub podgc_due: Option<SimTime>,
    /// Cordoned (`kubectl cordon`, or a drain): no new pods land here.
    pub cordoned: bool,
    /// Kubernetes: the node's agents and what the control plane shows of it.
    pub health: NodeHealth,
}

/// The taint manager's rate-limited queue of one zone: nodes waiting for the NoExecute taint,
/// first come first served, as the controller's `RateLimitedTimedQueue` per zone.
#[derive(Clone, Debug, Default)]
pub(crate) struct TaintQueue {
    /// Nodes waiting, oldest first (some may have become Ready since: skipped).
    pub waiting: VecDeque<NodeId>,
    /// When the rate limiter lets the next node through.
    pub free_at: SimTime,
    /// A `ZoneTaint` event is pending; none is while the zone's state stops evictions (a
    /// condition change in the cluster wakes the queue again).
    pub scheduled: bool,
}

/// A node's Ready condition as the API shows it.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum ReadyCond {
    /// The kubelet reports Ready.
    #[default]
    True,
    /// The kubelet reports NotReady (its runtime or PLEG is unhealthy).
    False,
    /// No heartbeat for the grace period: the controller does not know.
    Unknown,
}

/// The agents of a Kubernetes node (kubelet, docker, PLEG, disk, network) and the control
/// plane's view of the node. Each field is one thing a fault or an operation changes; what the
/// kubelet reports is computed from them (`controllers/nodeagent.rs`), what the API shows lags
/// behind by the status and monitor periods (`controllers/nodelifecycle.rs`).
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeHealth {
    /// The kubelet process is dead (a `kubeletDown` fault) until restarted or rebooted.
    pub kubelet_down: bool,
    /// A `systemctl restart kubelet` is in progress until then.
    pub kubelet_restart_until: Option<SimTime>,
    /// The docker daemon hangs since then (`dockerHung`); PLEG fails 3 min later.
    pub runtime_hung_since: Option<SimTime>,
    /// A `systemctl restart docker` is in progress until then.
    pub runtime_restart_until: Option<SimTime>,
    /// PLEG unhealthy for a reason docker restarts do not reach (`plegUnhealthy`).
    pub pleg_fault: bool,
    /// After a reboot clears `pleg_fault`, it comes back this long later.
    pub pleg_recur_ms: Option<u64>,
    /// When a cleared PLEG fault comes back.
    pub pleg_returns_at: Option<SimTime>,
    /// No network: no heartbeats, no traffic, no SSH.
    pub network_lost: bool,
    /// Load so high the kubelet misses its heartbeats.
    pub overloaded: bool,
    /// When a timed network loss ends.
    pub network_ends_at: Option<SimTime>,
    /// When a timed overload ends.
    pub overload_ends_at: Option<SimTime>,
    /// The kubelet could act (`kubelet_acts`) at the last health change: its return to acting
    /// finishes the deletions and restarts that waited for it.
    pub acted: bool,
    /// The disk is full of files no pod owns.
    pub disk_full: bool,
    /// Docker's live-restore: containers survive a daemon restart.
    pub live_restore: bool,
    /// The kubelet's heartbeats reach the API server now.
    pub reporting: bool,
    /// The last Lease renewal that got through, once reporting stopped.
    pub last_heartbeat: SimTime,
    /// The Ready condition the API shows.
    pub condition: ReadyCond,
    /// Why, as `kubectl describe node` words it.
    pub reason: &'static str,
    /// The condition the controller will show next, and when.
    pub next: Option<(SimTime, ReadyCond)>,
    /// The controller has marked this node's pods NotReady.
    pub marked: bool,
    /// The DiskPressure condition (and its NoSchedule taint) is on.
    pub disk_pressure: bool,
    /// The DiskPressure condition goes off then (the pressure transition period after cleaning).
    pub pressure_clears_at: Option<SimTime>,
    /// A normal reboot waits for the OS shutdown until then (a hung docker daemon holds it).
    pub shutdown_at: Option<SimTime>,
    /// Generation of the node's pending NodeCheck event.
    pub epoch: u32,
    /// Waiting in its zone's taint queue.
    pub taint_queued: bool,
    /// Generation of the pending NodeEvict event (bumped when the node is Ready).
    pub evict_epoch: u32,
    /// When the pending NoExecute taint was put on, and its key (`not-ready` or `unreachable`):
    /// each pod's toleration of it counts from then.
    pub tainted: Option<(SimTime, &'static str)>,
    /// Generation of the pending AgentTimer event.
    pub agent_epoch: u32,
    /// Generation of the pending PressureCheck event.
    pub pressure_epoch: u32,
}

impl Node {
    /// A node of `pool` (index `pool_idx`) on `instance`, down until its agent reports.
    pub(crate) fn new(name: String, pool: &PoolRt, pool_idx: u32, instance: InstanceId, zone: u32) -> Node {
        Node {
            name,
            cluster: pool.cluster,
            pool: pool_idx,
            role: pool.role,
            instance,
            up: false,
            dns_broken: false,
            kubelet_broken: false,
            failed: false,
            available: pool.availability == crate::spec::Availability::Active,
            labels: None,
            saturated: false,
            timing_out: false,
            cpu_epoch: 0,
            cpu_due: None,
            stall_epoch: 0,
            epoch: 0,
            zone,
            cpu: pool.cpu,
            mem: pool.mem,
            max_pods: pool.max_pods,
            req_cpu: 0,
            req_mem: 0,
            pods: Default::default(),
            gone: false,
            by_workload: Default::default(),
            podgc_due: None,
            cordoned: false,
            health: NodeHealth {
                live_restore: pool.live_restore,
                reporting: true,
                acted: true,
                reason: "KubeletReady",
                ..Default::default()
            },
        }
    }

    /// Takes new pods: up, still a member, not a control-plane node, not cordoned, Ready as the
    /// API shows it and without DiskPressure (their NoSchedule taints).
    pub(crate) fn schedulable(&self) -> bool {
        self.up
            && !self.gone
            && self.role != NodeRole::ControlPlane
            && !self.cordoned
            && self.health.condition == ReadyCond::True
            && !self.health.disk_pressure
    }

    /// Containers can run here now.
    pub(crate) fn running(&self) -> bool {
        self.up && !self.gone
    }
}

/// One cluster of the scenario.
#[derive(Clone, Debug)]
pub(crate) struct ClusterRt {
    /// Name.
    pub name: String,
    /// Kubernetes or swarm.
    pub kind: ClusterKind,
    /// Schedulable nodes (the scheduler's N).
    pub live_nodes: u32,
    /// Nodes joining from now on come up with broken DNS (a `dnsFailure` fault in force).
    pub dns_broken_for_new: bool,
    /// Nodes joining from now on come up with a broken kubelet.
    pub kubelet_broken_for_new: bool,
    /// Swarm mode: the managers have elected a leader.
    pub leader: bool,
    /// Generation of the pending election; an election event of another generation is stale.
    pub election_epoch: u32,
    /// An election is under way (a quorum is reachable, no leader yet).
    pub electing: bool,
    /// The cluster's settings as the scenario gives them (strategy, hosted quirks, agent stall,
    /// manager join time), read by the controllers that need them.
    pub def: crate::spec::ClusterDef,
    /// The next this-many nodes to join come up failed (a `nodeFailure` with `nextToJoin`).
    pub fail_next_joins: u32,
}

/// A node pool: where bought and reimaged machines join, with the pool's shape.
#[derive(Clone, Debug)]
pub(crate) struct PoolRt {
    /// Name prefix of its nodes.
    pub name: String,
    /// Index into `World::clusters`.
    pub cluster: u32,
    /// Role of its nodes.
    pub role: NodeRole,
    /// Swarm availability of its nodes.
    pub availability: crate::spec::Availability,
    /// Index into the cloud's instance types, if its machines are cloud instances.
    pub instance_type: Option<u32>,
    /// Zone index.
    pub zone: u32,
    /// How its machines are paid for.
    pub pricing: Pricing,
    /// Allocatable CPU (millicores) and memory (bytes) of a node.
    pub cpu: u64,
    /// See `cpu`.
    pub mem: u64,
    /// kubelet maxPods.
    pub max_pods: u32,
    /// Node labels.
    pub labels: Labels,
    /// Docker live-restore on its nodes.
    pub live_restore: bool,
    /// Taints on its nodes.
    pub taints: Vec<crate::spec::Taint>,
    /// Nodes named so far (the next is `<name>-<named + 1>`).
    pub named: u32,
}

/// What a cloud instance is doing.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum InstanceState {
    /// Stopped: not billed, holds no stock.
    Stopped,
    /// Booting (after a start, purchase, reboot or reimage); billed.
    Booting,
    /// Running; billed.
    Running,
    /// Its system disk is being replaced; billed.
    Reimaging,
    /// Released (terminated): gone for good.
    Released,
}

/// A machine from the cloud provider (or a plain machine when the scenario has no cloud).
#[derive(Clone, Debug)]
pub(crate) struct Instance {
    /// The name of the node it was bought or created as (reports and billing use it).
    pub name: String,
    /// Instance type index, if from the cloud.
    pub instance_type: Option<u32>,
    /// Zone index.
    pub zone: u32,
    /// Pricing.
    pub pricing: Pricing,
    /// Price per hour.
    pub price_per_hour: f64,
    /// What it is doing.
    pub state: InstanceState,
    /// Billed since (while not stopped or released).
    pub billed_since: Option<SimTime>,
    /// Billed milliseconds before `billed_since`.
    pub billed_ms: u64,
    /// The node it currently is, if it is one.
    pub node: Option<NodeId>,
    /// The pool it joins when its boot completes without a node (bought or reimaged).
    pub join_pool: u32,
    /// The node name it will join as (reserved when it was bought or reimaged).
    pub joins_as: Option<String>,
    /// Bumped on every operation; boot and join events of an older epoch are stale.
    pub epoch: u32,
}

/// One backend of a load balancer, as the load balancer sees it.
#[derive(Clone, Debug)]
pub(crate) struct BackendRt {
    /// The service.
    pub service: ServiceId,
    /// Configured to take traffic.
    pub enabled: bool,
    /// Marked up by the health checks.
    pub marked_up: bool,
    /// Consecutive checks that disagreed with the marking.
    pub streak: u32,
    /// The capacity (milli-rps) the last check saw; its weight while marked up.
    pub seen_mrps: u64,
    /// Generation of the one pending check event.
    pub epoch: u32,
    /// A check is scheduled.
    pub check_pending: bool,
}

/// A load balancer.
#[derive(Clone, Debug)]
pub(crate) struct LbRt {
    /// Backends in spec order.
    pub backends: Vec<BackendRt>,
    /// Phase of the check timer.
    pub phase: u64,
}

/// Small per-workload counters, kept sparse: a sorted `Vec`, so memory grows with the pods
/// placed, never with workloads x nodes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counts(Vec<(WorkloadId, u32)>);

impl Counts {
    /// The count for `w`.
    pub(crate) fn get(&self, w: WorkloadId) -> u32 {
        self.0.binary_search_by_key(&w, |e| e.0).map_or(0, |i| self.0[i].1)
    }

    /// Adds one for `w`.
    pub(crate) fn inc(&mut self, w: WorkloadId) {
        match self.0.binary_search_by_key(&w, |e| e.0) {
            Ok(i) => self.0[i].1 += 1,
            Err(i) => self.0.insert(i, (w, 1)),
        }
    }

    /// Takes one away from `w`.
    pub(crate) fn dec(&mut self, w: WorkloadId) {
        if let Ok(i) = self.0.binary_search_by_key(&w, |e| e.0) {
            self.0[i].1 -= 1;
            if self.0[i].1 == 0 {
                self.0.remove(i);
            }
        }
    }
}

/// One pod and its single container.
#[derive(Clone, Debug)]
pub(crate) struct Pod {
    /// `<workload>-<template hash>-<suffix>`, as a ReplicaSet names them.
    pub name: String,
    /// Owning workload.
    pub workload: WorkloadId,
    /// Bound node, once scheduled.
    pub node: Option<NodeId>,
    /// The only node it may run on (a DaemonSet pod).
    pub pinned: Option<NodeId>,
    /// Creation time.
    pub created: SimTime,
    /// When the API object went away.
    pub deleted_at: Option<SimTime>,
    /// Where it is in its life.
    pub phase: Phase,
    /// Container lifecycle.
    pub container: Container,
    /// Bumped on every container transition; events carrying an older value are stale.
    pub epoch: u32,
    /// When the current (or last) container run started; cleared when it exits. The backoff
    /// reset looks at it, whether the container exited from running or while stopping.
    pub last_started: Option<SimTime>,
    /// Source of probe event generations (monotonic, so a reset probe never matches an old event).
    pub probe_epoch: u32,
    /// Container start attempts so far.
    pub starts: u32,
    /// `restartCount`: start attempts after the first.
    pub restarts: u32,
    /// The kubelet's backoff entry for this container: the delay the next restart waits.
    pub backoff: Option<u64>,
    /// Ready condition as the API shows it.
    pub ready: bool,
    /// Probe state by [`ProbeKind`].
    pub probes: [ProbeRt; 3],
    /// Probe ticks fall on `anchor + k * period` (the pod worker's timer).
    pub anchor: SimTime,
    /// For each subPath mount: the ConfigMap and the version its bind source was made from.
    pub subpath_versions: Vec<(ConfigMapId, u32, u32)>,
    /// Why the container last stopped.
    pub last_exit: Option<ExitReason>,
    /// What kubectl shows, cached to know when it changes.
    pub status: PodStatus,
    /// Since when `status` has held.
    pub status_since: SimTime,
    /// Counted as a Ready endpoint of its services.
    pub in_endpoints: bool,
    /// Counted in its services' serving capacity (endpoint and actually running).
    pub serving: bool,
    /// Counted in its services' failing capacity: the router still sends it requests, but its
    /// node's CPU is saturated and they time out.
    pub dead: bool,
    /// Scheduling attempts that found no node, for the scheduler's backoff.
    pub sched_failures: u32,
    /// Earliest time the scheduler may try again.
    pub sched_eligible: SimTime,
    /// The scheduler's last reason for leaving it Pending.
    pub unschedulable: Option<String>,
    /// Its backlog: the wait, in seconds, a request joining its queue has (`backlog.rs`), as of
    /// `backlog_at`.
    pub backlog_s: f64,
    /// When `backlog_s` was computed.
    pub backlog_at: SimTime,
    /// Per probe kind: the backlog is longer than that probe's timeout now.
    pub backlog_over: [bool; 3],
    /// Generation of the pod's own backlog event (only while it drains out of the endpoints;
    /// serving pods share their service's).
    pub backlog_epoch: u32,
    /// Per probe kind: probes time out in its queue until then, a run of timeouts drawn below
    /// saturation (`controllers/waits.rs`).
    pub waits_until: [SimTime; 3],
    /// Generation of the event that ends that run.
    pub waits_epoch: u32,
    /// A StatefulSet pod's ordinal.
    pub ordinal: Option<u32>,
    /// Its persistent volume (index into `World::volumes`).
    pub claim: Option<u32>,
    /// What it serves now, milli-requests per second: its workload's capacity, or less while it
    /// warms up. Its services' capacity counts exactly this while it serves.
    pub capacity_mrps: u64,
    /// Its group in its service's queue while it serves there (`backlog::Floors`); its
    /// backlog is then the service's, and `backlog_s` is stale.
    pub queue_group: Option<u32>,
}

/// A Deployment and its ReplicaSet.
#[derive(Clone, Debug)]
pub(crate) struct Workload {
    /// Name.
    pub name: String,
    /// Pod labels.
    pub labels: Labels,
    /// Its PodDisruptionBudget, if it has one.
    pub disruption_budget: Option<crate::spec::DisruptionBudget>,
    /// Deployment (replaced when deleted), bare pods (not), DaemonSet or swarm service.
    pub kind: crate::spec::WorkloadKind,
    /// Index into `World::clusters`.
    pub cluster: u32,
    /// Node labels its pods need (`nodeSelector`).
    pub node_selector: Labels,
    /// Its pods' tolerations.
    pub tolerations: Vec<crate::spec::Toleration>,
    /// Its pods' node affinity.
    pub affinity: Option<crate::spec::NodeAffinity>,
    /// The first name the app resolves at start, if it needs DNS to start.
    pub resolves_at_start: Option<String>,
    /// Attach time of its pods' persistent volumes, ms (`None`: they have none).
    pub volume_attach_ms: Option<u64>,
    /// After a start, `(duration ms, share of capacity at the start)` of the ramp to full
    /// capacity (`None`: full at once).
    pub warmup: Option<(u64, f64)>,
    /// Per probe kind: its timeout in seconds, which its service's backlog is watched against
    /// (`None`: no such probe).
    pub saturation: [Option<f64>; 3],
    /// Desired pods.
    pub replicas: u32,
    /// CPU request per pod, millicores.
    pub cpu: u64,
    /// Memory request per pod, bytes.
    pub mem: u64,
    /// Serving capacity of one Ready pod, milli-requests per second (integer so that adding and
    /// removing pods never drifts).
    pub capacity_mrps: u64,
    /// Container start latency range, ms.
    pub start_range: (u64, u64),
    /// Grace period, ms.
    pub grace_ms: u64,
    /// Time the app takes to exit after SIGTERM, ms.
    pub shutdown_ms: u64,
    /// Restart policy.
    pub restart_policy: RestartPolicy,
    /// Probe settings by [`ProbeKind`].
    pub probes: [Option<ProbeCfg>; 3],
    /// subPath mounts: ConfigMap and volume name index (into `volume_names`).
    pub subpath_mounts: Vec<(ConfigMapId, u32)>,
    /// Volume names, for error messages.
    pub volume_names: Vec<String>,
    /// Services selecting these pods.
    pub services: Vec<ServiceId>,
    /// CPU with no traffic, millicores per container.
    pub cpu_base: u64,
    /// CPU per request per second served, millicores.
    pub cpu_per_rps: u64,
    /// Classic swarm `reschedule:on-node-failure`.
    pub reschedule: bool,
    /// One container per node at most.
    pub anti_affinity: bool,
    /// Containers the hosted control plane still lists although they were lost with their
    /// node (`hosted.ghostContainers`): a redeploy counts them as present.
    pub ghosts: u32,
    /// Pods that count against `replicas` (not terminating, not deleted).
    pub active: BTreeSet<PodId>,
    /// Every pod it ever had.
    pub all_pods: Vec<PodId>,
    /// The pod-template-hash part of pod names.
    pub template_hash: String,
    /// Pods whose status is CrashLoopBackOff now (for the PodCrashLooping alert).
    pub crashlooping: u32,
    /// When a pod last left CrashLoopBackOff (the alert looks back over a window).
    pub crashloop_seen: Option<SimTime>,
}

/// A Service and its endpoints.
#[derive(Clone, Debug)]
pub(crate) struct Service {
    /// Name.
    pub name: String,
    /// Index into `World::clusters` (a load balancer's is that of its first backend).
    pub cluster: u32,
    /// Workloads it selects.
    pub workloads: Vec<WorkloadId>,
    /// Load balancers it is a backend of: `(lb, backend index)`.
    pub backend_of: Vec<(u32, u32)>,
    /// Share of its load balancer's traffic it gets now (backends only).
    pub share: f64,
    /// Its callers' retries: `(timeout s, attempts, budget)` (`controllers/saturation.rs`).
    pub retries: Option<(f64, u32, Option<f64>)>,
    /// Its serving pods' shared queue (`controllers/saturation.rs`).
    pub backlog: crate::controllers::ServiceBacklog,
    /// Ready endpoints.
    pub ready_endpoints: u32,
    /// Capacity of the endpoints that actually serve, milli-requests per second.
    pub capacity_mrps: u64,
    /// Capacity of the endpoints the router sends requests to that fail them (containers on a
    /// saturated node, stale discovery records), milli-requests per second.
    pub dead_mrps: u64,
    /// Workloads with a probe that calls this service; told when it goes down or comes back.
    pub probe_dependents: Vec<WorkloadId>,
}

/// A ConfigMap.
#[derive(Clone, Debug)]
pub(crate) struct ConfigMap {
    /// Name.
    pub name: String,
    /// Current version in the API.
    pub version: u32,
    /// Latest version the kubelets have written into volumes; older subPath bind sources are gone.
    pub refreshed: u32,
}

/// One firing-or-pending alert instance.
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct AlertState {
    /// Since when the condition has held (at an evaluation).
    pub pending_since: Option<SimTime>,
    /// Since when it fires.
    pub firing_since: Option<SimTime>,
    /// Index of its record in the history, while firing.
    pub record: Option<usize>,
}

/// The scheduler's queues.
#[derive(Clone, Debug, Default)]
pub(crate) struct SchedulerState {
    /// Pods to try at the next pass, in arrival order.
    pub queue: VecDeque<PodId>,
    /// Pods that found no node, waiting for the cluster to change.
    pub unschedulable: BTreeSet<PodId>,
    /// Where the next search starts (kube-scheduler's rotating `nextStartNodeIndex`).
    pub next_start: usize,
    /// A pass is already scheduled at this time.
    pub pass_at: Option<SimTime>,
    /// Buffers reused by every placement.
    pub scratch: crate::controllers::Scratch,
    /// What each node offers the next pod, kept between placements.
    pub cache: crate::controllers::SchedulerCache,
}

/// An action the policy issued, waiting to take effect.
#[derive(Clone, Debug)]
pub(crate) struct PendingAction {
    pub request: crate::policy::Request,
    pub issued: SimTime,
}

/// Everything the engine mutates.
#[derive(Clone)]
pub(crate) struct World {
    /// Current virtual time.
    pub now: SimTime,
    /// End of the run.
    pub end: SimTime,
    /// Future events.
    pub queue: EventQueue<Event>,
    /// Random streams.
    pub rng: Streams,
    /// The scenario, for settings read during the run.
    pub scenario: Scenario,
    /// Whether the subPath restart failure exists in this cluster.
    pub subpath_bug: bool,
    /// The clusters.
    pub clusters: Vec<ClusterRt>,
    /// Node pools.
    pub pools: Vec<PoolRt>,
    /// Machines.
    pub nodes: Arena<NodeId, Node>,
    /// Cloud instances.
    pub instances: Arena<InstanceId, Instance>,
    /// Stock the provider has left per (instance type, zone, pricing); keys not listed are
    /// never short.
    pub stock: BTreeMap<(u32, u32, Pricing), i64>,
    /// Zone names.
    pub zones: Vec<String>,
    /// Load balancers.
    pub lbs: Vec<LbRt>,
    /// Active bound pods per zone (by node zone index), per workload.
    pub zone_counts: Vec<Counts>,
    /// Pods, live and deleted.
    pub pods: Arena<PodId, Pod>,
    /// Live pods by name (actions name pods).
    pub pod_by_name: BTreeMap<String, PodId>,
    /// Persistent volumes (`controllers/volumes.rs`), by index.
    pub volumes: Vec<crate::controllers::Volume>,
    /// The volume of each (workload, ordinal) claim.
    pub claims: BTreeMap<(WorkloadId, u32), u32>,
    /// Deployments.
    pub workloads: Arena<WorkloadId, Workload>,
    /// Services.
    pub services: Arena<ServiceId, Service>,
    /// ConfigMaps.
    pub config_maps: Arena<ConfigMapId, ConfigMap>,
    /// Service dependency graph and traffic curves.
    pub topology: Topology,
    /// The scheduler's queues.
    pub sched: SchedulerState,
    /// Alert instances: by rule, then by target (service or workload index).
    pub alerts: Vec<Vec<AlertState>>,
    /// Actions issued by the policy, by index.
    pub actions: Vec<PendingAction>,
    /// Phase of the scrape timer (ms after the start of the first scrape).
    pub scrape_phase: u64,
    /// Generation of the policy's wake-up request.
    pub wake_epoch: u32,
    /// What the run recorded so far.
    pub history: History,
    /// Nodes a `nodeFailure` named before they existed: they come up failed when they join.
    pub fail_on_join: std::collections::BTreeSet<String>,
    /// Some workload has a CPU demand: node CPU is tracked.
    pub cpu_model: bool,
    /// Replacements of recorded moves that are not bound yet, with their index in
    /// `history.moves`: `bind` names the node they land on, at that moment.
    pub pending_moves: std::collections::BTreeMap<PodId, usize>,
    /// Swarm-mode tasks started while their cluster had no leader: always 0 (an invariant the
    /// property tests check after every event).
    pub leaderless_starts: u32,
    /// Placing the pods of the starting steady state (classic swarm places them by the
    /// cluster's `initialPlacement`, when the scenario gives one).
    pub initial_placement: bool,
    /// CPU a drain in progress has already planned onto each target node, millicores.
    pub drain_planned: Vec<(NodeId, f64)>,
    /// Kubernetes drains, by start (see `controllers/drain.rs`).
    pub drains: Vec<crate::controllers::DrainRt>,
    /// The taint manager's queues, per (cluster, zone index).
    pub taint_queues: BTreeMap<(u32, u32), TaintQueue>,
    /// Each fault's stream key (`rng::fault_keys`): what its target draws come from.
    pub fault_keys: Vec<u64>,
}

/// k8s' alphabet for generated name suffixes (no vowels, no look-alikes).
pub(crate) const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl World {
    /// Notes a transition of `pod` in the timeline; costs nothing when no timeline is kept (this
    /// runs on every container transition).
    pub(crate) fn note_pod(&mut self, pod: PodId, what: impl FnOnce() -> String) {
        if self.history.timeline.is_some() {
            let name = self.pods[pod].name.clone();
            self.history.note(self.now, &name, what);
        }
    }

    /// Whether workload `w`'s `nodeSelector`, required node affinity and tolerations admit
    /// `node`.
    pub(crate) fn selector_admits(&self, w: WorkloadId, node: NodeId) -> bool {
        self.placement_refusal(w, node).is_none()
    }

    /// Why `w`'s pods may not go to `node`, as kube-scheduler words it (`None`: they may).
    #[inline]
    pub(crate) fn placement_refusal(&self, w: WorkloadId, node: NodeId) -> Option<std::borrow::Cow<'static, str>> {
        // Runs for every node examined for every pod placed: the common case (no selector, no
        // affinity, an untainted pool) costs two loads.
        let wl = &self.workloads[w];
        if wl.node_selector.is_empty()
            && wl.affinity.is_none()
            && self.pools[self.nodes[node].pool as usize].taints.is_empty()
        {
            return None;
        }
        self.placement_refusal_slow(w, node)
    }

    fn placement_refusal_slow(&self, w: WorkloadId, node: NodeId) -> Option<std::borrow::Cow<'static, str>> {
        let wl = &self.workloads[w];
        let required = wl.affinity.as_ref().map_or(&[][..], |a| &a.required[..]);
        if !wl.node_selector.is_empty() || !required.is_empty() {
            let labels = self.node_labels(node);
            let selected = wl.node_selector.is_empty() || crate::validate::selects(&wl.node_selector, labels);
            let affine = required.is_empty() || required.iter().any(|t| t.matches(labels));
            if !selected || !affine {
                return Some("node(s) didn't match Pod's node affinity/selector".into());
            }
        }
        let pool = &self.pools[self.nodes[node].pool as usize];
        for t in &pool.taints {
            if t.effect != crate::spec::TaintEffect::PreferNoSchedule
                && !wl.tolerations.iter().any(|tol| tol.tolerates(&t.key, &t.value, t.effect))
            {
                return Some(format!("node(s) had untolerated taint {{{}: {}}}", t.key, t.value).into());
            }
        }
        None
    }

    /// The PreferNoSchedule taints of `node` that `w` does not tolerate (the TaintToleration
    /// score counts them).
    pub(crate) fn intolerable_soft_taints(&self, w: WorkloadId, node: NodeId) -> i64 {
        let wl = &self.workloads[w];
        let pool = &self.pools[self.nodes[node].pool as usize];
        pool.taints
            .iter()
            .filter(|t| {
                t.effect == crate::spec::TaintEffect::PreferNoSchedule
                    && !wl.tolerations.iter().any(|tol| tol.tolerates(&t.key, &t.value, t.effect))
            })
            .count() as i64
    }

    /// The summed weights of `w`'s preferred node-affinity terms that `node` matches.
    pub(crate) fn preferred_affinity(&self, w: WorkloadId, node: NodeId) -> i64 {
        let labels = self.node_labels(node);
        self.workloads[w].affinity.as_ref().map_or(0, |a| {
            a.preferred
                .iter()
                .filter(|p| p.match_expressions.iter().all(|r| r.matches(labels)))
                .map(|p| i64::from(p.weight))
                .sum()
        })
    }

    /// How long `w`'s pods stay on a node with the NoExecute taint `node.kubernetes.io/<key>`, ms
    /// (`None`: for ever): their own toleration of it, or the default every pod gets.
    pub(crate) fn noexecute_toleration_ms(&self, w: WorkloadId, key: &str) -> Option<u64> {
        let full = format!("node.kubernetes.io/{key}");
        match self.workloads[w].tolerations.iter().find(|t| t.tolerates(&full, "", crate::spec::TaintEffect::NoExecute))
        {
            Some(t) => t.toleration_seconds.map(|s| s * 1000),
            None => Some(self.scenario.spec.cluster.control_plane.not_ready_toleration.ms()),
        }
    }

    /// A node's labels: its own if they were changed, else its pool's.
    pub(crate) fn node_labels(&self, node: NodeId) -> &Labels {
        let n = &self.nodes[node];
        n.labels.as_ref().unwrap_or(&self.pools[n.pool as usize].labels)
    }

    /// The live (not gone) node of that name: the newest, when a machine rejoined under its old
    /// name.
    pub(crate) fn live_node(&self, name: &str) -> Result<NodeId, String> {
        self.nodes
            .iter()
            .rev()
            .find(|(_, n)| n.name == name && !n.gone)
            .map(|(id, _)| id)
            .ok_or_else(|| format!("Error from server (NotFound): node {name} not found"))
    }

    /// Cluster `c` runs swarm mode and has no leader: nothing can be scheduled, restarted,
    /// scaled, joined, promoted or removed there. Never true of other kinds of cluster.
    pub(crate) fn leaderless(&self, c: u32) -> bool {
        let cl = &self.clusters[c as usize];
        cl.kind == ClusterKind::Swarm && !cl.leader
    }

    /// A service's share of the traffic at the root of its load-balancer chain (1 for a service
    /// with a curve of its own): its own share times that of the balancer feeding it, and so on.
    pub(crate) fn chain_share(&self, s: ServiceId) -> f64 {
        let mut share = 1.0;
        let mut at = s;
        while let Some(up) = self.topology.fed_by[usize::from(at)] {
            share *= self.services[at].share;
            at = up;
        }
        share
    }

    /// Schedules `event` at `at`.
    pub(crate) fn at(&mut self, at: SimTime, event: Event) {
        debug_assert!(at >= self.now, "events are never scheduled in the past");
        self.queue.push(at, event);
    }
}
