//! The scheduler's cache: what each node offers the next pod, kept between placements.
//!
//! kube-scheduler does not re-derive every node for every pod either: its cache keeps a
//! `NodeInfo` per node, updated as pods are bound and removed, and each cycle reads a snapshot.
//! Here a placement changes one node, so the cache updates that node and nothing else:
//!
//! - a **fit view** per pod shape (cluster, CPU and memory requests, and the workload when its
//!   selector, affinity or the pools' taints can refuse nodes): per node, the score the
//!   resource plugins give a pod of that shape there, or [`NO_FIT`] when the filters refuse it,
//!   and a [`WindowTree`] of those scores, from which a placement reads its window, the
//!   per-zone bests and the k-th tied node in O(zones x log nodes);
//! - per node, its zone, and how many active pods of one workload (the last one placed) it
//!   holds, with the list of the nodes holding some, for topology spreading.
//!
//! The world tells the cache about every change that can move a filter or a score: a pod bound
//! or released ([`World::sched_node_changed`] from `bind` and `finish_delete`), a node that
//! goes down, comes up, leaves or changes what it accepts (from `nodes.rs` and `change_node`),
//! and a pod joining or leaving a workload's spread counts ([`World::sched_spread_changed`]).
//! `Sim::check_invariants` recomputes the whole cache and compares, and in debug builds every
//! placement the cache answers is checked against the full filter-and-score walk.
//!
//! Determinism: the views are a short list searched in order, most recently used first; no
//! hashing, nothing that depends on addresses.

use crate::ids::{NodeId, WorkloadId};
use crate::world::{Node, World};

/// A node the filters refuse for this view's pods.
pub(crate) const NO_FIT: i64 = i64::MIN;

/// How many pod shapes the cache keeps at once. A scenario rarely has more distinct request
/// sizes than this; past it the least recently used view is rebuilt when asked for again,
/// which costs one pass over the nodes, as a placement did before the cache.
const MAX_VIEWS: usize = 8;

/// Most score a plugin gives a node.
pub(crate) const MAX_NODE_SCORE: i64 = 100;

/// What a pod of one shape is offered by each node.
#[derive(Clone, Debug)]
pub(crate) struct FitView {
    /// The pod's cluster: nodes of other clusters never fit.
    cluster: u32,
    /// The pod's CPU request, millicores.
    cpu: u64,
    /// The pod's memory request, bytes.
    mem: u64,
    /// The workload, when its selector, required affinity or a pool's taints decide which
    /// nodes it may use (its view is then its own).
    constrained: Option<WorkloadId>,
    /// Per node: `NodeResourcesFit` + `BalancedAllocation`, weighted, or [`NO_FIT`].
    pub base: Vec<i64>,
    /// The same, summed up over ranges of nodes (empty when the cluster has more zones than
    /// [`MAX_TREE_ZONES`]).
    pub tree: WindowTree,
}

/// Most zones the window tree keeps per-zone bests for; past it placements take the walk.
pub(crate) const MAX_TREE_ZONES: usize = 16;

/// A segment tree over the nodes in id order (the ring kube-scheduler's search goes round), so
/// that a placement reads its window in O(zones x log nodes) instead of node by node. Per
/// range it holds how many nodes fit, and per zone the best resource score among them, with
/// how many have it. The nodes of one zone that hold none of the pod's workload share one
/// spread score, so the best of them is the zone's best in the window; the few that do hold
/// the workload's pods are scored one by one and taken out of the zone's count where they
/// share its best (`World::cached_scores`).
#[derive(Clone, Debug, Default)]
pub(crate) struct WindowTree {
    /// Leaves: the nodes, padded to a power of two.
    size: usize,
    /// Zones per tree node.
    zones: usize,
    /// Per tree node: fitting nodes under it.
    fit: Vec<u32>,
    /// Per tree node and zone: the best score of a fitting node, or [`NO_FIT`].
    max: Vec<i64>,
    /// Per tree node and zone: how many fitting nodes have it.
    cnt: Vec<u32>,
}

impl WindowTree {
    /// A tree of the nodes whose scores are `base` and zones `zone`.
    fn build(base: &[i64], zone: &[u32], zones: usize) -> WindowTree {
        if zones > MAX_TREE_ZONES {
            return WindowTree::default();
        }
        let size = base.len().next_power_of_two().max(1);
        let mut t = WindowTree {
            size,
            zones,
            fit: vec![0; 2 * size],
            max: vec![NO_FIT; 2 * size * zones],
            cnt: vec![0; 2 * size * zones],
        };
        for i in 0..base.len() {
            t.leaf(i, base[i], zone[i]);
        }
        for node in (1..size).rev() {
            t.pull(node);
        }
        t
    }

    /// Whether the tree is kept (the cluster has at most [`MAX_TREE_ZONES`] zones).
    pub(crate) fn kept(&self) -> bool {
        self.size > 0
    }

    fn leaf(&mut self, i: usize, base: i64, zone: u32) {
        let node = self.size + i;
        let z = self.zones;
        self.fit[node] = u32::from(base != NO_FIT);
        self.max[node * z..(node + 1) * z].fill(NO_FIT);
        self.cnt[node * z..(node + 1) * z].fill(0);
        if base != NO_FIT {
            self.max[node * z + zone as usize] = base;
            self.cnt[node * z + zone as usize] = 1;
        }
    }

    fn pull(&mut self, node: usize) {
        let z = self.zones;
        self.fit[node] = self.fit[2 * node] + self.fit[2 * node + 1];
        // The children are after the parent: split there so the loop needs no bounds checks.
        let (max_head, max_tail) = self.max.split_at_mut(2 * node * z);
        let (cnt_head, cnt_tail) = self.cnt.split_at_mut(2 * node * z);
        let (max, cnt) = (&mut max_head[node * z..(node + 1) * z], &mut cnt_head[node * z..(node + 1) * z]);
        let (ml, mr) = max_tail[..2 * z].split_at(z);
        let (cl, cr) = cnt_tail[..2 * z].split_at(z);
        for k in 0..z {
            (max[k], cnt[k]) = if ml[k] > mr[k] {
                (ml[k], cl[k])
            } else if ml[k] < mr[k] {
                (mr[k], cr[k])
            } else {
                (ml[k], cl[k] + cr[k])
            };
        }
    }

    /// Node `i` changed: its leaf and the path above it are computed again.
    fn set(&mut self, i: usize, base: i64, zone: u32) {
        if !self.kept() {
            return;
        }
        self.leaf(i, base, zone);
        let mut node = (self.size + i) / 2;
        while node >= 1 {
            self.pull(node);
            node /= 2;
        }
    }

    /// Fitting nodes in all.
    pub(crate) fn fitting(&self) -> u32 {
        self.fit[1]
    }

    /// Fitting nodes among `l..r`.
    pub(crate) fn fit_in(&self, l: usize, r: usize) -> u32 {
        let (mut l, mut r, mut sum) = (l + self.size, r + self.size, 0);
        while l < r {
            if l & 1 == 1 {
                sum += self.fit[l];
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                sum += self.fit[r];
            }
            l /= 2;
            r /= 2;
        }
        sum
    }

    /// The position of the `k`-th (from 0) fitting node at or after `from`, if there is one.
    pub(crate) fn kth_fit(&self, from: usize, k: u32) -> Option<usize> {
        let mut k = k + self.fit_in(0, from);
        if self.fit[1] <= k {
            return None;
        }
        let mut node = 1;
        while node < self.size {
            if self.fit[2 * node] > k {
                node *= 2;
            } else {
                k -= self.fit[2 * node];
                node = 2 * node + 1;
            }
        }
        Some(node - self.size)
    }

    /// Folds the per-zone bests of `l..r` into `max` and `cnt`.
    pub(crate) fn gather(&self, l: usize, r: usize, max: &mut [i64], cnt: &mut [u32]) {
        let z = self.zones;
        let mut fold = |node: usize| {
            for k in 0..z {
                let (m, c) = (self.max[node * z + k], self.cnt[node * z + k]);
                if m > max[k] {
                    (max[k], cnt[k]) = (m, c);
                } else if m == max[k] {
                    cnt[k] += c;
                }
            }
        };
        let (mut l, mut r) = (l + self.size, r + self.size);
        while l < r {
            if l & 1 == 1 {
                fold(l);
                l += 1;
            }
            if r & 1 == 1 {
                r -= 1;
                fold(r);
            }
            l /= 2;
            r /= 2;
        }
    }

    /// Fitting nodes under `node` whose score is the best of their zone, for the `(zone,
    /// best)` pairs of the zones in the tie.
    fn tied_under(&self, node: usize, tied: &[(usize, i64)]) -> usize {
        let z = self.zones;
        tied.iter()
            .filter(|&&(k, best)| self.max[node * z + k] == best)
            .map(|&(k, _)| self.cnt[node * z + k] as usize)
            .sum()
    }

    /// The position of the `k`-th (from 0) tied node in `l..r`; when there are at most `k`,
    /// `None`, with `k` lowered by how many there are. The range's O(log n) covering nodes
    /// are read left to right, and the one holding the answer is descended.
    pub(crate) fn kth_tied(&self, l: usize, r: usize, tied: &[(usize, i64)], k: &mut usize) -> Option<usize> {
        if l >= r || tied.is_empty() {
            return None;
        }
        let (mut lo, mut hi) = (l + self.size, r + self.size);
        // Covering nodes on the right come bottom-up, so right to left: kept to read last.
        let mut right = [0usize; usize::BITS as usize];
        let mut n_right = 0;
        while lo < hi {
            if lo & 1 == 1 {
                if let Some(p) = self.descend(lo, tied, k) {
                    return Some(p);
                }
                lo += 1;
            }
            if hi & 1 == 1 {
                hi -= 1;
                right[n_right] = hi;
                n_right += 1;
            }
            lo /= 2;
            hi /= 2;
        }
        right[..n_right].iter().rev().find_map(|&node| self.descend(node, tied, k))
    }

    /// The `k`-th tied node under `node`, or `None` with `k` lowered by how many are there.
    fn descend(&self, node: usize, tied: &[(usize, i64)], k: &mut usize) -> Option<usize> {
        let t = self.tied_under(node, tied);
        if t <= *k {
            *k -= t;
            return None;
        }
        let mut node = node;
        while node < self.size {
            let left = self.tied_under(2 * node, tied);
            if left > *k {
                node *= 2;
            } else {
                *k -= left;
                node = 2 * node + 1;
            }
        }
        Some(node - self.size)
    }
}

impl SchedulerCache {
    /// The view `World::sched_cache_prepare` made current.
    pub(crate) fn current(&self) -> &FitView {
        &self.views[0]
    }
}

/// See the module documentation.
#[derive(Clone, Debug, Default)]
pub(crate) struct SchedulerCache {
    /// Views, most recently used first, at most [`MAX_VIEWS`].
    views: Vec<FitView>,
    /// Per node: its zone (index into `World::zones`).
    pub zone: Vec<u32>,
    /// The workload whose per-node counts `on_node` holds.
    spread_of: Option<WorkloadId>,
    /// Per node: active pods of `spread_of` bound there (`Node::by_workload`).
    pub on_node: Vec<u32>,
    /// The nodes where that count is above zero, in id order.
    pub hosting: Vec<u32>,
}

/// The resource plugins' score for a pod of `cpu` and `mem` on `n`, assuming it fits: the same
/// integer arithmetic as kube-scheduler's `LeastAllocated` and `BalancedAllocation`.
pub(crate) fn resource_score(n: &Node, cpu: u64, mem: u64) -> i64 {
    let (ucpu, umem) = (n.req_cpu + cpu, n.req_mem + mem);
    // Fits in i64: validation caps node memory at 1 PiB (2^50 bytes) and CPU at 10^9 m.
    let free = |cap: u64, used: u64| (cap - used) as i64 * MAX_NODE_SCORE / cap as i64;
    let least = (free(n.cpu, ucpu) + free(n.mem, umem)) / 2;
    let fc = (ucpu as f64 / n.cpu as f64).min(1.0);
    let fm = (umem as f64 / n.mem as f64).min(1.0);
    let balanced = ((1.0 - (fc - fm).abs() / 2.0) * MAX_NODE_SCORE as f64) as i64;
    least * crate::defaults::WEIGHT_NODE_RESOURCES_FIT as i64
        + balanced * crate::defaults::WEIGHT_BALANCED_ALLOCATION as i64
}

/// The pod's requests fit beside what `n` already holds, within `maxPods`.
fn fits(n: &Node, cpu: u64, mem: u64) -> bool {
    n.req_cpu + cpu <= n.cpu && n.req_mem + mem <= n.mem && (n.pods.len() as u32) < n.max_pods
}

impl World {
    /// The entry of `node` in a view of (`cluster`, `cpu`, `mem`, `constrained`).
    fn fit_entry(&self, cluster: u32, cpu: u64, mem: u64, constrained: Option<WorkloadId>, node: NodeId) -> i64 {
        let n = &self.nodes[node];
        if n.cluster != cluster
            || !n.schedulable()
            || constrained.is_some_and(|w| self.placement_refusal(w, node).is_some())
            || !fits(n, cpu, mem)
        {
            return NO_FIT;
        }
        resource_score(n, cpu, mem)
    }

    /// Grows the cache to nodes that joined since it last looked (cloud purchases).
    fn sched_cache_grow(&self, cache: &mut SchedulerCache) {
        let total = self.nodes.len();
        let from = cache.zone.len();
        if from == total {
            return;
        }
        for i in from..total {
            let id = NodeId::from(i);
            cache.zone.push(self.nodes[id].zone);
            let on = cache.spread_of.map_or(0, |w| self.nodes[id].by_workload.get(w));
            cache.on_node.push(on);
            if on > 0 {
                cache.hosting.push(i as u32);
            }
            for v in &mut cache.views {
                v.base.push(self.fit_entry(v.cluster, v.cpu, v.mem, v.constrained, id));
            }
        }
        for v in &mut cache.views {
            v.tree = WindowTree::build(&v.base, &cache.zone, self.zone_counts.len());
        }
    }

    /// Something that a filter or a score reads changed on `node`: its entry in every view is
    /// computed again.
    pub(crate) fn sched_node_changed(&mut self, node: NodeId) {
        let mut cache = std::mem::take(&mut self.sched.cache);
        self.sched_cache_grow(&mut cache);
        let i = usize::from(node);
        let zone = cache.zone[i];
        for v in &mut cache.views {
            v.base[i] = self.fit_entry(v.cluster, v.cpu, v.mem, v.constrained, node);
            v.tree.set(i, v.base[i], zone);
        }
        self.sched.cache = cache;
    }

    /// An active pod of `w` was bound to `node` (`delta` 1) or left the workload's count
    /// (`delta` -1).
    pub(crate) fn sched_spread_changed(&mut self, node: NodeId, w: WorkloadId, delta: i32) {
        let cache = &mut self.sched.cache;
        let i = usize::from(node);
        if cache.spread_of == Some(w) && i < cache.on_node.len() {
            let before = cache.on_node[i];
            let after = before.checked_add_signed(delta).expect("a workload's count on a node stays non-negative");
            cache.on_node[i] = after;
            if (before == 0) != (after == 0) {
                match cache.hosting.binary_search(&(i as u32)) {
                    Err(at) => cache.hosting.insert(at, i as u32),
                    Ok(at) => {
                        cache.hosting.remove(at);
                    }
                }
            }
        }
    }

    /// Makes the cache current for a pod of workload `w` (`constrained` when its view is its
    /// own, `spread` when its per-node counts are needed): its view is then the first.
    pub(crate) fn sched_cache_prepare(
        &self,
        cache: &mut SchedulerCache,
        w: WorkloadId,
        constrained: bool,
        spread: bool,
    ) {
        self.sched_cache_grow(cache);
        let wl = &self.workloads[w];
        let (cluster, cpu, mem) = (wl.cluster, wl.cpu, wl.mem);
        let constrained = constrained.then_some(w);
        let found = cache
            .views
            .iter()
            .position(|v| v.cluster == cluster && v.cpu == cpu && v.mem == mem && v.constrained == constrained);
        if spread && cache.spread_of != Some(w) {
            // The counts of the workload placed before go, this one's come: from its active
            // pods (what `Node::by_workload` counts), so the switch costs its pods, not the nodes.
            cache.spread_of = Some(w);
            for &at in &cache.hosting {
                cache.on_node[at as usize] = 0;
            }
            // Cleared, not taken: the list keeps its capacity (a switch allocates nothing).
            cache.hosting.clear();
            for &p in &self.workloads[w].active {
                if let Some(n) = self.pods[p].node {
                    cache.on_node[usize::from(n)] += 1;
                    cache.hosting.push(n.0);
                }
            }
            cache.hosting.sort_unstable();
            cache.hosting.dedup();
        }
        let view = match found {
            Some(i) => cache.views.remove(i),
            None => {
                if cache.views.len() == MAX_VIEWS {
                    cache.views.pop();
                }
                let base =
                    self.nodes.ids().map(|id| self.fit_entry(cluster, cpu, mem, constrained, id)).collect::<Vec<_>>();
                let tree = WindowTree::build(&base, &cache.zone, self.zone_counts.len());
                FitView { cluster, cpu, mem, constrained, base, tree }
            }
        };
        cache.views.insert(0, view);
    }

    /// The cache recomputed from the nodes, compared with what it holds (for
    /// `Sim::check_invariants`).
    pub(crate) fn sched_cache_check(&self) -> Result<(), String> {
        let cache = &self.sched.cache;
        for v in &cache.views {
            for (i, id) in self.nodes.ids().enumerate().take(v.base.len()) {
                let want = self.fit_entry(v.cluster, v.cpu, v.mem, v.constrained, id);
                if v.base[i] != want {
                    return Err(format!(
                        "scheduler cache: node {} scores {} for a {}m/{}B pod, the cache says {}",
                        self.nodes[id].name, want, v.cpu, v.mem, v.base[i]
                    ));
                }
            }
        }
        for v in &cache.views {
            let fresh = WindowTree::build(&v.base, &cache.zone, self.zone_counts.len());
            if (&fresh.fit, &fresh.max, &fresh.cnt) != (&v.tree.fit, &v.tree.max, &v.tree.cnt) {
                return Err(format!("scheduler cache: the window tree of a {}m/{}B pod drifted", v.cpu, v.mem));
            }
        }
        let hosting: Vec<u32> = (0..cache.on_node.len() as u32).filter(|&i| cache.on_node[i as usize] > 0).collect();
        if hosting != cache.hosting {
            return Err("scheduler cache: the nodes holding the spread workload's pods drifted".into());
        }
        if let Some(w) = cache.spread_of {
            for (i, id) in self.nodes.ids().enumerate().take(cache.on_node.len()) {
                if cache.on_node[i] != self.nodes[id].by_workload.get(w) {
                    return Err(format!(
                        "scheduler cache: node {} holds {} pods of {}, the cache says {}",
                        self.nodes[id].name,
                        self.nodes[id].by_workload.get(w),
                        self.workloads[w].name,
                        cache.on_node[i]
                    ));
                }
            }
        }
        Ok(())
    }
}
