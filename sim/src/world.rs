//! The crate-private `World`: every entity of the cluster model, the event queue, the random
//! streams and the history being recorded. Controllers (one file each under `controllers/`) are
//! `impl World` blocks; the public [`crate::Sim`] owns a `World` and drives it.
//!
//! Only the engine mutates the world. Policies see it through [`crate::policy::ClusterView`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use crate::history::History;
use crate::ids::{Arena, ConfigMapId, NodeId, PodId, ServiceId, WorkloadId};
use crate::queue::EventQueue;
use crate::rng::Streams;
use crate::spec::{Labels, RestartPolicy, Scenario};
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
    /// The node it ran on is gone.
    NodeLost,
    /// Stopped because the pod is being deleted.
    Deleted,
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
            ExitReason::Deleted => "stopped, pod deleted",
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
    /// Scheduling attempts that found no node, for the scheduler's backoff.
    pub sched_failures: u32,
    /// Earliest time the scheduler may try again.
    pub sched_eligible: SimTime,
    /// The scheduler's last reason for leaving it Pending.
    pub unschedulable: Option<String>,
}

/// A Deployment and its ReplicaSet.
#[derive(Clone, Debug)]
pub(crate) struct Workload {
    /// Name.
    pub name: String,
    /// Pod labels.
    pub labels: Labels,
    /// Deployment (replaced when deleted) or bare pods (not).
    pub kind: crate::spec::WorkloadKind,
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
    /// Ready endpoints.
    pub ready_endpoints: u32,
    /// Capacity of the endpoints that actually serve, milli-requests per second.
    pub capacity_mrps: u64,
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
}

/// An action the policy issued, waiting to take effect.
#[derive(Clone, Debug)]
pub(crate) struct PendingAction {
    pub request: crate::policy::Request,
    pub issued: SimTime,
}

/// Everything the engine mutates.
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
    /// Machines.
    pub nodes: Arena<NodeId, Node>,
    /// Nodes that are not gone (the scheduler's N).
    pub live_nodes: u32,
    /// Active bound pods per zone (by node zone index), per workload.
    pub zone_counts: Vec<Counts>,
    /// Pods, live and deleted.
    pub pods: Arena<PodId, Pod>,
    /// Live pods by name (actions name pods).
    pub pod_by_name: BTreeMap<String, PodId>,
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

    /// Schedules `event` at `at`.
    pub(crate) fn at(&mut self, at: SimTime, event: Event) {
        debug_assert!(at >= self.now, "events are never scheduled in the past");
        self.queue.push(at, event);
    }
}
