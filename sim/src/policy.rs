//! The policy interface: what a remediation policy sees and what it may ask for.
//!
//! A policy gets a read-only [`ClusterView`] (what monitoring and an operator with `kubectl`
//! would see, alerts included) and answers with a [`Decision`]: actions and when to look again.
//! Actions take time and can fail; only the engine changes state. Nothing here mentions the
//! engine's internals, so the same policy can drive a real cluster through another
//! `ClusterView` implementation.

use std::fmt;

use serde::Serialize;

use crate::spec::{Labels, Pricing};
use crate::time::{SimTime, StartTime};
pub use crate::world::PodStatus;

/// What a policy can see.
pub trait ClusterView {
    /// Current time.
    fn now(&self) -> SimTime;
    /// When the scenario started (for clock times).
    fn start(&self) -> &StartTime;
    /// The run's seed: a policy that draws (a `pick` of nodes) draws from it, so the run stays
    /// reproducible from (scenario, policy, seed).
    fn seed(&self) -> u64;
    /// Calls `f` for every pod that exists (deleted pods are gone from the API).
    fn for_each_pod(&self, f: &mut dyn FnMut(&PodInfo<'_>));
    /// Alerts firing now.
    fn firing_alerts(&self) -> Vec<AlertInfo>;
    /// Services and their endpoints.
    fn services(&self) -> Vec<ServiceInfo>;
    /// Workloads and their replica counts.
    fn workloads(&self) -> Vec<WorkloadInfo>;
    /// Nodes, as `kubectl get nodes` / `docker node ls` and the cloud console show them.
    fn nodes(&self) -> Vec<NodeInfo>;
    /// Load balancer backends.
    fn backends(&self) -> Vec<BackendInfo>;
    /// Whether the swarm-mode cluster of that name has a leader (`None`: no such swarm).
    fn swarm_leader(&self, cluster: &str) -> Option<bool>;
    /// Operations that failed so far (policy actions and scheduled jobs), oldest first.
    fn failed_operations(&self) -> Vec<FailedOperation>;
}

/// A node and the machine under it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// Name.
    pub name: String,
    /// Its pool.
    pub pool: String,
    /// Its cluster.
    pub cluster: String,
    /// What it looks like.
    pub status: NodeStatus,
    /// A swarm manager (a Raft member), as `docker node ls` shows in MANAGER STATUS.
    pub manager: bool,
    /// Containers on it, exited ones included (what `docker info` counts).
    pub containers: u32,
    /// CPU in use as a fraction of its CPU (what a host monitor shows; 0 when not modelled).
    pub cpu_used: f32,
    /// Kubernetes: the conditions that hold, as `kubectl get nodes` and `describe` show them:
    /// `Ready` or `NotReady` (plus `Unknown` when the kubelet stopped posting), `DiskPressure`,
    /// `SchedulingDisabled` (cordoned). Empty for swarm nodes.
    pub conditions: Vec<&'static str>,
    /// Kubernetes: why the node is not Ready, as the Ready condition's message says.
    pub reason: Option<String>,
}

/// Every node condition name a policy may test (see [`NodeInfo::conditions`]).
pub const NODE_CONDITIONS: &[&str] = &["Ready", "NotReady", "Unknown", "DiskPressure", "SchedulingDisabled"];

/// A node's state, as an operator sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// Up and in the cluster.
    Ready,
    /// The machine runs (or boots) but the node is not Ready.
    NotReady,
    /// The machine is stopped.
    Stopped,
    /// Gone from the cluster.
    Removed,
}

/// An operation the provider or the cluster refused.
#[derive(Clone, Debug)]
pub struct FailedOperation {
    /// When.
    pub at: SimTime,
    /// Who asked (a rule, or `cron (<pool>)`).
    pub by: String,
    /// What was asked.
    pub action: String,
    /// The error returned.
    pub error: String,
}

/// A pod as `kubectl get pods -o wide` and `kubectl describe` show it.
#[derive(Clone, Debug)]
pub struct PodInfo<'a> {
    /// Name.
    pub name: &'a str,
    /// Owning workload.
    pub workload: &'a str,
    /// Labels.
    pub labels: &'a Labels,
    /// Node, once bound.
    pub node: Option<&'a str>,
    /// The node's pool, once bound.
    pub pool: Option<&'a str>,
    /// STATUS column.
    pub status: PodStatus,
    /// Since when the status has held.
    pub status_since: SimTime,
    /// READY column.
    pub ready: bool,
    /// RESTARTS column.
    pub restarts: u32,
    /// The last error or reason (what `kubectl describe` shows under the last state).
    pub message: Option<String>,
    /// Creation time.
    pub created: SimTime,
}

/// A firing alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertInfo {
    /// Rule name.
    pub name: String,
    /// Service or workload it is about.
    pub target: String,
    /// Since when it fires.
    pub since: SimTime,
}

/// A service's endpoints.
#[derive(Clone, Debug)]
pub struct ServiceInfo {
    /// Name.
    pub name: String,
    /// Ready endpoints.
    pub ready_endpoints: u32,
}

/// A workload's replica counts.
#[derive(Clone, Debug)]
pub struct WorkloadInfo {
    /// Name.
    pub name: String,
    /// Desired replicas.
    pub replicas: u32,
    /// Ready pods.
    pub ready: u32,
    /// Its cluster.
    pub cluster: String,
}

/// One backend of a load balancer, as the balancer's console shows it.
#[derive(Clone, Debug)]
pub struct BackendInfo {
    /// Load balancer.
    pub load_balancer: String,
    /// Backend service.
    pub service: String,
    /// The service's cluster.
    pub cluster: String,
    /// Configured to take traffic.
    pub enabled: bool,
    /// Marked up by the health checks.
    pub healthy: bool,
}

/// What a policy asks for. A plug-in writes one as a one-key object:
/// `{"deletePod": {"pod": "web-1", "force": true}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum Action {
    /// `kubectl delete pod NAME` (`--force --grace-period=0` when `force`).
    DeletePod {
        /// Pod name.
        pod: String,
        /// Remove the API object at once, without waiting for the kubelet.
        force: bool,
    },
    /// `kubectl scale deployment NAME --replicas=N` (or `docker service scale`).
    Scale {
        /// Workload name.
        workload: String,
        /// New replica count.
        replicas: u32,
    },
    /// Start the stopped machine of a node.
    StartInstance {
        /// Node name.
        node: String,
    },
    /// Stop a node's machine.
    StopInstance {
        /// Node name.
        node: String,
    },
    /// Reboot a node's machine.
    RebootInstance {
        /// Node name.
        node: String,
        /// A forced reboot (the console's "force reboot"): the machine goes down at once. A
        /// normal reboot shuts the OS down first, which waits for a hung docker daemon to stop.
        force: bool,
    },
    /// Release (terminate) a node's machine.
    ReleaseInstance {
        /// Node name.
        node: String,
    },
    /// Buy `count` new machines that join `pool`, each from the first choice with stock.
    RunInstances {
        /// Pool the machines join.
        pool: String,
        /// How many.
        count: u32,
        /// Type, zone and pricing to try, in order (the pool's own when empty).
        choices: Vec<InstanceChoice>,
    },
    /// Reimage a node's machine and join it to another pool (possibly another cluster).
    Reimage {
        /// Node name.
        node: String,
        /// Pool it joins.
        into_pool: String,
    },
    /// Turn a load balancer backend on or off.
    SetBackend {
        /// Load balancer.
        load_balancer: String,
        /// Backend service.
        service: String,
        /// On or off.
        enabled: bool,
    },
    /// Remove a node from its cluster (the machine keeps running); may be refused.
    RemoveNode {
        /// Node name.
        node: String,
    },
    /// Move every container off a node, each to a node with the CPU to carry it (classic swarm),
    /// or set its availability to drain (swarm mode); on Kubernetes, `kubectl drain
    /// --ignore-daemonsets`: cordon, then evict every pod through the Eviction API (retrying
    /// every 5 s while a PodDisruptionBudget refuses) until the node is empty.
    DrainNode {
        /// Node name.
        node: String,
        /// Kubernetes: `--timeout` (give up after this many seconds; forever when `None`).
        timeout_s: Option<u64>,
    },
    /// `kubectl cordon`: no new pods land on the node.
    Cordon {
        /// Node name.
        node: String,
    },
    /// `kubectl uncordon`: the node takes pods again (nothing moves back by itself).
    Uncordon {
        /// Node name.
        node: String,
    },
    /// `systemctl restart kubelet` on the node (over SSH): running containers go on.
    RestartKubelet {
        /// Node name.
        node: String,
    },
    /// `systemctl restart containerd` on the node (Kubernetes 1.24 and later): running
    /// containers go on.
    RestartRuntime {
        /// Node name.
        node: String,
    },
    /// `systemctl restart docker` on the node (Kubernetes before 1.24, or swarm): containers
    /// stop with it unless live-restore.
    RestartDocker {
        /// Node name.
        node: String,
    },
    /// Delete the files that filled the node's disk.
    CleanDisk {
        /// Node name.
        node: String,
    },
    /// Classic swarm: redeploy an app (create the containers the control plane finds missing).
    Redeploy {
        /// App (workload) name.
        workload: String,
    },
    /// Classic swarm: delete an app and create it again.
    RecreateApp {
        /// App (workload) name.
        workload: String,
    },
    /// Classic swarm: turn `reschedule:on-node-failure` on or off for an app.
    SetReschedule {
        /// App (workload) name.
        workload: String,
        /// On or off.
        on: bool,
    },
    /// Replace a node's labels.
    SetNodeLabels {
        /// Node name.
        node: String,
        /// The new labels.
        labels: Labels,
    },
    /// Swarm mode: `docker swarm init --force-new-cluster` on a manager.
    ForceNewCluster {
        /// The manager it runs on.
        node: String,
    },
    /// Swarm mode: `docker node promote`.
    PromoteNode {
        /// Node name.
        node: String,
    },
    /// Swarm: the node leaves (`docker swarm leave --force`) and joins again into a pool.
    Rejoin {
        /// Node name.
        node: String,
        /// The pool (and so the cluster and role) it joins.
        pool: String,
    },
}

/// One (instance type, zone, pricing) to try when buying; `None` keeps the pool's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceChoice {
    /// Instance type.
    pub instance_type: Option<String>,
    /// Zone.
    pub zone: Option<String>,
    /// Pricing.
    pub pricing: Pricing,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::DeletePod { pod, force: true } => {
                write!(f, "kubectl delete pod {pod} --force --grace-period=0")
            }
            Action::DeletePod { pod, force: false } => write!(f, "kubectl delete pod {pod}"),
            Action::Scale { workload, replicas } => {
                write!(f, "kubectl scale deployment {workload} --replicas={replicas}")
            }
            Action::StartInstance { node } => write!(f, "start instance {node}"),
            Action::StopInstance { node } => write!(f, "stop instance {node}"),
            Action::RebootInstance { node, force: false } => write!(f, "reboot instance {node}"),
            Action::RebootInstance { node, force: true } => write!(f, "force-reboot instance {node}"),
            Action::ReleaseInstance { node } => write!(f, "release instance {node}"),
            Action::RunInstances { pool, count, choices } => {
                write!(f, "buy {count} instance(s) for pool {pool}")?;
                for (i, c) in choices.iter().enumerate() {
                    let ty = c.instance_type.as_deref().unwrap_or("pool type");
                    let zone = c.zone.as_deref().unwrap_or("pool zone");
                    write!(f, "{} {ty} {zone} {}", if i == 0 { ":" } else { ", else" }, c.pricing.name())?;
                }
                Ok(())
            }
            Action::Reimage { node, into_pool } => write!(f, "reimage {node} and join pool {into_pool}"),
            Action::SetBackend { load_balancer, service, enabled } => {
                write!(f, "set backend {service} of {load_balancer} {}", if *enabled { "on" } else { "off" })
            }
            Action::RemoveNode { node } => write!(f, "remove node {node}"),
            Action::DrainNode { node, timeout_s: None } => write!(f, "drain node {node}"),
            Action::DrainNode { node, timeout_s: Some(t) } => write!(f, "drain node {node} --timeout={t}s"),
            Action::Cordon { node } => write!(f, "kubectl cordon {node}"),
            Action::Uncordon { node } => write!(f, "kubectl uncordon {node}"),
            Action::RestartKubelet { node } => write!(f, "systemctl restart kubelet (on {node})"),
            Action::RestartDocker { node } => write!(f, "systemctl restart docker (on {node})"),
            Action::RestartRuntime { node } => write!(f, "systemctl restart containerd (on {node})"),
            Action::CleanDisk { node } => write!(f, "clean the disk of {node}"),
            Action::Redeploy { workload } => write!(f, "redeploy {workload}"),
            Action::RecreateApp { workload } => write!(f, "delete and recreate {workload}"),
            Action::SetReschedule { workload, on } => {
                write!(f, "set reschedule:on-node-failure {} for {workload}", if *on { "on" } else { "off" })
            }
            Action::SetNodeLabels { node, labels } => {
                let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "set labels of {node} to [{}]", l.join(", "))
            }
            Action::ForceNewCluster { node } => write!(f, "docker swarm init --force-new-cluster (on {node})"),
            Action::PromoteNode { node } => write!(f, "docker node promote {node}"),
            Action::Rejoin { node, pool } => {
                write!(f, "docker swarm leave --force && docker swarm join (on {node}, into pool {pool})")
            }
        }
    }
}

/// An action and who asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The rule or actor, for reports.
    pub by: String,
    /// What to do.
    pub action: Action,
    /// When the policy saw what this answers, if earlier than now (a rule's trigger matched
    /// at a monitoring evaluation, and a person took `responseTime` to act): for reports.
    pub observed: Option<crate::time::SimTime>,
}

/// A policy's answer.
#[derive(Clone, Debug, Default)]
pub struct Decision {
    /// Actions to issue now; each takes effect after the API latency.
    pub actions: Vec<Request>,
    /// Look again at this time (besides every monitoring evaluation).
    pub wake_at: Option<SimTime>,
    /// The policy cannot go on (a plug-in crashed, hung, or answered nonsense): the run stops
    /// and its result carries this message.
    pub error: Option<String>,
    /// Actions the policy meant to take that named nothing when it came to act: recorded as
    /// failed actions, never dropped in silence.
    pub unresolved: Vec<Unresolved>,
}

/// An action that resolved to nothing (no pod or node matched its target at that moment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    /// The rule or actor, for reports.
    pub by: String,
    /// What it meant to do, as a command line would say it.
    pub action: String,
    /// Why nothing was done, as the API or kubectl would say it.
    pub error: String,
}

/// A remediation policy.
pub trait Policy {
    /// Called at the start, at every alert-rule evaluation, and at the time it last asked for.
    fn decide(&mut self, view: &dyn ClusterView) -> Decision;
}

/// The policy that never acts.
#[derive(Clone, Copy, Debug, Default)]
pub struct DoNothing;

impl Policy for DoNothing {
    fn decide(&mut self, _view: &dyn ClusterView) -> Decision {
        Decision::default()
    }
}
