//! `capsize search`: draw fault schedules from a budget, find ones that break the scenario's
//! expectations, shrink each to a local minimum, and write it as a scenario that reproduces it.
//!
//! A budget (`kind: Budget`) lists fault templates: faults as a scenario writes them, whose
//! time, duration, count and target may be distributions (`pool: worker` with `pick: one`
//! draws a node). A try draws how many faults (1 to `maxFaults`), which templates, and their
//! values, adds them to the scenario, and runs it once with the scenario's seed. A try that
//! breaks an expectation is shrunk: the shrinker tries its moves in order (drop a fault, fewer
//! targets, shorter, earlier) and keeps the first that still fails, until none does. Every move
//! makes the schedule smaller in (faults, targets, fault-seconds, seconds after the template's
//! earliest time), so shrinking ends; the result is a local minimum for those moves.
//!
//! Determinism: the tries are drawn from the search's seed alone, each run from the scenario's
//! seed; the same inputs find and shrink the same schedules. `--time` stops the search by the
//! wall clock, so a search it stops depends on the machine; `--runs` does not.

use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use capsize_sim::rng::{ChaCha8Rng, index, keyed_stream};
use capsize_sim::spec::{Drawn, FaultSpec, Metadata, Pick, Scenario, TimeDraw};
use capsize_sim::time::{At, SimDuration, SimTime};
use capsize_sim::{RunOptions, RunResult};

use crate::expect::Expectation;
use crate::load::{self, LoadError, LoadedScenario, Prepared, SourceFile};
use crate::yaml::{self, Value};

/// The most faults one schedule may hold.
pub const MAX_FAULTS: u32 = 50;
/// The most tries a search may make.
pub const MAX_TRIES: u64 = 10_000_000;
/// The most runs the shrinking of one schedule may take (it ends far sooner in practice).
const MAX_SHRINK_RUNS: u64 = 20_000;

/// A budget file.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BudgetFile {
    /// Must be `capsize.dev/v1alpha1`.
    pub api_version: String,
    /// Must be `Budget`.
    pub kind: String,
    /// Name and description.
    pub metadata: Metadata,
    /// What may go wrong, and what must hold.
    pub spec: BudgetSpec,
}

/// What a search may add to the scenario, and what must hold.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BudgetSpec {
    /// The most faults one schedule adds (each try draws 1 to this many).
    pub max_faults: u32,
    /// Fault templates, written as in a scenario; a distribution (`at: {from, to}`, `for: {min,
    /// max}`, `count: {min, max}`, `pool` with `pick`) is drawn per try.
    pub faults: Vec<FaultSpec>,
    /// What must hold, as in a suite (`web availability >= 99.9%`); when omitted, no service
    /// may have an outage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<String>,
    /// Schedules to try (`--runs` overrides).
    #[serde(default = "default_tries")]
    pub tries: u64,
}

fn default_tries() -> u64 {
    1000
}

/// A budget, read and checked against the scenario it searches.
pub struct LoadedBudget {
    /// The file.
    pub file: SourceFile,
    /// Its contents.
    pub budget: BudgetFile,
    /// What must hold: as written, parsed.
    pub expectations: Vec<(String, Expectation)>,
}

/// Reads a budget and checks it against `prepared` (the scenario under the searched policy):
/// every template must be a fault the scenario could hold (targets that exist, distributions
/// that fit the run), every expectation must name what exists. Problems carry the budget's
/// file, line and column.
pub fn load_budget(path: &Path, prepared: &Prepared) -> Result<LoadedBudget, LoadError> {
    let (file, budget) = load::read_typed::<BudgetFile>(path, "Budget")?;
    let at = |p: &str, m: String| file.at(&yaml::parse_path(p), m);
    let mut diagnostics = Vec::new();
    let spec = &budget.spec;
    if spec.faults.is_empty() {
        diagnostics.push(at("spec.faults", "a budget needs at least one fault template".into()));
    }
    if spec.max_faults == 0 || spec.max_faults > MAX_FAULTS {
        diagnostics.push(at("spec.maxFaults", format!("give between 1 and {MAX_FAULTS} faults")));
    }
    if spec.tries == 0 || spec.tries > MAX_TRIES {
        diagnostics.push(at("spec.tries", format!("give between 1 and {MAX_TRIES} tries")));
    }
    // The templates are checked as the scenario's own faults would be: appended to it.
    let mut trial = prepared.scenario.clone();
    let base = trial.spec.faults.len();
    trial.spec.faults.extend(spec.faults.iter().cloned());
    if let Err(errors) = capsize_sim::validate(&trial) {
        for e in errors {
            match e.path.as_slice() {
                [
                    capsize_sim::PathSeg::Key(s),
                    capsize_sim::PathSeg::Key(f),
                    capsize_sim::PathSeg::Index(i),
                    rest @ ..,
                ] if s == "spec" && f == "faults" && *i >= base => {
                    let mut p = vec![
                        capsize_sim::PathSeg::Key("spec".into()),
                        capsize_sim::PathSeg::Key("faults".into()),
                        capsize_sim::PathSeg::Index(i - base),
                    ];
                    p.extend(rest.iter().cloned());
                    diagnostics.push(file.at(&p, e.message));
                }
                // The scenario alone is valid: anything else comes of adding the templates.
                _ => diagnostics.push(at(
                    "spec.faults",
                    format!(
                        "with these templates the scenario is invalid: {}: {}",
                        capsize_sim::validate::display_path(&e.path),
                        e.message
                    ),
                )),
            }
        }
    }
    let mut expectations = Vec::new();
    for (j, line) in spec.expect.iter().enumerate() {
        match Expectation::parse(line).map_err(|e| e.to_string()).and_then(|x| x.names_what_exists(&prepared.scenario))
        {
            Ok(x) => expectations.push((line.clone(), x)),
            Err(m) => diagnostics.push(at(&format!("spec.expect[{j}]"), m)),
        }
    }
    if expectations.is_empty() && spec.expect.is_empty() {
        for name in capsize_sim::traffic::Topology::new(&prepared.scenario).names {
            let line = format!("{name} outages == 0");
            let x = Expectation::parse(&line).expect("a well-formed expectation");
            expectations.push((line, x));
        }
    }
    if !diagnostics.is_empty() {
        diagnostics.sort_by_key(|d| (d.line, d.column));
        return Err(LoadError { diagnostics });
    }
    Ok(LoadedBudget { file, budget, expectations })
}

/// One fault of a schedule, and the template it was drawn from (its earliest time bounds the
/// shrinker's moves).
#[derive(Clone, Debug, Serialize)]
pub struct Planned {
    /// Index of the template in the budget.
    pub template: usize,
    /// The fault, every value fixed.
    pub fault: FaultSpec,
}

/// An expectation that did not hold, and what was measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Broken {
    /// As written.
    pub expectation: String,
    /// What the run gave.
    pub measured: String,
}

/// A failing schedule, as drawn and as shrunk.
#[derive(Clone, Debug, Serialize)]
pub struct Found {
    /// The try that drew it (0-based).
    pub try_index: u64,
    /// As drawn.
    pub drawn: Vec<Planned>,
    /// As shrunk: a local minimum that still fails.
    pub shrunk: Vec<Planned>,
    /// What the shrunk schedule breaks.
    pub broken: Vec<Broken>,
    /// Runs the shrinking took.
    pub shrink_runs: u64,
    /// The shrinking stopped at its run limit before a local minimum.
    pub shrink_cut: bool,
}

/// What a search did.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// Tries made.
    pub tries: u64,
    /// Runs made in all (tries and shrinking).
    pub runs: u64,
    /// The search stopped at `--time`.
    pub stopped_by_time: bool,
    /// The scenario breaks its expectations with no fault added (nothing was searched).
    pub fails_without_faults: Option<Vec<Broken>>,
    /// The failing schedules, shrunk, distinct.
    pub found: Vec<Found>,
}

/// A search to run.
pub struct Search<'a> {
    /// The scenario under the searched policy.
    pub prepared: &'a Prepared,
    /// The budget.
    pub budget: &'a LoadedBudget,
    /// Seed of the tries' draws.
    pub seed: u64,
    /// Tries to make.
    pub tries: u64,
    /// Stop drawing new tries after this instant.
    pub deadline: Option<Instant>,
    /// Stop after this many distinct failing schedules.
    pub find: usize,
}

/// The search's stream of draws (a constant, like the simulator's per-subsystem streams).
const SEARCH_STREAM: u64 = 0x7365_6172_6368;

impl Search<'_> {
    /// Whether `schedule` added to the scenario breaks an expectation, and which.
    pub fn fails(&self, schedule: &[Planned]) -> Option<Vec<Broken>> {
        let broken = self.judge(&self.run(schedule));
        (!broken.is_empty()).then_some(broken)
    }

    fn run(&self, schedule: &[Planned]) -> RunResult {
        let mut scenario = self.prepared.scenario.clone();
        scenario.spec.faults.extend(schedule.iter().map(|p| p.fault.clone()));
        let mut policy = self.prepared.policy.clone();
        capsize_sim::simulate(&scenario, &self.prepared.policy_name, &mut policy, &RunOptions::default())
            .unwrap_or_else(|e| unreachable!("a checked template gave an invalid fault: {e:?}"))
    }

    fn judge(&self, r: &RunResult) -> Vec<Broken> {
        self.budget
            .expectations
            .iter()
            .filter_map(|(text, x)| {
                let (held, measured) = x.judge(r);
                (!held).then(|| Broken { expectation: text.clone(), measured })
            })
            .collect()
    }

    /// Draws tries until `find` distinct failing schedules are shrunk, the tries are spent or
    /// the deadline passes.
    pub fn run_search(&self) -> Outcome {
        let mut out =
            Outcome { tries: 0, runs: 1, stopped_by_time: false, fails_without_faults: None, found: Vec::new() };
        if let Some(b) = self.fails(&[]) {
            out.fails_without_faults = Some(b);
            return out;
        }
        let mut rng = keyed_stream(self.seed, SEARCH_STREAM);
        for t in 0..self.tries {
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                out.stopped_by_time = true;
                break;
            }
            out.tries += 1;
            let drawn = self.draw(&mut rng);
            out.runs += 1;
            if self.fails(&drawn).is_none() {
                continue;
            }
            let (shrunk, shrink_runs, shrink_cut) = self.shrink(drawn.clone());
            out.runs += shrink_runs;
            // The spec types have no `PartialEq`: schedules are told apart by their content.
            if out.found.iter().any(|f| schedule_text(&f.shrunk) == schedule_text(&shrunk)) {
                continue;
            }
            let broken = self.fails(&shrunk).expect("a shrunk schedule fails");
            out.found.push(Found { try_index: t, drawn, shrunk, broken, shrink_runs, shrink_cut });
            if out.found.len() >= self.find {
                break;
            }
        }
        out
    }

    /// One try: 1 to `maxFaults` templates, each drawn.
    fn draw(&self, rng: &mut ChaCha8Rng) -> Vec<Planned> {
        let spec = &self.budget.budget.spec;
        let n = 1 + index(rng, spec.max_faults as usize);
        let start = &self.prepared.scenario.spec.start;
        let mut out = Vec::new();
        for _ in 0..n {
            let template = index(rng, spec.faults.len());
            let mut f = spec.faults[template].clone();
            let (lo, _) = f.time().bounds(start);
            f.realize(start, rng);
            // Whole seconds read better and are what the shrinker moves by.
            let t = f.time().value().resolve(start);
            *f.time_mut() = TimeDraw::Fixed(self.at(SimTime(lo.0.max(t.0 / 1000 * 1000))));
            if let Some(d) = duration_of(&f) {
                set_duration(&mut f, SimDuration((d.0 / 1000).max(1) * 1000));
            }
            for f in self.concrete_targets(f, rng) {
                out.push(Planned { template, fault: f });
            }
        }
        out
    }

    /// A time as the written scenario shows it: a clock time when the run is shorter than a
    /// day (so it reads like the incident's timeline), else an offset.
    fn at(&self, t: SimTime) -> At {
        let spec = &self.prepared.scenario.spec;
        if spec.duration < SimDuration::hours(24) {
            At::Clock(spec.start.clock_at(t))
        } else {
            At::Offset(SimDuration(t.0))
        }
    }

    /// A template's pool and pick, drawn: one fault per node picked, naming it.
    fn concrete_targets(&self, f: FaultSpec, rng: &mut ChaCha8Rng) -> Vec<FaultSpec> {
        let Some(t) = f.target_fields() else { return vec![f] };
        let (Some(pool), None) = (t.pool.map(str::to_string), t.node) else { return vec![f] };
        let pick = t.pick.unwrap_or(Pick::All);
        let mut names: Vec<String> = self
            .prepared
            .scenario
            .spec
            .cluster
            .nodes
            .iter()
            .filter(|p| p.pool == pool)
            .flat_map(|p| (1..=p.count).map(move |k| format!("{}-{k}", p.pool)))
            .collect();
        let take = pick.how_many(names.len());
        let mut chosen = Vec::new();
        for _ in 0..take {
            chosen.push(names.remove(index(rng, names.len())));
        }
        chosen.sort();
        chosen
            .into_iter()
            .map(|n| {
                let mut g = f.clone();
                g.aim_at_node(&n);
                g
            })
            .collect()
    }

    /// Shrinks a failing schedule to a local minimum of [`Search::moves`].
    fn shrink(&self, mut schedule: Vec<Planned>) -> (Vec<Planned>, u64, bool) {
        let mut runs = 0;
        'outer: loop {
            for candidate in self.moves(&schedule) {
                if runs >= MAX_SHRINK_RUNS {
                    return (schedule, runs, true);
                }
                runs += 1;
                if self.fails(&candidate).is_some() {
                    schedule = candidate;
                    continue 'outer;
                }
            }
            return (schedule, runs, false);
        }
    }

    /// Every schedule one move smaller than `schedule`, in the order the shrinker tries them:
    /// without one fault; one target fewer; a fault half as long, or 10 % shorter; a fault
    /// halfway to its template's earliest time, or a minute earlier.
    pub fn moves(&self, schedule: &[Planned]) -> Vec<Vec<Planned>> {
        let start = &self.prepared.scenario.spec.start;
        let mut out = Vec::new();
        let with = |i: usize, f: FaultSpec| {
            let mut s = schedule.to_vec();
            s[i].fault = f;
            s
        };
        for i in 0..schedule.len() {
            let mut s = schedule.to_vec();
            s.remove(i);
            out.push(s);
        }
        for (i, p) in schedule.iter().enumerate() {
            for f in fewer_targets(&p.fault) {
                out.push(with(i, f));
            }
        }
        for (i, p) in schedule.iter().enumerate() {
            if let Some(d) = duration_of(&p.fault) {
                let secs = d.0 / 1000;
                let mut shorter: Vec<u64> = vec![secs / 2, secs - (secs / 10).max(1)];
                shorter.retain(|&s| s >= 1 && s < secs);
                shorter.dedup();
                for s in shorter {
                    let mut f = p.fault.clone();
                    set_duration(&mut f, SimDuration::secs(s));
                    out.push(with(i, f));
                }
            }
        }
        for (i, p) in schedule.iter().enumerate() {
            let (lo, _) = self.budget.budget.spec.faults[p.template].time().bounds(start);
            let t = p.fault.time().value().resolve(start);
            let mut earlier: Vec<u64> =
                vec![lo.0 + (t.0 - lo.0) / 2 / 1000 * 1000, t.0.saturating_sub(60_000).max(lo.0)];
            earlier.retain(|&e| e < t.0);
            earlier.dedup();
            for e in earlier {
                let mut f = p.fault.clone();
                *f.time_mut() = TimeDraw::Fixed(self.at(SimTime(e)));
                out.push(with(i, f));
            }
        }
        out
    }

    /// The scenario that reproduces `found`: the scenario's own document with the shrunk faults
    /// appended, renamed, its policy files pointed at from `out_dir`.
    pub fn scenario_yaml(&self, loaded: &LoadedScenario, found: &Found, out_dir: &Path) -> String {
        let mut doc = loaded.value.clone();
        let name = format!("{}-found-{}", self.prepared.scenario.metadata.name, found.try_index);
        let broken: Vec<&str> = found.broken.iter().map(|b| b.expectation.as_str()).collect();
        let description = format!(
            "Found by `capsize search` with the budget {} (seed {}, try {}) under the policy {}: the last {} fault(s) \
             break `{}`.",
            self.budget.budget.metadata.name,
            self.seed,
            found.try_index,
            self.prepared.policy_name,
            found.shrunk.len(),
            broken.join("`, `")
        );
        if let Some(m) = doc.get_mut("metadata").and_then(Value::as_mapping_mut) {
            m.insert("name".into(), name.into());
            m.insert("description".into(), description.into());
        }
        let scenario_dir = loaded.file.path.parent().unwrap_or(Path::new("."));
        if let Some(spec) = doc.get_mut("spec").and_then(Value::as_mapping_mut) {
            if let Some(Value::Sequence(ps)) = spec.get_mut("policies") {
                for p in ps.iter_mut() {
                    if let Some(s) = p.as_str() {
                        *p = relative_to(&scenario_dir.join(s), out_dir).display().to_string().into();
                    }
                }
            }
            let faults = spec.entry("faults".into()).or_insert_with(|| Value::Sequence(Vec::new()));
            if let Value::Sequence(list) = faults {
                for p in &found.shrunk {
                    // Through JSON: serde_yaml writes an enum as a YAML tag (`!kubeletDown`), a
                    // scenario as a one-key mapping.
                    let json = serde_json::to_value(&p.fault).expect("a fault serializes");
                    list.push(serde_yaml::to_value(json).expect("JSON is YAML"));
                }
            }
        }
        let mut text = format!(
            "# Written by capsize search: the scenario {} with the failing schedule it found, shrunk.\n\
             # Run it with: capsize run FILE --policy {}\n",
            loaded.file.path.display(),
            self.prepared.policy_name
        );
        text.push_str(&serde_yaml::to_string(&doc).expect("a document serializes"));
        text
    }
}

/// `path` written relative to `dir` (both made absolute first), so a written scenario finds
/// its policy files wherever it is written.
fn relative_to(path: &Path, dir: &Path) -> PathBuf {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (path, dir) = (abs(path), abs(dir));
    let (a, b): (Vec<Component>, Vec<Component>) = (path.components().collect(), dir.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &a[common..] {
        out.push(c);
    }
    out
}

/// A fault's length, for the faults that have one.
fn duration_of(f: &FaultSpec) -> Option<SimDuration> {
    match f {
        FaultSpec::NetworkLoss(t) | FaultSpec::NodeOverload(t) => t.for_.map(|d| d.value()),
        _ => None,
    }
}

fn set_duration(f: &mut FaultSpec, d: SimDuration) {
    if let FaultSpec::NetworkLoss(t) | FaultSpec::NodeOverload(t) = f {
        t.for_ = Some(Drawn::Fixed(d));
    }
}

/// The fault with one target fewer: a container fewer crashed, a node fewer of those its
/// selector picks or it names.
fn fewer_targets(f: &FaultSpec) -> Vec<FaultSpec> {
    let mut out = Vec::new();
    let mut g = f.clone();
    if let Some(pick) = g.pick_mut()
        && let Some(Pick::Count(k)) = *pick
        && k > 1
    {
        *pick = Some(Pick::Count(k - 1));
        out.push(g);
    }
    match f {
        FaultSpec::ContainerCrash(c) => {
            if let Some(k) = c.count.map(|k| k.value())
                && k > 1
            {
                let mut g = c.clone();
                g.count = Some(Drawn::Fixed(k - 1));
                out.push(FaultSpec::ContainerCrash(g));
            }
        }
        FaultSpec::NodeFailure(t) if t.nodes.len() > 1 => {
            for i in 0..t.nodes.len() {
                let mut g = t.clone();
                g.nodes.remove(i);
                out.push(FaultSpec::NodeFailure(g));
            }
        }
        _ => {}
    }
    out
}

/// Where a found schedule's scenario is written: `DIR/NAME-found-TRY.yaml`.
pub fn found_path(dir: &Path, scenario: &Scenario, found: &Found) -> PathBuf {
    dir.join(format!("{}-found-{}.yaml", scenario.metadata.name, found.try_index))
}

/// A fault in one line, as a scenario would write it.
pub fn fault_line(f: &FaultSpec) -> String {
    serde_json::to_string(f).expect("a fault serializes")
}

/// The search's outcome for a terminal.
pub fn report(search: &Search<'_>, outcome: &Outcome, written: &[PathBuf]) -> String {
    let p = search.prepared;
    let mut out = format!(
        "search of {} under {} with the budget {}: {} tries, {} runs, seed {}\nmust hold: {}\n\n",
        p.scenario.metadata.name,
        p.policy_name,
        search.budget.budget.metadata.name,
        outcome.tries,
        outcome.runs,
        search.seed,
        search.budget.expectations.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join("; ")
    );
    if let Some(b) = &outcome.fails_without_faults {
        out.push_str("the scenario already fails with no fault added, so nothing was searched:\n");
        for b in b {
            out.push_str(&format!("  {} (measured {})\n", b.expectation, b.measured));
        }
        return out;
    }
    if outcome.found.is_empty() {
        out.push_str(&format!(
            "no schedule of the budget broke them in {} tries{}\n",
            outcome.tries,
            if outcome.stopped_by_time { " (stopped by --time)" } else { "" }
        ));
        return out;
    }
    for (f, path) in outcome.found.iter().zip(written) {
        out.push_str(&format!(
            "try {}: {} fault(s) drawn, shrunk to {} in {} runs{}:\n",
            f.try_index,
            f.drawn.len(),
            f.shrunk.len(),
            f.shrink_runs,
            if f.shrink_cut { " (cut at the run limit: maybe not minimal)" } else { "" }
        ));
        for s in &f.shrunk {
            out.push_str(&format!("  {}\n", fault_line(&s.fault)));
        }
        for b in &f.broken {
            out.push_str(&format!("  breaks: {} (measured {})\n", b.expectation, b.measured));
        }
        out.push_str(&format!("  written: {}\n\n", path.display()));
    }
    out
}

/// A schedule's content as text, to tell schedules apart.
fn schedule_text(schedule: &[Planned]) -> String {
    schedule.iter().map(|p| format!("{:?}\n", p.fault)).collect()
}
