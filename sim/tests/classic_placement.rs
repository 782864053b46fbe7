//! Classic swarm's starting placement is the scenario's choice (`initialPlacement`), not the
//! engine's: by default the cluster's own strategy places the starting containers too.

mod common;

use capsize_sim::policy::DoNothing;
use capsize_sim::{RunOptions, Sim};
use common::scenario;
use serde_json::json;

fn cluster(initial: Option<&str>) -> serde_json::Value {
    let mut hosted = json!({"name": "hosted", "kind": "classicSwarm", "strategy": "binpack"});
    if let Some(p) = initial {
        hosted["initialPlacement"] = json!(p);
    }
    json!({
        "apiVersion": "capsize.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "classic"},
        "spec": {
            "seed": 1,
            "start": "2024-01-01T00:00:00",
            "duration": "10m",
            "cluster": {
                "clusters": [hosted],
                "nodes": [{"pool": "n", "cluster": "hosted", "count": 3, "cpu": "4", "memory": "8Gi"}],
                "workloads": [{"name": "app", "cluster": "hosted", "kind": "SwarmService", "replicas": 6,
                               "requests": {"cpu": "500m", "memory": "512Mi"}, "capacityRps": 10}],
                "services": [{"name": "app", "selector": {"app": "app"}}]
            },
            "faults": []
        }
    })
}

/// Containers per node at the start, in node order.
fn per_node(v: serde_json::Value) -> Vec<usize> {
    let h = Sim::new(&scenario(v), &RunOptions::default()).expect("valid").run(&mut DoNothing);
    (1..=3).map(|k| h.pods.iter().filter(|p| p.node.as_deref() == Some(&format!("n-{k}"))).count()).collect()
}

#[test]
fn binpack_places_the_starting_containers_unless_the_scenario_says_spread() {
    // Binpack fills the most used node that fits: all six on one node (4 CPUs take eight).
    let packed = per_node(cluster(None));
    assert_eq!(packed.iter().max(), Some(&6), "{packed:?}");
    // Deployed over time: spread, two each.
    assert_eq!(per_node(cluster(Some("spread"))), vec![2, 2, 2]);
}
