//! The verdicts of `capsize check`: per case (scenario x policy x seed), each expectation with
//! what was measured. Plain data: the harness fills it, the renderers print it.

use serde::Serialize;

/// A whole suite's verdicts.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// The suite's name.
    pub suite: String,
    /// Every case, in the suite's order.
    pub cases: Vec<CaseReport>,
}

/// One scenario under one policy and seed.
#[derive(Clone, Debug, Serialize)]
pub struct CaseReport {
    /// Scenario name.
    pub scenario: String,
    /// Policy name.
    pub policy: String,
    /// Seed.
    pub seed: u64,
    /// The expectations, each with its verdict.
    pub checks: Vec<CheckResult>,
    /// The run could not be completed (a policy plug-in failed): the case fails with this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One expectation's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    /// The expectation as the suite writes it (`i-web availability >= 0.999`).
    pub expectation: String,
    /// Whether it held.
    pub passed: bool,
    /// What the run measured (`0.99871`, `12m03s`, `faults matched: 0 of 1`).
    pub measured: String,
}

impl CaseReport {
    /// Every expectation held and the run completed.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.checks.iter().all(|c| c.passed)
    }

    /// `scenario / policy (seed N)`.
    pub fn id(&self) -> String {
        format!("{} / {} (seed {})", self.scenario, self.policy, self.seed)
    }
}

impl CheckReport {
    /// Every case passed.
    pub fn passed(&self) -> bool {
        self.cases.iter().all(CaseReport::passed)
    }

    /// Cases that failed.
    pub fn failures(&self) -> usize {
        self.cases.iter().filter(|c| !c.passed()).count()
    }
}

/// The verdicts as a terminal (and Markdown) table, failures spelled out.
pub fn check_table(r: &CheckReport) -> String {
    verdict_table(r, |s| s.to_string())
}

/// The table with each cell passed through `cell` (Markdown escapes `|`).
pub(crate) fn verdict_table(r: &CheckReport, cell: impl Fn(&str) -> String) -> String {
    let mut out =
        format!("suite {}: {}, {} failed\n\n", r.suite, crate::count(r.cases.len(), "case", "cases"), r.failures());
    let mut t = crate::new_table(&["case", "expectation", "measured", "verdict"]);
    for c in &r.cases {
        let id = c.id();
        if let Some(e) = &c.error {
            t.add_row(vec![cell(&id), "the run completes".into(), cell(e), "FAIL".into()]);
        }
        for (i, k) in c.checks.iter().enumerate() {
            let first = i == 0 && c.error.is_none();
            t.add_row(vec![
                if first { cell(&id) } else { String::new() },
                cell(&k.expectation),
                cell(&k.measured),
                if k.passed { "ok".into() } else { "FAIL".into() },
            ]);
        }
    }
    out.push_str(&t.to_string());
    out.push('\n');
    out.push_str(if r.passed() { "\nall expectations hold\n" } else { "\nFAILED\n" });
    out
}
