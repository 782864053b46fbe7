//! DaemonSets behave like the DaemonSet controller: a deleted pod is replaced on its own node
//! once it is gone, and nothing else of the DaemonSet is touched.

mod common;

use capsize_sim::history::History;
use capsize_sim::policy::{Action, ClusterView, Decision, Policy, Request};
use capsize_sim::{RunOptions, Sim, SimTime};
use common::scenario;
use serde_json::json;

/// Five workers running a node agent (a DaemonSet) and a web tier.
fn cluster() -> serde_json::Value {
    json!({
        "apiVersion": "capsize.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "daemonset"},
        "spec": {
            "seed": 1,
            "start": "2024-01-01T00:00:00",
            "duration": "30m",
            "cluster": {
                "kubernetesVersion": "1.30",
                "nodes": [{"pool": "worker", "count": 5, "cpu": "4", "memory": "8Gi"}],
                "workloads": [
                    {"name": "agent", "kind": "DaemonSet", "requests": {"cpu": "100m", "memory": "64Mi"},
                     "capacityRps": 10, "startTime": {"min": "2s", "max": "8s"}, "shutdownTime": "5s", "readinessProbe": {}},
                    {"name": "web", "replicas": 4, "requests": {"cpu": "500m", "memory": "256Mi"}, "capacityRps": 100}
                ],
                "services": [{"name": "web", "selector": {"app": "web"}}]
            },
            "traffic": [{"service": "web", "rps": [["00:00", 100]]}],
            "faults": []
        }
    })
}

/// Deletes the agent pod on `node` at `at_ms`, once.
struct DeleteAgentOn {
    node: &'static str,
    at_ms: u64,
    force: bool,
    done: bool,
}

impl Policy for DeleteAgentOn {
    fn decide(&mut self, view: &dyn ClusterView) -> Decision {
        let mut d = Decision::default();
        if self.done || view.now().ms() < self.at_ms {
            d.wake_at = (!self.done).then_some(SimTime(self.at_ms));
            return d;
        }
        let mut victim = None;
        view.for_each_pod(&mut |p| {
            if p.workload == "agent" && p.node == Some(self.node) {
                victim = Some(p.name.to_string());
            }
        });
        let pod = victim.expect("an agent pod on the node");
        d.actions.push(Request {
            observed: None,
            by: "test".into(),
            action: Action::DeletePod { pod, force: self.force },
        });
        self.done = true;
        d
    }
}

fn run(seed: u64, force: bool) -> History {
    let opts = RunOptions { seed: Some(seed), timeline: true, series: false, max_events: None };
    let mut policy = DeleteAgentOn { node: "worker-3", at_ms: 600_000, force, done: false };
    Sim::new(&scenario(cluster()), &opts).expect("valid").run(&mut policy)
}

#[test]
fn a_deleted_daemonset_pod_is_replaced_on_its_node_and_no_other_is_touched() {
    for seed in 1..=5 {
        for force in [false, true] {
            let h = run(seed, force);
            let agents: Vec<_> = h.pods.iter().filter(|p| p.workload == "agent").collect();
            // One pod per node at the start, one more (the replacement): six in all.
            assert_eq!(agents.len(), 6, "seed {seed} force {force}: {agents:?}");
            let deleted: Vec<_> = agents.iter().filter(|p| p.deleted.is_some()).collect();
            assert_eq!(deleted.len(), 1, "seed {seed}: only the deleted pod goes: {agents:?}");
            assert_eq!(deleted[0].node.as_deref(), Some("worker-3"));
            let gone = deleted[0].deleted.unwrap();
            // The other four run all along; the replacement is on worker-3, created once the
            // old pod was gone from the API (not while it was Terminating).
            let running: Vec<_> = agents.iter().filter(|p| p.status == "Running").collect();
            assert_eq!(running.len(), 5, "seed {seed}: {agents:?}");
            let mut nodes: Vec<_> = running.iter().map(|p| p.node.clone().unwrap()).collect();
            nodes.sort();
            assert_eq!(nodes, ["worker-1", "worker-2", "worker-3", "worker-4", "worker-5"]);
            let new = agents.iter().find(|p| p.created > SimTime(0)).expect("a replacement");
            assert_eq!(new.node.as_deref(), Some("worker-3"));
            assert_eq!(new.created, gone, "seed {seed}: replaced the moment the old pod was gone");
            // It is Running within the start latency (2 to 8 s) of its creation (an image pull is
            // not modelled: the image is on the node).
            let tl = h.timeline.as_ref().unwrap();
            let running_at = tl
                .iter()
                .find(|e| e.object == new.name && e.what.ends_with("-> Running"))
                .map(|e| e.at)
                .expect("the replacement reaches Running");
            let latency = running_at.ms() - new.created.ms();
            assert!((2_000..=8_000).contains(&latency), "seed {seed}: Running {latency} ms after creation");
            // A graceful delete waits for the container to exit (its 5 s shutdown), and the
            // replacement waits for that; a forced one goes at once.
            let done = 600_000 + api_latency(&h);
            assert_eq!(gone, SimTime(if force { done } else { done + 5_000 }), "seed {seed} force {force}");
        }
    }
}

/// When the deletion took effect (the action's record).
fn api_latency(h: &History) -> u64 {
    let a = h.actions.iter().find(|a| a.action.contains("delete pod")).expect("the delete");
    a.done.ms() - a.issued.ms()
}

#[test]
fn a_lost_node_loses_only_its_own_daemonset_pod() {
    let mut v = cluster();
    v["spec"]["faults"] = json!([{"nodeRemoved": {"at": "00:10", "node": "worker-2"}}]);
    for seed in 1..=5 {
        let opts = RunOptions { seed: Some(seed), timeline: true, series: false, max_events: None };
        let h = Sim::new(&scenario(v.clone()), &opts).expect("valid").run(&mut capsize_sim::DoNothing);
        let agents: Vec<_> = h.pods.iter().filter(|p| p.workload == "agent").collect();
        // PodGC deletes the pod of the removed node; no pod is created for it, none elsewhere.
        assert_eq!(agents.len(), 5, "seed {seed}: {agents:?}");
        let deleted: Vec<_> = agents.iter().filter(|p| p.deleted.is_some()).collect();
        assert_eq!(deleted.len(), 1);
        assert_eq!(deleted[0].node.as_deref(), Some("worker-2"));
        assert_eq!(agents.iter().filter(|p| p.status == "Running").count(), 4);
    }
}
