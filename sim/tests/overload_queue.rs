//! Overload as a queue: a pod's backlog grows while the load is over its capacity and drains
//! after, so how long a spike lasts and how long a probe waits both matter.

mod common;

use capsize_sim::history::History;
use capsize_sim::policy::DoNothing;
use capsize_sim::{RunOptions, Sim};
use common::scenario;
use serde_json::json;

/// Two pods of 100 rps each behind one service at 100 rps (half load), with a liveness probe of
/// `timeout` seconds (period 10 s, 3 failures); from 00:10 the load jumps to 220 rps (110 %) for
/// `spike_s` seconds (one-second ramps either side), then falls back.
fn spike(timeout: u32, spike_s: u64) -> serde_json::Value {
    let clock = |s: u64| format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
    let (up, down) = (600, 600 + 1 + spike_s);
    json!({
        "apiVersion": "capsize.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "spike"},
        "spec": {
            "seed": 1,
            "start": "2024-01-01T00:00:00",
            "duration": "1h",
            "cluster": {
                "kubernetesVersion": "1.30",
                "nodes": [{"pool": "n", "count": 2, "cpu": "4", "memory": "8Gi"}],
                "workloads": [{
                    "name": "api", "replicas": 2, "requests": {"cpu": "500m", "memory": "256Mi"},
                    "capacityRps": 100,
                    "livenessProbe": {"timeoutSeconds": timeout}
                }],
                "services": [{"name": "api", "selector": {"app": "api"}}]
            },
            "traffic": [{"service": "api", "rps": [
                [clock(0), 100], [clock(up), 100], [clock(up + 1), 220], [clock(down), 220], [clock(down + 1), 100]
            ]}]
        }
    })
}

fn restarts(timeout: u32, spike_s: u64, seed: u64) -> u32 {
    let opts = RunOptions { seed: Some(seed), timeline: false, series: false, max_events: None };
    let h: History = Sim::new(&scenario(spike(timeout, spike_s)), &opts).expect("valid").run(&mut DoNothing);
    h.pods.iter().map(|p| p.restarts).sum()
}

#[test]
fn a_one_minute_spike_kills_only_the_probes_that_cannot_wait() {
    // 60 s at 110 % builds 60 x 0.1 = 6 s of backlog (plus a few ms in the ramps); at half load
    // it then drains 0.5 s per second.
    // - 5 s timeout: the backlog is over 5 s from 50 s into the spike until 2 s after it, a
    //   window of about 12 s. Liveness probes run every 10 s and need 3 failures in a row (a
    //   window of 20 s or more): at most 2 fail. No restart.
    // - 1 s timeout: over 1 s from 10 s into the spike until 10 s after it, about 60 s: 5 or 6
    //   probes fail in a row. The pods restart.
    for seed in 1..=5 {
        assert_eq!(restarts(5, 60, seed), 0, "seed {seed}: a 5 s timeout rides out a 60 s spike");
        assert!(restarts(1, 60, seed) > 0, "seed {seed}: a 1 s timeout does not");
    }
}

#[test]
fn a_fifteen_minute_spike_kills_both() {
    // 900 s at 110 % would build 90 s of backlog: any timeout of seconds is passed within the
    // first minute of it (50 s for 5 s), and the probes fail for minutes on end.
    for seed in 1..=5 {
        assert!(restarts(5, 900, seed) > 0, "seed {seed}");
        assert!(restarts(1, 900, seed) > 0, "seed {seed}");
    }
}

#[test]
fn below_capacity_the_backlog_never_builds() {
    // The same service at 95 % for the whole hour: the queue never fills, no probe waits.
    let mut v = spike(1, 60);
    v["spec"]["traffic"][0]["rps"] = json!([["00:00", 190]]);
    let opts = RunOptions { seed: Some(1), timeline: false, series: false, max_events: None };
    let h = Sim::new(&scenario(v), &opts).expect("valid").run(&mut DoNothing);
    assert_eq!(h.pods.iter().map(|p| p.restarts).sum::<u32>(), 0);
}

/// `pods` pods of 100 rps behind one service at a constant `rps`, each with a liveness probe of
/// `timeout` seconds (period 10 s, 3 failures), for `minutes`.
fn steady(pods: u32, rps: f64, timeout: u32, minutes: u32) -> serde_json::Value {
    let mut v = spike(timeout, 60);
    v["spec"]["duration"] = json!(format!("{minutes}m"));
    v["spec"]["cluster"]["nodes"][0]["count"] = json!(pods);
    v["spec"]["cluster"]["workloads"][0]["replicas"] = json!(pods);
    v["spec"]["traffic"][0]["rps"] = json!([["00:00", rps]]);
    v
}

fn first_restart_s(v: &serde_json::Value, seed: u64) -> Option<f64> {
    let opts = RunOptions { seed: Some(seed), timeline: true, series: false, max_events: None };
    let h = Sim::new(&scenario(v.clone()), &opts).expect("valid").run(&mut DoNothing);
    h.timeline.iter().flatten().find(|e| e.what.contains("liveness probe failed")).map(|e| e.at.0 as f64 / 1000.0)
}

#[test]
fn below_capacity_probes_time_out_as_often_as_the_queue_says() {
    // 10 pods at 98 %, 1 s timeout, mu = 100/s: an M/M/1 wait exceeds 1 s with probability
    // q = 0.98 exp(-100 x 0.02 x 1) = 0.1326; a run of 3 timeouts starts at a tick with
    // probability q^3 = 0.002333, so 10 pods ticking every 10 s start one at 0.002333/s. A run
    // ends with the liveness failure 2 periods (20 s) after it starts: P(no failure in the
    // first 600 s) = exp(-0.002333 x 580) = 0.258.
    let v = steady(10, 980.0, 1, 10);
    let seeds = 200;
    let quiet = (1..=seeds).filter(|&s| first_restart_s(&v, s).is_none()).count();
    let share = quiet as f64 / seeds as f64;
    // Binomial standard deviation over 200 seeds: 0.031; three of them either side.
    assert!((share - 0.258).abs() < 0.093, "share of quiet runs {share}, expected 0.258");
}

#[test]
fn well_below_capacity_the_random_waits_never_matter() {
    // At 80 % the same probe times out with q = 0.8 exp(-20) = 1.6e-9: never in practice.
    let v = steady(10, 800.0, 1, 360);
    for seed in 1..=5 {
        assert_eq!(first_restart_s(&v, seed), None, "seed {seed}");
    }
}

/// Two pods of 100 rps at 140 rps (70 %); at 00:10 every container crashes and restarts.
fn mass_restart(warmup: Option<serde_json::Value>) -> serde_json::Value {
    let mut v = steady(2, 140.0, 1, 60);
    v["spec"]["faults"] = json!([{"containerCrash": {"at": "00:10", "selector": {"app": "api"}}}]);
    if let Some(w) = warmup {
        v["spec"]["cluster"]["workloads"][0]["warmup"] = w;
    }
    v
}

#[test]
fn a_cold_start_under_load_crash_loops_where_a_warm_one_recovers() {
    for seed in 1..=5 {
        // Without warm-up the two pods come back at 100 rps each: 70 % load, one restart each.
        assert_eq!(restarts_of(&mass_restart(None), seed), 2, "seed {seed}");
        // Starting at 20 % of capacity (2 x 20 rps against 140 rps offered) the queue grows
        // 2.5 s per second, and a 1 s liveness timeout fails long before the second of five
        // one-minute steps: the pods are killed cold, again and again.
        let cold = json!({"duration": "5m", "from": 0.2});
        assert!(restarts_of(&mass_restart(Some(cold)), seed) >= 6, "seed {seed}");
        // Starting at 80 % (160 rps of capacity against 140) it never overloads.
        let warm = json!({"duration": "5m", "from": 0.8});
        assert_eq!(restarts_of(&mass_restart(Some(warm)), seed), 2, "seed {seed}");
    }
}

fn restarts_of(v: &serde_json::Value, seed: u64) -> u32 {
    let opts = RunOptions { seed: Some(seed), timeline: false, series: false, max_events: None };
    let h: History = Sim::new(&scenario(v.clone()), &opts).expect("valid").run(&mut DoNothing);
    h.pods.iter().map(|p| p.restarts).sum()
}

/// Two pods of 100 rps at 180 rps (90 %) with a tolerant liveness probe (10 s timeout); from
/// 00:10 a 30 s surge to 240 rps (120 %) builds 30 x 0.2 = 6 s of backlog, past the clients'
/// 2 s timeout but not the probe's.
fn surge(retries: Option<serde_json::Value>) -> serde_json::Value {
    let mut v = spike(10, 30);
    v["spec"]["traffic"][0]["rps"] =
        json!([["00:00", 180], ["00:10:00", 180], ["00:10:01", 240], ["00:10:31", 240], ["00:10:32", 180]]);
    if let Some(r) = retries {
        v["spec"]["cluster"]["services"][0]["retries"] = r;
    }
    v
}

#[test]
fn retries_without_a_budget_turn_a_surge_into_a_metastable_failure() {
    for seed in 1..=5 {
        // No retries: after the surge the queue drains at 0.1 s per second, from 6 s to
        // empty in a minute; no probe waits 10 s.
        assert_eq!(restarts_of(&surge(None), seed), 0, "seed {seed}");
        // Three retries and no budget: with every pod behind by more than 2 s, each request is
        // sent 4 times, the load is 4 x 90 % and the queue keeps growing after the surge is
        // over, until liveness kills the pods.
        let storm = json!({"timeoutSeconds": 2, "attempts": 3});
        assert!(restarts_of(&surge(Some(storm)), seed) > 0, "seed {seed}");
        // A 10 % retry budget: 1.1 x 90 % = 99 %, and the queue drains (slowly) after all.
        let budget = json!({"timeoutSeconds": 2, "attempts": 3, "budget": 0.1});
        assert_eq!(restarts_of(&surge(Some(budget)), seed), 0, "seed {seed}");
    }
}

#[test]
fn an_overload_from_the_start_crosses_on_a_whole_millisecond_and_is_still_seen() {
    // 250 rps on 200: the wait reaches the 1 s timeout at exactly 4.000 s. The event must fall
    // strictly past the crossing (at 4.000 s the wait equals the timeout and no probe fails,
    // and from there the solver finds no further crossing). A regression test.
    for seed in 1..=3 {
        assert!(restarts_of(&steady(2, 250.0, 1, 10), seed) > 0, "seed {seed}");
    }
}
