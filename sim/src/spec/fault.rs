//! Faults: timed injections taken from the incident documents.

use serde::{Deserialize, Serialize};

use super::Labels;
use super::oneof::one_key_enum;
use crate::time::At;

one_key_enum! {
    /// One injected fault.
    #[derive(Clone, Debug)]
    pub enum FaultSpec {
        /// A ConfigMap is changed (its version goes up by one).
        ConfigMapUpdate(ConfigMapUpdate) = "configMapUpdate",
        /// Running containers exit (the process crashes or is killed).
        ContainerCrash(ContainerCrash) = "containerCrash",
        /// A node's machine is terminated and its Node object deleted.
        NodeRemoved(NodeRemoved) = "nodeRemoved",
    }
}

impl FaultSpec {
    /// When it happens.
    pub fn at(&self) -> At {
        match self {
            FaultSpec::ConfigMapUpdate(f) => f.at,
            FaultSpec::ContainerCrash(f) => f.at,
            FaultSpec::NodeRemoved(f) => f.at,
        }
    }

    /// The note written with it, if any.
    pub fn note(&self) -> Option<&str> {
        match self {
            FaultSpec::ConfigMapUpdate(f) => f.note.as_deref(),
            FaultSpec::ContainerCrash(f) => f.note.as_deref(),
            FaultSpec::NodeRemoved(f) => f.note.as_deref(),
        }
    }
}

/// A ConfigMap is changed.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigMapUpdate {
    /// When.
    pub at: At,
    /// Which ConfigMap.
    pub config_map: String,
    /// Why it is here (source or assumption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Running containers of matching pods exit with an error.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerCrash {
    /// When.
    pub at: At,
    /// Pod labels to match.
    pub selector: Labels,
    /// How many of the matching running containers (chosen at random); all when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Why it is here (source or assumption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A node disappears.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeRemoved {
    /// When.
    pub at: At,
    /// Node name, e.g. `worker-3`.
    pub node: String,
    /// Why it is here (source or assumption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
