//! Watching a real cluster and recording what the simulator's scorer reads: each service's
//! serving capacity (its ready endpoints, from EndpointSlices, times the scenario's
//! `capacityRps` per pod), every pod's life and restarts, node conditions and NoExecute taints,
//! and a timeline worded as the simulator's, so a drive and a simulation can be put side by side.
//!
//! Times are milliseconds since the drive started, on the drive's monotonic clock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use capsize_sim::SimTime;
use capsize_sim::history::{ActionRecord, FaultRecord, History, PodRecord};
use capsize_sim::policy::PodStatus;
use capsize_sim::spec::{Labels, Scenario};
use capsize_sim::validate::selects;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};

use crate::plan::{NodeMap, node_conditions};

/// One pod as last seen.
#[derive(Clone, Debug)]
pub struct PodSeen {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The scenario workload it belongs to (by labels), or its controller's name.
    pub workload: String,
    /// Labels.
    pub labels: Labels,
    /// Bound node, as the scenario names it.
    pub node: Option<String>,
    /// The STATUS column.
    pub status: PodStatus,
    /// Since when.
    pub status_since: SimTime,
    /// Ready condition.
    pub ready: bool,
    /// Restarts summed over its containers.
    pub restarts: u32,
    /// The last waiting or terminated reason and message.
    pub message: Option<String>,
    /// First seen (at the drive's start for pods that were there).
    pub created: SimTime,
    /// When it disappeared from the API.
    pub deleted: Option<SimTime>,
}

/// One node as last seen.
#[derive(Clone, Debug, Default)]
pub struct NodeSeen {
    /// `Ready`, `NotReady`, ... as `kubectl get nodes` shows them.
    pub conditions: Vec<&'static str>,
    /// The Ready condition is True.
    pub ready: bool,
    /// The Ready condition's message.
    pub reason: Option<String>,
    /// NoExecute taints on it (keys).
    pub no_execute: BTreeSet<String>,
    /// Gone from the API.
    pub removed: bool,
}

/// Everything observed so far.
pub struct Recorder {
    start: Instant,
    /// Scenario node names for real ones.
    pub map: NodeMap,
    /// What the scorer reads; the drive adds faults and actions.
    pub history: History,
    /// Pods by `namespace/name`, live and gone.
    pub pods: BTreeMap<String, PodSeen>,
    /// Nodes by scenario name.
    pub nodes: BTreeMap<String, NodeSeen>,
    /// Ready endpoint pods per `(namespace, EndpointSlice)`: the service index and pod names.
    slices: BTreeMap<(String, String), (usize, BTreeSet<String>)>,
    /// Desired replicas per Deployment name.
    pub replicas: BTreeMap<String, u32>,
    /// The scenario's services: name, selector, and capacity of one pod.
    services: Vec<(String, Labels, f64)>,
    /// The scenario's workloads: name, pod labels, capacity of one pod.
    workloads: Vec<(String, Labels, f64)>,
    /// Watch events seen (the drive's cost, where a simulation counts its events).
    pub events: u64,
    /// Watchers that have listed their objects once.
    pub synced: usize,
}

/// A recorder shared between the watch tasks and the drive.
pub type SharedRecorder = Arc<Mutex<Recorder>>;

/// The STATUS column `kubectl get pods` shows, and the reason behind it.
pub fn pod_status(p: &Pod) -> (PodStatus, Option<String>) {
    if p.metadata.deletion_timestamp.is_some() {
        return (PodStatus::Terminating, None);
    }
    let st = p.status.as_ref();
    let phase = st.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    let bound = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
    let mut status = match phase {
        "Running" => PodStatus::Running,
        "Failed" => PodStatus::Error,
        "Unknown" => PodStatus::Unknown,
        _ if bound => PodStatus::ContainerCreating,
        _ => PodStatus::Pending,
    };
    let mut message = None;
    for c in st.and_then(|s| s.container_statuses.as_deref()).unwrap_or_default() {
        let state = c.state.as_ref();
        if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.clone().unwrap_or_default();
            status = match reason.as_str() {
                "CrashLoopBackOff" => PodStatus::CrashLoopBackOff,
                "ContainerCreating" | "PodInitializing" => PodStatus::ContainerCreating,
                _ => PodStatus::Error,
            };
            message = Some(format!("{reason}: {}", w.message.clone().unwrap_or_default()));
        } else if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            status = PodStatus::Error;
            message =
                Some(format!("{}: {}", t.reason.clone().unwrap_or_default(), t.message.clone().unwrap_or_default()));
        }
        if message.is_none()
            && let Some(t) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref())
        {
            message =
                Some(format!("{}: {}", t.reason.clone().unwrap_or_default(), t.message.clone().unwrap_or_default()));
        }
    }
    if phase == "Pending" && !bound {
        let cond = st.and_then(|s| s.conditions.as_deref()).unwrap_or_default();
        if let Some(c) = cond.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False") {
            message = Some(format!("FailedScheduling: {}", c.message.clone().unwrap_or_default()));
        }
    }
    (status, message)
}

fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

impl Recorder {
    /// A recorder for `scenario`, whose clock starts now.
    pub fn new(scenario: &Scenario, map: NodeMap) -> Recorder {
        let cl = &scenario.spec.cluster;
        let workloads: Vec<(String, Labels, f64)> =
            cl.workloads.iter().map(|w| (w.name.clone(), w.pod_labels(), w.capacity_rps)).collect();
        let services = cl
            .services
            .iter()
            .map(|s| {
                let cap = workloads.iter().find(|w| selects(&s.selector, &w.1)).map_or(1.0, |w| w.2);
                (s.name.clone(), s.selector.clone(), cap)
            })
            .collect();
        Recorder {
            start: Instant::now(),
            map,
            history: History::for_scenario(scenario, true),
            pods: BTreeMap::new(),
            nodes: BTreeMap::new(),
            slices: BTreeMap::new(),
            replicas: BTreeMap::new(),
            services,
            workloads,
            events: 0,
            synced: 0,
        }
    }

    /// Starts the drive's clock now: what the watchers listed before is the state at time
    /// zero (the scenario's steady state), not a change during the run.
    pub fn start_clock(&mut self) {
        self.start = Instant::now();
        let zero = SimTime::ZERO;
        for steps in &mut self.history.capacity {
            let last = steps.last().map_or(0.0, |s| s.1);
            *steps = vec![(zero, last)];
        }
        for c in &mut self.history.node_conditions {
            c.2 = zero;
        }
        if let Some(t) = &mut self.history.timeline {
            for e in t.iter_mut() {
                e.at = zero;
            }
        }
        for p in self.pods.values_mut() {
            p.created = zero;
            p.status_since = zero;
        }
    }

    /// Now, on the drive's clock.
    pub fn now(&self) -> SimTime {
        SimTime(self.start.elapsed().as_millis() as u64)
    }

    fn workload_of(&self, p: &Pod) -> String {
        let labels: Labels = p.metadata.labels.clone().unwrap_or_default().into_iter().collect();
        self.workloads
            .iter()
            .find(|w| w.1.iter().all(|(k, v)| labels.get(k) == Some(v)))
            .map(|w| w.0.clone())
            .or_else(|| p.metadata.owner_references.as_deref().and_then(|o| o.first()).map(|o| o.name.clone()))
            .unwrap_or_else(|| p.metadata.name.clone().unwrap_or_default())
    }

    /// A pod was added, changed or seen in a (re)list.
    pub fn pod_applied(&mut self, p: &Pod) {
        self.events += 1;
        let now = self.now();
        let ns = p.metadata.namespace.clone().unwrap_or_default();
        let name = p.metadata.name.clone().unwrap_or_default();
        let key = format!("{ns}/{name}");
        let (status, message) = pod_status(p);
        let node = p.spec.as_ref().and_then(|s| s.node_name.as_deref()).map(|n| self.map.shown(n));
        let restarts: u32 = p
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_deref())
            .unwrap_or_default()
            .iter()
            .map(|c| c.restart_count.max(0) as u32)
            .sum();
        let ready = pod_ready(p);
        let workload = self.workload_of(p);
        match self.pods.get_mut(&key) {
            None => {
                self.history.note(now, &name, || "created".into());
                self.pods.insert(
                    key,
                    PodSeen {
                        namespace: ns,
                        name,
                        workload,
                        labels: p.metadata.labels.clone().unwrap_or_default().into_iter().collect(),
                        node,
                        status,
                        status_since: now,
                        ready,
                        restarts,
                        message,
                        created: now,
                        deleted: None,
                    },
                );
            }
            Some(seen) => {
                if seen.status != status {
                    let old = seen.status;
                    self.history.note(now, &name, || format!("status {old} -> {status}"));
                    if status == PodStatus::Terminating {
                        self.history.note(now, &name, || "deleting".into());
                    }
                    seen.status = status;
                    seen.status_since = now;
                }
                if restarts > seen.restarts {
                    self.history.note(now, &name, || "container exited: restarted by the kubelet".into());
                }
                seen.restarts = seen.restarts.max(restarts);
                seen.ready = ready;
                seen.message = message;
                seen.node = node;
                seen.deleted = None;
            }
        }
    }

    /// A pod left the API.
    pub fn pod_deleted(&mut self, p: &Pod) {
        self.events += 1;
        let now = self.now();
        let key = format!(
            "{}/{}",
            p.metadata.namespace.clone().unwrap_or_default(),
            p.metadata.name.clone().unwrap_or_default()
        );
        if let Some(seen) = self.pods.get_mut(&key)
            && seen.deleted.is_none()
        {
            seen.deleted = Some(now);
            let name = seen.name.clone();
            self.history.note(now, &name, || "deleted".into());
        }
    }

    /// A node was added, changed or seen in a (re)list.
    pub fn node_applied(&mut self, n: &Node) {
        self.events += 1;
        let now = self.now();
        let name = self.map.shown(n.metadata.name.as_deref().unwrap_or_default());
        let (ready, conditions) = node_conditions(n);
        let reason = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default()
            .iter()
            .find(|c| c.type_ == "Ready")
            .and_then(|c| c.message.clone());
        let taints: BTreeSet<String> = n
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_deref())
            .unwrap_or_default()
            .iter()
            .filter(|t| t.effect == "NoExecute")
            .map(|t| t.key.clone())
            .collect();
        let first = !self.nodes.contains_key(&name);
        let seen = self.nodes.entry(name.clone()).or_default();
        if (first && !ready) || (!first && seen.ready != ready) {
            let shown = if ready {
                "Ready"
            } else if conditions.contains(&"Unknown") {
                "NotReady (Unknown)"
            } else {
                "NotReady"
            };
            let why = reason.clone().unwrap_or_default();
            self.history.note(now, &name, || format!("node {shown}: {why}"));
            self.history.node_condition(&name, "NotReady", now, !ready);
        }
        let pressure = conditions.contains(&"DiskPressure");
        if pressure != seen.conditions.contains(&"DiskPressure") {
            self.history.node_condition(&name, "DiskPressure", now, pressure);
        }
        let seen = self.nodes.get_mut(&name).expect("inserted");
        for t in taints.difference(&seen.no_execute) {
            let taint = t.strip_prefix("node.kubernetes.io/").unwrap_or(t).to_string();
            self.history.note(now, &name, || format!("taint node.kubernetes.io/{taint}:NoExecute"));
        }
        seen.no_execute = taints;
        seen.ready = ready;
        seen.conditions = conditions;
        seen.reason = reason;
        seen.removed = false;
    }

    /// A node left the API.
    pub fn node_deleted(&mut self, n: &Node) {
        self.events += 1;
        let now = self.now();
        let name = self.map.shown(n.metadata.name.as_deref().unwrap_or_default());
        if let Some(seen) = self.nodes.get_mut(&name) {
            seen.removed = true;
        }
        self.history.note(now, &name, || "node removed from the cluster".into());
        self.history.node_condition(&name, "NotReady", now, false);
    }

    /// An EndpointSlice was added, changed or deleted (`None`: deleted).
    pub fn slice_changed(&mut self, s: &EndpointSlice, deleted: bool) {
        self.events += 1;
        let ns = s.metadata.namespace.clone().unwrap_or_default();
        let key = (ns, s.metadata.name.clone().unwrap_or_default());
        let svc_name = s.metadata.labels.as_ref().and_then(|l| l.get("kubernetes.io/service-name")).cloned();
        let Some(idx) = svc_name.and_then(|n| self.services.iter().position(|x| x.0 == n)) else { return };
        if deleted {
            self.slices.remove(&key);
        } else {
            let ready: BTreeSet<String> = s
                .endpoints
                .iter()
                .flatten()
                .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
                .filter(|e| !e.conditions.as_ref().and_then(|c| c.terminating).unwrap_or(false))
                .map(|e| e.target_ref.as_ref().and_then(|r| r.name.clone()).unwrap_or_else(|| e.addresses.join(",")))
                .collect();
            self.slices.insert(key, (idx, ready));
        }
        self.refresh_capacity(idx);
    }

    /// Ready endpoint pods of service `idx`, over its slices.
    pub fn ready_endpoints(&self, idx: usize) -> BTreeSet<String> {
        self.slices.values().filter(|(i, _)| *i == idx).flat_map(|(_, pods)| pods.iter().cloned()).collect()
    }

    fn refresh_capacity(&mut self, idx: usize) {
        let now = self.now();
        let n = self.ready_endpoints(idx).len();
        let cap = n as f64 * self.services[idx].2;
        self.history.set_capacity(idx, now, cap);
    }

    /// A Deployment's desired replicas.
    pub fn deployment_applied(&mut self, d: &Deployment) {
        self.events += 1;
        let r = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0) as u32;
        self.replicas.insert(d.metadata.name.clone().unwrap_or_default(), r);
    }

    /// The scenario's service names, in scorer order.
    pub fn service_names(&self) -> Vec<String> {
        self.services.iter().map(|s| s.0.clone()).collect()
    }

    /// Records a fault as applied.
    pub fn fault(&mut self, kind: &str, target: String, matched: u32, note: Option<String>) {
        let at = self.now();
        self.history.note(at, &target, || format!("fault {kind}"));
        self.history.faults.push(FaultRecord { at, kind: kind.to_string(), target, matched, note });
    }

    /// Records an action and its outcome.
    pub fn action(
        &mut self,
        issued: SimTime,
        by: &str,
        action: String,
        outcome: Result<String, String>,
        from_policy: bool,
    ) {
        let done = self.now();
        let what = match &outcome {
            Ok(s) | Err(s) => s.clone(),
        };
        self.history.note(done, by, || format!("{action}: {what}"));
        self.history.actions.push(ActionRecord {
            from_policy,
            observed: None,
            issued,
            done,
            by: by.to_string(),
            action,
            outcome,
        });
    }

    /// The history as the scorer reads it: pods filled in, the end set.
    pub fn finish(&mut self) -> History {
        let mut h = self.history.clone();
        h.end = self.now();
        h.events = self.events;
        h.pods = self
            .pods
            .values()
            .map(|p| PodRecord {
                name: p.name.clone(),
                workload: p.workload.clone(),
                node: p.node.clone(),
                created: p.created,
                deleted: p.deleted,
                restarts: p.restarts,
                status: if p.deleted.is_some() { "Deleted".into() } else { p.status.to_string() },
            })
            .collect();
        h
    }
}

/// Watches `api` and hands every event to `on` with the recorder locked. Runs until aborted;
/// a broken watch reconnects with backoff, as kube-runtime's watchers do.
fn watch<K>(
    api: Api<K>,
    rec: SharedRecorder,
    on: impl Fn(&mut Recorder, watcher::Event<K>) + Send + 'static,
) -> tokio::task::JoinHandle<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    tokio::spawn(async move {
        let mut s = watcher(api, watcher::Config::default()).default_backoff().boxed();
        let mut listed = false;
        while let Ok(Some(ev)) = s.try_next().await {
            let mut r = rec.lock().expect("recorder");
            if matches!(ev, watcher::Event::InitDone) && !listed {
                listed = true;
                r.synced += 1;
            }
            on(&mut r, ev);
        }
    })
}

/// Starts the watchers feeding `rec`: Nodes, and Pods, EndpointSlices and Deployments in each
/// namespace.
pub fn spawn_watchers(
    client: &kube::Client,
    namespaces: &[String],
    rec: &SharedRecorder,
) -> Vec<tokio::task::JoinHandle<()>> {
    use watcher::Event::{Apply, Delete, InitApply};
    let mut tasks = vec![watch(Api::<Node>::all(client.clone()), rec.clone(), |r, ev| match ev {
        Apply(n) | InitApply(n) => r.node_applied(&n),
        Delete(n) => r.node_deleted(&n),
        _ => {}
    })];
    for ns in namespaces {
        tasks.push(watch(Api::<Pod>::namespaced(client.clone(), ns), rec.clone(), |r, ev| match ev {
            Apply(p) | InitApply(p) => r.pod_applied(&p),
            Delete(p) => r.pod_deleted(&p),
            _ => {}
        }));
        tasks.push(watch(Api::<EndpointSlice>::namespaced(client.clone(), ns), rec.clone(), |r, ev| match ev {
            Apply(e) | InitApply(e) => r.slice_changed(&e, false),
            Delete(e) => r.slice_changed(&e, true),
            _ => {}
        }));
        tasks.push(watch(Api::<Deployment>::namespaced(client.clone(), ns), rec.clone(), |r, ev| {
            if let Apply(d) | InitApply(d) = ev {
                r.deployment_applied(&d);
            }
        }));
    }
    tasks
}
