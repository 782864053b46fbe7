//! Where pods may go: node taints and pod tolerations, node affinity. The same fields and
//! meanings as the Kubernetes API (`core/v1` `Taint`, `Toleration`, `NodeAffinity`).

use serde::{Deserialize, Serialize};

use super::Labels;

/// A node taint (a pool's nodes carry its taints).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Taint {
    /// Taint key.
    pub key: String,
    /// Taint value (may be empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// What it does to pods that do not tolerate it.
    pub effect: TaintEffect,
}

/// A taint's effect.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
pub enum TaintEffect {
    /// No new pod that does not tolerate it is scheduled there.
    NoSchedule,
    /// The scheduler avoids the node for such pods (the TaintToleration score).
    PreferNoSchedule,
    /// No such pod is scheduled there, and running ones are evicted (a pool's taints are there
    /// from the start, so only the node lifecycle controller's own taints evict in practice).
    NoExecute,
}

/// A pod toleration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Toleration {
    /// The taint key it tolerates; empty with `Exists`: every taint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// `Equal` (the default: key and value match) or `Exists` (the key is enough).
    #[serde(default)]
    pub operator: TolerationOperator,
    /// The value, with `Equal`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// The effect it tolerates; omitted: every effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<TaintEffect>,
    /// With `NoExecute`: how long the pod stays once the taint is there; omitted: for ever. A
    /// toleration of `node.kubernetes.io/not-ready` or `unreachable` replaces the default 300 s
    /// one every pod gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<u64>,
}

/// How a toleration matches a taint's key.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
pub enum TolerationOperator {
    /// Key and value equal.
    #[default]
    Equal,
    /// The key exists (any value).
    Exists,
}

impl Toleration {
    /// Whether it tolerates a taint of `key`, `value` and `effect`.
    pub fn tolerates(&self, key: &str, value: &str, effect: TaintEffect) -> bool {
        if self.effect.is_some_and(|e| e != effect) {
            return false;
        }
        match self.operator {
            TolerationOperator::Exists => self.key.is_empty() || self.key == key,
            TolerationOperator::Equal => self.key == key && self.value == value,
        }
    }
}

/// Node affinity: hard and soft rules on node labels.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeAffinity {
    /// `requiredDuringSchedulingIgnoredDuringExecution`: the node must match one of these
    /// terms (each term: all its expressions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<NodeSelectorTerm>,
    /// `preferredDuringSchedulingIgnoredDuringExecution`: the scheduler's NodeAffinity score
    /// adds the weight of each term a node matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred: Vec<PreferredTerm>,
}

/// Expressions a node's labels must all satisfy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeSelectorTerm {
    /// The expressions.
    pub match_expressions: Vec<NodeSelectorRequirement>,
}

/// A weighted soft term.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PreferredTerm {
    /// 1 to 100.
    pub weight: u32,
    /// The expressions a node must all satisfy for the weight.
    pub match_expressions: Vec<NodeSelectorRequirement>,
}

/// One expression on a node label.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeSelectorRequirement {
    /// Label key.
    pub key: String,
    /// The test.
    pub operator: NodeSelectorOperator,
    /// Values (`In`, `NotIn`: any number; `Gt`, `Lt`: one integer; `Exists`, `DoesNotExist`: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// The tests of a node selector requirement.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
pub enum NodeSelectorOperator {
    /// The label's value is one of the values.
    #[default]
    In,
    /// The label is missing or its value is none of the values.
    NotIn,
    /// The label is there.
    Exists,
    /// The label is not there.
    DoesNotExist,
    /// The label's value, an integer, is greater than the value.
    Gt,
    /// The label's value, an integer, is less than the value.
    Lt,
}

impl NodeSelectorRequirement {
    /// Whether `labels` satisfy it.
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.key);
        let int = |s: &str| s.parse::<i64>().ok();
        match self.operator {
            NodeSelectorOperator::In => v.is_some_and(|v| self.values.contains(v)),
            NodeSelectorOperator::NotIn => v.is_none_or(|v| !self.values.contains(v)),
            NodeSelectorOperator::Exists => v.is_some(),
            NodeSelectorOperator::DoesNotExist => v.is_none(),
            NodeSelectorOperator::Gt => {
                matches!((v.and_then(|v| int(v)), self.values.first().and_then(|x| int(x))), (Some(a), Some(b)) if a > b)
            }
            NodeSelectorOperator::Lt => {
                matches!((v.and_then(|v| int(v)), self.values.first().and_then(|x| int(x))), (Some(a), Some(b)) if a < b)
            }
        }
    }
}

impl NodeSelectorTerm {
    /// All its expressions hold.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_expressions.iter().all(|r| r.matches(labels))
    }
}
