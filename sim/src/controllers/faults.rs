//! Fault injection: the scenario's timed faults, applied to the model. Each application is
//! recorded with how many objects it hit, so a fault that matched nothing is visible.

use crate::history::FaultRecord;
use crate::ids::{ConfigMapId, PodId};
use crate::rng;
use crate::spec::FaultSpec;
use crate::validate::selects;
use crate::world::{Container, Event, ExitReason, Phase, World};

impl World {
    /// Fault number `i` fires.
    pub(crate) fn on_fault(&mut self, i: usize) {
        let now = self.now;
        let fault = self.scenario.spec.faults[i].clone();
        let (target, matched) = match &fault {
            FaultSpec::ConfigMapUpdate(u) => {
                let found = self.config_maps.iter().find(|(_, c)| c.name == u.config_map).map(|(id, _)| id);
                match found {
                    Some(cm) => {
                        let c = &mut self.config_maps[cm];
                        c.version += 1;
                        let version = c.version;
                        let sync = self.scenario.spec.cluster.kubelet.sync_frequency;
                        self.at(now.after(sync), Event::VolumeRefresh { cm, version });
                        self.history.note(now, &u.config_map, || format!("updated to version {version}"));
                        (u.config_map.clone(), 1)
                    }
                    None => (u.config_map.clone(), 0),
                }
            }
            FaultSpec::ContainerCrash(c) => {
                // Pods carry their workload's labels: only matching workloads' pods can match.
                let mut candidates: Vec<PodId> = self
                    .workloads
                    .values()
                    .filter(|w| selects(&c.selector, &w.labels))
                    .flat_map(|w| w.active.iter().copied())
                    .filter(|&id| {
                        let p = &self.pods[id];
                        p.phase == Phase::Bound && matches!(p.container, Container::Running)
                    })
                    .collect();
                candidates.sort();
                let n = c.count.map_or(candidates.len(), |k| (k as usize).min(candidates.len()));
                // A partial Fisher-Yates shuffle picks `n` of them.
                for k in 0..n {
                    let j = k + rng::index(&mut self.rng.faults, candidates.len() - k);
                    candidates.swap(k, j);
                }
                candidates.truncate(n);
                candidates.sort_unstable();
                for &pod in &candidates {
                    self.container_exited(pod, ExitReason::Crashed);
                }
                let sel: Vec<String> = c.selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (sel.join(","), n as u32)
            }
            FaultSpec::NodeRemoved(r) => {
                let found = self.nodes.iter().find(|(_, n)| n.name == r.node && !n.gone).map(|(id, _)| id);
                match found {
                    Some(node) => {
                        self.nodes[node].gone = true;
                        self.live_nodes -= 1;
                        self.history.note(now, &r.node, || "node removed".into());
                        let pods: Vec<PodId> = self.nodes[node].pods.iter().copied().collect();
                        for pod in pods {
                            match self.pods[pod].container {
                                Container::Running | Container::Starting { .. } | Container::Stopping { .. } => {
                                    self.container_exited(pod, ExitReason::NodeLost)
                                }
                                _ => {
                                    let p = &mut self.pods[pod];
                                    p.container = Container::Exited;
                                    p.epoch += 1;
                                    self.refresh_endpoints(pod);
                                    self.refresh_status(pod);
                                }
                            }
                        }
                        self.podgc_node_gone(node);
                        (r.node.clone(), 1)
                    }
                    None => (r.node.clone(), 0),
                }
            }
        };
        self.history.faults.push(FaultRecord {
            at: now,
            kind: fault.key().to_string(),
            target,
            matched,
            note: fault.note().map(str::to_string),
        });
    }

    /// The kubelets have written `version` of a ConfigMap into its volumes; older subPath bind
    /// sources no longer exist.
    pub(crate) fn on_volume_refresh(&mut self, cm: ConfigMapId, version: u32) {
        let c = &mut self.config_maps[cm];
        c.refreshed = c.refreshed.max(version);
    }
}
