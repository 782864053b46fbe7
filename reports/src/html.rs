//! A self-contained HTML report: one file, no script, no network. Per service, availability
//! over time for each policy on one time axis (inline SVG), zoomed to the stretch around the
//! faults and outages with the whole run as a small overview under it, with the faults and each
//! policy's actions marked, each policy in its colour and dash pattern; then the comparison
//! table, the outage windows, the actions, the faults and the assumptions.
//!
//! Deterministic like every report: coordinates are rounded to a tenth of a pixel, colours come
//! from a fixed palette in policy order.

use capsize_sim::result::RunResult;

use crate::check::CheckReport;
use crate::human_duration;
use crate::junit::xml as esc;

/// Line colours, in policy order (colour-blind friendly, Okabe-Ito).
pub(crate) const PALETTE: [&str; 8] =
    ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];

// The geometry every chart shares (the sweep's CDF too).
pub(crate) const W: f64 = 960.0;
pub(crate) const H: f64 = 280.0;
pub(crate) const LEFT: f64 = 56.0;
pub(crate) const RIGHT: f64 = 16.0;
pub(crate) const TOP: f64 = 16.0;
pub(crate) const BOTTOM: f64 = 44.0;

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1b1b1b;max-width:1000px}\
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}\
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}td.num{text-align:right}.fail{color:#b00020;font-weight:600}\
.legend span{display:inline-block;margin-right:1.2rem}.swatch{display:inline-block;width:1.6rem;height:.3rem;\
vertical-align:middle;margin-right:.4rem}svg{background:#fff;border:1px solid #ddd}.muted{color:#666}";

pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n{body}</body>\n</html>\n",
        esc(title)
    )
}

pub(crate) fn y_of(a: f64) -> f64 {
    TOP + (1.0 - a.clamp(0.0, 1.0)) * (H - TOP - BOTTOM)
}

/// Seconds after midnight of a start shown as `YYYY-MM-DDTHH:MM:SS...`.
fn clock_secs(start: &str) -> f64 {
    let t = start.split('T').nth(1).unwrap_or("00:00:00");
    let mut p = t.split(':').map(|x| x.get(..2).unwrap_or("0").parse::<f64>().unwrap_or(0.0));
    p.next().unwrap_or(0.0) * 3600.0 + p.next().unwrap_or(0.0) * 60.0 + p.next().unwrap_or(0.0)
}

/// `HH:MM` of the scenario's clock, `secs` after the start.
fn clock(start: &str, secs: f64) -> String {
    let m = ((clock_secs(start) + secs) / 60.0).round() as u64 % (24 * 60);
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The run that went furthest (a run a plug-in stopped early is shorter): its length is the time
/// axis, its faults are the ones marked.
fn longest(runs: &[RunResult]) -> &RunResult {
    runs.iter().fold(&runs[0], |a, b| if b.duration_s > a.duration_s { b } else { a })
}

/// Every service name of the runs, in the order they first appear (a policy's patch can add
/// services).
fn service_names(runs: &[RunResult]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for r in runs {
        for s in &r.services {
            if !names.contains(&s.name.as_str()) {
                names.push(&s.name);
            }
        }
    }
    names
}

/// The opening of a chart's SVG, labelled for screen readers.
pub(crate) fn svg_open(label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" \
         aria-label=\"{}\">\n",
        esc(label)
    )
}

/// The horizontal grid at 0, 25, 50, 75 and 100 %, with its labels.
pub(crate) fn percent_grid() -> String {
    let mut out = String::new();
    for pct in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = y_of(pct);
        out.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e5e5e5\"/><text x=\"{:.1}\" y=\"{:.1}\" \
             font-size=\"11\" text-anchor=\"end\" fill=\"#555\">{}%</text>\n",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            (pct * 100.0) as u32
        ));
    }
    out
}

/// A tick under the x axis at `x`, labelled.
pub(crate) fn x_tick(x: f64, label: &str) -> String {
    format!(
        "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#999\"/><text x=\"{x:.1}\" y=\"{:.1}\" \
         font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">{}</text>\n",
        H - BOTTOM,
        H - BOTTOM + 4.0,
        H - BOTTOM + 18.0,
        esc(label)
    )
}

/// `t` on a chart of `[w0, w1]` seconds.
fn x_in(t: f64, (w0, w1): (f64, f64)) -> f64 {
    LEFT + ((t - w0) / (w1 - w0).max(1.0)).clamp(0.0, 1.0) * (W - LEFT - RIGHT)
}

/// The stretch of the run a service's chart shows: from the first fault or outage to the last
/// outage's end, with a margin (a tenth of it, five minutes at least); the whole run when that
/// is most of it or there is nothing to show. A 40 s outage in a day is then more than a sliver.
fn incident_window(runs: &[RunResult], name: &str, d: f64) -> (f64, f64) {
    let outages = runs.iter().flat_map(|r| &r.services).filter(|s| s.name == name).flat_map(|s| &s.outages);
    let starts = outages.clone().map(|o| o.start_s).chain(runs.iter().flat_map(|r| r.faults.iter().map(|f| f.at_s)));
    let ends = outages.map(|o| o.end_s).chain(runs.iter().flat_map(|r| r.faults.iter().map(|f| f.at_s)));
    let (Some(lo), Some(hi)) = (starts.reduce(f64::min), ends.reduce(f64::max)) else { return (0.0, d) };
    let pad = ((hi - lo) * 0.1).max(300.0);
    let (w0, w1) = ((lo - pad).max(0.0), (hi + pad).min(d));
    if w1 - w0 > 0.8 * d { (0.0, d) } else { (w0, w1) }
}

/// The chart of one service across the runs (matched by name in each run), zoomed to its
/// incident window, with the whole run as a small overview under it when zoomed.
fn chart(runs: &[RunResult], name: &str) -> String {
    let first = longest(runs);
    let d = first.duration_s;
    let win = incident_window(runs, name, d);
    let zoomed = win != (0.0, d);
    let mut svg = svg_open(&format!("Availability of {name} over time, per policy"));
    svg.push_str(&percent_grid());
    // Ticks on round clock times: the smallest step that gives at most 9 of them.
    let base = clock_secs(&first.start);
    let len = win.1 - win.0;
    let step = [60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0, 43200.0, 86400.0]
        .into_iter()
        .find(|s| len / s <= 9.0)
        .unwrap_or(86400.0 * (len / 86400.0 / 9.0).ceil());
    let mut t = win.0 + (step - (base + win.0) % step) % step;
    while t <= win.1 {
        svg.push_str(&x_tick(x_in(t, win), &clock(&first.start, t)));
        t += step;
    }
    let inside = |t: f64| t >= win.0 && t <= win.1;
    // Faults: dashed red lines across the chart.
    for f in first.faults.iter().filter(|f| inside(f.at_s)) {
        let x = x_in(f.at_s, win);
        svg.push_str(&format!(
            "<line class=\"fault\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#b00020\" \
             stroke-dasharray=\"4 3\"><title>fault {} at {}: {}</title></line>\n",
            H - BOTTOM,
            esc(&f.kind),
            esc(&f.at),
            esc(&f.target)
        ));
    }
    // One step line per policy (its own colour and dash pattern, so lines that coincide stay
    // apart in print), and its actions as ticks under the axis.
    for (i, r) in runs.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let dash = DASHES[i % DASHES.len()];
        let Some(s) = r.services.iter().find(|s| s.name == name) else { continue };
        let mut pts = String::new();
        for &(a, b, v) in s.series.iter().filter(|&&(a, b, _)| b > win.0 && a < win.1) {
            let y = y_of(v);
            pts.push_str(&format!("{:.1},{y:.1} {:.1},{y:.1} ", x_in(a, win), x_in(b, win)));
        }
        svg.push_str(&format!(
            "<polyline class=\"series\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" \
             stroke-dasharray=\"{dash}\" points=\"{}\"><title>{}</title></polyline>\n",
            pts.trim_end(),
            esc(&r.policy)
        ));
        for a in r.actions.iter().filter(|a| inside(a.at_s)) {
            let x = x_in(a.at_s, win);
            let y = H - BOTTOM + 24.0 + (i % 3) as f64 * 5.0;
            svg.push_str(&format!(
                "<path class=\"action\" d=\"M{x:.1} {:.1} l4 6 h-8 z\" fill=\"{colour}\"><title>{} at {}: {} ({})</title>\
                 </path>\n",
                y - 6.0,
                esc(&r.policy),
                esc(&a.at),
                esc(&a.action),
                esc(&a.result)
            ));
        }
    }
    svg.push_str("</svg>\n");
    if zoomed {
        svg.push_str(&format!(
            "<p class=\"muted\">Zoomed to {} - {}, around the faults and the outages; the whole run, with that \
             stretch shaded:</p>\n",
            clock(&first.start, win.0),
            clock(&first.start, win.1)
        ));
        svg.push_str(&overview(runs, name, d, win));
    }
    // Policies whose lines are the same: said in words, as one line hides the other.
    let series = |r: &RunResult| r.services.iter().find(|s| s.name == name).map(|s| s.series.clone());
    let mut same = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        if let Some(j) = (0..i).find(|&j| series(&runs[j]).is_some() && series(&runs[j]) == series(r)) {
            same.push(format!("{} is the same as {}", esc(&r.policy), esc(&runs[j].policy)));
        }
    }
    if !same.is_empty() {
        svg.push_str(&format!("<p class=\"muted\">Lines that coincide: {}.</p>\n", same.join("; ")));
    }
    svg
}

/// The whole run of a service, small, with the zoomed stretch shaded.
fn overview(runs: &[RunResult], name: &str, d: f64, win: (f64, f64)) -> String {
    const OH: f64 = 64.0;
    let whole = (0.0, d);
    let y = |v: f64| 6.0 + (1.0 - v.clamp(0.0, 1.0)) * (OH - 12.0);
    let mut svg = format!(
        "<svg class=\"overview\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {OH}\" width=\"{W}\" \
         height=\"{OH}\" role=\"img\" aria-label=\"The whole run of {}\">\n",
        esc(name)
    );
    svg.push_str(&format!(
        "<rect x=\"{:.1}\" y=\"0\" width=\"{:.1}\" height=\"{OH}\" fill=\"#eef3fb\"/>\n",
        x_in(win.0, whole),
        x_in(win.1, whole) - x_in(win.0, whole)
    ));
    for (i, r) in runs.iter().enumerate() {
        let Some(s) = r.services.iter().find(|s| s.name == name) else { continue };
        let pts: Vec<String> = s
            .series
            .iter()
            .map(|&(a, b, v)| format!("{:.1},{:.1} {:.1},{:.1}", x_in(a, whole), y(v), x_in(b, whole), y(v)))
            .collect();
        svg.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1\" stroke-dasharray=\"{}\" points=\"{}\"/>\n",
            PALETTE[i % PALETTE.len()],
            DASHES[i % DASHES.len()],
            pts.join(" ")
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// Dash patterns per policy, with the colours: distinct in print and where lines coincide.
const DASHES: [&str; 6] = ["none", "8 4", "2 3", "10 3 2 3", "4 4", "1 5"];

fn legend(runs: &[RunResult]) -> String {
    let mut out = String::from("<p class=\"legend\">");
    for (i, r) in runs.iter().enumerate() {
        out.push_str(&format!(
            "<span><svg width=\"28\" height=\"8\" aria-hidden=\"true\"><line x1=\"0\" y1=\"4\" x2=\"28\" y2=\"4\" \
             stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\"/></svg> {}</span>",
            PALETTE[i % PALETTE.len()],
            DASHES[i % DASHES.len()],
            esc(&r.policy)
        ));
    }
    out.push_str("<span><span class=\"swatch\" style=\"background:#b00020\"></span>fault</span>");
    out.push_str("<span class=\"muted\">&#9650; an action of the policy of that colour</span></p>\n");
    out
}

/// Runs of one scenario as one self-contained HTML page.
pub fn runs_html(runs: &[RunResult]) -> String {
    if runs.is_empty() {
        return page("capsize", "<p>No runs.</p>\n");
    }
    let first = longest(runs);
    let mut body = format!("<h1>{}</h1>\n", esc(&first.scenario));
    body.push_str(&format!(
        "<p>{}, seed {}, from {} for {}. Every number comes out of the model's mechanics.</p>\n",
        crate::count(runs.len(), "policy", "policies"),
        first.seed,
        esc(&first.start),
        human_duration(first.duration_s)
    ));
    for r in runs.iter().filter(|r| r.error.is_some()) {
        body.push_str(&format!(
            "<p class=\"fail\">The run under {} stopped early: {}</p>\n",
            esc(&r.policy),
            esc(r.error.as_deref().unwrap_or_default())
        ));
    }
    body.push_str(&legend(runs));
    for name in service_names(runs) {
        let offered =
            runs.iter().flat_map(|r| &r.services).filter(|s| s.name == name).any(|s| s.offered_requests > 0.0);
        let what = if offered {
            "served / offered requests (up-time where nothing is offered)"
        } else {
            "up-time: no load is offered to it, so availability is the share of time outside its outages"
        };
        body.push_str(&format!("<h2>{}: availability over time</h2>\n<p class=\"muted\">{what}</p>\n", esc(name)));
        body.push_str(&chart(runs, name));
    }
    body.push_str(
        "<h2>Side by side</h2>\n<table>\n<tr><th>policy</th><th>service</th><th>availability</th><th>downtime</th>\
                   <th>outages</th><th>restarts</th></tr>\n",
    );
    for r in runs {
        for s in &r.services {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td></tr>\n",
                esc(&r.policy),
                esc(&s.name),
                crate::percent(s.availability),
                human_duration(s.downtime_s),
                s.outages.len(),
                s.restarts
            ));
        }
    }
    body.push_str("</table>\n");
    if runs.iter().flat_map(|r| &r.services).any(|s| s.offered_requests <= 0.0) {
        body.push_str(&format!("<p class=\"muted\">{}</p>\n", esc(crate::UPTIME_NOTE)));
    }
    body.push_str("<h2>Outage windows</h2>\n");
    for r in runs {
        let windows: Vec<String> = r
            .services
            .iter()
            .flat_map(|s| {
                s.outages.iter().map(move |o| {
                    format!(
                        "<li><b>{}</b>: {} - {}{} ({})</li>",
                        esc(&s.name),
                        esc(&o.start),
                        esc(&o.end),
                        if o.ongoing { ", ongoing at the end" } else { "" },
                        human_duration(o.duration_s)
                    )
                })
            })
            .collect();
        body.push_str(&format!("<h3>{}</h3>\n", esc(&r.policy)));
        if windows.is_empty() {
            body.push_str("<p class=\"muted\">No outage.</p>\n");
        } else {
            body.push_str(&format!("<ul>\n{}\n</ul>\n", windows.join("\n")));
        }
    }
    body.push_str("<h2>Actions</h2>\n");
    for r in runs {
        body.push_str(&format!("<h3>{}</h3>\n", esc(&r.policy)));
        if r.actions.is_empty() {
            body.push_str("<p class=\"muted\">None.</p>\n");
            continue;
        }
        body.push_str("<table>\n<tr><th>at</th><th>by</th><th>action</th><th>result</th></tr>\n");
        for a in &r.actions {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td{}>{}</td></tr>\n",
                esc(&crate::acted_at(a)),
                esc(&a.by),
                esc(&a.action),
                if a.ok { "" } else { " class=\"fail\"" },
                esc(&a.result)
            ));
        }
        body.push_str("</table>\n");
    }
    if runs.iter().any(|r| !r.node_conditions.is_empty()) {
        body.push_str(
            "<h2>Node conditions</h2>\n<table>\n<tr><th>policy</th><th>node</th><th>condition</th><th>from</th><th>to</th>\
             <th>length</th></tr>\n",
        );
        for r in runs {
            for c in &r.node_conditions {
                body.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td class=\"num\">{}</td></tr>\n",
                    esc(&r.policy),
                    esc(&c.node),
                    esc(&c.condition),
                    esc(&c.period.start),
                    esc(&c.period.end),
                    if c.period.ongoing { " (ongoing)" } else { "" },
                    human_duration(c.period.duration_s)
                ));
            }
        }
        body.push_str("</table>\n");
    }
    body.push_str("<h2>Faults</h2>\n");
    if first.faults.is_empty() {
        body.push_str("<p class=\"muted\">None.</p>\n");
    } else {
        body.push_str("<table>\n<tr><th>at</th><th>fault</th><th>target</th><th>objects hit</th></tr>\n");
        for f in &first.faults {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>\n",
                esc(&f.at),
                esc(&f.kind),
                esc(&f.target),
                f.matched
            ));
        }
        body.push_str("</table>\n");
    }
    if !first.assumptions.is_empty() {
        body.push_str(
            "<h2>Assumptions</h2>\n<p>Numbers the source does not give, as the scenario lists them:</p>\n<ul>\n",
        );
        for a in &first.assumptions {
            body.push_str(&format!("<li><code>{}</code>: {}</li>\n", esc(&a.path), esc(&a.why)));
        }
        body.push_str("</ul>\n");
    }
    page(&format!("capsize: {}{}", first.scenario, crate::mode_note(first)), &body)
}

/// `capsize check`'s verdicts as one HTML page.
pub fn check_html(r: &CheckReport) -> String {
    let mut body = format!(
        "<h1>Suite {}</h1>\n<p>{}, {} failed.</p>\n<table>\n<tr><th>case</th><th>expectation</th><th>measured</th>\
         <th>verdict</th></tr>\n",
        esc(&r.suite),
        crate::count(r.cases.len(), "case", "cases"),
        r.failures()
    );
    for c in &r.cases {
        if let Some(e) = &c.error {
            body.push_str(&format!(
                "<tr><td>{}</td><td>the run completes</td><td>{}</td><td class=\"fail\">FAIL</td></tr>\n",
                esc(&c.id()),
                esc(e)
            ));
        }
        for k in &c.checks {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td></tr>\n",
                esc(&c.id()),
                esc(&k.expectation),
                esc(&k.measured),
                if k.passed { "" } else { " class=\"fail\"" },
                if k.passed { "ok" } else { "FAIL" }
            ));
        }
    }
    body.push_str("</table>\n");
    page(&format!("capsize suite {}", r.suite), &body)
}
