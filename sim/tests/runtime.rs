//! The container runtime by version: containerd from Kubernetes 1.24 (`runtimeHung`,
//! `restartRuntime`), docker through dockershim before it (`dockerHung`, `restartDocker`).

mod common;

use capsize_sim::history::History;
use capsize_sim::policy::Action;
use capsize_sim::time::{MINUTE, SECOND};
use common::{Script, run, scenario};
use serde_json::json;

/// Two workers running web; the runtime of worker-1 hangs at 00:10 and the on-call engineer
/// restarts it at 00:15 (before the node lifecycle controller's 5-minute eviction).
fn drill(version: &str, hang: &str) -> serde_json::Value {
    json!({
        "apiVersion": "capsize.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "runtime"},
        "spec": {
            "seed": 1,
            "start": "2024-01-01T00:00:00",
            "duration": "40m",
            "cluster": {
                "kubernetesVersion": version,
                "nodes": [{"pool": "worker", "count": 2, "cpu": "4", "memory": "8Gi"}],
                "workloads": [{"name": "web", "replicas": 4, "requests": {"cpu": "500m", "memory": "256Mi"},
                               "capacityRps": 100, "readinessProbe": {}}],
                "services": [{"name": "web", "selector": {"app": "web"}}]
            },
            "traffic": [{"service": "web", "rps": [["00:00", 100]]}],
            "faults": [{hang: {"at": "00:10", "node": "worker-1"}}]
        }
    })
}

fn not_ready(h: &History) -> Vec<(u64, Option<u64>)> {
    h.node_conditions
        .iter()
        .filter(|(n, c, ..)| n == "worker-1" && *c == "NotReady")
        .map(|&(_, _, from, to)| (from.ms(), to.map(|t| t.ms())))
        .collect()
}

fn restarts_on_worker_1(h: &History) -> u32 {
    h.pods.iter().filter(|p| p.node.as_deref() == Some("worker-1")).map(|p| p.restarts).sum()
}

#[test]
fn a_hung_containerd_makes_the_node_not_ready_and_its_restart_keeps_the_containers() {
    let s = scenario(drill("1.30", "runtimeHung"));
    let mut policy =
        Script { plan: vec![(15 * MINUTE, Action::RestartRuntime { node: "worker-1".into() })], ..Default::default() };
    let h = run(&s, &mut policy);
    let nr = not_ready(&h);
    assert_eq!(nr.len(), 1, "{nr:?}");
    // The PLEG relist stops with the runtime; the kubelet finds it unhealthy once the last relist
    // is 3 minutes old and says NotReady with its next status update (every 10 s).
    let (from, to) = nr[0];
    assert!((13 * MINUTE..=13 * MINUTE + 10 * SECOND).contains(&from), "NotReady at {from} ms");
    // After the restart (the API latency, then containerd's 5 s), the node is Ready again.
    let to = to.expect("the node recovers");
    assert!((15 * MINUTE..=16 * MINUTE).contains(&to), "Ready again at {to} ms");
    // containerd's shims keep the containers through its restart: none restarted, none moved.
    let on_node = h.pods.iter().filter(|p| p.node.as_deref() == Some("worker-1") && p.deleted.is_none()).count();
    assert!(on_node > 0);
    assert_eq!(restarts_on_worker_1(&h), 0);
    let a = &h.actions[0];
    assert!(a.action.contains("systemctl restart containerd"), "{}", a.action);
    assert!(a.outcome.as_ref().unwrap().contains("kept running"));
}

#[test]
fn restarting_docker_without_live_restore_restarts_the_containers() {
    let s = scenario(drill("1.20", "dockerHung"));
    let mut policy =
        Script { plan: vec![(15 * MINUTE, Action::RestartDocker { node: "worker-1".into() })], ..Default::default() };
    let h = run(&s, &mut policy);
    let nr = not_ready(&h);
    assert_eq!(nr.len(), 1, "{nr:?}");
    assert!((13 * MINUTE..=13 * MINUTE + 10 * SECOND).contains(&nr[0].0), "{nr:?}");
    // The daemon takes its containers down with it; the kubelet starts them again.
    let on_node = h.pods.iter().filter(|p| p.node.as_deref() == Some("worker-1") && p.deleted.is_none()).count();
    assert!(on_node > 0);
    assert_eq!(restarts_on_worker_1(&h), on_node as u32, "each container on worker-1 restarted once");
}
