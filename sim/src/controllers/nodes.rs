//! Nodes going down, coming up, and leaving their cluster, and the node-level faults (DNS,
//! kubelet).
//!
//! A node is *up* while its machine runs and its agent (kubelet, or the swarm daemon) reports.
//! When it goes down (stopped, rebooting) its containers die with it; its pods stay bound, and
//! when it comes back the kubelet starts them again with a fresh backoff (the backoff lives in
//! the kubelet's memory). On Kubernetes the node lifecycle controller sees the silence after its
//! grace period, marks the pods NotReady and evicts them 300 s later (`nodelifecycle.rs`); the
//! node's agents and their faults are in `nodeagent.rs`. A swarm manager gives up on a silent
//! node after the heartbeat grace period and replaces its tasks elsewhere
//! (`controllers/swarm.rs`).
//!
//! A node that *leaves* (released, reimaged, removed) is gone for good: PodGC deletes its pods
//! (Kubernetes); swarm managers replace them (`swarm.rs`, `classic.rs`).
//!
//! A node that *fails* (`nodeFailure`, or an agent stalled by CPU saturation) goes down and
//! stays down through boots until it is rebooted, or leaves its swarm and joins again.

use crate::ids::{NodeId, PodId};
use crate::spec::ClusterKind;
use crate::world::{Container, ExitReason, World};

impl World {
    /// The node stops reporting: containers die, nothing new lands here.
    pub(crate) fn node_down(&mut self, node: NodeId) {
        if !self.nodes[node].up {
            return;
        }
        let was_schedulable = self.nodes[node].schedulable();
        let n = &mut self.nodes[node];
        n.up = false;
        n.epoch += 1;
        let c = n.cluster as usize;
        if was_schedulable {
            self.clusters[c].live_nodes -= 1;
        }
        self.sched_node_changed(node);
        let name = self.nodes[node].name.clone();
        self.history.note(self.now, &name, || "node down".into());
        self.stop_containers_on(node);
        match self.clusters[c].kind {
            ClusterKind::Swarm => {
                self.swarm_node_silent(node);
                self.swarm_quorum_changed(c as u32);
            }
            ClusterKind::ClassicSwarm => self.classic_node_silent(node),
            ClusterKind::Kubernetes => {
                self.machine_down_clears_agents(node);
                self.node_health_changed(node);
            }
        }
        self.cpu_refresh(node);
    }

    /// The node is back (after a start or a reboot): the kubelet starts its pods' containers.
    pub(crate) fn node_up(&mut self, node: NodeId) {
        let n = &mut self.nodes[node];
        if n.up || n.gone {
            return;
        }
        n.up = true;
        n.epoch += 1;
        let c = n.cluster as usize;
        if self.nodes[node].schedulable() {
            self.clusters[c].live_nodes += 1;
        }
        self.sched_node_changed(node);
        let name = self.nodes[node].name.clone();
        self.history.note(self.now, &name, || "node Ready".into());
        if self.clusters[c].kind == ClusterKind::Swarm {
            self.swarm_quorum_changed(c as u32);
        }
        // Kubernetes: the kubelet registers and posts its status; the controller follows (and
        // starts the containers once the kubelet can act).
        self.node_health_changed(node);
        self.restart_stopped_containers(node);
        self.node_joined_cluster(node);
        self.cpu_refresh(node);
    }

    /// A node is (again) a member that takes pods: DaemonSets cover it, pending pods retry.
    pub(crate) fn node_joined_cluster(&mut self, node: NodeId) {
        let c = self.nodes[node].cluster;
        let daemonsets: Vec<_> = self
            .workloads
            .iter()
            .filter(|(_, w)| w.cluster == c && w.kind == crate::spec::WorkloadKind::DaemonSet)
            .map(|(id, _)| id)
            .collect();
        for w in daemonsets {
            self.daemonset_sync(w);
        }
        self.cluster_changed();
    }

    /// The node leaves its cluster for good (released, reimaged, or its Node object deleted).
    pub(crate) fn node_remove(&mut self, node: NodeId) {
        if self.nodes[node].gone {
            return;
        }
        let was_schedulable = self.nodes[node].schedulable();
        let n = &mut self.nodes[node];
        n.gone = true;
        n.up = false;
        n.epoch += 1;
        let c = n.cluster as usize;
        if was_schedulable {
            self.clusters[c].live_nodes -= 1;
        }
        self.sched_node_changed(node);
        let name = self.nodes[node].name.clone();
        self.history.note(self.now, &name, || "node removed from the cluster".into());
        self.stop_containers_on(node);
        match self.clusters[c].kind {
            ClusterKind::Swarm => {
                self.swarm_node_silent(node);
                self.swarm_quorum_changed(c as u32);
            }
            ClusterKind::ClassicSwarm => self.classic_node_removed(node),
            ClusterKind::Kubernetes => {
                // The Node object is gone: so are its conditions.
                self.history.node_condition(&name, "NotReady", self.now, false);
                self.history.node_condition(&name, "DiskPressure", self.now, false);
                self.podgc_node_gone(node);
            }
        }
        self.cpu_refresh(node);
    }

    /// Every container on `node` dies with it.
    fn stop_containers_on(&mut self, node: NodeId) {
        let pods: Vec<PodId> = self.nodes[node].pods.iter().copied().collect();
        for pod in pods {
            match self.pods[pod].container {
                Container::Running | Container::Starting { .. } | Container::Stopping { .. } => {
                    self.container_exited(pod, ExitReason::NodeLost)
                }
                Container::Waiting { .. } | Container::NotCreated => {
                    let p = &mut self.pods[pod];
                    p.container = Container::Exited;
                    p.epoch += 1;
                    self.refresh_endpoints(pod);
                    self.refresh_status(pod);
                }
                Container::Exited => {}
            }
        }
    }

    /// A node joins a cluster: faults in force for new nodes hit it.
    pub(crate) fn apply_new_node_faults(&mut self, node: NodeId) {
        let c = self.nodes[node].cluster as usize;
        let (dns, kubelet) = (self.clusters[c].dns_broken_for_new, self.clusters[c].kubelet_broken_for_new);
        let mut failed = self.fail_on_join.remove(&self.nodes[node].name);
        if !failed && self.clusters[c].fail_next_joins > 0 {
            self.clusters[c].fail_next_joins -= 1;
            failed = true;
        }
        let n = &mut self.nodes[node];
        n.dns_broken |= dns;
        n.kubelet_broken |= kubelet;
        if failed {
            n.failed = true;
            let name = n.name.clone();
            self.history.note(self.now, &name, || "joined with a hung daemon (nodeFailure): it never reports".into());
        }
    }
}
