//! Markdown for a postmortem: the scenario, the policies side by side, each policy's outage
//! windows, the actions it took with the API's answers, and the faults. Tables are GitHub
//! Markdown (the same tables the terminal shows).

use capsize_sim::result::RunResult;

use crate::check::CheckReport;
use crate::human_duration;

/// Escapes `|` so that text stays in its table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Runs of one scenario as a Markdown report.
pub fn runs_markdown(runs: &[RunResult]) -> String {
    let Some(first) = runs.iter().reduce(|a, b| if b.duration_s > a.duration_s { b } else { a }) else {
        return "No runs.\n".into();
    };
    let mut out = format!("# {}: {} compared\n\n", first.scenario, crate::count(runs.len(), "policy", "policies"));
    if first.mode == capsize_sim::result::Mode::Real {
        out.push_str(&format!(
            "Seed {}, from {} for {}. Observed on a real cluster by `capsize drive`: availability is the \
             scenario's offered load against the ready endpoints the cluster showed.\n\n",
            first.seed,
            first.start,
            human_duration(first.duration_s)
        ));
    } else {
        out.push_str(&format!(
            "Seed {}, from {} for {}. Produced by capsize; every number below comes out of the model's \
             mechanics, none was written into the scenario.\n\n",
            first.seed,
            first.start,
            human_duration(first.duration_s)
        ));
    }
    for r in runs.iter().filter(|r| r.error.is_some()) {
        out.push_str(&format!(
            "**The run under {} stopped early**: {}\n\n",
            r.policy,
            cell(r.error.as_deref().unwrap_or_default())
        ));
    }
    out.push_str("## Side by side\n\n");
    // The terminal's tables are already Markdown.
    out.push_str(&crate::side_by_side(runs));
    out.push_str("\n\n");
    if let Some(c) = crate::cost_table(runs) {
        out.push_str(&format!("## Cost\n\n{c}\n\n"));
    }
    if let Some(t) = crate::node_conditions_table(runs, true) {
        out.push_str(&format!("## Node conditions\n\nHow long Kubernetes nodes were NotReady or under DiskPressure, as the API showed it:\n\n{t}\n\n"));
    }
    out.push_str("## Outage windows\n\n");
    for r in runs {
        out.push_str(&format!("### {}\n\n", r.policy));
        let mut any = false;
        for s in &r.services {
            for o in &s.outages {
                any = true;
                out.push_str(&format!(
                    "- **{}**: {} - {}{} ({})\n",
                    s.name,
                    o.start,
                    o.end,
                    if o.ongoing { ", still down at the end" } else { "" },
                    human_duration(o.duration_s)
                ));
            }
        }
        if !any {
            out.push_str("No outage.\n");
        }
        out.push('\n');
    }
    out.push_str("## Actions taken\n\n");
    for r in runs {
        out.push_str(&format!("### {}\n\n", r.policy));
        if r.actions.is_empty() {
            out.push_str("None.\n\n");
            continue;
        }
        out.push_str("| at | by | action | result |\n|---|---|---|---|\n");
        for a in &r.actions {
            out.push_str(&format!(
                "| {} | {} | `{}` | {}{} |\n",
                crate::acted_at(a),
                cell(&a.by),
                cell(&a.action),
                if a.ok { "" } else { "**FAILED**: " },
                cell(&a.result)
            ));
        }
        out.push('\n');
    }
    out.push_str("## Faults injected\n\n");
    if first.faults.is_empty() {
        out.push_str("None.\n");
    } else {
        out.push_str("| at | fault | target | objects hit | note |\n|---|---|---|---|---|\n");
    }
    for f in &first.faults {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            f.at,
            f.kind,
            cell(&f.target),
            f.matched,
            cell(f.note.as_deref().unwrap_or(""))
        ));
    }
    if !first.assumptions.is_empty() {
        out.push_str("\n## Assumptions\n\nNumbers the source does not give, as the scenario lists them:\n\n");
        for a in &first.assumptions {
            out.push_str(&format!("- `{}`: {}\n", a.path, a.why));
        }
    }
    out
}

/// `capsize check`'s verdicts as Markdown.
pub fn check_markdown(r: &CheckReport) -> String {
    let mut out = format!("# Suite {}\n\n", r.suite);
    let table = crate::check::verdict_table(r, cell);
    let body: Vec<&str> = table.lines().skip(2).collect();
    out.push_str(&body.join("\n"));
    out.push('\n');
    let failed: Vec<_> = r.cases.iter().filter(|c| !c.passed()).collect();
    if !failed.is_empty() {
        out.push_str("\n## Failures\n\n");
        for c in failed {
            if let Some(e) = &c.error {
                out.push_str(&format!("- **{}**: {}\n", c.id(), e));
            }
            for k in c.checks.iter().filter(|k| !k.passed) {
                out.push_str(&format!("- **{}**: `{}`, measured {}\n", c.id(), k.expectation, k.measured));
            }
        }
    }
    out
}
