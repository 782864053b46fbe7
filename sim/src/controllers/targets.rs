//! Fault targets: which nodes a `node`, `nodeOf` or `pool` (with `pick`) names at the moment the
//! fault fires.

use rand_chacha::ChaCha8Rng;

use crate::ids::NodeId;
use crate::rng;
use crate::spec::NodeTarget;
use crate::validate::selects;
use crate::world::{Node, Phase, World};

impl World {
    /// The nodes `target` names now that pass `usable`, in node order. `nodeOf` takes the nodes
    /// of the bound pods whose labels match; `pool` the pool's nodes that are still members;
    /// `pick` then draws from `rng` among the usable ones.
    pub(crate) fn target_nodes(
        &self,
        target: NodeTarget<'_>,
        rng: &mut ChaCha8Rng,
        usable: impl Fn(&Node) -> bool,
    ) -> Vec<NodeId> {
        let (mut nodes, pick) = match target {
            NodeTarget::Named(name) => {
                return self.live_node(name).ok().filter(|&n| usable(&self.nodes[n])).into_iter().collect();
            }
            NodeTarget::NodeOf(selector, pick) => {
                let mut nodes: Vec<NodeId> = self
                    .workloads
                    .values()
                    .filter(|w| selects(selector, &w.labels))
                    .flat_map(|w| w.active.iter().copied())
                    .filter(|&p| self.pods[p].phase == Phase::Bound)
                    .filter_map(|p| self.pods[p].node)
                    .collect();
                nodes.sort_unstable();
                nodes.dedup();
                (nodes, pick)
            }
            NodeTarget::Pool(pool, pick) => {
                let p = self.pools.iter().position(|x| x.name == pool);
                let nodes = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| Some(n.pool as usize) == p && !n.gone)
                    .map(|(id, _)| id)
                    .collect();
                (nodes, pick)
            }
        };
        nodes.retain(|&n| usable(&self.nodes[n]));
        pick.draw(&mut nodes, |k| rng::index(rng, k));
        nodes
    }
}
