//! The engine's side of the policy interface: the world as `kubectl` and monitoring show it.

use crate::policy::{
    AlertInfo, BackendInfo, ClusterView, FailedOperation, NodeInfo, NodeStatus, PodInfo, ServiceInfo, WorkloadInfo,
};
use crate::time::{SimTime, StartTime};
use crate::world::InstanceState;
use crate::world::{Phase, ReadyCond, World};

impl ClusterView for World {
    fn now(&self) -> SimTime {
        self.now
    }

    fn start(&self) -> &StartTime {
        &self.scenario.spec.start
    }

    fn seed(&self) -> u64 {
        self.rng.seed
    }

    fn for_each_pod(&self, f: &mut dyn FnMut(&PodInfo<'_>)) {
        for (id, p) in self.pods.iter() {
            if p.phase == Phase::Deleted {
                continue;
            }
            let w = &self.workloads[p.workload];
            f(&PodInfo {
                name: &p.name,
                workload: &w.name,
                labels: &w.labels,
                node: p.node.map(|n| self.nodes[n].name.as_str()),
                pool: p.node.map(|n| self.pools[self.nodes[n].pool as usize].name.as_str()),
                status: p.status,
                status_since: p.status_since,
                ready: p.ready,
                restarts: p.restarts,
                message: match &p.unschedulable {
                    Some(reason) => Some(format!("FailedScheduling: {reason}")),
                    None => self.exit_message(id),
                },
                created: p.created,
            });
        }
    }

    fn firing_alerts(&self) -> Vec<AlertInfo> {
        let mut out = Vec::new();
        for (r, states) in self.alerts.iter().enumerate() {
            for (t, st) in states.iter().enumerate() {
                if let Some(since) = st.firing_since {
                    out.push(AlertInfo {
                        name: self.scenario.spec.monitoring.alerts[r].name.clone(),
                        target: self.alert_target_name(r, t),
                        since,
                    });
                }
            }
        }
        out
    }

    fn services(&self) -> Vec<ServiceInfo> {
        self.services
            .values()
            .map(|s| ServiceInfo { name: s.name.clone(), ready_endpoints: s.ready_endpoints })
            .collect()
    }

    fn nodes(&self) -> Vec<NodeInfo> {
        self.nodes
            .iter()
            .map(|(id, n)| NodeInfo {
                name: n.name.clone(),
                pool: self.pools[n.pool as usize].name.clone(),
                cluster: self.clusters[n.cluster as usize].name.clone(),
                status: if n.gone {
                    NodeStatus::Removed
                } else if self.instances[n.instance].state == InstanceState::Stopped {
                    NodeStatus::Stopped
                } else if self.is_kube_node(id) {
                    // What `kubectl get nodes` shows: the API's condition, which lags behind the
                    // machine by the controller's grace period.
                    if n.health.condition == ReadyCond::True { NodeStatus::Ready } else { NodeStatus::NotReady }
                } else if n.up {
                    NodeStatus::Ready
                } else {
                    NodeStatus::NotReady
                },
                conditions: if n.gone || !self.is_kube_node(id) {
                    Vec::new()
                } else {
                    let mut c = Vec::new();
                    match n.health.condition {
                        ReadyCond::True => c.push("Ready"),
                        ReadyCond::False => c.push("NotReady"),
                        ReadyCond::Unknown => c.extend(["NotReady", "Unknown"]),
                    }
                    if n.health.disk_pressure {
                        c.push("DiskPressure");
                    }
                    if n.cordoned {
                        c.push("SchedulingDisabled");
                    }
                    c
                },
                reason: (self.is_kube_node(id) && n.health.condition != ReadyCond::True)
                    .then(|| n.health.reason.to_string()),
                manager: n.role == crate::spec::NodeRole::Manager && !n.gone,
                containers: n.pods.len() as u32,
                cpu_used: if n.running() { (self.cpu_demand_now(id) / n.cpu.max(1) as f64) as f32 } else { 0.0 },
            })
            .collect()
    }

    fn swarm_leader(&self, cluster: &str) -> Option<bool> {
        self.clusters.iter().find(|c| c.name == cluster && c.kind == crate::spec::ClusterKind::Swarm).map(|c| c.leader)
    }

    fn failed_operations(&self) -> Vec<FailedOperation> {
        self.history.failed_operations()
    }

    fn workloads(&self) -> Vec<WorkloadInfo> {
        self.workloads
            .values()
            .map(|w| WorkloadInfo {
                name: w.name.clone(),
                replicas: w.replicas,
                ready: w.active.iter().filter(|&&p| self.pods[p].ready).count() as u32,
                cluster: self.clusters[w.cluster as usize].name.clone(),
            })
            .collect()
    }

    fn backends(&self) -> Vec<BackendInfo> {
        let mut out = Vec::new();
        for (i, lb) in self.lbs.iter().enumerate() {
            for b in &lb.backends {
                let svc = &self.services[b.service];
                out.push(BackendInfo {
                    load_balancer: self.scenario.spec.cluster.load_balancers[i].name.clone(),
                    service: svc.name.clone(),
                    cluster: self.clusters[svc.cluster as usize].name.clone(),
                    enabled: b.enabled,
                    healthy: b.marked_up,
                });
            }
        }
        out
    }
}
