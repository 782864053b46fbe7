//! The DaemonSet controller: one pod on every schedulable node of the DaemonSet's cluster.
//!
//! A node that joins (or comes back) gets its pod at once; the pod is pinned to that node and
//! never moves. A pod whose node went away for good is left to PodGC; a pending pod pinned to a
//! node that is gone is deleted.

use std::collections::BTreeSet;

use crate::ids::{NodeId, WorkloadId};
use crate::world::{Phase, World};

impl World {
    /// Creates the missing pods of DaemonSet `w` and drops pending ones for vanished nodes.
    pub(crate) fn daemonset_sync(&mut self, w: WorkloadId) {
        let c = self.workloads[w].cluster;
        let mut covered: BTreeSet<NodeId> = BTreeSet::new();
        let mut stale = Vec::new();
        for &p in &self.workloads[w].active {
            let pod = &self.pods[p];
            if let Some(n) = pod.pinned {
                if pod.phase == Phase::Pending && self.nodes[n].gone {
                    stale.push(p);
                } else {
                    covered.insert(n);
                }
            }
        }
        for p in stale {
            self.start_deletion(p, true);
        }
        let targets: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|(id, n)| {
                n.cluster == c && n.schedulable() && !covered.contains(id) && self.selector_admits(w, *id)
            })
            .map(|(id, _)| id)
            .collect();
        for n in targets {
            let pod = self.create_pod(w);
            self.pods[pod].pinned = Some(n);
        }
    }
}
