//! JUnit XML, the report every CI system ingests: one `<testsuite>` per scenario, one
//! `<testcase>` per scenario x policy x expectation (`check`), or per policy x service
//! (`run`/`compare`: the case fails when the service had an outage). A failure carries the
//! measured value and the expectation.

use capsize_sim::result::RunResult;

use crate::check::CheckReport;

/// Escapes text for an XML attribute or element.
pub(crate) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            '\u{FFFE}' | '\u{FFFF}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A test case: `(classname, name, failure message and text)`.
type Case = (String, String, Option<(String, String)>);

fn document(name: &str, suites: &[(String, Vec<Case>)]) -> String {
    let tests: usize = suites.iter().map(|(_, c)| c.len()).sum();
    let failures: usize = suites.iter().map(|(_, c)| c.iter().filter(|x| x.2.is_some()).count()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">\n",
        xml(name)
    ));
    for (suite, cases) in suites {
        let f = cases.iter().filter(|x| x.2.is_some()).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"0\" skipped=\"0\">\n",
            xml(suite),
            cases.len()
        ));
        for (class, case, failure) in cases {
            match failure {
                None => out.push_str(&format!(
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"/>\n",
                    xml(class),
                    xml(case)
                )),
                Some((message, text)) => out.push_str(&format!(
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"0\">\n      <failure message=\"{}\" \
                     type=\"expectation\">{}</failure>\n    </testcase>\n",
                    xml(class),
                    xml(case),
                    xml(message),
                    xml(text)
                )),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// `capsize check`'s verdicts as JUnit XML.
pub fn check_junit(r: &CheckReport) -> String {
    let mut suites: Vec<(String, Vec<Case>)> = Vec::new();
    for c in &r.cases {
        let class = format!("{}.{}.seed{}", c.scenario, c.policy, c.seed);
        let mut cases: Vec<Case> = Vec::new();
        if let Some(e) = &c.error {
            cases.push((class.clone(), "the run completes".into(), Some((e.clone(), e.clone()))));
        }
        for k in &c.checks {
            let failure = (!k.passed).then(|| {
                (
                    format!("measured {}, expected {}", k.measured, k.expectation),
                    format!("{}: expected `{}`, measured {}", c.id(), k.expectation, k.measured),
                )
            });
            cases.push((class.clone(), k.expectation.clone(), failure));
        }
        match suites.iter_mut().find(|(s, _)| *s == c.scenario) {
            Some((_, v)) => v.extend(cases),
            None => suites.push((c.scenario.clone(), cases)),
        }
    }
    document(&r.suite, &suites)
}

/// Runs as JUnit XML: per policy and service, a case that fails when the service had an
/// outage.
pub fn runs_junit(runs: &[RunResult]) -> String {
    let Some(first) = runs.first() else { return document("capsize", &[]) };
    let mut cases: Vec<Case> = Vec::new();
    for r in runs {
        // A run on a real cluster is its own class, so CI never mixes it with a simulation.
        let real = if r.mode == capsize_sim::result::Mode::Real { "real." } else { "" };
        if let Some(e) = &r.error {
            let class = format!("{real}{}.{}.seed{}", r.scenario, r.policy, r.seed);
            cases.push((class, "the run completes".into(), Some((e.clone(), e.clone()))));
        }
        for s in &r.services {
            let class = format!("{real}{}.{}.seed{}", r.scenario, r.policy, r.seed);
            let name = format!("{} has no outage", s.name);
            let failure = (!s.outages.is_empty()).then(|| {
                let windows: Vec<String> = s
                    .outages
                    .iter()
                    .map(|o| format!("{} - {}{}", o.start, o.end, if o.ongoing { " (ongoing)" } else { "" }))
                    .collect();
                (
                    format!(
                        "{} outage(s), {} down, availability {}",
                        s.outages.len(),
                        crate::human_duration(s.downtime_s),
                        crate::percent(s.availability)
                    ),
                    windows.join("\n"),
                )
            });
            cases.push((class, name, failure));
        }
    }
    document(&first.scenario, &[(first.scenario.clone(), cases)])
}
