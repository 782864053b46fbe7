//! From a scenario to concrete changes: what the cluster looks like ([`Snapshot`]), which real
//! node each scenario node is ([`NodeMap`]), and each fault or policy action resolved to the
//! changes that carry it out on these objects ([`resolve_fault`], [`changes_for_action`]).
//! Everything here is pure over a snapshot, so it is tested without a cluster.

use std::collections::{BTreeMap, BTreeSet};

use capsize_sim::Action;
use capsize_sim::spec::{FaultSpec, Labels, NodeTarget, Pick, Scenario, TargetFields};
use capsize_sim::validate::selects;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, ListParams};

use crate::change::{Change, WorkloadKind};
use crate::error::DriveError;
use crate::guard::Scope;
use crate::nodecmd::{self, NodeCommands};

/// The label that tells which scenario pool a real node stands for.
pub const POOL_LABEL: &str = "capsize.dev/pool";

/// A node as the plan needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSnap {
    /// Real name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// Cordoned.
    pub unschedulable: bool,
    /// The Ready condition is True.
    pub ready: bool,
    /// `Ready`, `NotReady`, `DiskPressure`, ... as `kubectl get nodes` shows them.
    pub conditions: Vec<&'static str>,
}

/// A pod as the plan needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSnap {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// Bound node (real name).
    pub node: Option<String>,
    /// `status.phase`.
    pub phase: String,
    /// Being deleted.
    pub terminating: bool,
    /// Its containers: name and runtime id (`containerd://...`), in spec order.
    pub containers: Vec<(String, Option<String>)>,
    /// Kind and name of its controller, if any.
    pub owner: Option<(String, String)>,
}

/// What the cluster looks like, in the named namespaces (nodes: all of them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Nodes, by name.
    pub nodes: Vec<NodeSnap>,
    /// Pods, by namespace then name.
    pub pods: Vec<PodSnap>,
    /// `(namespace, name)` of every ConfigMap.
    pub config_maps: Vec<(String, String)>,
    /// `(namespace, kind, name, replicas)` of every Deployment and StatefulSet.
    pub workloads: Vec<(String, WorkloadKind, String, i32)>,
}

/// The node conditions `kubectl` shows, from a Node object.
pub fn node_conditions(n: &Node) -> (bool, Vec<&'static str>) {
    let mut out = Vec::new();
    let mut ready = false;
    for c in n.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default() {
        match (c.type_.as_str(), c.status.as_str()) {
            ("Ready", "True") => {
                ready = true;
                out.push("Ready");
            }
            ("Ready", "Unknown") => out.extend(["NotReady", "Unknown"]),
            ("Ready", _) => out.push("NotReady"),
            ("DiskPressure", "True") => out.push("DiskPressure"),
            _ => {}
        }
    }
    if out.is_empty() {
        out.push("NotReady");
    }
    if n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
        out.push("SchedulingDisabled");
    }
    (ready, out)
}

/// A Node object as the plan sees it.
pub fn node_snap(n: &Node) -> NodeSnap {
    let (ready, conditions) = node_conditions(n);
    NodeSnap {
        name: n.metadata.name.clone().unwrap_or_default(),
        labels: n.metadata.labels.clone().unwrap_or_default().into_iter().collect(),
        unschedulable: n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
        ready,
        conditions,
    }
}

/// A Pod object as the plan sees it.
pub fn pod_snap(p: &Pod) -> PodSnap {
    let statuses = p.status.as_ref().and_then(|s| s.container_statuses.clone()).unwrap_or_default();
    let containers = p
        .spec
        .as_ref()
        .map(|s| {
            s.containers
                .iter()
                .map(|c| {
                    let id = statuses.iter().find(|st| st.name == c.name).and_then(|st| st.container_id.clone());
                    (c.name.clone(), id)
                })
                .collect()
        })
        .unwrap_or_default();
    PodSnap {
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        name: p.metadata.name.clone().unwrap_or_default(),
        labels: p.metadata.labels.clone().unwrap_or_default().into_iter().collect(),
        node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
        phase: p.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into()),
        terminating: p.metadata.deletion_timestamp.is_some(),
        containers,
        owner: p
            .metadata
            .owner_references
            .as_deref()
            .and_then(|o| o.iter().find(|r| r.controller == Some(true)).or(o.first()))
            .map(|o| (o.kind.clone(), o.name.clone())),
    }
}

impl Snapshot {
    /// Lists nodes and, in each named namespace, pods, ConfigMaps, Deployments and StatefulSets.
    pub async fn take(client: &kube::Client, scope: &Scope) -> Result<Snapshot, DriveError> {
        let mut s = Snapshot::default();
        let lp = ListParams::default();
        let nodes: Api<Node> = Api::all(client.clone());
        s.nodes = nodes.list(&lp).await?.items.iter().map(node_snap).collect();
        for ns in &scope.namespaces {
            let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
            s.pods.extend(pods.list(&lp).await?.items.iter().map(pod_snap));
            let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
            s.config_maps.extend(
                cms.list(&lp).await?.items.into_iter().map(|c| (ns.clone(), c.metadata.name.unwrap_or_default())),
            );
            let deps: Api<Deployment> = Api::namespaced(client.clone(), ns);
            for d in deps.list(&lp).await?.items {
                let r = d.spec.as_ref().and_then(|x| x.replicas).unwrap_or(1);
                s.workloads.push((ns.clone(), WorkloadKind::Deployment, d.metadata.name.unwrap_or_default(), r));
            }
            let sts: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
            for d in sts.list(&lp).await?.items {
                let r = d.spec.as_ref().and_then(|x| x.replicas).unwrap_or(1);
                s.workloads.push((ns.clone(), WorkloadKind::StatefulSet, d.metadata.name.unwrap_or_default(), r));
            }
        }
        s.sort();
        Ok(s)
    }

    /// Puts every list in name order (what makes draws reproducible).
    pub fn sort(&mut self) {
        self.nodes.sort_by(|a, b| a.name.cmp(&b.name));
        self.pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        self.config_maps.sort();
        self.workloads.sort_by(|a, b| (&a.0, &a.2).cmp(&(&b.0, &b.2)));
    }
}

/// Which real node each scenario node is, and back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeMap {
    /// Scenario name -> real name.
    pub to_real: BTreeMap<String, String>,
    /// Real name -> scenario name.
    pub to_scenario: BTreeMap<String, String>,
    /// Real name -> the scenario pool it stands for.
    pub pool_of: BTreeMap<String, String>,
}

impl NodeMap {
    /// Maps the scenario's nodes (`<pool>-<n>`) to real ones: an explicit `--node NAME=REAL`
    /// first, then a real node of the same name, then the n-th real node (by name) labelled
    /// [`POOL_LABEL`]`=<pool>`.
    pub fn new(scenario: &Scenario, snap: &Snapshot, explicit: &[(String, String)]) -> NodeMap {
        let mut m = NodeMap::default();
        let real: BTreeSet<&str> = snap.nodes.iter().map(|n| n.name.as_str()).collect();
        for pool in &scenario.spec.cluster.nodes {
            let labelled: Vec<&str> = snap
                .nodes
                .iter()
                .filter(|n| n.labels.get(POOL_LABEL) == Some(&pool.pool))
                .map(|n| n.name.as_str())
                .collect();
            for k in 1..=pool.count.min(10_000) {
                let name = format!("{}-{k}", pool.pool);
                let found = explicit
                    .iter()
                    .find(|(s, _)| *s == name)
                    .map(|(_, r)| r.as_str())
                    .filter(|r| real.contains(r))
                    .or_else(|| real.get(name.as_str()).copied())
                    .or_else(|| labelled.get(k as usize - 1).copied());
                if let Some(r) = found
                    && !m.to_scenario.contains_key(r)
                {
                    m.to_real.insert(name.clone(), r.to_string());
                    m.to_scenario.insert(r.to_string(), name);
                    m.pool_of.insert(r.to_string(), pool.pool.clone());
                }
            }
            // A pool mapped by hand is those nodes only; else every node labelled for it.
            let by_hand = explicit.iter().any(|(s, _)| s.rsplit_once('-').is_some_and(|(p, _)| p == pool.pool));
            if !by_hand {
                for r in labelled {
                    m.pool_of.entry(r.to_string()).or_insert_with(|| pool.pool.clone());
                }
            }
        }
        m
    }

    /// The real node a name means: a scenario name it maps, or a real name.
    pub fn real(&self, name: &str, snap: &Snapshot) -> Option<String> {
        self.to_real.get(name).cloned().or_else(|| snap.nodes.iter().find(|n| n.name == name).map(|n| n.name.clone()))
    }

    /// How reports and policies name a real node: its scenario name when it has one.
    pub fn shown(&self, real: &str) -> String {
        self.to_scenario.get(real).cloned().unwrap_or_else(|| real.to_string())
    }
}

/// A fault resolved to changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The changes, in order.
    pub changes: Vec<Change>,
    /// Undo them this long after making them (a `networkLoss` with `for`).
    pub undo_after_ms: Option<u64>,
    /// What it hit, for the report (scenario names where there are some).
    pub target: String,
    /// How a `containerCrash` is carried out, when it is one (for the plan).
    pub note: Option<String>,
}

/// The purpose (node command key) of a node-agent fault.
fn agent_purpose(f: &FaultSpec) -> Option<&'static str> {
    Some(match f {
        FaultSpec::DockerHung(_) => "dockerHung",
        FaultSpec::RuntimeHung(_) => "runtimeHung",
        FaultSpec::KubeletDown(_) => "kubeletDown",
        FaultSpec::DiskFull(_) => "diskFull",
        FaultSpec::PlegUnhealthy(_) => "plegUnhealthy",
        FaultSpec::NetworkLoss(_) => "networkLoss",
        FaultSpec::NodeOverload(_) => "nodeOverload",
        FaultSpec::NodeFailure(_) => "nodeFailure",
        _ => return None,
    })
}

/// The real nodes a target names now, in name order, `pick` drawn from `rng`.
fn target_nodes(
    target: NodeTarget<'_>,
    snap: &Snapshot,
    map: &NodeMap,
    rng: &mut capsize_sim::rng::ChaCha8Rng,
) -> Result<Vec<String>, String> {
    let (mut nodes, pick): (Vec<String>, Pick) = match target {
        NodeTarget::Named(n) => {
            return map.real(n, snap).map(|r| vec![r]).ok_or_else(|| {
                format!("no real node is `{n}`: name it with --node {n}=REAL or label nodes {POOL_LABEL}=<pool>")
            });
        }
        NodeTarget::NodeOf(sel, pick) => {
            let set: BTreeSet<String> = snap
                .pods
                .iter()
                .filter(|p| selects(sel, &p.labels) && !p.terminating)
                .filter_map(|p| p.node.clone())
                .collect();
            (set.into_iter().collect(), pick)
        }
        NodeTarget::Pool(pool, pick) => {
            let nodes = snap
                .nodes
                .iter()
                .filter(|n| map.pool_of.get(&n.name).map(String::as_str) == Some(pool))
                .map(|n| n.name.clone())
                .collect();
            (nodes, pick)
        }
    };
    pick.draw(&mut nodes, |k| capsize_sim::rng::index(rng, k));
    if nodes.is_empty() {
        return Err(format!("{} matches no node of the cluster", target.describe()));
    }
    Ok(nodes)
}

/// A node command change for `purpose` on real node `node`, or why there is none.
fn node_command(
    commands: &NodeCommands,
    purpose: &str,
    node: &str,
    vars: &BTreeMap<&str, String>,
) -> Result<Change, String> {
    let t = commands.get(purpose).ok_or_else(|| {
        format!("`{purpose}` has no Kubernetes API: give its command in the node command file (--node-commands), e.g. for kind `{}`", example(purpose))
    })?;
    let mut vars = vars.clone();
    vars.insert("node", node.to_string());
    Ok(Change::NodeCommand {
        node: node.to_string(),
        purpose: purpose.to_string(),
        command: nodecmd::render(&t.run, &vars),
    })
}

/// A template for kind, for error messages.
fn example(purpose: &str) -> &'static str {
    match purpose {
        "kubeletDown" => "docker exec {node} systemctl stop kubelet",
        "runtimeHung" | "dockerHung" => "docker exec {node} pkill -STOP containerd",
        "networkLoss" => "docker network disconnect kind {node}",
        "nodeFailure" => "docker pause {node}",
        "restartKubelet" => "docker exec {node} systemctl restart kubelet",
        "reboot" | "forceReboot" => "docker restart {node}",
        _ => "docker exec {node} ...",
    }
}

/// Fault number `index` of `scenario`, resolved against the cluster as it is now. `Err` says
/// why it cannot run here (a cloud fault, a missing node command) or that it matched nothing.
pub fn resolve_fault(
    index: usize,
    fault: &FaultSpec,
    snap: &Snapshot,
    map: &NodeMap,
    commands: &NodeCommands,
    seed: u64,
    drill_value: &str,
) -> Result<Resolved, String> {
    // Each fault draws from a stream of its own, keyed by its content, as in the simulator.
    let key = capsize_sim::rng::text_key(&format!("{fault:?}")) ^ index as u64;
    let mut rng = capsize_sim::rng::keyed_stream(seed, key);
    let none = BTreeMap::new();
    match fault {
        FaultSpec::ConfigMapUpdate(u) => {
            let changes: Vec<Change> = snap
                .config_maps
                .iter()
                .filter(|(_, n)| *n == u.config_map)
                .map(|(ns, n)| Change::PatchConfigMap {
                    namespace: ns.clone(),
                    name: n.clone(),
                    value: drill_value.to_string(),
                })
                .collect();
            if changes.is_empty() {
                return Err(format!("no ConfigMap named `{}` in the named namespaces", u.config_map));
            }
            Ok(Resolved { changes, undo_after_ms: None, target: u.config_map.clone(), note: None })
        }
        FaultSpec::ContainerCrash(c) => {
            let mut pods: Vec<&PodSnap> = snap
                .pods
                .iter()
                .filter(|p| selects(&c.selector, &p.labels) && p.phase == "Running" && !p.terminating)
                .collect();
            let n = c.count.map_or(pods.len(), |k| (k.value() as usize).min(pods.len()));
            Pick::Count(n.max(1) as u32).draw(&mut pods, |k| capsize_sim::rng::index(&mut rng, k));
            if pods.is_empty() || n == 0 {
                return Err(format!(
                    "no Running pod has the labels {}",
                    capsize_sim::validate::show_labels(&c.selector)
                ));
            }
            let mut changes = Vec::new();
            let via_runtime = commands.get("containerKill").is_some();
            for p in &pods {
                let Some((container, id)) = p.containers.first() else { continue };
                let node = p.node.clone().unwrap_or_default();
                if via_runtime {
                    let vars = BTreeMap::from([
                        ("namespace", p.namespace.clone()),
                        ("pod", p.name.clone()),
                        ("container", container.clone()),
                        (
                            "containerId",
                            id.as_deref().and_then(|i| i.split("://").nth(1)).unwrap_or_default().to_string(),
                        ),
                    ]);
                    changes.push(node_command(commands, "containerKill", &node, &vars)?);
                } else {
                    changes.push(Change::KillContainer {
                        namespace: p.namespace.clone(),
                        pod: p.name.clone(),
                        container: container.clone(),
                    });
                }
            }
            let names: Vec<String> = pods.iter().map(|p| format!("{}/{}", p.namespace, p.name)).collect();
            Ok(Resolved {
                changes,
                undo_after_ms: None,
                target: names.join(","),
                note: Some(if via_runtime {
                    "through the node command `containerKill` (the runtime stops the container; the kubelet restarts it)".into()
                } else {
                    "through exec `kill 1` (SIGTERM to the main process); where exec is refused or the image has no \
                     `kill`, the pod is deleted instead and its controller replaces it"
                        .into()
                }),
            })
        }
        FaultSpec::NodeRemoved(_) => {
            let t = fault.target_fields().and_then(|f| f.target()).ok_or("invalid target")?;
            let nodes = target_nodes(t, snap, map, &mut rng)?;
            Ok(Resolved {
                target: shown(&nodes, map),
                changes: nodes.into_iter().map(|node| Change::DeleteNode { node }).collect(),
                undo_after_ms: None,
                note: None,
            })
        }
        FaultSpec::NodeFailure(f) => {
            if f.next_to_join.is_some() {
                return Err("`nextToJoin` needs nodes joining the cluster, which a drive does not make".into());
            }
            let mut nodes = Vec::new();
            for n in &f.nodes {
                nodes.extend(target_nodes(NodeTarget::Named(n), snap, map, &mut rng)?);
            }
            if let Some(t) = TargetFields::of(&None, &f.node_of, &f.pool, f.pick).target() {
                nodes.extend(target_nodes(t, snap, map, &mut rng)?);
            }
            let changes =
                nodes.iter().map(|n| node_command(commands, "nodeFailure", n, &none)).collect::<Result<_, _>>()?;
            Ok(Resolved { changes, undo_after_ms: None, target: shown(&nodes, map), note: None })
        }
        f if agent_purpose(f).is_some() => {
            let purpose = agent_purpose(f).expect("checked");
            let t = f.target_fields().and_then(|x| x.target()).ok_or("invalid target")?;
            let nodes = target_nodes(t, snap, map, &mut rng)?;
            let changes = nodes.iter().map(|n| node_command(commands, purpose, n, &none)).collect::<Result<_, _>>()?;
            let undo_after_ms = match f {
                FaultSpec::NetworkLoss(t) | FaultSpec::NodeOverload(t) => t.for_.map(|d| d.value().ms()),
                _ => None,
            };
            Ok(Resolved { changes, undo_after_ms, target: shown(&nodes, map), note: None })
        }
        FaultSpec::StockChange(_) => Err("a cloud provider's stock cannot be changed from a cluster".into()),
        FaultSpec::DnsFailure(_) => {
            Err("`dnsFailure` on a set of nodes has no API: use `networkLoss` or a node command fault".into())
        }
        FaultSpec::KubeletFailure(_) => {
            Err("`kubeletFailure` on a set of nodes has no API: use `kubeletDown` with a node command".into())
        }
        _ => Err(format!("`{}` cannot be carried out on a real cluster", fault.key())),
    }
}

fn shown(nodes: &[String], map: &NodeMap) -> String {
    nodes.iter().map(|n| map.shown(n)).collect::<Vec<_>>().join(",")
}

/// The changes that carry out a policy's action now (a drain is [`drain_changes`]; its
/// evictions are retried over time by the drive). Node names are the policy's (scenario names).
pub fn changes_for_action(
    action: &Action,
    snap: &Snapshot,
    map: &NodeMap,
    commands: &NodeCommands,
) -> Result<Vec<Change>, String> {
    let node =
        |n: &str| map.real(n, snap).ok_or_else(|| format!("Error from server (NotFound): nodes \"{n}\" not found"));
    let none = BTreeMap::new();
    Ok(match action {
        Action::DeletePod { pod, force } => {
            let p = snap
                .pods
                .iter()
                .find(|p| p.name == *pod)
                .ok_or_else(|| format!("Error from server (NotFound): pods \"{pod}\" not found"))?;
            vec![Change::DeletePod { namespace: p.namespace.clone(), pod: pod.clone(), force: *force }]
        }
        Action::Scale { workload, replicas } => {
            let (ns, kind, name, _) =
                snap.workloads.iter().find(|w| w.2 == *workload).ok_or_else(|| {
                    format!("Error from server (NotFound): deployments.apps \"{workload}\" not found")
                })?;
            vec![Change::Scale { namespace: ns.clone(), kind: *kind, name: name.clone(), replicas: *replicas as i32 }]
        }
        Action::Cordon { node: n } => vec![Change::SetUnschedulable { node: node(n)?, unschedulable: true }],
        Action::Uncordon { node: n } => vec![Change::SetUnschedulable { node: node(n)?, unschedulable: false }],
        Action::RemoveNode { node: n } => vec![Change::DeleteNode { node: node(n)? }],
        Action::RestartKubelet { node: n } => vec![node_command(commands, "restartKubelet", &node(n)?, &none)?],
        Action::RestartDocker { node: n } => vec![node_command(commands, "restartDocker", &node(n)?, &none)?],
        Action::RestartRuntime { node: n } => vec![node_command(commands, "restartRuntime", &node(n)?, &none)?],
        Action::RebootInstance { node: n, force } => {
            vec![node_command(commands, if *force { "forceReboot" } else { "reboot" }, &node(n)?, &none)?]
        }
        Action::CleanDisk { node: n } => vec![node_command(commands, "cleanDisk", &node(n)?, &none)?],
        Action::DrainNode { node: n, .. } => drain_changes(&node(n)?, snap).0,
        other => return Err(format!("`{other}` has no counterpart on a Kubernetes cluster a drive can reach")),
    })
}

/// `kubectl drain --ignore-daemonsets` of a real node, limited to the named namespaces: the
/// cordon, then one eviction per pod; and the pods it leaves, with why.
pub fn drain_changes(node: &str, snap: &Snapshot) -> (Vec<Change>, Vec<String>) {
    let mut changes = vec![Change::SetUnschedulable { node: node.to_string(), unschedulable: true }];
    let mut left = Vec::new();
    for p in snap.pods.iter().filter(|p| p.node.as_deref() == Some(node) && !p.terminating) {
        match &p.owner {
            Some((kind, _)) if kind == "DaemonSet" => {
                left.push(format!("{}/{}: a DaemonSet pod (--ignore-daemonsets)", p.namespace, p.name))
            }
            None => left.push(format!(
                "{}/{}: not managed by a controller (kubectl drain refuses it without --force)",
                p.namespace, p.name
            )),
            Some(_) => changes.push(Change::EvictPod { namespace: p.namespace.clone(), pod: p.name.clone() }),
        }
    }
    (changes, left)
}

/// Whether a policy action key can be carried out on a real cluster (for the plan: a policy
/// that could ask for something else is refused before the drive starts).
pub fn action_supported(key: &str) -> Result<(), &'static str> {
    match key {
        "deletePods" | "scale" | "cordonNodes" | "uncordonNodes" | "drainNodes" | "removeNodes" => Ok(()),
        "restartKubelet" | "restartDocker" | "restartRuntime" | "rebootNodes" | "cleanDisk" => Ok(()),
        "startNodes" | "buyNodes" | "reimageNodes" => {
            Err("a cloud provider's machines are not reachable from a cluster")
        }
        "setBackend" | "switchBackends" => Err("load balancers are not part of a Kubernetes cluster"),
        _ => Err("swarm operations have no counterpart on Kubernetes"),
    }
}

/// The node command purposes a policy action key needs.
pub fn action_purposes(key: &str) -> &'static [&'static str] {
    match key {
        "restartKubelet" => &["restartKubelet"],
        "restartDocker" => &["restartDocker"],
        "restartRuntime" => &["restartRuntime"],
        "rebootNodes" => &["reboot", "forceReboot"],
        "cleanDisk" => &["cleanDisk"],
        _ => &[],
    }
}
