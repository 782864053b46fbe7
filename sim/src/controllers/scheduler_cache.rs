//! The scheduler's cache: what each node offers the next pod, kept between placements.
//!
//! kube-scheduler does not re-derive every node for every pod either: its cache keeps a
//! `NodeInfo` per node, updated as pods are bound and removed, and each cycle reads a snapshot.
//! Here a placement changes one node, so the cache updates that node and nothing else:
//!
//! - a **fit view** per pod shape (cluster, CPU and memory requests, and the workload when its
//!   selector, affinity or the pools' taints can refuse nodes): per node, the score the
//!   resource plugins give a pod of that shape there, or [`NO_FIT`] when the filters refuse it;
//! - per node, its zone, and how many active pods of one workload (the last one placed) it
//!   holds, for topology spreading.
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
            for v in &mut cache.views {
                v.base.push(self.fit_entry(v.cluster, v.cpu, v.mem, v.constrained, id));
            }
        }
    }

    /// Something that a filter or a score reads changed on `node`: its entry in every view is
    /// computed again.
    pub(crate) fn sched_node_changed(&mut self, node: NodeId) {
        let mut cache = std::mem::take(&mut self.sched.cache);
        self.sched_cache_grow(&mut cache);
        for v in &mut cache.views {
            v.base[usize::from(node)] = self.fit_entry(v.cluster, v.cpu, v.mem, v.constrained, node);
        }
        self.sched.cache = cache;
    }

    /// An active pod of `w` was bound to `node` (`delta` 1) or left the workload's count
    /// (`delta` -1).
    pub(crate) fn sched_spread_changed(&mut self, node: NodeId, w: WorkloadId, delta: i32) {
        let cache = &mut self.sched.cache;
        if cache.spread_of == Some(w) && usize::from(node) < cache.on_node.len() {
            let c = &mut cache.on_node[usize::from(node)];
            *c = c.checked_add_signed(delta).expect("a workload's count on a node stays non-negative");
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
        let view = match found {
            Some(i) => cache.views.remove(i),
            None => {
                if cache.views.len() == MAX_VIEWS {
                    cache.views.pop();
                }
                let base =
                    self.nodes.ids().map(|id| self.fit_entry(cluster, cpu, mem, constrained, id)).collect::<Vec<_>>();
                FitView { cluster, cpu, mem, constrained, base }
            }
        };
        cache.views.insert(0, view);
        if spread && cache.spread_of != Some(w) {
            cache.spread_of = Some(w);
            for (i, id) in self.nodes.ids().enumerate() {
                cache.on_node[i] = self.nodes[id].by_workload.get(w);
            }
        }
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
