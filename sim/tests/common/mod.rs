//! Shared helpers for the simulator's tests: scenarios written as JSON, scripted policies.

#![allow(dead_code)]

use capsize_sim::history::History;
use capsize_sim::policy::{Action, ClusterView, Decision, Policy, Request};
use capsize_sim::{RunOptions, Scenario, Sim, SimTime};

/// A scenario from a JSON literal (the same schema as the YAML files).
pub fn scenario(v: serde_json::Value) -> Scenario {
    serde_json::from_value(v).expect("test scenario parses")
}

/// One node pool, one ConfigMap, one subPath-mounting workload `api` behind service `api`.
pub fn base() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "capsize.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "mechanics"},
        "spec": {
            "seed": 1,
            "start": "2021-01-01T00:00:00",
            "duration": "1h10m",
            "cluster": {
                "subpathRestartBug": true,
                "nodes": [{"pool": "n", "count": 2, "cpu": "4", "memory": "8Gi"}],
                "configMaps": [{"name": "cfg"}],
                "workloads": [{
                    "name": "api", "replicas": 1,
                    "requests": {"cpu": "500m", "memory": "256Mi"},
                    "capacityRps": 100,
                    "startTime": {"min": "2s", "max": "2s"},
                    "mounts": [{"name": "settings", "configMap": "cfg", "subPath": "a.json"}],
                    "readinessProbe": {}
                }],
                "services": [{"name": "api", "selector": {"app": "api"}}]
            },
            "traffic": [{"service": "api", "rps": [["00:00", 10]]}],
            "faults": []
        }
    })
}

/// Runs to the end with a timeline.
pub fn run(s: &Scenario, policy: &mut dyn Policy) -> History {
    Sim::new(s, &RunOptions { seed: None, timeline: true, series: false, max_events: None })
        .expect("valid test scenario")
        .run(policy)
}

/// Times (ms) of timeline entries about objects starting with `object` whose text starts with `what`.
pub fn times(h: &History, object: &str, what: &str) -> Vec<u64> {
    h.timeline
        .as_ref()
        .expect("timeline kept")
        .iter()
        .filter(|e| e.object.starts_with(object) && e.what.starts_with(what))
        .map(|e| e.at.ms())
        .collect()
}

/// A policy that issues fixed actions at fixed times and records what it saw.
#[derive(Default)]
pub struct Script {
    /// `(time ms, action)` in time order.
    pub plan: Vec<(u64, Action)>,
    /// Pod messages seen at each look, for assertions.
    pub seen_messages: Vec<(u64, String, Option<String>)>,
    /// `(time, service, ready endpoints)` and `(time, workload, replicas, ready)` at each look.
    pub seen_services: Vec<(u64, String, u32)>,
    pub seen_workloads: Vec<(u64, String, u32, u32)>,
}

impl Policy for Script {
    fn decide(&mut self, view: &dyn ClusterView) -> Decision {
        let now = view.now();
        let mut seen = Vec::new();
        view.for_each_pod(&mut |p| seen.push((now.ms(), p.name.to_string(), p.message.clone())));
        self.seen_messages.extend(seen);
        self.seen_services.extend(view.services().into_iter().map(|s| (now.ms(), s.name, s.ready_endpoints)));
        self.seen_workloads.extend(view.workloads().into_iter().map(|w| (now.ms(), w.name, w.replicas, w.ready)));
        let mut d = Decision::default();
        let (due, rest): (Vec<_>, Vec<_>) = self.plan.drain(..).partition(|(t, _)| *t <= now.ms());
        self.plan = rest;
        d.actions =
            due.into_iter().map(|(_, action)| Request { observed: None, by: "script".into(), action }).collect();
        d.wake_at = self.plan.first().map(|(t, _)| SimTime(*t));
        d
    }
}
