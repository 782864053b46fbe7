//! Properties over random small clusters, random faults and a random chaos policy:
//! the model's bookkeeping never drifts (no node holds more than it has, no pod runs on a node
//! that is gone, endpoint counts match a recount) after every single event; the scorer never
//! serves more than was offered; the same seed gives the same bytes.

mod common;

use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use capsize_sim::policy::{Action, ClusterView, Decision, InstanceChoice, Policy, Request};
use capsize_sim::score::evaluate;
use capsize_sim::spec::Pricing;
use capsize_sim::{RunOptions, Sim, SimTime};

/// Deletes random pods and rescales random workloads now and then.
struct Chaos {
    rng: ChaCha8Rng,
    workloads: Vec<String>,
}

impl Policy for Chaos {
    fn decide(&mut self, view: &dyn ClusterView) -> Decision {
        let mut d = Decision::default();
        let mut names = Vec::new();
        view.for_each_pod(&mut |p| names.push(p.name.to_string()));
        if !names.is_empty() && self.rng.random_bool(0.2) {
            let pod = names[self.rng.random_range(0..names.len())].clone();
            d.actions.push(Request {
                observed: None,
                by: "chaos".into(),
                action: Action::DeletePod { pod, force: self.rng.random_bool(0.5) },
            });
        }
        if !self.workloads.is_empty() && self.rng.random_bool(0.05) {
            let workload = self.workloads[self.rng.random_range(0..self.workloads.len())].clone();
            d.actions.push(Request {
                observed: None,
                by: "chaos".into(),
                action: Action::Scale { workload, replicas: self.rng.random_range(0..6) },
            });
        }
        d.wake_at = Some(SimTime(view.now().ms() + self.rng.random_range(1_000..120_000)));
        d
    }
}

fn hhmm(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// A random valid scenario from a seed (all shapes come from one ChaCha stream).
fn random_scenario(seed: u64) -> (Value, Vec<String>) {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let duration_ms = r.random_range(1..=3) * 3_600_000u64;
    let pools: Vec<Value> = (0..r.random_range(1..=2))
        .map(|i| {
            json!({
                "pool": format!("p{i}"), "count": r.random_range(1..=4),
                "cpu": format!("{}", r.random_range(1..=8)), "memory": format!("{}Gi", r.random_range(2..=16)),
                "zone": format!("z{}", r.random_range(0..2)), "maxPods": r.random_range(3..=20)
            })
        })
        .collect();
    let nodes: Vec<String> = pools
        .iter()
        .flat_map(|p| (1..=p["count"].as_u64().unwrap()).map(move |n| format!("{}-{n}", p["pool"].as_str().unwrap())))
        .collect();
    let n_work = r.random_range(1..=4);
    let names: Vec<String> = (0..n_work).map(|i| format!("w{i}")).collect();
    let mut workloads = Vec::new();
    let mut services = Vec::new();
    let mut traffic = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut w = json!({
            "name": name, "replicas": r.random_range(0..=6),
            "requests": {"cpu": format!("{}m", r.random_range(100..=2000)), "memory": format!("{}Mi", r.random_range(128..=2048))},
            "capacityRps": r.random_range(5..=200),
            "startTime": {"min": "1s", "max": format!("{}s", r.random_range(1..=8))},
            "shutdownTime": format!("{}s", r.random_range(0..=40)),
        });
        if r.random_bool(0.2) {
            w["kind"] = json!("Pod");
            w["restartPolicy"] = json!(["Always", "OnFailure", "Never"][r.random_range(0..3)]);
        }
        if r.random_bool(0.5) {
            w["mounts"] = json!([{"name": "cfg", "configMap": "cfg", "subPath": "f"}]);
        }
        // Probes may call services of earlier workloads (never their own).
        let calls: Vec<&String> = names[..i].iter().filter(|_| r.random_bool(0.5)).collect();
        if r.random_bool(0.7) {
            w["readinessProbe"] = json!({"calls": calls, "periodSeconds": r.random_range(1..=15), "failureThreshold": r.random_range(1..=4), "successThreshold": r.random_range(1..=3), "initialDelaySeconds": r.random_range(0..=20)});
        }
        if r.random_bool(0.5) {
            w["livenessProbe"] = json!({"calls": calls, "periodSeconds": r.random_range(1..=15), "failureThreshold": r.random_range(1..=4)});
        }
        if r.random_bool(0.3) {
            w["startupProbe"] =
                json!({"periodSeconds": r.random_range(1..=10), "failureThreshold": r.random_range(1..=5)});
        }
        workloads.push(w);
        let mut svc_calls: Vec<Value> = Vec::new();
        for c in &names[..i] {
            if r.random_bool(0.4) {
                svc_calls.push(json!({"service": c, "share": r.random_range(0.0..=1.0)}));
            }
        }
        services.push(json!({"name": name, "selector": {"app": name}, "calls": svc_calls}));
        let mut t = 0u64;
        let mut points = Vec::new();
        while t < duration_ms {
            points.push(json!([hhmm(t), r.random_range(0.0..500.0)]));
            t += r.random_range(60_000..3_600_000);
        }
        traffic.push(json!({"service": name, "rps": points}));
    }
    let mut faults = Vec::new();
    for _ in 0..r.random_range(0..10) {
        let at = hhmm(r.random_range(0..duration_ms - 1000));
        faults.push(match r.random_range(0..3) {
            0 => json!({"configMapUpdate": {"at": at, "configMap": "cfg"}}),
            1 => json!({"containerCrash": {"at": at, "selector": {"app": names[r.random_range(0..names.len())]}, "count": r.random_range(1..4)}}),
            _ => json!({"nodeRemoved": {"at": at, "node": nodes[r.random_range(0..nodes.len())]}}),
        });
    }
    let v = json!({
        "apiVersion": "capsize.dev/v1alpha1", "kind": "Scenario", "metadata": {"name": "random"},
        "spec": {
            "seed": seed, "start": "2021-01-01T00:00:00", "duration": format!("{}ms", duration_ms),
            "cluster": {
                "subpathRestartBug": r.random_bool(0.5),
                "nodes": pools, "configMaps": [{"name": "cfg"}],
                "workloads": workloads, "services": services
            },
            "traffic": traffic,
            "monitoring": {"alerts": [{"name": "Down", "condition": "serviceDown", "for": "1m"}, {"name": "Loop", "condition": "podCrashLooping", "for": "5m"}]},
            "faults": faults
        }
    });
    (v, names)
}

/// Works the cloud and the load balancer at random: starts, stops, reboots, releases, buys,
/// reimages, turns backends on and off.
struct CloudChaos {
    rng: ChaCha8Rng,
}

impl Policy for CloudChaos {
    fn decide(&mut self, view: &dyn ClusterView) -> Decision {
        let mut d = Decision::default();
        let nodes = view.nodes();
        let r = &mut self.rng;
        if !nodes.is_empty() && r.random_bool(0.3) {
            let node = nodes[r.random_range(0..nodes.len())].name.clone();
            let action = match r.random_range(0..12) {
                0 => Action::StartInstance { node },
                1 => Action::StopInstance { node },
                2 => Action::RebootInstance { node, force: r.random_bool(0.5) },
                6 => Action::Cordon { node },
                7 => Action::Uncordon { node },
                8 => Action::DrainNode { node, timeout_s: [None, Some(60)][r.random_range(0..2)] },
                9 => Action::RestartKubelet { node },
                10 => Action::RestartDocker { node },
                11 => Action::CleanDisk { node },
                3 => Action::ReleaseInstance { node },
                4 => Action::Reimage { node, into_pool: ["k", "s", "spot"][r.random_range(0..3)].into() },
                _ => Action::RunInstances {
                    pool: ["k", "s", "spot"][r.random_range(0..3)].into(),
                    count: r.random_range(1..3),
                    choices: vec![
                        InstanceChoice { instance_type: Some("small".into()), zone: None, pricing: Pricing::Spot },
                        InstanceChoice {
                            instance_type: Some("big".into()),
                            zone: Some("z1".into()),
                            pricing: Pricing::OnDemand,
                        },
                    ],
                },
            };
            d.actions.push(Request { observed: None, by: "chaos".into(), action });
        }
        if r.random_bool(0.1) {
            let service = ["web", "swarm-web"][r.random_range(0..2)].to_string();
            d.actions.push(Request {
                observed: None,
                by: "chaos".into(),
                action: Action::SetBackend { load_balancer: "site".into(), service, enabled: r.random_bool(0.6) },
            });
        }
        d.wake_at = Some(SimTime(view.now().ms() + r.random_range(1_000..300_000)));
        d
    }
}

/// A random valid scenario with a cloud, two clusters (Kubernetes and swarm) behind a load
/// balancer, scarce stock, cron schedules and node faults.
fn random_cloud_scenario(seed: u64) -> Value {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let duration_ms = r.random_range(2..=8) * 3_600_000u64;
    let mut faults = Vec::new();
    for _ in 0..r.random_range(0..8) {
        let at = hhmm(r.random_range(0..duration_ms - 1000));
        let node_fault = ["runtimeHung", "plegUnhealthy", "kubeletDown", "networkLoss", "nodeOverload", "diskFull"];
        faults.push(match r.random_range(0..6) {
            3 | 4 => {
                let kind = node_fault[r.random_range(0..node_fault.len())];
                let mut f = json!({"at": at, "node": "k-1"});
                if matches!(kind, "networkLoss" | "nodeOverload") && r.random_bool(0.5) {
                    f["for"] = json!(format!("{}s", r.random_range(10..900)));
                }
                if kind == "plegUnhealthy" && r.random_bool(0.5) {
                    f["recurAfter"] = json!(format!("{}m", r.random_range(1..30)));
                }
                json!({ kind: f })
            }
            0 => json!({"stockChange": {"at": at, "instanceType": "small", "zone": "z0", "pricing": "spot", "available": r.random_range(0..3)}}),
            1 => json!({"dnsFailure": {"at": at, "cluster": "k8s", "nodes": (["new", "all"][r.random_range(0..2)])}}),
            2 => json!({"kubeletFailure": {"at": at, "cluster": "k8s", "nodes": (["new", "all"][r.random_range(0..2)])}}),
            _ => json!({"containerCrash": {"at": at, "selector": {"app": "web"}, "count": 1}}),
        });
    }
    let h = |r: &mut ChaCha8Rng| r.random_range(0..24);
    let web_kind = ["DaemonSet", "Deployment"][r.random_range(0..2)];
    let mut v = json!({
        "apiVersion": "capsize.dev/v1alpha1", "kind": "Scenario", "metadata": {"name": "random-cloud"},
        "spec": {
            "seed": seed, "start": "2021-01-04T00:00:00", "duration": format!("{}ms", duration_ms),
            "cluster": {
                "clusters": [{"name": "k8s"}, {"name": "sw", "kind": "swarm"}],
                "cloud": {
                    "zones": ["z0", "z1"],
                    "instanceTypes": [
                        {"name": "small", "cpu": "4", "memory": "8Gi", "onDemandPerHour": 1.0, "spotPerHour": 0.2},
                        {"name": "big", "cpu": "8", "memory": "16Gi", "onDemandPerHour": 2.0, "spotPerHour": 0.4}
                    ],
                    "stock": [{"instanceType": "small", "zone": "z0", "pricing": "spot", "available": r.random_range(0..4)}],
                    "bootTime": {"min": "10s", "max": "90s"}, "reimageTime": {"min": "1m", "max": "3m"}
                },
                "nodes": [
                    {"pool": "k", "cluster": "k8s", "count": r.random_range(1..=3), "instanceType": "small", "zone": "z0", "liveRestore": r.random_bool(0.5)},
                    {"pool": "spot", "cluster": "k8s", "count": r.random_range(0..=3), "instanceType": "small", "pricing": "spot", "zone": "z0",
                     "state": "stopped", "schedule": [{"cron": format!("{} {} * * *", r.random_range(0..60), h(&mut r)), "action": "start"},
                                                      {"cron": format!("{} {} * * *", r.random_range(0..60), h(&mut r)), "action": "stop"}]},
                    {"pool": "m", "cluster": "sw", "role": "manager", "count": r.random_range(1..=3), "instanceType": "small", "zone": "z0"},
                    {"pool": "s", "cluster": "sw", "count": r.random_range(0..=2), "instanceType": "small", "pricing": "spot", "zone": "z0"}
                ],
                "workloads": [
                    {"name": "web", "cluster": "k8s", "kind": web_kind, "requests": {"cpu": "1", "memory": "1Gi"},
                     "capacityRps": r.random_range(20..=200), "resolvesAtStart": ["db"],
                     "readinessProbe": {"timeoutSeconds": r.random_range(1..=3)}, "livenessProbe": {}},
                    {"name": "swarm-web", "cluster": "sw", "kind": "SwarmService", "replicas": r.random_range(0..=6),
                     "requests": {"cpu": "2", "memory": "1Gi"}, "capacityRps": r.random_range(20..=200)}
                ],
                "services": [{"name": "web", "selector": {"app": "web"}}, {"name": "swarm-web", "selector": {"app": "swarm-web"}}],
                "loadBalancers": [{"name": "site", "backends": [{"service": "web"}, {"service": "swarm-web", "enabled": r.random_bool(0.5)}]}]
            },
            "traffic": [{"service": "site", "rps": [["00:00", r.random_range(0.0..400.0)], [hhmm(duration_ms / 2), r.random_range(0.0..800.0)], [hhmm(duration_ms - 1), r.random_range(0.0..400.0)]]}],
            "faults": faults
        }
    });
    if web_kind == "Deployment" {
        v["spec"]["cluster"]["workloads"][0]["replicas"] = json!(r.random_range(1..=6));
        v["spec"]["cluster"]["workloads"][0]["disruptionBudget"] = json!({"maxUnavailable": 1});
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    /// Stock never goes negative, a failed start or purchase never yields a node, traffic never
    /// goes to a backend marked down (all in `check_invariants`, after every event), and every
    /// instance the run had was either there at the start or bought by an accepted purchase.
    #[test]
    fn cloud_and_load_balancer_keep_their_books(seed in any::<u64>()) {
        let v = random_cloud_scenario(seed);
        let s = common::scenario(v);
        let initial = s.spec.cluster.nodes.iter().map(|p| p.count as usize).sum::<usize>();
        let mut policy = CloudChaos { rng: ChaCha8Rng::seed_from_u64(seed ^ 0xc10d) };
        let mut sim = Sim::new(&s, &RunOptions::default()).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        sim.check_invariants().map_err(TestCaseError::fail)?;
        while sim.step(&mut policy) {
            sim.check_invariants().map_err(TestCaseError::fail)?;
        }
        let h = sim.finish();
        let bought: usize = h
            .actions
            .iter()
            .filter_map(|a| a.outcome.as_ref().ok().filter(|_| a.action.starts_with("buy ")))
            .map(|msg| msg.split(' ').next().unwrap().parse::<usize>().unwrap())
            .sum();
        prop_assert_eq!(h.instances.len(), initial + bought);
        for a in &h.actions {
            if a.action.starts_with("buy ") && a.outcome.is_err() {
                prop_assert!(!a.outcome.as_ref().unwrap_err().is_empty());
            }
        }
        let r = evaluate(&s, "cloud-chaos", seed, &h);
        let site = r.service("site").expect("the load balancer is scored");
        prop_assert!((0.0..=1.0).contains(&site.availability));
        prop_assert!(site.served_requests <= site.offered_requests * (1.0 + 1e-9) + 1e-6);
        prop_assert!(r.cost.spend >= 0.0 && r.cost.instance_hours >= 0.0);
    }

    #[test]
    fn bookkeeping_never_drifts_and_scores_are_sane(seed in any::<u64>()) {
        let (v, workloads) = random_scenario(seed);
        let s = common::scenario(v);
        let mut policy = Chaos { rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed), workloads };
        let mut sim = Sim::new(&s, &RunOptions::default()).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        sim.check_invariants().map_err(TestCaseError::fail)?;
        while sim.step(&mut policy) {
            sim.check_invariants().map_err(TestCaseError::fail)?;
        }
        let h = sim.finish();
        let r = evaluate(&s, "chaos", seed, &h);
        for svc in &r.services {
            prop_assert!((0.0..=1.0).contains(&svc.availability), "{}: availability {}", svc.name, svc.availability);
            prop_assert!(svc.served_requests <= svc.offered_requests * (1.0 + 1e-9) + 1e-6, "{}: served {} > offered {}", svc.name, svc.served_requests, svc.offered_requests);
            let mut last_end = 0.0;
            for o in &svc.outages {
                prop_assert!(o.start_s >= last_end && o.end_s > o.start_s && o.end_s <= r.duration_s);
                last_end = o.end_s;
            }
            let total: f64 = svc.outages.iter().map(|o| o.duration_s).sum();
            prop_assert!((total - svc.downtime_s).abs() < 1e-6);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes(seed in any::<u64>()) {
        let (v, workloads) = random_scenario(seed);
        let s = common::scenario(v);
        let once = || {
            let mut policy = Chaos { rng: ChaCha8Rng::seed_from_u64(seed), workloads: workloads.clone() };
            let h = Sim::new(&s, &RunOptions { seed: None, timeline: true, series: false, max_events: None }).unwrap().run(&mut policy);
            serde_json::to_string(&evaluate(&s, "chaos", seed, &h)).unwrap()
        };
        prop_assert_eq!(once(), once());
    }
}
