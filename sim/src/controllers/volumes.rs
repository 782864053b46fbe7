//! ReadWriteOnce persistent volumes and the attach/detach controller.
//!
//! A volume is attached to at most one node. A pod bound to a node starts its container only
//! once its volume is attached there: at once if it already is, after the attach time if it is
//! attached nowhere. If it is attached to another node, the pod waits (`Multi-Attach error for
//! volume`): the volume stays attached while the pod that used it there is still in the API,
//! even Terminating, and once that pod is gone it is detached at once if the node's kubelet
//! confirmed the unmount, or after `maxWaitForUnmountDuration` (6 minutes) if the node went
//! silent or away. Then it attaches to the waiting pod's node.
//!
//! Simplifications: a kubelet that comes back within the 6 minutes does not shorten them; the
//! `out-of-service` taint's immediate detach is not modelled.

use crate::defaults;
use crate::ids::{NodeId, PodId, WorkloadId};
use crate::time::SimTime;
use crate::world::{Container, Event, Phase, World};

/// One persistent volume (a claim bound to its volume).
#[derive(Clone, Debug)]
pub(crate) struct Volume {
    /// The claim's name, `data-<pod>` as a StatefulSet's claim template names it.
    pub name: String,
    /// Attach latency, ms.
    pub attach_ms: u64,
    /// The node it is attached to.
    pub attached: Option<NodeId>,
    /// The node it is being attached to.
    pub attaching: Option<NodeId>,
    /// The pod that uses it where it is attached (until that pod is gone from the API).
    pub user: Option<PodId>,
    /// The pod waiting for it on another node.
    pub waiting: Option<PodId>,
    /// Generation of its pending attach or detach event.
    pub epoch: u32,
    /// A detach is scheduled.
    pub detaching: bool,
}

impl World {
    /// The volume of the pod being created for `w` (the ordinal's, kept across replacements).
    pub(crate) fn volume_for(&mut self, w: WorkloadId, ordinal: u32, pod_name: &str) -> Option<u32> {
        let attach_ms = self.workloads[w].volume_attach_ms?;
        if let Some(&v) = self.claims.get(&(w, ordinal)) {
            return Some(v);
        }
        let v = self.volumes.len() as u32;
        let name = match self.workloads[w].kind {
            crate::spec::WorkloadKind::StatefulSet => format!("data-{pod_name}"),
            _ => format!("data-{}", self.workloads[w].name),
        };
        self.volumes.push(Volume {
            name,
            attach_ms,
            attached: None,
            attaching: None,
            user: None,
            waiting: None,
            epoch: 0,
            detaching: false,
        });
        self.claims.insert((w, ordinal), v);
        Some(v)
    }

    /// A pod that was running when the scenario starts: its volume is attached to its node.
    pub(crate) fn volume_warm(&mut self, pod: PodId) {
        if let (Some(v), Some(n)) = (self.pods[pod].claim, self.pods[pod].node) {
            let vol = &mut self.volumes[v as usize];
            vol.attached = Some(n);
            vol.user = Some(pod);
        }
    }

    /// Whether the pod's volume is attached to its node; if not, what is needed is set going
    /// and the pod waits (the kubelet admits it again when the volume is there).
    pub(crate) fn volume_ready(&mut self, pod: PodId) -> bool {
        let (Some(v), Some(node)) = (self.pods[pod].claim, self.pods[pod].node) else { return true };
        let vi = v as usize;
        let vol = &self.volumes[vi];
        if vol.attached == Some(node) && vol.attaching.is_none() {
            self.volumes[vi].user = Some(pod);
            return true;
        }
        let (attached, attaching) = (vol.attached, vol.attaching);
        self.volumes[vi].waiting = Some(pod);
        match attached {
            None => {
                if attaching != Some(node) {
                    self.volume_attach(v, node);
                }
            }
            Some(other) => {
                let (vname, oname) = (self.volumes[vi].name.clone(), self.nodes[other].name.clone());
                self.note_pod(pod, || {
                    format!(
                        "Multi-Attach error for volume \"{vname}\": Volume is already exclusively attached to one node ({oname}) and can't be attached to another"
                    )
                });
                self.volume_release_check(v);
            }
        }
        false
    }

    fn volume_attach(&mut self, v: u32, node: NodeId) {
        let vol = &mut self.volumes[v as usize];
        vol.attaching = Some(node);
        vol.epoch += 1;
        let (epoch, at) = (vol.epoch, SimTime(self.now.0 + vol.attach_ms));
        let (vname, nname) = (vol.name.clone(), self.nodes[node].name.clone());
        self.history.note(self.now, &vname, || format!("attaching to {nname}"));
        self.at(at, Event::VolumeAttached { vol: v, epoch });
    }

    /// The attach finished: the waiting pod's kubelet starts its container.
    pub(crate) fn on_volume_attached(&mut self, v: u32, epoch: u32) {
        let vol = &mut self.volumes[v as usize];
        if vol.epoch != epoch {
            return;
        }
        let Some(node) = vol.attaching.take() else { return };
        vol.attached = Some(node);
        let waiting = vol.waiting.take();
        let (vname, nname) = (vol.name.clone(), self.nodes[node].name.clone());
        self.history.note(self.now, &vname, || format!("attached to {nname}"));
        if let Some(pod) = waiting {
            let p = &self.pods[pod];
            if p.phase == Phase::Bound && p.node == Some(node) && matches!(p.container, Container::NotCreated) {
                self.kubelet_admit(pod);
            }
        }
    }

    /// The pod is gone from the API: if it held its volume where that is attached, the volume
    /// is no longer wanted there and detaches (at once if the kubelet unmounted it, after
    /// `maxWaitForUnmountDuration` if it could not confirm).
    pub(crate) fn volume_pod_gone(&mut self, pod: PodId) {
        let Some(v) = self.pods[pod].claim else { return };
        let vol = &mut self.volumes[v as usize];
        if vol.waiting == Some(pod) {
            vol.waiting = None;
        }
        if vol.user == Some(pod) {
            vol.user = None;
            self.volume_release_check(v);
        }
    }

    /// Schedules the detach of a volume nobody on its node uses any more.
    fn volume_release_check(&mut self, v: u32) {
        let vol = &self.volumes[v as usize];
        let Some(node) = vol.attached else { return };
        if vol.detaching || vol.user.is_some_and(|u| self.pods[u].phase != Phase::Deleted) {
            return;
        }
        let confirmed = !self.nodes[node].gone && self.kubelet_acts(node);
        let wait = if confirmed { 0 } else { defaults::MAX_WAIT_FOR_UNMOUNT_MS };
        let vol = &mut self.volumes[v as usize];
        vol.detaching = true;
        vol.epoch += 1;
        let epoch = vol.epoch;
        let vname = vol.name.clone();
        if !confirmed {
            let nname = self.nodes[node].name.clone();
            self.history.note(self.now, &vname, || {
                format!("{nname} does not confirm the unmount: detach after maxWaitForUnmountDuration (6m0s)")
            });
        }
        self.at(SimTime(self.now.0 + wait), Event::VolumeDetached { vol: v, epoch });
    }

    /// The volume is detached: a pod waiting for it elsewhere gets it attached.
    pub(crate) fn on_volume_detached(&mut self, v: u32, epoch: u32) {
        let vol = &mut self.volumes[v as usize];
        if vol.epoch != epoch {
            return;
        }
        vol.detaching = false;
        vol.attached = None;
        let vname = vol.name.clone();
        self.history.note(self.now, &vname, || "detached".into());
        if let Some(pod) = self.volumes[v as usize].waiting
            && let Some(node) = self.pods[pod].node
            && self.pods[pod].phase == Phase::Bound
        {
            self.volume_attach(v, node);
        }
    }
}
