//! The scenario schema as plain Rust types.
//!
//! A scenario file is a Kubernetes-style envelope (`apiVersion`, `kind`, `metadata`, `spec`).
//! These types are what serde reads it into; unknown fields are refused everywhere
//! (`deny_unknown_fields`). Parsing the text (YAML) is not done here: the harness owns the one
//! module that does, so the engine never sees a file. Checks that need more than one field
//! (dangling references, limits) live in [`crate::validate`].

mod cloud;
mod clusters;
mod cron;
mod draw;
mod fault;
pub(crate) mod oneof;
mod placement;
mod quantity;
mod ratio;
mod schema;
mod target;
mod workload;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use cloud::{CloudSpec, InstanceTypeSpec, PoolAction, PoolSchedule, Pricing, Provider, Range, StockSpec};
pub use clusters::{
    Availability, BackendSpec, ClusterDef, ClusterKind, HealthCheckSpec, HostedQuirks, LoadBalancerSpec, NodeRole,
    PlacementStrategy, RouteSpec,
};
pub use cron::Cron;
pub use draw::{Drawn, Sample, TimeDraw};
pub use fault::{
    ConfigMapUpdate, ContainerCrash, FaultSpec, NodeFailure, NodeFault, NodeScope, OneNodeFault, PlegFault,
    StockChange, TimedNodeFault,
};
pub use placement::{
    NodeAffinity, NodeSelectorOperator, NodeSelectorRequirement, NodeSelectorTerm, PreferredTerm, Taint, TaintEffect,
    Toleration, TolerationOperator,
};
pub use quantity::{Cpu, Memory};
pub use target::{NodeTarget, Pick, TargetFields};
pub use workload::{
    CpuDemand, DisruptionBudget, MountSpec, ProbeSpec, Reschedule, Resources, RestartPolicy, StartTimeSpec,
    WorkloadKind, WorkloadSpec,
};

use crate::defaults;
use crate::time::{At, SimDuration, StartTime};

/// The only `apiVersion` this build reads.
pub const API_VERSION: &str = "capsize.dev/v1alpha1";

/// Labels on a workload, and the selectors that match them.
pub type Labels = BTreeMap<String, String>;

/// A scenario file.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scenario {
    /// Must be [`API_VERSION`]; lets the format evolve without silently misreading old files.
    pub api_version: String,
    /// Must be `Scenario`.
    pub kind: String,
    /// Name and provenance.
    pub metadata: Metadata,
    /// What to simulate.
    pub spec: ScenarioSpec,
}

/// Name and provenance of a scenario or policy.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// The name reports show.
    pub name: String,
    /// One paragraph for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where the facts come from (an incident document), so a reader can check them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Everything the run needs.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScenarioSpec {
    /// Seed of every random stream; the same seed gives byte-identical results.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Local civil time at which the run starts; clock times in the file are relative to it.
    pub start: StartTime,
    /// How much virtual time the run covers.
    pub duration: SimDuration,
    /// Policy files this scenario is compared under, relative to the scenario file.
    #[serde(default)]
    pub policies: Vec<String>,
    /// The cluster as it stands when the run starts.
    pub cluster: ClusterSpec,
    /// Offered load per service over time.
    #[serde(default)]
    pub traffic: Vec<TrafficSpec>,
    /// Alert rules: what monitoring sees and when it pages.
    #[serde(default)]
    pub monitoring: MonitoringSpec,
    /// Timed injections: the documented faults.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// What "available" means.
    #[serde(default)]
    pub slo: SloSpec,
    /// Every number the source document does not give, with the reason for the value chosen.
    #[serde(default)]
    pub assumptions: Vec<Assumption>,
}

fn default_seed() -> u64 {
    1
}

/// A value in the scenario that the source does not give.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Assumption {
    /// Where the value is, e.g. `cluster.workloads[blog-api].capacityRps` (list entries are picked
    /// by their `name`, or `service` for traffic, or by index). Validation checks it exists.
    pub path: String,
    /// Why this value: one line a reader can argue with.
    pub why: String,
}

/// The cluster's machines, workloads and services.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterSpec {
    /// `MAJOR.MINOR`; decides version-dependent behaviour such as the subPath restart failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<KubeVersion>,
    /// The Kubernetes nodes' container runtime. When omitted, the version's default: docker
    /// (through dockershim) before 1.24, containerd from 1.24 (and when no version is given).
    /// It decides which runtime fault and action exist: `dockerHung`/`restartDocker` or
    /// `runtimeHung`/`restartRuntime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_runtime: Option<ContainerRuntime>,
    /// Forces the subPath restart failure of kubernetes issue 68211 on or off, whatever the
    /// version says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subpath_restart_bug: Option<bool>,
    /// kubelet settings that differ from the defaults.
    #[serde(default)]
    pub kubelet: KubeletConfig,
    /// kube-scheduler settings that differ from the defaults.
    #[serde(default)]
    pub scheduler: SchedulerConfig,
    /// API server and controller-manager timing.
    #[serde(default)]
    pub control_plane: ControlPlaneConfig,
    /// The clusters of the scenario; one Kubernetes cluster named `default` when omitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<ClusterDef>,
    /// The cloud provider the machines come from, if they are cloud instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudSpec>,
    /// Groups of identical nodes.
    pub nodes: Vec<NodePoolSpec>,
    /// ConfigMaps that workloads mount.
    #[serde(default)]
    pub config_maps: Vec<ConfigMapSpec>,
    /// Deployments.
    #[serde(default)]
    pub workloads: Vec<WorkloadSpec>,
    /// Services in front of the workloads.
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    /// Load balancers in front of services, possibly in several clusters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancers: Vec<LoadBalancerSpec>,
}

/// The cluster every pool, workload and service belongs to when a scenario names none.
pub const DEFAULT_CLUSTER: &str = "default";

impl ClusterSpec {
    /// The clusters, with the implicit `default` Kubernetes cluster when none are listed.
    pub fn cluster_defs(&self) -> Vec<ClusterDef> {
        if self.clusters.is_empty() {
            vec![ClusterDef::new(DEFAULT_CLUSTER, ClusterKind::Kubernetes)]
        } else {
            self.clusters.clone()
        }
    }

    /// The cluster a pool, workload or service belongs to: the one it names, else the first.
    pub fn cluster_of<'a>(&'a self, named: Option<&'a str>) -> &'a str {
        named.unwrap_or_else(|| self.clusters.first().map_or(DEFAULT_CLUSTER, |c| c.name.as_str()))
    }

    /// The cluster of a service: the one it names, else that of the first workload it selects,
    /// else the first cluster.
    pub fn service_cluster<'a>(&'a self, s: &'a ServiceSpec) -> &'a str {
        if let Some(c) = &s.cluster {
            return c;
        }
        let first = self.workloads.iter().find(|w| w.selected_by(&s.selector));
        self.cluster_of(first.and_then(|w| w.cluster.as_deref()))
    }

    /// The Kubernetes nodes' container runtime: as set, else the version's default.
    pub fn container_runtime(&self) -> ContainerRuntime {
        match (self.container_runtime, self.kubernetes_version) {
            (Some(r), _) => r,
            (None, Some(v)) if (v.major, v.minor) < defaults::DOCKERSHIM_REMOVED_IN => ContainerRuntime::Docker,
            (None, _) => ContainerRuntime::Containerd,
        }
    }

    /// Whether a container restart in a pod whose subPath ConfigMap changed fails (k8s 68211).
    pub fn subpath_bug_active(&self) -> bool {
        match (self.subpath_restart_bug, self.kubernetes_version) {
            (Some(forced), _) => forced,
            (None, Some(v)) => (v.major, v.minor) < defaults::SUBPATH_RESTART_FIX,
            (None, None) => false,
        }
    }
}

/// What runs the containers of a Kubernetes node.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ContainerRuntime {
    /// Docker, driven by the kubelet's dockershim (Kubernetes before 1.24).
    Docker,
    /// containerd through the CRI (the default from Kubernetes 1.24).
    Containerd,
}

/// A Kubernetes version, `1.18` or `v1.18.3` (the patch is ignored).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct KubeVersion {
    /// Always 1 in practice.
    pub major: u32,
    /// The minor release the behaviour depends on.
    pub minor: u32,
}

impl<'de> Deserialize<'de> for KubeVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let t = s.trim().trim_start_matches('v');
        let mut it = t.split('.');
        let parse = |p: Option<&str>| p.and_then(|x| x.parse::<u32>().ok());
        match (parse(it.next()), parse(it.next())) {
            (Some(major), Some(minor)) => Ok(KubeVersion { major, minor }),
            _ => Err(serde::de::Error::custom(format!("expected a Kubernetes version like \"1.18\", found `{s}`"))),
        }
    }
}

impl Serialize for KubeVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}.{}", self.major, self.minor))
    }
}

/// kubelet settings. Every default is the real kubelet's (see [`crate::defaults`]).
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct KubeletConfig {
    /// First delay of CrashLoopBackOff (after the immediate first restart).
    pub backoff_initial: SimDuration,
    /// Cap of CrashLoopBackOff.
    pub backoff_max: SimDuration,
    /// A container that ran this long starts over at the initial delay.
    pub backoff_reset: SimDuration,
    /// How soon a changed ConfigMap reaches the pods' volumes.
    pub sync_frequency: SimDuration,
}

impl Default for KubeletConfig {
    fn default() -> Self {
        KubeletConfig {
            backoff_initial: SimDuration(defaults::CRASHLOOP_BACKOFF_INITIAL_MS),
            backoff_max: SimDuration(defaults::CRASHLOOP_BACKOFF_MAX_MS),
            backoff_reset: SimDuration(defaults::CRASHLOOP_BACKOFF_RESET_MS),
            sync_frequency: SimDuration(defaults::KUBELET_SYNC_FREQUENCY_MS),
        }
    }
}

/// API server and controller-manager timing.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ControlPlaneConfig {
    /// How long an action (`kubectl delete`, a scale) takes to take effect once issued.
    pub api_latency: SimDuration,
    /// PodGC's pass period.
    pub pod_gc_period: SimDuration,
    /// PodGC's wait before deleting the pods of a vanished node.
    pub pod_gc_quarantine: SimDuration,
    /// `node-monitor-grace-period`: a node without a heartbeat this long is `Unknown`. Omitted:
    /// the default of `kubernetesVersion` (40 s up to 1.31, 50 s from 1.32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_monitor_grace_period: Option<SimDuration>,
    /// `tolerationSeconds` of the default not-ready/unreachable tolerations: how long pods stay
    /// on a node that is not Ready before they are evicted.
    pub not_ready_toleration: SimDuration,
}

impl ClusterSpec {
    /// The grace period the node lifecycle controller gives a silent node.
    pub fn node_monitor_grace(&self) -> SimDuration {
        if let Some(g) = self.control_plane.node_monitor_grace_period {
            return g;
        }
        let (maj, min) = defaults::NODE_MONITOR_GRACE_CHANGED_IN;
        match self.kubernetes_version {
            Some(v) if (v.major, v.minor) < (maj, min) => SimDuration(defaults::NODE_MONITOR_GRACE_MS_OLD),
            _ => SimDuration(defaults::NODE_MONITOR_GRACE_MS),
        }
    }
}

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        ControlPlaneConfig {
            api_latency: SimDuration(defaults::API_CALL_LATENCY_MS),
            pod_gc_period: SimDuration(defaults::POD_GC_PERIOD_MS),
            pod_gc_quarantine: SimDuration(defaults::POD_GC_QUARANTINE_MS),
            node_monitor_grace_period: None,
            not_ready_toleration: SimDuration(defaults::NOT_READY_TOLERATION_MS),
        }
    }
}

/// kube-scheduler settings.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct SchedulerConfig {
    /// `percentageOfNodesToScore`; 0 means the adaptive default.
    pub percentage_of_nodes_to_score: u32,
    /// Whether the cluster-level default topology spread constraints apply.
    pub default_spread: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig { percentage_of_nodes_to_score: 0, default_spread: true }
    }
}

/// A group of identical nodes named `<pool>-1` ... `<pool>-<count>`.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePoolSpec {
    /// Name prefix of the nodes.
    pub pool: String,
    /// The cluster the nodes belong to; the first cluster when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// What the nodes do there.
    #[serde(default)]
    pub role: NodeRole,
    /// Swarm: whether the nodes take tasks (`drain` keeps a manager free of them).
    #[serde(default, skip_serializing_if = "is_active")]
    pub availability: Availability,
    /// How many nodes.
    pub count: u32,
    /// Whether the machines are running when the run starts, or stopped (their nodes are
    /// members of the cluster but down until started).
    #[serde(default)]
    pub state: PoolState,
    /// The cloud instance type (from `cloud.instanceTypes`); gives CPU, memory and price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// On demand or spot.
    #[serde(default)]
    pub pricing: Pricing,
    /// Allocatable CPU per node (the instance type's when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Allocatable memory per node (the instance type's when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Scheduled start/stop of the pool's instances (cron jobs calling the provider's API).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule: Vec<PoolSchedule>,
    /// `topology.kubernetes.io/zone`.
    #[serde(default = "default_zone")]
    pub zone: String,
    /// kubelet `maxPods`.
    #[serde(default = "default_max_pods")]
    pub max_pods: u32,
    /// Extra node labels.
    #[serde(default)]
    pub labels: Labels,
    /// Docker's `live-restore` setting on these nodes: running containers survive a restart of
    /// the daemon. Off by default, as in Docker (docs.docker.com, engine/daemon/live-restore).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live_restore: bool,
    /// Taints on its nodes: pods without a matching toleration are not scheduled there
    /// (`NoSchedule`, `NoExecute`) or only when nothing better fits (`PreferNoSchedule`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
}

/// Whether a pool's machines run at the start.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PoolState {
    /// Running and in the cluster.
    #[default]
    Running,
    /// Stopped (not billed, not serving) until started.
    Stopped,
}

impl NodePoolSpec {
    /// Allocatable CPU and memory of one node: the explicit values, else the instance type's.
    pub fn size(&self, cloud: Option<&CloudSpec>) -> (Cpu, Memory) {
        let ty = self
            .instance_type
            .as_ref()
            .and_then(|t| cloud.and_then(|c| c.instance_types.iter().find(|x| &x.name == t)));
        (self.cpu.or(ty.map(|t| t.cpu)).unwrap_or_default(), self.memory.or(ty.map(|t| t.memory)).unwrap_or_default())
    }
}

fn is_active(a: &Availability) -> bool {
    *a == Availability::Active
}

fn default_zone() -> String {
    "zone-a".into()
}

fn default_max_pods() -> u32 {
    defaults::MAX_PODS_PER_NODE
}

/// A ConfigMap; its content is not modelled, only its version (each update adds one).
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigMapSpec {
    /// Name workloads refer to.
    pub name: String,
}

/// A Service: endpoints are the Ready pods its selector matches in its cluster.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Name probes, calls and traffic refer to.
    pub name: String,
    /// The cluster; by default that of the first workload the selector matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Pod labels it selects (all must match).
    pub selector: Labels,
    /// Services a share of this service's requests need.
    #[serde(default)]
    pub calls: Vec<CallSpec>,
    /// Outage threshold for this service; defaults to `slo.outageBelow`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "ratio::de_opt")]
    #[schemars(with = "Option<ratio::Ratio>")]
    pub outage_below: Option<f64>,
    /// What this service's callers do with a request that waits too long: give up and try
    /// again, which adds load exactly when the service is behind. Omitted: no retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<RetrySpec>,
}

/// Client retries against a service, with an optional retry budget.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetrySpec {
    /// The clients' timeout, seconds: a request that waits longer in a pod's queue is given up.
    pub timeout_seconds: f64,
    /// Retries of one request at most.
    pub attempts: u32,
    /// Retries as a share of requests at most (a retry budget, as Finagle's and gRPC's
    /// retry throttling keep); omitted: no budget, every attempt is made.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "ratio::de_opt")]
    #[schemars(with = "Option<ratio::Ratio>")]
    pub budget: Option<f64>,
}

/// A request dependency: `share` of the caller's requests need `service` and fail when it fails.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CallSpec {
    /// The called service.
    pub service: String,
    /// Fraction of the caller's requests that need it, 0..=1.
    #[serde(deserialize_with = "ratio::de")]
    #[schemars(with = "ratio::Ratio")]
    pub share: f64,
}

/// Offered requests per second over time for one service: a piecewise-linear curve through the
/// points, flat before the first and after the last.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrafficSpec {
    /// The service users call.
    pub service: String,
    /// `[time, rps]` points in time order, e.g. `[["00:00", 200], ["04:00", 60]]`.
    pub rps: Vec<(At, f64)>,
    /// Every point multiplied by this (`1` when omitted); `{min: 0.8, max: 1.2}` is drawn per
    /// seed, for sweeps over the load.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub scale: Drawn<f64>,
}

fn one() -> Drawn<f64> {
    Drawn::Fixed(1.0)
}

fn is_one(d: &Drawn<f64>) -> bool {
    *d == Drawn::Fixed(1.0)
}

impl Scenario {
    /// Whether any value is a distribution (a fault's time, count or duration, a curve's scale).
    pub fn has_draws(&self) -> bool {
        self.spec.faults.iter().any(FaultSpec::has_draws) || self.spec.traffic.iter().any(|t| t.scale.is_drawn())
    }

    /// The scenario with every distribution drawn from `seed`: what a run with that seed runs.
    /// Each fault draws from a stream keyed by its own content (see [`crate::rng::fault_keys`])
    /// and each curve from one keyed by its service, so adding, removing or changing one fault
    /// leaves the others' draws alone. A scenario without distributions comes back unchanged.
    pub fn realize(&self, seed: u64) -> Scenario {
        let mut s = self.clone();
        if !self.has_draws() {
            return s;
        }
        let keys = crate::rng::fault_keys(&self.spec.faults);
        let start = self.spec.start.clone();
        for (f, key) in s.spec.faults.iter_mut().zip(keys) {
            if f.has_draws() {
                f.realize(&start, &mut crate::rng::keyed_stream(seed, crate::rng::DRAWS ^ key));
            }
        }
        for t in &mut s.spec.traffic {
            if t.scale.is_drawn() {
                let key = crate::rng::text_key(&t.service);
                t.scale = Drawn::Fixed(t.scale.draw(&mut crate::rng::keyed_stream(seed, crate::rng::DRAWS ^ key)));
            }
        }
        s
    }
}

/// Alert rules, evaluated the way Prometheus evaluates them.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct MonitoringSpec {
    /// How often services are scraped: rules see each service as of the last scrape.
    pub scrape_interval: SimDuration,
    /// How often rules are evaluated.
    pub evaluation_interval: SimDuration,
    /// The rules.
    pub alerts: Vec<AlertRuleSpec>,
}

impl Default for MonitoringSpec {
    fn default() -> Self {
        MonitoringSpec {
            scrape_interval: SimDuration(defaults::SCRAPE_INTERVAL_MS),
            evaluation_interval: SimDuration(defaults::ALERT_EVALUATION_INTERVAL_MS),
            alerts: Vec::new(),
        }
    }
}

/// One alert rule; it fires once its condition has held for `for`.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AlertRuleSpec {
    /// Alert name policies refer to.
    pub name: String,
    /// What it watches.
    pub condition: AlertCondition,
    /// How long the condition must hold before the alert fires.
    #[serde(rename = "for", default)]
    pub for_: SimDuration,
}

/// What an alert rule watches; one alert instance per service or workload.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AlertCondition {
    /// A service serves less than its outage threshold of offered requests.
    ServiceDown,
    /// A pod of a workload is in CrashLoopBackOff.
    PodCrashLooping,
}

/// What "available" means.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct SloSpec {
    /// A service is in an outage while it serves less than this share of offered requests.
    #[serde(deserialize_with = "ratio::de")]
    #[schemars(with = "ratio::Ratio")]
    pub outage_below: f64,
    /// An outage ends only once the service has stayed above its threshold this long; shorter
    /// recoveries (flapping) are part of the outage. Zero counts every recovery.
    pub min_recovery: SimDuration,
}

impl Default for SloSpec {
    fn default() -> Self {
        SloSpec { outage_below: defaults::OUTAGE_BELOW, min_recovery: SimDuration::ZERO }
    }
}
