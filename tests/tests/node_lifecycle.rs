//! Kubernetes' node lifecycle, end to end: a node that stops answering, its pods' way out of
//! the endpoints, their eviction and their replacements, checked against the real defaults
//! (node-monitor-grace-period 40 s up to 1.31 and 50 s from 1.32, monitor period 5 s, Lease
//! renewed every 10 s, NoExecute toleration 300 s).

use capsize_tests::{at, capsize_json};
use serde_json::Value;

const SCENARIO: &str = "tests/scenarios/unreachable-node.yaml";

/// The timeline of a run of `scenario` (a path) under `do-nothing`.
fn timeline(scenario: &str, seed: &str) -> Vec<(f64, String, String)> {
    let out: Value = capsize_json(&[
        "run",
        scenario,
        "--policy",
        "scenarios/policies/do-nothing.yaml",
        "--seed",
        seed,
        "--format",
        "json",
        "--timeline",
    ]);
    entries(&out)
}

/// Checks the whole chain for one grace period.
fn check(scenario: &str, grace: f64) {
    let t0 = at("01:00"); // 10:00, one hour into a run that starts at 09:00
    for seed in ["1", "2", "3", "7", "11"] {
        let tl = timeline(scenario, seed);
        let find = |obj: &str, what: &str| tl.iter().find(|(_, o, w)| o == obj && w.starts_with(what)).map(|e| e.0);
        let unknown = find("worker-2", "node NotReady (Unknown)").expect("worker-2 goes Unknown");
        // The last heartbeat is in the 10 s before the loss; the controller notices at the first
        // 5 s monitor tick after it plus the grace period.
        assert!(unknown > t0 + grace - 10.0 && unknown <= t0 + grace + 5.0, "seed {seed}: Unknown at {}", unknown - t0);
        assert_eq!(unknown % 5.0, 0.0, "on a monitor tick");
        // Its pods (not the DaemonSet's alone) leave the endpoints then.
        let marked: Vec<&String> =
            tl.iter().filter(|(t, _, w)| *t == unknown && w.starts_with("marked NotReady")).map(|e| &e.1).collect();
        let web: Vec<&String> = marked.iter().copied().filter(|p| p.starts_with("web-")).collect();
        assert!(!web.is_empty(), "seed {seed}: a web pod was on worker-2: {marked:?}");
        // 300 s later (the one node is not rate-limited) the taint manager deletes them; the
        // kubelet cannot confirm, so they stay Terminating; the DaemonSet pod stays.
        for p in &web {
            let evicted = find(p, "evicted by the taint manager").expect("evicted");
            assert_eq!(evicted, unknown + 300.0, "seed {seed}: {p}");
            assert!(find(p, "stays Terminating").is_some(), "seed {seed}: {p} stays Terminating");
            assert!(find(p, "deleted").is_none(), "seed {seed}: {p} is never gone: its node never answers");
        }
        for p in marked.iter().filter(|p| p.starts_with("agent-")) {
            assert!(find(p, "evicted").is_none(), "seed {seed}: DaemonSet pod {p} is never evicted");
        }
        // Replacements are created at once and Running elsewhere within about 6 minutes.
        let created: Vec<&String> = tl
            .iter()
            .filter(|(t, o, w)| *t == unknown + 300.0 && o.starts_with("web-") && w == "created")
            .map(|e| &e.1)
            .collect();
        assert_eq!(created.len(), web.len(), "seed {seed}: one replacement per evicted pod");
        for p in created {
            let running = find(p, "status ContainerCreating -> Running").expect("replacement runs");
            let after = running - t0;
            assert!(
                after > grace + 295.0 && after <= 6.0 * 60.0 + 15.0,
                "seed {seed}: {p} Running {after} s after the failure"
            );
            let bound = tl.iter().find(|(_, o, w)| o == p && w.starts_with("scheduled to")).map(|e| e.2.clone());
            assert!(bound.as_deref().is_some_and(|b| !b.contains("worker-2")), "seed {seed}: {p} {bound:?}");
        }
    }
}

#[test]
fn an_unreachable_node_is_evicted_on_the_1_32_defaults() {
    check(SCENARIO, 50.0);
}

#[test]
fn older_releases_give_up_on_a_node_after_40_s() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(capsize_tests::repo().join(SCENARIO)).unwrap();
    let path = dir.path().join("old.yaml");
    std::fs::write(&path, text.replace("kubernetesVersion: \"1.32\"", "kubernetesVersion: \"1.31\"")).unwrap();
    check(path.to_str().unwrap(), 40.0);
}

/// A scenario of `nodes` workers, `lost` of which lose their network at 10:00; `policy` is a
/// policy file's text (or none).
fn zone_run(nodes: u32, lost: u32, policy: Option<&str>) -> Vec<(f64, String, String)> {
    let faults: String =
        (1..=lost).map(|i| format!("    - networkLoss: {{at: \"10:00\", node: worker-{i}}}\n")).collect();
    let text = format!(
        "apiVersion: capsize.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: zones}}\nspec:\n  start: \"2024-01-01T09:00:00\"\n  \
         duration: 2h\n  cluster:\n    nodes:\n      - {{pool: worker, count: {nodes}, cpu: \"4\", memory: 8Gi}}\n    \
         workloads:\n      - {{name: web, replicas: {nodes}, requests: {{cpu: 500m, memory: 512Mi}}, capacityRps: 100}}\n    \
         services:\n      - {{name: web, selector: {{app: web}}}}\n  traffic:\n    - {{service: web, rps: [[\"09:00\", 10]]}}\n  \
         faults:\n{faults}"
    );
    entries(&run_text(&text, policy))
}

/// A run's timeline as `(seconds, object, what)`.
fn entries(run: &Value) -> Vec<(f64, String, String)> {
    run["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .map(|e| {
            (
                e["at_s"].as_f64().unwrap(),
                e["object"].as_str().unwrap().to_string(),
                e["what"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_taint_manager_taints_one_node_per_10_s_in_a_healthy_zone() {
    // 2 of 10 nodes down: the zone is healthy (below 55 %), the limiter allows 0.1 node/s.
    let tl = zone_run(10, 2, None);
    let mut taints: Vec<f64> = tl.iter().filter(|(_, _, w)| w.contains(":NoExecute")).map(|e| e.0).collect();
    taints.sort_by(f64::total_cmp);
    assert_eq!(taints.len(), 2, "{taints:?}");
    let unknown: Vec<f64> =
        tl.iter().filter(|(_, _, w)| w.starts_with("node NotReady (Unknown)")).map(|e| e.0).collect();
    assert_eq!(unknown.len(), 2);
    assert_eq!(taints[0], unknown.iter().copied().fold(f64::INFINITY, f64::min), "the first at once");
    assert!(taints[1] - taints[0] >= 10.0, "the second at least 10 s later: {taints:?}");
    // Each node's pods go 300 s after its own taint.
    for (node, t) in tl.iter().filter(|(_, _, w)| w.contains(":NoExecute")).map(|e| (e.1.clone(), e.0)) {
        let victims: Vec<&String> = tl
            .iter()
            .filter(|(_, o, w)| o.starts_with("web-") && w.starts_with("evicted by the taint manager"))
            .map(|e| &e.1)
            .collect();
        assert!(!victims.is_empty());
        assert!(
            tl.iter().any(|(at, _, w)| *at == t + 300.0 && w.starts_with("evicted by the taint manager")),
            "{node}: evictions 300 s after the taint"
        );
    }
}

#[test]
fn a_small_zone_mostly_down_evicts_nothing() {
    // 3 of 4 nodes down: more than 2 and over 55 % of a zone of at most 50 nodes.
    let tl = zone_run(4, 3, None);
    assert_eq!(tl.iter().filter(|(_, _, w)| w.starts_with("node NotReady (Unknown)")).count(), 3);
    assert!(!tl.iter().any(|(_, _, w)| w.contains(":NoExecute") || w.starts_with("evicted")), "no taint, no eviction");
    // Every node of every zone down: the controller suspects itself and evicts nothing either.
    let tl = zone_run(2, 2, None);
    assert!(!tl.iter().any(|(_, _, w)| w.starts_with("evicted")));
}

#[test]
fn a_force_delete_ends_a_terminating_pod_on_a_silent_node() {
    let policy = "apiVersion: capsize.dev/v1alpha1\nkind: Policy\nmetadata: {name: force}\nspec:\n  rules:\n    - name: unstick\n      \
                  when: {pods: {status: Terminating, for: 2m}}\n      do:\n        - deletePods: {force: true}\n";
    let tl = zone_run(3, 1, Some(policy));
    let stuck: Vec<(f64, String)> = tl
        .iter()
        .filter(|(_, o, w)| o.starts_with("web-") && w.starts_with("stays Terminating"))
        .map(|e| (e.0, e.1.clone()))
        .collect();
    assert!(!stuck.is_empty());
    for (t, pod) in stuck {
        let gone = tl.iter().find(|(_, o, w)| *o == pod && w == "force-deleted").map(|e| e.0).expect("force-deleted");
        assert!(gone >= t + 120.0 && gone <= t + 190.0, "{pod}: stuck at {t}, force-deleted at {gone}");
    }
}

/// Runs a scenario given as text (with `p.yaml` as its policy when `policy` is given) and
/// returns the run's JSON with its timeline.
fn run_text(scenario: &str, policy: Option<&str>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s.yaml");
    std::fs::write(&s, scenario).unwrap();
    let nothing = capsize_tests::repo().join("scenarios/policies/do-nothing.yaml");
    let p = dir.path().join("p.yaml");
    if let Some(text) = policy {
        std::fs::write(&p, text).unwrap();
    }
    let chosen = if policy.is_some() { p } else { nothing };
    capsize_json(&["run", s.to_str().unwrap(), "--policy", chosen.to_str().unwrap(), "--format", "json", "--timeline"])
}

/// A cluster of `pools` (YAML flow mappings) with one 4-replica service and `faults`.
fn cluster(pools: &[&str], faults: &[&str]) -> String {
    let pools: String = pools.iter().map(|p| format!("      - {p}\n")).collect();
    let faults: String = faults.iter().map(|f| format!("    - {f}\n")).collect();
    format!(
        "apiVersion: capsize.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: t}}\nspec:\n  start: \"2024-01-01T09:00:00\"\n  \
         duration: 3h\n  cluster:\n    nodes:\n{pools}    workloads:\n      - {{name: web, replicas: 4, requests: {{cpu: 500m, \
         memory: 512Mi}}, capacityRps: 100, disruptionBudget: {{maxUnavailable: 1}}}}\n    services:\n      - {{name: web, \
         selector: {{app: web}}}}\n  traffic:\n    - {{service: web, rps: [[\"09:00\", 10]]}}\n  faults:\n{faults}"
    )
}

#[test]
fn a_drain_during_a_short_network_loss_completes_when_the_network_returns() {
    // The network is back after 30 s, before the 50 s grace period: the node never shows
    // NotReady, and the deletions the drain started finish as soon as the kubelet hears again.
    let s = cluster(
        &["{pool: worker, count: 3, cpu: \"4\", memory: 8Gi}"],
        &["networkLoss: {at: \"10:00\", node: worker-1, for: 30s}"],
    );
    let policy = "apiVersion: capsize.dev/v1alpha1\nkind: Policy\nmetadata: {name: d}\nspec:\n  rules:\n    - name: drain\n      \
                  when: {at: \"10:00:10\"}\n      do:\n        - drainNodes: {nodes: [worker-1]}\n";
    let out = run_text(&s, Some(policy));
    let drain = &out["actions"][0];
    assert_eq!(drain["ok"], true, "{drain}");
    let done = drain["done_s"].as_f64().unwrap();
    assert!(done >= at("01:00") + 30.0 && done < at("01:00") + 120.0, "done {} s after the loss", done - at("01:00"));
    assert!(out["node_conditions"].as_array().unwrap().is_empty(), "never NotReady");
}

#[test]
fn a_fully_lost_zone_is_evicted_while_another_zone_is_healthy() {
    // Zone a: all 3 nodes lost; zone b healthy. A fully disrupted zone keeps the normal rate.
    let s = cluster(
        &[
            "{pool: a, count: 3, cpu: \"4\", memory: 8Gi, zone: a}",
            "{pool: b, count: 3, cpu: \"4\", memory: 8Gi, zone: b}",
        ],
        &[
            "networkLoss: {at: \"10:00\", node: a-1}",
            "networkLoss: {at: \"10:00\", node: a-2}",
            "networkLoss: {at: \"10:00\", node: a-3}",
        ],
    );
    let out = run_text(&s, None);
    let tl = out["timeline"].as_array().unwrap();
    let taints = tl.iter().filter(|e| e["what"].as_str().unwrap().contains(":NoExecute")).count();
    assert_eq!(taints, 3, "every lost node is tainted, one per 10 s");
    assert!(tl.iter().any(|e| e["what"].as_str().unwrap().starts_with("evicted by the taint manager")));
}

#[test]
fn an_hourly_action_limit_delays_a_ladder_it_does_not_drop_it() {
    let s = cluster(
        &["{pool: worker, count: 3, cpu: \"4\", memory: 8Gi}"],
        &["kubeletDown: {at: \"10:00\", node: worker-1}", "kubeletDown: {at: \"10:00\", node: worker-2}"],
    );
    let policy = "apiVersion: capsize.dev/v1alpha1\nkind: Policy\nmetadata: {name: l}\nspec:\n  rules:\n    - name: l\n      \
                  when: {nodes: {condition: NotReady, for: 1m}}\n      concurrency: 1\n      maxActionsPerHour: 1\n      \
                  ladder:\n        - do: [restartKubelet: {}]\n";
    let out = run_text(&s, Some(policy));
    let acts: Vec<(f64, String)> = out["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["at_s"].as_f64().unwrap(), a["action"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(acts.len(), 2, "both nodes get their restart: {acts:?}");
    assert!(acts[1].0 - acts[0].0 >= 3600.0, "the second an hour after the first: {acts:?}");
    let ongoing = out["node_conditions"].as_array().unwrap().iter().filter(|c| c["ongoing"] == true).count();
    assert_eq!(ongoing, 0, "both nodes are Ready again");
}
