//! Checks a scenario beyond what its types enforce: references between parts, impossible values
//! and sizes past the documented limits. It runs before anything is allocated for the run, so
//! an absurd file is refused without building it.
//!
//! Each error carries the path of the offending value (`spec.cluster.workloads[2].replicas`) so
//! the loader can point at its line and column.

use std::collections::{BTreeMap, BTreeSet};

use crate::defaults;
use crate::spec::{
    API_VERSION, ClusterKind, ContainerRuntime, Drawn, FaultSpec, NodeRole, ProbeSpec, RestartPolicy, Scenario,
    ServiceSpec, TimeDraw, WorkloadKind,
};
use crate::time::{DAY, SimDuration};

/// Longest run accepted: 31 days of virtual time.
pub const LIMIT_DURATION: SimDuration = SimDuration(31 * DAY);
/// Most faults accepted in one scenario.
pub const LIMIT_FAULTS: usize = 100_000;
/// Most workloads or services accepted in one scenario.
pub const LIMIT_WORKLOADS: usize = 10_000;
/// Most points in one traffic curve.
pub const LIMIT_TRAFFIC_POINTS: usize = 100_000;
/// Longest probe period or delay accepted, in seconds (one hour: anything longer is a typo).
pub const LIMIT_PROBE_SECONDS: u32 = 3_600;
/// Most alert rules accepted.
pub const LIMIT_ALERT_RULES: usize = 100;
/// Largest CPU accepted on a node or in a request: a million cores, in millicores.
pub const LIMIT_CPU_MILLI: u64 = 1_000_000_000;
/// Largest memory accepted on a node or in a request: 1 PiB.
pub const LIMIT_MEMORY_BYTES: u64 = 1 << 50;
/// Largest `maxPods` accepted on a node.
pub const LIMIT_MAX_PODS: u32 = 1_000;

/// One step of a path into the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSeg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A value the scenario cannot have, and where it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", display_path(path))]
pub struct SpecError {
    /// From the document root, e.g. `spec`, `cluster`, `workloads`, 2, `replicas`.
    pub path: Vec<PathSeg>,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Renders a path as `spec.cluster.workloads[2].replicas`.
pub fn display_path(path: &[PathSeg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            PathSeg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Builds paths while walking the spec.
struct Ctx {
    errors: Vec<SpecError>,
}

/// Shorthand for a path.
macro_rules! path {
    ($($seg:expr),* $(,)?) => { vec![$(PathSeg::from($seg)),*] };
}

impl From<&str> for PathSeg {
    fn from(s: &str) -> Self {
        PathSeg::Key(s.to_string())
    }
}
impl From<usize> for PathSeg {
    fn from(i: usize) -> Self {
        PathSeg::Index(i)
    }
}

impl Ctx {
    fn err(&mut self, path: Vec<PathSeg>, message: impl Into<String>) {
        self.errors.push(SpecError { path, message: message.into() });
    }
}

/// Checks `s`; returns every problem found, in document order.
pub fn validate(s: &Scenario) -> Result<(), Vec<SpecError>> {
    let mut c = Ctx { errors: Vec::new() };
    if s.api_version != API_VERSION {
        c.err(path!["apiVersion"], format!("expected `{API_VERSION}`, found `{}`", s.api_version));
    }
    if s.kind != "Scenario" {
        c.err(path!["kind"], format!("expected `Scenario`, found `{}`", s.kind));
    }
    if s.metadata.name.trim().is_empty() {
        c.err(path!["metadata", "name"], "a scenario needs a name");
    }
    let spec = &s.spec;
    if spec.duration == SimDuration::ZERO {
        c.err(path!["spec", "duration"], "the run must last longer than 0s");
    }
    if spec.duration > LIMIT_DURATION {
        c.err(path!["spec", "duration"], format!("{} is longer than the limit of {LIMIT_DURATION}", spec.duration));
    }
    check_slo(&mut c, spec.slo.outage_below, path!["spec", "slo", "outageBelow"]);
    if spec.slo.min_recovery > SimDuration::hours(24) {
        c.err(path!["spec", "slo", "minRecovery"], "longer than a day is not plausible");
    }
    check_timing(&mut c, s);

    let cl = &spec.cluster;
    // Clusters.
    let defs = cl.cluster_defs();
    let mut cluster_names: BTreeMap<&str, ClusterKind> = BTreeMap::new();
    for (i, d) in cl.clusters.iter().enumerate() {
        if !is_dns_label(&d.name) {
            c.err(path!["spec", "cluster", "clusters", i, "name"], format!("`{}` is not a valid name", d.name));
        }
        if cluster_names.insert(d.name.as_str(), d.kind).is_some() {
            c.err(path!["spec", "cluster", "clusters", i, "name"], format!("cluster `{}` is defined twice", d.name));
        }
    }
    for (i, d) in cl.clusters.iter().enumerate() {
        let at = |k: &str| path!["spec", "cluster", "clusters", i, k];
        if let Some(t) = d.agent_stall_after
            && (t < SimDuration::secs(1) || t > SimDuration::hours(24))
        {
            c.err(at("agentStallAfter"), format!("{t} is outside 1s to 24h"));
        }
        let j = &d.manager_join_time;
        if j.min > j.max || j.max > SimDuration::hours(1) {
            c.err(at("managerJoinTime"), "expected min <= max <= 1h");
        }
        if d.kind != ClusterKind::ClassicSwarm
            && (d.strategy != crate::spec::PlacementStrategy::Spread || d.hosted != Default::default())
        {
            c.err(at("kind"), "`strategy` and `hosted` are settings of a classic swarm (`kind: classicSwarm`)");
        }
    }
    if cl.clusters.is_empty() {
        cluster_names.insert(crate::spec::DEFAULT_CLUSTER, ClusterKind::Kubernetes);
    }
    let known_clusters = defs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ");
    let check_cluster = |c: &mut Ctx, named: &Option<String>, at: Vec<PathSeg>| -> Option<ClusterKind> {
        match named {
            None => Some(defs[0].kind),
            Some(n) => match cluster_names.get(n.as_str()) {
                Some(k) => Some(*k),
                None => {
                    c.err(at, format!("no cluster named `{n}` (clusters: {known_clusters})"));
                    None
                }
            },
        }
    };

    // The cloud provider.
    let cloud = cl.cloud.as_ref();
    let mut zones: BTreeSet<&str> = BTreeSet::new();
    let mut types: BTreeSet<&str> = BTreeSet::new();
    if let Some(cloud) = cloud {
        let at = |k: &str| path!["spec", "cluster", "cloud", k];
        if cloud.zones.is_empty() {
            c.err(at("zones"), "list the zones instances can be placed in");
        }
        for (i, z) in cloud.zones.iter().enumerate() {
            if !zones.insert(z.as_str()) {
                c.err(path!["spec", "cluster", "cloud", "zones", i], format!("zone `{z}` is listed twice"));
            }
        }
        for (i, t) in cloud.instance_types.iter().enumerate() {
            let here = |k: &str| path!["spec", "cluster", "cloud", "instanceTypes", i, k];
            if !types.insert(t.name.as_str()) {
                c.err(here("name"), format!("instance type `{}` is listed twice", t.name));
            }
            if t.cpu.0 == 0 || t.cpu.0 > LIMIT_CPU_MILLI {
                c.err(here("cpu"), "an instance type needs some CPU, and at most a million cores");
            }
            if t.memory.0 == 0 || t.memory.0 > LIMIT_MEMORY_BYTES {
                c.err(here("memory"), "an instance type needs some memory, and at most 1 PiB");
            }
            for (k, v) in [("onDemandPerHour", t.on_demand_per_hour), ("spotPerHour", t.spot_per_hour)] {
                if !(v.is_finite() && (0.0..=1e6).contains(&v)) {
                    c.err(here(k), format!("expected a price per hour between 0 and 1000000, found {v}"));
                }
            }
        }
        for (i, s) in cloud.stock.iter().enumerate() {
            let here = |k: &str| path!["spec", "cluster", "cloud", "stock", i, k];
            if !types.contains(s.instance_type.as_str()) {
                c.err(
                    here("instanceType"),
                    format!("no instance type named `{}` in cloud.instanceTypes", s.instance_type),
                );
            }
            if !zones.contains(s.zone.as_str()) {
                c.err(here("zone"), format!("no zone named `{}` in cloud.zones", s.zone));
            }
        }
        for (k, r) in
            [("bootTime", cloud.boot_time), ("joinTime", cloud.join_time), ("reimageTime", cloud.reimage_time)]
        {
            if r.min > r.max {
                c.err(at(k), format!("min {} is longer than max {}", r.min, r.max));
            }
            if r.max > SimDuration::hours(24) {
                c.err(at(k), "longer than a day is not plausible");
            }
        }
    }

    // Nodes: counted before anything is built.
    let mut total_nodes: u64 = 0;
    let mut node_names = BTreeSet::new();
    let mut kube_nodes = BTreeSet::new();
    let mut pools = BTreeSet::new();
    for (i, p) in cl.nodes.iter().enumerate() {
        let at = |k: &str| path!["spec", "cluster", "nodes", i, k];
        for (j, t) in p.taints.iter().enumerate() {
            if t.key.is_empty() {
                c.err(path!["spec", "cluster", "nodes", i, "taints", j], "a taint needs a `key`");
            }
        }
        if !is_dns_label(&p.pool) {
            c.err(at("pool"), format!("`{}` is not a valid name (lowercase letters, digits and '-')", p.pool));
        }
        if !pools.insert(p.pool.clone()) {
            c.err(at("pool"), format!("pool `{}` is defined twice", p.pool));
        }
        let kind = check_cluster(&mut c, &p.cluster, at("cluster"));
        match (kind, p.role) {
            (Some(ClusterKind::Kubernetes), NodeRole::Manager) => {
                c.err(at("role"), "`manager` is a swarm role; a Kubernetes node is a `worker` or `controlPlane`")
            }
            (Some(k), NodeRole::ControlPlane) if k.is_swarm() => {
                c.err(at("role"), "`controlPlane` is a Kubernetes role; a swarm node is a `manager` or `worker`")
            }
            _ => {}
        }
        match (&p.instance_type, cloud) {
            (Some(t), None) => {
                c.err(at("instanceType"), format!("instance type `{t}` needs a `cloud` section listing it"))
            }
            (Some(t), Some(_)) if !types.contains(t.as_str()) => c.err(
                at("instanceType"),
                format!(
                    "no instance type named `{t}` (cloud.instanceTypes has: {})",
                    types.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            ),
            (None, _) if p.cpu.is_none() || p.memory.is_none() => {
                c.err(at("cpu"), "give `cpu` and `memory`, or an `instanceType` that has them")
            }
            _ => {}
        }
        if cloud.is_some() && !zones.contains(p.zone.as_str()) {
            c.err(
                at("zone"),
                format!(
                    "no zone named `{}` (cloud.zones has: {})",
                    p.zone,
                    zones.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        if p.pricing == crate::spec::Pricing::Spot && p.instance_type.is_none() {
            c.err(at("pricing"), "a spot pool needs an `instanceType` from the cloud");
        }
        if (p.state == crate::spec::PoolState::Stopped || !p.schedule.is_empty()) && cloud.is_none() {
            c.err(at("state"), "stopped pools and schedules need a `cloud` section: machines are started through it");
        }
        total_nodes += p.count as u64;
        if p.count as u64 > defaults::LIMIT_NODES as u64 {
            c.err(
                at("count"),
                format!("{} nodes is more than a cluster supports ({})", p.count, defaults::LIMIT_NODES),
            );
        }
        if p.cpu.is_some_and(|x| x.0 == 0 || x.0 > LIMIT_CPU_MILLI) {
            c.err(at("cpu"), "a node needs some CPU, and at most a million cores");
        }
        if p.memory.is_some_and(|x| x.0 == 0 || x.0 > LIMIT_MEMORY_BYTES) {
            c.err(at("memory"), "a node needs some memory, and at most 1 PiB");
        }
        if p.max_pods == 0 || p.max_pods > LIMIT_MAX_PODS {
            c.err(at("maxPods"), format!("maxPods must be between 1 and {LIMIT_MAX_PODS}"));
        }
        for n in 1..=p.count.min(defaults::LIMIT_NODES) {
            node_names.insert(format!("{}-{n}", p.pool));
            if kind == Some(ClusterKind::Kubernetes) {
                kube_nodes.insert(format!("{}-{n}", p.pool));
            }
        }
    }
    if cl.nodes.is_empty() || total_nodes == 0 {
        c.err(path!["spec", "cluster", "nodes"], "the cluster needs at least one node");
    }
    if total_nodes > defaults::LIMIT_NODES as u64 {
        c.err(
            path!["spec", "cluster", "nodes"],
            format!("{total_nodes} nodes in all is more than a cluster supports ({})", defaults::LIMIT_NODES),
        );
    }

    let mut config_maps = BTreeSet::new();
    for (i, cm) in cl.config_maps.iter().enumerate() {
        if !config_maps.insert(cm.name.as_str()) {
            c.err(
                path!["spec", "cluster", "configMaps", i, "name"],
                format!("ConfigMap `{}` is defined twice", cm.name),
            );
        }
    }

    let services: BTreeMap<&str, (usize, &ServiceSpec)> =
        cl.services.iter().enumerate().map(|(i, s)| (s.name.as_str(), (i, s))).collect();

    // Workloads.
    if cl.workloads.len() > LIMIT_WORKLOADS {
        c.err(path!["spec", "cluster", "workloads"], format!("more than {LIMIT_WORKLOADS} workloads"));
    }
    let mut total_pods: u64 = 0;
    let mut workload_names = BTreeSet::new();
    for (i, w) in cl.workloads.iter().enumerate() {
        let at = |k: &str| path!["spec", "cluster", "workloads", i, k];
        if !is_dns_label(&w.name) {
            c.err(at("name"), format!("`{}` is not a valid name (lowercase letters, digits and '-')", w.name));
        }
        if !workload_names.insert(w.name.as_str()) {
            c.err(at("name"), format!("workload `{}` is defined twice", w.name));
        }
        let replicas = if w.kind == WorkloadKind::DaemonSet { total_nodes as u32 } else { w.replica_count() };
        total_pods += replicas as u64;
        if replicas > defaults::LIMIT_PODS {
            c.err(
                at("replicas"),
                format!("{replicas} replicas is more than a cluster supports ({} pods)", defaults::LIMIT_PODS),
            );
        }
        if w.persistent_volume.is_some()
            && !(w.kind == WorkloadKind::StatefulSet || (w.kind == WorkloadKind::Deployment && replicas <= 1))
        {
            c.err(
                at("persistentVolume"),
                "a ReadWriteOnce volume per pod is modelled for StatefulSets and single-replica Deployments",
            );
        }
        if let Some(pv) = &w.persistent_volume
            && pv.attach_time.is_some_and(|t| t > SimDuration::hours(1))
        {
            c.err(at("persistentVolume"), "an attach time over 1h is not plausible");
        }
        if w.kind == WorkloadKind::DaemonSet && w.replicas.is_some() {
            c.err(at("replicas"), "a DaemonSet runs one pod per node and takes no `replicas`");
        }
        let kind = check_cluster(&mut c, &w.cluster, at("cluster"));
        if w.reschedule != crate::spec::Reschedule::No && kind != Some(ClusterKind::ClassicSwarm) {
            c.err(
                at("reschedule"),
                "`reschedule` is classic swarm's; swarm mode and Kubernetes always replace lost work",
            );
        }
        if let Some(d) = &w.cpu_demand
            && (d.base.0 > LIMIT_CPU_MILLI || d.per_rps.0 > LIMIT_CPU_MILLI)
        {
            c.err(at("cpuDemand"), "more than a million cores is not plausible");
        }
        match kind {
            Some(k) if k.is_swarm() && w.kind != WorkloadKind::SwarmService => {
                c.err(at("kind"), format!("`{}` runs in a swarm cluster, so its kind must be `SwarmService`", w.name))
            }
            Some(ClusterKind::Kubernetes) if w.kind == WorkloadKind::SwarmService => {
                c.err(at("kind"), format!("`{}` is a SwarmService but its cluster runs Kubernetes", w.name))
            }
            _ => {}
        }
        if w.kind == WorkloadKind::SwarmService
            && (w.liveness_probe.is_some() || w.readiness_probe.is_some() || w.startup_probe.is_some())
        {
            c.err(at("kind"), "swarm services have no Kubernetes probes in this model; remove them");
        }
        if !(w.capacity_rps.is_finite() && w.capacity_rps > 0.0) {
            c.err(
                at("capacityRps"),
                format!("expected the requests per second one Ready pod serves (> 0), found {}", w.capacity_rps),
            );
        }
        if w.requests.cpu.0 > LIMIT_CPU_MILLI || w.requests.memory.0 > LIMIT_MEMORY_BYTES {
            c.err(at("requests"), "requests of more than a million cores or 1 PiB are not plausible");
        }
        if w.shutdown_time > SimDuration::hours(24) {
            c.err(at("shutdownTime"), "longer than a day is not plausible");
        }
        if w.capacity_rps > 1e9 {
            c.err(at("capacityRps"), "more than a billion requests per second per pod is not plausible");
        }
        if let Some(st) = &w.start_time {
            if st.min > st.max {
                c.err(at("startTime"), format!("min {} is longer than max {}", st.min, st.max));
            }
            if st.max > SimDuration::hours(1) {
                c.err(at("startTime"), "a container start longer than 1h is not plausible");
            }
        }
        if matches!(w.kind, WorkloadKind::Deployment | WorkloadKind::StatefulSet)
            && w.restart_policy != RestartPolicy::Always
        {
            c.err(
                at("restartPolicy"),
                "a Deployment's or StatefulSet's pods must use restartPolicy Always (Kubernetes refuses others)",
            );
        }
        if let Some(b) = &w.disruption_budget {
            match (b.min_available, b.max_unavailable) {
                (Some(_), Some(_)) | (None, None) => c.err(
                    at("disruptionBudget"),
                    "give exactly one of `minAvailable` and `maxUnavailable` (Kubernetes refuses both)",
                ),
                _ => {}
            }
            if w.kind != WorkloadKind::Deployment {
                c.err(at("disruptionBudget"), "disruption budgets are modelled for Deployments only");
            }
        }
        if let Some(wu) = &w.warmup {
            if !(wu.from > 0.0 && wu.from <= 1.0) {
                c.err(
                    path!["spec", "cluster", "workloads", i, "warmup", "from"],
                    "a share of the capacity above 0 and at most 1 (0 would serve nothing)",
                );
            }
            if wu.duration.ms() == 0 || wu.duration > SimDuration::hours(24) {
                c.err(
                    path!["spec", "cluster", "workloads", i, "warmup", "duration"],
                    "a warm-up longer than 0 and at most 24h",
                );
            }
        }
        if w.termination_grace_period_seconds > 24 * 3600 {
            c.err(at("terminationGracePeriodSeconds"), "longer than a day is not plausible");
        }
        for (j, t) in w.tolerations.iter().enumerate() {
            let here = path!["spec", "cluster", "workloads", i, "tolerations", j];
            if t.operator == crate::spec::TolerationOperator::Exists && !t.value.is_empty() {
                c.err(here.clone(), "a toleration with `operator: Exists` takes no `value`");
            }
            if t.operator == crate::spec::TolerationOperator::Equal && t.key.is_empty() {
                c.err(here.clone(), "an `Equal` toleration needs a `key` (use `operator: Exists` for every taint)");
            }
            if t.toleration_seconds.is_some() && t.effect != Some(crate::spec::TaintEffect::NoExecute) {
                c.err(here, "`tolerationSeconds` is for `effect: NoExecute` only");
            }
        }
        if let Some(a) = &w.node_affinity {
            let terms = a.required.iter().map(|t| &t.match_expressions).enumerate().map(|(j, e)| (e, "required", j));
            let prefs = a.preferred.iter().map(|t| &t.match_expressions).enumerate().map(|(j, e)| (e, "preferred", j));
            for (exprs, kind, j) in terms.chain(prefs) {
                for (k, r) in exprs.iter().enumerate() {
                    let here = path!["spec", "cluster", "workloads", i, "nodeAffinity", kind, j, "matchExpressions", k];
                    use crate::spec::NodeSelectorOperator as Op;
                    let ok = match r.operator {
                        Op::In | Op::NotIn => !r.values.is_empty(),
                        Op::Exists | Op::DoesNotExist => r.values.is_empty(),
                        Op::Gt | Op::Lt => r.values.len() == 1 && r.values[0].parse::<i64>().is_ok(),
                    };
                    if !ok {
                        c.err(here, "In and NotIn take values, Exists and DoesNotExist none, Gt and Lt one integer");
                    }
                }
            }
            for (j, t) in a.preferred.iter().enumerate() {
                if !(1..=100).contains(&t.weight) {
                    c.err(
                        path!["spec", "cluster", "workloads", i, "nodeAffinity", "preferred", j, "weight"],
                        "a weight from 1 to 100",
                    );
                }
            }
        }
        for (j, m) in w.mounts.iter().enumerate() {
            if !config_maps.contains(m.config_map.as_str()) {
                c.err(
                    path!["spec", "cluster", "workloads", i, "mounts", j, "configMap"],
                    format!("no ConfigMap named `{}` (define it under cluster.configMaps)", m.config_map),
                );
            }
        }
        let labels = w.pod_labels();
        for (key, probe, may_succeed_more) in [
            ("startupProbe", &w.startup_probe, false),
            ("livenessProbe", &w.liveness_probe, false),
            ("readinessProbe", &w.readiness_probe, true),
        ] {
            if let Some(p) = probe {
                check_probe(&mut c, p, path!["spec", "cluster", "workloads", i, key], may_succeed_more);
                for (j, svc) in p.calls.iter().enumerate() {
                    let here = path!["spec", "cluster", "workloads", i, key, "calls", j];
                    match services.get(svc.as_str()) {
                        None => c.err(here, format!("the probe calls `{svc}`, but no service has that name")),
                        Some((_, s)) if selects(&s.selector, &labels) => c.err(
                            here,
                            format!("the probe calls `{svc}`, which selects this workload's own pods: it could never become ready"),
                        ),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    if total_pods > defaults::LIMIT_PODS as u64 {
        c.err(
            path!["spec", "cluster", "workloads"],
            format!("{total_pods} pods in all is more than a cluster supports ({})", defaults::LIMIT_PODS),
        );
    }

    // Services.
    if cl.services.len() > LIMIT_WORKLOADS {
        c.err(path!["spec", "cluster", "services"], format!("more than {LIMIT_WORKLOADS} services"));
    }
    let mut seen = BTreeSet::new();
    for (i, s) in cl.services.iter().enumerate() {
        let at = |k: &str| path!["spec", "cluster", "services", i, k];
        if !is_dns_label(&s.name) {
            c.err(at("name"), format!("`{}` is not a valid name (lowercase letters, digits and '-')", s.name));
        }
        if !seen.insert(s.name.as_str()) {
            c.err(at("name"), format!("service `{}` is defined twice", s.name));
        }
        if s.selector.is_empty() {
            c.err(at("selector"), "a service needs a selector");
        }
        check_cluster(&mut c, &s.cluster, at("cluster"));
        if let Some(o) = s.outage_below {
            check_slo(&mut c, o, at("outageBelow"));
        }
        if let Some(r) = &s.retries {
            let here = |k: &str| path!["spec", "cluster", "services", i, "retries", k];
            if !(r.timeout_seconds > 0.0 && r.timeout_seconds <= 3600.0) {
                c.err(here("timeoutSeconds"), "a client timeout above 0 and at most 3600 seconds");
            }
            if r.attempts == 0 || r.attempts > 10 {
                c.err(here("attempts"), "between 1 and 10 retries (omit `retries` for none)");
            }
            if let Some(b) = r.budget
                && !(b > 0.0 && b <= 10.0)
            {
                c.err(here("budget"), "a budget above 0 (retries per request, e.g. 0.2)");
            }
        }
        for (j, call) in s.calls.iter().enumerate() {
            let here = |k: &str| path!["spec", "cluster", "services", i, "calls", j, k];
            if !services.contains_key(call.service.as_str()) {
                c.err(here("service"), format!("no service named `{}`", call.service));
            }
            if call.service == s.name {
                c.err(here("service"), "a service cannot call itself");
            }
            if !(call.share.is_finite() && (0.0..=1.0).contains(&call.share)) {
                c.err(here("share"), format!("expected a share between 0 and 1, found {}", call.share));
            }
        }
    }
    if let Some((i, cycle)) = call_cycle(&cl.services) {
        c.err(
            path!["spec", "cluster", "services", i, "calls"],
            format!("services call each other in a cycle ({cycle}); request dependencies must form a DAG"),
        );
    }

    // Load balancers.
    let mut fed: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, lb) in cl.load_balancers.iter().enumerate() {
        let at = |k: &str| path!["spec", "cluster", "loadBalancers", i, k];
        if !is_dns_label(&lb.name) {
            c.err(at("name"), format!("`{}` is not a valid name", lb.name));
        }
        if services.contains_key(lb.name.as_str()) || !seen.insert(lb.name.as_str()) {
            c.err(at("name"), format!("`{}` is already the name of a service or load balancer", lb.name));
        }
        match (lb.backends.is_empty(), lb.routes.is_empty()) {
            (true, true) => c.err(at("backends"), "a load balancer needs at least one backend (or routes)"),
            (false, false) => c.err(at("routes"), "a load balancer has either backends or routes, not both"),
            _ => {}
        }
        let mut total_share = 0.0;
        for (j, r) in lb.routes.iter().enumerate() {
            let here = |k: &str| path!["spec", "cluster", "loadBalancers", i, "routes", j, k];
            let target_lb = cl.load_balancers.iter().find(|l| l.name == r.to);
            if target_lb.is_none() && !services.contains_key(r.to.as_str()) {
                c.err(here("to"), format!("no service or load balancer named `{}`", r.to));
            } else if target_lb.is_some_and(|t| !t.routes.is_empty()) {
                c.err(here("to"), format!("`{}` routes on itself; routes go one level deep", r.to));
            } else if let Some(other) = fed.insert(r.to.as_str(), lb.name.as_str()) {
                c.err(here("to"), format!("`{}` already gets its traffic from `{other}`", r.to));
            }
            if !(r.share.is_finite() && (0.0..=1.0).contains(&r.share)) {
                c.err(here("share"), format!("expected a share between 0 and 1, found {}", r.share));
            } else {
                total_share += r.share;
            }
        }
        if !lb.routes.is_empty() && (total_share - 1.0).abs() > 1e-6 {
            c.err(at("routes"), format!("the routes' shares add up to {total_share}, not 1"));
        }
        if let Some(o) = lb.outage_below {
            check_slo(&mut c, o, at("outageBelow"));
        }
        let hc = &lb.health_check;
        if hc.interval < SimDuration(100) || hc.interval > SimDuration::hours(1) {
            c.err(path!["spec", "cluster", "loadBalancers", i, "healthCheck", "interval"], "expected 100ms to 1h");
        }
        for (k, v) in [("healthyThreshold", hc.healthy_threshold), ("unhealthyThreshold", hc.unhealthy_threshold)] {
            if v == 0 || v > 100 {
                c.err(path!["spec", "cluster", "loadBalancers", i, "healthCheck", k], "expected 1 to 100 checks");
            }
        }
        for (j, b) in lb.backends.iter().enumerate() {
            let here = path!["spec", "cluster", "loadBalancers", i, "backends", j, "service"];
            if !services.contains_key(b.service.as_str()) {
                c.err(here, format!("no service named `{}`", b.service));
            } else if let Some(other) = fed.insert(b.service.as_str(), lb.name.as_str()) {
                c.err(
                    here,
                    format!(
                        "`{}` is already a backend of `{other}`; a service sits behind one load balancer",
                        b.service
                    ),
                );
            }
        }
    }

    // Traffic.
    let mut with_traffic = BTreeSet::new();
    for (i, t) in spec.traffic.iter().enumerate() {
        let at = |k: &str| path!["spec", "traffic", i, k];
        let is_lb = cl.load_balancers.iter().any(|l| l.name == t.service);
        if !services.contains_key(t.service.as_str()) && !is_lb {
            c.err(at("service"), format!("no service or load balancer named `{}`", t.service));
        }
        if let Some(lb) = fed.get(t.service.as_str()) {
            c.err(
                at("service"),
                format!("`{}` gets its traffic from load balancer `{lb}`; give the curve to `{lb}`", t.service),
            );
        }
        if !with_traffic.insert(t.service.as_str()) {
            c.err(at("service"), format!("service `{}` has two traffic curves", t.service));
        }
        if t.rps.is_empty() {
            c.err(at("rps"), "a traffic curve needs at least one [time, rps] point");
        }
        let (lo, hi) = match t.scale {
            Drawn::Fixed(v) => (v, v),
            Drawn::Range { min, max } => (min, max),
        };
        if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && lo <= hi && hi <= 1e6) {
            c.err(at("scale"), format!("expected a scale >= 0 (and min <= max), found {lo} to {hi}"));
        }
        if t.rps.len() > LIMIT_TRAFFIC_POINTS {
            c.err(at("rps"), format!("more than {LIMIT_TRAFFIC_POINTS} points"));
        }
        let mut last = None;
        for (j, (when, rps)) in t.rps.iter().enumerate() {
            let here = path!["spec", "traffic", i, "rps", j];
            let t_at = when.resolve(&spec.start);
            if let Some(prev) = last
                && t_at <= prev
            {
                c.err(
                    here.clone(),
                    format!("`{when}` does not come after the previous point; points must be in time order"),
                );
            }
            last = Some(t_at);
            if !(rps.is_finite() && *rps >= 0.0) {
                c.err(here, format!("expected requests per second >= 0, found {rps}"));
            }
        }
    }

    // Monitoring.
    if spec.monitoring.alerts.len() > LIMIT_ALERT_RULES {
        c.err(path!["spec", "monitoring", "alerts"], format!("more than {LIMIT_ALERT_RULES} alert rules"));
    }
    let mut alert_names = BTreeSet::new();
    for (i, a) in spec.monitoring.alerts.iter().enumerate() {
        if !alert_names.insert(a.name.as_str()) {
            c.err(path!["spec", "monitoring", "alerts", i, "name"], format!("alert `{}` is defined twice", a.name));
        }
        if a.for_ > LIMIT_DURATION {
            c.err(path!["spec", "monitoring", "alerts", i, "for"], "longer than any run");
        }
    }

    // Faults.
    if spec.faults.len() > LIMIT_FAULTS {
        c.err(path!["spec", "faults"], format!("more than {LIMIT_FAULTS} faults"));
    }
    for (i, f) in spec.faults.iter().enumerate() {
        let at = |k: &str| path!["spec", "faults", i, f.key(), k];
        let (earliest, latest) = f.time().bounds(&spec.start);
        match f.time() {
            TimeDraw::Around { jitter, .. } if jitter.0.saturating_mul(2) >= spec.duration.0 => c.err(
                at("at"),
                format!(
                    "a jitter of {jitter} either side is longer than the run ({}): draw within the run",
                    spec.duration
                ),
            ),
            TimeDraw::Window { from, to } if earliest > latest => {
                c.err(at("at"), format!("the window starts at `{from}`, after its end `{to}`"))
            }
            t if latest.0 >= spec.duration.0 => c.err(
                at("at"),
                if t.is_drawn() {
                    format!("`{t}` can fall at or after the end of the run ({} after the start)", spec.duration)
                } else {
                    format!("`{}` is not before the end of the run ({} after the start)", f.at(), spec.duration)
                },
            ),
            _ => {}
        }
        if let Some(fields) = f.target_fields() {
            let agent = f.is_agent_fault();
            check_node_target(&mut c, s, &fields, agent, &node_names, &kube_nodes, &|k| at(k));
        }
        let runtime = spec.cluster.container_runtime();
        match f {
            FaultSpec::DockerHung(_) if runtime == ContainerRuntime::Containerd => c.err(
                path!["spec", "faults", i, f.key()],
                "the nodes run containerd (Kubernetes 1.24 removed dockershim; set cluster.containerRuntime or \
                 kubernetesVersion otherwise): write `runtimeHung`",
            ),
            FaultSpec::RuntimeHung(_) if runtime == ContainerRuntime::Docker => c.err(
                path!["spec", "faults", i, f.key()],
                "the nodes run docker (dockershim, before Kubernetes 1.24): write `dockerHung`, or set \
                 cluster.containerRuntime: containerd",
            ),
            FaultSpec::DockerHung(_)
            | FaultSpec::RuntimeHung(_)
            | FaultSpec::KubeletDown(_)
            | FaultSpec::DiskFull(_) => {}
            FaultSpec::PlegUnhealthy(p) => {
                if p.recur_after.is_some_and(|d| d.0 == 0 || d > LIMIT_DURATION) {
                    c.err(at("recurAfter"), "must be more than 0 and less than any run");
                }
            }
            FaultSpec::NetworkLoss(t) | FaultSpec::NodeOverload(t) => {
                if let Some(Drawn::Range { min, max }) = t.for_
                    && min > max
                {
                    c.err(at("for"), format!("min {min} is longer than max {max}"));
                }
                if t.for_.is_some_and(|d| [d.value(), range_max(d)].iter().any(|x| x.0 == 0 || *x > LIMIT_DURATION)) {
                    c.err(at("for"), "must be more than 0 and less than any run");
                }
            }
            FaultSpec::ConfigMapUpdate(u) => {
                if !config_maps.contains(u.config_map.as_str()) {
                    c.err(at("configMap"), format!("no ConfigMap named `{}`", u.config_map));
                }
            }
            FaultSpec::ContainerCrash(cc) => {
                if cc.selector.is_empty() {
                    c.err(
                        at("selector"),
                        "give a selector: a crash of every container in the cluster is never what a document describes",
                    );
                }
                if let Some(Drawn::Range { min, max }) = cc.count
                    && min > max
                {
                    c.err(at("count"), format!("min {min} is more than max {max}"));
                }
                if cc.count.is_some_and(|k| k.value() == 0) {
                    c.err(at("count"), "a count of 0 crashes nothing; remove the fault or give a count of at least 1");
                }
                if !cc.selector.is_empty() && !cl.workloads.iter().any(|w| w.selected_by(&cc.selector)) {
                    c.err(at("selector"), format!("no workload's pods have the labels {}", show_labels(&cc.selector)));
                }
            }
            FaultSpec::NodeRemoved(_) => {}
            FaultSpec::StockChange(s) => {
                if cloud.is_none() {
                    c.err(at("instanceType"), "a stock change needs a `cloud` section");
                } else {
                    if !types.contains(s.instance_type.as_str()) {
                        c.err(at("instanceType"), format!("no instance type named `{}`", s.instance_type));
                    }
                    if !zones.contains(s.zone.as_str()) {
                        c.err(at("zone"), format!("no zone named `{}`", s.zone));
                    }
                }
            }
            FaultSpec::DnsFailure(n) | FaultSpec::KubeletFailure(n) => {
                if check_cluster(&mut c, &n.cluster, at("cluster")).is_some_and(ClusterKind::is_swarm) {
                    c.err(at("cluster"), "this fault is about Kubernetes nodes; the cluster runs swarm");
                }
            }
            FaultSpec::NodeFailure(f) => {
                let by_selector = f.node_of.is_some() || f.pool.is_some();
                if f.nodes.is_empty() && f.next_to_join.is_none() && !by_selector {
                    c.err(at("nodes"), "name at least one node, give `nodeOf` or `pool`, or say `nextToJoin`");
                }
                if f.node_of.is_some() && f.pool.is_some() {
                    c.err(at("pool"), "give one of `nodeOf` and `pool`, not both");
                } else if by_selector {
                    let fields = crate::spec::TargetFields::of(&None, &f.node_of, &f.pool, f.pick);
                    check_node_target(&mut c, s, &fields, false, &node_names, &kube_nodes, &|k| at(k));
                } else if f.pick.is_some() {
                    c.err(at("pick"), "`pick` chooses among the nodes of `nodeOf` or `pool`");
                }
                if f.next_to_join.is_some() {
                    check_cluster(&mut c, &f.cluster, at("cluster"));
                }
                if f.next_to_join.is_some_and(|n| n > 1000) {
                    c.err(at("nextToJoin"), "more than 1000 nodes");
                }
                for (j, n) in f.nodes.iter().enumerate() {
                    // Nodes are `<pool>-<n>`; one that does not exist yet is hit when it joins.
                    let pool_ok = n
                        .rsplit_once('-')
                        .is_some_and(|(pool, k)| k.parse::<u32>().is_ok() && cl.nodes.iter().any(|p| p.pool == pool));
                    if !pool_ok {
                        c.err(
                            path!["spec", "faults", i, "nodeFailure", "nodes", j],
                            format!("`{n}` is not a node name of any pool (`<pool>-<number>`)"),
                        );
                    }
                }
            }
        }
    }

    if c.errors.is_empty() { Ok(()) } else { Err(c.errors) }
}

/// Checks a node target (`node`, `nodeOf`, `pool`, `pick`) against the scenario: a name must be
/// a node of the scenario, a selector must match some workload's pods, a pool must exist; an
/// agent fault must aim at Kubernetes nodes.
fn check_node_target(
    c: &mut Ctx,
    s: &Scenario,
    fields: &crate::spec::TargetFields<'_>,
    agent: bool,
    node_names: &BTreeSet<String>,
    kube_nodes: &BTreeSet<String>,
    at: &dyn Fn(&str) -> Vec<PathSeg>,
) {
    let cl = &s.spec.cluster;
    if let Some((field, message)) = fields.problem() {
        c.err(at(field), message);
        return;
    }
    let defs = cl.cluster_defs();
    let kind_of = |cluster: Option<&str>| {
        let name = cl.cluster_of(cluster);
        defs.iter().find(|d| d.name == name).map_or(ClusterKind::Kubernetes, |d| d.kind)
    };
    const SWARM: &str = "this fault is about a Kubernetes node's agents";
    match fields.target() {
        Some(crate::spec::NodeTarget::Named(node)) => {
            if !node_names.contains(node) {
                c.err(at("node"), format!("no node named `{node}` (nodes are named <pool>-1 ... <pool>-<count>)"));
            } else if agent && !kube_nodes.contains(node) {
                c.err(at("node"), format!("`{node}` runs swarm; {SWARM}"));
            }
        }
        Some(crate::spec::NodeTarget::NodeOf(selector, _)) => {
            let matching: Vec<&crate::spec::WorkloadSpec> =
                cl.workloads.iter().filter(|w| selects(selector, &w.pod_labels())).collect();
            if matching.is_empty() {
                c.err(at("nodeOf"), format!("no workload's pods have the labels {}", show_labels(selector)));
            } else if agent && matching.iter().all(|w| kind_of(w.cluster.as_deref()).is_swarm()) {
                c.err(at("nodeOf"), format!("the pods with these labels run on swarm nodes; {SWARM}"));
            }
        }
        Some(crate::spec::NodeTarget::Pool(pool, _)) => match cl.nodes.iter().find(|p| p.pool == pool) {
            None => c.err(
                at("pool"),
                format!(
                    "no node pool named `{pool}` (pools: {})",
                    cl.nodes.iter().map(|p| p.pool.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ),
            Some(p) if agent && kind_of(p.cluster.as_deref()).is_swarm() => {
                c.err(at("pool"), format!("pool `{pool}` runs swarm; {SWARM}"))
            }
            Some(_) => {}
        },
        None => {}
    }
}

/// `{app: redis}` as `app=redis`.
pub fn show_labels(l: &crate::spec::Labels) -> String {
    l.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Timing settings the engine divides by or loops on: bounded so that no run can stall.
fn check_timing(c: &mut Ctx, s: &Scenario) {
    let hour = SimDuration::hours(1);
    if let (Some(ContainerRuntime::Docker), Some(v)) =
        (s.spec.cluster.container_runtime, s.spec.cluster.kubernetes_version)
        && (v.major, v.minor) >= crate::defaults::DOCKERSHIM_REMOVED_IN
    {
        c.err(
            path!["spec", "cluster", "containerRuntime"],
            format!("Kubernetes {}.{} has no dockershim (removed in 1.24): its nodes run containerd", v.major, v.minor),
        );
    }
    let day = SimDuration::hours(24);
    let mut within = |path: Vec<PathSeg>, v: SimDuration, lo: SimDuration, hi: SimDuration| {
        if v < lo || v > hi {
            c.err(path, format!("{v} is outside {lo} to {hi}"));
        }
    };
    let k = &s.spec.cluster.kubelet;
    within(path!["spec", "cluster", "kubelet", "backoffInitial"], k.backoff_initial, SimDuration(100), hour);
    within(path!["spec", "cluster", "kubelet", "backoffMax"], k.backoff_max, k.backoff_initial, day);
    within(path!["spec", "cluster", "kubelet", "backoffReset"], k.backoff_reset, SimDuration::secs(1), day);
    within(path!["spec", "cluster", "kubelet", "syncFrequency"], k.sync_frequency, SimDuration::secs(1), hour);
    let cp = &s.spec.cluster.control_plane;
    within(path!["spec", "cluster", "controlPlane", "apiLatency"], cp.api_latency, SimDuration::ZERO, hour);
    within(path!["spec", "cluster", "controlPlane", "podGcPeriod"], cp.pod_gc_period, SimDuration::secs(1), hour);
    within(path!["spec", "cluster", "controlPlane", "podGcQuarantine"], cp.pod_gc_quarantine, SimDuration::ZERO, hour);
    if let Some(g) = cp.node_monitor_grace_period {
        within(path!["spec", "cluster", "controlPlane", "nodeMonitorGracePeriod"], g, SimDuration::secs(1), hour);
    }
    within(
        path!["spec", "cluster", "controlPlane", "notReadyToleration"],
        cp.not_ready_toleration,
        SimDuration::ZERO,
        day,
    );
    let m = &s.spec.monitoring;
    within(path!["spec", "monitoring", "scrapeInterval"], m.scrape_interval, SimDuration::secs(1), hour);
    within(path!["spec", "monitoring", "evaluationInterval"], m.evaluation_interval, SimDuration::secs(1), hour);
}

/// The largest value a drawn value can take.
fn range_max<T: Copy>(d: Drawn<T>) -> T {
    match d {
        Drawn::Fixed(v) | Drawn::Range { max: v, .. } => v,
    }
}

fn check_slo(c: &mut Ctx, v: f64, at: Vec<PathSeg>) {
    if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
        c.err(at, format!("expected a share between 0 and 1, found {v}"));
    }
}

fn check_probe(c: &mut Ctx, p: &ProbeSpec, at: Vec<PathSeg>, may_succeed_more: bool) {
    let field = |k: &str| {
        let mut p = at.clone();
        p.push(PathSeg::from(k));
        p
    };
    for (k, v, min) in [
        ("initialDelaySeconds", p.initial_delay_seconds, 0),
        ("periodSeconds", p.period_seconds, 1),
        ("timeoutSeconds", p.timeout_seconds, 1),
        ("successThreshold", p.success_threshold, 1),
        ("failureThreshold", p.failure_threshold, 1),
    ] {
        if v < min {
            c.err(field(k), format!("must be at least {min}"));
        }
        if v > LIMIT_PROBE_SECONDS {
            c.err(field(k), format!("{v} is beyond the limit of {LIMIT_PROBE_SECONDS}"));
        }
    }
    if !may_succeed_more && p.success_threshold != 1 {
        c.err(field("successThreshold"), "must be 1 for liveness and startup probes (Kubernetes refuses others)");
    }
}

/// Does `selector` match `labels` (every selector pair present)?
pub fn selects(selector: &crate::spec::Labels, labels: &crate::spec::Labels) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Finds a cycle in the services' `calls`; returns the index of a service on it and the cycle.
fn call_cycle(services: &[ServiceSpec]) -> Option<(usize, String)> {
    let index: BTreeMap<&str, usize> = services.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; services.len()];
    let mut stack: Vec<usize> = Vec::new();
    fn visit(
        i: usize,
        services: &[ServiceSpec],
        index: &BTreeMap<&str, usize>,
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<(usize, String)> {
        state[i] = 1;
        stack.push(i);
        for call in &services[i].calls {
            let Some(&j) = index.get(call.service.as_str()) else { continue };
            if j == i {
                continue; // reported separately
            }
            if state[j] == 1 {
                let from = stack.iter().position(|&k| k == j).unwrap_or(0);
                let mut names: Vec<&str> = stack[from..].iter().map(|&k| services[k].name.as_str()).collect();
                names.push(services[j].name.as_str());
                return Some((j, names.join(" -> ")));
            }
            if state[j] == 0
                && let Some(found) = visit(j, services, index, state, stack)
            {
                return Some(found);
            }
        }
        stack.pop();
        state[i] = 2;
        None
    }
    for i in 0..services.len() {
        if state[i] == 0
            && let Some(found) = visit(i, services, &index, &mut state, &mut stack)
        {
            return Some(found);
        }
    }
    None
}

/// A Kubernetes DNS label: lowercase alphanumerics and '-', starting and ending alphanumeric.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}
