//! What a run recorded, for the scorer and for reports. The engine appends; nothing here is read
//! back by the engine, so scoring can never influence the run.

use serde::Serialize;

use crate::time::SimTime;

/// The record of one run.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// When the run ended.
    pub end: SimTime,
    /// Per service (by id): serving capacity in requests per second, as `(from, value)` steps;
    /// the first step is at time zero.
    pub capacity: Vec<Vec<(SimTime, f64)>>,
    /// Per service (by id): its share of its load balancer's traffic, as steps (backends only;
    /// a single step at zero for the rest).
    pub shares: Vec<Vec<(SimTime, f64)>>,
    /// Per service (by id): capacity the router sends requests to that fail them (requests/s),
    /// as steps.
    pub dead: Vec<Vec<(SimTime, f64)>>,
    /// Per cluster: swarm mode periods without a leader, `(cluster name, from, until)`.
    pub leaderless: Vec<(String, SimTime, Option<SimTime>)>,
    /// The policy failed and the run stopped here: why.
    pub aborted: Option<String>,
    /// Kubernetes node conditions other than Ready as the API showed them (`NotReady`,
    /// `DiskPressure`): `(node, condition, from, until)`.
    pub node_conditions: Vec<(String, &'static str, SimTime, Option<SimTime>)>,
    /// Containers a swarm manager moved to another node.
    pub moves: Vec<MoveRecord>,
    /// Nodes that went offline because their agent stalled under CPU saturation: `(node, when)`.
    pub offline: Vec<(String, SimTime)>,
    /// Every cloud instance the run had, with what it cost.
    pub instances: Vec<InstanceRecord>,
    /// Every pod the run had, deleted ones included.
    pub pods: Vec<PodRecord>,
    /// Actions the policy issued and what came of them.
    pub actions: Vec<ActionRecord>,
    /// Alerts that fired.
    pub alerts: Vec<AlertRecord>,
    /// Faults as they were applied.
    pub faults: Vec<FaultRecord>,
    /// Notable transitions, when the run was asked to keep them.
    pub timeline: Option<Vec<TimelineEntry>>,
    /// Events the engine processed (the run's cost).
    pub events: u64,
}

impl History {
    /// An empty record for `scenario`: one step at zero per service and load balancer (in the
    /// scorer's order), and a timeline if asked for. The engine starts from it; so does an
    /// observer recording a real cluster.
    pub fn for_scenario(scenario: &crate::Scenario, timeline: bool) -> History {
        let n = scenario.spec.cluster.services.len() + scenario.spec.cluster.load_balancers.len();
        History {
            capacity: vec![vec![(SimTime::ZERO, 0.0)]; n],
            shares: vec![vec![(SimTime::ZERO, 0.0)]; n],
            dead: vec![vec![(SimTime::ZERO, 0.0)]; n],
            timeline: timeline.then(Vec::new),
            ..History::default()
        }
    }

    /// Operations that failed so far, oldest first (what a policy's `operationFailed` reads).
    pub fn failed_operations(&self) -> Vec<crate::policy::FailedOperation> {
        self.actions
            .iter()
            .filter_map(|a| {
                a.outcome.as_ref().err().map(|e| crate::policy::FailedOperation {
                    at: a.done,
                    by: a.by.clone(),
                    action: a.action.clone(),
                    error: e.clone(),
                })
            })
            .collect()
    }

    /// Records a service's capacity from `t` on.
    pub fn set_capacity(&mut self, service: usize, t: SimTime, rps: f64) {
        let steps = &mut self.capacity[service];
        match steps.last_mut() {
            Some(last) if last.0 == t => last.1 = rps,
            Some(last) if last.1 == rps => {}
            _ => steps.push((t, rps)),
        }
    }

    /// A service's serving capacity (requests/s) at `t`, from its recorded steps.
    pub fn capacity_at(&self, service: usize, t: SimTime) -> f64 {
        step_at(&self.capacity[service], t)
    }

    /// Records a service's failing capacity from `t` on.
    pub(crate) fn set_dead(&mut self, service: usize, t: SimTime, rps: f64) {
        let steps = &mut self.dead[service];
        match steps.last_mut() {
            Some(last) if last.0 == t => last.1 = rps,
            Some(last) if last.1 == rps => {}
            _ => steps.push((t, rps)),
        }
    }

    /// A service's failing capacity (requests/s) at `t`.
    pub fn dead_at(&self, service: usize, t: SimTime) -> f64 {
        step_at(&self.dead[service], t)
    }

    /// Records a backend's share of its load balancer's traffic from `t` on.
    pub(crate) fn set_share(&mut self, service: usize, t: SimTime, share: f64) {
        let steps = &mut self.shares[service];
        match steps.last_mut() {
            Some(last) if last.0 == t => last.1 = share,
            Some(last) if last.1 == share => {}
            _ => steps.push((t, share)),
        }
    }

    /// A backend's share of its load balancer's traffic at `t`.
    pub fn share_at(&self, service: usize, t: SimTime) -> f64 {
        step_at(&self.shares[service], t)
    }

    /// A node condition as the API shows it went on or off.
    pub fn node_condition(&mut self, node: &str, condition: &'static str, at: SimTime, on: bool) {
        let open =
            self.node_conditions.iter().rposition(|(n, c, _, end)| n == node && *c == condition && end.is_none());
        match (on, open) {
            (true, None) => self.node_conditions.push((node.to_string(), condition, at, None)),
            (false, Some(i)) => self.node_conditions[i].3 = Some(at),
            _ => {}
        }
    }

    /// Adds a timeline entry if a timeline is kept.
    pub fn note(&mut self, at: SimTime, object: &str, what: impl FnOnce() -> String) {
        if let Some(t) = &mut self.timeline {
            t.push(TimelineEntry { at, object: object.to_string(), what: what() });
        }
    }
}

/// The value of a step function at `t` (zero before its first step).
fn step_at(steps: &[(SimTime, f64)], t: SimTime) -> f64 {
    let i = steps.partition_point(|(s, _)| *s <= t);
    if i == 0 { 0.0 } else { steps[i - 1].1 }
}

/// A container a swarm manager replaced on another node.
#[derive(Clone, Debug, Serialize)]
pub struct MoveRecord {
    /// When the replacement was created.
    pub at: SimTime,
    /// The app (workload).
    pub workload: String,
    /// The container that was lost or removed.
    pub from_pod: String,
    /// The node it was on.
    pub from_node: Option<String>,
    /// The replacement.
    pub to_pod: String,
    /// The node the replacement was placed on at that moment (none while it waits for one).
    pub to_node: Option<String>,
    /// A replacement that waited: the node it was placed on later, and when.
    pub placed_later: Option<(String, SimTime)>,
    /// Why it moved.
    pub reason: String,
}

/// One cloud instance and what it cost.
#[derive(Clone, Debug, Serialize)]
pub struct InstanceRecord {
    /// The name of the node it first was.
    pub name: String,
    /// Instance type, if from the cloud.
    pub instance_type: Option<String>,
    /// `on-demand` or `spot`.
    pub pricing: String,
    /// Hours it was billed (running, booting or being reimaged).
    pub hours: f64,
    /// Hours x price.
    pub spend: f64,
}

/// One pod's life.
#[derive(Clone, Debug, Serialize)]
pub struct PodRecord {
    /// Pod name.
    pub name: String,
    /// Owning workload.
    pub workload: String,
    /// Node it was bound to, if any.
    pub node: Option<String>,
    /// Creation time.
    pub created: SimTime,
    /// Deletion time (the API object went away).
    pub deleted: Option<SimTime>,
    /// Container restarts during the run.
    pub restarts: u32,
    /// kubectl status at the end of the run (or `Deleted`).
    pub status: String,
}

/// An action and its outcome.
#[derive(Clone, Debug, Serialize)]
pub struct ActionRecord {
    /// The policy asked for it (not a scheduled job of the cloud, nor the cluster itself).
    pub from_policy: bool,
    /// When what it answers was seen (a rule's trigger at a monitoring evaluation), if
    /// earlier than `issued`.
    pub observed: Option<SimTime>,
    /// When the policy issued it.
    pub issued: SimTime,
    /// When it took effect (or failed).
    pub done: SimTime,
    /// The rule or actor that issued it.
    pub by: String,
    /// What it was, as a command line would say it.
    pub action: String,
    /// `Ok(what happened)` or `Err(the error the API returned)`.
    pub outcome: Result<String, String>,
}

/// An alert that fired.
#[derive(Clone, Debug, Serialize)]
pub struct AlertRecord {
    /// Rule name.
    pub name: String,
    /// Service or workload it is about.
    pub target: String,
    /// When it started firing.
    pub fired: SimTime,
    /// When it stopped, if it did.
    pub resolved: Option<SimTime>,
}

/// A fault as applied.
#[derive(Clone, Debug, Serialize)]
pub struct FaultRecord {
    /// When.
    pub at: SimTime,
    /// Its key in the scenario (`containerCrash`, ...).
    pub kind: String,
    /// What it targeted.
    pub target: String,
    /// How many objects it hit; zero means it matched nothing.
    pub matched: u32,
    /// The scenario's note.
    pub note: Option<String>,
}

/// One notable transition.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineEntry {
    /// When.
    pub at: SimTime,
    /// Pod, service, node or alert name.
    pub object: String,
    /// What happened.
    pub what: String,
}
