//! Workloads: Deployments, their containers' resources, mounts and probes.

use serde::{Deserialize, Serialize};

use super::{Cpu, Labels, Memory};
use crate::defaults;
use crate::time::SimDuration;

/// A workload: a Deployment, or bare Pods (one container per pod).
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadSpec {
    /// Name; pods are named `<name>-<hash>-<suffix>`.
    pub name: String,
    /// `Deployment` (the default), `Pod`, `DaemonSet`, or `SwarmService` in a swarm cluster.
    #[serde(default)]
    pub kind: WorkloadKind,
    /// The cluster it runs in; the first cluster when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Desired pod count (for `Pod`: how many bare pods; a DaemonSet has one per node and takes
    /// none). 1 when omitted, as in Kubernetes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Pod labels; `{app: <name>}` when omitted.
    #[serde(default)]
    pub labels: Labels,
    /// Only nodes whose pool has these labels.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub node_selector: Labels,
    /// Resource requests the scheduler places by.
    pub requests: Resources,
    /// Requests per second one Ready pod serves.
    pub capacity_rps: f64,
    /// CPU the container burns: a base plus a cost per request it serves. Its node's CPU is the
    /// sum over its containers; past 100 % the node serves slowly (see `controllers/cpu.rs`).
    /// Not modelled when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_demand: Option<CpuDemand>,
    /// Classic swarm: `reschedule:on-node-failure` (off by default, as in classic swarm).
    #[serde(default, skip_serializing_if = "is_no")]
    pub reschedule: Reschedule,
    /// At most one container of this workload per node (classic swarm
    /// `affinity:container!=<app>*`; Kubernetes required pod anti-affinity on the hostname).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anti_affinity: bool,
    /// How long a container takes to start; drawn uniformly per start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<StartTimeSpec>,
    /// `Always`, `OnFailure` or `Never` (Deployments allow only `Always`). Containers in this
    /// model stop only by failing (crash, kill, failed start), so `OnFailure` restarts them as
    /// `Always` does.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// How long the kubelet waits after SIGTERM before SIGKILL.
    #[serde(default = "default_grace")]
    pub termination_grace_period_seconds: u32,
    /// How long the app takes to exit after SIGTERM (capped by the grace period).
    #[serde(default)]
    pub shutdown_time: SimDuration,
    /// Volume mounts of ConfigMaps.
    #[serde(default)]
    pub mounts: Vec<MountSpec>,
    /// Startup probe: the others are off until it succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<ProbeSpec>,
    /// Liveness probe: failing it restarts the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<ProbeSpec>,
    /// Readiness probe: failing it takes the pod out of its Services' endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<ProbeSpec>,
    /// Names the app resolves through cluster DNS when it starts and exits without: while DNS
    /// is broken on its node, every start fails and the pod crash-loops.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolves_at_start: Vec<String>,
    /// A PodDisruptionBudget over this workload's pods: evictions (a drain) that would leave
    /// fewer healthy pods than it allows are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruption_budget: Option<DisruptionBudget>,
    /// A container that has just started serves less than `capacityRps` (JIT compilation,
    /// cold caches, connection pools) and reaches it over `duration`. Without it a container
    /// serves its full capacity at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<WarmupSpec>,
    /// A ReadWriteOnce persistent volume per pod (a StatefulSet's `volumeClaimTemplates`, or
    /// the one claim of a single-replica Deployment): it attaches to one node at a time, so a
    /// replacement elsewhere starts only once it has detached from the old node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume: Option<PersistentVolumeSpec>,
    /// Tolerations of node taints (a pool's `taints`, and the node lifecycle controller's
    /// `node.kubernetes.io/not-ready` and `unreachable`, whose `tolerationSeconds` then replace
    /// the default 300 s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<super::Toleration>,
    /// Node affinity, hard (`required`) and soft (`preferred`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<super::NodeAffinity>,
}

/// A pod's ReadWriteOnce volume.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PersistentVolumeSpec {
    /// How long attaching it to a node takes (the cloud's attach call and the kubelet's mount);
    /// omitted: `VOLUME_ATTACH_MS`, an assumption (Kubernetes gives no number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_time: Option<SimDuration>,
}

/// How a container's serving capacity ramps up after it starts.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WarmupSpec {
    /// How long after the start it serves its full capacity.
    pub duration: SimDuration,
    /// The share of its capacity it serves as it starts, above 0 and at most 1 (there is no
    /// default: it is the scenario's assumption to state); `"25%"` or `0.25`.
    #[serde(deserialize_with = "super::ratio::de")]
    #[schemars(with = "super::ratio::Ratio")]
    pub from: f64,
}

fn is_no(r: &Reschedule) -> bool {
    *r == Reschedule::No
}

/// CPU a container uses as a function of its traffic.
#[derive(Copy, Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CpuDemand {
    /// Used with no traffic.
    #[serde(default)]
    pub base: Cpu,
    /// Used per request per second it serves.
    pub per_rps: Cpu,
}

/// Classic swarm's rescheduling policy for a container.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Reschedule {
    /// A container on a failed node is lost to the cluster (it restarts if the node returns).
    #[default]
    No,
    /// `reschedule:on-node-failure`: the manager recreates it on another node.
    OnNodeFailure,
}

fn default_grace() -> u32 {
    defaults::TERMINATION_GRACE_PERIOD_SECONDS
}

impl WorkloadSpec {
    /// The labels pods get: the explicit ones, or `app: <name>`.
    pub fn pod_labels(&self) -> Labels {
        if self.labels.is_empty() {
            Labels::from([("app".to_string(), self.name.clone())])
        } else {
            self.labels.clone()
        }
    }

    /// Whether `selector` selects this workload's pods: `selects(selector, &self.pod_labels())`
    /// without building the labels (services are matched against every workload).
    pub fn selected_by(&self, selector: &Labels) -> bool {
        !selector.is_empty()
            && selector.iter().all(|(k, v)| {
                if self.labels.is_empty() { k == "app" && *v == self.name } else { self.labels.get(k) == Some(v) }
            })
    }

    /// Desired replicas (1 when not given; a DaemonSet's count comes from its nodes).
    pub fn replica_count(&self) -> u32 {
        self.replicas.unwrap_or(1)
    }

    /// The container start latency range in ms.
    pub fn start_range_ms(&self) -> (u64, u64) {
        match &self.start_time {
            Some(s) => (s.min.ms(), s.max.ms()),
            None => (defaults::CONTAINER_START_MIN_MS, defaults::POD_STARTUP_SLO_P99_MS),
        }
    }
}

/// Kinds of workload.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
pub enum WorkloadKind {
    /// A Deployment: its ReplicaSet keeps `replicas` pods, replacing deleted ones.
    #[default]
    Deployment,
    /// Bare pods: nothing replaces them, and any restartPolicy is allowed.
    Pod,
    /// One pod on every schedulable node of its cluster, placed as nodes join; never evicted.
    DaemonSet,
    /// A StatefulSet (`OrderedReady`): pods `<name>-0` to `<name>-<n-1>`, each name created
    /// again only once its old pod is gone from the API, and pod `k` only once pods `0..k`
    /// are Running and Ready.
    StatefulSet,
    /// A replicated swarm service: in swarm mode, tasks placed by swarmkit's rule and restarted
    /// after its delay by the leader; in classic swarm, an app's containers placed by the
    /// manager's strategy and filters and restarted by their engine (`restart: always`).
    SwarmService,
}

/// Resource requests.
#[derive(Copy, Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Resources {
    /// CPU request.
    pub cpu: Cpu,
    /// Memory request.
    pub memory: Memory,
}

/// A range for the container start latency.
#[derive(Copy, Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StartTimeSpec {
    /// Shortest start.
    pub min: SimDuration,
    /// Longest start.
    pub max: SimDuration,
}

/// Pod `restartPolicy`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
pub enum RestartPolicy {
    /// Restart whatever the exit.
    #[default]
    Always,
    /// Restart after a failed exit only.
    OnFailure,
    /// Never restart.
    Never,
}

/// A ConfigMap mounted into the container.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MountSpec {
    /// Volume name (used in error messages, as the kubelet does).
    pub name: String,
    /// The ConfigMap.
    pub config_map: String,
    /// Mount one key as a file with `subPath`; such a mount never sees updates, and with
    /// kubernetes issue 68211 a container restart after an update fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
    /// Mount through a projected volume (the usual fix); with no `subPath` the file follows
    /// updates.
    #[serde(default)]
    pub projected: bool,
    /// Where the file or directory appears in the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
}

/// A probe with the five Kubernetes settings. `calls` lists services the check's handler
/// calls (an HTTP health endpoint that requests another service): the check fails while any of
/// them has no serving endpoint.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProbeSpec {
    /// Descriptive only: what the check requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGet>,
    /// Services the check's handler depends on.
    #[serde(default)]
    pub calls: Vec<String>,
    /// Seconds after the container starts before the first probe counts.
    #[serde(default = "d_initial")]
    pub initial_delay_seconds: u32,
    /// Seconds between probes.
    #[serde(default = "d_period")]
    pub period_seconds: u32,
    /// Seconds before a probe attempt counts as failed. A check waits behind the pod's queue of
    /// requests, so it times out once the pod is loaded close to its capacity (see
    /// `controllers/saturation.rs`); a dependency that is down fails it at once.
    #[serde(default = "d_timeout")]
    pub timeout_seconds: u32,
    /// Consecutive successes to count as passing.
    #[serde(default = "d_success")]
    pub success_threshold: u32,
    /// Consecutive failures to count as failing.
    #[serde(default = "d_failure")]
    pub failure_threshold: u32,
}

/// The request an HTTP probe makes.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpGet {
    /// URL path.
    pub path: String,
    /// Port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
}

fn d_initial() -> u32 {
    defaults::PROBE_INITIAL_DELAY_SECONDS
}
fn d_period() -> u32 {
    defaults::PROBE_PERIOD_SECONDS
}
fn d_timeout() -> u32 {
    defaults::PROBE_TIMEOUT_SECONDS
}
fn d_success() -> u32 {
    defaults::PROBE_SUCCESS_THRESHOLD
}
fn d_failure() -> u32 {
    defaults::PROBE_FAILURE_THRESHOLD
}

impl Default for ProbeSpec {
    fn default() -> Self {
        ProbeSpec {
            http_get: None,
            calls: Vec::new(),
            initial_delay_seconds: d_initial(),
            period_seconds: d_period(),
            timeout_seconds: d_timeout(),
            success_threshold: d_success(),
            failure_threshold: d_failure(),
        }
    }
}

/// A PodDisruptionBudget: exactly one of the two fields.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DisruptionBudget {
    /// At least this many pods must stay healthy (Ready).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<u32>,
    /// At most this many of the desired pods may be unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<u32>,
}

impl DisruptionBudget {
    /// How many healthy pods the budget requires out of `desired`.
    pub fn desired_healthy(&self, desired: u32) -> u32 {
        match (self.min_available, self.max_unavailable) {
            (Some(m), _) => m,
            (None, Some(u)) => desired.saturating_sub(u),
            (None, None) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(labels: &[(&str, &str)]) -> WorkloadSpec {
        let labels: serde_json::Map<String, serde_json::Value> =
            labels.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect();
        serde_json::from_value(serde_json::json!({
            "name": "web", "requests": {"cpu": "100m", "memory": "64Mi"}, "capacityRps": 1, "labels": labels
        }))
        .expect("a workload")
    }

    #[test]
    fn selected_by_is_selects_on_the_pod_labels() {
        let selectors: [&[(&str, &str)]; 6] = [
            &[],
            &[("app", "web")],
            &[("app", "api")],
            &[("tier", "front")],
            &[("app", "web"), ("tier", "front")],
            &[("x", "1")],
        ];
        for labels in [&[][..], &[("tier", "front"), ("app", "web")][..], &[("tier", "front")][..]] {
            let w = workload(labels);
            for sel in selectors {
                let sel: Labels = sel.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                assert_eq!(w.selected_by(&sel), crate::validate::selects(&sel, &w.pod_labels()), "{labels:?} {sel:?}");
            }
        }
    }
}
