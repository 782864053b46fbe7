//! Node targets in faults and actions on a shipped-style drill (`tests/scenarios/redis-node-loss.yaml`):
//! `nodeOf` follows Redis wherever the seed placed it, `onTriggerNodes` limits a deletion to the
//! pods of the node the trigger matched, `pick` draws distinct nodes, and an action that names
//! nothing is reported as a failed action.

use capsize_tests::{capsize_json, run_of};

const DRILL: &str = "tests/scenarios/redis-node-loss.yaml";

/// The node the scenario's first Redis pod ran on (the one the fault at 00:10 found).
fn redis_home(run: &serde_json::Value) -> String {
    let pods = run["workloads"].as_array().unwrap().iter().find(|w| w["name"] == "redis").unwrap()["pods"].clone();
    let first = pods.as_array().unwrap().iter().find(|p| p["created_s"] == 0.0).expect("the starting pod");
    first["node"].as_str().unwrap().to_string()
}

fn actions(run: &serde_json::Value) -> Vec<(String, bool, String)> {
    run["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_string(),
                a["ok"].as_bool().unwrap(),
                a["result"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
fn actions_follow_the_nodes_and_pods_their_targets_name_on_every_seed() {
    for seed in 1..=10 {
        let runs = capsize_json(&["compare", DRILL, "--format", "json", "--seed", &seed.to_string()])["runs"]
            .as_array()
            .unwrap()
            .clone();

        // The fault hit Redis's node.
        let force = run_of(&runs, "force-delete-on-lost-node");
        let home = redis_home(force);
        let fault = &force["faults"][0];
        assert_eq!(fault["matched"], 1, "seed {seed}");
        assert!(fault["target"].as_str().unwrap().starts_with(&format!("{home} ")), "seed {seed}: {fault}");

        // Force deletion took exactly the pods bound to the lost node when the rule acted.
        let acted = force["actions"][0]["done_s"].as_f64().unwrap();
        let mut on_node: Vec<String> = Vec::new();
        for w in force["workloads"].as_array().unwrap() {
            for p in w["pods"].as_array().unwrap() {
                let alive =
                    p["created_s"].as_f64().unwrap() < acted && p["deleted_s"].as_f64().is_none_or(|d| d >= acted);
                if alive && p["node"] == home.as_str() {
                    on_node.push(p["name"].as_str().unwrap().to_string());
                }
            }
        }
        on_node.sort();
        let mut deleted: Vec<String> = actions(force)
            .iter()
            .map(|(a, ok, _)| {
                assert!(ok, "seed {seed}: {a}");
                a.strip_prefix("kubectl delete pod ").unwrap().strip_suffix(" --force --grace-period=0").unwrap().into()
            })
            .collect();
        deleted.sort();
        assert_eq!(deleted, on_node, "seed {seed}: only the lost node's pods, and all of them");

        // `nodeOf` cordons Redis's node; `pick: {count: 2}` two distinct nodes; the deletion of
        // crash-looping Redis pods (there are none) is a failed action with kubectl's words.
        let cordon = run_of(&runs, "cordon-redis-node");
        let acts = actions(cordon);
        assert!(acts.contains(&(format!("kubectl cordon {home}"), true, format!("node/{home} cordoned"))), "{acts:?}");
        let missing: Vec<_> = acts.iter().filter(|(_, ok, _)| !ok).collect();
        assert_eq!(missing.len(), 1, "seed {seed}: {acts:?}");
        assert!(missing[0].0.starts_with("deletePods "), "{missing:?}");
        assert_eq!(missing[0].2, "No resources found: no pod matched");
        let two: std::collections::BTreeSet<&str> = cordon["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["by"] == "cordon-two (automation)")
            .map(|a| a["action"].as_str().unwrap())
            .collect();
        assert_eq!(two.len(), 2, "seed {seed}: {two:?}");
    }
}
