//! The node lifecycle controller (kube-controller-manager) and its taint manager.
//!
//! The controller looks at every node each `node-monitor-period` (5 s). It shows what the
//! kubelet posts (Ready, or NotReady with the kubelet's reason) and, when no heartbeat has
//! come for `node-monitor-grace-period` (40 s up to 1.31, 50 s from 1.32), `Unknown`. When a
//! node stops being Ready it marks the node's pods NotReady (they leave the endpoints) and
//! the taint manager puts the NoExecute taint on the node, at most 0.1 node/s per zone, fewer
//! or none when a zone is mostly down; the pods tolerate it 300 s, then they are deleted. A
//! deleted pod whose kubelet cannot confirm stays Terminating until the node comes back, is
//! removed, or the pod is force-deleted; the ReplicaSet replaces it at once. DaemonSet pods
//! tolerate the taint forever. When the node is Ready again, the marks and the taint go.
//!
//! Cost: nothing runs per period. A change of the node's agents schedules one `NodeCheck` at
//! the monitor tick where the controller will see it; older checks are stale by generation.

use std::collections::BTreeSet;

use crate::defaults;
use crate::ids::{NodeId, WorkloadId};
use crate::rng;
use crate::time::SimTime;
use crate::world::{Container, Event, Node, Phase, ReadyCond, World};

/// The first node-monitor tick at or after `t`.
fn monitor_tick(t: u64) -> SimTime {
    let p = defaults::NODE_MONITOR_PERIOD_MS;
    SimTime(t.div_ceil(p) * p)
}

impl World {
    /// Applies `f` to a node and keeps the count of schedulable nodes true; pending pods retry
    /// when a node starts taking pods.
    pub(crate) fn change_node(&mut self, node: NodeId, f: impl FnOnce(&mut Node)) {
        let before = self.nodes[node].schedulable();
        f(&mut self.nodes[node]);
        self.sched_node_changed(node);
        let after = self.nodes[node].schedulable();
        let c = self.nodes[node].cluster as usize;
        if before && !after {
            self.clusters[c].live_nodes -= 1;
        } else if after && !before {
            self.clusters[c].live_nodes += 1;
            self.cluster_changed();
        }
    }

    /// Something changed on `node` that the control plane will see: works out the condition
    /// it will show and at which monitor tick.
    pub(crate) fn node_health_changed(&mut self, node: NodeId) {
        if !self.is_kube_node(node) || self.nodes[node].gone {
            return;
        }
        // The kubelet can act again (its node, network and runtime are back): the deletions
        // and starts that waited for it happen now.
        let acts = self.kubelet_acts(node);
        let acted = std::mem::replace(&mut self.nodes[node].health.acted, acts);
        if acts && !acted {
            self.resume_terminations(node);
            self.restart_stopped_containers(node);
        }
        let now = self.now;
        let heartbeats = self.heartbeats_ok(node);
        let (ready, _) = self.kubelet_verdict(node);
        let grace = self.scenario.spec.cluster.node_monitor_grace().ms();
        let was_reporting = self.nodes[node].health.reporting;
        let (target, when) = if !heartbeats {
            if was_reporting {
                // The last Lease renewal that got through: somewhere in the last 10 s.
                let ago = rng::uniform_ms(&mut self.rng.lifecycle, 0, defaults::NODE_LEASE_RENEW_MS - 1);
                self.nodes[node].health.last_heartbeat = SimTime(now.0.saturating_sub(ago));
            }
            let last = self.nodes[node].health.last_heartbeat;
            // The controller gives up once the grace period is over: the first tick after it.
            (ReadyCond::Unknown, monitor_tick(last.0 + grace + 1).max(now))
        } else if !was_reporting {
            // A kubelet that (re)registers posts its status at once.
            (if ready { ReadyCond::True } else { ReadyCond::False }, monitor_tick(now.0))
        } else {
            // The next status post (every 10 s), then the next monitor tick.
            let post = now.0 + rng::uniform_ms(&mut self.rng.lifecycle, 0, defaults::NODE_STATUS_UPDATE_MS - 1);
            (if ready { ReadyCond::True } else { ReadyCond::False }, monitor_tick(post))
        };
        let h = &mut self.nodes[node].health;
        h.reporting = heartbeats;
        if heartbeats && !was_reporting && (h.disk_full || h.pressure_clears_at.is_some()) {
            // The kubelet is back: its eviction manager looks again.
            self.pressure_check_later(node);
        }
        let h = &mut self.nodes[node].health;
        if h.next.is_some_and(|(_, t)| t == target) {
            return; // already on its way
        }
        h.epoch += 1;
        if h.condition == target {
            h.next = None;
            return;
        }
        h.next = Some((when, target));
        let epoch = h.epoch;
        self.at(when, Event::NodeCheck { node, epoch });
    }

    /// The controller's look at `node`: it shows the condition that was on its way.
    pub(crate) fn on_node_check(&mut self, node: NodeId, epoch: u32) {
        let n = &mut self.nodes[node];
        if n.health.epoch != epoch || n.gone {
            return;
        }
        let Some((_, target)) = n.health.next.take() else { return };
        self.set_condition(node, target);
    }

    /// The API shows `target` for the node from now; the controller and the taint manager act.
    pub(crate) fn set_condition(&mut self, node: NodeId, target: ReadyCond) {
        let now = self.now;
        let old = self.nodes[node].health.condition;
        if old == target {
            return;
        }
        let reason = match target {
            ReadyCond::Unknown => "NodeStatusUnknown: Kubelet stopped posting node status.",
            _ => self.kubelet_verdict(node).1,
        };
        self.change_node(node, |n| {
            n.health.condition = target;
            n.health.reason = reason;
        });
        let name = self.nodes[node].name.clone();
        let shown = match target {
            ReadyCond::True => "Ready",
            ReadyCond::False => "NotReady",
            ReadyCond::Unknown => "NotReady (Unknown)",
        };
        self.history.note(now, &name, || format!("node {shown}: {reason}"));
        self.history.node_condition(&name, "NotReady", now, target != ReadyCond::True);
        if target == ReadyCond::True {
            let h = &mut self.nodes[node].health;
            h.marked = false;
            h.evict_epoch += 1;
            self.refresh_pods_on(node);
        } else if old == ReadyCond::True {
            // MarkPodsNotReady, and the taint manager's turn.
            self.nodes[node].health.marked = true;
            if self.history.timeline.is_some() {
                let pods: Vec<_> = self.nodes[node].pods.iter().copied().collect();
                for pod in pods {
                    self.note_pod(pod, || {
                        "marked NotReady by the node lifecycle controller: leaves the endpoints".into()
                    });
                }
            }
            self.refresh_pods_on(node);
            self.nodes[node].health.evict_epoch += 1;
            self.queue_for_taint(node);
        }
        // A zone's state may have changed: queues it held back look again.
        self.wake_taint_queues(self.nodes[node].cluster);
    }

    /// `node` waits in its zone's queue for the NoExecute taint.
    fn queue_for_taint(&mut self, node: NodeId) {
        if self.nodes[node].health.taint_queued {
            return;
        }
        self.nodes[node].health.taint_queued = true;
        let key = (self.nodes[node].cluster, self.nodes[node].zone);
        self.taint_queues.entry(key).or_default().waiting.push_back(node);
        self.kick_taint_queue(key);
    }

    /// Schedules the zone's next look, unless one is pending or nobody waits.
    fn kick_taint_queue(&mut self, key: (u32, u32)) {
        let now = self.now;
        let q = self.taint_queues.entry(key).or_default();
        if q.scheduled || q.waiting.is_empty() {
            return;
        }
        q.scheduled = true;
        let at = q.free_at.max(now);
        self.at(at, Event::ZoneTaint { cluster: key.0, zone: key.1 });
    }

    /// Every queue of `cluster` with nodes waiting looks again (a zone's health changed).
    fn wake_taint_queues(&mut self, cluster: u32) {
        let keys: Vec<(u32, u32)> = self
            .taint_queues
            .iter()
            .filter(|(k, q)| k.0 == cluster && !q.scheduled && !q.waiting.is_empty())
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            self.kick_taint_queue(key);
        }
    }

    /// The taint manager's look at one zone's queue: taint the next node waiting, if the zone's
    /// state and the rate limiter allow.
    pub(crate) fn on_zone_taint(&mut self, cluster: u32, zone: u32) {
        let now = self.now;
        let key = (cluster, zone);
        self.taint_queues.entry(key).or_default().scheduled = false;
        // Nodes that became Ready (or left) while they waited leave the queue.
        loop {
            let Some(&node) = self.taint_queues[&key].waiting.front() else { return };
            let n = &self.nodes[node];
            if n.health.condition != ReadyCond::True && !n.gone {
                break;
            }
            self.nodes[node].health.taint_queued = false;
            self.taint_queues.get_mut(&key).expect("present").waiting.pop_front();
        }
        let rate = self.zone_eviction_rate(cluster, zone);
        if rate == 0.0 {
            // Held back: the next condition change in the cluster wakes the queue.
            return;
        }
        let q = self.taint_queues.get_mut(&key).expect("present");
        let node = q.waiting.pop_front().expect("checked above");
        q.free_at = SimTime(now.0 + (1000.0 / rate) as u64);
        let h = &mut self.nodes[node].health;
        h.taint_queued = false;
        let epoch = h.evict_epoch;
        let taint = if h.condition == ReadyCond::Unknown { "unreachable" } else { "not-ready" };
        let name = self.nodes[node].name.clone();
        self.history.note(now, &name, || format!("taint node.kubernetes.io/{taint}:NoExecute"));
        self.nodes[node].health.tainted = Some((now, taint));
        if let Some(first) = self.next_eviction(node, 0) {
            self.at(SimTime(now.0 + first), Event::NodeEvict { node, epoch });
        }
        self.kick_taint_queue(key);
    }

    /// Nodes tainted per second in `zone` of `cluster`, as the controller's zone states decide:
    /// 0 when every zone is fully disrupted (the controller suspects itself), or when the zone
    /// is partially disrupted (more than 2 and at least 55 % of its nodes not Ready, but not
    /// all) and has at most 50 nodes.
    fn zone_eviction_rate(&self, cluster: u32, zone: u32) -> f64 {
        let mut per_zone: std::collections::BTreeMap<u32, (u32, u32)> = Default::default();
        for (_, m) in self.nodes.iter() {
            if m.cluster == cluster && !m.gone {
                let e = per_zone.entry(m.zone).or_default();
                e.0 += 1;
                if m.health.condition != ReadyCond::True {
                    e.1 += 1;
                }
            }
        }
        if per_zone.values().all(|&(total, down)| down == total) {
            return 0.0;
        }
        let (total, down) = per_zone.get(&zone).copied().unwrap_or((1, 1));
        // A fully disrupted zone (while others are not) keeps the normal rate.
        let partial =
            down < total && down > 2 && f64::from(down) / f64::from(total) >= defaults::UNHEALTHY_ZONE_THRESHOLD;
        if !partial {
            defaults::NODE_EVICTION_RATE_PER_S
        } else if total > defaults::LARGE_CLUSTER_SIZE_THRESHOLD {
            defaults::SECONDARY_NODE_EVICTION_RATE_PER_S
        } else {
            0.0
        }
    }

    /// The next toleration, counted from the taint, longer than `elapsed` among the node's
    /// evictable pods (`None`: nobody left to evict, or they tolerate it for ever).
    fn next_eviction(&self, node: NodeId, elapsed: u64) -> Option<u64> {
        let (_, key) = self.nodes[node].health.tainted?;
        self.nodes[node]
            .pods
            .iter()
            .filter(|&&p| self.pods[p].phase == Phase::Bound && self.pods[p].pinned.is_none())
            .filter_map(|&p| self.noexecute_toleration_ms(self.pods[p].workload, key))
            .filter(|&t| t > elapsed || (elapsed == 0 && t == 0))
            .min()
    }

    /// The pods' toleration of the taint ran out: the taint manager deletes them.
    pub(crate) fn on_node_evict(&mut self, node: NodeId, epoch: u32) {
        let n = &self.nodes[node];
        if n.health.evict_epoch != epoch || n.health.condition == ReadyCond::True || n.gone {
            return;
        }
        let (cluster, zone) = (n.cluster, n.zone);
        if self.zone_eviction_rate(cluster, zone) == 0.0
            && self.nodes.iter().all(|(_, m)| m.cluster != cluster || m.gone || m.health.condition != ReadyCond::True)
        {
            // Every zone went down since the taint: the controller takes its taints back
            // (markNodeAsReachable) and waits; the node queues again.
            self.nodes[node].health.evict_epoch += 1;
            self.queue_for_taint(node);
            return;
        }
        let Some((since, key)) = n.health.tainted else { return };
        let elapsed = self.now.0.saturating_sub(since.0);
        // Each pod goes when its own toleration of the taint is over.
        let pods: Vec<_> = n
            .pods
            .iter()
            .copied()
            .filter(|&p| {
                self.pods[p].phase == Phase::Bound
                    && self.pods[p].pinned.is_none()
                    && self.noexecute_toleration_ms(self.pods[p].workload, key).is_some_and(|t| t <= elapsed)
            })
            .collect();
        let mut workloads: BTreeSet<WorkloadId> = BTreeSet::new();
        for pod in pods {
            let w = self.pods[pod].workload;
            workloads.insert(w);
            let secs = self.noexecute_toleration_ms(w, key).unwrap_or(0) / 1000;
            self.note_pod(pod, || {
                format!(
                    "evicted by the taint manager: NoExecute taint node.kubernetes.io/{key}, toleration {secs} s over"
                )
            });
            self.start_deletion(pod, false);
        }
        for w in workloads {
            self.reconcile(w);
        }
        if let Some(next) = self.next_eviction(node, elapsed) {
            self.at(SimTime(since.0 + next), Event::NodeEvict { node, epoch });
        }
    }

    /// The kubelet is back: deletions that waited for it complete.
    pub(crate) fn resume_terminations(&mut self, node: NodeId) {
        if !self.kubelet_acts(node) {
            return;
        }
        let pods: Vec<_> =
            self.nodes[node].pods.iter().copied().filter(|&p| self.pods[p].phase == Phase::Terminating).collect();
        for pod in pods {
            match self.pods[pod].container {
                Container::Running | Container::Starting { .. } => {
                    self.kill_container(pod, crate::world::ExitReason::Deleted)
                }
                Container::Stopping { .. } => {}
                Container::NotCreated | Container::Waiting { .. } | Container::Exited => self.finish_delete(pod),
            }
        }
    }
}
