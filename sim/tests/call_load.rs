//! Load flows through `calls`: a called service without a traffic curve of its own is offered
//! its callers' share of their traffic, and can saturate under it.

mod common;

use capsize_sim::score::evaluate;
use capsize_sim::{RunOptions, Sim};
use common::scenario;
use serde_json::json;

/// `front` (4 pods of 200 rps) calls `back` (2 pods of 100 rps) for half of its requests; only
/// `front` has a traffic curve, at `rps`.
fn chain(rps: f64) -> serde_json::Value {
    json!({
        "apiVersion": "capsize.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "call-load"},
        "spec": {
            "seed": 1,
            "start": "2024-01-01T00:00:00",
            "duration": "1h",
            "cluster": {
                "kubernetesVersion": "1.30",
                "nodes": [{"pool": "n", "count": 3, "cpu": "8", "memory": "16Gi"}],
                "workloads": [
                    {"name": "front", "replicas": 4, "requests": {"cpu": "500m", "memory": "256Mi"}, "capacityRps": 200},
                    {"name": "back", "replicas": 2, "requests": {"cpu": "500m", "memory": "256Mi"}, "capacityRps": 100,
                     "livenessProbe": {}}
                ],
                "services": [
                    {"name": "front", "selector": {"app": "front"}, "calls": [{"service": "back", "share": 0.5}]},
                    {"name": "back", "selector": {"app": "back"}}
                ]
            },
            "traffic": [{"service": "front", "rps": [["00:00", rps]]}]
        }
    })
}

fn outcome(rps: f64, seed: u64) -> (f64, f64, u32) {
    let s = scenario(chain(rps));
    let opts = RunOptions { seed: Some(seed), timeline: false, series: false, max_events: None };
    let h = Sim::new(&s, &opts).expect("valid").run(&mut capsize_sim::DoNothing);
    let r = evaluate(&s, "do-nothing", seed, &h);
    let back = r.services.iter().find(|x| x.name == "back").unwrap();
    let restarts = h.pods.iter().filter(|p| p.workload == "back").map(|p| p.restarts).sum();
    (back.offered_requests, back.availability, restarts)
}

#[test]
fn a_callee_is_offered_its_callers_share() {
    for seed in 1..=3 {
        // 300 rps at the front, half of it needs the back: 150 rps for an hour.
        let (offered, availability, restarts) = outcome(300.0, seed);
        assert!((offered - 150.0 * 3600.0).abs() < 1.0, "seed {seed}: {offered}");
        assert_eq!((availability, restarts), (1.0, 0), "seed {seed}: 150 rps on 200 rps of capacity");
    }
}

#[test]
fn a_callee_saturates_under_its_callers_load() {
    for seed in 1..=3 {
        // 500 rps at the front: 250 rps on the back's 200. Its queue grows 0.25 s per second,
        // its 1 s liveness timeout is passed within 4 s, and its pods restart; it serves at
        // most 200 of every 250 requests.
        let (offered, availability, restarts) = outcome(500.0, seed);
        assert!((offered - 250.0 * 3600.0).abs() < 1.0, "seed {seed}: {offered}");
        assert!(availability <= 0.8 + 1e-9, "seed {seed}: {availability}");
        assert!(restarts > 0, "seed {seed}");
    }
}
