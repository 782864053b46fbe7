//! What a policy sees during a drive: the watched cluster as `kubectl` shows it, with nodes under
//! their scenario names, and the scenario's alert rules evaluated on what was observed (a
//! service is down when the ratio the simulator's formula gives from its ready endpoints and
//! the scenario's offered load is below its threshold), so a policy written for the simulator
//! runs unchanged.

use std::collections::BTreeMap;

use capsize_sim::SimTime;
use capsize_sim::history::AlertRecord;
use capsize_sim::policy::{
    AlertInfo, BackendInfo, ClusterView, FailedOperation, NodeInfo, NodeStatus, PodInfo, PodStatus, ServiceInfo,
    WorkloadInfo,
};
use capsize_sim::spec::{AlertCondition, Scenario};
use capsize_sim::time::StartTime;
use capsize_sim::traffic::Topology;

use crate::observe::Recorder;

/// The scenario's alert rules, evaluated at each consultation of the policy.
#[derive(Default)]
pub struct Alerts {
    /// `(rule, target) -> since when the condition holds`.
    pending: BTreeMap<(usize, String), SimTime>,
    /// `(rule, target) -> (firing since, index of its record)`.
    firing: BTreeMap<(usize, String), (SimTime, usize)>,
}

impl Alerts {
    /// Evaluates every rule now and records alerts that start or stop firing.
    pub fn evaluate(&mut self, rec: &mut Recorder, scenario: &Scenario, topo: &Topology) {
        let now = rec.now();
        let mut ratios = Vec::new();
        topo.ratios(now, |s| (rec.history.capacity_at(usize::from(s), now), 0.0), |_| 0.0, &mut ratios);
        for (r, rule) in scenario.spec.monitoring.alerts.iter().enumerate() {
            let holding: Vec<String> = match rule.condition {
                AlertCondition::ServiceDown => (0..topo.len())
                    .filter(|&i| ratios[i] < topo.outage_below[i])
                    .map(|i| topo.names[i].clone())
                    .collect(),
                AlertCondition::PodCrashLooping => {
                    let mut w: Vec<String> = rec
                        .pods
                        .values()
                        .filter(|p| p.deleted.is_none() && p.status == PodStatus::CrashLoopBackOff)
                        .map(|p| p.workload.clone())
                        .collect();
                    w.sort();
                    w.dedup();
                    w
                }
            };
            self.pending.retain(|(rr, t), _| *rr != r || holding.contains(t));
            let stopped: Vec<(usize, String)> =
                self.firing.keys().filter(|(rr, t)| *rr == r && !holding.contains(t)).cloned().collect();
            for key in stopped {
                let (_, idx) = self.firing.remove(&key).expect("listed");
                rec.history.alerts[idx].resolved = Some(now);
                rec.history.note(now, &key.1, || format!("alert {} resolved", rule.name));
            }
            for t in holding {
                let since = *self.pending.entry((r, t.clone())).or_insert(now);
                if now.0.saturating_sub(since.0) >= rule.for_.ms() && !self.firing.contains_key(&(r, t.clone())) {
                    rec.history.alerts.push(AlertRecord {
                        name: rule.name.clone(),
                        target: t.clone(),
                        fired: now,
                        resolved: None,
                    });
                    rec.history.note(now, &t, || format!("alert {} firing", rule.name));
                    self.firing.insert((r, t), (now, rec.history.alerts.len() - 1));
                }
            }
        }
    }

    /// The alerts firing now.
    pub fn firing(&self, scenario: &Scenario) -> Vec<AlertInfo> {
        self.firing
            .iter()
            .map(|((r, t), (since, _))| AlertInfo {
                name: scenario.spec.monitoring.alerts[*r].name.clone(),
                target: t.clone(),
                since: *since,
            })
            .collect()
    }
}

/// A policy's view of the watched cluster.
pub struct RealView<'a> {
    /// What was observed.
    pub rec: &'a Recorder,
    /// The scenario (start time, services).
    pub scenario: &'a Scenario,
    /// The drive's seed.
    pub seed: u64,
    /// Alerts firing now.
    pub alerts: Vec<AlertInfo>,
}

impl ClusterView for RealView<'_> {
    fn now(&self) -> SimTime {
        self.rec.now()
    }

    fn start(&self) -> &StartTime {
        &self.scenario.spec.start
    }

    fn seed(&self) -> u64 {
        self.seed
    }

    fn for_each_pod(&self, f: &mut dyn FnMut(&PodInfo<'_>)) {
        for p in self.rec.pods.values().filter(|p| p.deleted.is_none()) {
            f(&PodInfo {
                name: &p.name,
                workload: &p.workload,
                labels: &p.labels,
                node: p.node.as_deref(),
                pool: p
                    .node
                    .as_deref()
                    .and_then(|n| self.rec.map.to_real.get(n))
                    .and_then(|r| self.rec.map.pool_of.get(r))
                    .map(String::as_str),
                status: p.status,
                status_since: p.status_since,
                ready: p.ready,
                restarts: p.restarts,
                message: p.message.clone(),
                created: p.created,
            });
        }
    }

    fn firing_alerts(&self) -> Vec<AlertInfo> {
        self.alerts.clone()
    }

    fn services(&self) -> Vec<ServiceInfo> {
        self.rec
            .service_names()
            .into_iter()
            .enumerate()
            .map(|(i, name)| ServiceInfo { name, ready_endpoints: self.rec.ready_endpoints(i).len() as u32 })
            .collect()
    }

    fn workloads(&self) -> Vec<WorkloadInfo> {
        self.scenario
            .spec
            .cluster
            .workloads
            .iter()
            .map(|w| WorkloadInfo {
                name: w.name.clone(),
                replicas: self.rec.replicas.get(&w.name).copied().unwrap_or(0),
                ready: self.rec.pods.values().filter(|p| p.deleted.is_none() && p.workload == w.name && p.ready).count()
                    as u32,
                cluster: self.scenario.spec.cluster.cluster_of(w.cluster.as_deref()).to_string(),
            })
            .collect()
    }

    fn nodes(&self) -> Vec<NodeInfo> {
        let cluster = self.scenario.spec.cluster.cluster_of(None).to_string();
        self.rec
            .nodes
            .iter()
            .map(|(name, n)| {
                let real = self.rec.map.to_real.get(name).cloned().unwrap_or_else(|| name.clone());
                NodeInfo {
                    name: name.clone(),
                    pool: self.rec.map.pool_of.get(&real).cloned().unwrap_or_default(),
                    cluster: cluster.clone(),
                    status: if n.removed {
                        NodeStatus::Removed
                    } else if n.ready {
                        NodeStatus::Ready
                    } else {
                        NodeStatus::NotReady
                    },
                    manager: false,
                    containers: self
                        .rec
                        .pods
                        .values()
                        .filter(|p| p.deleted.is_none() && p.node.as_deref() == Some(name))
                        .count() as u32,
                    cpu_used: 0.0,
                    conditions: n.conditions.clone(),
                    reason: n.reason.clone(),
                }
            })
            .collect()
    }

    fn backends(&self) -> Vec<BackendInfo> {
        Vec::new()
    }

    fn swarm_leader(&self, _cluster: &str) -> Option<bool> {
        None
    }

    fn failed_operations(&self) -> Vec<FailedOperation> {
        self.rec.history.failed_operations()
    }
}
