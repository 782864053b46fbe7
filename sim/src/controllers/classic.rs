//! Classic (standalone) Docker Swarm as a hosted container service ran it.
//!
//! - **Placement**: the manager's filters (the node is healthy, its labels satisfy the
//!   container's `constraint:` (`nodeSelector`), no container of the same app when the app asks
//!   for anti-affinity, reserved CPU and memory fit), then its strategy. `spread` and `binpack`
//!   weigh each node as classic swarm's `weighNodes` does: `cpu% + memory%` of what reservations
//!   would use with the new container, where a resource the container reserves none of counts
//!   100 %; spread takes the lowest weight, then the fewest containers, binpack the highest
//!   weight, then the most containers (exited ones count too). With no reservations every node
//!   weighs the same, so spread goes to the emptiest node and binpack to the fullest. `freeCpu`
//!   is a capacity-aware rescheduler: the most CPU left after the demand the node carries now.
//! - **Node failure**: the manager refreshes each engine every 30-60 s and gives up after 3
//!   failures (90-180 s). A container of an app with `reschedule:on-node-failure` is then
//!   recreated on another node; others stay on the node and restart with its engine
//!   (`restart: always`) when it returns. A removed node's containers are gone for good.
//! - **The hosted service's quirks**, each a switch (`hosted` on the cluster): a redeploy
//!   ignores constraint changes; containers lost with a node stay in the control plane as
//!   ghosts (the app looks healthy, a redeploy creates nothing, only recreating the app helps);
//!   service discovery keeps the addresses of removed containers for a while; an offline node
//!   cannot be removed.

use crate::defaults;
use crate::ids::{NodeId, PodId, WorkloadId};
use crate::rng;
use crate::spec::{ClusterKind, PlacementStrategy};
use crate::time::SimTime;
use crate::world::{Event, ExitReason, Phase, World};

impl World {
    /// Classic swarm placement of one container: filters, then the cluster's strategy.
    pub(crate) fn classic_pick(&mut self, pod: PodId) -> Result<NodeId, String> {
        self.classic_pick_with(pod, None, 0.0)
    }

    /// Placement; with `headroom_for`, only nodes whose CPU takes `extra` more millicores (a drain
    /// that checks capacity) and never the node being drained.
    fn classic_pick_with(&mut self, pod: PodId, headroom_for: Option<NodeId>, extra: f64) -> Result<NodeId, String> {
        let w = self.pods[pod].workload;
        let c = self.workloads[w].cluster;
        let def = &self.clusters[c as usize].def;
        let strategy =
            if self.initial_placement { def.initial_placement.unwrap_or(def.strategy) } else { def.strategy };
        let (cpu, mem) = (self.workloads[w].cpu, self.workloads[w].mem);
        let anti = self.workloads[w].anti_affinity;
        let mut ranked: Vec<(i64, i64, NodeId)> = Vec::new();
        let mut reasons: Vec<&str> = Vec::new();
        for (id, n) in self.nodes.iter() {
            if n.cluster != c || !n.schedulable() {
                continue;
            }
            if Some(id) == headroom_for {
                continue;
            }
            if !self.selector_admits(w, id) {
                reasons.push("constraint");
                continue;
            }
            if anti && n.by_workload.get(w) > 0 {
                reasons.push("affinity");
                continue;
            }
            // classic swarm's weighNodes, in integer percent.
            let cpu_score = if cpu > 0 { ((n.req_cpu + cpu) * 100 / n.cpu.max(1)) as i64 } else { 100 };
            let mem_score = if mem > 0 { ((n.req_mem + mem) * 100 / n.mem.max(1)) as i64 } else { 100 };
            if cpu_score > 100 || mem_score > 100 {
                reasons.push("resources");
                continue;
            }
            let planned: f64 = self.drain_planned.iter().filter(|(t, _)| *t == id).map(|(_, d)| d).sum();
            let free_cpu = n.cpu as f64 - self.cpu_demand_now(id) - planned;
            if headroom_for.is_some() && free_cpu < extra {
                reasons.push("cpu headroom");
                continue;
            }
            let containers = n.pods.len() as i64;
            let key = match strategy {
                // Sorted ascending: the first is chosen.
                PlacementStrategy::Spread => (cpu_score + mem_score, containers),
                PlacementStrategy::Binpack => (-(cpu_score + mem_score), -containers),
                PlacementStrategy::Random => (0, 0),
                PlacementStrategy::FreeCpu => (-(free_cpu as i64), containers),
            };
            ranked.push((key.0, key.1, id));
        }
        if ranked.is_empty() {
            reasons.sort_unstable();
            reasons.dedup();
            let why = if reasons.is_empty() { "no healthy node".to_string() } else { reasons.join(", ") };
            return Err(format!("{} (filters: {why})", defaults::CLASSIC_NO_NODE));
        }
        let best = ranked.iter().map(|r| (r.0, r.1)).min().expect("not empty");
        let tied: Vec<NodeId> = ranked.iter().filter(|r| (r.0, r.1) == best).map(|r| r.2).collect();
        let pick = if tied.len() == 1 { 0 } else { rng::index(&mut self.rng.swarm, tied.len()) };
        Ok(tied[pick])
    }

    /// A classic node stopped answering: the manager notices after its refresh failures.
    pub(crate) fn classic_node_silent(&mut self, node: NodeId) {
        let wait = rng::uniform_ms(
            &mut self.rng.swarm,
            defaults::CLASSIC_FAILURE_DETECT_MIN_MS,
            defaults::CLASSIC_FAILURE_DETECT_MAX_MS,
        );
        let epoch = self.nodes[node].epoch;
        self.at(SimTime(self.now.0 + wait), Event::ClassicNodeFailed { node, epoch });
    }

    /// The manager marks the node unhealthy: containers that ask for it are rescheduled.
    pub(crate) fn on_classic_node_failed(&mut self, node: NodeId, epoch: u32) {
        let n = &self.nodes[node];
        if n.epoch != epoch || n.up || n.gone {
            return;
        }
        let name = n.name.clone();
        self.history.note(self.now, &name, || "engine unhealthy: the manager gave up on it".into());
        let pods: Vec<PodId> = self.nodes[node].pods.iter().copied().collect();
        for pod in pods {
            if self.pods[pod].phase == Phase::Bound && self.workloads[self.pods[pod].workload].reschedule {
                self.classic_reschedule(pod, "its node failed");
            }
        }
    }

    /// Recreates `pod` elsewhere: the old container is removed, a new one placed by strategy.
    fn classic_reschedule(&mut self, pod: PodId, why: &str) {
        let w = self.pods[pod].workload;
        let from = self.pods[pod].node;
        self.pods[pod].last_exit = Some(ExitReason::Rescheduled);
        self.remove_container(pod);
        let new = self.create_pod(w);
        self.record_move(pod, from, new, why);
    }

    /// The container is gone from the cluster: its record is deleted, and service discovery may
    /// keep its address for a while.
    fn remove_container(&mut self, pod: PodId) {
        let w = self.pods[pod].workload;
        let stale = self.clusters[self.workloads[w].cluster as usize].def.hosted.stale_records_for;
        let was_routed = self.pods[pod].serving || self.pods[pod].dead || self.pods[pod].in_endpoints;
        self.start_deletion(pod, true);
        if let Some(for_) = stale
            && was_routed
        {
            let cap = self.workloads[w].capacity_mrps;
            for k in 0..self.workloads[w].services.len() {
                let s = self.workloads[w].services[k];
                // Only callers resolve a service through discovery; the load balancer routes to
                // the containers the manager lists.
                if !self.topology.called[usize::from(s)] {
                    continue;
                }
                self.add_dead_capacity(s, cap as i64);
                self.at(self.now.after(for_), Event::StaleRecordExpired { svc: s, mrps: cap });
            }
            let name = self.pods[pod].name.clone();
            self.history.note(self.now, &name, || format!("removed; discovery keeps its address for {for_}"));
        }
    }

    /// Service discovery drops one stale address.
    pub(crate) fn on_stale_record_expired(&mut self, s: crate::ids::ServiceId, mrps: u64) {
        self.add_dead_capacity(s, -(mrps as i64));
    }

    /// A classic node left the cluster: containers that reschedule move, the rest are lost (as
    /// ghosts if the hosted control plane keeps them).
    pub(crate) fn classic_node_removed(&mut self, node: NodeId) {
        let pods: Vec<PodId> = self.nodes[node].pods.iter().copied().collect();
        for pod in pods {
            if self.pods[pod].phase != Phase::Bound {
                continue;
            }
            let w = self.pods[pod].workload;
            if self.workloads[w].reschedule {
                self.classic_reschedule(pod, "its node was removed");
            } else {
                self.classic_lose(pod);
            }
        }
    }

    /// A container is lost without a replacement; the hosted control plane may keep counting it.
    fn classic_lose(&mut self, pod: PodId) {
        let w = self.pods[pod].workload;
        if self.clusters[self.workloads[w].cluster as usize].def.hosted.ghost_containers {
            self.workloads[w].ghosts += 1;
            let name = self.pods[pod].name.clone();
            self.history.note(self.now, &name, || "lost; the control plane still lists it (ghost)".into());
        }
        self.remove_container(pod);
    }

    /// Containers `w` should have, as the control plane counts them (ghosts included).
    pub(crate) fn classic_missing(&self, w: WorkloadId) -> u32 {
        let wl = &self.workloads[w];
        wl.replicas.saturating_sub(wl.active.len() as u32 + wl.ghosts)
    }

    /// "Redeploy": the control plane creates the containers it thinks are missing and, unless
    /// the hosted service ignores constraint changes, moves containers off nodes their
    /// constraint no longer admits.
    pub(crate) fn op_redeploy(&mut self, workload: &str) -> Result<String, String> {
        let w = self.classic_workload(workload)?;
        let c = self.workloads[w].cluster;
        let mut moved = 0;
        if !self.clusters[c as usize].def.hosted.ignore_constraint_changes {
            let misplaced: Vec<PodId> = self.workloads[w]
                .active
                .iter()
                .copied()
                .filter(|&p| self.pods[p].node.is_some_and(|n| !self.selector_admits(w, n)))
                .collect();
            for pod in misplaced {
                self.classic_reschedule(pod, "redeployed: its node no longer matches the constraint");
                moved += 1;
            }
        }
        let missing = self.classic_missing(w);
        for _ in 0..missing {
            self.create_pod(w);
        }
        let ghosts = self.workloads[w].ghosts;
        Ok(format!(
            "{workload} redeployed: {missing} container(s) created, {moved} moved{}",
            if ghosts > 0 {
                format!("; the console lists {ghosts} container(s) that do not exist")
            } else {
                String::new()
            }
        ))
    }

    /// Delete the app and create it again: every container (and ghost) goes, `replicas` new ones
    /// are placed.
    pub(crate) fn op_recreate(&mut self, workload: &str) -> Result<String, String> {
        let w = self.classic_workload(workload)?;
        let pods: Vec<PodId> = self.workloads[w].active.iter().copied().collect();
        for pod in &pods {
            self.remove_container(*pod);
        }
        self.workloads[w].ghosts = 0;
        self.reconcile(w);
        Ok(format!("{workload} deleted and created again ({} container(s))", self.workloads[w].replicas))
    }

    /// Turns `reschedule:on-node-failure` on or off for an app (a configuration change).
    pub(crate) fn op_set_reschedule(&mut self, workload: &str, on: bool) -> Result<String, String> {
        let w = self.classic_workload(workload)?;
        self.workloads[w].reschedule = on;
        Ok(format!("{workload}: reschedule:on-node-failure {}", if on { "on" } else { "off" }))
    }

    /// Replaces a node's labels.
    pub(crate) fn op_set_labels(&mut self, node: &str, labels: &crate::spec::Labels) -> Result<String, String> {
        let id = self.live_node(node)?;
        self.nodes[id].labels = Some(labels.clone());
        self.sched_node_changed(id);
        let text: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Ok(format!("{node} labels set to [{}]", text.join(", ")))
    }

    /// Removes a node from its cluster (the machine keeps running, out of the cluster).
    pub(crate) fn op_remove_node(&mut self, node: &str) -> Result<String, String> {
        let id = self.live_node(node)?;
        let c = self.nodes[id].cluster;
        if self.leaderless(c) {
            return Err(defaults::SWARM_NO_LEADER.to_string());
        }
        match self.clusters[c as usize].kind {
            ClusterKind::ClassicSwarm => {
                if !self.nodes[id].up && self.clusters[c as usize].def.hosted.refuse_removing_offline_nodes {
                    return Err(format!("{node} is offline: the console does not allow removing it"));
                }
            }
            ClusterKind::Swarm => {
                if self.nodes[id].role == crate::spec::NodeRole::Manager {
                    return Err(format!(
                        "Error response from daemon: rpc error: code = FailedPrecondition desc = node {node} is a \
                         cluster manager and is a member of the raft cluster. It must be demoted to worker before \
                         removal"
                    ));
                }
            }
            ClusterKind::Kubernetes => {}
        }
        self.node_remove(id);
        Ok(format!("{node} removed from cluster {}", self.clusters[c as usize].name))
    }

    /// Moves every container off `node` while the cluster is healthy, each to a node with the
    /// CPU to carry it; refused (nothing moved) if one of them has nowhere to go.
    pub(crate) fn op_drain(&mut self, node: &str) -> Result<String, String> {
        let id = self.live_node(node)?;
        let c = self.nodes[id].cluster;
        if self.leaderless(c) {
            return Err(defaults::SWARM_NO_LEADER.to_string());
        }
        if self.clusters[c as usize].kind == ClusterKind::Swarm {
            self.nodes[id].available = false;
            let tasks: Vec<PodId> = self.nodes[id].pods.iter().copied().collect();
            for pod in tasks {
                self.delete_pod(pod, false);
            }
            return Ok(format!("{node} availability set to drain"));
        }
        let pods: Vec<PodId> =
            self.nodes[id].pods.iter().copied().filter(|&p| self.pods[p].phase == Phase::Bound).collect();
        // Plan first: each container's current demand must fit the headroom left on a target.
        let mut plan = Vec::new();
        for &pod in &pods {
            let demand = self.container_cpu_now(pod);
            // What earlier containers of this drain will add to each target counts too.
            self.drain_planned = plan.iter().map(|&(p, t)| (t, self.container_cpu_now(p))).collect();
            let picked = self.classic_pick_with(pod, Some(id), demand);
            self.drain_planned.clear();
            match picked {
                Ok(target) => plan.push((pod, target)),
                Err(e) => return Err(format!("cannot drain {node}: {} has nowhere to go ({e})", self.pods[pod].name)),
            }
        }
        self.nodes[id].available = false;
        let w_of: Vec<_> = plan.iter().map(|(p, t)| (*p, self.pods[*p].workload, *t)).collect();
        for (pod, w, target) in w_of {
            self.remove_container(pod);
            let new = self.create_pod(w);
            // The drain places it where it planned (the scheduler pass would not see the headroom).
            self.sched.queue.retain(|&p| p != new);
            self.bind(new, target);
            self.kubelet_admit(new);
            self.record_move(pod, Some(id), new, "drained");
        }
        Ok(format!("{node} drained: {} container(s) moved", plan.len()))
    }

    fn classic_workload(&self, name: &str) -> Result<WorkloadId, String> {
        match self.workloads.iter().find(|(_, w)| w.name == name) {
            Some((id, w)) if self.clusters[w.cluster as usize].kind == ClusterKind::ClassicSwarm => Ok(id),
            Some(_) => Err(format!("{name} is not an app of a classic swarm")),
            None => Err(format!("app {name} not found")),
        }
    }

    /// Records that `from_pod` was replaced by `new`, on the node it is bound to now; a
    /// replacement still pending gets its node and time when it is bound (`bind`).
    pub(crate) fn record_move(&mut self, from_pod: PodId, from: Option<NodeId>, new: PodId, why: &str) {
        let w = self.pods[new].workload;
        let rec = crate::history::MoveRecord {
            at: self.now,
            workload: self.workloads[w].name.clone(),
            from_pod: self.pods[from_pod].name.clone(),
            from_node: from.map(|n| self.nodes[n].name.clone()),
            to_pod: self.pods[new].name.clone(),
            to_node: self.pods[new].node.map(|n| self.nodes[n].name.clone()),
            placed_later: None,
            reason: why.to_string(),
        };
        if rec.to_node.is_none() {
            self.pending_moves.insert(new, self.history.moves.len());
        }
        self.history.moves.push(rec);
    }
}
