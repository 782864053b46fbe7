//! Several clusters in one scenario, and the load balancer in front of them.

use serde::{Deserialize, Serialize};

use crate::defaults;
use crate::time::SimDuration;

/// One cluster. Node pools, workloads and services name the cluster they belong to; names are
/// unique across the scenario, so actions and reports never need to qualify them.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterDef {
    /// Name pools, workloads and services refer to.
    pub name: String,
    /// Orchestrator.
    #[serde(default)]
    pub kind: ClusterKind,
}

/// Which orchestrator runs a cluster.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ClusterKind {
    /// Kubernetes: kube-scheduler, kubelets, probes, CrashLoopBackOff.
    #[default]
    Kubernetes,
    /// Docker swarm mode: Raft managers, swarm placement, restart delay.
    Swarm,
}

/// What a node does in its cluster.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
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

/// A load balancer in front of services in one or more clusters (an SLB or ALB with each
/// cluster's ingress as a backend). Users reach the site through it; it is scored as a service
/// of its own name. It health-checks each backend and sends traffic to the healthy ones in
/// proportion to the capacity it last saw them serve.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// Name traffic and reports use (e.g. `site`).
    pub name: String,
    /// Backends: services in the clusters.
    pub backends: Vec<BackendSpec>,
    /// Health checks.
    #[serde(default)]
    pub health_check: HealthCheckSpec,
    /// Outage threshold for the site; defaults to `slo.outageBelow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage_below: Option<f64>,
}

/// One backend of a load balancer.
#[derive(Clone, Debug, Deserialize, Serialize)]
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
#[derive(Copy, Clone, Debug, Deserialize, Serialize)]
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
