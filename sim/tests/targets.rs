//! Fault targets by selector: `nodeOf` follows a pod wherever the seed placed it, `pool` with
//! `pick` draws distinct nodes per seed, reproducibly.

mod common;

use capsize_sim::history::History;
use capsize_sim::policy::DoNothing;
use capsize_sim::{RunOptions, Sim};
use common::scenario;
use serde_json::json;

/// Five workers, a one-replica Redis and a six-replica web tier; `fault` at 00:10.
fn drill(fault: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "capsize.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "targets"},
        "spec": {
            "seed": 1,
            "start": "2024-01-01T00:00:00",
            "duration": "30m",
            "cluster": {
                "kubernetesVersion": "1.30",
                "nodes": [{"pool": "worker", "count": 5, "cpu": "4", "memory": "8Gi"}],
                "workloads": [
                    {"name": "redis", "replicas": 1, "requests": {"cpu": "500m", "memory": "512Mi"}, "capacityRps": 1000},
                    {"name": "web", "replicas": 6, "requests": {"cpu": "500m", "memory": "256Mi"}, "capacityRps": 100}
                ],
                "services": [
                    {"name": "redis", "selector": {"app": "redis"}},
                    {"name": "web", "selector": {"app": "web"}, "calls": [{"service": "redis", "share": 1.0}]}
                ]
            },
            "traffic": [{"service": "web", "rps": [["00:00", 200]]}],
            "faults": [fault]
        }
    })
}

fn run_seed(v: &serde_json::Value, seed: u64) -> History {
    let opts = RunOptions { seed: Some(seed), timeline: true, series: false, max_events: None };
    Sim::new(&scenario(v.clone()), &opts).expect("valid").run(&mut DoNothing)
}

/// The nodes a timeline says lost their network.
fn lost(h: &History) -> Vec<String> {
    let mut v: Vec<String> =
        h.timeline.as_ref().unwrap().iter().filter(|e| e.what == "network lost").map(|e| e.object.clone()).collect();
    v.sort();
    v
}

#[test]
fn node_of_hits_the_node_running_redis_on_every_seed() {
    let v = drill(json!({"networkLoss": {"at": "00:10", "nodeOf": {"app": "redis"}, "for": "5m"}}));
    let mut homes = std::collections::BTreeSet::new();
    for seed in 1..=10 {
        let h = run_seed(&v, seed);
        // Redis has one pod, bound at the start and still there at 00:10 (nothing moved it).
        let redis: Vec<_> = h.pods.iter().filter(|p| p.workload == "redis").collect();
        let home = redis[0].node.clone().expect("redis was placed");
        assert_eq!(lost(&h), vec![home.clone()], "seed {seed}");
        assert_eq!(h.faults[0].matched, 1, "seed {seed}");
        assert!(h.faults[0].target.starts_with(&format!("{home} (nodeOf app=redis")), "{}", h.faults[0].target);
        homes.insert(home);
    }
    // The point of `nodeOf`: the seed moves Redis, and the fault follows it.
    assert!(homes.len() > 1, "Redis landed on the same node for every seed: {homes:?}");
}

#[test]
fn pick_count_draws_distinct_nodes_per_seed_reproducibly() {
    let v = drill(json!({"networkLoss": {"at": "00:10", "pool": "worker", "pick": {"count": 2}, "for": "5m"}}));
    let mut draws = std::collections::BTreeSet::new();
    for seed in 1..=10 {
        let first = lost(&run_seed(&v, seed));
        assert_eq!(first.len(), 2, "seed {seed}: {first:?}");
        assert_ne!(first[0], first[1]);
        assert_eq!(lost(&run_seed(&v, seed)), first, "seed {seed} drew differently twice");
        draws.insert(first);
    }
    assert!(draws.len() > 1, "every seed drew the same two nodes: {draws:?}");
}

#[test]
fn pick_modes_take_one_all_or_a_percentage() {
    for (pick, n) in [(json!("one"), 1), (json!("all"), 5), (json!({"percent": 40}), 2), (json!("10%"), 1)] {
        let v = drill(json!({"kubeletDown": {"at": "00:10", "pool": "worker", "pick": pick}}));
        let h = run_seed(&v, 3);
        assert_eq!(h.faults[0].matched, n, "pick {pick}");
    }
    // Without `pick`, a pool means all its nodes (AWS FIS's default) and `nodeOf` one.
    let h = run_seed(&drill(json!({"kubeletDown": {"at": "00:10", "pool": "worker"}})), 3);
    assert_eq!(h.faults[0].matched, 5);
    let h = run_seed(&drill(json!({"kubeletDown": {"at": "00:10", "nodeOf": {"app": "web"}}})), 3);
    assert_eq!(h.faults[0].matched, 1);
}

#[test]
fn bad_targets_are_refused_with_their_path() {
    let cases = [
        (json!({"networkLoss": {"at": "00:10", "nodeOf": {"app": "nothing"}}}), "nodeOf", "no workload's pods"),
        (json!({"networkLoss": {"at": "00:10", "pool": "gpu"}}), "pool", "no node pool named `gpu`"),
        (json!({"networkLoss": {"at": "00:10", "node": "worker-9"}}), "node", "no node named `worker-9`"),
        (json!({"networkLoss": {"at": "00:10"}}), "node", "say which node"),
        (json!({"networkLoss": {"at": "00:10", "node": "worker-1", "pool": "worker"}}), "node", "not several"),
        (json!({"networkLoss": {"at": "00:10", "node": "worker-1", "pick": "all"}}), "pick", "a named node"),
    ];
    for (fault, field, message) in cases {
        let errors = capsize_sim::validate(&scenario(drill(fault.clone()))).expect_err("refused");
        let path = capsize_sim::validate::display_path(&errors[0].path);
        assert_eq!(path, format!("spec.faults[0].networkLoss.{field}"), "{fault}");
        assert!(errors[0].message.contains(message), "{fault}: {}", errors[0].message);
    }
}
