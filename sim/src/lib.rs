//! # capsize-sim: the deterministic cluster model
//!
//! A discrete-event simulation of a Kubernetes cluster, detailed enough to replay real outages:
//! the scheduler, the kubelet (start latency, restarts, CrashLoopBackOff, probes, the subPath
//! ConfigMap failure), ReplicaSets, endpoints, PodGC, monitoring, and the traffic each service
//! serves; a cloud provider, load balancers, classic swarm and swarm mode (Raft quorum), and node
//! CPU that follows traffic. A [`policy::Policy`] watches through a read-only [`policy::ClusterView`] and acts;
//! [`score::evaluate`] turns the run's [`history::History`] into a [`result::RunResult`].
//!
//! ```text
//! Scenario --validate--> Sim::new --step/run (Policy)--> History --score::evaluate--> RunResult
//! ```
//!
//! ## Determinism (an invariant of this crate)
//!
//! The same scenario and seed give byte-identical results on any machine and any thread count.
//! The rules that keep it so, for anyone changing this crate:
//!
//! - **No wall clock.** Time is [`time::SimTime`], integer milliseconds of virtual time. Nothing
//!   here reads `std::time::Instant` or `SystemTime`.
//! - **No unordered iteration.** Entities live in [`ids::Arena`]s (insertion order) and
//!   `BTreeMap`/`BTreeSet`; there is no `HashMap` in this crate.
//! - **Ordered events.** The queue pops by (time, sequence number); ties go to the event
//!   scheduled first.
//! - **Seeded, separate randomness.** Every draw comes from a `ChaCha8Rng` stream of
//!   [`rng::Streams`], one per subsystem, derived from the scenario seed; `rand` is built without
//!   its OS or thread RNG, so there is no other source to reach for.
//! - **No I/O, no threads, no async.** The crate never touches files, the network or the
//!   terminal; the harness does.
//! - **Plain float arithmetic.** `+ - * /`, `sqrt` (exact in IEEE 754), `min`, `max` and
//!   integer powers (`powi`, the compiler's own code) on `f64`, in a fixed order; the
//!   transcendentals (`log` in scheduler scoring, the waits model and exponential draws, `exp`
//!   in the waits model) come from `libm`, the same code on every platform, never from the
//!   platform's math library (`f64::ln` and `f64::exp` call it, and it differs between C
//!   libraries).
//!
//! ## What it deliberately does not know
//!
//! Files and YAML (the harness parses them into [`spec`] types), how results are presented (the
//! reports crate), and how a policy decides (policies are behind a trait).

/// The schema library, for the `one_key_enum!` macro's expansion in other crates.
#[doc(hidden)]
pub use schemars as __schemars;

pub mod defaults;
pub mod history;
pub mod ids;
pub mod policy;
pub mod queue;
pub mod result;
pub mod rng;
pub mod score;
pub mod spec;
pub mod time;
pub mod traffic;
pub mod validate;

mod controllers;
mod sim;
mod view;
mod world;

pub use policy::{Action, ClusterView, Decision, DoNothing, PodInfo, PodStatus, Policy, Request, Unresolved};
pub use result::RunResult;
pub use sim::{DEFAULT_MAX_EVENTS, RunOptions, Sim};
pub use spec::Scenario;
pub use time::{SimDuration, SimTime};
pub use validate::{PathSeg, SpecError, validate};

/// Runs `scenario` under `policy` and scores it: the whole pipeline in one call.
pub fn simulate(
    scenario: &Scenario,
    policy_name: &str,
    policy: &mut dyn Policy,
    opts: &RunOptions,
) -> Result<RunResult, Vec<SpecError>> {
    Ok(StartState::new(scenario, opts)?.into_run(policy_name, policy))
}

/// A run's starting state, built once: the scenario validated, its distributions drawn for the
/// seed, and the cluster built as `Sim::new` builds it (every pod placed and running). Runs
/// started from it under any policy give what [`simulate`] gives; a sweep builds one per run
/// and scenario and starts each policy that leaves the scenario as it is from a copy.
///
/// What the build depends on: the scenario and the seed, never the policy. Every seed changes
/// it (pod names, the scheduler's tie-breaks, container start and probe phases are drawn from
/// the seed's streams), so a start is shared between policies of one seed, not between seeds.
#[derive(Clone)]
pub struct StartState {
    /// The scenario with its distributions drawn (what the run and its scoring read).
    scenario: Scenario,
    /// The run's seed.
    seed: u64,
    /// Availability over time is wanted in the result.
    series: bool,
    /// The cluster at time zero, events queued.
    sim: Sim,
}

impl StartState {
    /// Validates `scenario`, draws its distributions for the run's seed and builds the cluster.
    pub fn new(scenario: &Scenario, opts: &RunOptions) -> Result<StartState, Vec<SpecError>> {
        let seed = opts.seed.unwrap_or(scenario.spec.seed);
        validate(scenario)?;
        let realized = scenario.realize(seed);
        let sim = Sim::new(&realized, opts)?;
        Ok(StartState { scenario: realized, seed, series: opts.series, sim })
    }

    /// Runs a copy of the start under `policy` and scores it.
    pub fn run(&self, policy_name: &str, policy: &mut dyn Policy) -> RunResult {
        let history = self.sim.clone().run(policy);
        scored(&self.scenario, self.seed, self.series, policy_name, &history)
    }

    /// Runs the start itself under `policy` and scores it (no copy).
    pub fn into_run(self, policy_name: &str, policy: &mut dyn Policy) -> RunResult {
        let StartState { scenario, seed, series, sim } = self;
        let history = sim.run(policy);
        scored(&scenario, seed, series, policy_name, &history)
    }
}

/// The result of a run's history, with its series when asked for.
fn scored(scenario: &Scenario, seed: u64, series: bool, policy_name: &str, history: &history::History) -> RunResult {
    let mut result = score::evaluate(scenario, policy_name, seed, history);
    if series {
        score::add_series(scenario, history, &mut result);
    }
    result
}
