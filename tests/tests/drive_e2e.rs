//! `capsize drive` against a real API server: kill -9 in the middle, `capsize rollback`, every
//! object as before; then a whole drive, scored and rolled back.
//!
//! Gated: it runs only when `CAPSIZE_E2E_KUBECONFIG` (a kubeconfig file) and
//! `CAPSIZE_E2E_CONTEXT` (a context of it, a throwaway cluster) are set, and says so when it does
//! not. It creates a namespace `capsize-e2e-PID` and three Nodes `capsize-e2e-PID-N` (labelled
//! `capsize.dev/pool=worker`), and removes them at the end. A cluster without kubelets (an API
//! server, controller manager and scheduler) is enough: a stand-in kubelet in this test marks
//! bound pods Running and Ready, renews the nodes' heartbeats and confirms deletions.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use capsize_tests::{binary, repo};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const DRILL: &str = "tests/scenarios/e2e-drill.yaml";

fn gated() -> Option<(String, String)> {
    match (std::env::var("CAPSIZE_E2E_KUBECONFIG"), std::env::var("CAPSIZE_E2E_CONTEXT")) {
        (Ok(k), Ok(c)) if !k.is_empty() && !c.is_empty() => Some((k, c)),
        _ => {
            eprintln!(
                "skipped: the real-cluster end-to-end test needs CAPSIZE_E2E_KUBECONFIG and CAPSIZE_E2E_CONTEXT \
                 (a throwaway cluster; see the README, real-cluster mode)"
            );
            None
        }
    }
}

async fn client(kubeconfig: &str, context: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let opts = kube::config::KubeConfigOptions { context: Some(context.into()), ..Default::default() };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &opts).await.expect("context");
    kube::Client::try_from(cfg).expect("client")
}

fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What must be as before: the nodes, the ConfigMap, the Deployment (spec, labels, annotations).
async fn state(c: &kube::Client, ns: &str, nodes: &[String]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let napi: Api<Node> = Api::all(c.clone());
    for n in nodes {
        let v = match napi.get_opt(n).await.unwrap() {
            None => json!("absent"),
            Some(node) => json!({
                "labels": node.metadata.labels,
                "annotations": node.metadata.annotations.unwrap_or_default().into_iter()
                    .filter(|(k, _)| k.starts_with("capsize.dev/")).collect::<BTreeMap<_, _>>(),
                "unschedulable": node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
                "taints": node.spec.and_then(|s| s.taints),
            }),
        };
        out.insert(format!("node/{n}"), v);
    }
    let cm = Api::<ConfigMap>::namespaced(c.clone(), ns).get("web-settings").await.unwrap();
    out.insert("configmap".into(), json!({"data": cm.data, "annotations": cm.metadata.annotations}));
    let d = Api::<Deployment>::namespaced(c.clone(), ns).get("web").await.unwrap();
    out.insert(
        "deployment".into(),
        json!({"replicas": d.spec.as_ref().and_then(|s| s.replicas), "annotations": d.metadata.annotations.unwrap_or_default()
            .into_iter().filter(|(k, _)| k.starts_with("capsize.dev/")).collect::<BTreeMap<_, _>>()}),
    );
    out
}

/// A stand-in kubelet: bound pods become Running and Ready, deletions are confirmed, the nodes'
/// heartbeats are renewed (so a controller manager with default grace periods keeps them Ready).
async fn kubelet(c: kube::Client, ns: String, nodes: Vec<String>) {
    let pods: Api<Pod> = Api::namespaced(c.clone(), &ns);
    let napi: Api<Node> = Api::all(c.clone());
    let mut ip = 10u32;
    loop {
        if let Ok(list) = pods.list(&ListParams::default()).await {
            for p in list.items {
                let name = p.metadata.name.clone().unwrap_or_default();
                if p.metadata.deletion_timestamp.is_some() {
                    let _ = pods.delete(&name, &DeleteParams::default().grace_period(0)).await;
                    continue;
                }
                let bound = p.spec.as_ref().and_then(|s| s.node_name.clone()).is_some();
                let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                if bound && !running {
                    ip += 1;
                    let t = now();
                    let containers: Vec<Value> = p.spec.as_ref().unwrap().containers.iter().map(|ct| json!({
                        "name": ct.name, "ready": true, "restartCount": 0, "image": ct.image, "imageID": "",
                        "containerID": format!("containerd://{name}"), "started": true, "state": {"running": {"startedAt": t}}})).collect();
                    let status = json!({"status": {"phase": "Running", "podIP": format!("10.250.{}.{}", ip / 250, ip % 250),
                        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": t},
                                       {"type": "ContainersReady", "status": "True", "lastTransitionTime": t},
                                       {"type": "PodScheduled", "status": "True", "lastTransitionTime": t}],
                        "containerStatuses": containers}});
                    let _ = pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await;
                }
            }
        }
        for n in &nodes {
            let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                "message": "stand-in kubelet", "lastHeartbeatTime": now(), "lastTransitionTime": now()}]}});
            let _ = napi.patch_status(n, &PatchParams::default(), &Patch::Merge(&status)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn node_manifest(name: &str) -> Node {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "capsize.dev/pool": "worker"}},
        "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}, "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}))
    .unwrap()
}

async fn setup(c: &kube::Client, ns: &str, nodes: &[String]) {
    let pp = PostParams::default();
    let nsapi: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
    nsapi.create(&pp, &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap()).await.unwrap();
    let napi: Api<Node> = Api::all(c.clone());
    for n in nodes {
        napi.create(&pp, &node_manifest(n)).await.unwrap();
    }
    Api::<ConfigMap>::namespaced(c.clone(), ns)
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"name": "web-settings"}, "data": {"app.json": "{}"}})).unwrap(),
        )
        .await
        .unwrap();
    let labels = json!({"app": "web"});
    Api::<Deployment>::namespaced(c.clone(), ns)
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"replicas": 3,
            "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/pause:3.9"}]}}}}))
            .unwrap(),
        )
        .await
        .unwrap();
    Api::<k8s_openapi::api::core::v1::Service>::namespaced(c.clone(), ns)
        .create(
            &pp,
            &serde_json::from_value(
                json!({"metadata": {"name": "web"}, "spec": {"selector": labels, "ports": [{"port": 80}]}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    Api::<k8s_openapi::api::policy::v1::PodDisruptionBudget>::namespaced(c.clone(), ns)
        .create(&pp, &serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels}}})).unwrap())
        .await
        .unwrap();
}

async fn teardown(c: &kube::Client, ns: &str, nodes: &[String]) {
    let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(c.clone()).delete(ns, &DeleteParams::default()).await;
    let pods: Api<Pod> = Api::namespaced(c.clone(), ns);
    for _ in 0..20 {
        let Ok(list) = pods.list(&ListParams::default()).await else { break };
        if list.items.is_empty() {
            break;
        }
        for p in list.items {
            let _ = pods.delete(&p.metadata.name.unwrap_or_default(), &DeleteParams::default().grace_period(0)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for n in nodes {
        let _ = Api::<Node>::all(c.clone()).delete(n, &DeleteParams::default()).await;
    }
}

fn intents(journal: &Path) -> usize {
    std::fs::read_to_string(journal).map_or(0, |t| t.lines().filter(|l| l.contains("\"entry\":\"intent\"")).count())
}

fn drive_args<'a>(
    kubeconfig: &'a str,
    context: &'a str,
    ns: &'a str,
    cmds: &'a str,
    journal: &'a str,
    map: &'a [String],
) -> Vec<&'a str> {
    let mut a = vec![
        "drive",
        DRILL,
        "--context",
        context,
        "--kubeconfig",
        kubeconfig,
        "-n",
        ns,
        "--node-commands",
        cmds,
        "--journal",
        journal,
        "--yes",
        "--allow-context",
    ];
    for m in map {
        a.extend(["--node", m.as_str()]);
    }
    a
}

#[test]
fn a_drive_killed_at_any_moment_is_rolled_back_to_the_state_it_found() {
    let Some((kubeconfig, context)) = gated() else { return };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let pid = std::process::id();
    let ns = format!("capsize-e2e-{pid}");
    let nodes: Vec<String> = (1..=3).map(|k| format!("capsize-e2e-{pid}-{k}")).collect();
    let map: Vec<String> = nodes.iter().enumerate().map(|(i, n)| format!("worker-{}={n}", i + 1)).collect();
    let dir = tempfile::tempdir().unwrap();
    let cmds = dir.path().join("node-commands.yaml");
    let marker = dir.path().join("kubelet-down");
    std::fs::write(
        &cmds,
        format!(
            "apiVersion: capsize.dev/v1alpha1\nkind: NodeCommands\nmetadata: {{name: e2e}}\nspec:\n  commands:\n    kubeletDown:\n      run: \"touch {m}-{{node}}\"\n      undo: \"rm -f {m}-{{node}}\"\n",
            m = marker.display()
        ),
    )
    .unwrap();
    let c = rt.block_on(client(&kubeconfig, &context));
    rt.block_on(setup(&c, &ns, &nodes));
    let stand_in = rt.spawn(kubelet(c.clone(), ns.clone(), nodes.clone()));
    // Wait for the three pods to run.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pods = rt.block_on(Api::<Pod>::namespaced(c.clone(), &ns).list(&ListParams::default())).unwrap();
        let running =
            pods.items.iter().filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")).count();
        if running >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "the pods never ran ({running} of 3)");
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(2));
    let before = rt.block_on(state(&c, &ns, &nodes));
    let cmds_s = cmds.to_str().unwrap();

    // kill -9 after k changes, for two values of k: rollback restores everything, twice over.
    for k in [3, 6] {
        let journal = dir.path().join(format!("kill-{k}.journal"));
        let j = journal.to_str().unwrap();
        let mut child = Command::new(binary())
            .args(drive_args(&kubeconfig, &context, &ns, cmds_s, j, &map))
            .current_dir(repo())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while intents(&journal) < k && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().unwrap(); // SIGKILL: no rollback, no last words
        child.wait().unwrap();
        assert!(intents(&journal) >= k, "the drive made only {} changes", intents(&journal));
        let during = rt.block_on(state(&c, &ns, &nodes));
        assert_ne!(during, before, "the killed drive had changed something (k = {k})");
        let out = Command::new(binary())
            .args(["rollback", j, "--kubeconfig", &kubeconfig])
            .current_dir(repo())
            .output()
            .unwrap();
        assert!(out.status.success(), "rollback failed: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(rt.block_on(state(&c, &ns, &nodes)), before, "k = {k}: not as before after rollback");
        let again = Command::new(binary())
            .args(["rollback", j, "--kubeconfig", &kubeconfig])
            .current_dir(repo())
            .output()
            .unwrap();
        assert!(again.status.success());
        assert!(
            String::from_utf8_lossy(&again.stdout).contains("0 change(s) restored"),
            "{}",
            String::from_utf8_lossy(&again.stdout)
        );
    }

    // A whole drive: applied, observed, scored (mode real) and rolled back.
    let journal = dir.path().join("whole.journal");
    let j = journal.to_str().unwrap();
    let mut args = drive_args(&kubeconfig, &context, &ns, cmds_s, j, &map);
    args.extend(["--duration", "40s", "--format", "json"]);
    let out = Command::new(binary()).args(&args).current_dir(repo()).output().unwrap();
    assert!(out.status.success(), "drive failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["mode"], "real");
    let faults = report["faults"].as_array().unwrap();
    assert_eq!(faults.len(), 4, "{faults:?}");
    assert!(faults.iter().all(|f| f["matched"].as_u64().unwrap() >= 1), "{faults:?}");
    let actions = report["actions"].as_array().unwrap();
    assert!(actions.iter().filter(|a| a["by_policy"] == true).all(|a| a["ok"] == true), "{actions:?}");
    assert!(!marker.with_file_name(format!("kubelet-down-{}", nodes[0])).exists());
    assert_eq!(rt.block_on(state(&c, &ns, &nodes)), before, "not as before after a whole drive");

    stand_in.abort();
    rt.block_on(teardown(&c, &ns, &nodes));
}
