//! kube-scheduler, default profile: filter, score, pick.
//!
//! - **Filter**: the node exists, and the pod's CPU and memory requests fit beside what is
//!   already requested there, within `maxPods`.
//! - **Search size**: like kube-scheduler, the search starts where the last one stopped and ends
//!   once `numFeasibleNodesToFind` feasible nodes are found (adaptive `percentageOfNodesToScore`,
//!   at least 100 nodes), which also keeps a 2,000-node cluster cheap.
//! - **Score**: `NodeResourcesFit` (LeastAllocated, cpu and memory weighted equally) x1,
//!   `BalancedAllocation` x1, `PodTopologySpread` with the cluster default constraints x2
//!   (hostname maxSkew 3, zone maxSkew 5, scored as `count * ln(domains + 2) + maxSkew - 1`,
//!   normalised so fewer matching pods score higher).
//! - **Pick**: the highest total; ties are broken uniformly at random (the scheduler stream).
//!
//! A pod that fits nowhere stays Pending with kube-scheduler's message
//! (`0/5 nodes are available: 5 Insufficient cpu.`) and is retried, after its backoff, whenever
//! the cluster changes.

use std::collections::BTreeMap;

use rand::RngExt;

use crate::defaults;
use crate::ids::{NodeId, PodId};
use crate::time::SimTime;
use crate::world::{Event, Phase, World};

/// Buffers the scheduler reuses from one pod to the next.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch {
    feasible: Vec<NodeId>,
    base: Vec<i64>,
    raw_spread: Vec<i64>,
    in_zone: Vec<u32>,
    zone_seen: Vec<bool>,
    tied: Vec<NodeId>,
}

/// Most score a plugin gives a node.
const MAX_NODE_SCORE: i64 = 100;

/// kube-scheduler's `numFeasibleNodesToFind`.
pub(crate) fn feasible_nodes_to_find(all: u32, percentage: u32) -> u32 {
    if all < defaults::SCHEDULER_MIN_FEASIBLE_NODES || percentage >= 100 {
        return all;
    }
    let mut pct = percentage;
    if pct == 0 {
        pct = defaults::SCHEDULER_BASE_PERCENT.saturating_sub(all / 125).max(defaults::SCHEDULER_MIN_FEASIBLE_PERCENT);
    }
    (all * pct / 100).max(defaults::SCHEDULER_MIN_FEASIBLE_NODES)
}

impl World {
    /// Makes sure a scheduling pass runs at `at`.
    pub(crate) fn request_schedule(&mut self, at: SimTime) {
        if self.sched.pass_at.is_some_and(|t| t <= at && t >= self.now) {
            return;
        }
        self.sched.pass_at = Some(at);
        self.at(at, Event::Schedule);
    }

    /// A scheduling pass over the queued pods.
    pub(crate) fn on_schedule(&mut self) {
        let now = self.now;
        if self.sched.pass_at == Some(now) {
            self.sched.pass_at = None;
        }
        let queue = std::mem::take(&mut self.sched.queue);
        let mut later: Option<SimTime> = None;
        for pod in queue {
            if self.pods[pod].phase != Phase::Pending {
                continue;
            }
            if self.pods[pod].sched_eligible > now {
                let at = self.pods[pod].sched_eligible;
                later = Some(later.map_or(at, |l| l.min(at)));
                self.sched.queue.push_back(pod);
                continue;
            }
            match self.pick_node(pod) {
                Ok(node) => {
                    self.bind(pod, node);
                    self.kubelet_admit(pod);
                }
                Err(reason) => self.unschedulable(pod, reason),
            }
        }
        if let Some(at) = later {
            self.request_schedule(at);
        }
    }

    /// Leaves `pod` Pending with the scheduler's reason and backs off.
    pub(crate) fn unschedulable(&mut self, pod: PodId, reason: String) {
        let now = self.now;
        let p = &mut self.pods[pod];
        p.sched_failures += 1;
        let backoff = (defaults::SCHEDULER_BACKOFF_INITIAL_MS << (p.sched_failures - 1).min(16))
            .min(defaults::SCHEDULER_BACKOFF_MAX_MS);
        p.sched_eligible = SimTime(now.0 + backoff);
        let changed = p.unschedulable.as_deref() != Some(reason.as_str());
        self.sched.unschedulable.insert(pod);
        if changed {
            self.note_pod(pod, || format!("FailedScheduling: {reason}"));
            self.pods[pod].unschedulable = Some(reason);
        }
    }

    /// Capacity was freed or added: unschedulable pods get another try after their backoff.
    pub(crate) fn cluster_changed(&mut self) {
        if self.sched.unschedulable.is_empty() {
            return;
        }
        let pods = std::mem::take(&mut self.sched.unschedulable);
        let earliest = pods.iter().map(|&p| self.pods[p].sched_eligible).min().unwrap_or(self.now);
        self.sched.queue.extend(pods);
        self.request_schedule(earliest.max(self.now));
    }

    /// Binds `pod` to `node` and does the scheduler's accounting.
    pub(crate) fn bind(&mut self, pod: PodId, node: NodeId) {
        let w = self.pods[pod].workload;
        let (cpu, mem) = (self.workloads[w].cpu, self.workloads[w].mem);
        let n = &mut self.nodes[node];
        n.req_cpu += cpu;
        n.req_mem += mem;
        n.pods.insert(pod);
        n.by_workload.inc(w);
        let zone = n.zone as usize;
        self.zone_counts[zone].inc(w);
        let p = &mut self.pods[pod];
        p.node = Some(node);
        p.phase = Phase::Bound;
        p.unschedulable = None;
        if let Some(i) = self.pending_moves.remove(&pod) {
            // Bound in the same instant it was created (the scheduler's pass right after the
            // move): that is where it went at that moment; otherwise it had to wait.
            let (name, m) = (self.nodes[node].name.clone(), &mut self.history.moves[i]);
            if m.at == self.now { m.to_node = Some(name) } else { m.placed_later = Some((name, self.now)) }
        }
        let node_name = &self.nodes[node].name;
        if self.history.timeline.is_some() {
            let what = format!("scheduled to {node_name}");
            self.note_pod(pod, || what);
        }
    }

    /// Filter and score; the chosen node or the reason none fits.
    pub(crate) fn pick_node(&mut self, pod: PodId) -> Result<NodeId, String> {
        // Scratch vectors live across calls: this runs for every pod placed.
        let mut sc = std::mem::take(&mut self.sched.scratch);
        let picked = self.choose_node(pod, &mut sc);
        self.sched.scratch = sc;
        picked
    }

    fn choose_node(&mut self, pod: PodId, sc: &mut Scratch) -> Result<NodeId, String> {
        let w = self.pods[pod].workload;
        let (pcpu, pmem) = (self.workloads[w].cpu, self.workloads[w].mem);
        let c = self.workloads[w].cluster;
        if self.clusters[c as usize].kind.is_swarm() {
            return self.swarm_pick(pod);
        }
        if let Some(n) = self.pods[pod].pinned {
            // A DaemonSet pod: its node or nothing. It tolerates cordons and the not-ready,
            // unreachable and disk-pressure taints.
            let node = &self.nodes[n];
            let mut reasons = Vec::new();
            if !node.running() {
                reasons.push("1 node(s) were unschedulable");
            }
            if node.req_cpu + pcpu > node.cpu {
                reasons.push("1 Insufficient cpu");
            }
            if node.req_mem + pmem > node.mem {
                reasons.push("1 Insufficient memory");
            }
            return if reasons.is_empty() {
                Ok(n)
            } else {
                Err(format!("0/1 nodes are available: {}.", reasons.join(", ")))
            };
        }
        let total = self.nodes.len();
        let live = self.clusters[c as usize].live_nodes;
        // Member nodes that refuse pods (cordoned, tainted) count in N with their reason.
        let mut refusing = 0;
        let pct = self.scenario.spec.cluster.scheduler.percentage_of_nodes_to_score;
        let want = feasible_nodes_to_find(live, pct) as usize;
        let feasible = &mut sc.feasible;
        feasible.clear();
        let mut reasons: BTreeMap<std::borrow::Cow<'static, str>, u32> = BTreeMap::new();
        // Selectors, affinity and taints are rare: without them no node is asked.
        let constrained = !self.workloads[w].node_selector.is_empty()
            || self.workloads[w].affinity.is_some()
            || self.pools.iter().any(|p| !p.taints.is_empty());
        let start = self.sched.next_start % total.max(1);
        let mut examined = 0;
        for k in 0..total {
            let id = NodeId::from((start + k) % total);
            examined = k + 1;
            let n = &self.nodes[id];
            if n.cluster != c {
                continue;
            }
            if !n.schedulable() {
                if n.up && !n.gone && n.role != crate::spec::NodeRole::ControlPlane {
                    refusing += 1;
                    *reasons.entry(refusal_reason(n).into()).or_default() += 1;
                }
                continue;
            }
            if constrained && let Some(why) = self.placement_refusal(w, id) {
                *reasons.entry(why).or_default() += 1;
                continue;
            }
            let mut fits = true;
            if n.req_cpu + pcpu > n.cpu {
                *reasons.entry("Insufficient cpu".into()).or_default() += 1;
                fits = false;
            }
            if n.req_mem + pmem > n.mem {
                *reasons.entry("Insufficient memory".into()).or_default() += 1;
                fits = false;
            }
            if n.pods.len() as u32 >= n.max_pods {
                *reasons.entry("Too many pods".into()).or_default() += 1;
                fits = false;
            }
            if fits {
                feasible.push(id);
                if feasible.len() >= want {
                    break;
                }
            }
        }
        self.sched.next_start = (start + examined) % total.max(1);
        if feasible.is_empty() {
            let all = live + refusing;
            if all == 0 {
                return Err("0/0 nodes are available: no nodes available to schedule pods.".into());
            }
            let parts: Vec<String> = reasons.iter().map(|(r, c)| format!("{c} {r}")).collect();
            return Err(format!("0/{all} nodes are available: {}.", parts.join(", ")));
        }

        // Scores, as kube-scheduler's integer arithmetic gives them.
        let spread = self.scenario.spec.cluster.scheduler.default_spread;
        // This workload's pods per zone, looked up once per pod rather than once per node.
        let in_zone = &mut sc.in_zone;
        in_zone.clear();
        if spread {
            in_zone.extend(self.zone_counts.iter().map(|c| c.get(w)));
        }
        let zone_seen = &mut sc.zone_seen;
        zone_seen.clear();
        zone_seen.resize(self.zone_counts.len(), false);
        for &id in feasible.iter() {
            zone_seen[self.nodes[id].zone as usize] = true;
        }
        let zones = zone_seen.iter().filter(|&&z| z).count();
        // libm's log is the same code on every platform (the platform's own may round differently).
        let host_weight = libm::log(feasible.len() as f64 + 2.0);
        let zone_weight = libm::log(zones as f64 + 2.0);
        let (raw_spread, base) = (&mut sc.raw_spread, &mut sc.base);
        raw_spread.clear();
        base.clear();
        for &id in feasible.iter() {
            let n = &self.nodes[id];
            let (ucpu, umem) = (n.req_cpu + pcpu, n.req_mem + pmem);
            // Fits in i64: validation caps node memory at 1 PiB (2^50 bytes) and CPU at 10^9 m.
            let free = |cap: u64, used: u64| (cap - used) as i64 * MAX_NODE_SCORE / cap as i64;
            let least = (free(n.cpu, ucpu) + free(n.mem, umem)) / 2;
            let fc = (ucpu as f64 / n.cpu as f64).min(1.0);
            let fm = (umem as f64 / n.mem as f64).min(1.0);
            let balanced = ((1.0 - (fc - fm).abs() / 2.0) * MAX_NODE_SCORE as f64) as i64;
            base.push(
                least * defaults::WEIGHT_NODE_RESOURCES_FIT as i64
                    + balanced * defaults::WEIGHT_BALANCED_ALLOCATION as i64,
            );
            if spread {
                let on_node = f64::from(n.by_workload.get(w));
                let in_zone = f64::from(in_zone[n.zone as usize]);
                let s = on_node * host_weight
                    + f64::from(defaults::DEFAULT_SPREAD_HOSTNAME_MAX_SKEW - 1)
                    + in_zone * zone_weight
                    + f64::from(defaults::DEFAULT_SPREAD_ZONE_MAX_SKEW - 1);
                // Go's math.Round for a non-negative score (f64::round is a libm call, and this
                // loop runs for hundreds of nodes per pod).
                raw_spread.push((s + 0.5) as i64);
            }
        }
        let (min_s, max_s) = raw_spread.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
        // TaintToleration (PreferNoSchedule) and NodeAffinity (preferred terms): constant over
        // the nodes, and so left out, unless the pool or the workload has them.
        let soft = self.workloads[w].affinity.as_ref().is_some_and(|a| !a.preferred.is_empty())
            || self
                .pools
                .iter()
                .any(|p| p.taints.iter().any(|t| t.effect == crate::spec::TaintEffect::PreferNoSchedule));
        let (soft_taints, affinity): (Vec<i64>, Vec<i64>) = if soft {
            feasible.iter().map(|&id| (self.intolerable_soft_taints(w, id), self.preferred_affinity(w, id))).unzip()
        } else {
            (Vec::new(), Vec::new())
        };
        let max_taints = soft_taints.iter().copied().max().unwrap_or(0);
        let max_affinity = affinity.iter().copied().max().unwrap_or(0);
        // The best score and every node that has it; one draw picks among them uniformly, as
        // kube-scheduler's selectHost does (it samples as it goes; the distribution is the same).
        let mut best = i64::MIN;
        let tied = &mut sc.tied;
        tied.clear();
        for (i, &id) in feasible.iter().enumerate() {
            let mut score = base[i];
            if spread {
                let normalized =
                    if max_s == 0 { MAX_NODE_SCORE } else { MAX_NODE_SCORE * (max_s + min_s - raw_spread[i]) / max_s };
                score += normalized * defaults::WEIGHT_POD_TOPOLOGY_SPREAD as i64;
            }
            if soft {
                // kube-scheduler's DefaultNormalizeScore: reversed for taints (fewer is better).
                let taint_score = if max_taints == 0 {
                    MAX_NODE_SCORE
                } else {
                    MAX_NODE_SCORE - MAX_NODE_SCORE * soft_taints[i] / max_taints
                };
                let affinity_score = if max_affinity == 0 { 0 } else { MAX_NODE_SCORE * affinity[i] / max_affinity };
                score += taint_score * defaults::WEIGHT_TAINT_TOLERATION as i64
                    + affinity_score * defaults::WEIGHT_NODE_AFFINITY as i64;
            }
            if score > best {
                best = score;
                tied.clear();
            }
            if score == best {
                tied.push(id);
            }
        }
        let pick = if tied.len() == 1 { 0 } else { self.rng.scheduler.random_range(0..tied.len()) };
        Ok(tied[pick])
    }
}

/// Why a member node that is up takes no pods, as kube-scheduler words it.
fn refusal_reason(n: &crate::world::Node) -> &'static str {
    use crate::world::ReadyCond;
    if n.cordoned {
        "node(s) were unschedulable"
    } else if n.health.condition == ReadyCond::Unknown {
        "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"
    } else if n.health.condition == ReadyCond::False {
        "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
    } else {
        "node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_search_size_matches_kube_scheduler() {
        assert_eq!(feasible_nodes_to_find(50, 0), 50);
        assert_eq!(feasible_nodes_to_find(100, 0), 100);
        // 50 - 2000/125 = 34 % of 2000.
        assert_eq!(feasible_nodes_to_find(2000, 0), 680);
        // 50 - 5000/125 = 10 % of 5000.
        assert_eq!(feasible_nodes_to_find(5000, 0), 500);
        assert_eq!(feasible_nodes_to_find(2000, 100), 2000);
    }
}
