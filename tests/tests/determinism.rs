//! Same scenario and seed: byte-identical output, whatever runs beside it.

use capsize_tests::{capsize, capsize_json};

const SCENARIO: &str = "scenarios/subpath-configmap.yaml";
/// Every shipped scenario.
const ALL: [&str; 3] = [SCENARIO, "scenarios/spot-stockout-dns.yaml", "scenarios/swarm-cascade-quorum.yaml"];

#[test]
fn the_same_seed_twice_gives_identical_bytes() {
    for scenario in ALL {
        let a = capsize(&["compare", scenario, "--format", "json"]);
        let b = capsize(&["compare", scenario, "--format", "json"]);
        assert!(a.status.success());
        assert_eq!(a.stdout, b.stdout, "{scenario}");
        let t1 = capsize(&["run", scenario, "--policy", "as-happened", "--format", "json", "--timeline"]);
        let t2 = capsize(&["run", scenario, "--policy", "as-happened", "--format", "json", "--timeline"]);
        assert_eq!(t1.stdout, t2.stdout, "{scenario}");
    }
}

#[test]
fn a_run_alone_equals_the_same_run_inside_a_parallel_compare() {
    for scenario in ALL {
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
