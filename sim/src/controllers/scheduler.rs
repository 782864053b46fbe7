//! kube-scheduler, default profile: filter, score, pick.
//!
//! - **Filter**: the node exists, and the pod's CPU and memory requests fit beside what is
//!   already requested there, within `maxPods`.
//! - **Search size**: like kube-scheduler, the search starts where the last one stopped and ends
//!   once `numFeasibleNodesToFind` feasible nodes are found (adaptive `percentageOfNodesToScore`,
//!   at least 100 nodes).
//! - **Cost**: the window, scores and ties are read from the scheduler cache
//!   (`scheduler_cache.rs`) in O(zones x log nodes) per pod, the same as the walk over the
//!   window gives; the walk itself runs for pods with soft preferences, for clusters of more
//!   than 16 zones, to word why nothing fits, and in debug builds to check the cache.
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

use crate::controllers::scheduler_cache::{MAX_NODE_SCORE, NO_FIT, SchedulerCache, WindowTree, resource_score};
use crate::defaults;
use crate::ids::{NodeId, PodId, WorkloadId};
use crate::time::SimTime;
use crate::world::{Event, Phase, World};

/// Buffers the scheduler reuses from one pod to the next: a placement allocates nothing once
/// they have grown to the cluster's size.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch {
    /// The walk: the window's feasible nodes, in order.
    feasible: Vec<NodeId>,
    /// The walk: their resource scores.
    base: Vec<i64>,
    /// Raw spread scores: the walk's per feasible node; the cache's per zone, for nodes
    /// without the workload's pods.
    raw_spread: Vec<i64>,
    /// The walk: the workload's pods per zone.
    in_zone: Vec<u32>,
    /// Zones the window's feasible nodes are in.
    zone_seen: Vec<bool>,
    /// The walk: the tied best, in window order.
    tied: Vec<NodeId>,
    /// The cache: per zone, the best resource score in the window among nodes without the
    /// workload's pods.
    zone_best: Vec<i64>,
    /// The cache: per zone, how many nodes have it.
    zone_cnt: Vec<u32>,
    /// The cache: per zone, its best if that is among the tied best, else `NO_FIT`.
    tied_best: Vec<i64>,
    /// The cache: the zones in the tie, with their best.
    tied_zones: Vec<(usize, i64)>,
    /// The cache: the window as ranges of node ids, in window order (two when it wraps).
    ranges: Vec<(usize, usize)>,
    /// The cache: window nodes holding the workload's pods that the k-th search steps over,
    /// in window order, and whether each is tied.
    splits: Vec<(usize, bool)>,
    /// The cache: window nodes holding the workload's pods, with their count and raw spread.
    others: Vec<(NodeId, u32, i64)>,
}

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
        self.sched_node_changed(node);
        self.sched_spread_changed(node, w, 1);
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
        let start = self.sched.next_start % total.max(1);
        // Pods with soft preferences take the full walk.
        let soft = self.soft(w);
        let cached = if soft { None } else { self.cached_candidates(w, start, sc) };
        #[cfg(debug_assertions)]
        self.check_against_walk(w, start, sc, cached, soft);
        let (examined, count) = match cached {
            Some(found) => found,
            None => match self.walk_candidates(w, start, sc) {
                Ok(examined) => (examined, sc.tied.len()),
                Err(reason) => {
                    // Every node was examined: the next search starts where this one did.
                    self.sched.next_start = start;
                    return Err(reason);
                }
            },
        };
        self.sched.next_start = (start + examined) % total.max(1);
        let pick = if count == 1 { 0 } else { self.rng.scheduler.random_range(0..count) };
        Ok(if cached.is_some() { sc.kth_cached(&self.sched.cache.current().tree, pick) } else { sc.tied[pick] })
    }

    /// Whether `w`'s pods are scored by TaintToleration (PreferNoSchedule taints on a pool)
    /// and NodeAffinity (preferred terms): for everyone else both are the same on every node.
    fn soft(&self, w: WorkloadId) -> bool {
        self.workloads[w].affinity.as_ref().is_some_and(|a| !a.preferred.is_empty())
            || self
                .pools
                .iter()
                .any(|p| p.taints.iter().any(|t| t.effect == crate::spec::TaintEffect::PreferNoSchedule))
    }

    /// Whether the filters of `w`'s pods depend on the workload (a node selector, an
    /// affinity, or taints on some pool).
    fn constrained(&self, w: WorkloadId) -> bool {
        !self.workloads[w].node_selector.is_empty()
            || self.workloads[w].affinity.is_some()
            || self.pools.iter().any(|p| !p.taints.is_empty())
    }

    /// Filter and score from the scheduler's cache: the same window, scores and ties as
    /// [`World::walk_candidates`]. The window is found in the pod shape's tree; the nodes of a
    /// zone holding none of the workload's pods share one spread score, so the zone's best in
    /// the window (and how many have it) stands for them; the nodes that hold some are scored
    /// one by one. Returns `(nodes examined, nodes tied)`, what [`Scratch::kth_cached`] needs
    /// left in `sc`; `None` when no node fits (the walk then words the reasons) or the cluster
    /// has more zones than the tree keeps.
    fn cached_candidates(&mut self, w: WorkloadId, start: usize, sc: &mut Scratch) -> Option<(usize, usize)> {
        let spread = self.scenario.spec.cluster.scheduler.default_spread;
        let constrained = self.constrained(w);
        let mut cache = std::mem::take(&mut self.sched.cache);
        self.sched_cache_prepare(&mut cache, w, constrained, spread);
        let found = self.cached_scores(&cache, w, start, spread, sc);
        self.sched.cache = cache;
        found
    }

    fn cached_scores(
        &self,
        cache: &SchedulerCache,
        w: WorkloadId,
        start: usize,
        spread: bool,
        sc: &mut Scratch,
    ) -> Option<(usize, usize)> {
        let c = self.workloads[w].cluster;
        let want = feasible_nodes_to_find(self.clusters[c as usize].live_nodes, self.percentage());
        let view = cache.current();
        let (base, tree, zone) = (&view.base[..], &view.tree, &cache.zone[..]);
        let total = base.len();
        if !tree.kept() || tree.fitting() == 0 {
            return None;
        }
        // The window: from `start` round the ring until `want` nodes fit, or the whole ring.
        let after_start = tree.fit_in(start, total);
        let (examined, found) = if tree.fitting() < want {
            (total, tree.fitting())
        } else if after_start >= want {
            let last = tree.kth_fit(start, want - 1).expect("counted");
            (last - start + 1, want)
        } else {
            let last = tree.kth_fit(0, want - after_start - 1).expect("counted");
            (total - start + last + 1, want)
        };
        sc.ranges.clear();
        sc.ranges.push((start, (start + examined).min(total)));
        if start + examined > total {
            sc.ranges.push((0, start + examined - total));
        }
        let zones = self.zone_counts.len();
        sc.zone_best.clear();
        sc.zone_best.resize(zones, NO_FIT);
        sc.zone_cnt.clear();
        sc.zone_cnt.resize(zones, 0);
        sc.others.clear();
        for &(l, r) in &sc.ranges {
            tree.gather(l, r, &mut sc.zone_best, &mut sc.zone_cnt);
            if spread {
                // The window's nodes holding the workload's pods, in window order.
                let from = cache.hosting.partition_point(|&i| (i as usize) < l);
                for &i in cache.hosting[from..].iter().take_while(|&&i| (i as usize) < r) {
                    let i = i as usize;
                    if base[i] != NO_FIT {
                        sc.others.push((NodeId(i as u32), cache.on_node[i], 0));
                    }
                }
            }
        }
        sc.zone_seen.clear();
        sc.zone_seen.extend(sc.zone_best.iter().map(|&b| b != NO_FIT));
        // The tree counted the nodes holding the workload's pods in their zone's best where they
        // share it: they are taken out. A zone whose best only such nodes have needs the best
        // of its other nodes: the window is gathered again in the stretches between them.
        let mut regather = false;
        for o in &sc.others {
            let (i, z) = (usize::from(o.0), zone[usize::from(o.0)] as usize);
            if base[i] == sc.zone_best[z] {
                sc.zone_cnt[z] -= 1;
                regather |= sc.zone_cnt[z] == 0;
            }
        }
        if regather {
            sc.zone_best.fill(NO_FIT);
            sc.zone_cnt.fill(0);
            let mut others = sc.others.iter().map(|o| usize::from(o.0)).peekable();
            for &(l, r) in &sc.ranges {
                let mut from = l;
                while let Some(o) = others.next_if(|&o| o >= l && o < r) {
                    tree.gather(from, o, &mut sc.zone_best, &mut sc.zone_cnt);
                    from = o + 1;
                }
                tree.gather(from, r, &mut sc.zone_best, &mut sc.zone_cnt);
            }
        }
        for z in 0..zones {
            if sc.zone_cnt[z] == 0 {
                sc.zone_best[z] = NO_FIT;
            }
        }
        // The spread score, as the walk computes it: raw per node, normalised by the range.
        let seen = sc.zone_seen.iter().filter(|&&z| z).count();
        let host_weight = libm::log(f64::from(found) + 2.0);
        let zone_weight = libm::log(seen as f64 + 2.0);
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        sc.raw_spread.clear();
        if spread {
            for z in 0..zones {
                let raw = raw_spread(0, self.zone_counts[z].get(w), host_weight, zone_weight);
                sc.raw_spread.push(raw);
                if sc.zone_best[z] != NO_FIT {
                    (lo, hi) = (lo.min(raw), hi.max(raw));
                }
            }
            for o in &mut sc.others {
                let in_zone = self.zone_counts[zone[usize::from(o.0)] as usize].get(w);
                o.2 = raw_spread(o.1, in_zone, host_weight, zone_weight);
                (lo, hi) = (lo.min(o.2), hi.max(o.2));
            }
        }
        let score = |b: i64, raw: i64| if spread { b + spread_score(raw, lo, hi) } else { b };
        let mut best = i64::MIN;
        for z in 0..zones {
            if sc.zone_best[z] != NO_FIT {
                best = best.max(score(sc.zone_best[z], sc.raw_spread.get(z).copied().unwrap_or(0)));
            }
        }
        for o in &sc.others {
            best = best.max(score(base[usize::from(o.0)], o.2));
        }
        // Zones out of the tie keep NO_FIT in `tied_best`; `tied_zones` lists the others.
        sc.tied_best.clear();
        sc.tied_zones.clear();
        let mut count = 0;
        for z in 0..zones {
            let tied =
                sc.zone_best[z] != NO_FIT && score(sc.zone_best[z], sc.raw_spread.get(z).copied().unwrap_or(0)) == best;
            sc.tied_best.push(if tied { sc.zone_best[z] } else { NO_FIT });
            if tied {
                sc.tied_zones.push((z, sc.zone_best[z]));
                count += sc.zone_cnt[z] as usize;
            }
        }
        // The nodes holding the workload's pods that are tied, or whose resource score is at
        // least their tied zone's best (the tree would count them, or they would hide the
        // zone's best under a higher one): the k-th search steps over them one by one.
        sc.splits.clear();
        for o in &sc.others {
            let (i, z) = (usize::from(o.0), zone[usize::from(o.0)] as usize);
            let tied = score(base[i], o.2) == best;
            count += usize::from(tied);
            if tied || (sc.tied_best[z] != NO_FIT && base[i] >= sc.tied_best[z]) {
                sc.splits.push((i, tied));
            }
        }
        Some((examined, count))
    }

    /// kube-scheduler's `percentageOfNodesToScore` as the scenario sets it (0: adaptive).
    fn percentage(&self) -> u32 {
        self.scenario.spec.cluster.scheduler.percentage_of_nodes_to_score
    }

    /// Filter and score by walking the nodes from `start`, as kube-scheduler's cycle does:
    /// the reference the cache is checked against, and the path for pods with soft
    /// preferences and for the reasons a pod fits nowhere. Returns the nodes examined, the
    /// tied best in `sc.tied` in window order, or the reason none fits.
    fn walk_candidates(&self, w: WorkloadId, start: usize, sc: &mut Scratch) -> Result<usize, String> {
        let (pcpu, pmem) = (self.workloads[w].cpu, self.workloads[w].mem);
        let c = self.workloads[w].cluster;
        let total = self.nodes.len();
        let live = self.clusters[c as usize].live_nodes;
        // Member nodes that refuse pods (cordoned, tainted) count in N with their reason.
        let mut refusing = 0;
        let want = feasible_nodes_to_find(live, self.percentage()) as usize;
        let feasible = &mut sc.feasible;
        feasible.clear();
        let mut reasons: BTreeMap<std::borrow::Cow<'static, str>, u32> = BTreeMap::new();
        // Selectors, affinity and taints are rare: without them no node is asked.
        let constrained = self.constrained(w);
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
        let (raw, base) = (&mut sc.raw_spread, &mut sc.base);
        raw.clear();
        base.clear();
        for &id in feasible.iter() {
            let n = &self.nodes[id];
            base.push(resource_score(n, pcpu, pmem));
            if spread {
                raw.push(raw_spread(n.by_workload.get(w), in_zone[n.zone as usize], host_weight, zone_weight));
            }
        }
        let (min_s, max_s) = raw.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
        let soft = self.soft(w);
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
                score += spread_score(raw[i], min_s, max_s);
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
        Ok(examined)
    }

    /// Debug builds: every answer of the cache equals the walk's (the window, and the tied
    /// nodes in order), so that a change the cache was not told about fails the tests at the
    /// placement it moves.
    #[cfg(debug_assertions)]
    fn check_against_walk(
        &self,
        w: WorkloadId,
        start: usize,
        sc: &Scratch,
        cached: Option<(usize, usize)>,
        soft: bool,
    ) {
        if soft || !self.sched.cache.current().tree.kept() {
            return;
        }
        let mut walk = Scratch::default();
        let walked = self.walk_candidates(w, start, &mut walk);
        match (cached, walked) {
            (None, Err(_)) => {}
            (Some((examined, count)), Ok(walk_examined)) => {
                assert_eq!(
                    (examined, count),
                    (walk_examined, walk.tied.len()),
                    "the scheduler cache disagrees with the walk on the window or the tie"
                );
                let tree = &self.sched.cache.current().tree;
                let ties: Vec<NodeId> = (0..count).map(|k| sc.kth_cached(tree, k)).collect();
                assert_eq!(
                    (examined, &ties),
                    (walk_examined, &walk.tied),
                    "the scheduler cache disagrees with the walk"
                );
            }
            (c, w) => panic!("the scheduler cache found {c:?}, the walk {w:?}"),
        }
    }
}

impl Scratch {
    /// The `k`-th of the tied nodes [`World::cached_candidates`] left, in window order: the
    /// window's ranges in turn, and in each the tree's tied nodes between the nodes holding the
    /// workload's pods that it steps over (each counted by its own score).
    fn kth_cached(&self, tree: &WindowTree, k: usize) -> NodeId {
        let mut k = k;
        let mut splits = self.splits.iter().copied().peekable();
        for &(l, r) in &self.ranges {
            let mut from = l;
            while let Some((o, tied)) = splits.next_if(|&(o, _)| o >= l && o < r) {
                if let Some(p) = tree.kth_tied(from, o, &self.tied_zones, &mut k) {
                    return NodeId(p as u32);
                }
                if tied {
                    if k == 0 {
                        return NodeId(o as u32);
                    }
                    k -= 1;
                }
                from = o + 1;
            }
            if let Some(p) = tree.kth_tied(from, r, &self.tied_zones, &mut k) {
                return NodeId(p as u32);
            }
        }
        unreachable!("k is below the count of tied nodes")
    }
}

/// `PodTopologySpread`'s raw score of a node holding `on_node` of the workload's pods in a
/// zone holding `in_zone` (the cluster default constraints: `count * ln(domains + 2) +
/// maxSkew - 1` per constraint).
fn raw_spread(on_node: u32, in_zone: u32, host_weight: f64, zone_weight: f64) -> i64 {
    let s = f64::from(on_node) * host_weight
        + f64::from(defaults::DEFAULT_SPREAD_HOSTNAME_MAX_SKEW - 1)
        + f64::from(in_zone) * zone_weight
        + f64::from(defaults::DEFAULT_SPREAD_ZONE_MAX_SKEW - 1);
    // Go's math.Round for a non-negative score (f64::round is a libm call, and this runs for
    // hundreds of nodes per pod).
    (s + 0.5) as i64
}

/// The weighted spread score of a raw score, normalised over the window's `min` and `max` so
/// that fewer matching pods score higher.
fn spread_score(raw: i64, min: i64, max: i64) -> i64 {
    let normalized = if max == 0 { MAX_NODE_SCORE } else { MAX_NODE_SCORE * (max + min - raw) / max };
    normalized * defaults::WEIGHT_POD_TOPOLOGY_SPREAD as i64
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
