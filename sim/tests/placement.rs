//! Taints, tolerations and node affinity steer pods as kube-scheduler and the taint manager do.

mod common;

use capsize_sim::history::History;
use capsize_sim::{RunOptions, Sim};
use common::scenario;
use serde_json::json;

/// Two pools of three nodes: `general` and `gpu` (labelled `accel: gpu`); workload `web` of
/// four pods.
fn cluster(gpu_taints: serde_json::Value, web: serde_json::Value) -> serde_json::Value {
    let mut w =
        json!({"name": "web", "replicas": 4, "requests": {"cpu": "500m", "memory": "256Mi"}, "capacityRps": 10});
    for (k, v) in web.as_object().unwrap() {
        w[k] = v.clone();
    }
    json!({
        "apiVersion": "capsize.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "placement"},
        "spec": {
            "seed": 1,
            "start": "2024-01-01T00:00:00",
            "duration": "30m",
            "cluster": {
                "kubernetesVersion": "1.30",
                "nodes": [
                    {"pool": "general", "count": 3, "cpu": "4", "memory": "8Gi"},
                    {"pool": "gpu", "count": 3, "cpu": "4", "memory": "8Gi", "labels": {"accel": "gpu"}, "taints": gpu_taints}
                ],
                "workloads": [w],
                "services": [{"name": "web", "selector": {"app": "web"}}]
            },
            "traffic": [{"service": "web", "rps": [["00:00", 10]]}]
        }
    })
}

fn run(v: &serde_json::Value, seed: u64) -> History {
    let opts = RunOptions { seed: Some(seed), timeline: true, series: false, max_events: None };
    Sim::new(&scenario(v.clone()), &opts).expect("valid").run(&mut capsize_sim::DoNothing)
}

fn pools(h: &History) -> Vec<String> {
    let mut out: Vec<String> =
        h.pods.iter().filter_map(|p| p.node.as_ref()).map(|n| n.rsplit_once('-').unwrap().0.to_string()).collect();
    out.sort();
    out
}

#[test]
fn a_noschedule_taint_keeps_pods_off_unless_they_tolerate_it() {
    let taint = json!([{"key": "accel", "value": "gpu", "effect": "NoSchedule"}]);
    for seed in 1..=5 {
        let h = run(&cluster(taint.clone(), json!({})), seed);
        assert_eq!(pools(&h), ["general"; 4], "seed {seed}");
        // Tolerating it, and preferring the gpu nodes (affinity weight 2 x 100 outweighs the
        // spread), they go there.
        let web = json!({
            "tolerations": [{"key": "accel", "operator": "Exists", "effect": "NoSchedule"}],
            "nodeAffinity": {"preferred": [{"weight": 100, "matchExpressions": [{"key": "accel", "operator": "In", "values": ["gpu"]}]}]}
        });
        let h = run(&cluster(taint.clone(), web), seed);
        assert_eq!(pools(&h), ["gpu"; 4], "seed {seed}");
    }
}

#[test]
fn required_affinity_filters_and_says_why_when_nothing_fits() {
    for seed in 1..=5 {
        let web =
            json!({"nodeAffinity": {"required": [{"matchExpressions": [{"key": "accel", "operator": "Exists"}]}]}});
        let h = run(&cluster(json!([]), web), seed);
        assert_eq!(pools(&h), ["gpu"; 4], "seed {seed}");
        // Tainted and not tolerated: every gpu node refuses, the general ones do not match.
        let web = json!({"nodeAffinity": {"required": [{"matchExpressions": [{"key": "accel", "operator": "In", "values": ["gpu"]}]}]}});
        let taint = json!([{"key": "dedicated", "value": "ml", "effect": "NoExecute"}]);
        let h = run(&cluster(taint, web), seed);
        assert!(h.pods.iter().all(|p| p.status == "Pending"), "seed {seed}");
        let tl = h.timeline.as_ref().unwrap();
        let why = tl.iter().find(|e| e.what.contains("nodes are available")).map(|e| e.what.clone()).unwrap();
        assert!(
            why.contains("0/6 nodes are available: 3 node(s) didn't match Pod's node affinity/selector, 3 node(s) had untolerated taint {dedicated: ml}."),
            "seed {seed}: {why}"
        );
    }
}

#[test]
fn a_prefernoschedule_taint_is_avoided_while_other_nodes_fit() {
    let taint = json!([{"key": "spot", "value": "true", "effect": "PreferNoSchedule"}]);
    for seed in 1..=5 {
        let h = run(&cluster(taint.clone(), json!({})), seed);
        assert_eq!(pools(&h), ["general"; 4], "seed {seed}");
    }
}

#[test]
fn toleration_seconds_decide_when_a_pod_leaves_a_silent_node() {
    // The node of one web pod goes silent at 00:05; the lifecycle controller taints it
    // unreachable about 40 s later. The default toleration evicts after 300 s; a toleration of
    // 30 s evicts 270 s sooner; one without seconds never.
    let evicted_after = |tol: Option<serde_json::Value>, seed: u64| -> Option<u64> {
        let web = match tol {
            Some(t) => json!({"tolerations": [t]}),
            None => json!({}),
        };
        let v0 = cluster(json!([]), web.clone());
        let node = run(&v0, seed).pods[0].node.clone().unwrap();
        let mut v = v0;
        v["spec"]["faults"] = json!([{"nodeFailure": {"at": "00:05", "nodes": [node.clone()]}}]);
        let h = run(&v, seed);
        let tl = h.timeline.as_ref().unwrap();
        let tainted = tl.iter().find(|e| e.object == node && e.what.contains("NoExecute"))?.at;
        let evicted = tl.iter().find(|e| e.what.starts_with("evicted by the taint manager"))?.at;
        Some(evicted.ms() - tainted.ms())
    };
    for seed in 1..=5 {
        assert_eq!(evicted_after(None, seed), Some(300_000), "seed {seed}");
        let short = json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30});
        assert_eq!(evicted_after(Some(short), seed), Some(30_000), "seed {seed}");
        let forever = json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"});
        assert_eq!(evicted_after(Some(forever), seed), None, "seed {seed}");
    }
}
