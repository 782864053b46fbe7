//! The API calls that make, check (dryRun=All) and undo a [`Change`], and the one place that
//! journals a change before making it ([`Cluster::make`]).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, AttachParams, DeleteParams, EvictParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::change::{Change, EXPIRES_ANNOTATION, JOURNAL_ANNOTATION, RecreateKind, Saved, Undo, WorkloadKind};
use crate::error::{DriveError, describe_kube_error, status_code};
use crate::guard::Scope;
use crate::journal::{Entry, Journal};
use crate::nodecmd::{self, NodeCommands};

/// A connection to the named context, limited to the named namespaces.
#[derive(Clone)]
pub struct Cluster {
    /// The API client for the context.
    pub client: kube::Client,
    /// What may be changed.
    pub scope: Scope,
    /// Node command templates.
    pub commands: NodeCommands,
    /// Value of [`JOURNAL_ANNOTATION`] on changed objects (the journal's file name).
    pub journal_name: String,
    /// Value of [`EXPIRES_ANNOTATION`] on changed objects.
    pub expires_at: String,
}

/// What came of making one change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Made {
    /// Done: the API's answer.
    Ok(String),
    /// Refused or failed: the error, as kubectl would print it; `status` is the HTTP code.
    Failed {
        /// The error.
        error: String,
        /// HTTP status, when the API answered (429: a disruption budget refused an eviction).
        status: Option<u16>,
    },
}

fn api_error(e: kube::Error) -> DriveError {
    DriveError::Api(describe_kube_error(&e))
}

/// A JSON merge patch that puts the keys of `saved` back in map `current` (a key that was
/// absent is removed); other keys are not touched.
fn restore_keys(saved: &Saved, current: &BTreeMap<String, String>) -> Value {
    let mut patch = serde_json::Map::new();
    for (k, v) in saved {
        if current.get(k) != v.as_ref() {
            patch.insert(k.clone(), v.clone().map_or(Value::Null, Value::String));
        }
    }
    Value::Object(patch)
}

/// The previous values of `keys` in `map`.
fn save_keys(map: &BTreeMap<String, String>, keys: &[&str]) -> Saved {
    keys.iter().map(|k| (k.to_string(), map.get(*k).cloned())).collect()
}

/// The annotations a drive writes on what it changes.
const OUR_ANNOTATIONS: [&str; 2] = [JOURNAL_ANNOTATION, EXPIRES_ANNOTATION];

/// An object's annotations, as a map.
fn annotations_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> BTreeMap<String, String> {
    meta.annotations.clone().unwrap_or_default().into_iter().collect()
}

/// Our annotations' previous values on an object.
fn saved_annotations(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Saved {
    save_keys(&annotations_of(meta), &OUR_ANNOTATIONS)
}

/// A saved manifest with what the server sets removed, so it can be created again.
fn strip_for_recreate(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "deletionTimestamp"] {
            meta.remove(k);
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

impl Cluster {
    fn pods(&self, ns: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), ns)
    }

    fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    fn config_maps(&self, ns: &str) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// Our two annotations, for a merge patch's `metadata.annotations`.
    fn our_annotations(&self) -> Value {
        json!({ JOURNAL_ANNOTATION: self.journal_name, EXPIRES_ANNOTATION: self.expires_at })
    }

    /// Refuses a change outside the named namespaces. Every request that changes something goes
    /// through here first.
    pub fn in_scope(&self, change: &Change) -> Result<(), DriveError> {
        match change.namespace() {
            Some(ns) if !self.scope.namespaces.iter().any(|n| n == ns) => Err(DriveError::Refused(format!(
                "{change}: namespace `{ns}` was not named (--namespace {})",
                self.scope.namespaces.join(" --namespace ")
            ))),
            _ => Ok(()),
        }
    }

    /// Reads the object a change is about and returns what restores it.
    pub async fn capture(&self, change: &Change) -> Result<Undo, DriveError> {
        Ok(match change {
            Change::PatchConfigMap { namespace, name, .. } => {
                let cm = self.config_maps(namespace).get(name).await.map_err(api_error)?;
                let data: BTreeMap<String, String> = cm.data.clone().unwrap_or_default().into_iter().collect();
                Undo::RestoreConfigMap {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    data: save_keys(&data, &[crate::change::DRILL_KEY]),
                    annotations: saved_annotations(&cm.metadata),
                }
            }
            Change::KillContainer { .. } => {
                Undo::Nothing { why: "the kubelet restarts the container (its restart count stays one higher)".into() }
            }
            Change::DeletePod { namespace, pod, .. } | Change::EvictPod { namespace, pod } => {
                let p = self.pods(namespace).get(pod).await.map_err(api_error)?;
                match p.metadata.owner_references.as_deref().and_then(|o| o.first()) {
                    Some(owner) => {
                        Undo::Nothing { why: format!("owned by {} {}, which replaces it", owner.kind, owner.name) }
                    }
                    None => Undo::Recreate {
                        kind: RecreateKind::Pod,
                        namespace: Some(namespace.clone()),
                        name: pod.clone(),
                        manifest: strip_for_recreate(
                            serde_json::to_value(&p).map_err(|e| DriveError::Api(e.to_string()))?,
                        ),
                    },
                }
            }
            Change::DeleteNode { node } => {
                let n = self.nodes().get(node).await.map_err(api_error)?;
                Undo::Recreate {
                    kind: RecreateKind::Node,
                    namespace: None,
                    name: node.clone(),
                    manifest: strip_for_recreate(serde_json::to_value(&n).map_err(|e| DriveError::Api(e.to_string()))?),
                }
            }
            Change::SetUnschedulable { node, .. } => {
                let n = self.nodes().get(node).await.map_err(api_error)?;
                Undo::RestoreUnschedulable {
                    node: node.clone(),
                    unschedulable: n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
                    annotations: saved_annotations(&n.metadata),
                }
            }
            Change::Scale { namespace, kind, name, .. } => {
                let (replicas, annotations) = self
                    .workload_state(namespace, *kind, name)
                    .await?
                    .ok_or_else(|| DriveError::Api(format!("{} {namespace}/{name} not found", kind.plural())))?;
                Undo::RestoreReplicas {
                    namespace: namespace.clone(),
                    kind: *kind,
                    name: name.clone(),
                    replicas,
                    annotations: save_keys(&annotations, &OUR_ANNOTATIONS),
                }
            }
            Change::NodeCommand { node, purpose, .. } => match self.commands.get(purpose).and_then(|c| c.undo.as_ref())
            {
                Some(undo) => Undo::RunCommand { node: node.clone(), command: self.render(undo, node) },
                None => Undo::Nothing { why: format!("`{purpose}` has no undo command (an operation, not a fault)") },
            },
        })
    }

    /// A node command template filled in for `node`.
    pub fn render(&self, template: &str, node: &str) -> String {
        let ttl = jiff::Timestamp::now()
            .until(self.expires_at.parse::<jiff::Timestamp>().unwrap_or(jiff::Timestamp::now()))
            .map(|s| s.get_seconds().max(60))
            .unwrap_or(600);
        let vars = BTreeMap::from([("node", node.to_string()), ("ttl", ttl.to_string())]);
        nodecmd::render(template, &vars)
    }

    /// Replicas and annotations of a Deployment or StatefulSet (`None`: it does not exist).
    async fn workload_state(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
    ) -> Result<Option<(i32, BTreeMap<String, String>)>, DriveError> {
        Ok(match kind {
            WorkloadKind::Deployment => {
                let api: Api<Deployment> = Api::namespaced(self.client.clone(), ns);
                api.get_opt(name)
                    .await
                    .map_err(api_error)?
                    .map(|d| (d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1), annotations_of(&d.metadata)))
            }
            WorkloadKind::StatefulSet => {
                let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), ns);
                api.get_opt(name)
                    .await
                    .map_err(api_error)?
                    .map(|d| (d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1), annotations_of(&d.metadata)))
            }
        })
    }

    /// Patches a Deployment or StatefulSet (merge patch), or with `scale` its scale subresource.
    async fn patch_workload(
        &self,
        ns: &str,
        kind: WorkloadKind,
        name: &str,
        patch: &Value,
        scale: bool,
        pp: &PatchParams,
    ) -> Result<(), kube::Error> {
        let p = Patch::Merge(patch);
        match (kind, scale) {
            (WorkloadKind::Deployment, false) => {
                Api::<Deployment>::namespaced(self.client.clone(), ns).patch(name, pp, &p).await.map(drop)
            }
            (WorkloadKind::Deployment, true) => {
                Api::<Deployment>::namespaced(self.client.clone(), ns).patch_scale(name, pp, &p).await.map(drop)
            }
            (WorkloadKind::StatefulSet, false) => {
                Api::<StatefulSet>::namespaced(self.client.clone(), ns).patch(name, pp, &p).await.map(drop)
            }
            (WorkloadKind::StatefulSet, true) => {
                Api::<StatefulSet>::namespaced(self.client.clone(), ns).patch_scale(name, pp, &p).await.map(drop)
            }
        }
    }

    /// Sends the change (with `dry_run`, as `dryRun=All`: the server checks it and persists
    /// nothing). Node commands have no dry run: in a dry run they are only described.
    pub async fn send(&self, change: &Change, dry_run: bool) -> Made {
        if let Err(e) = self.in_scope(change) {
            return Made::Failed { error: e.to_string(), status: None };
        }
        let pp = if dry_run { PatchParams::default().dry_run() } else { PatchParams::default() };
        let dp = |force: bool| {
            let d = if force { DeleteParams::default().grace_period(0) } else { DeleteParams::default() };
            if dry_run { d.dry_run() } else { d }
        };
        let r: Result<String, kube::Error> = match change {
            Change::PatchConfigMap { namespace, name, value } => {
                let patch = json!({"metadata": {"annotations": self.our_annotations()}, "data": {crate::change::DRILL_KEY: value}});
                self.config_maps(namespace)
                    .patch(name, &pp, &Patch::Merge(&patch))
                    .await
                    .map(|_| format!("configmap/{name} patched"))
            }
            Change::KillContainer { namespace, pod, container } => {
                if dry_run {
                    // `pods/exec` has no dry run; the pod must exist.
                    return match self.pods(namespace).get(pod).await {
                        Ok(_) => Made::Ok("the pod exists (exec has no dry run)".into()),
                        Err(e) => Made::Failed { error: describe_kube_error(&e), status: status_code(&e) },
                    };
                } else {
                    return self.kill_container(namespace, pod, container).await;
                }
            }
            Change::DeletePod { namespace, pod, force } => {
                self.pods(namespace).delete(pod, &dp(*force)).await.map(|_| {
                    if *force { format!("pod \"{pod}\" force deleted") } else { format!("pod \"{pod}\" deleted") }
                })
            }
            Change::EvictPod { namespace, pod } => {
                let ep = EvictParams {
                    post_options: PostParams { dry_run, ..PostParams::default() },
                    ..EvictParams::default()
                };
                self.pods(namespace).evict(pod, &ep).await.map(|_| format!("pod/{pod} evicted"))
            }
            Change::DeleteNode { node } => {
                self.nodes().delete(node, &dp(false)).await.map(|_| format!("node \"{node}\" deleted"))
            }
            Change::SetUnschedulable { node, unschedulable } => {
                // By hand, not `Api::cordon`: that has no dry run, and the node gets our annotations.
                let patch = json!({"metadata": {"annotations": self.our_annotations()}, "spec": {"unschedulable": unschedulable}});
                self.nodes()
                    .patch(node, &pp, &Patch::Merge(&patch))
                    .await
                    .map(|_| format!("node/{node} {}", if *unschedulable { "cordoned" } else { "uncordoned" }))
            }
            Change::Scale { namespace, kind, name, replicas } => {
                let annotate = json!({"metadata": {"annotations": self.our_annotations()}});
                match self.patch_workload(namespace, *kind, name, &annotate, false, &pp).await {
                    Err(e) => Err(e),
                    Ok(()) => self
                        .patch_workload(namespace, *kind, name, &json!({"spec": {"replicas": replicas}}), true, &pp)
                        .await
                        .map(|()| format!("{}/{name} scaled", kind.plural())),
                }
            }
            Change::NodeCommand { command, .. } => {
                if dry_run {
                    return Made::Ok(format!("would run: {command}"));
                }
                return match nodecmd::run(command, self.commands.timeout()).await {
                    Ok(out) => Made::Ok(out),
                    Err(e) => Made::Failed { error: e.to_string(), status: None },
                };
            }
        };
        match r {
            Ok(s) => Made::Ok(if dry_run { format!("{s} (server dry run)") } else { s }),
            Err(e) => Made::Failed { error: describe_kube_error(&e), status: status_code(&e) },
        }
    }

    /// `kubectl exec POD -c CONTAINER -- kill 1`: SIGTERM to the container's main process (a
    /// SIGKILL sent from inside the container's PID namespace to its PID 1 is ignored by the
    /// kernel, so TERM is what can work from there).
    async fn kill_container(&self, namespace: &str, pod: &str, container: &str) -> Made {
        let ap = AttachParams::default().container(container).stdin(false).stdout(true).stderr(true);
        match self.pods(namespace).exec(pod, vec!["kill", "1"], &ap).await {
            Err(e) => {
                Made::Failed { error: format!("exec refused: {}", describe_kube_error(&e)), status: status_code(&e) }
            }
            Ok(mut proc) => {
                let status = proc.take_status();
                let result = match status {
                    Some(s) => s.await,
                    None => None,
                };
                let _ = proc.join().await;
                match result {
                    Some(s) if s.status.as_deref() == Some("Failure") => {
                        Made::Failed { error: format!("exec failed: {}", s.message.unwrap_or_default()), status: None }
                    }
                    _ => Made::Ok(format!("sent SIGTERM to pid 1 of {pod}/{container}")),
                }
            }
        }
    }

    /// Journals `change` with what undoes it, then makes it. The journal line is on disk before
    /// the request is sent; if capturing the object's state fails (it does not exist), nothing
    /// is journalled or sent.
    pub async fn make(&self, journal: &mut Journal, change: &Change) -> Result<(u64, Made), DriveError> {
        self.in_scope(change)?;
        let undo = self.capture(change).await?;
        let seq = journal.intent(change, &undo)?;
        let made = self.send(change, false).await;
        let (ok, result) = match &made {
            Made::Ok(s) => (true, s.clone()),
            Made::Failed { error, .. } => (false, error.clone()),
        };
        journal.write(&Entry::Applied { seq, ok, result })?;
        Ok((seq, made))
    }

    /// Restores what `undo` saved. Idempotent: an object already as it was, or gone when gone
    /// is what it was (or gone since, so there is nothing left to restore), counts as restored.
    pub async fn undo(&self, undo: &Undo) -> Result<String, DriveError> {
        match undo {
            Undo::Nothing { why } => Ok(format!("nothing to restore: {why}")),
            Undo::RestoreConfigMap { namespace, name, data, annotations } => {
                self.check_namespace(namespace)?;
                let Some(cm) = self.config_maps(namespace).get_opt(name).await.map_err(api_error)? else {
                    return Ok(format!("configmap {namespace}/{name} is gone; nothing to restore"));
                };
                let current: BTreeMap<String, String> = cm.data.clone().unwrap_or_default().into_iter().collect();
                let patch = json!({
                    "data": restore_keys(data, &current),
                    "metadata": {"annotations": restore_keys(annotations, &annotations_of(&cm.metadata))},
                });
                if is_empty_patch(&patch) {
                    return Ok(format!("configmap {namespace}/{name} is already as it was"));
                }
                self.config_maps(namespace)
                    .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(api_error)?;
                Ok(format!("configmap {namespace}/{name} restored"))
            }
            Undo::Recreate { kind, namespace, name, manifest } => match kind {
                RecreateKind::Pod => {
                    let ns = namespace.as_deref().unwrap_or_default();
                    self.check_namespace(ns)?;
                    if self.pods(ns).get_opt(name).await.map_err(api_error)?.is_some() {
                        return Ok(format!("pod {ns}/{name} exists"));
                    }
                    let pod: Pod =
                        serde_json::from_value(manifest.clone()).map_err(|e| DriveError::Api(e.to_string()))?;
                    create_ignoring_conflict(self.pods(ns).create(&PostParams::default(), &pod).await)?;
                    Ok(format!("pod {ns}/{name} created again"))
                }
                RecreateKind::Node => {
                    if self.nodes().get_opt(name).await.map_err(api_error)?.is_some() {
                        return Ok(format!(
                            "node {name} exists (its kubelet registered it again, or it was never deleted)"
                        ));
                    }
                    let node: Node =
                        serde_json::from_value(manifest.clone()).map_err(|e| DriveError::Api(e.to_string()))?;
                    create_ignoring_conflict(self.nodes().create(&PostParams::default(), &node).await)?;
                    Ok(format!("node {name} created again"))
                }
            },
            Undo::RestoreUnschedulable { node, unschedulable, annotations } => {
                let Some(n) = self.nodes().get_opt(node).await.map_err(api_error)? else {
                    return Ok(format!("node {node} is gone; nothing to restore"));
                };
                let now = n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
                let ann = restore_keys(annotations, &annotations_of(&n.metadata));
                if now == *unschedulable && ann.as_object().is_some_and(|m| m.is_empty()) {
                    return Ok(format!("node {node} is already as it was"));
                }
                // `false` is written as a removal, as it was when the node was never cordoned.
                let value = if *unschedulable { Value::Bool(true) } else { Value::Null };
                let patch = json!({"spec": {"unschedulable": value}, "metadata": {"annotations": ann}});
                self.nodes().patch(node, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(api_error)?;
                Ok(format!("node {node} {}", if *unschedulable { "cordoned again" } else { "uncordoned" }))
            }
            Undo::RestoreReplicas { namespace, kind, name, replicas, annotations } => {
                self.check_namespace(namespace)?;
                let Some((now, current)) = self.workload_state(namespace, *kind, name).await? else {
                    return Ok(format!("{} {namespace}/{name} is gone; nothing to restore", kind.plural()));
                };
                let ann = restore_keys(annotations, &current);
                if now == *replicas && ann.as_object().is_some_and(|m| m.is_empty()) {
                    return Ok(format!("{} {namespace}/{name} is already as it was", kind.plural()));
                }
                let pp = PatchParams::default();
                self.patch_workload(namespace, *kind, name, &json!({"spec": {"replicas": replicas}}), true, &pp)
                    .await
                    .map_err(api_error)?;
                self.patch_workload(namespace, *kind, name, &json!({"metadata": {"annotations": ann}}), false, &pp)
                    .await
                    .map_err(api_error)?;
                Ok(format!("{} {namespace}/{name} back to {replicas} replicas", kind.plural()))
            }
            Undo::RunCommand { command, .. } => nodecmd::run(command, self.commands.timeout()).await,
        }
    }

    fn check_namespace(&self, ns: &str) -> Result<(), DriveError> {
        if self.scope.namespaces.iter().any(|n| n == ns) {
            Ok(())
        } else {
            Err(DriveError::Refused(format!("namespace `{ns}` is not one this rollback may change")))
        }
    }
}

/// A create that finds the object already there (re-created meanwhile) has done its job.
fn create_ignoring_conflict<T>(r: Result<T, kube::Error>) -> Result<(), DriveError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if status_code(&e) == Some(409) => Ok(()),
        Err(e) => Err(api_error(e)),
    }
}

fn is_empty_patch(patch: &Value) -> bool {
    patch["data"].as_object().is_some_and(|m| m.is_empty())
        && patch["metadata"]["annotations"].as_object().is_some_and(|m| m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_keys_puts_back_only_the_saved_keys() {
        let saved: Saved = BTreeMap::from([("a".to_string(), Some("1".to_string())), ("ours".into(), None)]);
        let current = BTreeMap::from([
            ("a".to_string(), "9".to_string()),
            ("ours".into(), "x".into()),
            ("theirs".into(), "added meanwhile".into()),
        ]);
        assert_eq!(restore_keys(&saved, &current), json!({"a": "1", "ours": null}));
        let back = BTreeMap::from([("a".to_string(), "1".to_string())]);
        assert_eq!(restore_keys(&saved, &back), json!({}));
    }
}
