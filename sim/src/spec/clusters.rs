//! Several clusters in one scenario, and the load balancer in front of them.

use serde::{Deserialize, Serialize};

use super::Range;
use crate::defaults;
use crate::time::SimDuration;

/// One cluster. Node pools, workloads and services name the cluster they belong to; names are
/// unique across the scenario, so actions and reports never need to qualify them.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterDef {
    /// Name pools, workloads and services refer to.
    pub name: String,
    /// Orchestrator.
    #[serde(default)]
    pub kind: ClusterKind,
    /// Classic swarm: how the manager ranks nodes for a new container.
    #[serde(default, skip_serializing_if = "is_default")]
    pub strategy: PlacementStrategy,
    /// Classic swarm: how the containers running at the start were placed (default: by
    /// `strategy`). A cluster whose apps were deployed one by one over days is spread even
    /// when new containers go by binpack: say so here, and why, in the assumptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_placement: Option<PlacementStrategy>,
    /// Behaviour of a hosted container service that differs from the open-source orchestrator
    /// (each a documented quirk, off unless the scenario says so).
    #[serde(default, skip_serializing_if = "is_default")]
    pub hosted: HostedQuirks,
    /// How long a node's agent keeps reporting while the node's CPU is over 100%; past it the
    /// agent stops and the node goes offline until it is rebooted. Never when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_stall_after: Option<SimDuration>,
    /// Swarm mode: how long a manager that joins takes before its Raft member is reachable (it
    /// counts toward the quorum's size at once, toward the votes only then).
    #[serde(default = "default_manager_join")]
    pub manager_join_time: Range,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn default_manager_join() -> Range {
    Range {
        min: SimDuration(defaults::SWARM_MANAGER_JOIN_MIN_MS),
        max: SimDuration(defaults::SWARM_MANAGER_JOIN_MAX_MS),
    }
}

impl ClusterDef {
    /// A cluster with every setting at its default.
    pub fn new(name: &str, kind: ClusterKind) -> ClusterDef {
        ClusterDef {
            name: name.to_string(),
            kind,
            strategy: PlacementStrategy::default(),
            initial_placement: None,
            hosted: HostedQuirks::default(),
            agent_stall_after: None,
            manager_join_time: default_manager_join(),
        }
    }
}

/// How a classic swarm manager ranks the nodes that pass its filters (`swarm manage --strategy`).
/// Both `spread` and `binpack` weigh a node by the share of its CPU and memory that reservations
/// would use with the new container (100 % for a resource the container reserves none of), then
/// break ties by container count, exited containers included.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PlacementStrategy {
    /// Lowest weight, then fewest containers (classic swarm's default).
    #[default]
    Spread,
    /// Highest weight, then most containers: fill the most packed node first.
    Binpack,
    /// Any node that passes the filters.
    Random,
    /// A capacity-aware rescheduler: the node with the most CPU left after the load it carries
    /// now (measured demand, not reservations).
    FreeCpu,
}

/// Documented behaviour of a hosted (managed) container service, each a switch.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct HostedQuirks {
    /// A redeploy after a node label or constraint change leaves running containers where they
    /// are, even on nodes the constraint no longer admits.
    pub ignore_constraint_changes: bool,
    /// Containers lost with a node that failed or was removed stay in the control plane's
    /// records: the console shows the app as healthy, a redeploy creates nothing, and only
    /// deleting and recreating the app brings its containers back.
    pub ghost_containers: bool,
    /// Service discovery keeps answering with the address of a removed container for this long;
    /// requests sent there fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_records_for: Option<SimDuration>,
    /// Removing a node whose agent does not report is refused (the console disables it); the
    /// node has to be rebooted first.
    pub refuse_removing_offline_nodes: bool,
}

/// Which orchestrator runs a cluster.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ClusterKind {
    /// Kubernetes: kube-scheduler, kubelets, probes, CrashLoopBackOff.
    #[default]
    Kubernetes,
    /// Docker swarm mode: Raft managers, swarm placement, restart delay.
    Swarm,
    /// Classic (standalone) Docker Swarm, as a hosted service ran it: a manager places
    /// containers by its strategy and filters, reschedules them on node failure only when asked.
    ClassicSwarm,
}

impl ClusterKind {
    /// Either flavour of Docker Swarm.
    pub fn is_swarm(self) -> bool {
        matches!(self, ClusterKind::Swarm | ClusterKind::ClassicSwarm)
    }
}

/// Whether a swarm node takes tasks (`docker node update --availability`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Availability {
    /// Takes new tasks.
    #[default]
    Active,
    /// Takes none, and its tasks are moved elsewhere (commonly set on managers).
    Drain,
}

/// What a node does in its cluster.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NodeRole {
    /// Runs workloads.
    #[default]
    Worker,
    /// Kubernetes control-plane node: tainted, runs no workloads here.
    ControlPlane,
    /// Swarm manager: a Raft member; also runs tasks, as swarm managers do by default.
    Manager,
}

/// Host-based routing: a fixed share of a load balancer's requests (those for one site or app)
/// goes to one target, whatever its health.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteSpec {
    /// A load balancer (one per app, with the app's backends in each cluster) or a service.
    pub to: String,
    /// Share of the requests, 0..=1 (or `"40%"`); the routes of a balancer add up to 1.
    #[serde(deserialize_with = "super::ratio::de")]
    #[schemars(with = "super::ratio::Ratio")]
    pub share: f64,
}

/// A load balancer in front of services in one or more clusters (an SLB or ALB with each
/// cluster's ingress as a backend). Users reach the site through it; it is scored as a service
/// of its own name. It health-checks each backend and sends traffic to the healthy ones in
/// proportion to the capacity it last saw them serve.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// Name traffic and reports use (e.g. `site`).
    pub name: String,
    /// Backends: services in the clusters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<BackendSpec>,
    /// Host-based routes to other balancers or services instead of backends (a site of many
    /// apps: each app's requests go to the app's own balancer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteSpec>,
    /// Health checks.
    #[serde(default)]
    pub health_check: HealthCheckSpec,
    /// Outage threshold for the site; defaults to `slo.outageBelow`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::ratio::de_opt")]
    #[schemars(with = "Option<super::ratio::Ratio>")]
    pub outage_below: Option<f64>,
}

/// One backend of a load balancer.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BackendSpec {
    /// The service.
    pub service: String,
    /// Whether it takes traffic (a backend with weight 0 is configured but idle).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A load balancer's health check of its backends.
#[derive(Copy, Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct HealthCheckSpec {
    /// Time between checks.
    pub interval: SimDuration,
    /// Consecutive passing checks before a backend is marked up.
    pub healthy_threshold: u32,
    /// Consecutive failing checks before a backend is marked down.
    pub unhealthy_threshold: u32,
}

impl Default for HealthCheckSpec {
    fn default() -> Self {
        HealthCheckSpec {
            interval: SimDuration(defaults::LB_HEALTH_CHECK_INTERVAL_MS),
            healthy_threshold: defaults::LB_HEALTHY_THRESHOLD,
            unhealthy_threshold: defaults::LB_UNHEALTHY_THRESHOLD,
        }
    }
}
