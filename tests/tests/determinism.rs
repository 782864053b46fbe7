//! Same scenario and seed: byte-identical output, whatever runs beside it.

use capsize_tests::{capsize, capsize_json};

const SCENARIO: &str = "scenarios/subpath-configmap.yaml";

/// Every shipped scenario (every YAML file directly in `scenarios/`).
fn all() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(capsize_tests::repo().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| std::fs::read_to_string(p).unwrap().contains("\nkind: Scenario"))
        .map(|p| format!("scenarios/{}", p.file_name().unwrap().to_str().unwrap()))
        .collect();
    v.sort();
    assert!(v.len() >= 7, "the scenarios are found: {v:?}");
    v
}

#[test]
fn the_same_seed_twice_gives_identical_bytes() {
    for scenario in all() {
        let scenario = scenario.as_str();
        let a = capsize(&["compare", scenario, "--format", "json"]);
        let b = capsize(&["compare", scenario, "--format", "json"]);
        assert!(a.status.success());
        assert_eq!(a.stdout, b.stdout, "{scenario}");
        // The scenario's first policy, with the timeline.
        let t1 = capsize(&["run", scenario, "--format", "json", "--timeline"]);
        let t2 = capsize(&["run", scenario, "--format", "json", "--timeline"]);
        assert!(t1.status.success());
        assert_eq!(t1.stdout, t2.stdout, "{scenario}");
    }
}

#[test]
fn a_run_alone_equals_the_same_run_inside_a_parallel_compare() {
    for scenario in all() {
        let scenario = scenario.as_str();
        let all = capsize_json(&["compare", scenario, "--format", "json"]);
        for r in all["runs"].as_array().unwrap() {
            let policy = r["policy"].as_str().unwrap();
            let alone = capsize_json(&["run", scenario, "--policy", policy, "--format", "json"]);
            assert_eq!(&alone, r, "{scenario} {policy}");
        }
    }
}

#[test]
fn another_seed_changes_only_what_is_random() {
    let a = capsize_json(&["run", SCENARIO, "--policy", "as-happened", "--format", "json", "--seed", "7"]);
    let b = capsize_json(&["run", SCENARIO, "--policy", "as-happened", "--format", "json", "--seed", "8"]);
    assert_ne!(a, b, "the seed drives start latencies, probe phases, tie-breaks and names");
    // What is not random is the same: the services, the faults and when they fired, the
    // actions' times, how many outages each service had.
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(&a), names(&b));
    let faults = |v: &serde_json::Value| -> Vec<(String, String)> {
        v["faults"].as_array().unwrap().iter().map(|f| (f["at"].to_string(), f["kind"].to_string())).collect()
    };
    assert_eq!(faults(&a), faults(&b));
    let times = |v: &serde_json::Value| -> Vec<String> {
        v["actions"].as_array().unwrap().iter().map(|x| x["at"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(times(&a).first(), times(&b).first());
    for (sa, sb) in a["services"].as_array().unwrap().iter().zip(b["services"].as_array().unwrap()) {
        assert_eq!(sa["outages"].as_array().unwrap().len(), sb["outages"].as_array().unwrap().len());
    }
}
