//! PodGC: removes pods bound to nodes that no longer exist.
//!
//! It passes every `gcCheckPeriod` (20 s). A pass that finds pods on a node missing from its
//! cache queues the node for `quarantineTime` (40 s) before checking it is truly gone, so the
//! pods are deleted at the pass 40 s after the first pass that saw the node missing: 40 to 60 s
//! after the node went. Until then they stay in the API (and in endpoints, serving nothing), as
//! in a real cluster.

use crate::ids::{NodeId, PodId};
use crate::time::SimTime;
use crate::world::{Event, World};

impl World {
    /// `node` is gone: schedule the PodGC pass that will delete its pods.
    pub(crate) fn podgc_node_gone(&mut self, node: NodeId) {
        let cp = &self.scenario.spec.cluster.control_plane;
        let (period, quarantine) = (cp.pod_gc_period.ms(), cp.pod_gc_quarantine.ms());
        let boundary = |t: u64| t.div_ceil(period) * period;
        // The first pass at or after the removal notices; the pass a quarantine later deletes.
        let due = SimTime(boundary(boundary(self.now.0) + quarantine));
        self.nodes[node].podgc_due = Some(due);
        self.at(due, Event::PodGc);
    }

    /// A PodGC pass: deletes the pods of nodes whose quarantine is over.
    pub(crate) fn on_podgc(&mut self) {
        let now = self.now;
        let orphans: Vec<PodId> = self
            .nodes
            .values()
            .filter(|n| n.gone && n.podgc_due.is_some_and(|d| d <= now))
            .flat_map(|n| n.pods.iter().copied())
            .collect();
        for pod in orphans {
            self.delete_pod(pod, true);
        }
    }
}
