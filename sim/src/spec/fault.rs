//! Faults: timed injections taken from the incident documents.

use serde::{Deserialize, Serialize};

use super::draw::{Drawn, TimeDraw};
use super::oneof::one_key_enum;
use super::{Labels, Pick, Pricing, TargetFields};
use crate::time::{At, SimDuration};

one_key_enum! {
    /// One injected fault.
    #[derive(Clone, Debug)]
    pub enum FaultSpec {
        /// A ConfigMap is changed (its version goes up by one).
        ConfigMapUpdate(ConfigMapUpdate) = "configMapUpdate",
        /// Running containers exit (the process crashes or is killed).
        ContainerCrash(ContainerCrash) = "containerCrash",
        /// A node's machine is terminated and its Node object deleted.
        NodeRemoved(OneNodeFault) = "nodeRemoved",
        /// The provider's stock of an instance type in a zone changes (a stockout is `available: 0`).
        StockChange(StockChange) = "stockChange",
        /// Cluster DNS stops answering on a set of nodes: containers that resolve names at start fail.
        DnsFailure(NodeFault) = "dnsFailure",
        /// The kubelet on a set of nodes stops working: pods bound there stay ContainerCreating.
        KubeletFailure(NodeFault) = "kubeletFailure",
        /// A node hangs (machine or agent): it stops reporting until rebooted, or until it leaves
        /// its swarm and joins again.
        NodeFailure(NodeFailure) = "nodeFailure",
        /// Kubernetes before 1.24 (dockershim), or swarm: the docker daemon on a node hangs (`docker ps` never answers). Running
        /// containers go on; the kubelet's PLEG relist blocks, and after its 3-minute threshold
        /// the kubelet reports the node NotReady. A restart of docker or a reboot clears it.
        DockerHung(OneNodeFault) = "dockerHung",
        /// Kubernetes 1.24 and later: containerd on a node hangs (`crictl ps` never answers).
        /// As with a hung docker, running containers go on, the PLEG relist blocks and after
        /// 3 minutes the kubelet reports NotReady. A restart of containerd or a reboot clears it.
        RuntimeHung(OneNodeFault) = "runtimeHung",
        /// Kubernetes: PLEG unhealthy for a reason outside docker (an old systemd): the kubelet
        /// reports NotReady at once. A reboot clears it, for `recurAfter` if given.
        PlegUnhealthy(PlegFault) = "plegUnhealthy",
        /// Kubernetes: the kubelet process dies. Heartbeats stop; containers go on running and
        /// serving; nothing new starts there. A restart of the kubelet or a reboot clears it.
        /// (Simplification: the model goes on evaluating the running containers' probes.)
        KubeletDown(OneNodeFault) = "kubeletDown",
        /// Kubernetes: the node loses its network for `for` (for good when omitted): no
        /// heartbeats, no traffic to its containers, no SSH.
        NetworkLoss(TimedNodeFault) = "networkLoss",
        /// Kubernetes: load so high the kubelet misses its heartbeats for `for` (until a reboot
        /// when omitted); containers still serve.
        NodeOverload(TimedNodeFault) = "nodeOverload",
        /// Kubernetes: the node's disk fills with files no pod owns (logs): DiskPressure, and
        /// the kubelet evicts pods. Only cleaning the disk (`cleanDisk`) clears it.
        DiskFull(OneNodeFault) = "diskFull",
    }
}

impl FaultSpec {
    /// When it happens (in a drawn scenario; see [`FaultSpec::time`] for the distribution).
    pub fn at(&self) -> At {
        self.time().value()
    }

    /// When it happens, as written: a time or a distribution.
    pub fn time(&self) -> TimeDraw {
        match self {
            FaultSpec::ConfigMapUpdate(f) => f.at,
            FaultSpec::ContainerCrash(f) => f.at,
            FaultSpec::StockChange(f) => f.at,
            FaultSpec::DnsFailure(f) | FaultSpec::KubeletFailure(f) => f.at,
            FaultSpec::NodeFailure(f) => f.at,
            FaultSpec::NodeRemoved(f)
            | FaultSpec::DockerHung(f)
            | FaultSpec::RuntimeHung(f)
            | FaultSpec::KubeletDown(f)
            | FaultSpec::DiskFull(f) => f.at,
            FaultSpec::PlegUnhealthy(f) => f.at,
            FaultSpec::NetworkLoss(f) | FaultSpec::NodeOverload(f) => f.at,
        }
    }

    /// When it happens, to change it (drawing, the schedule search).
    pub fn time_mut(&mut self) -> &mut TimeDraw {
        match self {
            FaultSpec::ConfigMapUpdate(f) => &mut f.at,
            FaultSpec::ContainerCrash(f) => &mut f.at,
            FaultSpec::StockChange(f) => &mut f.at,
            FaultSpec::DnsFailure(f) | FaultSpec::KubeletFailure(f) => &mut f.at,
            FaultSpec::NodeFailure(f) => &mut f.at,
            FaultSpec::NodeRemoved(f)
            | FaultSpec::DockerHung(f)
            | FaultSpec::RuntimeHung(f)
            | FaultSpec::KubeletDown(f)
            | FaultSpec::DiskFull(f) => &mut f.at,
            FaultSpec::PlegUnhealthy(f) => &mut f.at,
            FaultSpec::NetworkLoss(f) | FaultSpec::NodeOverload(f) => &mut f.at,
        }
    }

    /// Draws every distribution of the fault (its time, count, duration) from `rng`.
    pub fn realize(&mut self, start: &crate::time::StartTime, rng: &mut rand_chacha::ChaCha8Rng) {
        let t = self.time().draw(start, rng);
        *self.time_mut() = TimeDraw::Fixed(t);
        match self {
            FaultSpec::ContainerCrash(c) => c.count = c.count.map(|k| Drawn::Fixed(k.draw(rng))),
            FaultSpec::NetworkLoss(f) | FaultSpec::NodeOverload(f) => {
                f.for_ = f.for_.map(|d| Drawn::Fixed(d.draw(rng)))
            }
            _ => {}
        }
    }

    /// Whether any of its values is a distribution.
    pub fn has_draws(&self) -> bool {
        self.time().is_drawn()
            || match self {
                FaultSpec::ContainerCrash(c) => c.count.is_some_and(|k| k.is_drawn()),
                FaultSpec::NetworkLoss(f) | FaultSpec::NodeOverload(f) => f.for_.is_some_and(|d| d.is_drawn()),
                _ => false,
            }
    }

    /// The note written with it, if any.
    pub fn note(&self) -> Option<&str> {
        match self {
            FaultSpec::ConfigMapUpdate(f) => f.note.as_deref(),
            FaultSpec::ContainerCrash(f) => f.note.as_deref(),
            FaultSpec::StockChange(f) => f.note.as_deref(),
            FaultSpec::DnsFailure(f) | FaultSpec::KubeletFailure(f) => f.note.as_deref(),
            FaultSpec::NodeFailure(f) => f.note.as_deref(),
            FaultSpec::NodeRemoved(f)
            | FaultSpec::DockerHung(f)
            | FaultSpec::RuntimeHung(f)
            | FaultSpec::KubeletDown(f)
            | FaultSpec::DiskFull(f) => f.note.as_deref(),
            FaultSpec::PlegUnhealthy(f) => f.note.as_deref(),
            FaultSpec::NetworkLoss(f) | FaultSpec::NodeOverload(f) => f.note.as_deref(),
        }
    }

    /// Whether this is a fault of a Kubernetes node's agents.
    pub fn is_agent_fault(&self) -> bool {
        matches!(
            self,
            FaultSpec::DockerHung(_)
                | FaultSpec::RuntimeHung(_)
                | FaultSpec::KubeletDown(_)
                | FaultSpec::DiskFull(_)
                | FaultSpec::PlegUnhealthy(_)
                | FaultSpec::NetworkLoss(_)
                | FaultSpec::NodeOverload(_)
        )
    }

    /// The `pick` of a fault on nodes, to change it (the schedule search picks fewer).
    pub fn pick_mut(&mut self) -> Option<&mut Option<Pick>> {
        match self {
            FaultSpec::NodeRemoved(f)
            | FaultSpec::DockerHung(f)
            | FaultSpec::RuntimeHung(f)
            | FaultSpec::KubeletDown(f)
            | FaultSpec::DiskFull(f) => Some(&mut f.pick),
            FaultSpec::PlegUnhealthy(f) => Some(&mut f.pick),
            FaultSpec::NetworkLoss(f) | FaultSpec::NodeOverload(f) => Some(&mut f.pick),
            FaultSpec::NodeFailure(f) => Some(&mut f.pick),
            _ => None,
        }
    }

    /// Aims a fault on nodes at the node `name` alone (its `pool` and `pick` dropped); other
    /// faults are left as they are.
    pub fn aim_at_node(&mut self, name: &str) {
        let (node, pool) = match self {
            FaultSpec::NodeRemoved(f)
            | FaultSpec::DockerHung(f)
            | FaultSpec::RuntimeHung(f)
            | FaultSpec::KubeletDown(f)
            | FaultSpec::DiskFull(f) => (&mut f.node, &mut f.pool),
            FaultSpec::PlegUnhealthy(f) => (&mut f.node, &mut f.pool),
            FaultSpec::NetworkLoss(f) | FaultSpec::NodeOverload(f) => (&mut f.node, &mut f.pool),
            FaultSpec::NodeFailure(f) => {
                f.nodes = vec![name.to_string()];
                f.pool = None;
                f.pick = None;
                return;
            }
            _ => return,
        };
        *node = Some(name.to_string());
        *pool = None;
        if let Some(pick) = self.pick_mut() {
            *pick = None;
        }
    }

    /// The target fields of a fault on nodes picked by one target (`node`, `nodeOf`, `pool`,
    /// `pick`), if it is one: `nodeRemoved` and the node-agent faults.
    pub fn target_fields(&self) -> Option<TargetFields<'_>> {
        match self {
            FaultSpec::NodeRemoved(f)
            | FaultSpec::DockerHung(f)
            | FaultSpec::RuntimeHung(f)
            | FaultSpec::KubeletDown(f)
            | FaultSpec::DiskFull(f) => Some(TargetFields::of(&f.node, &f.node_of, &f.pool, f.pick)),
            FaultSpec::PlegUnhealthy(f) => Some(TargetFields::of(&f.node, &f.node_of, &f.pool, f.pick)),
            FaultSpec::NetworkLoss(f) | FaultSpec::NodeOverload(f) => {
                Some(TargetFields::of(&f.node, &f.node_of, &f.pool, f.pick))
            }
            _ => None,
        }
    }
}

/// A ConfigMap is changed.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigMapUpdate {
    /// When: a time, or drawn per seed (`{around: "01:49", jitter: 10m}`, `{from, to}`).
    pub at: TimeDraw,
    /// Which ConfigMap.
    pub config_map: String,
    /// Why it is here (source or assumption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Running containers of matching pods exit with an error.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerCrash {
    /// When: a time, or drawn per seed (`{around: "01:49", jitter: 10m}`, `{from, to}`).
    pub at: TimeDraw,
    /// Pod labels to match.
    pub selector: Labels,
    /// How many of the matching running containers (chosen at random); all when omitted; a
    /// distribution `{min, max}` is drawn per seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Drawn<u32>>,
    /// Why it is here (source or assumption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A node hangs.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeFailure {
    /// When: a time, or drawn per seed (`{around: "01:49", jitter: 10m}`, `{from, to}`).
    pub at: TimeDraw,
    /// Node names; a name no node has yet hits the node of that name when it joins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// Or the node running a pod with these labels when the fault fires (`pick` of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_of: Option<Labels>,
    /// Or `pick` of this pool's nodes, drawn per seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// With `nodeOf` or `pool`: how many (when omitted, `one` for `nodeOf`, `all` for `pool`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pick: Option<Pick>,
    /// Also the next this-many nodes to join `cluster` from then on (whatever their names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_to_join: Option<u32>,
    /// The cluster for `nextToJoin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Why it is here (source or assumption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The provider's stock changes.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StockChange {
    /// When: a time, or drawn per seed (`{around: "01:49", jitter: 10m}`, `{from, to}`).
    pub at: TimeDraw,
    /// Instance type.
    pub instance_type: String,
    /// Zone.
    pub zone: String,
    /// Pricing.
    #[serde(default)]
    pub pricing: Pricing,
    /// How many instances can be started from now on.
    pub available: u32,
    /// Why it is here (source or assumption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A fault on a set of nodes of one cluster.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeFault {
    /// When: a time, or drawn per seed (`{around: "01:49", jitter: 10m}`, `{from, to}`).
    pub at: TimeDraw,
    /// Which cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Which of its nodes.
    pub nodes: NodeScope,
    /// Why it is here (source or assumption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Which nodes a node fault hits.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NodeScope {
    /// Nodes that join the cluster from then on (the fault hits each as it joins).
    New,
    /// Every node of the cluster now, and every node that joins later.
    All,
}

/// A fault on a node (a removal, or a Kubernetes node's agents): named, the node of a pod, or
/// drawn from a pool.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OneNodeFault {
    /// When: a time, or drawn per seed (`{around: "01:49", jitter: 10m}`, `{from, to}`).
    pub at: TimeDraw,
    /// The node of this name, e.g. `worker-3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Or the node running a pod with these labels when the fault fires (`pick` of them when
    /// several do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_of: Option<Labels>,
    /// Or `pick` of this pool's nodes, drawn per seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// With `nodeOf` or `pool`: how many (`one`, `all`, `{count: N}`, `{percent: P}`; when
    /// omitted, `one` for `nodeOf` and `all` for `pool`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pick: Option<Pick>,
    /// Why it is here (source or assumption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// PLEG trouble that a reboot clears, perhaps only for a while.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PlegFault {
    /// When: a time, or drawn per seed (`{around: "01:49", jitter: 10m}`, `{from, to}`).
    pub at: TimeDraw,
    /// The node of this name, e.g. `worker-3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Or the node running a pod with these labels when the fault fires (`pick` of them when
    /// several do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_of: Option<Labels>,
    /// Or `pick` of this pool's nodes, drawn per seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// With `nodeOf` or `pool`: how many (`one`, `all`, `{count: N}`, `{percent: P}`; when
    /// omitted, `one` for `nodeOf` and `all` for `pool`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pick: Option<Pick>,
    /// It comes back this long after a reboot cleared it (the seed: "a reboot fixes it only for
    /// a while"); for good when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recur_after: Option<SimDuration>,
    /// Why it is here (source or assumption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A node fault that may end by itself.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimedNodeFault {
    /// When: a time, or drawn per seed (`{around: "01:49", jitter: 10m}`, `{from, to}`).
    pub at: TimeDraw,
    /// The node of this name, e.g. `worker-3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Or the node running a pod with these labels when the fault fires (`pick` of them when
    /// several do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_of: Option<Labels>,
    /// Or `pick` of this pool's nodes, drawn per seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// With `nodeOf` or `pool`: how many (`one`, `all`, `{count: N}`, `{percent: P}`; when
    /// omitted, `one` for `nodeOf` and `all` for `pool`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pick: Option<Pick>,
    /// How long it lasts (a distribution `{min, max}` is drawn per seed).
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub for_: Option<Drawn<SimDuration>>,
    /// Why it is here (source or assumption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
