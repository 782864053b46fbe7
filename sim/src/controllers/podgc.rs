//! PodGC: removes pods bound to nodes that no longer exist, at its next periodic pass
//! (`gcCheckPeriod`, 20 s). Until then such pods stay in the API (and in endpoints, serving
//! nothing), as they do in a real cluster.

use crate::defaults;
use crate::ids::PodId;
use crate::time::SimTime;
use crate::world::{Event, World};

impl World {
    /// Makes sure a PodGC pass is scheduled at the next period boundary.
    pub(crate) fn request_podgc(&mut self) {
        if self.podgc_pending {
            return;
        }
        self.podgc_pending = true;
        let period = defaults::POD_GC_PERIOD_MS;
        let next = SimTime((self.now.0 / period + 1) * period);
        self.at(next, Event::PodGc);
    }

    /// A PodGC pass.
    pub(crate) fn on_podgc(&mut self) {
        self.podgc_pending = false;
        let orphans: Vec<PodId> = self.nodes.values().filter(|n| n.gone).flat_map(|n| n.pods.iter().copied()).collect();
        for pod in orphans {
            self.delete_pod(pod, true);
        }
    }
}
