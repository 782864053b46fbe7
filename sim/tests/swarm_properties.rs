//! Properties of swarm mode's Raft quorum and of classic swarm under random failures, checked on
//! the running model (not on the quorum formula alone):
//!
//! - with N managers of which k hang, a leader exists (once the election timeout has passed)
//!   exactly when N - k >= floor(N/2) + 1;
//! - a swarm without a leader never starts a task, and a leader never survives the loss of its
//!   quorum (`check_invariants` after every event, under random node failures, reboots, crashes,
//!   joins, promotions and `--force-new-cluster`);
//! - classic swarm with CPU saturation and rescheduling keeps its books.

mod common;

use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use capsize_sim::policy::{Action, ClusterView, Decision, NodeStatus, Policy, Request};
use capsize_sim::{RunOptions, Sim, SimTime};

/// Records whether the swarm has a leader at one instant.
struct LookAt {
    at: SimTime,
    leader: Option<bool>,
}

impl Policy for LookAt {
    fn decide(&mut self, view: &dyn ClusterView) -> Decision {
        if view.now() >= self.at && self.leader.is_none() {
            self.leader = view.swarm_leader("s");
        }
        Decision { wake_at: Some(self.at), ..Decision::default() }
    }
}

fn swarm_with_managers(n: u32, down: u32) -> capsize_sim::Scenario {
    let failed: Vec<String> = (1..=down).map(|i| format!("m-{i}")).collect();
    let mut faults = Vec::new();
    if down > 0 {
        faults.push(json!({"nodeFailure": {"at": "+1m", "nodes": failed}}));
    }
    common::scenario(json!({
        "apiVersion": "capsize.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "quorum"},
        "spec": {
            "start": "2024-01-01T00:00:00+00:00",
            "duration": "10m",
            "cluster": {
                "clusters": [{"name": "s", "kind": "swarm"}],
                "nodes": [
                    {"pool": "m", "role": "manager", "count": n, "cpu": "4", "memory": "8Gi"},
                    {"pool": "w", "count": 2, "cpu": "4", "memory": "8Gi"}
                ],
                "workloads": [{"name": "web", "kind": "SwarmService", "replicas": 3,
                               "requests": {"cpu": "100m", "memory": "128Mi"}, "capacityRps": 10}],
                "services": [{"name": "web", "selector": {"app": "web"}}]
            },
            "faults": faults
        }
    }))
}

/// Random failures, reboots, crashes and manager changes in a swarm-mode cluster.
struct SwarmChaos {
    rng: ChaCha8Rng,
}

impl Policy for SwarmChaos {
    fn decide(&mut self, view: &dyn ClusterView) -> Decision {
        let mut d = Decision::default();
        let nodes = view.nodes();
        let live: Vec<_> = nodes.iter().filter(|n| n.status != NodeStatus::Removed).collect();
        if !live.is_empty() && self.rng.random_bool(0.3) {
            let n = live[self.rng.random_range(0..live.len())];
            let action = match self.rng.random_range(0..5) {
                0 => Action::RebootInstance { node: n.name.clone(), force: false },
                1 => Action::PromoteNode { node: n.name.clone() },
                2 => Action::ForceNewCluster { node: n.name.clone() },
                3 => Action::Rejoin { node: n.name.clone(), pool: if n.manager { "m" } else { "w" }.into() },
                _ => Action::RunInstances { pool: "m".into(), count: 1, choices: Vec::new() },
            };
            d.actions.push(Request { observed: None, by: "chaos".into(), action });
        }
        d.wake_at = Some(SimTime(view.now().ms() + self.rng.random_range(1_000..90_000)));
        d
    }
}

fn random_swarm(seed: u64) -> capsize_sim::Scenario {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let managers = r.random_range(1..=5u32);
    let mut faults = Vec::new();
    for _ in 0..r.random_range(0..6) {
        let at = format!("+{}s", r.random_range(1..3_000));
        if r.random_bool(0.5) {
            let node = if r.random_bool(0.5) {
                format!("m-{}", r.random_range(1..=managers + 1))
            } else {
                format!("w-{}", r.random_range(1..=3))
            };
            faults.push(json!({"nodeFailure": {"at": at, "nodes": [node]}}));
        } else {
            faults.push(json!({"containerCrash": {"at": at, "selector": {"app": "web"}}}));
        }
    }
    common::scenario(json!({
        "apiVersion": "capsize.dev/v1alpha1",
        "kind": "Scenario",
        "metadata": {"name": "swarm-chaos"},
        "spec": {
            "start": "2024-01-01T00:00:00+00:00",
            "duration": "1h",
            "cluster": {
                "clusters": [{"name": "s", "kind": "swarm"}],
                "cloud": {"zones": ["z"], "instanceTypes": [
                    {"name": "t", "cpu": "4", "memory": "8Gi", "onDemandPerHour": 1.0, "spotPerHour": 0.2}]},
                "nodes": [
                    {"pool": "m", "role": "manager", "count": managers, "instanceType": "t", "zone": "z"},
                    {"pool": "w", "count": 3, "instanceType": "t", "zone": "z"}
                ],
                "workloads": [{"name": "web", "kind": "SwarmService", "replicas": 4,
                               "requests": {"cpu": "500m", "memory": "512Mi"}, "capacityRps": 10,
                               "cpuDemand": {"base": "100m", "perRps": "50m"}}],
                "services": [{"name": "web", "selector": {"app": "web"}}],
                "loadBalancers": [{"name": "site", "backends": [{"service": "web"}]}]
            },
            "traffic": [{"service": "site", "rps": [["00:00", 5], ["00:30", 60], ["01:00", 10]]}],
            "faults": faults
        }
    }))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// N managers, k of them hang: a leader exists iff N - k >= floor(N/2) + 1.
    #[test]
    fn a_leader_exists_iff_a_majority_of_managers_is_up(n in 1u32..=7, k_frac in 0.0f64..=1.0) {
        let k = ((f64::from(n) * k_frac).round() as u32).min(n);
        let s = swarm_with_managers(n, k);
        // Failures at 1 min; any election (10-20 s) is over well before 3 min.
        let mut look = LookAt { at: SimTime(3 * 60_000), leader: None };
        let mut sim = Sim::new(&s, &RunOptions::default()).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        while sim.step(&mut look) {
            sim.check_invariants().map_err(TestCaseError::fail)?;
        }
        prop_assert_eq!(look.leader, Some(n - k > n / 2), "N={} k={}", n, k);
    }

    /// No task starts without a leader, no leader outlives its quorum, and the books hold,
    /// whatever fails and whatever the operators do.
    #[test]
    fn a_leaderless_swarm_never_starts_a_task(seed in any::<u64>()) {
        let s = random_swarm(seed);
        let mut policy = SwarmChaos { rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5a4d) };
        let mut sim = Sim::new(&s, &RunOptions::default()).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        sim.check_invariants().map_err(TestCaseError::fail)?;
        while sim.step(&mut policy) {
            sim.check_invariants().map_err(TestCaseError::fail)?;
        }
        let h = sim.finish();
        for (_, from, to) in &h.leaderless {
            prop_assert!(to.is_none_or(|t| t >= *from));
        }
    }
}
