//! The StatefulSet controller with `podManagementPolicy: OrderedReady`.
//!
//! Pods have stable names, `<name>-0` to `<name>-<n-1>`, and a name is used again only once its
//! old pod is gone from the API: a pod that stays Terminating (its node went silent, so no
//! kubelet confirms the deletion) is not replaced until it is force-deleted or its node is
//! removed, unlike a Deployment's. Pods are created one at a time in ordinal order, pod `k`
//! only once pods `0..k` are Running and Ready; scaling down removes the highest ordinal first,
//! one at a time. (`kubernetes/pkg/controller/statefulset`, `stateful_set_control.go`.)
//!
//! Each ordinal keeps its persistent volume across replacements (`volumes.rs`).

use crate::ids::WorkloadId;
use crate::world::{Container, Phase, World};

impl World {
    /// Creates the first missing ordinal if every one before it is Running and Ready, or
    /// removes the highest ordinal over the replica count.
    pub(crate) fn statefulset_sync(&mut self, w: WorkloadId) {
        let want = self.workloads[w].replicas;
        let name = self.workloads[w].name.clone();
        for k in 0..want {
            match self.pod_by_name.get(&format!("{name}-{k}")).copied() {
                None => {
                    self.create_pod(w);
                    return;
                }
                Some(p) => {
                    let pod = &self.pods[p];
                    let healthy = pod.phase == Phase::Bound && matches!(pod.container, Container::Running) && pod.ready;
                    if !healthy {
                        // OrderedReady: nothing after an ordinal that is not Running and Ready.
                        return;
                    }
                }
            }
        }
        // Over the count: the highest ordinal goes first, once the one before it is gone.
        let mut extra: Vec<(u32, crate::ids::PodId)> = self.workloads[w]
            .all_pods
            .iter()
            .copied()
            .filter(|&p| self.pods[p].phase != Phase::Deleted && self.pods[p].ordinal.is_some_and(|o| o >= want))
            .map(|p| (self.pods[p].ordinal.unwrap_or(0), p))
            .collect();
        if extra.iter().any(|&(_, p)| self.pods[p].phase == Phase::Terminating) {
            return;
        }
        extra.sort();
        if let Some(&(_, p)) = extra.last() {
            self.start_deletion(p, false);
        }
    }

    /// The lowest ordinal of StatefulSet `w` whose name is free.
    pub(crate) fn statefulset_free_ordinal(&self, w: WorkloadId) -> u32 {
        let name = &self.workloads[w].name;
        (0..).find(|k| !self.pod_by_name.contains_key(&format!("{name}-{k}"))).unwrap_or(0)
    }
}
