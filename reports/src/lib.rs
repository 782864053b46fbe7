//! # capsize-reports: results for people and programs
//!
//! Reads only [`capsize_sim::RunResult`] (the scored output contract), never the engine.
//! Every function is pure: a result in, text out, the same bytes for the same result.

use comfy_table::{Cell, CellAlignment, Table, presets};

use capsize_sim::result::{RunResult, ServiceResult};

pub mod check;
mod html;
mod junit;
mod markdown;
pub mod sweep;

pub use check::{CaseReport, CheckReport, CheckResult, check_table};
pub use html::{check_html, runs_html};
pub use junit::{check_junit, runs_junit};
pub use markdown::{check_markdown, runs_markdown};

/// Output formats.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// An aligned table for a terminal.
    #[default]
    Table,
    /// JSON, the stable contract.
    Json,
    /// Markdown for a postmortem document.
    Markdown,
    /// One self-contained HTML page with charts.
    Html,
    /// JUnit XML for CI systems.
    Junit,
}

/// One run, in `format`.
pub fn render_run(r: &RunResult, format: Format) -> String {
    match format {
        Format::Table => run_table(r),
        Format::Json => run_json(r),
        other => render_compare(std::slice::from_ref(r), other),
    }
}

/// Several runs of one scenario side by side, in `format`.
pub fn render_compare(runs: &[RunResult], format: Format) -> String {
    match format {
        Format::Table => compare_table(runs),
        Format::Json => compare_json(runs),
        Format::Markdown => runs_markdown(runs),
        Format::Html => runs_html(runs),
        Format::Junit => runs_junit(runs),
    }
}

/// A suite's verdicts, in `format`.
pub fn render_check(r: &CheckReport, format: Format) -> String {
    match format {
        Format::Table => check_table(r),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(r).expect("verdicts serialize");
            s.push('\n');
            s
        }
        Format::Markdown => check_markdown(r),
        Format::Html => check_html(r),
        Format::Junit => check_junit(r),
    }
}

/// `{...}`: one run object, pretty-printed, with a final newline.
pub fn run_json(r: &RunResult) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("results serialize");
    s.push('\n');
    s
}

/// `{"runs": [...]}` with a final newline.
pub fn compare_json(runs: &[RunResult]) -> String {
    let mut s = serde_json::to_string_pretty(&serde_json::json!({ "runs": runs })).expect("results serialize");
    s.push('\n');
    s
}

/// `6h01m05s`, `45s`, `0s`.
pub fn human_duration(secs: f64) -> String {
    let total = secs.round() as u64;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m{s:02}s"),
    }
}

/// Availability as a percentage with enough digits to tell policies apart.
pub fn percent(a: f64) -> String {
    format!("{:.3}%", a * 100.0)
}

pub(crate) fn new_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::ASCII_MARKDOWN);
    t.set_header(header.to_vec());
    t
}

/// The outage windows, each on its own (three at most, then how many more): a first start and
/// a last end would read as one long outage.
fn outage_span(s: &ServiceResult) -> String {
    if s.outages.is_empty() {
        return "-".into();
    }
    let mut when: Vec<String> = s
        .outages
        .iter()
        .take(3)
        .map(|o| format!("{} - {}{}", o.start, o.end, if o.ongoing { " (ongoing)" } else { "" }))
        .collect();
    if s.outages.len() > 3 {
        when.push(format!("+{} more", s.outages.len() - 3));
    }
    when.join(", ")
}

fn right(s: String) -> Cell {
    Cell::new(s).set_alignment(CellAlignment::Right)
}

/// How a report says a run was on a real cluster (nothing for a simulated one).
pub fn mode_note(r: &RunResult) -> &'static str {
    match r.mode {
        capsize_sim::result::Mode::Real => ", on a real cluster (capsize drive): observed, not simulated",
        capsize_sim::result::Mode::Sim => "",
    }
}

/// One run as a table of services, then the actions taken.
pub fn run_table(r: &RunResult) -> String {
    let mut out = format!("{} under policy {} (seed {}){}\n\n", r.scenario, r.policy, r.seed, mode_note(r));
    let mut t = new_table(&["service", "availability", "downtime", "outages", "when", "restarts"]);
    for s in &r.services {
        t.add_row(vec![
            Cell::new(&s.name),
            right(percent(s.availability)),
            right(human_duration(s.downtime_s)),
            right(s.outages.len().to_string()),
            Cell::new(outage_span(s)),
            right(s.restarts.to_string()),
        ]);
    }
    out.push_str(&t.to_string());
    out.push_str("\n\n");
    if r.cost.spend > 0.0 {
        out.push_str(&format!("cost: {:.1} instance-hours, spend {:.2}\n\n", r.cost.instance_hours, r.cost.spend));
    }
    if let Some(e) = &r.error {
        out.push_str(&format!("RUN STOPPED: {e}\n\n"));
    }
    out.push_str(&node_conditions(std::slice::from_ref(r), false));
    if r.actions.is_empty() {
        out.push_str("actions: none\n");
    } else {
        out.push_str(&format!("actions ({}):\n", r.actions.len()));
        for a in &r.actions {
            let mark = if a.ok { "ok" } else { "FAILED" };
            out.push_str(&format!("  {}  {}  {}  [{mark}: {}]\n", acted_at(a), a.by, a.action, a.result));
        }
    }
    for p in &r.probes {
        out.push_str(&format!(
            "probe {} {}: {} of {} answered ({}){}\n",
            p.service,
            p.url,
            p.ok,
            p.sent,
            percent(p.success_ratio),
            p.failures.first().map_or(String::new(), |(t, why)| format!("; first failure at +{t:.0}s: {why}"))
        ));
    }
    out
}

/// Policies side by side: per policy and service, availability, downtime, outages, the
/// longest time to recover and restarts; then how many actions each policy took.
pub fn compare_table(runs: &[RunResult]) -> String {
    let Some(first) = runs.first() else {
        return "no runs\n".into();
    };
    let mut out = format!("{} (seed {}): {}\n\n", first.scenario, first.seed, count(runs.len(), "policy", "policies"));
    out.push_str(&side_by_side(runs));
    if let Some(c) = cost_table(runs) {
        out.push_str("\n\ncost:\n");
        out.push_str(&c);
    }
    out.push_str("\n\n");
    for r in runs.iter().filter(|r| r.error.is_some()) {
        out.push_str(&format!("RUN STOPPED ({}): {}\n", r.policy, r.error.as_deref().unwrap_or_default()));
    }
    out.push_str(&node_conditions(runs, true));
    out.push_str(&actions_summary(runs));
    out
}

/// The policies' services side by side (a Markdown table as it is).
pub(crate) fn side_by_side(runs: &[RunResult]) -> String {
    let mut t =
        new_table(&["policy", "service", "availability", "downtime", "outages", "when", "worst recovery", "restarts"]);
    for r in runs {
        for (i, s) in r.services.iter().enumerate() {
            let worst = s.outages.iter().map(|o| o.duration_s).reduce(f64::max);
            t.add_row(vec![
                Cell::new(if i == 0 { r.policy.as_str() } else { "" }),
                Cell::new(&s.name),
                right(format!("{}{}", percent(s.availability), if s.offered_requests > 0.0 { "" } else { " *" })),
                right(human_duration(s.downtime_s)),
                right(s.outages.len().to_string()),
                Cell::new(outage_span(s)),
                right(worst.map_or("-".into(), human_duration)),
                right(s.restarts.to_string()),
            ]);
        }
    }
    let mut out = t.to_string();
    if runs.iter().flat_map(|r| &r.services).any(|s| s.offered_requests <= 0.0) {
        out.push_str(&format!("\n\n{UPTIME_NOTE}"));
    }
    out
}

/// What availability means for a service that is offered no load.
pub(crate) const UPTIME_NOTE: &str = "* nothing was offered to it: its availability is up-time (the share of the \
     run outside its outages); elsewhere it is served / offered requests.";

/// What each policy's machines cost, the other side of the availability trade-off (none when
/// nothing is billed).
pub(crate) fn cost_table(runs: &[RunResult]) -> Option<String> {
    if !runs.iter().any(|r| r.cost.spend > 0.0) {
        return None;
    }
    let mut c = new_table(&["policy", "instance-hours", "spend"]);
    for r in runs {
        c.add_row(vec![
            Cell::new(&r.policy),
            right(format!("{:.1}", r.cost.instance_hours)),
            right(format!("{:.2}", r.cost.spend)),
        ]);
    }
    Some(c.to_string())
}

/// How many actions each policy took, when, and the first failures, for a terminal.
fn actions_summary(runs: &[RunResult]) -> String {
    let mut out = String::from("actions taken:\n");
    for r in runs {
        let failed = r.actions.iter().filter(|a| !a.ok).count();
        let when = match (r.actions.first(), r.actions.last()) {
            (Some(a), Some(b)) if a.at == b.at => format!(" at {}", a.at),
            (Some(a), Some(b)) => format!(" from {} to {}", a.at, b.at),
            _ => String::new(),
        };
        out.push_str(&format!(
            "  {}: {}{}{}\n",
            r.policy,
            r.actions.len(),
            if failed > 0 { format!(" ({failed} failed)") } else { String::new() },
            when
        ));
        // Why operations failed is often the finding (a drain that could not complete).
        for a in r.actions.iter().filter(|a| !a.ok).take(3) {
            out.push_str(&format!("    FAILED {}  {}: {}\n", a.at, a.action, a.result));
        }
        if failed > 3 {
            out.push_str(&format!("    ... and {} more failures (see --format json)\n", failed - 3));
        }
    }
    out
}

/// Kubernetes nodes that were NotReady or under DiskPressure: per policy and node, the total
/// time and the periods. Empty when no node ever was.
fn node_conditions(runs: &[RunResult], with_policy: bool) -> String {
    match node_conditions_table(runs, with_policy) {
        Some(t) => format!("node conditions:\n{t}\n\n"),
        None => String::new(),
    }
}

/// Kubernetes nodes' NotReady and DiskPressure periods per policy, as a table (none when no node
/// had one).
pub(crate) fn node_conditions_table(runs: &[RunResult], with_policy: bool) -> Option<String> {
    if runs.iter().all(|r| r.node_conditions.is_empty()) {
        return None;
    }
    let header: &[&str] = if with_policy {
        &["policy", "node", "condition", "total", "periods"]
    } else {
        &["node", "condition", "total", "periods"]
    };
    let mut t = new_table(header);
    for r in runs {
        let mut keys: Vec<(&str, &str)> =
            r.node_conditions.iter().map(|c| (c.node.as_str(), c.condition.as_str())).collect();
        keys.sort();
        keys.dedup();
        for (i, (node, cond)) in keys.into_iter().enumerate() {
            let spans: Vec<_> = r.node_conditions.iter().filter(|c| c.node == node && c.condition == cond).collect();
            let total: f64 = spans.iter().map(|c| c.period.duration_s).fold(0.0, |a, b| a + b);
            let mut when: Vec<String> = spans
                .iter()
                .take(3)
                .map(|c| {
                    format!("{} - {}{}", c.period.start, c.period.end, if c.period.ongoing { " (ongoing)" } else { "" })
                })
                .collect();
            if spans.len() > 3 {
                when.push(format!("+{} more", spans.len() - 3));
            }
            let mut row = Vec::new();
            if with_policy {
                row.push(Cell::new(if i == 0 { r.policy.as_str() } else { "" }));
            }
            row.extend([Cell::new(node), Cell::new(cond), right(human_duration(total)), Cell::new(when.join(", "))]);
            t.add_row(row);
        }
        if r.node_conditions.is_empty() && with_policy {
            t.add_row(vec![Cell::new(&r.policy), Cell::new("-"), Cell::new("-"), right("0s".into()), Cell::new("")]);
        }
    }
    Some(t.to_string())
}

/// `n` and the noun in the number it takes: "1 policy", "2 policies".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// When an action was issued, and when what it answers was seen if earlier ("09:19:00, seen
/// 09:14:00": a rule's trigger matched at a monitoring evaluation, a person took the rest).
pub fn acted_at(a: &capsize_sim::result::ActionResult) -> String {
    match &a.observed {
        Some(seen) => format!("{} (seen {seen})", a.at),
        None => a.at.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(0.2), "0s");
        assert_eq!(human_duration(45.0), "45s");
        assert_eq!(human_duration(125.0), "2m05s");
        assert_eq!(human_duration(6.0 * 3600.0 + 65.0), "6h01m05s");
        assert_eq!(percent(0.99912), "99.912%");
    }
}
