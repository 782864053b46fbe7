//! The scheduler's cache stays true through what moves it: more pod shapes than it keeps views
//! for, selectors and taints that give a workload a view of its own, nodes that go down, come
//! back, fill their disks and leave, and pods that crash and are replaced.
//!
//! In debug builds (how the tests run) every placement the cache answers is also computed by
//! the full walk and the two must agree (window, tied nodes, order); `check_invariants`
//! recomputes the whole cache from the nodes here every few events, in any build.

use capsize_sim::{DoNothing, RunOptions, Scenario, Sim};
use serde_json::{Value, json};

/// Three zones of 50 nodes (the last pool tainted and labelled), 14 workloads of 12 request
/// sizes (the cache keeps 8), some confined by a selector or tolerating the taint, and a day
/// of node and container faults.
fn scenario() -> Scenario {
    let pools: Vec<Value> = (0..3)
        .map(|z| {
            let mut p = json!({"pool": format!("z{z}"), "count": 50, "cpu": "4", "memory": "16Gi", "zone": format!("zone-{z}")});
            if z == 2 {
                p["labels"] = json!({"disk": "ssd"});
                p["taints"] = json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]);
            }
            p
        })
        .collect();
    let mut workloads = Vec::new();
    let mut services = Vec::new();
    let mut traffic = Vec::new();
    for i in 0..14u32 {
        let name = format!("w{i}");
        let mut w = json!({
            "name": name, "replicas": 6 + i % 5,
            "requests": {"cpu": format!("{}m", 100 + 50 * (i % 12)), "memory": format!("{}Mi", 128 + 64 * (i % 12))},
            "capacityRps": 20, "readinessProbe": {}, "livenessProbe": {}
        });
        if i % 4 == 1 {
            w["tolerations"] =
                json!([{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]);
        }
        if i % 7 == 3 {
            w["tolerations"] = json!([{"key": "dedicated", "operator": "Exists"}]);
            w["nodeSelector"] = json!({"disk": "ssd"});
        }
        workloads.push(w);
        services.push(json!({"name": name, "selector": {"app": name}}));
        traffic.push(json!({"service": name, "rps": [["00:00", 30]]}));
    }
    let mut faults = Vec::new();
    for k in 0..12u32 {
        let node = format!("z{}-{}", k % 3, 1 + (k * 7) % 50);
        let at = format!("{:02}:{:02}", k / 2, (k % 2) * 30 + 5);
        faults.push(match k % 4 {
            0 => json!({"networkLoss": {"at": at, "node": node, "for": "20m"}}),
            1 => json!({"nodeRemoved": {"at": at, "node": node}}),
            2 => json!({"diskFull": {"at": at, "node": node}}),
            _ => json!({"runtimeHung": {"at": at, "node": node}}),
        });
        faults.push(json!({"containerCrash": {"at": at, "selector": {"app": format!("w{}", k % 14)}, "count": 2}}));
    }
    serde_json::from_value(json!({
        "apiVersion": "capsize.dev/v1alpha1", "kind": "Scenario", "metadata": {"name": "cache"},
        "spec": {
            "seed": 3, "start": "2024-01-01T00:00:00", "duration": "7h",
            "cluster": {"nodes": pools, "workloads": workloads, "services": services},
            "traffic": traffic, "faults": faults
        }
    }))
    .expect("test scenario parses")
}

#[test]
fn the_cache_agrees_with_the_nodes_through_faults_and_many_shapes() {
    let s = scenario();
    for seed in [1, 2, 3] {
        let opts = RunOptions { seed: Some(seed), ..RunOptions::default() };
        let mut sim = Sim::new(&s, &opts).expect("valid");
        sim.check_invariants().unwrap_or_else(|e| panic!("seed {seed}, at the start: {e}"));
        let mut events = 0u64;
        while sim.step(&mut DoNothing) {
            events += 1;
            if events.is_multiple_of(50) {
                sim.check_invariants().unwrap_or_else(|e| panic!("seed {seed}, event {events}: {e}"));
            }
        }
        sim.check_invariants().unwrap_or_else(|e| panic!("seed {seed}, at the end: {e}"));
        let h = sim.finish();
        // The faults did their work: replacements were placed during the run, on every pool.
        let placed_later = h.pods.iter().filter(|p| p.created.ms() > 0 && p.node.is_some()).count();
        assert!(placed_later >= 5, "seed {seed}: {placed_later} pods placed after the start");
        for pool in ["z0-", "z1-", "z2-"] {
            assert!(
                h.pods.iter().any(|p| p.node.as_deref().is_some_and(|n| n.starts_with(pool))),
                "seed {seed}: no pod on {pool}"
            );
        }
        // Selector-confined pods are on the ssd pool only.
        for p in h.pods.iter().filter(|p| p.workload == "w3" || p.workload == "w10") {
            assert!(p.node.as_deref().is_none_or(|n| n.starts_with("z2-")), "{} on {:?}", p.name, p.node);
        }
    }
}
