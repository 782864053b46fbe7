//! Incident D (the operations runbook of incident D): the four drills and what the runbook's
//! remedies do in each, over several seeds. Every expectation here is an outcome of the model's
//! mechanics; the scenarios state no outage and no duration.

use capsize_tests::{at, capsize, compare, outages, run_of};
use serde_json::Value;

const SEEDS: [&str; 5] = ["1", "2", "3", "7", "11"];

/// Total time `node` had `condition`, and whether it still had it at the end.
fn condition(run: &Value, node: &str, condition: &str) -> (f64, bool) {
    let spans: Vec<&Value> = run["node_conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["node"] == node && c["condition"] == condition)
        .collect();
    let total = spans.iter().map(|c| c["duration_s"].as_f64().unwrap()).sum();
    (total, spans.iter().any(|c| c["ongoing"] == true))
}

/// The actions of a run as `(action, ok, result)`.
fn actions(run: &Value) -> Vec<(String, bool, String)> {
    run["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["action"].as_str().unwrap().into(), a["ok"] == true, a["result"].as_str().unwrap().into()))
        .collect()
}

#[test]
fn pleg_the_ladder_brings_the_node_back_without_an_outage_and_sooner_than_a_reboot() {
    for seed in SEEDS {
        let runs = compare("scenarios/node-notready-pleg.yaml", seed);
        let ladder = run_of(&runs, "runbook-ladder");
        let reboot = run_of(&runs, "reboot-first");
        let nothing = run_of(&runs, "do-nothing");
        // The cluster's eviction alone: the node stays NotReady (PLEG never recovers).
        let (_, ongoing) = condition(nothing, "worker-2", "NotReady");
        assert!(ongoing, "seed {seed}: without the ladder worker-2 stays NotReady");
        // The ladder: restarting the kubelet does not help, restarting docker does; no reboot.
        let acts = actions(ladder);
        assert!(
            acts.iter().any(|(a, ok, _)| a.starts_with("systemctl restart kubelet") && *ok),
            "seed {seed}: {acts:?}"
        );
        assert!(
            acts.iter().any(|(a, ok, _)| a.starts_with("systemctl restart docker") && *ok),
            "seed {seed}: {acts:?}"
        );
        assert!(
            !acts.iter().any(|(a, _, _)| a.contains("reboot")),
            "seed {seed}: the ladder stops once docker is restarted"
        );
        let (ladder_down, ongoing) = condition(ladder, "worker-2", "NotReady");
        assert!(!ongoing, "seed {seed}: the ladder gets worker-2 Ready again");
        assert!(outages(ladder, "shop-api").is_empty(), "seed {seed}: no outage under the ladder");
        // A plain reboot waits for the hung daemon at shutdown, then boots and joins.
        let (reboot_down, ongoing) = condition(reboot, "worker-2", "NotReady");
        assert!(!ongoing, "seed {seed}: the reboot brings worker-2 back too");
        assert!(
            ladder_down < reboot_down,
            "seed {seed}: the ladder's NotReady time {ladder_down} s is shorter than the reboot's {reboot_down} s"
        );
        assert!(outages(reboot, "shop-api").is_empty(), "seed {seed}: three workers carry the load either way");
    }
}

#[test]
fn maintenance_a_drained_reboot_loses_nothing_an_undrained_one_drops_requests() {
    for seed in SEEDS {
        let runs = compare("scenarios/maintenance-reboot.yaml", seed);
        let drained = run_of(&runs, "drain-then-reboot");
        assert!(outages(drained, "shop-api").is_empty(), "seed {seed}: drain first, no outage");
        for (a, ok, r) in actions(drained) {
            assert!(ok, "seed {seed}: {a}: {r}");
        }
        // Undrained: the rebooted node's endpoints stay listed, failing, until the controller's
        // 40 s grace period marks them NotReady.
        let undrained = run_of(&runs, "reboot-undrained");
        let o = outages(undrained, "shop-api");
        assert_eq!(o.len(), 2, "seed {seed}: one outage per reboot: {o:?}");
        assert!((o[0].0 - at("01:00")).abs() <= 1.0, "seed {seed}: starts with the first reboot at 02:00: {o:?}");
        for (start, end) in &o {
            assert!(end - start <= 40.0 + 5.0, "seed {seed}: at most the grace period and a monitor tick: {o:?}");
        }
    }
}

#[test]
fn drain_without_capacity_does_not_complete_and_says_why_headroom_completes_it() {
    for seed in SEEDS {
        let runs = compare("scenarios/drain-no-capacity.yaml", seed);
        let acts = actions(run_of(&runs, "drain-for-maintenance"));
        let (_, ok, result) = acts.iter().find(|(a, _, _)| a.starts_with("drain node worker-1")).expect("the drain");
        assert!(!ok, "seed {seed}: the drain cannot complete");
        assert!(result.contains("drain did not complete"), "seed {seed}: {result}");
        assert!(
            result.contains("Cannot evict pod as it would violate the pod's disruption budget"),
            "seed {seed}: {result}"
        );
        assert!(
            result.contains(
                "1 pod(s) Pending: 0/4 nodes are available: 3 Insufficient cpu, 1 node(s) were unschedulable."
            ),
            "seed {seed}: the scheduler's reason: {result}"
        );
        let acts = actions(run_of(&runs, "keep-headroom"));
        let (_, ok, result) = acts.iter().find(|(a, _, _)| a.starts_with("drain node worker-1")).expect("the drain");
        assert!(*ok && result.contains("drained (2 pods evicted)"), "seed {seed}: {result}");
    }
    // The table a person reads says it too.
    let out = capsize(&["compare", "scenarios/drain-no-capacity.yaml"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("FAILED") && text.contains("Insufficient cpu"), "{text}");
}

#[test]
fn disk_full_the_ladder_does_not_help_cleaning_the_disk_does() {
    for seed in SEEDS {
        let runs = compare("scenarios/disk-full.yaml", seed);
        for p in ["do-nothing", "runbook-ladder"] {
            let (_, ongoing) = condition(run_of(&runs, p), "worker-2", "DiskPressure");
            assert!(ongoing, "seed {seed}: {p}: DiskPressure to the end");
        }
        // The ladder's restarts and reboot only add NotReady time.
        let (ladder_notready, _) = condition(run_of(&runs, "runbook-ladder"), "worker-2", "NotReady");
        assert!(ladder_notready > 0.0, "seed {seed}: the docker restart and the reboot take the node away");
        let (pressure, ongoing) = condition(run_of(&runs, "clean-disk"), "worker-2", "DiskPressure");
        assert!(!ongoing, "seed {seed}: cleaning the disk clears DiskPressure");
        // It clears 5 minutes (the kubelet's pressure transition period) after the cleaning.
        let cleaned = run_of(&runs, "clean-disk")["actions"][0]["done_s"].as_f64().unwrap();
        let since = run_of(&runs, "clean-disk")["node_conditions"][0]["start_s"].as_f64().unwrap();
        assert!((since + pressure - cleaned - 300.0).abs() <= 10.0, "seed {seed}: {pressure} s of pressure");
        for r in &runs {
            assert!(outages(r, "shop-api").is_empty(), "seed {seed}: the evicted pods fit on the other workers");
        }
    }
}

#[test]
fn a_runbook_that_names_a_node_the_scenario_lacks_is_refused_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let repo = capsize_tests::repo();
    let scenario = std::fs::read_to_string(repo.join("scenarios/node-notready-pleg.yaml")).unwrap();
    let policy = dir.path().join("ladder.yaml");
    std::fs::write(
        &policy,
        "apiVersion: capsize.dev/v1alpha1\nkind: Policy\nmetadata: {name: typo}\nspec:\n  rules:\n    - name: l\n      \
         when: {nodes: {condition: NotReady, for: 1m}}\n      ladder:\n        - do: [restartKubelet: {nodes: [wrker-2]}]\n          \
         wait: 1m\n        - do: [restartDocker: {}]\n",
    )
    .unwrap();
    let s = dir.path().join("s.yaml");
    let text = scenario
        .replace("    - policies/do-nothing.yaml\n", "")
        .replace("    - policies/runbook-ladder.yaml\n", "    - ladder.yaml\n")
        .replace("    - policies/node-runbook/reboot-first.yaml\n", "");
    std::fs::write(&s, text).unwrap();
    let out = capsize(&["validate", s.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("ladder.yaml:9:"), "located in the policy: {err}");
    assert!(err.contains("`wrker-2` is not a node name of any pool"), "{err}");
}

#[test]
fn a_node_trigger_records_when_it_saw_the_node_and_when_it_acted() {
    // The ladder's rule is a person with a 2-minute response time: the first step is issued
    // 2 minutes after the monitoring evaluation that saw the node NotReady for its `for`.
    let out = capsize_tests::capsize_json(&[
        "run",
        "scenarios/node-notready-pleg.yaml",
        "--policy",
        "runbook-ladder",
        "--format",
        "json",
    ]);
    let first = &out["actions"][0];
    let (seen, acted) = (first["observed_s"].as_f64().expect("observed"), first["at_s"].as_f64().unwrap());
    assert!((acted - seen - 120.0).abs() < 1e-6, "seen {seen}, acted {acted}");
    // The next steps come from the ladder's own waits: nothing earlier to report.
    assert!(out["actions"][1].get("observed_s").is_none());
    let table = capsize_tests::capsize(&["run", "scenarios/node-notready-pleg.yaml", "--policy", "runbook-ladder"]);
    let t = String::from_utf8_lossy(&table.stdout);
    assert!(t.contains(&format!("(seen {})", first["observed"].as_str().unwrap())), "{t}");
}
