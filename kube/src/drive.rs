//! The drive: the plan, then (with `--yes`) the scenario on the clock of a real cluster: faults
//! at their times, the policy at every alert evaluation and when it asked to look again, drains
//! retrying refused evictions every 5 s as kubectl does, and at the end, on SIGINT/SIGTERM or on
//! an error, the rollback of everything journalled. The observed history is scored with the
//! simulator's scorer.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capsize_sim::SimTime;
use capsize_sim::history::History;
use capsize_sim::policy::{Decision, Policy};
use capsize_sim::result::{Mode, RunResult};
use capsize_sim::spec::Scenario;
use capsize_sim::traffic::Topology;

use crate::change::Change;
use crate::cluster::{Cluster, Made};
use crate::error::DriveError;
use crate::guard::Scope;
use crate::journal::{self, Entry, Journal};
use crate::nodecmd::NodeCommands;
use crate::observe::{Recorder, SharedRecorder, spawn_watchers};
use crate::plan::{self, NodeMap, Snapshot};
use crate::rollback::{RollbackReport, rollback};
use crate::view::{Alerts, RealView};

/// What a policy may ask for, for the plan (the harness knows the rule files).
#[derive(Clone, Debug)]
pub struct RuleSummary {
    /// Rule name.
    pub name: String,
    /// Its trigger, as the file says it.
    pub trigger: String,
    /// The keys of the actions it may take (`cordonNodes`, ...).
    pub actions: Vec<String>,
}

/// How to drive.
#[derive(Clone, Debug)]
pub struct DriveOptions {
    /// The context and namespaces.
    pub scope: Scope,
    /// The kubeconfig file named on the command line (recorded in the journal for rollback).
    pub kubeconfig: Option<PathBuf>,
    /// Node command templates.
    pub commands: NodeCommands,
    /// `--node SCENARIO=REAL`.
    pub node_map: Vec<(String, String)>,
    /// Where the journal goes.
    pub journal: PathBuf,
    /// Apply, not only plan.
    pub yes: bool,
    /// Stop before the scenario's end.
    pub duration: Option<Duration>,
    /// The seed of draws (targets, pod picks, the policy's `pick`).
    pub seed: u64,
    /// The policy's name, for the report.
    pub policy_name: String,
    /// The policy's rules, for the plan.
    pub rules: Vec<RuleSummary>,
    /// HTTP probes (`--probe SERVICE=URL`).
    pub probes: Vec<crate::probe::ProbeTarget>,
}

/// One planned fault.
#[derive(Clone, Debug)]
pub struct PlanStep {
    /// Offset from the start, ms.
    pub at_ms: u64,
    /// Scenario clock time.
    pub clock: String,
    /// `configMapUpdate`, ...
    pub fault: String,
    /// What it hits now.
    pub target: String,
    /// The changes with the server's dry-run answer.
    pub calls: Vec<(Change, Made)>,
    /// Undone this long after (`for`).
    pub undo_after_ms: Option<u64>,
    /// How it is carried out, when that needs saying.
    pub note: Option<String>,
}

/// The plan a drive prints without `--yes`.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Context.
    pub context: String,
    /// Namespaces.
    pub namespaces: Vec<String>,
    /// `(scenario node, real node)`.
    pub nodes: Vec<(String, String)>,
    /// The faults, in time order.
    pub steps: Vec<PlanStep>,
    /// The policy's rules and the API calls their actions map to.
    pub rules: Vec<String>,
    /// Things to know (pods of other namespaces a node fault reaches).
    pub warnings: Vec<String>,
    /// What stops the drive (a fault that matches nothing, an action a cluster cannot take).
    pub problems: Vec<String>,
    /// How long the drive lasts.
    pub duration_ms: u64,
}

impl Plan {
    /// The plan for a person.
    pub fn render(&self) -> String {
        let mut s = format!(
            "plan for context {} (namespaces: {}), {} of scenario time\n",
            self.context,
            self.namespaces.join(", "),
            capsize_sim::SimDuration(self.duration_ms)
        );
        if !self.nodes.is_empty() {
            let n: Vec<String> = self.nodes.iter().map(|(a, b)| format!("{a}={b}")).collect();
            s.push_str(&format!("nodes: {}\n", n.join(", ")));
        }
        s.push_str("\nfaults (targets by selector are resolved again when the fault fires):\n");
        if self.steps.is_empty() {
            s.push_str("  none\n");
        }
        for st in &self.steps {
            s.push_str(&format!(
                "  {} (+{}) {} -> {}\n",
                st.clock,
                capsize_sim::SimDuration(st.at_ms),
                st.fault,
                st.target
            ));
            if let Some(n) = &st.note {
                s.push_str(&format!("      how: {n}\n"));
            }
            for (c, made) in &st.calls {
                let check = match made {
                    Made::Ok(r) => r.clone(),
                    Made::Failed { error, .. } => format!("REFUSED: {error}"),
                };
                s.push_str(&format!("      {}\n        check: {check}\n", c.api_call()));
            }
            if let Some(u) = st.undo_after_ms {
                s.push_str(&format!("      undone after {}\n", capsize_sim::SimDuration(u)));
            }
        }
        s.push_str("\npolicy:\n");
        if self.rules.is_empty() {
            s.push_str("  no rules\n");
        }
        for r in &self.rules {
            s.push_str(&format!("  {r}\n"));
        }
        for w in &self.warnings {
            s.push_str(&format!("note: {w}\n"));
        }
        for p in &self.problems {
            s.push_str(&format!("cannot run: {p}\n"));
        }
        if self.problems.is_empty() {
            s.push_str("\nnothing was changed; run again with --yes to apply, observe, score and roll back.\n");
        } else {
            s.push_str("\nnothing was changed.\n");
        }
        s
    }
}

/// A drive's result.
pub enum Outcome {
    /// Planned only.
    Planned(Plan),
    /// Driven, scored and rolled back.
    Driven(Box<Driven>),
}

/// What a drive with `--yes` gives back.
pub struct Driven {
    /// The plan it ran.
    pub plan: Plan,
    /// Scored like a simulated run, `mode: real`.
    pub result: RunResult,
    /// The observed history (for `capsize fidelity`).
    pub history: History,
    /// What the rollback did.
    pub rollback: RollbackReport,
    /// The journal.
    pub journal: PathBuf,
    /// Why it ended before its time, if it did (a signal, an error).
    pub stopped: Option<String>,
}

/// The drill value a `configMapUpdate` writes.
fn drill_value(journal: &str, index: usize) -> String {
    format!("{journal} fault {index} at {}", journal::now_rfc3339())
}

/// The run's length: the scenario's, or less with `--duration`.
fn duration_ms(scenario: &Scenario, opts: &DriveOptions) -> u64 {
    let d = scenario.spec.duration.ms();
    opts.duration.map_or(d, |x| (x.as_millis() as u64).min(d))
}

/// Builds the plan: every fault before the end resolved and dry-run, every rule's actions
/// checked against what a cluster can do.
pub async fn plan(cluster: &Cluster, scenario: &Scenario, opts: &DriveOptions) -> Result<Plan, DriveError> {
    let snap = Snapshot::take(&cluster.client, &cluster.scope).await?;
    let map = NodeMap::new(scenario, &snap, &opts.node_map);
    let end = duration_ms(scenario, opts);
    let mut p = Plan {
        context: cluster.scope.context.clone(),
        namespaces: cluster.scope.namespaces.clone(),
        nodes: map.to_real.iter().map(|(a, b)| (a.clone(), b.clone())).collect(),
        duration_ms: end,
        ..Plan::default()
    };
    let start = &scenario.spec.start;
    for (i, f) in scenario.spec.faults.iter().enumerate() {
        let at = f.at().resolve(start).ms();
        if at >= end {
            p.warnings.push(format!("fault {i} ({}) at {} is after the end of the drive: not run", f.key(), f.at()));
            continue;
        }
        match plan::resolve_fault(
            i,
            f,
            &snap,
            &map,
            &cluster.commands,
            opts.seed,
            &drill_value(&cluster.journal_name, i),
        ) {
            Err(e) => p.problems.push(format!("fault {i} ({} at {}): {e}", f.key(), f.at())),
            Ok(r) => {
                let mut calls = Vec::new();
                for c in &r.changes {
                    let made = cluster.send(c, true).await;
                    if let Made::Failed { error, .. } = &made {
                        p.problems.push(format!("fault {i} ({}): the server refuses {c}: {error}", f.key()));
                    }
                    calls.push((c.clone(), made));
                }
                p.steps.push(PlanStep {
                    at_ms: at,
                    clock: start.clock_at(SimTime(at)).to_string(),
                    fault: format!("#{i} {}", f.key()),
                    target: r.target,
                    calls,
                    undo_after_ms: r.undo_after_ms,
                    note: r.note,
                });
            }
        }
    }
    if p.steps.iter().any(|s| s.calls.iter().any(|(c, _)| c.namespace().is_none())) {
        p.warnings.push(
            "node-level faults act on the whole node: pods of namespaces not named that run there are affected too \
             (capsize changes no object of theirs)"
                .into(),
        );
    }
    for t in &opts.probes {
        if scenario.spec.cluster.services.iter().any(|s| s.name == t.service) {
            p.rules.push(format!("probe {}: GET {} every second (1 s limit)", t.service, t.url));
        } else {
            p.problems.push(format!("--probe {}: the scenario has no service named `{}`", t.url, t.service));
        }
    }
    for r in &opts.rules {
        let mut calls = Vec::new();
        for key in &r.actions {
            match plan::action_supported(key) {
                Err(why) => {
                    p.problems.push(format!("rule {}: `{key}` cannot be done on a real cluster: {why}", r.name))
                }
                Ok(()) => {
                    let purposes = plan::action_purposes(key);
                    if !purposes.is_empty() && !purposes.iter().any(|x| cluster.commands.get(x).is_some()) {
                        p.problems.push(format!(
                            "rule {}: `{key}` needs a node command ({}) in the node command file",
                            r.name,
                            purposes.join(" or ")
                        ));
                    }
                    calls.push(format!("{key} -> {}", action_calls(key)));
                }
            }
        }
        p.rules.push(format!("{} (when {}): {}", r.name, r.trigger, calls.join("; ")));
    }
    Ok(p)
}

/// The API calls an action key maps to, for the plan.
fn action_calls(key: &str) -> &'static str {
    match key {
        "deletePods" => "DELETE /api/v1/namespaces/{ns}/pods/{pod} (gracePeriodSeconds=0 with force)",
        "scale" => "PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}/scale",
        "cordonNodes" | "uncordonNodes" => "PATCH /api/v1/nodes/{node} (spec.unschedulable)",
        "drainNodes" => {
            "PATCH /api/v1/nodes/{node} (cordon), then POST .../pods/{pod}/eviction per pod of the named namespaces (429: retried every 5 s)"
        }
        "removeNodes" => "DELETE /api/v1/nodes/{node}",
        _ => "the node command of the same purpose",
    }
}

/// A timed undo of changes (a `networkLoss` with `for`).
struct TimedUndo {
    at: SimTime,
    seqs: Vec<u64>,
    fault: String,
}

/// A drain in progress: evictions still refused (429) and when it gives up.
struct DrainRt {
    by: String,
    action: String,
    issued: SimTime,
    pending: Vec<Change>,
    next_try: SimTime,
    deadline: Option<SimTime>,
    left: Vec<String>,
    refusals: u32,
}

/// kubectl's wait between eviction retries when a disruption budget refuses (429).
pub const EVICTION_RETRY: Duration = Duration::from_secs(5);

/// Everything mutable during a drive.
struct Run<'a> {
    cluster: &'a Cluster,
    scenario: &'a Scenario,
    opts: &'a DriveOptions,
    journal: Journal,
    rec: SharedRecorder,
    map: NodeMap,
    alerts: Alerts,
    topo: Topology,
    undos: Vec<TimedUndo>,
    drains: Vec<DrainRt>,
}

impl Run<'_> {
    fn now(&self) -> SimTime {
        self.rec.lock().expect("recorder").now()
    }

    /// Makes one change; a journal failure stops the drive, anything else is an outcome.
    async fn make(&mut self, change: &Change) -> Result<(Option<u64>, Made), DriveError> {
        match self.cluster.make(&mut self.journal, change).await {
            Ok((seq, made)) => Ok((Some(seq), made)),
            Err(e @ DriveError::Journal { .. }) => Err(e),
            Err(e) => Ok((None, Made::Failed { error: e.to_string(), status: None })),
        }
    }

    async fn fault(&mut self, i: usize) -> Result<(), DriveError> {
        let f = &self.scenario.spec.faults[i];
        let snap = Snapshot::take(&self.cluster.client, &self.cluster.scope).await?;
        let value = drill_value(&self.cluster.journal_name, i);
        match plan::resolve_fault(i, f, &snap, &self.map, &self.cluster.commands, self.opts.seed, &value) {
            Err(e) => {
                self.rec.lock().expect("recorder").fault(
                    f.key(),
                    format!("nothing ({e})"),
                    0,
                    f.note().map(str::to_string),
                );
            }
            Ok(r) => {
                let mut seqs = Vec::new();
                let mut hit = 0;
                for c in &r.changes {
                    let (seq, made) = self.make(c).await?;
                    let made = match (c, made) {
                        // exec refused or impossible: the pod is deleted instead.
                        (Change::KillContainer { namespace, pod, .. }, Made::Failed { error, .. }) => {
                            tracing::info!(%pod, %error, "exec failed, deleting the pod instead");
                            let del =
                                Change::DeletePod { namespace: namespace.clone(), pod: pod.clone(), force: false };
                            self.make(&del).await?.1
                        }
                        (_, m) => m,
                    };
                    if matches!(made, Made::Ok(_)) {
                        hit += 1;
                    }
                    seqs.extend(seq);
                }
                self.rec.lock().expect("recorder").fault(f.key(), r.target, hit, f.note().map(str::to_string));
                if let Some(after) = r.undo_after_ms {
                    let at = self.now().after(capsize_sim::SimDuration(after));
                    self.undos.push(TimedUndo { at, seqs, fault: f.key().to_string() });
                }
            }
        }
        Ok(())
    }

    async fn timed_undo(&mut self, u: TimedUndo) -> Result<(), DriveError> {
        let entries = journal::read(self.journal.path())?;
        for (seq, change, undo) in journal::pending(&entries).into_iter().filter(|(s, _, _)| u.seqs.contains(s)) {
            let result = match self.cluster.undo(&undo).await {
                Ok(r) => {
                    self.journal.write(&Entry::Undone { seq, result: r.clone() })?;
                    Ok(r)
                }
                Err(e) => Err(e.to_string()),
            };
            let now = self.now();
            self.rec.lock().expect("recorder").action(
                now,
                &format!("{} ends", u.fault),
                format!("undo {change}"),
                result,
                false,
            );
        }
        Ok(())
    }

    async fn consult(&mut self, policy: &mut dyn Policy) -> Result<Option<SimTime>, DriveError> {
        let decision: Decision = {
            let mut rec = self.rec.lock().expect("recorder");
            self.alerts.evaluate(&mut rec, self.scenario, &self.topo);
            let view = RealView {
                rec: &rec,
                scenario: self.scenario,
                seed: self.opts.seed,
                alerts: self.alerts.firing(self.scenario),
            };
            policy.decide(&view)
        };
        if let Some(e) = decision.error {
            return Err(DriveError::Api(format!("the policy failed: {e}")));
        }
        let now = self.now();
        for u in decision.unresolved {
            self.rec.lock().expect("recorder").action(now, &u.by, u.action, Err(u.error), true);
        }
        for req in decision.actions {
            let snap = Snapshot::take(&self.cluster.client, &self.cluster.scope).await?;
            let issued = self.now();
            let action = req.action.to_string();
            if let capsize_sim::Action::DrainNode { node, timeout_s } = &req.action {
                match self.map.real(node, &snap) {
                    None => {
                        let e = format!("Error from server (NotFound): nodes \"{node}\" not found");
                        self.rec.lock().expect("recorder").action(issued, &req.by, action, Err(e), true);
                    }
                    Some(real) => {
                        let (changes, left) = plan::drain_changes(&real, &snap);
                        let deadline = timeout_s.map(|t| issued.after(capsize_sim::SimDuration::secs(t)));
                        self.drains.push(DrainRt {
                            by: req.by.clone(),
                            action,
                            issued,
                            pending: changes,
                            next_try: issued,
                            deadline,
                            left,
                            refusals: 0,
                        });
                    }
                }
                continue;
            }
            let outcome = match plan::changes_for_action(&req.action, &snap, &self.map, &self.cluster.commands) {
                Err(e) => Err(e),
                Ok(changes) => {
                    let mut out = Ok(String::new());
                    for c in &changes {
                        match self.make(c).await?.1 {
                            Made::Ok(s) => out = out.map(|_| s),
                            Made::Failed { error, .. } => out = Err(error),
                        }
                    }
                    out
                }
            };
            self.rec.lock().expect("recorder").action(issued, &req.by, action, outcome, true);
        }
        Ok(decision.wake_at)
    }

    /// Tries every drain whose retry is due: the cordon and the evictions a budget allows;
    /// a drain that is done, or past its `--timeout`, is recorded.
    async fn drains(&mut self) -> Result<(), DriveError> {
        let now = self.now();
        let mut k = 0;
        while k < self.drains.len() {
            if self.drains[k].next_try > now {
                k += 1;
                continue;
            }
            let pending = std::mem::take(&mut self.drains[k].pending);
            let mut still = Vec::new();
            for c in pending {
                match self.make(&c).await?.1 {
                    Made::Failed { status: Some(429), .. } => {
                        self.drains[k].refusals += 1;
                        still.push(c);
                    }
                    Made::Failed { error, .. } => self.drains[k].left.push(format!("{c}: {error}")),
                    Made::Ok(_) => {}
                }
            }
            let d = &mut self.drains[k];
            d.pending = still;
            let timed_out = d.deadline.is_some_and(|t| now >= t);
            if d.pending.is_empty() || timed_out {
                let d = self.drains.remove(k);
                let outcome = if d.pending.is_empty() {
                    let mut s = "drained".to_string();
                    if !d.left.is_empty() {
                        s.push_str(&format!(" (left: {})", d.left.join("; ")));
                    }
                    Ok(s)
                } else {
                    Err(format!(
                        "drain did not complete within its timeout: {} eviction(s) refused by a disruption budget ({} refusals)",
                        d.pending.len(),
                        d.refusals
                    ))
                };
                self.rec.lock().expect("recorder").action(d.issued, &d.by, d.action, outcome, true);
            } else {
                d.next_try = now.after(capsize_sim::SimDuration(EVICTION_RETRY.as_millis() as u64));
                k += 1;
            }
        }
        Ok(())
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn signalled() -> &'static str {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted (SIGINT)",
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => "terminated (SIGTERM)",
    }
}

/// Plans, and with `opts.yes` drives the scenario, observes, scores and rolls back.
pub async fn drive(
    cluster: &Cluster,
    scenario: &Scenario,
    policy: &mut dyn Policy,
    opts: &DriveOptions,
) -> Result<Outcome, DriveError> {
    let plan = plan(cluster, scenario, opts).await?;
    if !plan.problems.is_empty() {
        return Err(DriveError::Unplannable(format!(
            "{} problem(s); nothing was changed\n\n{}",
            plan.problems.len(),
            plan.render()
        )));
    }
    if !opts.yes {
        return Ok(Outcome::Planned(plan));
    }
    let end_ms = plan.duration_ms;
    let header = Entry::Header {
        version: journal::JOURNAL_VERSION,
        context: cluster.scope.context.clone(),
        kubeconfig: opts.kubeconfig.as_ref().map(|p| p.display().to_string()),
        namespaces: cluster.scope.namespaces.clone(),
        scenario: scenario.metadata.name.clone(),
        started: journal::now_rfc3339(),
        pid: std::process::id(),
        expires_at: cluster.expires_at.clone(),
    };
    let journal = Journal::create(&opts.journal, header)?;
    let snap = Snapshot::take(&cluster.client, &cluster.scope).await?;
    let map = NodeMap::new(scenario, &snap, &opts.node_map);
    let rec: SharedRecorder = Arc::new(Mutex::new(Recorder::new(scenario, map.clone())));
    let watchers = spawn_watchers(&cluster.client, &cluster.scope.namespaces, &rec);
    // The clock starts once every watcher has listed the cluster (or after 10 s): what they
    // listed is the state at time zero.
    for _ in 0..100 {
        if rec.lock().expect("recorder").synced >= watchers.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rec.lock().expect("recorder").start_clock();
    let clock = std::time::Instant::now();
    let mut probes = Vec::new();
    for t in &opts.probes {
        let summary = Arc::new(Mutex::new(crate::probe::ProbeSummary {
            service: t.service.clone(),
            url: t.url.to_string(),
            ..Default::default()
        }));
        probes.push((tokio::spawn(crate::probe::run(t.clone(), clock, summary.clone())), summary));
    }
    let mut run = Run {
        cluster,
        scenario,
        opts,
        journal,
        rec: rec.clone(),
        map,
        alerts: Alerts::default(),
        topo: Topology::new(scenario),
        undos: Vec::new(),
        drains: Vec::new(),
    };
    let stopped = {
        let body = drive_loop(&mut run, policy, end_ms);
        tokio::select! {
            r = body => match r { Ok(()) => None, Err(e) => Some(format!("error: {e}")) },
            why = signalled() => Some(why.to_string()),
        }
    };
    if let Some(why) = &stopped {
        tracing::warn!(%why, "the drive stops early; rolling back");
    }
    // The rollback runs whatever happened; a second Ctrl-C leaves the rest to `capsize rollback`.
    let path = opts.journal.clone();
    let report = tokio::select! {
        r = rollback(cluster, &path) => r,
        why = signalled() => Err(DriveError::Incomplete(format!(
            "{why} during the rollback: run `capsize rollback {}` to finish it", path.display()))),
    };
    // Let the watchers see the restored state, then stop them.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for w in watchers {
        w.abort();
    }
    let report = report?;
    let history = rec.lock().expect("recorder").finish();
    let mut result = capsize_sim::score::evaluate(scenario, &opts.policy_name, opts.seed, &history);
    result.mode = Mode::Real;
    for (task, summary) in probes {
        task.abort();
        result.probes.push(summary.lock().expect("probe summary").clone());
    }
    result.error = stopped.clone();
    Ok(Outcome::Driven(Box::new(Driven { plan, result, history, rollback: report, journal: path, stopped })))
}

/// The drive's clock: the next fault, timed undo, drain retry or policy look, until the end.
async fn drive_loop(run: &mut Run<'_>, policy: &mut dyn Policy, end_ms: u64) -> Result<(), DriveError> {
    let start = &run.scenario.spec.start;
    let mut faults: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, f) in run.scenario.spec.faults.iter().enumerate() {
        let at = f.at().resolve(start).ms();
        if at < end_ms {
            faults.entry(at).or_default().push(i);
        }
    }
    let eval = run.scenario.spec.monitoring.evaluation_interval.ms().max(1000);
    let mut next_look = SimTime::ZERO;
    let mut wake: Option<SimTime> = None;
    loop {
        let now = run.now();
        if now.ms() >= end_ms {
            return Ok(());
        }
        if let Some((&at, _)) = faults.iter().next()
            && at <= now.ms()
        {
            for i in faults.remove(&at).unwrap_or_default() {
                run.fault(i).await?;
            }
            continue;
        }
        if let Some(k) = run.undos.iter().position(|u| u.at <= now) {
            let u = run.undos.remove(k);
            run.timed_undo(u).await?;
            continue;
        }
        if run.drains.iter().any(|d| d.next_try <= now) {
            run.drains().await?;
            continue;
        }
        if next_look <= now || wake.is_some_and(|w| w <= now) {
            if next_look <= now {
                next_look = SimTime(next_look.ms() + eval);
            }
            wake = run.consult(policy).await?.filter(|&w| w > now);
            continue;
        }
        let next = [
            faults.keys().next().copied(),
            run.undos.iter().map(|u| u.at.ms()).min(),
            run.drains.iter().map(|d| d.next_try.ms()).min(),
            Some(next_look.ms()),
            wake.map(|w| w.ms()),
            Some(end_ms),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(end_ms);
        tokio::time::sleep(Duration::from_millis(next.saturating_sub(run.now().ms()).max(1))).await;
    }
}
