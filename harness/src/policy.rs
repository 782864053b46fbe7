//! Policy files and the rule runtime that carries them out.
//!
//! A policy is two kinds of counterfactual in one file:
//!
//! - **preventive**: `spec.patch`, merged into the scenario's `spec` before the run (the
//!   configuration the team could have had), see [`crate::patch`];
//! - **reactive**: `spec.rules`, each a trigger (a clock time, a firing alert, pods in a state
//!   for a while), an actor (automation acts at once; a human acts `responseTime` after the
//!   trigger, looking at the cluster as it is then) and actions.
//!
//! Each trigger occurrence is acted on once: an alert instance (rule, target, start) or a pod
//! entering a status.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use capsize_sim::one_key_enum;
use capsize_sim::policy::{
    Action, ClusterView, Decision, InstanceChoice, NodeStatus, PodInfo, PodStatus, Policy, Request, Unresolved,
};
use capsize_sim::rng::ChaCha8Rng;
use capsize_sim::spec::{AlertCondition, ClusterKind, ContainerRuntime, Labels, Metadata, Pick, Pricing};
use capsize_sim::time::{At, SimDuration, SimTime};
use capsize_sim::validate::{selects, show_labels};

use crate::yaml::Value;

/// A policy file.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyFile {
    /// Must be `capsize.dev/v1alpha1`.
    pub api_version: String,
    /// Must be `Policy`.
    pub kind: String,
    /// Name (what `--policy NAME` matches) and description.
    pub metadata: Metadata,
    /// Patch and rules.
    #[serde(default)]
    pub spec: PolicySpec,
}

/// What the policy changes before the run and does during it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicySpec {
    /// Merged into the scenario's `spec` before the run: mappings merge key by key, lists of
    /// objects merge by their `name` (or `pool`, `service`), `null` removes a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub patch: Option<Value>,
    /// Reactive rules.
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    /// A plug-in program that decides instead of rules (see `docs/plugin-protocol.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<crate::external::ExternalSpec>,
}

/// One rule: when, who, what.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleSpec {
    /// Shown in reports as who took the action.
    pub name: String,
    /// The trigger.
    pub when: Trigger,
    /// Who acts.
    #[serde(default)]
    pub actor: Actor,
    /// For a human: time from the trigger to acting (being paged, waking up, logging in).
    #[serde(default)]
    pub response_time: SimDuration,
    /// A human's response time by hour of day (nights, weekends' on-call): the first entry
    /// whose window holds the clock time at the trigger wins; `responseTime` otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_time_at: Vec<ResponseWindow>,
    /// What to do, in order (or a `ladder`).
    #[serde(rename = "do", default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionSpec>,
    /// A runbook's escalation ladder: the first step's actions, then, after its `wait`, the next
    /// step's if the trigger's condition still holds for the same target, and so on. Each
    /// occurrence (each node, for a `nodes` trigger) climbs its own ladder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ladder: Vec<LadderStep>,
    /// At most this many ladders climbed at once (`1`: one node at a time); later occurrences
    /// wait their turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// At most this many actions from this rule over the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_actions: Option<u32>,
    /// At most this many actions from this rule in any hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_actions_per_hour: Option<u32>,
    /// Act on the first occurrence of the trigger only (a one-off response such as rebooting
    /// every worker).
    #[serde(default)]
    pub once: bool,
    /// Where the rule comes from (the document, the runbook step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A response time that holds between two clock times (`from` 22:00 `to` 07:00 spans midnight).
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResponseWindow {
    /// Start of the window, local clock.
    pub from: capsize_sim::time::ClockTime,
    /// End of the window (exclusive).
    pub to: capsize_sim::time::ClockTime,
    /// The response time in it.
    pub response_time: SimDuration,
}

impl ResponseWindow {
    fn holds(&self, clock: capsize_sim::time::ClockTime) -> bool {
        if self.from <= self.to { self.from <= clock && clock < self.to } else { clock >= self.from || clock < self.to }
    }
}

/// One step of a ladder.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LadderStep {
    /// What this step does.
    #[serde(rename = "do")]
    pub actions: Vec<ActionSpec>,
    /// How long to watch before the next step (ignored on the last step).
    #[serde(default)]
    pub wait: SimDuration,
    /// The runbook's words for this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

one_key_enum! {
    /// What sets a rule off.
    #[derive(Clone, Debug)]
    pub enum Trigger {
        /// Once, at a clock time (`"07:50"`) or offset (`"+6h"`).
        At(At) = "at",
        /// Whenever an alert instance starts firing.
        Alert(AlertTrigger) = "alert",
        /// Whenever a pod has been in a state for a while.
        Pods(PodFilter) = "pods",
        /// Whenever an operation fails (a cloud API call, a scheduled job, a cluster command).
        OperationFailed(OperationFilter) = "operationFailed",
        /// Whenever a node has been in a state for a while (NotReady, or its CPU above a level,
        /// as a host monitor's alarm sees it).
        Nodes(NodeFilter) = "nodes",
    }
}

/// Which nodes, as `kubectl get nodes` / `docker node ls` and a host monitor show them.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeFilter {
    /// Only nodes of this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Only nodes of this pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// `Ready` or `NotReady`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NodeStatusName>,
    /// Kubernetes: a node condition that holds (`NotReady`, `Unknown`, `DiskPressure`,
    /// `SchedulingDisabled`, `Ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<ConditionName>,
    /// Kubernetes: any of these conditions holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any_condition: Vec<ConditionName>,
    /// CPU in use at or above this fraction of the node's CPU (1.0 = 100 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_above: Option<f32>,
    /// How long the node must have matched.
    #[serde(rename = "for", default)]
    pub for_: SimDuration,
}

impl NodeFilter {
    fn matches(&self, n: &capsize_sim::policy::NodeInfo) -> bool {
        n.status != NodeStatus::Removed
            && self.cluster.as_ref().is_none_or(|c| *c == n.cluster)
            && self.pool.as_ref().is_none_or(|p| *p == n.pool)
            && self.status.is_none_or(|s| s.0 == n.status)
            && self.condition.as_ref().is_none_or(|c| n.conditions.contains(&c.0))
            && (self.any_condition.is_empty() || self.any_condition.iter().any(|c| n.conditions.contains(&c.0)))
            && self.cpu_above.is_none_or(|x| n.cpu_used >= x)
    }
}

/// A node condition name, one of [`capsize_sim::policy::NODE_CONDITIONS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionName(pub &'static str);

impl<'de> Deserialize<'de> for ConditionName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match capsize_sim::policy::NODE_CONDITIONS.iter().find(|c| **c == s) {
            Some(c) => Ok(ConditionName(c)),
            None => Err(serde::de::Error::custom(format!(
                "unknown node condition `{s}`, expected one of {}",
                capsize_sim::policy::NODE_CONDITIONS.join(", ")
            ))),
        }
    }
}

impl Serialize for ConditionName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

/// A node status written the way operators do (`Ready`, `NotReady`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NodeStatusName(pub NodeStatus);

impl<'de> Deserialize<'de> for NodeStatusName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "Ready" => Ok(NodeStatusName(NodeStatus::Ready)),
            "NotReady" => Ok(NodeStatusName(NodeStatus::NotReady)),
            "Stopped" => Ok(NodeStatusName(NodeStatus::Stopped)),
            _ => {
                Err(serde::de::Error::custom(format!("unknown node status `{s}`, expected Ready, NotReady or Stopped")))
            }
        }
    }
}

impl Serialize for NodeStatusName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self.0 {
            NodeStatus::Ready => "Ready",
            NodeStatus::NotReady => "NotReady",
            NodeStatus::Stopped => "Stopped",
            NodeStatus::Removed => "Removed",
        })
    }
}

/// Which failed operations to react to.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OperationFilter {
    /// Text the error contains (e.g. `NoStock`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_contains: Option<String>,
    /// Only operations by this actor (e.g. `cron (spot)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// An alert to react to.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AlertTrigger {
    /// Alert rule name (from the scenario's `monitoring.alerts`).
    pub name: String,
    /// Only this service or workload; any when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// Which pods, as `kubectl get pods` would filter them.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodFilter {
    /// Label selector; every pod when omitted.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub selector: Labels,
    /// STATUS column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusName>,
    /// Text the last error contains (`kubectl describe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_contains: Option<String>,
    /// At least this many restarts (the RESTARTS column): how "stuck" is usually judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_restarts: Option<u32>,
    /// Only pods on nodes of this pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_pool: Option<String>,
    /// How long the pod must have had its status (a CrashLoopBackOff lasts one backoff wait).
    #[serde(rename = "for", default)]
    pub for_: SimDuration,
}

impl PodFilter {
    fn is_empty(&self) -> bool {
        self.selector.is_empty()
            && self.status.is_none()
            && self.message_contains.is_none()
            && self.min_restarts.is_none()
            && self.node_pool.is_none()
    }

    fn matches(&self, p: &PodInfo<'_>) -> bool {
        (self.selector.is_empty() || selects(&self.selector, p.labels))
            && self.status.is_none_or(|s| s.0 == p.status)
            && self.min_restarts.is_none_or(|n| p.restarts >= n)
            && self.message_contains.as_deref().is_none_or(|m| p.message.as_deref().is_some_and(|msg| msg.contains(m)))
            && self.node_pool.as_deref().is_none_or(|pool| p.pool == Some(pool))
    }
}

/// A pod status written the kubectl way (`CrashLoopBackOff`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StatusName(pub PodStatus);

impl<'de> Deserialize<'de> for StatusName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PodStatus::parse(&s).map(StatusName).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown pod status `{s}`, expected one of {}",
                PodStatus::NAMES.join(", ")
            ))
        })
    }
}

impl Serialize for StatusName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Who acts.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Actor {
    /// A controller or script: acts at the trigger.
    #[default]
    Automation,
    /// A responder: acts `responseTime` after the trigger.
    Human,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Actor::Automation => "automation",
            Actor::Human => "human",
        })
    }
}

one_key_enum! {
    /// One action of a rule.
    #[derive(Clone, Debug)]
    pub enum ActionSpec {
        /// Delete the pods matching the filter (or, with no filter, the pods the trigger matched).
        DeletePods(DeletePods) = "deletePods",
        /// Set a workload's replicas (a Deployment or a swarm service).
        Scale(ScaleSpec) = "scale",
        /// Start every stopped machine of a pool.
        StartNodes(PoolTarget) = "startNodes",
        /// Reboot every running machine of a pool or a cluster (or the nodes the trigger matched).
        RebootNodes(RebootTarget) = "rebootNodes",
        /// Buy machines for a pool.
        BuyNodes(BuyNodes) = "buyNodes",
        /// Reimage running machines of one pool into another (another cluster).
        ReimageNodes(ReimageNodes) = "reimageNodes",
        /// Turn a load balancer backend on or off.
        SetBackend(SetBackend) = "setBackend",
        /// Move every app's traffic from one cluster to another: each balancer with backends in
        /// both turns the `to` backend on, and the `from` one off once the `to` one is healthy
        /// (repeat the action a little later to finish the move).
        SwitchBackends(SwitchBackends) = "switchBackends",
        /// Remove nodes from their cluster (named, or the nodes a `nodes` trigger matched).
        RemoveNodes(PoolTarget) = "removeNodes",
        /// Drain nodes: move their containers off, each to a node with the CPU for it (swarm);
        /// on Kubernetes `kubectl drain --ignore-daemonsets` through the disruption budgets.
        DrainNodes(DrainTarget) = "drainNodes",
        /// Classic swarm: redeploy apps.
        Redeploy(AppTarget) = "redeploy",
        /// Classic swarm: delete apps and create them again.
        RecreateApps(AppTarget) = "recreateApps",
        /// Classic swarm: turn `reschedule:on-node-failure` on (or off) for apps.
        SetReschedule(SetReschedule) = "setReschedule",
        /// Replace a node's labels.
        SetNodeLabels(SetNodeLabels) = "setNodeLabels",
        /// Swarm mode: `docker swarm init --force-new-cluster` on a manager.
        ForceNewCluster(NodeName) = "forceNewCluster",
        /// Swarm mode: promote Ready workers of a pool to managers, `count` at once.
        PromoteNodes(PromoteNodes) = "promoteNodes",
        /// Swarm: nodes leave and join again into a pool.
        RejoinNodes(RejoinNodes) = "rejoinNodes",
        /// Kubernetes: `kubectl cordon` nodes.
        CordonNodes(PoolTarget) = "cordonNodes",
        /// Kubernetes: `kubectl uncordon` nodes.
        UncordonNodes(PoolTarget) = "uncordonNodes",
        /// Kubernetes: `systemctl restart kubelet` on nodes (running containers go on).
        RestartKubelet(PoolTarget) = "restartKubelet",
        /// Kubernetes before 1.24, or swarm: `systemctl restart docker` on nodes (containers
        /// stop unless live-restore).
        RestartDocker(PoolTarget) = "restartDocker",
        /// Kubernetes 1.24 and later: `systemctl restart containerd` on nodes (containers go on).
        RestartRuntime(PoolTarget) = "restartRuntime",
        /// Kubernetes: delete what filled the nodes' disks.
        CleanDisk(PoolTarget) = "cleanDisk",
    }
}

/// Apps by name, or every app of a cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppTarget {
    /// These apps (workloads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<String>,
    /// Every app of this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Only apps with fewer Ready containers than they should have.
    #[serde(default)]
    pub degraded_only: bool,
}

/// Reschedule on or off.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetReschedule {
    /// Which apps.
    #[serde(flatten)]
    pub apps: AppTarget,
    /// On (default) or off.
    #[serde(default = "yes")]
    pub on: bool,
}

/// New labels for a node.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetNodeLabels {
    /// Node name.
    pub node: String,
    /// The labels it has afterwards (`{}` removes them all).
    #[serde(default)]
    pub labels: Labels,
}

/// One node by name.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeName {
    /// Node name.
    pub node: String,
}

/// Promote workers.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PromoteNodes {
    /// Pool whose Ready nodes are promoted (first by name).
    pub pool: String,
    /// How many at once; with fewer Ready the action fails (and is reported) without promoting.
    pub count: u32,
}

/// Leave and join again.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RejoinNodes {
    /// Node names.
    pub nodes: Vec<String>,
    /// The pool they join (their role and cluster).
    pub pool: String,
}

/// Move traffic between clusters.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SwitchBackends {
    /// Cluster whose backends are turned off.
    pub from: String,
    /// Cluster whose backends are turned on.
    pub to: String,
}

/// Nodes by name, pool or cluster (or, with none of them, the nodes a `nodes` trigger matched).
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PoolTarget {
    /// These nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// Every node of this pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Every node of this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The nodes running a pod with these labels when the action is taken (`pick` of them;
    /// one when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_of: Option<Labels>,
    /// How many of the nodes named by `pool`, `cluster`, `nodeOf` or the trigger: `one`, `all`,
    /// `{count: N}`, `{percent: P}`, drawn from the run's seed (all when omitted, one for `nodeOf`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pick: Option<Pick>,
}

/// Nodes to reboot, and how.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RebootTarget {
    /// These nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// Every node of this pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Every node of this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The nodes running a pod with these labels when the action is taken (`pick` of them;
    /// one when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_of: Option<Labels>,
    /// How many of the nodes named by `pool`, `cluster`, `nodeOf` or the trigger: `one`, `all`,
    /// `{count: N}`, `{percent: P}`, drawn from the run's seed (all when omitted, one for `nodeOf`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pick: Option<Pick>,
    /// Force the reboot (the console's "force reboot"): no OS shutdown, so nothing waits for a
    /// hung daemon.
    #[serde(default)]
    pub force: bool,
}

impl RebootTarget {
    fn target(&self) -> PoolTarget {
        PoolTarget {
            nodes: self.nodes.clone(),
            pool: self.pool.clone(),
            cluster: self.cluster.clone(),
            node_of: self.node_of.clone(),
            pick: self.pick,
        }
    }
}

/// Nodes to drain, and for how long to try.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DrainTarget {
    /// These nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// Every node of this pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Every node of this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The nodes running a pod with these labels when the action is taken (`pick` of them;
    /// one when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_of: Option<Labels>,
    /// How many of the nodes named by `pool`, `cluster`, `nodeOf` or the trigger: `one`, `all`,
    /// `{count: N}`, `{percent: P}`, drawn from the run's seed (all when omitted, one for `nodeOf`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pick: Option<Pick>,
    /// Kubernetes `--timeout`: give up after this long (never, when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<SimDuration>,
}

impl DrainTarget {
    fn target(&self) -> PoolTarget {
        PoolTarget {
            nodes: self.nodes.clone(),
            pool: self.pool.clone(),
            cluster: self.cluster.clone(),
            node_of: self.node_of.clone(),
            pick: self.pick,
        }
    }
}

/// Buy machines.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BuyNodes {
    /// The pool they join.
    pub pool: String,
    /// How many.
    pub count: u32,
    /// Type, zone and pricing to try in order; the pool's own when empty.
    #[serde(default)]
    pub choices: Vec<ChoiceSpec>,
}

/// One (type, zone, pricing) to try.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChoiceSpec {
    /// Instance type; the pool's when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Zone; the pool's when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Pricing (on demand when omitted).
    #[serde(default)]
    pub pricing: Pricing,
}

/// Reimage machines into another pool.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReimageNodes {
    /// The pool they leave.
    pub from: String,
    /// How many (the first running ones by name).
    pub count: u32,
    /// The pool they join.
    pub into: String,
}

/// Turn a backend on or off.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetBackend {
    /// Load balancer.
    pub load_balancer: String,
    /// Backend service.
    pub service: String,
    /// On (default) or off.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// `kubectl delete pod` for every matching pod.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeletePods {
    /// Label selector.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub selector: Labels,
    /// STATUS column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusName>,
    /// Text the last error contains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_contains: Option<String>,
    /// At least this many restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_restarts: Option<u32>,
    /// `--force --grace-period=0`.
    #[serde(default)]
    pub force: bool,
    /// Only pods on the nodes a `nodes` trigger matched (`kubectl delete pods
    /// --field-selector spec.nodeName=NODE`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub on_trigger_nodes: bool,
}

impl DeletePods {
    fn filter(&self) -> PodFilter {
        PodFilter {
            selector: self.selector.clone(),
            status: self.status,
            message_contains: self.message_contains.clone(),
            min_restarts: self.min_restarts,
            node_pool: None,
            for_: SimDuration::ZERO,
        }
    }
}

/// `kubectl scale deployment`.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScaleSpec {
    /// Workload name.
    pub workload: String,
    /// New replicas.
    pub replicas: u32,
}

/// A rule being carried out.
#[derive(Clone, Debug)]
struct RuleRt {
    spec: RuleSpec,
    /// For `at` triggers: the instant, and whether it passed.
    at: Option<SimTime>,
    fired_once: bool,
    /// Trigger occurrences already acted on.
    handled: BTreeSet<String>,
    /// Occurrences waiting for the actor: due time and the pods the trigger matched.
    pending: Vec<(SimTime, Vec<String>, SimTime)>,
    /// Actions issued so far.
    issued: u32,
    /// For `nodes` triggers: since when each node has matched.
    node_since: std::collections::BTreeMap<String, SimTime>,
    /// Ladders being climbed.
    ladders: Vec<LadderRt>,
    /// Occurrences due but waiting for a free ladder (`concurrency`), with when their trigger
    /// matched.
    queued: Vec<(Vec<String>, SimTime)>,
    /// When each action of the last hour was issued (`maxActionsPerHour`).
    recent: std::collections::VecDeque<SimTime>,
}

/// One occurrence climbing a rule's ladder.
#[derive(Clone, Debug)]
struct LadderRt {
    /// What the trigger matched (the node, the pods).
    matched: Vec<String>,
    /// The step last taken.
    step: usize,
    /// When to look again.
    next: SimTime,
}

/// The runtime of a policy file's rules.
#[derive(Clone, Debug)]
pub struct RulePolicy {
    rules: Vec<RuleRt>,
    /// The stream `pick` draws from, keyed by the run's seed at the first look.
    rng: Option<ChaCha8Rng>,
}

/// The policy's own stream number (see `capsize_sim::rng::keyed_stream`).
const POLICY_STREAM: u64 = 0x706f_6c69_6379;

impl RulePolicy {
    /// Prepares `rules` for a run that starts at `start`.
    pub fn new(rules: &[RuleSpec], start: &capsize_sim::time::StartTime) -> RulePolicy {
        RulePolicy {
            rules: rules
                .iter()
                .map(|r| RuleRt {
                    at: match &r.when {
                        Trigger::At(at) => Some(at.resolve(start)),
                        _ => None,
                    },
                    spec: r.clone(),
                    fired_once: false,
                    handled: BTreeSet::new(),
                    pending: Vec::new(),
                    issued: 0,
                    node_since: Default::default(),
                    ladders: Vec::new(),
                    queued: Vec::new(),
                    recent: Default::default(),
                })
                .collect(),
            rng: None,
        }
    }
}

fn earliest(a: Option<SimTime>, b: SimTime) -> Option<SimTime> {
    Some(a.map_or(b, |a| a.min(b)))
}

impl Policy for RulePolicy {
    fn decide(&mut self, view: &dyn ClusterView) -> Decision {
        let now = view.now();
        let mut decision = Decision::default();
        let mut wake: Option<SimTime> = None;
        let rng = self.rng.get_or_insert_with(|| capsize_sim::rng::keyed_stream(view.seed(), POLICY_STREAM));
        for rule in &mut self.rules {
            // 1. Did the trigger occur?
            let mut occurrences: Vec<Vec<String>> = Vec::new();
            match &rule.spec.when {
                Trigger::At(_) => {
                    let at = rule.at.expect("resolved at construction");
                    if !rule.fired_once && now >= at {
                        rule.fired_once = true;
                        occurrences.push(Vec::new());
                    } else if !rule.fired_once {
                        wake = earliest(wake, at);
                    }
                }
                Trigger::Alert(a) => {
                    for alert in view.firing_alerts() {
                        if alert.name == a.name && a.target.as_ref().is_none_or(|t| *t == alert.target) {
                            let key = format!("{}/{}/{}", alert.name, alert.target, alert.since.ms());
                            if rule.handled.insert(key) {
                                occurrences.push(Vec::new());
                            }
                        }
                    }
                }
                Trigger::Pods(f) => {
                    let mut matched = Vec::new();
                    let handled = &mut rule.handled;
                    view.for_each_pod(&mut |p| {
                        if f.matches(p) {
                            let due = p.status_since.after(f.for_);
                            if due <= now {
                                if handled.insert(format!("{}@{}", p.name, p.status_since.ms())) {
                                    matched.push(p.name.to_string());
                                }
                            } else {
                                wake = earliest(wake, due);
                            }
                        }
                    });
                    if !matched.is_empty() {
                        occurrences.push(matched);
                    }
                }
                Trigger::Nodes(f) => {
                    let nodes = view.nodes();
                    let live: BTreeSet<&str> = nodes.iter().filter(|n| f.matches(n)).map(|n| n.name.as_str()).collect();
                    // A node that stops matching can set the rule off again later.
                    rule.node_since.retain(|k, _| live.contains(k.as_str()));
                    rule.handled.retain(|k| live.contains(k.as_str()));
                    let mut matched = Vec::new();
                    for name in live {
                        let since = *rule.node_since.entry(name.to_string()).or_insert(now);
                        let due = since.after(f.for_);
                        if due <= now {
                            if rule.handled.insert(name.to_string()) {
                                matched.push(name.to_string());
                            }
                        } else {
                            wake = earliest(wake, due);
                        }
                    }
                    if !matched.is_empty() {
                        occurrences.push(matched);
                    }
                }
                Trigger::OperationFailed(f) => {
                    for op in view.failed_operations() {
                        let wanted = f.error_contains.as_deref().is_none_or(|e| op.error.contains(e))
                            && f.by.as_deref().is_none_or(|b| op.by == b);
                        if wanted && rule.handled.insert(format!("{}@{}", op.action, op.at.ms())) {
                            occurrences.push(Vec::new());
                        }
                    }
                }
            }
            let delay = match rule.spec.actor {
                Actor::Automation => SimDuration::ZERO,
                Actor::Human => {
                    let clock = view.start().clock_at(now);
                    rule.spec
                        .response_time_at
                        .iter()
                        .find(|w| w.holds(clock))
                        .map_or(rule.spec.response_time, |w| w.response_time)
                }
            };
            let ladder = !rule.spec.ladder.is_empty();
            for matched in occurrences {
                if rule.spec.once && rule.fired_once && !matches!(rule.spec.when, Trigger::At(_)) {
                    break;
                }
                rule.fired_once = true;
                let targets: Vec<Vec<String>> = if ladder && matches!(rule.spec.when, Trigger::Nodes(_)) {
                    // Each node climbs a ladder of its own.
                    matched.into_iter().map(|n| vec![n]).collect()
                } else {
                    vec![matched]
                };
                for t in targets {
                    // A target already on its way (pending, queued, climbing) is not taken twice.
                    let busy = !t.is_empty()
                        && (rule.pending.iter().any(|(_, m, _)| *m == t)
                            || rule.queued.iter().any(|(m, _)| *m == t)
                            || rule.ladders.iter().any(|l| l.matched == t));
                    if !busy {
                        rule.pending.push((now.after(delay), t, now));
                    }
                }
            }

            // 2. Act on what is due.
            let due: Vec<(Vec<String>, SimTime)> =
                rule.pending.iter().filter(|(t, _, _)| *t <= now).map(|(_, m, seen)| (m.clone(), *seen)).collect();
            rule.pending.retain(|(t, _, _)| *t > now);
            if !ladder {
                for (matched, seen) in due {
                    match rule.hour_room(now) {
                        Ok(()) => {
                            let actions = rule.spec.actions.clone();
                            let observed = (seen < now).then_some(seen);
                            rule.act(&actions, (&matched, observed), view, now, &mut decision, rng);
                        }
                        // The hourly limit holds it back, not away.
                        Err(at) => rule.pending.push((at, matched, seen)),
                    }
                }
            } else {
                rule.queued.extend(due);
                // A target that recovered needs no more steps: its ladder ends (and frees its
                // place for the next one).
                let when = rule.spec.when.clone();
                rule.ladders.retain(|l| still_holds(&when, &l.matched, view));
                // Climb: a step whose wait is over goes on to the next.
                let mut k = 0;
                while k < rule.ladders.len() {
                    if rule.ladders[k].next > now {
                        k += 1;
                        continue;
                    }
                    if let Err(at) = rule.hour_room(now) {
                        rule.ladders[k].next = at;
                        k += 1;
                        continue;
                    }
                    let next_step = rule.ladders[k].step + 1;
                    let matched = rule.ladders[k].matched.clone();
                    let step = rule.spec.ladder[next_step].clone();
                    rule.act(&step.actions, (&matched, None), view, now, &mut decision, rng);
                    if next_step + 1 == rule.spec.ladder.len() {
                        // The last step: nothing left to wait for.
                        rule.ladders.remove(k);
                    } else {
                        rule.ladders[k].step = next_step;
                        rule.ladders[k].next = now.after(step.wait);
                        k += 1;
                    }
                }
                let limit = rule.spec.concurrency.map_or(usize::MAX, |c| c as usize);
                while rule.ladders.len() < limit && !rule.queued.is_empty() {
                    if let Err(at) = rule.hour_room(now) {
                        wake = earliest(wake, at);
                        break;
                    }
                    let (matched, seen) = rule.queued.remove(0);
                    // A target that recovered while it waited its turn needs nothing.
                    if !still_holds(&rule.spec.when, &matched, view) {
                        continue;
                    }
                    let step = rule.spec.ladder[0].clone();
                    rule.act(&step.actions, (&matched, (seen < now).then_some(seen)), view, now, &mut decision, rng);
                    if rule.spec.ladder.len() > 1 {
                        rule.ladders.push(LadderRt { matched, step: 0, next: now.after(step.wait) });
                    }
                }
                for l in &rule.ladders {
                    wake = earliest(wake, l.next);
                }
            }
            for (t, _, _) in &rule.pending {
                wake = earliest(wake, *t);
            }
        }
        // Only the future wakes the policy (a time already past would be dropped).
        wake = wake.filter(|&t| t > now);
        decision.wake_at = wake;
        decision
    }
}

impl RuleRt {
    /// Whether `maxActionsPerHour` leaves room for an action now, or when it will.
    fn hour_room(&mut self, now: SimTime) -> Result<(), SimTime> {
        let hour = SimDuration::hours(1).ms();
        while self.recent.front().is_some_and(|t| now.0.saturating_sub(t.0) >= hour) {
            self.recent.pop_front();
        }
        match (self.spec.max_actions_per_hour, self.recent.front()) {
            (Some(m), Some(&oldest)) if self.recent.len() >= m as usize => Err(SimTime(oldest.0 + hour)),
            _ => Ok(()),
        }
    }

    /// Issues `actions` for one occurrence, within the rule's limits. An action whose target
    /// names nothing now is reported as failed (`Decision::unresolved`), not dropped.
    fn act(
        &mut self,
        actions: &[ActionSpec],
        (matched, observed): (&[String], Option<SimTime>),
        view: &dyn ClusterView,
        now: SimTime,
        decision: &mut Decision,
        rng: &mut ChaCha8Rng,
    ) {
        let _ = self.hour_room(now);
        let by = format!("{} ({})", self.spec.name, self.spec.actor);
        for action in actions {
            let resolved = match resolve(action, matched, view, rng) {
                Ok(r) => r,
                Err(error) => {
                    decision.unresolved.push(Unresolved { by: by.clone(), action: describe(action), error });
                    continue;
                }
            };
            for a in resolved {
                if self.spec.max_actions.is_some_and(|m| self.issued >= m)
                    || self.spec.max_actions_per_hour.is_some_and(|m| self.recent.len() >= m as usize)
                {
                    return;
                }
                // Two occurrences due at once (two alerts in one evaluation) lead to one
                // responder doing each thing once.
                if decision.actions.iter().any(|r| r.action == a) {
                    continue;
                }
                self.issued += 1;
                self.recent.push_back(now);
                decision.actions.push(Request { by: by.clone(), action: a, observed });
            }
        }
    }
}

/// An action as the policy file says it, for the report of one that resolved to nothing.
fn describe(action: &ActionSpec) -> String {
    let inner = serde_json::to_value(action).ok().and_then(|v| v.get(action.key()).cloned());
    match inner {
        Some(serde_json::Value::Object(m)) if m.is_empty() => action.key().to_string(),
        Some(v) => format!("{} {v}", action.key()),
        None => action.key().to_string(),
    }
}

/// Whether the condition that set a rule off still holds for what it matched (a ladder climbs
/// only while it does). Triggers without a lasting condition (a time, a failed operation) hold.
fn still_holds(when: &Trigger, matched: &[String], view: &dyn ClusterView) -> bool {
    match when {
        Trigger::Nodes(f) => view.nodes().iter().any(|n| matched.contains(&n.name) && f.matches(n)),
        Trigger::Pods(f) => {
            let mut any = false;
            view.for_each_pod(&mut |p| any |= matched.iter().any(|m| m == p.name) && f.matches(p));
            any
        }
        Trigger::Alert(a) => {
            view.firing_alerts().iter().any(|x| x.name == a.name && a.target.as_ref().is_none_or(|t| *t == x.target))
        }
        Trigger::At(_) | Trigger::OperationFailed(_) => true,
    }
}

/// The concrete API calls for one action, against the cluster as it is now; `Err` with the
/// answer `kubectl` would give when its target names nothing (no pod, no node matched).
fn resolve(
    action: &ActionSpec,
    matched: &[String],
    view: &dyn ClusterView,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Action>, String> {
    let on_nodes = |t: &PoolTarget, keep: fn(NodeStatus) -> bool, rng: &mut ChaCha8Rng| {
        let names = nodes_of(view, t, matched, keep, rng);
        if names.is_empty() {
            Err(format!("No resources found: no node matched ({})", target_words(t)))
        } else {
            Ok(names)
        }
    };
    let up = |s: NodeStatus| matches!(s, NodeStatus::Ready | NodeStatus::NotReady);
    Ok(match action {
        ActionSpec::DeletePods(d) => {
            let filter = d.filter();
            let mut pods = Vec::new();
            view.for_each_pod(&mut |p| {
                let chosen = if filter.is_empty() && !d.on_trigger_nodes {
                    matched.iter().any(|m| m == p.name)
                } else {
                    filter.matches(p) && (!d.on_trigger_nodes || p.node.is_some_and(|n| matched.iter().any(|m| m == n)))
                };
                // A pod stuck Terminating is what a force delete is for; a normal delete of
                // one changes nothing.
                if chosen && (d.force || p.status != PodStatus::Terminating) {
                    pods.push(Action::DeletePod { pod: p.name.to_string(), force: d.force });
                }
            });
            if pods.is_empty() {
                return Err("No resources found: no pod matched".into());
            }
            pods
        }
        ActionSpec::Scale(s) => vec![Action::Scale { workload: s.workload.clone(), replicas: s.replicas }],
        ActionSpec::StartNodes(t) => on_nodes(t, |s| s == NodeStatus::Stopped, rng)?
            .into_iter()
            .map(|node| Action::StartInstance { node })
            .collect(),
        ActionSpec::RebootNodes(r) => on_nodes(&r.target(), up, rng)?
            .into_iter()
            .map(|node| Action::RebootInstance { node, force: r.force })
            .collect(),
        ActionSpec::BuyNodes(b) => vec![Action::RunInstances {
            pool: b.pool.clone(),
            count: b.count,
            choices: b
                .choices
                .iter()
                .map(|c| InstanceChoice {
                    instance_type: c.instance_type.clone(),
                    zone: c.zone.clone(),
                    pricing: c.pricing,
                })
                .collect(),
        }],
        ActionSpec::ReimageNodes(r) => {
            let target = PoolTarget { pool: Some(r.from.clone()), ..PoolTarget::default() };
            on_nodes(&target, |s| s == NodeStatus::Ready, rng)?
                .into_iter()
                .take(r.count as usize)
                .map(|node| Action::Reimage { node, into_pool: r.into.clone() })
                .collect()
        }
        ActionSpec::SetBackend(b) => vec![Action::SetBackend {
            load_balancer: b.load_balancer.clone(),
            service: b.service.clone(),
            enabled: b.enabled,
        }],
        ActionSpec::SwitchBackends(sw) => {
            // Turn every `to` backend on first, then the `from` ones off.
            let backends = view.backends();
            let mut on = Vec::new();
            let mut off = Vec::new();
            for b in &backends {
                let pair = backends.iter().any(|o| o.load_balancer == b.load_balancer && o.cluster == sw.from);
                if b.cluster == sw.to && !b.enabled && pair {
                    on.push(Action::SetBackend {
                        load_balancer: b.load_balancer.clone(),
                        service: b.service.clone(),
                        enabled: true,
                    });
                }
                // The old backend goes off only once the new one passes its health checks, so no
                // app is left without a serving backend in between.
                let ready =
                    backends.iter().any(|o| o.load_balancer == b.load_balancer && o.cluster == sw.to && o.healthy);
                if b.cluster == sw.from && b.enabled && ready {
                    off.push(Action::SetBackend {
                        load_balancer: b.load_balancer.clone(),
                        service: b.service.clone(),
                        enabled: false,
                    });
                }
            }
            on.extend(off);
            on
        }
        ActionSpec::RemoveNodes(t) => on_nodes(t, |s| s != NodeStatus::Removed, rng)?
            .into_iter()
            .map(|node| Action::RemoveNode { node })
            .collect(),
        ActionSpec::DrainNodes(d) => on_nodes(&d.target(), up, rng)?
            .into_iter()
            .map(|node| Action::DrainNode { node, timeout_s: d.timeout.map(|t| t.ms().div_ceil(1000)) })
            .collect(),
        ActionSpec::CordonNodes(t) | ActionSpec::UncordonNodes(t) => {
            let cordon = matches!(action, ActionSpec::CordonNodes(_));
            on_nodes(t, |s| s != NodeStatus::Removed, rng)?
                .into_iter()
                .map(|node| if cordon { Action::Cordon { node } } else { Action::Uncordon { node } })
                .collect()
        }
        ActionSpec::RestartKubelet(t)
        | ActionSpec::RestartDocker(t)
        | ActionSpec::RestartRuntime(t)
        | ActionSpec::CleanDisk(t) => on_nodes(t, up, rng)?
            .into_iter()
            .map(|node| match action {
                ActionSpec::RestartKubelet(_) => Action::RestartKubelet { node },
                ActionSpec::RestartDocker(_) => Action::RestartDocker { node },
                ActionSpec::RestartRuntime(_) => Action::RestartRuntime { node },
                _ => Action::CleanDisk { node },
            })
            .collect(),
        ActionSpec::Redeploy(a) => apps_of(view, a).into_iter().map(|workload| Action::Redeploy { workload }).collect(),
        ActionSpec::RecreateApps(a) => {
            apps_of(view, a).into_iter().map(|workload| Action::RecreateApp { workload }).collect()
        }
        ActionSpec::SetReschedule(r) => {
            apps_of(view, &r.apps).into_iter().map(|workload| Action::SetReschedule { workload, on: r.on }).collect()
        }
        ActionSpec::SetNodeLabels(l) => vec![Action::SetNodeLabels { node: l.node.clone(), labels: l.labels.clone() }],
        ActionSpec::ForceNewCluster(n) => vec![Action::ForceNewCluster { node: n.node.clone() }],
        ActionSpec::PromoteNodes(p) => {
            let ready: Vec<String> = view
                .nodes()
                .into_iter()
                .filter(|n| n.pool == p.pool && n.status == NodeStatus::Ready && !n.manager)
                .map(|n| n.name)
                .take(p.count as usize)
                .collect();
            if ready.len() < p.count as usize {
                return Err(format!(
                    "only {} Ready worker(s) in pool {} to promote, {} asked for",
                    ready.len(),
                    p.pool,
                    p.count
                ));
            }
            ready.into_iter().map(|node| Action::PromoteNode { node }).collect()
        }
        ActionSpec::RejoinNodes(r) => {
            r.nodes.iter().map(|node| Action::Rejoin { node: node.clone(), pool: r.pool.clone() }).collect()
        }
    })
}

/// How a report names a node target (`pool worker`, `nodeOf app=redis`, `the trigger's nodes`).
fn target_words(t: &PoolTarget) -> String {
    let mut parts = Vec::new();
    if !t.nodes.is_empty() {
        parts.push(t.nodes.join(","));
    }
    if let Some(p) = &t.pool {
        parts.push(format!("pool {p}"));
    }
    if let Some(c) = &t.cluster {
        parts.push(format!("cluster {c}"));
    }
    if let Some(sel) = &t.node_of {
        let l: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.push(format!("nodeOf {}", l.join(",")));
    }
    if parts.is_empty() {
        parts.push("the trigger's nodes".into());
    }
    parts.join(", ")
}

/// The apps a target names: the listed ones, or every workload of a cluster.
fn apps_of(view: &dyn ClusterView, a: &AppTarget) -> Vec<String> {
    let all = view.workloads();
    let degraded = |name: &str| all.iter().any(|w| w.name == name && w.ready < w.replicas);
    let mut out = a.workloads.clone();
    if let Some(c) = &a.cluster {
        out.extend(all.iter().filter(|w| &w.cluster == c).map(|w| w.name.clone()));
    }
    out.retain(|w| !a.degraded_only || degraded(w));
    out
}

/// Names of the nodes a target names (by name, pool, cluster or the node of a pod; with none,
/// the nodes the trigger matched) whose status passes `keep`, then `pick` of them drawn from
/// `rng` (all when omitted; one for `nodeOf`).
fn nodes_of(
    view: &dyn ClusterView,
    t: &PoolTarget,
    matched: &[String],
    keep: impl Fn(NodeStatus) -> bool,
    rng: &mut ChaCha8Rng,
) -> Vec<String> {
    let by_trigger = t.nodes.is_empty() && t.pool.is_none() && t.cluster.is_none() && t.node_of.is_none();
    let mut of_pods = BTreeSet::new();
    if let Some(sel) = &t.node_of {
        view.for_each_pod(&mut |p| {
            if selects(sel, p.labels)
                && !matches!(p.status, PodStatus::Terminating | PodStatus::Deleted)
                && let Some(n) = p.node
            {
                of_pods.insert(n.to_string());
            }
        });
    }
    let mut names: Vec<String> = view
        .nodes()
        .into_iter()
        .filter(|n| {
            let named = if by_trigger {
                matched.contains(&n.name)
            } else {
                (t.nodes.is_empty() || t.nodes.contains(&n.name))
                    && t.pool.as_ref().is_none_or(|p| *p == n.pool)
                    && t.cluster.as_ref().is_none_or(|c| *c == n.cluster)
                    && (t.node_of.is_none() || of_pods.contains(&n.name))
            };
            named && keep(n.status)
        })
        .map(|n| n.name)
        .collect();
    let pick = t.pick.unwrap_or(if t.node_of.is_some() { Pick::One } else { Pick::All });
    pick.draw(&mut names, |k| capsize_sim::rng::index(rng, k));
    names
}

/// Checks what a rule refers to against the scenario it will run with; errors are
/// `(path inside the policy's spec.rules, message)`.
pub fn check_rules(rules: &[RuleSpec], scenario: &capsize_sim::Scenario) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    let alerts: Vec<&str> = scenario.spec.monitoring.alerts.iter().map(|a| a.name.as_str()).collect();
    let workloads: Vec<&str> = scenario.spec.cluster.workloads.iter().map(|w| w.name.as_str()).collect();
    let services: Vec<&str> = scenario
        .spec
        .cluster
        .services
        .iter()
        .map(|s| s.name.as_str())
        .chain(scenario.spec.cluster.load_balancers.iter().map(|l| l.name.as_str()))
        .collect();
    let pools: Vec<&str> = scenario.spec.cluster.nodes.iter().map(|p| p.pool.as_str()).collect();
    let pod_labels: Vec<Labels> = scenario.spec.cluster.workloads.iter().map(|w| w.pod_labels()).collect();
    let clusters: Vec<String> = scenario.spec.cluster.cluster_defs().into_iter().map(|c| c.name).collect();
    let start = &scenario.spec.start;
    let end = scenario.spec.duration;
    let mut names = BTreeSet::new();
    for (i, r) in rules.iter().enumerate() {
        if !names.insert(r.name.as_str()) {
            errors.push((format!("spec.rules[{i}].name"), format!("rule `{}` is defined twice", r.name)));
        }
        match &r.when {
            Trigger::Alert(a) => match scenario.spec.monitoring.alerts.iter().find(|x| x.name == a.name) {
                None => errors.push((
                    format!("spec.rules[{i}].when.alert.name"),
                    format!(
                        "the scenario has no alert rule named `{}` (it has: {})",
                        a.name,
                        if alerts.is_empty() { "none".to_string() } else { alerts.join(", ") }
                    ),
                )),
                Some(rule) => {
                    // A target that names nothing would silently never fire.
                    let (kind, known) = match rule.condition {
                        AlertCondition::ServiceDown => ("service", &services),
                        AlertCondition::PodCrashLooping => ("workload", &workloads),
                    };
                    if let Some(t) = &a.target
                        && !known.contains(&t.as_str())
                    {
                        errors.push((
                            format!("spec.rules[{i}].when.alert.target"),
                            format!("`{}` fires per {kind}, and the scenario has no {kind} named `{t}`", a.name),
                        ));
                    }
                }
            },
            Trigger::At(at) if at.resolve(start).0 >= end.ms() => errors.push((
                format!("spec.rules[{i}].when.at"),
                format!("`{at}` is not before the end of the run ({end} after the start): the rule would never fire"),
            )),
            _ => {}
        }
        if let Trigger::Nodes(f) = &r.when {
            if let Some(p) = &f.pool
                && !pools.contains(&p.as_str())
            {
                errors.push((
                    format!("spec.rules[{i}].when.nodes.pool"),
                    format!("the scenario has no node pool named `{p}`"),
                ));
            }
            if let Some(c) = &f.cluster
                && !clusters.contains(c)
            {
                errors.push((
                    format!("spec.rules[{i}].when.nodes.cluster"),
                    format!("the scenario has no cluster named `{c}`"),
                ));
            }
            if f.cpu_above.is_some_and(|x| !(x.is_finite() && x > 0.0)) {
                errors.push((
                    format!("spec.rules[{i}].when.nodes.cpuAbove"),
                    "expected a fraction above 0 (1.0 = 100 %)".into(),
                ));
            }
        }
        if r.actor == Actor::Automation && r.response_time != SimDuration::ZERO {
            errors.push((
                format!("spec.rules[{i}].responseTime"),
                "automation acts at once; a response time needs `actor: human`".into(),
            ));
        }
        if !r.response_time_at.is_empty() && r.actor != Actor::Human {
            errors.push((
                format!("spec.rules[{i}].responseTimeAt"),
                "automation acts at once; response times by hour need `actor: human`".into(),
            ));
        }
        match (r.actions.is_empty(), r.ladder.is_empty()) {
            (true, true) => errors
                .push((format!("spec.rules[{i}].do"), "a rule needs at least one action (`do`, or a `ladder`)".into())),
            (false, false) => errors.push((
                format!("spec.rules[{i}].ladder"),
                "give either `do` or a `ladder`, not both (put the first actions in the ladder's first step)".into(),
            )),
            _ => {}
        }
        if r.concurrency == Some(0) {
            errors.push((
                format!("spec.rules[{i}].concurrency"),
                "0 ladders at once would never act; use at least 1".into(),
            ));
        }
        if r.concurrency.is_some() && r.ladder.is_empty() {
            errors.push((
                format!("spec.rules[{i}].concurrency"),
                "only a `ladder` has steps to wait on; remove `concurrency` or write a ladder".into(),
            ));
        }
        if r.max_actions_per_hour == Some(0) {
            errors.push((
                format!("spec.rules[{i}].maxActionsPerHour"),
                "0 actions per hour would never act; use at least 1".into(),
            ));
        }
        let mut all: Vec<(String, &ActionSpec)> =
            r.actions.iter().enumerate().map(|(j, a)| (format!("spec.rules[{i}].do[{j}]"), a)).collect();
        for (k, step) in r.ladder.iter().enumerate() {
            if step.actions.is_empty() {
                errors.push((
                    format!("spec.rules[{i}].ladder[{k}].do"),
                    "a ladder step needs at least one action".into(),
                ));
            }
            if k + 1 < r.ladder.len() && step.wait == SimDuration::ZERO {
                errors.push((
                    format!("spec.rules[{i}].ladder[{k}].wait"),
                    "say how long to watch before the next step (a wait of 0 climbs the whole ladder at once)".into(),
                ));
            }
            all.extend(
                step.actions.iter().enumerate().map(|(j, a)| (format!("spec.rules[{i}].ladder[{k}].do[{j}]"), a)),
            );
        }
        for (at, a) in all {
            match a {
                ActionSpec::DeletePods(d) => {
                    if d.on_trigger_nodes && !matches!(r.when, Trigger::Nodes(_)) {
                        errors.push((
                            format!("{at}.deletePods.onTriggerNodes"),
                            "only a `nodes` trigger has nodes whose pods this could mean".into(),
                        ));
                    } else if d.filter().is_empty() && !d.on_trigger_nodes && !matches!(r.when, Trigger::Pods(_)) {
                        errors.push((
                            format!("{at}.deletePods"),
                            "say which pods (selector, status, messageContains, or onTriggerNodes with a `nodes` \
                             trigger): only a `pods` trigger supplies pods of its own"
                                .into(),
                        ));
                    }
                    if !d.selector.is_empty() && !pod_labels.iter().any(|l| selects(&d.selector, l)) {
                        errors.push((
                            format!("{at}.deletePods.selector"),
                            format!("no workload's pods have the labels {}", show_labels(&d.selector)),
                        ));
                    }
                }
                ActionSpec::Scale(s) if !workloads.contains(&s.workload.as_str()) => errors.push((
                    format!("{at}.scale.workload"),
                    format!("the scenario has no workload named `{}`", s.workload),
                )),
                ActionSpec::StartNodes(_)
                | ActionSpec::RebootNodes(_)
                | ActionSpec::RemoveNodes(_)
                | ActionSpec::DrainNodes(_)
                | ActionSpec::CordonNodes(_)
                | ActionSpec::UncordonNodes(_)
                | ActionSpec::RestartKubelet(_)
                | ActionSpec::RestartDocker(_)
                | ActionSpec::RestartRuntime(_)
                | ActionSpec::CleanDisk(_) => {
                    let key = a.key();
                    let runtime = scenario.spec.cluster.container_runtime();
                    let swarm = scenario.spec.cluster.clusters.iter().any(|c| c.kind == ClusterKind::Swarm);
                    match a {
                        ActionSpec::RestartDocker(_) if runtime == ContainerRuntime::Containerd && !swarm => errors
                            .push((
                                format!("{at}.{key}"),
                                "the nodes run containerd (Kubernetes 1.24 removed dockershim): write `restartRuntime`"
                                    .into(),
                            )),
                        ActionSpec::RestartRuntime(_) if runtime == ContainerRuntime::Docker => errors.push((
                            format!("{at}.{key}"),
                            "the nodes run docker (dockershim, before Kubernetes 1.24): write `restartDocker`".into(),
                        )),
                        _ => {}
                    }
                    let owned;
                    let t = match a {
                        ActionSpec::DrainNodes(d) => {
                            owned = d.target();
                            &owned
                        }
                        ActionSpec::RebootNodes(r) => {
                            owned = r.target();
                            &owned
                        }
                        ActionSpec::StartNodes(t)
                        | ActionSpec::RemoveNodes(t)
                        | ActionSpec::CordonNodes(t)
                        | ActionSpec::UncordonNodes(t)
                        | ActionSpec::RestartKubelet(t)
                        | ActionSpec::RestartDocker(t)
                        | ActionSpec::RestartRuntime(t)
                        | ActionSpec::CleanDisk(t) => t,
                        _ => unreachable!("matched above"),
                    };
                    for (k, n) in t.nodes.iter().enumerate() {
                        let known = n
                            .rsplit_once('-')
                            .is_some_and(|(pool, num)| num.parse::<u32>().is_ok() && pools.contains(&pool));
                        if !known {
                            errors.push((
                                format!("{at}.{key}.nodes[{k}]"),
                                format!("`{n}` is not a node name of any pool (`<pool>-<number>`)"),
                            ));
                        }
                    }
                    if let Some(sel) = &t.node_of
                        && !pod_labels.iter().any(|l| selects(sel, l))
                    {
                        errors.push((
                            format!("{at}.{key}.nodeOf"),
                            format!("no workload's pods have the labels {}", show_labels(sel)),
                        ));
                    }
                    match (&t.pool, &t.cluster) {
                        (None, None)
                            if t.nodes.is_empty() && t.node_of.is_none() && !matches!(r.when, Trigger::Nodes(_)) =>
                        {
                            errors.push((
                                format!("{at}.{key}"),
                                "say which nodes: `nodes`, a `pool`, a `cluster` or `nodeOf` (only a `nodes` \
                                 trigger supplies nodes of its own)"
                                    .into(),
                            ))
                        }
                        (Some(p), _) if !pools.contains(&p.as_str()) => errors
                            .push((format!("{at}.{key}.pool"), format!("the scenario has no node pool named `{p}`"))),
                        (_, Some(c)) if !clusters.contains(c) => errors
                            .push((format!("{at}.{key}.cluster"), format!("the scenario has no cluster named `{c}`"))),
                        _ => {}
                    }
                }
                ActionSpec::BuyNodes(b) if !pools.contains(&b.pool.as_str()) => errors
                    .push((format!("{at}.buyNodes.pool"), format!("the scenario has no node pool named `{}`", b.pool))),
                ActionSpec::ReimageNodes(r) => {
                    for (k, p) in [("from", &r.from), ("into", &r.into)] {
                        if !pools.contains(&p.as_str()) {
                            errors.push((
                                format!("{at}.reimageNodes.{k}"),
                                format!("the scenario has no node pool named `{p}`"),
                            ));
                        }
                    }
                }
                ActionSpec::PromoteNodes(p) if !pools.contains(&p.pool.as_str()) => errors.push((
                    format!("{at}.promoteNodes.pool"),
                    format!("the scenario has no node pool named `{}`", p.pool),
                )),
                ActionSpec::RejoinNodes(p) if !pools.contains(&p.pool.as_str()) => errors.push((
                    format!("{at}.rejoinNodes.pool"),
                    format!("the scenario has no node pool named `{}`", p.pool),
                )),
                ActionSpec::SwitchBackends(sw) => {
                    for (k, c) in [("from", &sw.from), ("to", &sw.to)] {
                        if !clusters.contains(c) {
                            errors.push((
                                format!("{at}.switchBackends.{k}"),
                                format!("the scenario has no cluster named `{c}`"),
                            ));
                        }
                    }
                }
                ActionSpec::Redeploy(t)
                | ActionSpec::RecreateApps(t)
                | ActionSpec::SetReschedule(SetReschedule { apps: t, .. }) => {
                    let key = a.key();
                    if t.workloads.is_empty() && t.cluster.is_none() {
                        errors.push((format!("{at}.{key}"), "say which apps: `workloads` or a `cluster`".into()));
                    }
                    for w in &t.workloads {
                        if !workloads.contains(&w.as_str()) {
                            errors.push((
                                format!("{at}.{key}.workloads"),
                                format!("the scenario has no workload named `{w}`"),
                            ));
                        }
                    }
                    if let Some(c) = &t.cluster
                        && !clusters.contains(c)
                    {
                        errors
                            .push((format!("{at}.{key}.cluster"), format!("the scenario has no cluster named `{c}`")));
                    }
                }
                ActionSpec::SetBackend(b) => {
                    match scenario.spec.cluster.load_balancers.iter().find(|l| l.name == b.load_balancer) {
                        None => errors.push((
                            format!("{at}.setBackend.loadBalancer"),
                            format!("the scenario has no load balancer named `{}`", b.load_balancer),
                        )),
                        Some(lb) if !lb.backends.iter().any(|x| x.service == b.service) => errors.push((
                            format!("{at}.setBackend.service"),
                            format!("`{}` is not a backend of `{}`", b.service, b.load_balancer),
                        )),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
    errors
}

/// A string that is one of `names`, as a schema.
fn name_schema(description: &str, names: &[&str]) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "description": description, "enum": names })
}

impl schemars::JsonSchema for ConditionName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NodeCondition".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        name_schema("A node condition, as kubectl shows it.", capsize_sim::policy::NODE_CONDITIONS)
    }
}

impl schemars::JsonSchema for NodeStatusName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NodeStatus".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        name_schema("A node status.", &["Ready", "NotReady", "Stopped"])
    }
}

impl schemars::JsonSchema for StatusName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PodStatus".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        name_schema("A pod STATUS as kubectl shows it.", PodStatus::NAMES)
    }
}
