//! The ReplicaSet controller (behind each Deployment), and pod deletion.
//!
//! It keeps `replicas` active pods: a pod that is deleted, or starts terminating, is replaced at
//! once (the controller counts terminating pods as gone). Scaling down picks victims the way
//! the ReplicaSet controller ranks them: unscheduled first, then not running, then not ready,
//! then the newest.
//!
//! Deletion: a normal delete marks the pod Terminating (it leaves the endpoints), sends SIGTERM
//! and removes the API object once the container has exited (at most the grace period); when
//! the node's kubelet cannot act (the node is silent, or its runtime hangs) the pod stays
//! Terminating until it can. A force delete removes the object at once without waiting for the
//! kubelet.

use crate::ids::{PodId, WorkloadId};
use crate::rng;
use crate::spec::WorkloadKind;
use crate::world::{Container, ExitReason, NAME_ALPHABET, Phase, Pod, PodStatus, ProbeRt, World};

impl World {
    /// Creates or deletes pods until the workload has its replicas. Bare pods have no
    /// controller: nothing is reconciled for them.
    pub(crate) fn reconcile(&mut self, w: WorkloadId) {
        match self.workloads[w].kind {
            WorkloadKind::Pod => return,
            // Per node, not per count (`daemonset.rs`).
            WorkloadKind::DaemonSet => return self.daemonset_sync(w),
            // By name and in order (`statefulset.rs`).
            WorkloadKind::StatefulSet => return self.statefulset_sync(w),
            _ => {}
        }
        // Ghost containers (a hosted control plane's stale records) count as present.
        let want = self.workloads[w].replicas.saturating_sub(self.workloads[w].ghosts) as usize;
        let have = self.workloads[w].active.len();
        if have < want {
            for _ in have..want {
                self.create_pod(w);
            }
        } else if have > want {
            let mut victims: Vec<PodId> = self.workloads[w].active.iter().copied().collect();
            victims.sort_by_key(|&id| {
                let p = &self.pods[id];
                (
                    p.phase != Phase::Pending,
                    matches!(p.container, Container::Running),
                    p.ready,
                    std::cmp::Reverse(p.created),
                    std::cmp::Reverse(id),
                )
            });
            for id in victims.into_iter().take(have - want) {
                self.start_deletion(id, false);
            }
        }
    }

    /// Creates a Pending pod for `w` and queues it for the scheduler.
    pub(crate) fn create_pod(&mut self, w: WorkloadId) -> PodId {
        let ordinal = (self.workloads[w].kind == WorkloadKind::StatefulSet).then(|| self.statefulset_free_ordinal(w));
        // The name is entered in `pod_by_name` as it is found free (one search of the map, not
        // two), under the id the pod is about to get.
        let id = self.pods.next_id();
        let name = loop {
            let name = if let Some(k) = ordinal {
                format!("{}-{k}", self.workloads[w].name)
            } else if self.workloads[w].kind == WorkloadKind::Pod
                && let wl = &self.workloads[w]
                && let given =
                    if wl.replicas == 1 { wl.name.clone() } else { format!("{}-{}", wl.name, wl.all_pods.len()) }
                && !self.pod_by_name.contains_key(&given)
            {
                // Bare pods carry the names they were given (a suffix only if that is taken).
                given
            } else {
                // `<workload>-<template hash>-<5 random characters>`, written in place.
                let wl = &self.workloads[w];
                let mut name = String::with_capacity(wl.name.len() + wl.template_hash.len() + 7);
                name.push_str(&wl.name);
                name.push('-');
                name.push_str(&wl.template_hash);
                name.push('-');
                for _ in 0..5 {
                    name.push(NAME_ALPHABET[rng::index(&mut self.rng.names, NAME_ALPHABET.len())] as char);
                }
                name
            };
            if ordinal.is_some() {
                self.pod_by_name.insert(name.clone(), id);
                break name;
            }
            if let std::collections::btree_map::Entry::Vacant(e) = self.pod_by_name.entry(name) {
                let name = e.key().clone();
                e.insert(id);
                break name;
            }
        };
        let now = self.now;
        let claim = self.volume_for(w, ordinal.unwrap_or(0), &name);
        let pushed = self.pods.push(Pod {
            name,
            workload: w,
            node: None,
            pinned: None,
            created: now,
            deleted_at: None,
            phase: Phase::Pending,
            container: Container::NotCreated,
            epoch: 0,
            probe_epoch: 0,
            last_started: None,
            starts: 0,
            restarts: 0,
            backoff: None,
            ready: false,
            probes: [ProbeRt::default(); 3],
            anchor: now,
            subpath_versions: Vec::new(),
            last_exit: None,
            status: PodStatus::Pending,
            status_since: now,
            in_endpoints: false,
            serving: false,
            dead: false,
            sched_failures: 0,
            sched_eligible: now,
            unschedulable: None,
            backlog_s: 0.0,
            backlog_at: now,
            backlog_over: [false; 3],
            backlog_epoch: 0,
            queue_group: None,
            ordinal,
            claim,
            waits_until: [crate::time::SimTime::ZERO; 3],
            waits_epoch: 0,
            capacity_mrps: self.workloads[w].capacity_mrps,
        });
        debug_assert_eq!(pushed, id);
        let wl = &mut self.workloads[w];
        wl.all_pods.push(id);
        wl.active.insert(id);
        self.note_pod(id, || "created".into());
        self.sched.queue.push_back(id);
        self.request_schedule(now);
        id
    }

    /// Deletes a pod, gracefully or by force. The workload replaces it at once.
    pub(crate) fn delete_pod(&mut self, pod: PodId, force: bool) {
        let w = self.pods[pod].workload;
        self.start_deletion(pod, force);
        self.reconcile(w);
    }

    /// Deletes a pod without reconciling its workload (the caller does, once).
    pub(crate) fn start_deletion(&mut self, pod: PodId, force: bool) {
        let phase = self.pods[pod].phase;
        if phase == Phase::Deleted || (phase == Phase::Terminating && !force) {
            return;
        }
        self.leave_active(pod);
        self.note_pod(pod, || if force { "force-deleted".into() } else { "deleting".into() });
        if phase == Phase::Pending {
            self.sched.unschedulable.remove(&pod);
            self.finish_delete(pod);
        } else if force {
            let p = &mut self.pods[pod];
            p.container = Container::Exited;
            p.epoch += 1;
            for rt in &mut p.probes {
                rt.active = false;
            }
            self.finish_delete(pod);
        } else {
            self.pods[pod].phase = Phase::Terminating;
            self.refresh_endpoints(pod);
            self.refresh_status(pod);
            if let Some(n) = self.pods[pod].node
                && !self.nodes[n].gone
                && !self.kubelet_acts(n)
            {
                // Nothing on the node confirms the deletion: Terminating until the kubelet is
                // back, the node is deleted, or a force delete.
                let node = self.nodes[n].name.clone();
                self.note_pod(pod, || format!("stays Terminating: the kubelet on {node} does not answer"));
                return;
            }
            match self.pods[pod].container {
                Container::Running | Container::Starting { .. } => self.kill_container(pod, ExitReason::Deleted),
                Container::Stopping { .. } => {} // exits soon; the exit finishes the deletion
                Container::NotCreated | Container::Waiting { .. } | Container::Exited => self.finish_delete(pod),
            }
        }
    }

    /// The pod no longer counts against its workload's replicas.
    fn leave_active(&mut self, pod: PodId) {
        let p = &self.pods[pod];
        let w = p.workload;
        if !self.workloads[w].active.remove(&pod) {
            return;
        }
        if let Some(n) = p.node {
            let zone = self.nodes[n].zone as usize;
            self.nodes[n].by_workload.dec(w);
            self.zone_counts[zone].dec(w);
            self.sched_spread_changed(n, w, -1);
        }
    }

    /// The API object goes away: resources are released and the name is free.
    pub(crate) fn finish_delete(&mut self, pod: PodId) {
        let now = self.now;
        self.leave_active(pod);
        let p = &mut self.pods[pod];
        p.phase = Phase::Deleted;
        p.deleted_at = Some(now);
        p.ready = false;
        p.epoch += 1;
        let (node, w) = (p.node, p.workload);
        if let Some(n) = node {
            let (cpu, mem) = (self.workloads[w].cpu, self.workloads[w].mem);
            let nd = &mut self.nodes[n];
            nd.req_cpu -= cpu;
            nd.req_mem -= mem;
            nd.pods.remove(&pod);
            self.sched_node_changed(n);
        }
        self.pod_by_name.remove(&self.pods[pod].name);
        self.refresh_endpoints(pod);
        self.refresh_status(pod);
        self.note_pod(pod, || "deleted".into());
        self.cluster_changed();
        self.volume_pod_gone(pod);
        // The DaemonSet controller replaces a pod once it is gone from its node; the StatefulSet
        // controller once its name is free.
        if node.is_some() && self.workloads[w].kind == WorkloadKind::DaemonSet {
            self.daemonset_sync(w);
        }
        if self.workloads[w].kind == WorkloadKind::StatefulSet {
            self.statefulset_sync(w);
        }
    }
}
