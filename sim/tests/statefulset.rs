//! StatefulSets keep their pods' names and volumes: a pod on a lost node is not replaced until
//! it is deleted, and its replacement waits for the volume to detach from the old node.

mod common;

use capsize_sim::history::History;
use capsize_sim::policy::{Action, Policy};
use capsize_sim::{RunOptions, Sim, SimTime};
use common::scenario;
use serde_json::json;

/// Four workers, StatefulSet `db` (3 replicas, a volume each, 10 s attach by default), a
/// readiness probe so that OrderedReady has something to wait for.
fn cluster() -> serde_json::Value {
    json!({
        "apiVersion": "capsize.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "statefulset"},
        "spec": {
            "seed": 1,
            "start": "2024-01-01T00:00:00",
            "duration": "40m",
            "cluster": {
                "kubernetesVersion": "1.30",
                "nodes": [{"pool": "worker", "count": 4, "cpu": "4", "memory": "8Gi"}],
                "workloads": [
                    {"name": "db", "kind": "StatefulSet", "replicas": 3, "requests": {"cpu": "500m", "memory": "512Mi"},
                     "capacityRps": 100, "startTime": {"min": "2s", "max": "8s"}, "persistentVolume": {},
                     "readinessProbe": {"periodSeconds": 5}}
                ],
                "services": [{"name": "db", "selector": {"app": "db"}}]
            },
            "traffic": [{"service": "db", "rps": [["00:00", 100]]}],
            "faults": []
        }
    })
}

/// Deletes the named pods at `at_ms` (the shared scripted policy).
fn delete_at(pods: &[&str], at_ms: u64, force: bool) -> common::Script {
    let plan = pods.iter().map(|p| (at_ms, Action::DeletePod { pod: p.to_string(), force })).collect();
    common::Script { plan, ..Default::default() }
}

fn run(v: &serde_json::Value, seed: u64, policy: &mut dyn Policy) -> History {
    let opts = RunOptions { seed: Some(seed), timeline: true, series: false, max_events: None };
    Sim::new(&scenario(v.clone()), &opts).expect("valid").run(policy)
}

/// The node `pod` is placed on at the start under `seed` (placement does not depend on faults).
fn node_of(pod: &str, seed: u64) -> String {
    let h = run(&cluster(), seed, &mut capsize_sim::DoNothing);
    h.pods.iter().find(|p| p.name == pod).and_then(|p| p.node.clone()).expect("placed")
}

/// When `pod` (the incarnation created last) first reaches `status`.
fn reached(h: &History, pod: &str, after: SimTime, status: &str) -> Option<SimTime> {
    h.timeline
        .as_ref()
        .unwrap()
        .iter()
        .find(|e| e.object == pod && e.at >= after && e.what.ends_with(&format!("-> {status}")))
        .map(|e| e.at)
}

#[test]
fn names_are_stable_and_ordinal() {
    let h = run(&cluster(), 1, &mut capsize_sim::DoNothing);
    let mut names: Vec<_> = h.pods.iter().map(|p| p.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["db-0", "db-1", "db-2"]);
}

#[test]
fn a_pod_on_a_silent_node_is_not_replaced_until_it_is_deleted() {
    for seed in 1..=5 {
        let node = node_of("db-1", seed);
        let mut v = cluster();
        v["spec"]["faults"] = json!([{"nodeFailure": {"at": "00:05", "nodes": [node]}}]);
        // Nobody acts: the taint manager evicts db-1 (about 00:05:40 + 300 s), but no kubelet
        // confirms the deletion, so it stays Terminating and its name is never free.
        let h = run(&v, seed, &mut capsize_sim::DoNothing);
        let db1: Vec<_> = h.pods.iter().filter(|p| p.name == "db-1").collect();
        assert_eq!(db1.len(), 1, "seed {seed}: {db1:?}");
        assert_eq!(db1[0].status, "Terminating", "seed {seed}");
        for other in ["db-0", "db-2"] {
            let p = h.pods.iter().find(|p| p.name == other).unwrap();
            assert_eq!(p.status, "Running", "seed {seed}: {other}");
        }

        // A force delete at 00:15 frees the name: db-1 is created again at once, lands on
        // another node, and waits there (Multi-Attach) until the attach/detach controller gives
        // up on the silent node's unmount, 6 minutes after the old pod went away; then 10 s to
        // attach and 2-8 s to start.
        let mut force = delete_at(&["db-1"], 15 * 60_000, true);
        let h = run(&v, seed, &mut force);
        let gone = h.pods.iter().find(|p| p.name == "db-1" && p.deleted.is_some()).and_then(|p| p.deleted).unwrap();
        let new = h.pods.iter().find(|p| p.name == "db-1" && p.deleted.is_none()).expect("db-1 again");
        assert_eq!(new.created, gone, "seed {seed}: created the moment the name was free");
        assert_ne!(new.node.as_deref(), Some(node_of("db-1", seed).as_str()), "seed {seed}: elsewhere");
        let tl = h.timeline.as_ref().unwrap();
        assert!(
            tl.iter().any(|e| e.object == "db-1" && e.at >= gone && e.what.starts_with("Multi-Attach error")),
            "seed {seed}"
        );
        let running = reached(&h, "db-1", gone, "Running").expect("db-1 runs again");
        let wait = running.ms() - gone.ms();
        assert!((370_000..=378_000).contains(&wait), "seed {seed}: Running {wait} ms after the force delete");
    }
}

#[test]
fn a_single_replica_deployment_waits_for_its_volume_while_the_old_pod_terminates() {
    for seed in 1..=5 {
        let mut v = cluster();
        v["spec"]["cluster"]["workloads"] = json!([{
            "name": "db", "replicas": 1, "requests": {"cpu": "500m", "memory": "512Mi"},
            "capacityRps": 100, "startTime": {"min": "2s", "max": "8s"}, "persistentVolume": {}
        }]);
        let h0 = run(&v, seed, &mut capsize_sim::DoNothing);
        let node = h0.pods[0].node.clone().unwrap();
        v["spec"]["faults"] = json!([{"nodeFailure": {"at": "00:05", "nodes": [node]}}]);
        let h = run(&v, seed, &mut capsize_sim::DoNothing);
        // The eviction replaces the pod at once (a Deployment does not wait for the name), but
        // the old pod never goes away, so the volume never detaches: ContainerCreating to the end.
        assert_eq!(h.pods.len(), 2, "seed {seed}: {:?}", h.pods);
        assert_eq!(h.pods[0].status, "Terminating", "seed {seed}");
        assert_eq!(h.pods[1].status, "ContainerCreating", "seed {seed}");
        let tl = h.timeline.as_ref().unwrap();
        assert!(tl.iter().any(|e| e.object == h.pods[1].name && e.what.starts_with("Multi-Attach error")));
    }
}

#[test]
fn ordinals_come_back_in_order() {
    for seed in 1..=5 {
        // db-0 and db-1 are deleted together (gracefully, healthy nodes): db-0 is created once
        // it is gone, and db-1 only once the new db-0 is Running and Ready.
        let mut del = delete_at(&["db-0", "db-1"], 5 * 60_000, false);
        let h = run(&cluster(), seed, &mut del);
        let new0 = h.pods.iter().find(|p| p.name == "db-0" && p.deleted.is_none()).unwrap();
        let new1 = h.pods.iter().find(|p| p.name == "db-1" && p.deleted.is_none()).unwrap();
        let tl = h.timeline.as_ref().unwrap();
        let ready0 = tl
            .iter()
            .find(|e| e.object == "db-0" && e.at >= new0.created && e.what == "Readiness probe succeeded")
            .map(|e| e.at)
            .expect("db-0 Ready again");
        assert!(new1.created >= ready0, "seed {seed}: db-1 at {:?}, db-0 Ready at {ready0:?}", new1.created);
        assert_eq!(new1.status, "Running", "seed {seed}");
    }
}
