//! The policy interface: what a remediation policy sees and what it may ask for.
//!
//! A policy gets a read-only [`ClusterView`] (what monitoring and an operator with `kubectl`
//! would see, alerts included) and answers with a [`Decision`]: actions and when to look again.
//! Actions take time and can fail; only the engine changes state. Nothing here mentions the
//! engine's internals, so the same policy can drive a real cluster through another
//! `ClusterView` implementation.

use std::fmt;

use serde::Serialize;

use crate::spec::Labels;
use crate::time::{SimTime, StartTime};
pub use crate::world::PodStatus;

/// What a policy can see.
pub trait ClusterView {
    /// Current time.
    fn now(&self) -> SimTime;
    /// When the scenario started (for clock times).
    fn start(&self) -> &StartTime;
    /// Calls `f` for every pod that exists (deleted pods are gone from the API).
    fn for_each_pod(&self, f: &mut dyn FnMut(&PodInfo<'_>));
    /// Alerts firing now.
    fn firing_alerts(&self) -> Vec<AlertInfo>;
    /// Services and their endpoints.
    fn services(&self) -> Vec<ServiceInfo>;
    /// Workloads and their replica counts.
    fn workloads(&self) -> Vec<WorkloadInfo>;
}

/// A pod as `kubectl get pods -o wide` and `kubectl describe` show it.
#[derive(Clone, Debug)]
pub struct PodInfo<'a> {
    /// Name.
    pub name: &'a str,
    /// Owning workload.
    pub workload: &'a str,
    /// Labels.
    pub labels: &'a Labels,
    /// Node, once bound.
    pub node: Option<&'a str>,
    /// STATUS column.
    pub status: PodStatus,
    /// Since when the status has held.
    pub status_since: SimTime,
    /// READY column.
    pub ready: bool,
    /// RESTARTS column.
    pub restarts: u32,
    /// The last error or reason (what `kubectl describe` shows under the last state).
    pub message: Option<String>,
    /// Creation time.
    pub created: SimTime,
}

/// A firing alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertInfo {
    /// Rule name.
    pub name: String,
    /// Service or workload it is about.
    pub target: String,
    /// Since when it fires.
    pub since: SimTime,
}

/// A service's endpoints.
#[derive(Clone, Debug)]
pub struct ServiceInfo {
    /// Name.
    pub name: String,
    /// Ready endpoints.
    pub ready_endpoints: u32,
}

/// A workload's replica counts.
#[derive(Clone, Debug)]
pub struct WorkloadInfo {
    /// Name.
    pub name: String,
    /// Desired replicas.
    pub replicas: u32,
    /// Ready pods.
    pub ready: u32,
}

/// What a policy asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// `kubectl delete pod NAME` (`--force --grace-period=0` when `force`).
    DeletePod {
        /// Pod name.
        pod: String,
        /// Remove the API object at once, without waiting for the kubelet.
        force: bool,
    },
    /// `kubectl scale deployment NAME --replicas=N`.
    Scale {
        /// Workload name.
        workload: String,
        /// New replica count.
        replicas: u32,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::DeletePod { pod, force: true } => {
                write!(f, "kubectl delete pod {pod} --force --grace-period=0")
            }
            Action::DeletePod { pod, force: false } => write!(f, "kubectl delete pod {pod}"),
            Action::Scale { workload, replicas } => {
                write!(f, "kubectl scale deployment {workload} --replicas={replicas}")
            }
        }
    }
}

/// An action and who asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The rule or actor, for reports.
    pub by: String,
    /// What to do.
    pub action: Action,
}

/// A policy's answer.
#[derive(Clone, Debug, Default)]
pub struct Decision {
    /// Actions to issue now; each takes effect after the API latency.
    pub actions: Vec<Request>,
    /// Look again at this time (besides every monitoring evaluation).
    pub wake_at: Option<SimTime>,
}

/// A remediation policy.
pub trait Policy {
    /// Called at the start, at every alert-rule evaluation, and at the time it last asked for.
    fn decide(&mut self, view: &dyn ClusterView) -> Decision;
}

/// The policy that never acts.
#[derive(Clone, Copy, Debug, Default)]
pub struct DoNothing;

impl Policy for DoNothing {
    fn decide(&mut self, _view: &dyn ClusterView) -> Decision {
        Decision::default()
    }
}
