//! The changes a drive makes to a cluster, each resolved to one concrete object, and what
//! restores that object. Both are plain data: the journal stores them as JSON lines.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One change to one object (or one command on one node).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Change {
    /// Adds (or rewrites) the key [`DRILL_KEY`] in a ConfigMap's data: the content changes, as
    /// the scenario's `configMapUpdate` does, so the kubelet's atomic writer swaps the volume.
    PatchConfigMap {
        /// Namespace.
        namespace: String,
        /// ConfigMap name.
        name: String,
        /// The value written under [`DRILL_KEY`] (the drive and the fault's time).
        value: String,
    },
    /// Kills the main process of a container from inside (`kubectl exec POD -c C -- kill 1`):
    /// the kubelet restarts it and counts a restart, as a crash would.
    KillContainer {
        /// Namespace.
        namespace: String,
        /// Pod name.
        pod: String,
        /// Container name.
        container: String,
    },
    /// `kubectl delete pod` (`--force --grace-period=0` when `force`).
    DeletePod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        pod: String,
        /// Delete at once without the kubelet's confirmation.
        force: bool,
    },
    /// One eviction through the Eviction API (`kubectl drain` makes one per pod).
    EvictPod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        pod: String,
    },
    /// Deletes the Node object (`nodeRemoved`, `removeNodes`).
    DeleteNode {
        /// Node name.
        node: String,
    },
    /// Sets `spec.unschedulable` (`kubectl cordon`, or `uncordon` when false).
    SetUnschedulable {
        /// Node name.
        node: String,
        /// Cordoned or not.
        unschedulable: bool,
    },
    /// Sets a Deployment's or StatefulSet's replicas through its scale subresource.
    Scale {
        /// Namespace.
        namespace: String,
        /// `Deployment` or `StatefulSet`.
        kind: WorkloadKind,
        /// Workload name.
        name: String,
        /// New replicas.
        replicas: i32,
    },
    /// Runs a command for a node-level fault or operation (the node command template).
    NodeCommand {
        /// Node name.
        node: String,
        /// What it is for (`kubeletDown`, `restartKubelet`, ...).
        purpose: String,
        /// The command line, placeholders filled in.
        command: String,
    },
}

/// A workload kind that has a scale subresource.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkloadKind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
}

impl WorkloadKind {
    /// The resource's plural, for paths.
    pub fn plural(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::StatefulSet => "statefulsets",
        }
    }
}

/// The key a `configMapUpdate` writes.
pub const DRILL_KEY: &str = "capsize-drill";

/// Annotation put on every object a drive changes, naming its journal (so a person who finds
/// a cordoned node knows who did it and where to undo it from).
pub const JOURNAL_ANNOTATION: &str = "capsize.dev/journal";

/// Annotation with the time after which the change is stale: past it, the drive that made it is
/// over or lost, and `capsize rollback` must be run (the API has no expiry of its own).
pub const EXPIRES_ANNOTATION: &str = "capsize.dev/expires-at";

/// The previous values of the keys a change writes in a map (`None`: the key was absent). An
/// undo restores exactly these keys, so what others changed meanwhile (a controller's
/// annotation, a deploy's new config key) is left alone.
pub type Saved = BTreeMap<String, Option<String>>;

/// What puts an object back as it was before a change. Undoing restores this saved state, so
/// it is the same whether the change was made, half made or not made at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Undo {
    /// Nothing to restore, and why (a pod owned by a ReplicaSet is replaced by it; a killed
    /// container is restarted by its kubelet).
    Nothing {
        /// Why.
        why: String,
    },
    /// The ConfigMap's drill key and our annotations as they were.
    RestoreConfigMap {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The `data` keys the change writes, as they were.
        data: Saved,
        /// Our annotations, as they were.
        annotations: Saved,
    },
    /// Create the object again if it is gone (a bare pod, a deleted Node), from its saved
    /// manifest with the server-set fields removed.
    Recreate {
        /// `Pod` or `Node`.
        kind: RecreateKind,
        /// Namespace (pods).
        namespace: Option<String>,
        /// Name.
        name: String,
        /// The saved manifest.
        manifest: serde_json::Value,
    },
    /// The node's `spec.unschedulable` and annotations as they were.
    RestoreUnschedulable {
        /// Node name.
        node: String,
        /// Cordoned or not, before.
        unschedulable: bool,
        /// Our annotations, as they were.
        annotations: Saved,
    },
    /// The workload's replicas and annotations as they were.
    RestoreReplicas {
        /// Namespace.
        namespace: String,
        /// Kind.
        kind: WorkloadKind,
        /// Name.
        name: String,
        /// Replicas before.
        replicas: i32,
        /// Our annotations, as they were.
        annotations: Saved,
    },
    /// Run the template's undo command (`systemctl start kubelet`); it must be idempotent.
    RunCommand {
        /// Node name.
        node: String,
        /// The command line.
        command: String,
    },
}

/// What a [`Undo::Recreate`] creates.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecreateKind {
    /// A pod without an owner.
    Pod,
    /// A Node object.
    Node,
}

impl Change {
    /// The namespace the change is in (`None`: a node, cluster-scoped).
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Change::PatchConfigMap { namespace, .. }
            | Change::KillContainer { namespace, .. }
            | Change::DeletePod { namespace, .. }
            | Change::EvictPod { namespace, .. }
            | Change::Scale { namespace, .. } => Some(namespace),
            Change::DeleteNode { .. } | Change::SetUnschedulable { .. } | Change::NodeCommand { .. } => None,
        }
    }

    /// The real request, as a person reading the plan wants it: method, path, body.
    pub fn api_call(&self) -> String {
        match self {
            Change::PatchConfigMap { namespace, name, value } => {
                format!("PATCH /api/v1/namespaces/{namespace}/configmaps/{name} (merge: data.{DRILL_KEY}={value:?})")
            }
            Change::KillContainer { namespace, pod, container } => format!(
                "POST /api/v1/namespaces/{namespace}/pods/{pod}/exec?container={container}&command=kill&command=1 \
                 (the pod is deleted instead if exec is refused or the image has no `kill`)"
            ),
            Change::DeletePod { namespace, pod, force } => format!(
                "DELETE /api/v1/namespaces/{namespace}/pods/{pod}{}",
                if *force { "?gracePeriodSeconds=0 (force)" } else { "" }
            ),
            Change::EvictPod { namespace, pod } => {
                format!("POST /api/v1/namespaces/{namespace}/pods/{pod}/eviction (429: retried every 5 s)")
            }
            Change::DeleteNode { node } => format!("DELETE /api/v1/nodes/{node}"),
            Change::SetUnschedulable { node, unschedulable } => {
                format!("PATCH /api/v1/nodes/{node} (merge: spec.unschedulable={unschedulable})")
            }
            Change::Scale { namespace, kind, name, replicas } => format!(
                "PATCH /apis/apps/v1/namespaces/{namespace}/{}/{name}/scale (merge: spec.replicas={replicas})",
                kind.plural()
            ),
            Change::NodeCommand { command, .. } => format!("sh -c {command:?} (node command, no dry run)"),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::PatchConfigMap { namespace, name, .. } => write!(f, "update configmap {namespace}/{name}"),
            Change::KillContainer { namespace, pod, container } => {
                write!(f, "kill container {container} of pod {namespace}/{pod}")
            }
            Change::DeletePod { namespace, pod, force: false } => write!(f, "kubectl delete pod -n {namespace} {pod}"),
            Change::DeletePod { namespace, pod, force: true } => {
                write!(f, "kubectl delete pod -n {namespace} {pod} --force --grace-period=0")
            }
            Change::EvictPod { namespace, pod } => write!(f, "evict pod {namespace}/{pod}"),
            Change::DeleteNode { node } => write!(f, "kubectl delete node {node}"),
            Change::SetUnschedulable { node, unschedulable: true } => write!(f, "kubectl cordon {node}"),
            Change::SetUnschedulable { node, unschedulable: false } => write!(f, "kubectl uncordon {node}"),
            Change::Scale { namespace, kind, name, replicas } => {
                write!(f, "kubectl scale -n {namespace} {} {name} --replicas={replicas}", kind.plural())
            }
            Change::NodeCommand { node, purpose, .. } => write!(f, "{purpose} on {node}"),
        }
    }
}

impl fmt::Display for Undo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Undo::Nothing { why } => write!(f, "nothing to restore: {why}"),
            Undo::RestoreConfigMap { namespace, name, .. } => {
                write!(f, "restore configmap {namespace}/{name}'s drill key")
            }
            Undo::Recreate { kind: RecreateKind::Pod, namespace, name, .. } => {
                write!(f, "re-create pod {}/{name} if it is gone", namespace.as_deref().unwrap_or(""))
            }
            Undo::Recreate { kind: RecreateKind::Node, name, .. } => write!(f, "re-create node {name} if it is gone"),
            Undo::RestoreUnschedulable { node, unschedulable, .. } => {
                write!(f, "set node {node} unschedulable={unschedulable} again")
            }
            Undo::RestoreReplicas { namespace, kind, name, replicas, .. } => {
                write!(f, "scale {namespace}/{} {name} back to {replicas}", kind.plural())
            }
            Undo::RunCommand { node, command } => write!(f, "run {command:?} for {node}"),
        }
    }
}
