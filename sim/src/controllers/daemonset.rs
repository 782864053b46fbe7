//! The DaemonSet controller: one pod on every schedulable node of the DaemonSet's cluster.
//!
//! A node that joins (or comes back) gets its pod at once; the pod is pinned to that node and
//! never moves. A pod whose node went away for good is left to PodGC; a pending pod pinned to a
//! node that is gone is deleted.
//!
//! A deleted or lost pod is replaced on its own node only, and only once it is gone from the API:
//! like the DaemonSet controller without surge (`podsShouldBeOnNode` in
//! kubernetes/pkg/controller/daemon), a node that still has a pod of the DaemonSet, even a
//! Terminating one, gets no new pod. Nothing here touches the pods of other nodes: a DaemonSet
//! has no replica count to restore.

use std::collections::BTreeSet;

use crate::ids::{NodeId, WorkloadId};
use crate::world::{Phase, World};

impl World {
    /// Creates the missing pods of DaemonSet `w` and drops pending ones for vanished nodes.
    pub(crate) fn daemonset_sync(&mut self, w: WorkloadId) {
        let c = self.workloads[w].cluster;
        let stale: Vec<_> = self.workloads[w]
            .active
            .iter()
            .copied()
            .filter(|&p| {
                self.pods[p].phase == Phase::Pending && self.pods[p].pinned.is_some_and(|n| self.nodes[n].gone)
            })
            .collect();
        for p in stale {
            self.start_deletion(p, true);
        }
        let covered: BTreeSet<NodeId> = self.workloads[w].active.iter().filter_map(|&p| self.pods[p].pinned).collect();
        // A Terminating pod still covers its node (it left `active` but not the node).
        let terminating_on = |n: NodeId| {
            self.nodes[n].pods.iter().any(|&p| self.pods[p].workload == w && self.pods[p].phase == Phase::Terminating)
        };
        let targets: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(id, n)| {
                n.cluster == c
                    && n.schedulable()
                    && !covered.contains(id)
                    && self.selector_admits(w, *id)
                    && !terminating_on(*id)
            })
            .map(|(id, _)| id)
            .collect();
        for n in targets {
            let pod = self.create_pod(w);
            self.pods[pod].pinned = Some(n);
        }
    }
}
