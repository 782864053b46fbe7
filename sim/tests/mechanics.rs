//! The mechanics against the real systems' documented behaviour, one at a time.

mod common;

use capsize_sim::policy::{Action, DoNothing};
use capsize_sim::score::evaluate;
use capsize_sim::time::{MINUTE, SECOND};
use common::{Script, base, run, scenario, times};
use serde_json::json;

const T: u64 = 10 * MINUTE; // fault time used throughout: 00:10

fn crash_at_ten(mut v: serde_json::Value) -> serde_json::Value {
    v["spec"]["faults"] = json!([
        {"configMapUpdate": {"at": "00:05", "configMap": "cfg"}},
        {"containerCrash": {"at": "00:10", "selector": {"app": "api"}}}
    ]);
    v
}

#[test]
fn crash_loop_backoff_doubles_from_10s_to_300s() {
    let s = scenario(crash_at_ten(base()));
    let h = run(&s, &mut DoNothing);
    let exits = times(&h, "api-", "container exited");
    // The crash, then every failed start attempt (2 s each): waits of 0, 10, 20, 40, 80, 160,
    // then 300 s forever.
    let gaps: Vec<u64> = exits.windows(2).map(|w| (w[1] - w[0]) / SECOND).collect();
    assert_eq!(exits[0], T);
    assert_eq!(&gaps[..9], &[2, 12, 22, 42, 82, 162, 302, 302, 302], "exits at {exits:?}");
    // Starts at T+0, 12, 34, 76, 158, 320, then 622 + 302k up to T+60min: 6 + 10 attempts.
    let pod = h.pods.iter().find(|p| p.workload == "api").unwrap();
    assert_eq!(pod.restarts, 16);
    assert_eq!(pod.status, "CrashLoopBackOff");
}

#[test]
fn backoff_starts_over_after_ten_minutes_of_running() {
    let mut v = base();
    v["spec"]["cluster"]["subpathRestartBug"] = json!(false);
    v["spec"]["faults"] = json!([
        {"containerCrash": {"at": "00:10", "selector": {"app": "api"}}},
        {"containerCrash": {"at": "00:12", "selector": {"app": "api"}}},
        {"containerCrash": {"at": "00:30", "selector": {"app": "api"}}}
    ]);
    let h = run(&scenario(v), &mut DoNothing);
    let started = times(&h, "api-", "container started");
    // Restart latency is 2 s: immediate after the first crash, +10 s after one that ran 2 min,
    // immediate again after one that ran 18 min (the 10-minute reset).
    assert_eq!(started, vec![T + 2 * SECOND, 12 * MINUTE + 12 * SECOND, 30 * MINUTE + 2 * SECOND]);
}

#[test]
fn subpath_failure_depends_on_the_kubernetes_version() {
    for (version, broken) in [("1.18", true), ("v1.19.3", false), ("1.16", true), ("1.30", false)] {
        let mut v = crash_at_ten(base());
        v["spec"]["cluster"].as_object_mut().unwrap().remove("subpathRestartBug");
        v["spec"]["cluster"]["kubernetesVersion"] = json!(version);
        let h = run(&scenario(v), &mut DoNothing);
        let pod = h.pods.iter().find(|p| p.workload == "api").unwrap();
        if broken {
            assert_eq!(pod.status, "CrashLoopBackOff", "{version}");
        } else {
            assert_eq!((pod.status.as_str(), pod.restarts), ("Running", 1), "{version}");
        }
    }
}

#[test]
fn projected_or_whole_volume_mounts_restart_fine() {
    let mut v = crash_at_ten(base());
    v["spec"]["cluster"]["workloads"][0]["mounts"][0] =
        json!({"name": "settings", "configMap": "cfg", "projected": true});
    let h = run(&scenario(v), &mut DoNothing);
    let pod = h.pods.iter().find(|p| p.workload == "api").unwrap();
    assert_eq!((pod.status.as_str(), pod.restarts), ("Running", 1));
}

/// `api` plus `web`, whose probes call `api`; `liveness` adds a liveness probe beside readiness.
fn web_calling_api(failure_threshold: u32, liveness: bool) -> serde_json::Value {
    let mut v = crash_at_ten(base());
    let probe = json!({"calls": ["api"], "failureThreshold": failure_threshold});
    let mut web = json!({
        "name": "web", "replicas": 1, "requests": {"cpu": "500m", "memory": "256Mi"},
        "capacityRps": 50, "readinessProbe": probe
    });
    if liveness {
        web["livenessProbe"] = probe;
    }
    v["spec"]["cluster"]["workloads"].as_array_mut().unwrap().push(web);
    v["spec"]["cluster"]["services"].as_array_mut().unwrap().push(json!({"name": "web", "selector": {"app": "web"}}));
    v["spec"]["traffic"].as_array_mut().unwrap().push(json!({"service": "web", "rps": [["00:00", 5]]}));
    v
}

#[test]
fn a_failed_dependency_is_noticed_after_failure_threshold_probe_ticks() {
    for threshold in [3u64, 5] {
        let s = scenario(web_calling_api(threshold as u32, false));
        let h = run(&s, &mut DoNothing);
        let failed = times(&h, "web-", "Readiness probe failed");
        // The first tick at or after the failure counts as failure 1; the threshold is reached
        // (threshold - 1) periods later, on the pod's probe timer.
        let first = failed[0];
        let lo = T + (threshold - 1) * 10 * SECOND;
        assert!(first >= lo && first < lo + 10 * SECOND, "threshold {threshold}: failed at {first}");
        // Readiness alone never restarts the container.
        assert!(times(&h, "web-", "container exited").is_empty());
        // The outage of `web` starts at that tick, to the millisecond.
        let r = evaluate(&s, "do-nothing", 1, &h);
        assert_eq!(r.service("web").unwrap().outages[0].start_s, first as f64 / 1000.0);
    }
}

#[test]
fn a_failing_liveness_probe_kills_and_the_restart_meets_the_same_failure() {
    let s = scenario(web_calling_api(3, true));
    let h = run(&s, &mut DoNothing);
    let kills = times(&h, "web-", "Liveness probe failed");
    let exits = times(&h, "web-", "container exited");
    assert!(kills[0] >= T + 20 * SECOND && kills[0] < T + 30 * SECOND);
    assert_eq!(kills, exits, "every liveness failure kills the container");
    // The restarted container fails three ticks (20-30 s) after it starts, then waits its backoff.
    let started = times(&h, "web-", "container started");
    assert!(started.len() > 5);
    for (s, k) in started.iter().zip(&kills[1..]) {
        assert!(k - s >= 20 * SECOND && k - s <= 30 * SECOND, "started {s}, killed {k}");
    }
    let web = h.pods.iter().find(|p| p.workload == "web").unwrap();
    assert_eq!(web.status, "CrashLoopBackOff");
}

#[test]
fn force_delete_is_immediate_and_normal_delete_waits_for_the_container() {
    for force in [true, false] {
        let mut v = base();
        v["spec"]["cluster"]["workloads"][0]["shutdownTime"] = json!("10s");
        let s = scenario(v);
        // Find the pod name from a dry run.
        let name = run(&s, &mut DoNothing).pods[0].name.clone();
        let mut p = Script { plan: vec![(T, Action::DeletePod { pod: name.clone(), force })], ..Default::default() };
        let h = run(&s, &mut p);
        let old = h.pods.iter().find(|x| x.name == name).unwrap();
        let new = h.pods.iter().find(|x| x.name != name).unwrap();
        let issued = T + 500; // API call latency
        assert_eq!(new.created.ms(), issued, "the replacement is created at once");
        let gone = old.deleted.unwrap().ms();
        assert_eq!(gone, if force { issued } else { issued + 10 * SECOND });
        assert_eq!(
            h.actions[0].outcome.as_ref().unwrap(),
            &format!("pod \"{name}\" {}", if force { "force deleted" } else { "deleted" })
        );
    }
}

#[test]
fn deleting_a_pod_that_is_gone_fails_like_kubectl() {
    let s = scenario(base());
    let mut p = Script { plan: vec![(T, Action::DeletePod { pod: "nope".into(), force: true })], ..Default::default() };
    let h = run(&s, &mut p);
    assert_eq!(h.actions[0].outcome, Err("Error from server (NotFound): pods \"nope\" not found".into()));
}

#[test]
fn pods_that_fit_nowhere_stay_pending_with_the_schedulers_reason() {
    let mut v = base();
    v["spec"]["cluster"]["nodes"] = json!([{"pool": "n", "count": 2, "cpu": "1", "memory": "8Gi"}]);
    v["spec"]["cluster"]["workloads"][0]["replicas"] = json!(3);
    v["spec"]["cluster"]["workloads"][0]["requests"]["cpu"] = json!("800m");
    let s = scenario(v);
    let mut p = Script::default();
    let h = run(&s, &mut p);
    let pending: Vec<_> = h.pods.iter().filter(|p| p.status == "Pending").collect();
    assert_eq!(pending.len(), 1);
    let msg = p.seen_messages.iter().find(|(_, n, _)| *n == pending[0].name).and_then(|(_, _, m)| m.clone());
    assert_eq!(msg.as_deref(), Some("FailedScheduling: 0/2 nodes are available: 2 Insufficient cpu."));
}

#[test]
fn replicas_spread_evenly_over_equal_nodes() {
    let mut v = base();
    v["spec"]["cluster"]["nodes"] = json!([{"pool": "n", "count": 4, "cpu": "8", "memory": "16Gi"}]);
    v["spec"]["cluster"]["workloads"][0]["replicas"] = json!(12);
    let h = run(&scenario(v), &mut DoNothing);
    let mut per_node = std::collections::BTreeMap::new();
    for p in &h.pods {
        *per_node.entry(p.node.clone().unwrap()).or_insert(0) += 1;
    }
    assert_eq!(per_node.values().copied().collect::<Vec<_>>(), vec![3, 3, 3, 3]);
}

#[test]
fn pods_of_a_removed_node_are_replaced_after_podgc() {
    let mut v = base();
    v["spec"]["cluster"]["workloads"][0]["replicas"] = json!(2);
    v["spec"]["faults"] = json!([{"nodeRemoved": {"at": "00:10:05", "node": "n-1"}}]);
    let s = scenario(v);
    let h = run(&s, &mut DoNothing);
    let lost = h.pods.iter().find(|p| p.node.as_deref() == Some("n-1") && p.deleted.is_some()).unwrap();
    // PodGC passes every 20 s: the pass at 00:10:20 sees the node missing and quarantines it for
    // 40 s; the pass at 00:11:00 deletes its pods.
    assert_eq!(lost.deleted.unwrap().ms(), T + 60 * SECOND);
    let replacement = h.pods.iter().find(|p| p.created.ms() == T + 60 * SECOND).unwrap();
    assert_eq!(replacement.node.as_deref(), Some("n-2"));
    // The lost pod stopped serving at the removal, not at its deletion.
    let caps = &h.capacity[0];
    assert!(caps.iter().any(|(t, c)| t.ms() == T + 5 * SECOND && *c == 100.0), "{caps:?}");
}

#[test]
fn alerts_fire_at_evaluations_after_their_for_duration() {
    let mut v = web_calling_api(3, true);
    v["spec"]["monitoring"] = json!({"alerts": [{"name": "Down", "condition": "serviceDown", "for": "3m"}]});
    for seed in 1..6u64 {
        v["spec"]["seed"] = json!(seed);
        let s = scenario(v.clone());
        let h = run(&s, &mut DoNothing);
        // `api` goes down at 00:10:00. The first scrape after that shows it (within 1 min), the
        // first evaluation after that sees it (within 1 min), and 3 min of evaluations later it
        // fires.
        let api = h.alerts.iter().find(|a| a.target == "api").unwrap();
        let after = api.fired.ms() - T;
        assert!((3 * MINUTE..5 * MINUTE).contains(&after), "seed {seed}: fired {after} ms after the outage");
        let r = evaluate(&s, "do-nothing", seed, &h);
        assert_eq!(r.service("api").unwrap().outages[0].detected_after_s, Some(after as f64 / 1000.0));
    }
}

#[test]
fn crash_faults_record_what_they_hit() {
    // Validation refuses a selector no workload has; one whose pods are gone by then (here: a
    // Deployment scaled to zero) resolves to nothing at run time, and the record says so.
    let mut v = base();
    v["spec"]["cluster"]["workloads"][0]["replicas"] = json!(0);
    v["spec"]["faults"] = json!([{"containerCrash": {"at": "00:10", "selector": {"app": "api"}}}]);
    let h = run(&scenario(v), &mut DoNothing);
    assert_eq!(h.faults[0].matched, 0);
    let mut v = base();
    v["spec"]["faults"] = json!([{"containerCrash": {"at": "00:10", "selector": {"app": "nothing"}}}]);
    let errors = capsize_sim::validate(&scenario(v)).unwrap_err();
    assert!(errors[0].message.contains("no workload's pods have the labels app=nothing"), "{errors:?}");
}

#[test]
fn bare_pods_follow_their_restart_policy_and_are_not_replaced() {
    for (policy, status, restarts) in [("Never", "Error", 0), ("OnFailure", "Running", 1), ("Always", "Running", 1)] {
        let mut v = base();
        v["spec"]["cluster"]["workloads"][0]["kind"] = json!("Pod");
        v["spec"]["cluster"]["workloads"][0]["restartPolicy"] = json!(policy);
        v["spec"]["cluster"]["subpathRestartBug"] = json!(false);
        v["spec"]["faults"] = json!([{"containerCrash": {"at": "00:10", "selector": {"app": "api"}}}]);
        let h = run(&scenario(v), &mut DoNothing);
        assert_eq!(h.pods.len(), 1);
        assert_eq!(
            (h.pods[0].name.as_str(), h.pods[0].status.as_str(), h.pods[0].restarts),
            ("api", status, restarts),
            "{policy}"
        );
    }
    let mut v = base();
    v["spec"]["cluster"]["workloads"][0]["kind"] = json!("Pod");
    let mut p = Script { plan: vec![(T, Action::DeletePod { pod: "api".into(), force: true })], ..Default::default() };
    let h = run(&scenario(v), &mut p);
    assert_eq!(h.pods.len(), 1, "a deleted bare pod is not replaced");
    assert!(h.pods[0].deleted.is_some());
}

#[test]
fn deployments_refuse_other_restart_policies() {
    let mut v = base();
    v["spec"]["cluster"]["workloads"][0]["restartPolicy"] = json!("Never");
    let errors = capsize_sim::validate(&scenario(v)).unwrap_err();
    assert!(errors[0].message.contains("must use restartPolicy Always"), "{errors:?}");
}

#[test]
fn scaling_thousands_of_pods_down_uses_no_deep_recursion() {
    let mut v = base();
    v["spec"]["cluster"]["nodes"] = json!([{"pool": "n", "count": 40, "cpu": "64", "memory": "256Gi"}]);
    v["spec"]["cluster"]["workloads"][0]["replicas"] = json!(3000);
    v["spec"]["cluster"]["workloads"][0]["requests"] = json!({"cpu": "100m", "memory": "64Mi"});
    let s = scenario(v);
    // A small stack: scaling down must not recurse once per pod.
    let h = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let mut p =
                Script { plan: vec![(T, Action::Scale { workload: "api".into(), replicas: 0 })], ..Default::default() };
            run(&s, &mut p)
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(h.pods.len(), 3000);
    assert!(h.pods.iter().all(|p| p.deleted.is_some()));
}

#[test]
fn the_view_shows_endpoints_and_ready_replicas_as_kubectl_would() {
    let mut v = crash_at_ten(base());
    v["spec"]["cluster"]["workloads"][0]["replicas"] = json!(2);
    v["spec"]["faults"] = json!([
        {"configMapUpdate": {"at": "00:05", "configMap": "cfg"}},
        {"containerCrash": {"at": "00:10", "selector": {"app": "api"}, "count": 1}}
    ]);
    let mut p = Script::default();
    run(&scenario(v), &mut p);
    let before: Vec<_> = p.seen_services.iter().filter(|(t, ..)| *t < T).map(|(_, n, e)| (n.as_str(), *e)).collect();
    let after: Vec<_> = p.seen_services.iter().filter(|(t, ..)| *t > T).map(|(_, n, e)| (n.as_str(), *e)).collect();
    assert!(!before.is_empty() && before.iter().all(|&s| s == ("api", 2)), "{before:?}");
    assert!(!after.is_empty() && after.iter().all(|&s| s == ("api", 1)), "{after:?}");
    let w_after: Vec<_> =
        p.seen_workloads.iter().filter(|(t, ..)| *t > T).map(|(_, _, r, ready)| (*r, *ready)).collect();
    assert!(w_after.iter().all(|&x| x == (2, 1)), "{w_after:?}");
}
