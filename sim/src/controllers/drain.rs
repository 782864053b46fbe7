//! `kubectl cordon`, `uncordon` and `drain` on Kubernetes, with PodDisruptionBudgets.
//!
//! A drain cordons the node, then evicts each of its pods through the Eviction API, skipping
//! DaemonSet pods (`--ignore-daemonsets`). An eviction that would leave a workload with fewer
//! healthy (Ready) pods than its budget allows is refused (HTTP 429) and retried every 5 s. An
//! evicted pod is deleted gracefully and its ReplicaSet creates a replacement, which the
//! scheduler places elsewhere, or leaves Pending when nothing fits. The drain is done when no
//! evictable pod is left on the node; with `--timeout` it gives up. Its record, written when it
//! ends (or at the end of the run), says why it did not complete: the refusals, and the
//! scheduler's reason for the replacements still Pending.

use crate::defaults;
use crate::ids::{NodeId, PodId, WorkloadId};
use crate::time::SimTime;
use crate::world::{Event, Phase, World};

/// A `kubectl drain` in progress.
#[derive(Clone, Debug)]
pub(crate) struct DrainRt {
    /// The action it carries out (for its record).
    pub action: usize,
    /// The node being drained.
    pub node: NodeId,
    /// When `--timeout` runs out.
    pub deadline: Option<SimTime>,
    /// Pods evicted so far.
    pub evicted: u32,
    /// The last refusal the Eviction API answered.
    pub refused: Option<String>,
    /// Over (completed, timed out, or cut short).
    pub over: bool,
}

impl World {
    /// `kubectl cordon` / `uncordon`.
    pub(crate) fn op_cordon(&mut self, name: &str, cordon: bool) -> Result<String, String> {
        let node = self.live_node(name)?;
        if !self.is_kube_node(node) {
            return Err(format!("{name} is a swarm node: use `docker node update --availability`"));
        }
        let was = self.nodes[node].cordoned;
        self.change_node(node, |n| n.cordoned = cordon);
        Ok(match (cordon, was) {
            (true, false) => format!("node/{name} cordoned"),
            (true, true) => format!("node/{name} already cordoned"),
            (false, true) => format!("node/{name} uncordoned"),
            (false, false) => format!("node/{name} already uncordoned"),
        })
    }

    /// Starts `kubectl drain` of `node` for action `idx`.
    pub(crate) fn start_kube_drain(&mut self, node: NodeId, idx: usize, timeout_s: Option<u64>) -> Result<(), String> {
        if self.drains.iter().any(|d| d.node == node && !d.over) {
            return Err(format!("node/{} is already being drained", self.nodes[node].name));
        }
        // kubectl refuses pods no controller would recreate (without --force).
        let bare: Vec<&str> = self.nodes[node]
            .pods
            .iter()
            .filter(|&&p| self.workloads[self.pods[p].workload].kind == crate::spec::WorkloadKind::Pod)
            .map(|&p| self.pods[p].name.as_str())
            .collect();
        if !bare.is_empty() {
            return Err(format!(
                "cannot delete Pods that declare no controller (use --force to override): {}",
                bare.join(", ")
            ));
        }
        let name = self.nodes[node].name.clone();
        self.change_node(node, |n| n.cordoned = true);
        self.history.note(self.now, &name, || "cordoned (drain)".into());
        // `--timeout=0` waits forever, as kubectl's does.
        let deadline = timeout_s.filter(|&t| t > 0).map(|t| SimTime(self.now.0 + t * 1000));
        self.drains.push(DrainRt { action: idx, node, deadline, evicted: 0, refused: None, over: false });
        self.on_drain_tick(self.drains.len() - 1);
        Ok(())
    }

    /// Whether the Eviction API lets `pod` go now under its workload's PodDisruptionBudget. A
    /// healthy (Ready) pod needs a disruption to spare; an unhealthy one may go while the budget
    /// is met (`unhealthyPodEvictionPolicy: IfHealthyBudget`, the default).
    fn eviction_allowed(&self, pod: PodId) -> bool {
        let w = self.pods[pod].workload;
        let wl = &self.workloads[w];
        let Some(budget) = wl.disruption_budget.as_ref() else { return true };
        let healthy_pod = |p: PodId| self.pods[p].phase == Phase::Bound && self.pods[p].in_endpoints;
        let healthy = wl.active.iter().filter(|&&p| healthy_pod(p)).count() as i64;
        let desired = i64::from(budget.desired_healthy(wl.replicas));
        if healthy_pod(pod) { healthy - desired > 0 } else { healthy >= desired }
    }

    /// One round of evictions of drain `idx`.
    pub(crate) fn on_drain_tick(&mut self, idx: usize) {
        if self.drains[idx].over {
            return;
        }
        let node = self.drains[idx].node;
        if self.nodes[node].gone {
            return self.end_drain(idx, Err("the node was deleted during the drain".into()));
        }
        let pods: Vec<PodId> = self.nodes[node]
            .pods
            .iter()
            .copied()
            .filter(|&p| self.pods[p].phase == Phase::Bound && self.pods[p].pinned.is_none())
            .collect();
        for pod in pods {
            let w = self.pods[pod].workload;
            if !self.eviction_allowed(pod) {
                let pdb = &self.workloads[w].name;
                self.drains[idx].refused = Some(format!(
                    "error when evicting pods/\"{}\" (will retry after 5s): Cannot evict pod as it would violate the \
                     pod's disruption budget ({pdb})",
                    self.pods[pod].name
                ));
                continue;
            }
            self.note_pod(pod, || "evicted (drain)".into());
            self.start_deletion(pod, false);
            self.reconcile(w);
            self.drains[idx].evicted += 1;
        }
        let left = self.nodes[node].pods.iter().filter(|&&p| self.pods[p].pinned.is_none()).count();
        if left == 0 {
            let n = self.drains[idx].evicted;
            let name = self.nodes[node].name.clone();
            return self.end_drain(idx, Ok(format!("node/{name} drained ({n} pods evicted)")));
        }
        if self.drains[idx].deadline.is_some_and(|d| d <= self.now) {
            let why = self.drain_stuck_reason(idx);
            return self.end_drain(idx, Err(format!("drain did not complete: global timeout reached; {why}")));
        }
        let next = SimTime(self.now.0 + defaults::DRAIN_RETRY_MS);
        let next = self.drains[idx].deadline.map_or(next, |d| next.min(d));
        self.at(next, Event::DrainTick { idx });
    }

    /// Why drain `idx` has not finished: pods left and refusals, replacements Pending.
    pub(crate) fn drain_stuck_reason(&self, idx: usize) -> String {
        let d = &self.drains[idx];
        let node = &self.nodes[d.node];
        let mut bound = 0;
        let mut terminating = 0;
        let mut workloads: Vec<WorkloadId> = Vec::new();
        for &p in &node.pods {
            let pod = &self.pods[p];
            if pod.pinned.is_some() {
                continue;
            }
            match pod.phase {
                Phase::Bound => bound += 1,
                Phase::Terminating => terminating += 1,
                _ => {}
            }
            if !workloads.contains(&pod.workload) {
                workloads.push(pod.workload);
            }
        }
        let mut parts = Vec::new();
        if bound > 0 {
            parts.push(format!("{bound} pod(s) not evicted"));
            if let Some(r) = &d.refused {
                parts.push(format!("last refusal: {r}"));
            }
        }
        if terminating > 0 {
            parts.push(format!(
                "{terminating} pod(s) still Terminating (the kubelet on {} does not confirm)",
                node.name
            ));
        }
        // Replacements the scheduler could not place, with its reason.
        let mut pending = 0;
        let mut reason: Option<&str> = None;
        for (_, w) in self.workloads.iter() {
            for &p in &w.active {
                let pod = &self.pods[p];
                if pod.phase == Phase::Pending {
                    pending += 1;
                    if reason.is_none() {
                        reason = pod.unschedulable.as_deref();
                    }
                }
            }
        }
        if pending > 0 {
            parts.push(format!("{pending} pod(s) Pending: {}", reason.unwrap_or("not scheduled yet")));
        }
        if parts.is_empty() { "nothing left to evict".into() } else { parts.join("; ") }
    }

    /// Drain `idx` is over: its record is written now.
    fn end_drain(&mut self, idx: usize, outcome: Result<String, String>) {
        self.drains[idx].over = true;
        self.record_action(self.drains[idx].action, outcome);
    }

    /// The run ends: drains still going are recorded as not completed, with why.
    pub(crate) fn close_drains(&mut self) {
        for idx in 0..self.drains.len() {
            if !self.drains[idx].over {
                let why = self.drain_stuck_reason(idx);
                self.end_drain(idx, Err(format!("drain did not complete by the end of the run: {why}")));
            }
        }
    }
}
