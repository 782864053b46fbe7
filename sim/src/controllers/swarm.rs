//! Swarm mode: Raft quorum and leader election among the managers, task placement, heartbeats,
//! and the operations that change who manages (join, promote, leave, `--force-new-cluster`).
//!
//! - **Quorum**: the managers that are members (role manager, not gone) have a quorum while
//!   `floor(N/2) + 1` of them are reachable (their daemon is up). A manager that joins is a
//!   member at once and reachable only once its join completes (`managerJoinTime`), so going
//!   from one manager to two passes through a moment with one vote out of two.
//! - **Leader**: losing the quorum loses the leader at once; regaining it elects one after the
//!   Raft election timeout (10-20 s). Without a leader, running tasks keep running but nothing
//!   is scheduled, restarted, scaled, joined, promoted or removed; refused operations return
//!   swarmkit's error text. Every leaderless period is recorded in the history.
//! - **Placement** (swarmkit's scheduler): the nodes that are up, `active` and have the task's
//!   reserved CPU and memory free, ranked by fewest tasks of this service, then fewest tasks in
//!   total; ties are broken at random (the network stream). Nothing rebalances when a node
//!   joins, but tasks still pending are placed on it.
//! - **Heartbeats**: a node that goes silent is marked down after the dispatcher's grace period
//!   (13.5-16.5 s); its tasks are then shut down and replaced on the other nodes.
//! - **Restarts**: the leader's orchestrator replaces a task that exits after the restart delay
//!   (5 s, no exponential backoff); while there is no leader, exited tasks stay down.

use crate::defaults;
use crate::ids::{NodeId, PodId};
use crate::rng;
use crate::spec::{ClusterKind, NodeRole};
use crate::time::SimTime;
use crate::world::{Container, Event, Phase, World};

/// Whether `members` Raft members of which `reachable` answer have a quorum (`floor(N/2)+1`).
pub fn has_quorum(members: u32, reachable: u32) -> bool {
    members > 0 && reachable > members / 2
}

impl World {
    /// Raft members and how many of them are reachable, in swarm cluster `c`.
    pub(crate) fn swarm_managers(&self, c: u32) -> (u32, u32) {
        let (mut members, mut up) = (0u32, 0u32);
        for n in self.nodes.values() {
            if n.cluster == c && n.role == NodeRole::Manager && !n.gone {
                members += 1;
                up += u32::from(n.up);
            }
        }
        (members, up)
    }

    /// Whether swarm cluster `c`'s managers have a quorum now.
    pub(crate) fn swarm_has_quorum(&self, c: u32) -> bool {
        let (members, up) = self.swarm_managers(c);
        has_quorum(members, up)
    }

    /// A manager came, went, or changed reachability: the leader is lost at once without a
    /// quorum; with one regained, an election starts.
    pub(crate) fn swarm_quorum_changed(&mut self, c: u32) {
        if self.clusters[c as usize].kind != ClusterKind::Swarm {
            return;
        }
        let quorum = self.swarm_has_quorum(c);
        let now = self.now;
        if self.clusters[c as usize].leader && !quorum {
            let (members, up) = self.swarm_managers(c);
            self.lose_leader(c, || {
                format!(
                    "swarm lost its leader: {up} of {members} managers reachable, a quorum needs {}",
                    members / 2 + 1
                )
            });
            return;
        }
        let cl = &mut self.clusters[c as usize];
        if !cl.leader && quorum && !cl.electing {
            cl.electing = true;
            cl.election_epoch += 1;
            let epoch = cl.election_epoch;
            let wait =
                rng::uniform_ms(&mut self.rng.swarm, defaults::SWARM_ELECTION_MIN_MS, defaults::SWARM_ELECTION_MAX_MS);
            self.at(SimTime(now.0 + wait), Event::LeaderElected { cluster: c, epoch });
        } else if !cl.leader && !quorum && cl.electing {
            cl.electing = false;
            cl.election_epoch += 1;
        }
    }

    /// The leader is gone: a leaderless period starts (recorded in the history).
    fn lose_leader(&mut self, c: u32, why: impl FnOnce() -> String) {
        let cl = &mut self.clusters[c as usize];
        if !cl.leader {
            return;
        }
        cl.leader = false;
        let name = cl.name.clone();
        self.history.leaderless.push((name.clone(), self.now, None));
        self.history.note(self.now, &name, why);
    }

    /// A machine joined swarm cluster `c` as a manager: a Raft member from now on, voting once
    /// its join completes. `docker swarm join` waits for the new member and reports what it
    /// finds, so a join that leaves the swarm without a quorum fails with swarmkit's text.
    pub(crate) fn swarm_manager_joined(&mut self, node: NodeId) {
        let c = self.nodes[node].cluster;
        let name = self.nodes[node].name.clone();
        let now = self.now;
        self.history.note(now, &name, || "joined the swarm as a manager; catching up".into());
        self.swarm_quorum_changed(c);
        if self.leaderless(c) {
            self.history.note(now, &name, || format!("docker swarm join: {}", defaults::SWARM_NO_LEADER));
            self.history.actions.push(crate::history::ActionRecord {
                from_policy: false,
                observed: None,
                issued: now,
                done: now,
                by: format!("swarm join ({name})"),
                action: format!("docker swarm join --token <manager token> (on {name})"),
                outcome: Err(defaults::SWARM_NO_LEADER.to_string()),
            });
        }
        let r = self.clusters[c as usize].def.manager_join_time;
        let wait = rng::uniform_ms(&mut self.rng.swarm, r.min.ms(), r.max.ms());
        let epoch = self.nodes[node].epoch;
        self.at(SimTime(now.0 + wait), Event::ManagerReachable { node, epoch });
    }

    /// The election timeout has passed with a quorum reachable: a leader takes over, and its
    /// orchestrator catches up on everything left undone.
    pub(crate) fn on_leader_elected(&mut self, c: u32, epoch: u32) {
        let cl = &self.clusters[c as usize];
        if cl.election_epoch != epoch || !cl.electing || !self.swarm_has_quorum(c) {
            return;
        }
        let now = self.now;
        let cl = &mut self.clusters[c as usize];
        cl.electing = false;
        cl.leader = true;
        let name = cl.name.clone();
        if let Some(open) = self.history.leaderless.iter_mut().rev().find(|r| r.0 == name && r.2.is_none()) {
            open.2 = Some(now);
        }
        self.history.note(now, &name, || "swarm elected a leader".into());
        self.swarm_orchestrate(c);
    }

    /// The leader's orchestrator: tasks of nodes that are down move elsewhere, exited tasks on
    /// live nodes are restarted, pending ones are placed.
    fn swarm_orchestrate(&mut self, c: u32) {
        let down: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.cluster == c && !n.up && !n.pods.is_empty())
            .map(|(id, _)| id)
            .collect();
        for node in down {
            let tasks: Vec<PodId> =
                self.nodes[node].pods.iter().copied().filter(|&p| self.pods[p].phase == Phase::Bound).collect();
            for pod in tasks {
                self.swarm_replace(pod, "its node is down");
            }
        }
        let exited: Vec<PodId> = self
            .workloads
            .values()
            .filter(|w| w.cluster == c)
            .flat_map(|w| w.active.iter().copied())
            .filter(|&p| {
                let pod = &self.pods[p];
                pod.phase == Phase::Bound
                    && pod.container == Container::Exited
                    && pod.node.is_some_and(|n| self.nodes[n].running())
            })
            .collect();
        for pod in exited {
            self.swarm_restart_later(pod);
        }
        self.cluster_changed();
    }

    /// Schedules the orchestrator's replacement start of an exited task after the restart delay.
    pub(crate) fn swarm_restart_later(&mut self, pod: PodId) {
        let until = SimTime(self.now.0 + defaults::SWARM_RESTART_DELAY_MS);
        let p = &mut self.pods[pod];
        p.container = Container::Waiting { until, backoff: true };
        p.epoch += 1;
        let epoch = p.epoch;
        self.at(until, Event::Restart { pod, epoch });
        self.refresh_status(pod);
    }

    /// Deletes a task and lets its service create a replacement, recording the move.
    fn swarm_replace(&mut self, pod: PodId, why: &str) {
        let w = self.pods[pod].workload;
        let from = self.pods[pod].node;
        let before = self.workloads[w].all_pods.len();
        self.delete_pod(pod, true);
        let created: Vec<PodId> = self.workloads[w].all_pods[before..].to_vec();
        for new in created {
            self.record_move(pod, from, new, why);
        }
    }

    /// Swarm placement for a task of a swarm service.
    pub(crate) fn swarm_pick(&mut self, pod: PodId) -> Result<NodeId, String> {
        let w = self.pods[pod].workload;
        let c = self.workloads[w].cluster;
        if self.clusters[c as usize].kind == ClusterKind::ClassicSwarm {
            return self.classic_pick(pod);
        }
        if self.leaderless(c) {
            return Err(defaults::SWARM_NO_LEADER.to_string());
        }
        let (cpu, mem) = (self.workloads[w].cpu, self.workloads[w].mem);
        let mut best: Option<(u32, usize)> = None;
        let mut tied: Vec<NodeId> = Vec::new();
        let mut short = 0;
        for (id, n) in self.nodes.iter() {
            if n.cluster != c || !n.schedulable() || !n.available || !self.selector_admits(w, id) {
                continue;
            }
            if n.req_cpu + cpu > n.cpu || n.req_mem + mem > n.mem {
                short += 1;
                continue;
            }
            let rank = (n.by_workload.get(w), n.pods.len());
            match best {
                Some(b) if rank > b => {}
                Some(b) if rank == b => tied.push(id),
                _ => {
                    best = Some(rank);
                    tied.clear();
                    tied.push(id);
                }
            }
        }
        if tied.is_empty() {
            return Err(format!("no suitable node (insufficient resources on {short} nodes)"));
        }
        let pick = if tied.len() == 1 { 0 } else { rng::index(&mut self.rng.network, tied.len()) };
        Ok(tied[pick])
    }

    /// A swarm node stopped sending heartbeats: the managers notice after the grace period.
    pub(crate) fn swarm_node_silent(&mut self, node: NodeId) {
        let grace =
            rng::uniform_ms(&mut self.rng.network, defaults::SWARM_NODE_DOWN_MIN_MS, defaults::SWARM_NODE_DOWN_MAX_MS);
        let epoch = self.nodes[node].epoch;
        self.at(SimTime(self.now.0 + grace), Event::SwarmNodeDown { node, epoch });
    }

    /// The node is marked down: its tasks are replaced elsewhere (if there is a leader to do it).
    pub(crate) fn on_swarm_node_down(&mut self, node: NodeId, epoch: u32) {
        let n = &self.nodes[node];
        if n.epoch != epoch || n.up {
            return;
        }
        let name = n.name.clone();
        if self.leaderless(n.cluster) {
            self.history.note(self.now, &name, || "node down; no leader to reschedule its tasks".into());
            return;
        }
        self.history.note(self.now, &name, || "node marked down; its tasks are rescheduled".into());
        let tasks: Vec<PodId> =
            self.nodes[node].pods.iter().copied().filter(|&p| self.pods[p].phase == Phase::Bound).collect();
        for pod in tasks {
            self.swarm_replace(pod, "its node is down");
        }
    }

    /// A manager that joined is now reachable (unless its daemon hangs).
    pub(crate) fn on_manager_reachable(&mut self, node: NodeId, epoch: u32) {
        let n = &self.nodes[node];
        let running = self.instances[n.instance].state == crate::world::InstanceState::Running;
        if n.epoch != epoch || n.gone || n.failed || !running {
            // A reboot in the meantime brings it up through its own boot and join.
            return;
        }
        self.node_up(node);
    }

    /// `docker swarm init --force-new-cluster` on a manager: it becomes the only Raft member
    /// and, after an election, the leader; the other managers are out of the swarm.
    pub(crate) fn op_force_new_cluster(&mut self, node: &str) -> Result<String, String> {
        let id = self.live_node(node)?;
        let (c, n) = (self.nodes[id].cluster, &self.nodes[id]);
        if self.clusters[c as usize].kind != ClusterKind::Swarm || n.role != NodeRole::Manager {
            return Err(format!("Error response from daemon: {node} is not a swarm manager"));
        }
        if !n.up {
            return Err(format!("Cannot connect to the Docker daemon on {node}"));
        }
        let others: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(o, m)| *o != id && m.cluster == c && m.role == NodeRole::Manager && !m.gone)
            .map(|(o, _)| o)
            .collect();
        for o in &others {
            self.node_remove(*o);
        }
        // The old Raft state is discarded: whatever leader there was is gone until re-elected.
        self.lose_leader(c, || "swarm re-initialised with --force-new-cluster: electing a leader".into());
        self.clusters[c as usize].electing = false;
        self.swarm_quorum_changed(c);
        Ok(format!("Swarm initialized on {node} with a new cluster; {} other manager(s) dropped", others.len()))
    }

    /// `docker node promote`: a live worker becomes a manager (a reachable Raft member).
    pub(crate) fn op_promote(&mut self, node: &str) -> Result<String, String> {
        let id = self.live_node(node)?;
        let c = self.nodes[id].cluster;
        if self.clusters[c as usize].kind != ClusterKind::Swarm {
            return Err(format!("{node} is not in a swarm-mode cluster"));
        }
        if self.leaderless(c) {
            return Err(defaults::SWARM_NO_LEADER.to_string());
        }
        if self.nodes[id].role == NodeRole::Manager {
            return Ok(format!("Node {node} is already a manager."));
        }
        self.nodes[id].role = NodeRole::Manager;
        self.swarm_quorum_changed(c);
        Ok(format!("Node {node} promoted to a manager in the swarm."))
    }

    /// `docker swarm leave --force` then `docker swarm join` on the same machine: the node is out
    /// of the swarm (its tasks rescheduled, a failed daemon's state wiped) and joins again as a
    /// node of `into_pool` after the join time.
    pub(crate) fn op_rejoin(&mut self, node: &str, into_pool: &str) -> Result<String, String> {
        let (id, inst) = self.instance_of(node)?;
        let Some(pool) = self.pools.iter().position(|p| p.name == into_pool) else {
            return Err(format!("no node pool named `{into_pool}`"));
        };
        if !self.clusters[self.pools[pool].cluster as usize].kind.is_swarm() {
            return Err(format!("pool `{into_pool}` is not in a swarm cluster"));
        }
        if self.instances[inst].state != crate::world::InstanceState::Running {
            return Err(format!("IncorrectInstanceStatus: {node} is not running"));
        }
        let same_pool = self.nodes[id].pool as usize == pool;
        self.node_remove(id);
        let joins_as = if same_pool { node.to_string() } else { self.reserve_name(pool) };
        let i = &mut self.instances[inst];
        i.node = None;
        i.join_pool = pool as u32;
        i.joins_as = Some(joins_as.clone());
        i.epoch += 1;
        let epoch = i.epoch;
        self.join_later(inst, epoch);
        Ok(format!("{node} left the swarm; joining again as {joins_as}"))
    }

    /// Whether a swarm-mode task may be started now: only the leader's orchestrator starts one.
    pub(crate) fn swarm_may_start(&self, pod: PodId) -> bool {
        !self.leaderless(self.workloads[self.pods[pod].workload].cluster)
    }
}

#[cfg(test)]
mod tests {
    use super::has_quorum;

    #[test]
    fn quorum_is_a_strict_majority() {
        assert!(has_quorum(1, 1));
        assert!(!has_quorum(2, 1));
        assert!(has_quorum(3, 2));
        assert!(!has_quorum(4, 2));
        assert!(has_quorum(5, 3));
        assert!(!has_quorum(0, 0));
    }
}
