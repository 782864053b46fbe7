//! Suites for `capsize check`: scenarios x policies x seeds with expectations, and a baseline
//! of earlier results to compare against.
//!
//! A case fails when an expectation does not hold, when a fault of its scenario hit nothing
//! (the drill did not test what it says), when the suite says the policy must act and it did
//! not, when it regressed against the baseline beyond the tolerance, or when its run could not
//! be completed. The exit code follows: 0 every case passed, 1 one failed, 2 invalid input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use capsize_reports::{CaseReport, CheckReport, CheckResult, human_duration};
use capsize_sim::spec::Metadata;
use capsize_sim::time::SimDuration;
use capsize_sim::{RunOptions, RunResult};

use crate::expect::{Expectation, Op};
use crate::load::{self, LoadError, LoadedScenario, Prepared, SourceFile};
use crate::runner;
use crate::yaml;

/// A suite file.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SuiteFile {
    /// Must be `capsize.dev/v1alpha1`.
    pub api_version: String,
    /// Must be `Suite`.
    pub kind: String,
    /// Name and description.
    pub metadata: Metadata,
    /// The cases.
    pub spec: SuiteSpec,
}

/// What a suite runs and expects.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SuiteSpec {
    /// Earlier results (a file `check --update-baseline` writes), relative to the suite file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<PathBuf>,
    /// How far a case may fall behind its baseline before it fails.
    #[serde(default)]
    pub tolerance: Tolerance,
    /// The cases.
    pub cases: Vec<CaseSpec>,
}

/// Allowed regressions against the baseline.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Tolerance {
    /// Availability may drop by this much (0.0005 = 0.05 percentage points).
    pub availability: f64,
    /// Downtime may grow by this much.
    pub downtime: SimDuration,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance { availability: 0.0005, downtime: SimDuration::secs(60) }
    }
}

/// One scenario under one policy, for one or more seeds.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CaseSpec {
    /// Scenario file, relative to the suite file.
    pub scenario: PathBuf,
    /// A policy the scenario lists (by name), or a policy file relative to the suite file.
    pub policy: String,
    /// Seeds to run (the scenario's own when omitted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<u64>,
    /// Expectations, one per line: `SERVICE availability >= 0.999`, `SERVICE downtime <= 15m`,
    /// `SERVICE outages == 0`, `spend <= 120`, `no leaderless period`, `actions >= 1`, `no
    /// failed actions`, `node NODE NotReady <= 6m`, `node NODE DiskPressure <= 10m`.
    #[serde(default)]
    pub expect: Vec<String>,
    /// The policy must act at least once (a rule that never fired is a failure).
    #[serde(default)]
    pub must_act: bool,
    /// Faults that hit nothing are expected (off by default: such a case fails).
    #[serde(default)]
    pub allow_unmatched_faults: bool,
}

/// A suite, loaded and checked: every scenario and policy resolved, every expectation parsed
/// and naming what exists.
pub struct LoadedSuite {
    /// The file.
    pub file: SourceFile,
    /// Its contents.
    pub suite: SuiteFile,
    /// Per case: the scenario, the policy, the parsed expectations.
    cases: Vec<(Arc<LoadedScenario>, Arc<load::LoadedPolicy>, Vec<Expectation>)>,
}

fn at(file: &SourceFile, path: &str, message: impl Into<String>) -> load::Diagnostic {
    file.at(&yaml::parse_path(path), message)
}

/// Reads a suite and everything it names; every problem is reported with its place.
pub fn load_suite(path: &Path) -> Result<LoadedSuite, LoadError> {
    let file = SourceFile::read(path)?;
    let kind = load::peek_kind(&file)?;
    if kind != "Suite" {
        return Err(LoadError {
            diagnostics: vec![at(&file, "kind", format!("expected a Suite file, found kind `{kind}`"))],
        });
    }
    let suite: SuiteFile =
        yaml::parse(&file.text).map_err(|e| LoadError { diagnostics: vec![file.yaml_diagnostic(e)] })?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut diagnostics = Vec::new();
    let mut cases = Vec::new();
    if suite.spec.cases.is_empty() {
        diagnostics.push(at(&file, "spec.cases", "a suite needs at least one case"));
    }
    if !(0.0..=1.0).contains(&suite.spec.tolerance.availability) {
        diagnostics.push(at(&file, "spec.tolerance.availability", "a tolerance on availability is between 0 and 1"));
    }
    // Each scenario, policy and pairing is loaded once, however many cases name it, and its
    // own errors are reported once, under the first case that names it: a suite of thousands of
    // cases costs thousands of look-ups, not thousands of parses.
    let mut scenarios: BTreeMap<PathBuf, Option<Arc<LoadedScenario>>> = BTreeMap::new();
    let mut policies: BTreeMap<(PathBuf, String), Option<Arc<load::LoadedPolicy>>> = BTreeMap::new();
    let mut merged_of: BTreeMap<(PathBuf, String), Option<capsize_sim::Scenario>> = BTreeMap::new();
    for (i, c) in suite.spec.cases.iter().enumerate() {
        let scenario_path = dir.join(&c.scenario);
        let scenario =
            scenarios.entry(scenario_path.clone()).or_insert_with(|| match load::load_scenario(&scenario_path) {
                Ok(s) => Some(Arc::new(s)),
                Err(e) => {
                    diagnostics.push(at(
                        &file,
                        &format!("spec.cases[{i}].scenario"),
                        format!("the scenario `{}` cannot be used (its errors follow)", c.scenario.display()),
                    ));
                    diagnostics.extend(e.diagnostics);
                    None
                }
            });
        let Some(scenario) = scenario.clone() else {
            continue;
        };
        let key = (scenario_path.clone(), c.policy.clone());
        let policy = policies.entry(key.clone()).or_insert_with(|| {
            let as_file = dir.join(&c.policy);
            let policy = if as_file.is_file() {
                load::load_policy(&as_file)
            } else {
                // The scenario's listed policies (their own errors, if any, are reported as they are).
                load::select_policies(&scenario, std::slice::from_ref(&c.policy)).map(|mut v| v.remove(0)).map_err(
                    |mut e| {
                        let here = format!("spec.cases[{i}].policy");
                        let message = format!(
                            "`{}` is neither a policy file next to the suite nor a policy `{}` lists (see below)",
                            c.policy,
                            c.scenario.display()
                        );
                        e.diagnostics.insert(0, at(&file, &here, message));
                        e
                    },
                )
            };
            match policy {
                Ok(p) => Some(Arc::new(p)),
                Err(e) => {
                    diagnostics.extend(e.diagnostics);
                    None
                }
            }
        });
        let Some(policy) = policy.clone() else {
            continue;
        };
        // Expectations name what the run has: the scenario with the policy's patch merged in.
        let merged = merged_of.entry(key).or_insert_with(|| match load::prepare(&scenario, &policy) {
            Ok(p) => Some(p.scenario),
            Err(e) => {
                diagnostics.extend(e.diagnostics);
                None
            }
        });
        let Some(merged) = merged.as_ref() else {
            continue;
        };
        if c.expect.is_empty() && !c.must_act && c.allow_unmatched_faults {
            diagnostics.push(at(
                &file,
                &format!("spec.cases[{i}]"),
                "this case checks nothing: give it an expectation",
            ));
        }
        let mut parsed = Vec::new();
        for (j, line) in c.expect.iter().enumerate() {
            let here = format!("spec.cases[{i}].expect[{j}]");
            match Expectation::parse(line).map_err(|e| e.to_string()).and_then(|x| x.names_what_exists(merged)) {
                Err(m) => diagnostics.push(at(&file, &here, m)),
                Ok(x) => parsed.push(x),
            }
        }
        cases.push((scenario, policy, parsed));
    }
    if !diagnostics.is_empty() {
        return Err(LoadError { diagnostics });
    }
    Ok(LoadedSuite { file, suite, cases })
}

/// Earlier results: per case (`scenario/policy/seed`), per service.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
pub struct Baseline {
    /// Cases by id.
    pub cases: BTreeMap<String, BTreeMap<String, BaselineService>>,
}

/// What the baseline keeps of a service.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub struct BaselineService {
    /// Availability, 0..1.
    pub availability: f64,
    /// Downtime, seconds.
    pub downtime_s: f64,
}

/// A case's key in the baseline: the scenario file and the policy as the suite writes them, and
/// the seed (names inside the files could collide; these cannot within one suite).
fn case_key(spec: &CaseSpec, seed: u64) -> String {
    format!("{} | {} | seed {seed}", spec.scenario.display(), spec.policy)
}

impl LoadedSuite {
    /// Where the baseline lives, if the suite has one.
    pub fn baseline_path(&self) -> Option<PathBuf> {
        let dir = self.file.path.parent().unwrap_or(Path::new("."));
        self.suite.spec.baseline.as_ref().map(|b| dir.join(b))
    }

    /// Runs every case and judges it against its expectations and `baseline`; also returns the
    /// baseline these results make (for `--update-baseline`; runs that did not complete are
    /// left out of it).
    pub fn check(&self, baseline: Option<&Baseline>) -> (CheckReport, Baseline) {
        let mut jobs: Vec<(Prepared, RunOptions, usize)> = Vec::new();
        for (k, (scenario, policy, _)) in self.cases.iter().enumerate() {
            let spec = &self.suite.spec.cases[k];
            let seeds = if spec.seeds.is_empty() { vec![scenario.scenario.spec.seed] } else { spec.seeds.clone() };
            for seed in seeds {
                let prepared = load::prepare(scenario, policy).expect("checked when the suite was loaded");
                jobs.push((
                    prepared,
                    RunOptions { seed: Some(seed), timeline: false, series: false, max_events: None },
                    k,
                ));
            }
        }
        let owners: Vec<usize> = jobs.iter().map(|j| j.2).collect();
        let results = runner::run_each(jobs.into_iter().map(|(p, o, _)| (p, o)).collect());
        let mut cases = Vec::new();
        let mut made = Baseline::default();
        for (r, &k) in results.iter().zip(&owners) {
            let spec = &self.suite.spec.cases[k];
            let key = case_key(spec, r.seed);
            let mut checks: Vec<CheckResult> = Vec::new();
            if !spec.allow_unmatched_faults {
                checks.push(fault_check(r, self.cases[k].0.scenario.spec.faults.len()));
            }
            if spec.must_act {
                let n = r.actions.iter().filter(|a| a.by_policy).count();
                checks.push(CheckResult {
                    expectation: "the policy acts".into(),
                    passed: n > 0,
                    measured: capsize_reports::count(n, "action", "actions"),
                });
            }
            for (line, x) in spec.expect.iter().zip(&self.cases[k].2) {
                let (passed, measured) = x.judge(r);
                checks.push(CheckResult { expectation: line.clone(), passed, measured });
            }
            if let Some(all) = baseline {
                checks.extend(baseline_checks(r, all.cases.get(&key), &key, &self.suite.spec.tolerance));
            }
            if r.error.is_none() {
                let services = r
                    .services
                    .iter()
                    .map(|s| {
                        (s.name.clone(), BaselineService { availability: s.availability, downtime_s: s.downtime_s })
                    })
                    .collect();
                made.cases.insert(key, services);
            }
            cases.push(CaseReport {
                scenario: r.scenario.clone(),
                policy: r.policy.clone(),
                seed: r.seed,
                checks,
                error: r.error.clone(),
            });
        }
        (CheckReport { suite: self.suite.metadata.name.clone(), cases }, made)
    }
}

/// Every fault of the scenario fired and hit something (a drill that hit nothing tested
/// nothing; a run that stopped early did not fire them all).
fn fault_check(r: &RunResult, planned: usize) -> CheckResult {
    let hit = r.faults.iter().filter(|f| f.matched > 0).count();
    let missed: Vec<String> =
        r.faults.iter().filter(|f| f.matched == 0).map(|f| format!("{} {}", f.kind, f.target)).collect();
    CheckResult {
        expectation: "every fault hits something".into(),
        passed: missed.is_empty() && r.faults.len() == planned,
        measured: if planned == 0 {
            "the scenario injects no fault".into()
        } else if !missed.is_empty() {
            format!("hit nothing: {}", missed.join("; "))
        } else if r.faults.len() < planned {
            format!("only {} of {planned} faults fired (the run stopped early)", r.faults.len())
        } else {
            format!("{hit} of {} hit", capsize_reports::count(planned, "fault", "faults"))
        },
    }
}

/// The run against its baseline entry: a missing entry fails (the gate must not silently test
/// nothing), and each service may fall behind by the tolerance at most.
fn baseline_checks(
    r: &RunResult,
    entry: Option<&BTreeMap<String, BaselineService>>,
    key: &str,
    tol: &Tolerance,
) -> Vec<CheckResult> {
    let Some(entry) = entry else {
        return vec![CheckResult {
            expectation: "the case is in the baseline".into(),
            passed: false,
            measured: format!("no entry `{key}` (rewrite it deliberately with `capsize check --update-baseline`)"),
        }];
    };
    let mut checks = Vec::new();
    for s in &r.services {
        let Some(old) = entry.get(&s.name) else {
            checks.push(CheckResult {
                expectation: format!("{} is in the baseline", s.name),
                passed: false,
                measured: format!("no entry for it under `{key}`"),
            });
            continue;
        };
        checks.push(CheckResult {
            expectation: format!("{} availability within {} of the baseline", s.name, tol.availability),
            passed: Op::Ge.holds(s.availability + tol.availability, old.availability),
            measured: format!("{:.5} (baseline {:.5})", s.availability, old.availability),
        });
        checks.push(CheckResult {
            expectation: format!("{} downtime within {} of the baseline", s.name, tol.downtime),
            passed: Op::Le.holds(s.downtime_s, old.downtime_s + tol.downtime.secs_f64()),
            measured: format!("{} (baseline {})", human_duration(s.downtime_s), human_duration(old.downtime_s)),
        });
    }
    checks
}

/// Reads a baseline file (JSON written by `--update-baseline`).
pub fn read_baseline(path: &Path) -> Result<Baseline, LoadError> {
    let file = SourceFile::read(path)?;
    serde_json::from_str(&file.text).map_err(|e| file.json_error(&e, "a capsize baseline"))
}
