//! Simulation against reality: the times of the events both can show (a node going NotReady, its
//! NoExecute taint, the first eviction, the first replacement Running, the first endpoint back,
//! each outage's start and end), read from two histories of the same scenario, side by side with
//! their differences. The histories are matched by meaning, not by pod names (which differ):
//! nodes by their scenario names, pods by the node they were on and the workload they belong to.

use capsize_sim::SimTime;
use capsize_sim::history::History;
use capsize_sim::result::RunResult;

/// One comparable event.
#[derive(Clone, Debug, PartialEq)]
pub struct Milestone {
    /// What it is (`worker-2 NotReady`, `web outage 1 start`).
    pub what: String,
    /// Seconds from the scenario's start in the simulation.
    pub sim_s: Option<f64>,
    /// Seconds from the drive's start on the cluster.
    pub real_s: Option<f64>,
}

impl Milestone {
    /// Real minus simulated, seconds.
    pub fn difference(&self) -> Option<f64> {
        Some(self.real_s? - self.sim_s?)
    }
}

/// The first timeline entry at or after `after` whose object and text pass the tests.
fn first(h: &History, after: SimTime, object: impl Fn(&str) -> bool, what: impl Fn(&str) -> bool) -> Option<SimTime> {
    h.timeline.as_ref()?.iter().find(|e| e.at >= after && object(&e.object) && what(&e.what)).map(|e| e.at)
}

/// Milestones of one history: per node the fault hit, per service its outages.
fn milestones(h: &History, r: &RunResult) -> Vec<(String, SimTime)> {
    let mut out = Vec::new();
    let fault_at = h.faults.first().map_or(SimTime::ZERO, |f| f.at);
    // Nodes that went NotReady after the first fault.
    let mut nodes: Vec<(String, SimTime)> =
        h.node_conditions.iter().filter(|c| c.1 == "NotReady" && c.2 >= fault_at).map(|c| (c.0.clone(), c.2)).collect();
    nodes.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    nodes.dedup_by(|a, b| a.0 == b.0);
    for (node, at) in nodes {
        out.push((format!("{node} NotReady"), at));
        let on_node = |pod: &str| h.pods.iter().any(|p| p.name == pod && p.node.as_deref() == Some(node.as_str()));
        if let Some(t) = first(h, at, |o| o == node, |w| w.starts_with("taint node.kubernetes.io/")) {
            out.push((format!("{node} NoExecute taint"), t));
        }
        if let Some(t) = first(h, at, on_node, |w| w == "deleting" || w == "force-deleted" || w.starts_with("evicted"))
        {
            out.push((format!("{node}: first pod evicted or deleted"), t));
        }
        // The first pod created after the node went down that reached Running elsewhere.
        let workloads: Vec<&str> =
            h.pods.iter().filter(|p| p.node.as_deref() == Some(node.as_str())).map(|p| p.workload.as_str()).collect();
        let replacement = |pod: &str| {
            h.pods.iter().any(|p| {
                p.name == pod
                    && p.created > at
                    && p.node.as_deref() != Some(node.as_str())
                    && workloads.contains(&p.workload.as_str())
            })
        };
        if let Some(t) = first(h, at, replacement, |w| w.ends_with("-> Running")) {
            out.push((format!("{node}: first replacement Running"), t));
        }
        if let Some(t) = first(h, at, |o| o == node, |w| w.starts_with("node Ready")) {
            out.push((format!("{node} Ready again"), t));
        }
    }
    for (i, s) in r.services.iter().enumerate() {
        for (k, o) in s.outages.iter().enumerate() {
            out.push((format!("{} outage {} start", s.name, k + 1), SimTime((o.start_s * 1000.0) as u64)));
            if !o.ongoing {
                out.push((format!("{} outage {} end", s.name, k + 1), SimTime((o.end_s * 1000.0) as u64)));
            }
        }
        // The first endpoint back after the capacity fell to zero.
        let steps = &h.capacity.get(i).map(Vec::as_slice).unwrap_or_default();
        if let Some(z) = steps.iter().position(|&(t, c)| t >= fault_at && c <= 0.0)
            && let Some(&(t, _)) = steps[z..].iter().find(|&&(_, c)| c > 0.0)
        {
            out.push((format!("{} first endpoint back", s.name), t));
        }
    }
    out
}

/// The table rows: every milestone either side has, in the simulation's order (the real-only
/// ones after).
pub fn compare(sim: (&History, &RunResult), real: (&History, &RunResult)) -> Vec<Milestone> {
    let a = milestones(sim.0, sim.1);
    let b = milestones(real.0, real.1);
    let mut rows: Vec<Milestone> = a
        .iter()
        .map(|(what, t)| Milestone {
            what: what.clone(),
            sim_s: Some(t.secs_f64()),
            real_s: b.iter().find(|(w, _)| w == what).map(|(_, t)| t.secs_f64()),
        })
        .collect();
    for (what, t) in &b {
        if !a.iter().any(|(w, _)| w == what) {
            rows.push(Milestone { what: what.clone(), sim_s: None, real_s: Some(t.secs_f64()) });
        }
    }
    rows
}

/// The side-by-side table, as Markdown (which a terminal reads as well).
pub fn render(rows: &[Milestone]) -> String {
    let s = |x: Option<f64>| {
        x.map_or("-".to_string(), |v| format!("{}", capsize_sim::SimDuration((v * 1000.0).round() as u64)))
    };
    let d = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{:+.1} s", v));
    let mut out = String::from("| event | simulated | real | real - simulated |\n|---|---:|---:|---:|\n");
    for r in rows {
        out.push_str(&format!("| {} | {} | {} | {} |\n", r.what, s(r.sim_s), s(r.real_s), d(r.difference())));
    }
    if rows.is_empty() {
        out.push_str("| (no comparable event: no node went NotReady and no service had an outage) | - | - | - |\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use capsize_sim::{RunOptions, Sim};

    /// A worker's kubelet dies at 00:01; nobody acts.
    fn scenario() -> capsize_sim::Scenario {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "capsize.dev/v1alpha1", "kind": "Scenario", "metadata": {"name": "lifecycle"},
            "spec": {
                "seed": 5, "start": "2024-01-01T00:00:00", "duration": "15m",
                "cluster": {
                    "kubernetesVersion": "1.36",
                    "nodes": [{"pool": "worker", "count": 3, "cpu": "4", "memory": "8Gi"}],
                    "workloads": [{"name": "web", "replicas": 3, "requests": {"cpu": "100m", "memory": "64Mi"},
                                   "capacityRps": 100, "readinessProbe": {}}],
                    "services": [{"name": "web", "selector": {"app": "web"}}]
                },
                "traffic": [{"service": "web", "rps": [["00:00", 150]]}],
                "faults": [{"kubeletDown": {"at": "00:01", "node": "worker-2"}}]
            }
        }))
        .unwrap()
    }

    /// The same history two seconds later, with other pod names (as a real cluster gives).
    fn shifted(h: &History) -> History {
        let mut r = h.clone();
        let later = |t: &mut SimTime| t.0 += 2000;
        let rename = |n: &mut String| n.push_str("-real");
        for c in &mut r.node_conditions {
            later(&mut c.2);
            if let Some(e) = &mut c.3 {
                later(e);
            }
        }
        for e in r.timeline.iter_mut().flatten() {
            later(&mut e.at);
            if h.pods.iter().any(|p| p.name == e.object) {
                rename(&mut e.object);
            }
        }
        for p in &mut r.pods {
            later(&mut p.created);
            if let Some(d) = &mut p.deleted {
                later(d);
            }
            rename(&mut p.name);
        }
        for s in &mut r.capacity {
            for (i, st) in s.iter_mut().enumerate() {
                if i > 0 {
                    later(&mut st.0);
                }
            }
        }
        for f in &mut r.faults {
            later(&mut f.at);
        }
        r.end.0 += 2000;
        r
    }

    #[test]
    fn events_are_matched_by_meaning_and_their_differences_measured() {
        let s = scenario();
        let h = Sim::new(&s, &RunOptions { seed: None, timeline: true, series: false, max_events: None })
            .unwrap()
            .run(&mut capsize_sim::DoNothing);
        let r = capsize_sim::score::evaluate(&s, "do-nothing", 5, &h);
        let real = shifted(&h);
        let rr = capsize_sim::score::evaluate(&s, "do-nothing", 5, &real);
        let rows = compare((&h, &r), (&real, &rr));
        let names: Vec<&str> = rows.iter().map(|m| m.what.as_str()).collect();
        for expected in [
            "worker-2 NotReady",
            "worker-2 NoExecute taint",
            "worker-2: first pod evicted or deleted",
            "worker-2: first replacement Running",
        ] {
            assert!(names.contains(&expected), "{expected} missing from {names:?}");
        }
        for m in &rows {
            let d = m.difference().unwrap_or_else(|| panic!("{} has no real counterpart", m.what));
            assert!((d - 2.0).abs() < 0.01, "{}: {d}", m.what);
        }
        // The model's own timeline: NotReady 40-55 s after the kubelet died (1.36's 50 s grace),
        // the eviction 300 s after the taint.
        let at = |w: &str| rows.iter().find(|m| m.what == w).unwrap().sim_s.unwrap();
        let down = at("worker-2 NotReady") - 60.0;
        assert!((40.0..=55.0).contains(&down), "NotReady {down} s after the fault");
        let evicted = at("worker-2: first pod evicted or deleted") - at("worker-2 NoExecute taint");
        assert!((299.0..=301.0).contains(&evicted), "eviction {evicted} s after the taint");
        assert!(render(&rows).contains("| worker-2 NotReady |"));
    }
}
