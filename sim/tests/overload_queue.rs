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
    let opts = RunOptions { seed: Some(seed), timeline: false, series: false };
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
    let opts = RunOptions { seed: Some(1), timeline: false, series: false };
    let h = Sim::new(&scenario(v), &opts).expect("valid").run(&mut DoNothing);
    assert_eq!(h.pods.iter().map(|p| p.restarts).sum::<u32>(), 0);
}
