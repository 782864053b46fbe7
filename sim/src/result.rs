//! The result of one scored run: the stable output contract that reports and tests read.
//!
//! `scenario`, `policy`, `seed` and `services[]` with `name`, `availability`, `downtime_s`,
//! `restarts` and `outages[]` (`start`, `end` as scenario-local `HH:MM:SS`, `start_s`, `end_s`
//! as seconds from the start) are the contract; other fields may be added, never renamed.

use serde::Serialize;

/// One scenario run under one policy, scored.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    /// Where the run happened: the simulator, or a real cluster (`capsize drive`).
    pub mode: Mode,
    /// Scenario name.
    pub scenario: String,
    /// Policy name.
    pub policy: String,
    /// The seed the run used.
    pub seed: u64,
    /// Scenario start, as written.
    pub start: String,
    /// Length of the run, seconds.
    pub duration_s: f64,
    /// Per service, in scenario order.
    pub services: Vec<ServiceResult>,
    /// Per workload, with every pod it had.
    pub workloads: Vec<WorkloadResult>,
    /// Actions the policy took, in order.
    pub actions: Vec<ActionResult>,
    /// Faults as applied.
    pub faults: Vec<FaultResult>,
    /// Alerts that fired.
    pub alerts: Vec<AlertResult>,
    /// The scenario's assumptions: every number its source does not give, with the reason.
    pub assumptions: Vec<crate::spec::Assumption>,
    /// Notable transitions, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineResult>>,
    /// What the machines cost over the run.
    pub cost: CostResult,
    /// Per swarm-mode cluster, the periods its managers had no leader.
    pub leaderless: Vec<LeaderlessResult>,
    /// The run could not be completed (a policy plug-in failed): why. The results cover the
    /// run up to that point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Periods in which Kubernetes nodes were NotReady or under DiskPressure.
    pub node_conditions: Vec<NodeConditionResult>,
    /// Nodes that went offline because their CPU stayed saturated.
    pub offline_nodes: Vec<OfflineResult>,
    /// Containers a swarm manager replaced on another node: where from, where to, why.
    pub moves: Vec<MoveResult>,
    /// Events the engine processed.
    pub events: u64,
    /// On a real cluster: what the HTTP probes named with `--probe` saw (empty in simulations).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeResult>,
}

/// What the HTTP probes of one service saw during a drive.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ProbeResult {
    /// The service.
    pub service: String,
    /// The URL probed.
    pub url: String,
    /// Probes sent.
    pub sent: u32,
    /// Probes answered with 2xx or 3xx in time.
    pub ok: u32,
    /// `ok / sent`.
    pub success_ratio: f64,
    /// Failed probes: `(seconds from the start, what happened)`, the first 100.
    pub failures: Vec<(f64, String)>,
}

/// Where a run happened.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// In the simulator.
    #[default]
    Sim,
    /// On a real cluster, observed through its API.
    Real,
}

impl RunResult {
    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceResult> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The workload named `name`.
    pub fn workload(&self, name: &str) -> Option<&WorkloadResult> {
        self.workloads.iter().find(|w| w.name == name)
    }
}

/// What the run's machines cost: instance-hours x price per hour, summed.
#[derive(Clone, Debug, Serialize)]
pub struct CostResult {
    /// Hours instances were billed (running, booting or being reimaged), summed.
    pub instance_hours: f64,
    /// Their cost, in the currency of the scenario's prices.
    pub spend: f64,
    /// Per instance.
    pub instances: Vec<crate::history::InstanceRecord>,
}

/// How a service fared.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceResult {
    /// Service name.
    pub name: String,
    /// Served / offered requests over the run (0..1); the up-time fraction when nothing was
    /// offered.
    pub availability: f64,
    /// Requests offered over the run.
    pub offered_requests: f64,
    /// Requests served over the run.
    pub served_requests: f64,
    /// Total length of the outages, seconds.
    pub downtime_s: f64,
    /// Container restarts summed over every pod the service selected during the run, deleted
    /// ones included.
    pub restarts: u32,
    /// Intervals in which the service served less than its threshold of offered requests.
    pub outages: Vec<OutageResult>,
    /// Mean time from outage start to the first ServiceDown alert, over detected outages.
    pub mttd_s: Option<f64>,
    /// Mean outage length (time to recover).
    pub mttr_s: Option<f64>,
    /// Availability in equal slices of the run, `(from s, to s, availability)`, for charts.
    /// Not part of the JSON contract (reports draw it).
    #[serde(skip)]
    pub series: Vec<(f64, f64, f64)>,
}

/// One outage.
#[derive(Clone, Debug, Serialize)]
pub struct OutageResult {
    /// Start, scenario-local clock.
    pub start: String,
    /// End, scenario-local clock.
    pub end: String,
    /// Start, seconds from the scenario start.
    pub start_s: f64,
    /// End, seconds from the scenario start.
    pub end_s: f64,
    /// Length, seconds (the time to recover).
    pub duration_s: f64,
    /// Still going when the run ended.
    pub ongoing: bool,
    /// Seconds from the start of the outage to the first ServiceDown alert about it.
    pub detected_after_s: Option<f64>,
}

/// A workload's pods.
#[derive(Clone, Debug, Serialize)]
pub struct WorkloadResult {
    /// Workload name.
    pub name: String,
    /// Restarts summed over its pods.
    pub restarts: u32,
    /// Every pod it had.
    pub pods: Vec<PodResult>,
}

/// One pod's life.
#[derive(Clone, Debug, Serialize)]
pub struct PodResult {
    /// Pod name.
    pub name: String,
    /// Node, if it was bound.
    pub node: Option<String>,
    /// Creation, seconds from the start.
    pub created_s: f64,
    /// Deletion, seconds from the start.
    pub deleted_s: Option<f64>,
    /// Container restarts during the run (at deletion, for deleted pods).
    pub restarts: u32,
    /// kubectl status at the end (or `Deleted`).
    pub status: String,
}

/// One action and its outcome.
#[derive(Clone, Debug, Serialize)]
pub struct ActionResult {
    /// When it was issued, scenario-local clock.
    pub at: String,
    /// When it was issued, seconds from the start.
    pub at_s: f64,
    /// When what it answers was seen (a rule's trigger at a monitoring evaluation), seconds
    /// from the start, if earlier than `at_s` (a person's response time lies between).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_s: Option<f64>,
    /// The same, scenario-local clock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// When it took effect, seconds from the start.
    pub done_s: f64,
    /// Rule or actor.
    pub by: String,
    /// The command.
    pub action: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// What the API answered.
    pub result: String,
    /// The policy asked for it; false for the cloud's scheduled jobs and the cluster's own
    /// operations (a swarm join).
    pub by_policy: bool,
}

/// One fault as applied.
#[derive(Clone, Debug, Serialize)]
pub struct FaultResult {
    /// Scenario-local clock.
    pub at: String,
    /// Seconds from the start.
    pub at_s: f64,
    /// Kind (`containerCrash`, ...).
    pub kind: String,
    /// What it targeted.
    pub target: String,
    /// How many objects it hit (0: matched nothing).
    pub matched: u32,
    /// The scenario's note.
    pub note: Option<String>,
}

/// One alert that fired.
#[derive(Clone, Debug, Serialize)]
pub struct AlertResult {
    /// Rule name.
    pub name: String,
    /// Service or workload.
    pub target: String,
    /// Scenario-local clock.
    pub fired: String,
    /// Seconds from the start.
    pub fired_s: f64,
    /// Seconds from the start, if it resolved.
    pub resolved_s: Option<f64>,
}

/// One timeline entry.
#[derive(Clone, Debug, Serialize)]
pub struct TimelineResult {
    /// Scenario-local clock.
    pub at: String,
    /// Seconds from the start.
    pub at_s: f64,
    /// Object.
    pub object: String,
    /// What happened.
    pub what: String,
}

/// A period of time in a result: when it started and ended, and whether it was still going when
/// the run ended (its end is then the run's end).
#[derive(Clone, Debug, Serialize)]
pub struct Period {
    /// Start, scenario-local clock.
    pub start: String,
    /// End, scenario-local clock (the run's end if it never ended).
    pub end: String,
    /// Start, seconds from the scenario start.
    pub start_s: f64,
    /// End, seconds from the scenario start.
    pub end_s: f64,
    /// Length, seconds.
    pub duration_s: f64,
    /// Still going when the run ended.
    pub ongoing: bool,
}

/// A period in which a swarm had no leader.
#[derive(Clone, Debug, Serialize)]
pub struct LeaderlessResult {
    /// Cluster.
    pub cluster: String,
    /// When.
    #[serde(flatten)]
    pub period: Period,
}

/// A period in which a Kubernetes node had a condition other than Ready, as the API showed it:
/// `NotReady` (the Ready condition False or Unknown) or `DiskPressure`.
#[derive(Clone, Debug, Serialize)]
pub struct NodeConditionResult {
    /// Node.
    pub node: String,
    /// `NotReady` or `DiskPressure`.
    pub condition: String,
    /// When.
    #[serde(flatten)]
    pub period: Period,
}

/// A node whose agent stalled under CPU saturation.
#[derive(Clone, Debug, Serialize)]
pub struct OfflineResult {
    /// Node.
    pub node: String,
    /// Scenario-local clock.
    pub at: String,
    /// Seconds from the start.
    pub at_s: f64,
    /// Why (always CPU saturation today).
    pub reason: String,
}

/// A container replaced on another node.
#[derive(Clone, Debug, Serialize)]
pub struct MoveResult {
    /// Scenario-local clock.
    pub at: String,
    /// Seconds from the start.
    pub at_s: f64,
    /// App (workload).
    pub workload: String,
    /// The container that went.
    pub from_pod: String,
    /// Its node.
    pub from_node: Option<String>,
    /// The replacement.
    pub to_pod: String,
    /// The node the replacement was placed on at that moment (none: it had to wait for one).
    pub to_node: Option<String>,
    /// A replacement that had to wait: the node it was placed on later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placed_later_on: Option<String>,
    /// And when (scenario-local clock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placed_later_at: Option<String>,
    /// Why it moved.
    pub reason: String,
}
