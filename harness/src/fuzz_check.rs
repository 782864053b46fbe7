//! What the fuzzer checks of any input, shared by the fuzz targets (`fuzz/`) and the regression
//! tests of their findings (`tests/tests/hostile_input.rs`), so that a finding is replayed by
//! exactly the check that found it.
//!
//! For every input, of any kind: loading never panics; a refusal names a place (line and column)
//! in the file for every problem. For an input that loads: it is prepared and run for at most
//! [`SHORT_RUN`] events, and every output (table, Markdown, JSON) has availabilities
//! in 0..1 and no NaN or infinity. Time and memory bounds are the fuzzer's (`-timeout`,
//! `-rss_limit_mb`); the tests time their inputs themselves.
//!
//! Nothing an input names is ever executed: a policy with a plug-in (`external`) is loaded and
//! checked, never run, so a mutant cannot start a program.

use std::path::{Path, PathBuf};

use capsize_reports::Format;
use capsize_sim::RunOptions;

use crate::load::{self, LoadError, LoadedScenario, PolicyRt};

/// Events a fuzz input's run may take: a tenth of a run's default budget, so that a mutant
/// that multiplies faults ends in well under a second.
pub const SHORT_RUN: u64 = capsize_sim::DEFAULT_MAX_EVENTS / 10;

/// What kind of file the input is read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A scenario, run under the built-in do-nothing policy.
    Scenario,
    /// A policy, applied to the shipped incident C scenario.
    Policy,
    /// A suite, loaded with everything it names (not run: its cases are whole scenarios).
    Suite,
}

/// How an input fared, when it broke no property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Refused, every problem with its place.
    Refused,
    /// Loaded, and (scenarios and rule policies) run briefly.
    Accepted,
}

/// Where inputs are written: a directory holding the shipped scenarios and policies, so that an
/// input's relative references (`policies/...`, a suite's `scenario:`) resolve as they do in
/// the repository.
#[derive(Debug)]
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A fresh directory with a copy of `scenarios` (the repository's `scenarios/`).
    pub fn new(scenarios: &Path) -> std::io::Result<Workdir> {
        let dir = tempfile::tempdir()?;
        copy_dir(scenarios, dir.path())?;
        Ok(Workdir { dir })
    }

    fn input(&self) -> PathBuf {
        self.dir.path().join("fuzz-input.yaml")
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// A fuzz target's body: checks `data` as a `kind` file in a work directory made once per
/// process from `scenarios`, and panics (which libFuzzer records as a finding) with the
/// property it broke.
pub fn fuzz_one(kind: Kind, scenarios: &Path, data: &[u8]) {
    static WORK: std::sync::OnceLock<Workdir> = std::sync::OnceLock::new();
    let work = WORK.get_or_init(|| Workdir::new(scenarios).expect("a work directory"));
    if let Err(broken) = check(kind, data, work) {
        panic!("{broken}");
    }
}

/// Checks one input: `Err` says which property it broke.
pub fn check(kind: Kind, bytes: &[u8], work: &Workdir) -> Result<Outcome, String> {
    let path = work.input();
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write the input: {e}"))?;
    match kind {
        Kind::Scenario => match load::load_scenario(&path) {
            Err(e) => located(&e, &path),
            Ok(s) => run_short(&s, &load::do_nothing_policy(), &path),
        },
        Kind::Policy => match load::load_policy(&path) {
            Err(e) => located(&e, &path),
            Ok(p) => {
                let base = work.dir.path().join("subpath-configmap.yaml");
                let scenario = load::load_scenario(&base).map_err(|e| format!("the base scenario: {e}"))?;
                run_short(&scenario, &p, &path)
            }
        },
        Kind::Suite => match crate::suite::load_suite(&path) {
            Err(e) => located(&e, &path),
            Ok(_) => Ok(Outcome::Accepted),
        },
    }
}

/// A refusal must name a place for its first problem, and for every problem in the input
/// itself (a problem of a file the input names, such as a scenario that does not exist, may
/// be the whole file's, after the input's own diagnostic that names it).
fn located(e: &LoadError, input: &Path) -> Result<Outcome, String> {
    let Some(first) = e.diagnostics.first() else {
        return Err("a refusal that names no problem".into());
    };
    if first.line.is_none() {
        return Err(format!("a refusal whose first problem has no place: {first}"));
    }
    match e.diagnostics.iter().find(|d| d.line.is_none() && d.file == input) {
        Some(d) => Err(format!("a problem of the input without a place: {d}")),
        None => Ok(Outcome::Refused),
    }
}

fn run_short(scenario: &LoadedScenario, policy: &load::LoadedPolicy, input: &Path) -> Result<Outcome, String> {
    let prepared = match load::prepare(scenario, policy) {
        Err(e) => return located(&e, input),
        Ok(p) => p,
    };
    if matches!(prepared.policy, PolicyRt::External(_)) {
        return Ok(Outcome::Accepted);
    }
    let result = crate::runner::run(
        prepared,
        &RunOptions { seed: None, timeline: true, series: true, max_events: Some(SHORT_RUN) },
    );
    for format in [Format::Table, Format::Markdown, Format::Json] {
        let text = capsize_reports::render_run(&result, format);
        for bad in ["NaN", "inf%", "-inf", "infinity"] {
            if text.contains(bad) {
                return Err(format!("`{bad}` in the {format:?} output"));
            }
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&capsize_reports::run_json(&result)).map_err(|e| format!("the JSON output: {e}"))?;
    availabilities_in_range(&json, "")?;
    Ok(Outcome::Accepted)
}

/// Every number under a key that names an availability is in 0..=1 (serde_json writes NaN as
/// null: a null there is a NaN).
fn availabilities_in_range(v: &serde_json::Value, key: &str) -> Result<(), String> {
    match v {
        serde_json::Value::Object(m) => m.iter().try_for_each(|(k, v)| availabilities_in_range(v, k)),
        serde_json::Value::Array(a) if key.contains("availability") => {
            a.iter().try_for_each(|v| availabilities_in_range(v, key))
        }
        serde_json::Value::Array(a) => a.iter().try_for_each(|v| availabilities_in_range(v, "")),
        serde_json::Value::Number(n) if key.contains("availability") => match n.as_f64() {
            Some(x) if (0.0..=1.0).contains(&x) => Ok(()),
            other => Err(format!("{key} = {other:?}, outside 0..1")),
        },
        serde_json::Value::Null if key.contains("availability") => Err(format!("{key} is null (NaN)")),
        _ => Ok(()),
    }
}
