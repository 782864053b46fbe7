//! Swarm mode, minimal: Raft quorum among the managers, task placement, heartbeats.
//!
//! - **Quorum**: the managers that are members (not removed) elect a leader while more than half
//!   of them are up (`floor(N/2) + 1`). Without a leader, running tasks keep running but nothing
//!   is scheduled and no node can join; refused operations return swarmkit's error text.
//! - **Placement** (swarmkit's scheduler): the nodes that are up and have the task's reserved
//!   CPU and memory free, ranked by fewest tasks of this service, then fewest tasks in total;
//!   ties are broken at random (the network stream). Nothing rebalances when a node joins, but
//!   tasks still pending are placed on it.
//! - **Heartbeats**: a node that goes silent is marked down after the dispatcher's grace period
//!   (13.5-16.5 s); its tasks are then shut down and replaced on the other nodes.
//! - **Restarts**: a task that exits is restarted after the restart delay (5 s), with no
//!   exponential backoff.

use crate::defaults;
use crate::ids::{NodeId, PodId};
use crate::rng;
use crate::spec::NodeRole;
use crate::time::SimTime;
use crate::world::{Event, Phase, World};

impl World {
    /// Whether swarm cluster `c` has a leader now.
    pub(crate) fn swarm_has_leader(&self, c: u32) -> bool {
        let (mut members, mut up) = (0u32, 0u32);
        for n in self.nodes.values() {
            if n.cluster == c && n.role == NodeRole::Manager && !n.gone {
                members += 1;
                up += u32::from(n.up);
            }
        }
        members > 0 && up > members / 2
    }

    /// Swarm placement for a task of a swarm service.
    pub(crate) fn swarm_pick(&mut self, pod: PodId) -> Result<NodeId, String> {
        let w = self.pods[pod].workload;
        let c = self.workloads[w].cluster;
        if !self.swarm_has_leader(c) {
            return Err(defaults::SWARM_NO_LEADER.to_string());
        }
        let (cpu, mem) = (self.workloads[w].cpu, self.workloads[w].mem);
        let mut best: Option<(u32, usize)> = None;
        let mut tied: Vec<NodeId> = Vec::new();
        let mut short = 0;
        for (id, n) in self.nodes.iter() {
            if n.cluster != c || !n.schedulable() || !self.selector_admits(w, id) {
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
        if !self.swarm_has_leader(n.cluster) {
            self.history.note(self.now, &name, || "node down; no leader to reschedule its tasks".into());
            return;
        }
        self.history.note(self.now, &name, || "node marked down; its tasks are rescheduled".into());
        let tasks: Vec<PodId> =
            self.nodes[node].pods.iter().copied().filter(|&p| self.pods[p].phase == Phase::Bound).collect();
        for pod in tasks {
            self.delete_pod(pod, true);
        }
    }
}
