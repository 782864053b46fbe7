//! Fault injection: the scenario's timed faults, applied to the model. Each application is
//! recorded with how many objects it hit, so a fault that matched nothing is visible.

use crate::history::FaultRecord;
use crate::ids::{ConfigMapId, PodId};
use crate::rng;
use crate::spec::{FaultSpec, NodeScope};
use crate::validate::selects;
use crate::world::{Container, Event, ExitReason, InstanceState, Phase, World};

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
                let n = c.count.map_or(candidates.len(), |k| (k.value() as usize).min(candidates.len()));
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
            FaultSpec::NodeRemoved(_) => {
                let target = fault.target_fields().and_then(|f| f.target()).expect("validated target");
                let nodes = self.target_nodes(target, &mut self.rng.fault_target(self.fault_keys[i]), |n| !n.gone);
                for &node in &nodes {
                    let inst = self.nodes[node].instance;
                    let i = &mut self.instances[inst];
                    if let Some(since) = i.billed_since.take() {
                        i.billed_ms += now.0 - since.0;
                    }
                    i.state = InstanceState::Released;
                    i.epoch += 1;
                    self.node_remove(node);
                }
                (self.target_label(target, &nodes), nodes.len() as u32)
            }
            FaultSpec::StockChange(c) => {
                let cloud = self.scenario.spec.cluster.cloud.as_ref().expect("validated: stock needs a cloud");
                let ty = cloud.instance_types.iter().position(|t| t.name == c.instance_type).expect("validated") as u32;
                let zone = self.zones.iter().position(|z| *z == c.zone).expect("validated") as u32;
                self.stock.insert((ty, zone, c.pricing), i64::from(c.available));
                let target = format!("{} {} {}", c.instance_type, c.zone, c.pricing.name());
                self.history.note(now, &target, || format!("stock set to {}", c.available));
                (target, 1)
            }
            FaultSpec::DnsFailure(f) | FaultSpec::KubeletFailure(f) => {
                let dns = matches!(fault, FaultSpec::DnsFailure(_));
                let name = self.scenario.spec.cluster.cluster_of(f.cluster.as_deref()).to_string();
                let c = self.clusters.iter().position(|x| x.name == name).expect("validated");
                if dns {
                    self.clusters[c].dns_broken_for_new = true;
                } else {
                    self.clusters[c].kubelet_broken_for_new = true;
                }
                let mut hit = 0;
                if f.nodes == NodeScope::All {
                    for n in self.nodes.values_mut() {
                        if n.cluster == c as u32 && !n.gone {
                            if dns {
                                n.dns_broken = true;
                            } else {
                                n.kubelet_broken = true;
                            }
                            hit += 1;
                        }
                    }
                } else {
                    // Counted as one: the rule is in force for every node that joins from now.
                    hit = 1;
                }
                let what = if dns { "cluster DNS broken" } else { "kubelet broken" };
                let scope = if f.nodes == NodeScope::All { "all nodes" } else { "nodes joining from now" };
                self.history.note(now, &name, || format!("{what} on {scope}"));
                (format!("{name} ({scope})"), hit)
            }
            FaultSpec::DockerHung(_)
            | FaultSpec::RuntimeHung(_)
            | FaultSpec::PlegUnhealthy(_)
            | FaultSpec::KubeletDown(_)
            | FaultSpec::NetworkLoss(_)
            | FaultSpec::NodeOverload(_)
            | FaultSpec::DiskFull(_) => {
                let target = fault.target_fields().and_then(|f| f.target()).expect("validated target");
                // A machine that is down has no agents to break.
                let nodes = self.target_nodes(target, &mut self.rng.fault_target(self.fault_keys[i]), |n| n.running());
                for &node in &nodes {
                    self.agent_fault(node, &fault);
                }
                (self.target_label(target, &nodes), nodes.len() as u32)
            }
            FaultSpec::NodeFailure(f) => {
                let mut hit = 0;
                for name in &f.nodes {
                    match self.live_node(name).ok() {
                        Some(node) => self.hang_node(node),
                        None => {
                            // Armed: the node of that name comes up failed when it joins.
                            self.fail_on_join.insert(name.clone());
                        }
                    }
                    hit += 1;
                }
                let mut target = f.nodes.join(",");
                let fields = crate::spec::TargetFields::of(&None, &f.node_of, &f.pool, f.pick);
                if let Some(t) = fields.target() {
                    let nodes = self.target_nodes(t, &mut self.rng.fault_target(self.fault_keys[i]), |n| n.running());
                    for &node in &nodes {
                        self.hang_node(node);
                    }
                    hit += nodes.len() as u32;
                    if !target.is_empty() {
                        target.push_str(", ");
                    }
                    target.push_str(&self.target_label(t, &nodes));
                }
                if let Some(k) = f.next_to_join {
                    let name = self.scenario.spec.cluster.cluster_of(f.cluster.as_deref()).to_string();
                    let c = self.clusters.iter().position(|x| x.name == name).expect("validated");
                    self.clusters[c].fail_next_joins += k;
                    hit += k;
                    if !target.is_empty() {
                        target.push_str(", ");
                    }
                    target.push_str(&format!("next {k} node(s) to join {name}"));
                }
                (target, hit)
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

    /// A `nodeFailure` hits `node`: it hangs until rebooted.
    fn hang_node(&mut self, node: crate::ids::NodeId) {
        self.nodes[node].failed = true;
        let name = self.nodes[node].name.clone();
        self.history.note(self.now, &name, || "hangs: stops reporting until rebooted".into());
        self.node_down(node);
    }

    /// How a fault record names what a target resolved to: the nodes, and the selector when
    /// the target was not a name (`worker-2 (nodeOf app=redis)`).
    fn target_label(&self, target: crate::spec::NodeTarget<'_>, nodes: &[crate::ids::NodeId]) -> String {
        let names: Vec<&str> = nodes.iter().map(|&n| self.nodes[n].name.as_str()).collect();
        match target {
            crate::spec::NodeTarget::Named(n) => n.to_string(),
            other if names.is_empty() => format!("nothing ({})", other.describe()),
            other => format!("{} ({})", names.join(","), other.describe()),
        }
    }

    /// The kubelets have written `version` of a ConfigMap into its volumes; older subPath bind
    /// sources no longer exist.
    pub(crate) fn on_volume_refresh(&mut self, cm: ConfigMapId, version: u32) {
        let c = &mut self.config_maps[cm];
        c.refreshed = c.refreshed.max(version);
    }
}
