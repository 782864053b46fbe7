//! Monte-Carlo sweeps: many runs of one scenario with derived seeds, per policy, summarised as
//! distributions (`capsize sweep`), and the partial results of a sharded sweep (`capsize merge`).
//!
//! A sweep keeps a [`SweepRow`] per run and policy (a few numbers), never the runs' results, so
//! its memory grows with the number of runs times services, not with what happened in them. The
//! summary is computed from the rows in run order, so the same rows give the same bytes however
//! they were produced: on one thread or many, in one process or in shards merged afterwards.

use serde::{Deserialize, Serialize};

use crate::html::{H, LEFT, PALETTE, RIGHT, W, page, percent_grid, svg_open, x_tick, y_of};
use crate::junit::xml as esc;
use crate::{human_duration, new_table, percent};

/// How run `k`'s seed is derived from the sweep's seed, as the JSON states it.
pub const SEED_RULE: &str = "seed of run k = splitmix64(splitmix64(seed) + k)";

/// The z of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// What one service did in one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceRow {
    /// Served over offered requests (time-based where a service has no traffic curve).
    pub availability: f64,
    /// Total time in outage.
    pub downtime_s: f64,
    /// Number of outages.
    pub outages: u32,
}

/// One run of a sweep under one policy: what the summary needs, nothing more.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    /// The run's index in the sweep (0-based).
    pub run: u64,
    /// The run's seed: `capsize run --seed SEED` replays it.
    pub seed: u64,
    /// Per service, in [`SweepRows::services`] order.
    pub services: Vec<ServiceRow>,
    /// Per expectation, in [`SweepRows::expectations`] order: whether it held.
    pub held: Vec<bool>,
    /// Why the run stopped early (a plug-in failed); its numbers still count as measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A policy's rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyRows {
    /// The policy.
    pub policy: String,
    /// Its runs, in run order.
    pub rows: Vec<SweepRow>,
}

/// The rows of a sweep, or of one shard of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRows {
    /// The scenario's name.
    pub scenario: String,
    /// The sweep's seed (run k's seed is derived from it: [`SEED_RULE`]).
    pub seed: u64,
    /// Runs in the whole sweep (a shard holds some of them).
    pub runs: u64,
    /// The scenario's outage threshold (a run with an outage breaches the SLO).
    pub outage_below: f64,
    /// The services, in the scenario's order.
    pub services: Vec<String>,
    /// The expectations each run is judged by, as written.
    pub expectations: Vec<String>,
    /// Per policy, in the order asked for.
    pub policies: Vec<PolicyRows>,
}

/// Order statistics of one measure over the runs (nearest-rank percentiles).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// 5th percentile.
    pub p5: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest.
    pub max: f64,
    /// Mean (summed in run order).
    pub mean: f64,
}

/// How often something happened, with its Wilson 95 % interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    /// Runs where it happened.
    pub count: u64,
    /// Runs.
    pub runs: u64,
    /// `count / runs`.
    pub estimate: f64,
    /// Lower end of the Wilson score interval at 95 %.
    pub ci95_low: f64,
    /// Upper end.
    pub ci95_high: f64,
}

impl Proportion {
    /// `count` of `runs`, with the Wilson score interval (sound near 0 and 1, where a normal
    /// approximation gives negative or empty intervals).
    pub fn wilson(count: u64, runs: u64) -> Proportion {
        if runs == 0 {
            return Proportion { count, runs, estimate: 0.0, ci95_low: 0.0, ci95_high: 1.0 };
        }
        let n = runs as f64;
        let p = count as f64 / n;
        let z2 = Z95 * Z95;
        let denom = 1.0 + z2 / n;
        let centre = (p + z2 / (2.0 * n)) / denom;
        let half = Z95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
        Proportion {
            count,
            runs,
            estimate: p,
            // At 0 and at n the interval ends exactly at 0 and 1; the formula gets within an ulp.
            ci95_low: if count == 0 { 0.0 } else { (centre - half).clamp(0.0, 1.0) },
            ci95_high: if count >= runs { 1.0 } else { (centre + half).clamp(0.0, 1.0) },
        }
    }
}

/// One of the worst runs of a policy for a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorstRun {
    /// Its index.
    pub run: u64,
    /// Its seed, to replay with `capsize run --seed`.
    pub seed: u64,
    /// Its availability.
    pub availability: f64,
    /// Its downtime.
    pub downtime_s: f64,
    /// Its outages.
    pub outages: u32,
}

/// A policy's distribution for one service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSweep {
    /// The service.
    pub service: String,
    /// Availability over the runs.
    pub availability: Spread,
    /// Downtime over the runs.
    pub downtime_s: Spread,
    /// Runs with at least one outage (served share below the SLO's threshold): the SLO breaches.
    pub breach: Proportion,
    /// The worst runs (lowest availability, then most downtime, then first run).
    pub worst: Vec<WorstRun>,
    /// Downtime at each percentile 0, 1, ..., 100 (nearest rank): the CDF the HTML draws.
    pub downtime_percentiles: Vec<f64>,
}

/// How often an expectation failed under a policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpectationSweep {
    /// As written.
    pub expectation: String,
    /// Runs where it did not hold.
    pub failed: Proportion,
    /// Seeds of the first runs where it did not hold.
    pub failing_seeds: Vec<u64>,
}

/// A policy's summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicySweep {
    /// The policy.
    pub policy: String,
    /// Runs that stopped early (a plug-in failed).
    pub stopped_runs: u64,
    /// Per service.
    pub services: Vec<ServiceSweep>,
    /// Per expectation.
    pub expectations: Vec<ExpectationSweep>,
}

/// What `capsize sweep` prints (the JSON is the stable contract).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// The scenario.
    pub scenario: String,
    /// The sweep's seed.
    pub seed: u64,
    /// How each run's seed comes from it.
    pub seeds: String,
    /// Runs per policy.
    pub runs: u64,
    /// The SLO: an outage is a served share below this.
    pub outage_below: f64,
    /// Per policy, in the order asked for.
    pub policies: Vec<PolicySweep>,
}

/// The value at percentile `p` of `sorted` by nearest rank (`p` = 0 gives the minimum).
fn nearest_rank(sorted: &[f64], p: u32) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    let rank = (u64::from(p) * n as u64).div_ceil(100).max(1) as usize;
    sorted[rank.min(n) - 1]
}

fn spread(values: &[f64]) -> Spread {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mean = if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 };
    Spread {
        min: nearest_rank(&sorted, 0),
        p5: nearest_rank(&sorted, 5),
        p50: nearest_rank(&sorted, 50),
        p95: nearest_rank(&sorted, 95),
        max: sorted.last().copied().unwrap_or(0.0),
        mean,
    }
}

impl SweepRows {
    /// The summary: per policy and service the spreads, the breach probability, the worst runs.
    /// Rows are taken in run order whatever order they are stored in.
    pub fn summarize(&self, worst: usize) -> SweepReport {
        let policies = self
            .policies
            .iter()
            .map(|p| {
                let mut rows: Vec<&SweepRow> = p.rows.iter().collect();
                rows.sort_by_key(|r| r.run);
                let runs = rows.len() as u64;
                let services = self
                    .services
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let avail: Vec<f64> = rows.iter().map(|r| r.services[i].availability).collect();
                        let down: Vec<f64> = rows.iter().map(|r| r.services[i].downtime_s).collect();
                        let breaches = rows.iter().filter(|r| r.services[i].outages > 0).count() as u64;
                        let mut order: Vec<&SweepRow> = rows.clone();
                        order.sort_by(|a, b| {
                            let (x, y) = (&a.services[i], &b.services[i]);
                            x.availability
                                .total_cmp(&y.availability)
                                .then(y.downtime_s.total_cmp(&x.downtime_s))
                                .then(a.run.cmp(&b.run))
                        });
                        let mut sorted_down = down.clone();
                        sorted_down.sort_by(f64::total_cmp);
                        ServiceSweep {
                            service: name.clone(),
                            availability: spread(&avail),
                            downtime_s: spread(&down),
                            breach: Proportion::wilson(breaches, runs),
                            worst: order
                                .iter()
                                .take(worst)
                                .map(|r| WorstRun {
                                    run: r.run,
                                    seed: r.seed,
                                    availability: r.services[i].availability,
                                    downtime_s: r.services[i].downtime_s,
                                    outages: r.services[i].outages,
                                })
                                .collect(),
                            downtime_percentiles: (0..=100).map(|q| nearest_rank(&sorted_down, q)).collect(),
                        }
                    })
                    .collect();
                let expectations = self
                    .expectations
                    .iter()
                    .enumerate()
                    .map(|(j, text)| {
                        let failing: Vec<&&SweepRow> = rows.iter().filter(|r| !r.held[j]).collect();
                        ExpectationSweep {
                            expectation: text.clone(),
                            failed: Proportion::wilson(failing.len() as u64, runs),
                            failing_seeds: failing.iter().take(worst).map(|r| r.seed).collect(),
                        }
                    })
                    .collect();
                PolicySweep {
                    policy: p.policy.clone(),
                    stopped_runs: rows.iter().filter(|r| r.error.is_some()).count() as u64,
                    services,
                    expectations,
                }
            })
            .collect();
        SweepReport {
            scenario: self.scenario.clone(),
            seed: self.seed,
            seeds: SEED_RULE.into(),
            runs: self.runs,
            outage_below: self.outage_below,
            policies,
        }
    }
}

/// Output formats of a sweep (JUnit has no meaning for a distribution).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SweepFormat {
    /// Aligned tables.
    Table,
    /// JSON.
    Json,
    /// Markdown.
    Markdown,
    /// HTML with a downtime CDF per service.
    Html,
}

/// The report in `format`.
pub fn render_sweep(r: &SweepReport, format: SweepFormat) -> String {
    match format {
        SweepFormat::Table => sweep_table(r),
        SweepFormat::Json => {
            let mut s = serde_json::to_string_pretty(r).expect("a sweep serializes");
            s.push('\n');
            s
        }
        SweepFormat::Markdown => sweep_markdown(r),
        SweepFormat::Html => sweep_html(r),
    }
}

fn ci(p: &Proportion) -> String {
    format!("{} [{} - {}]", pct1(p.estimate), pct1(p.ci95_low), pct1(p.ci95_high))
}

fn pct1(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn seeds(w: &[WorstRun]) -> String {
    w.iter().map(|w| w.seed.to_string()).collect::<Vec<_>>().join(" ")
}

fn service_names(r: &SweepReport) -> Vec<&str> {
    r.policies.first().map(|p| p.services.iter().map(|s| s.service.as_str()).collect()).unwrap_or_default()
}

fn five(s: &Spread, show: impl Fn(f64) -> String) -> String {
    [s.min, s.p5, s.p50, s.p95, s.max].map(show).join(" / ")
}

/// The worst runs' seeds, or one seed when every run came out alike (any one replays them all).
fn worst_seeds(s: &ServiceSweep) -> String {
    let alike = s.availability.min == s.availability.max && s.downtime_s.min == s.downtime_s.max;
    match (alike, s.worst.first()) {
        (true, Some(w)) => format!("all runs alike, e.g. {}", w.seed),
        _ => seeds(&s.worst),
    }
}

/// A table as data: its header and rows, rendered as comfy (Markdown) or HTML.
struct Rows {
    header: &'static [&'static str],
    rows: Vec<Vec<String>>,
}

impl Rows {
    fn text(&self) -> String {
        let mut t = new_table(self.header);
        for r in &self.rows {
            t.add_row(r.clone());
        }
        t.to_string()
    }

    fn html(&self) -> String {
        let row = |tag: &str, cells: &mut dyn Iterator<Item = &str>| -> String {
            let inner: String = cells.map(|c| format!("<{tag}>{}</{tag}>", esc(c))).collect();
            format!("<tr>{inner}</tr>\n")
        };
        let mut out = String::from("<table>\n");
        out.push_str(&row("th", &mut self.header.iter().copied()));
        for r in &self.rows {
            out.push_str(&row("td", &mut r.iter().map(String::as_str)));
        }
        out.push_str("</table>\n");
        out
    }
}

fn service_rows(r: &SweepReport, name: &str) -> Rows {
    Rows {
        header: &[
            "policy",
            "availability min / p5 / p50 / p95 / max",
            "downtime min / p5 / p50 / p95 / max",
            "P(outage) [95% CI]",
            "worst seeds",
        ],
        rows: r
            .policies
            .iter()
            .filter_map(|p| p.services.iter().find(|s| s.service == name).map(|s| (p, s)))
            .map(|(p, s)| {
                vec![
                    p.policy.clone(),
                    five(&s.availability, percent),
                    five(&s.downtime_s, human_duration),
                    ci(&s.breach),
                    worst_seeds(s),
                ]
            })
            .collect(),
    }
}

fn expectation_rows(r: &SweepReport) -> Option<Rows> {
    if r.policies.iter().all(|p| p.expectations.is_empty()) {
        return None;
    }
    let rows = r
        .policies
        .iter()
        .flat_map(|p| p.expectations.iter().map(move |e| (p, e)))
        .map(|(p, e)| {
            vec![
                p.policy.clone(),
                e.expectation.clone(),
                format!("{} of {}: {}", e.failed.count, e.failed.runs, ci(&e.failed)),
                e.failing_seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(" "),
            ]
        })
        .collect();
    Some(Rows { header: &["policy", "expectation", "failed in [95% CI]", "first failing seeds"], rows })
}

fn header(r: &SweepReport) -> String {
    format!(
        "{}: {} runs per policy, seed {} ({}). An outage is a served share below {}; P(outage) is the share of runs \
         with one.",
        r.scenario,
        r.runs,
        r.seed,
        r.seeds,
        pct1(r.outage_below)
    )
}

fn stopped(r: &SweepReport) -> Vec<String> {
    r.policies
        .iter()
        .filter(|p| p.stopped_runs > 0)
        .map(|p| format!("{} runs under {} stopped early (a plug-in failed)", p.stopped_runs, p.policy))
        .collect()
}

fn sweep_table(r: &SweepReport) -> String {
    let mut out = header(r);
    out.push_str("\n\n");
    for name in service_names(r) {
        out.push_str(&format!("{name}\n{}\n\n", service_rows(r, name).text()));
    }
    if let Some(t) = expectation_rows(r) {
        out.push_str(&format!("expectations\n{}\n\n", t.text()));
    }
    for s in stopped(r) {
        out.push_str(&format!("WARNING: {s}\n"));
    }
    out.push_str("replay a run: capsize run SCENARIO --policy POLICY --seed SEED\n");
    out
}

fn sweep_markdown(r: &SweepReport) -> String {
    let mut out = format!("# {}: sweep of {} runs per policy\n\n{}\n\n", r.scenario, r.runs, header(r));
    for name in service_names(r) {
        out.push_str(&format!("## {name}\n\n{}\n\n", service_rows(r, name).text()));
    }
    if let Some(t) = expectation_rows(r) {
        out.push_str(&format!("## Expectations\n\n{}\n\n", t.text()));
    }
    for s in stopped(r) {
        out.push_str(&format!("**{s}.**\n\n"));
    }
    out.push_str("Replay any run with `capsize run SCENARIO --policy POLICY --seed SEED`.\n");
    out
}

/// Dash patterns in policy order, so that identical lines stay distinguishable in grey print.
const DASHES: [&str; 4] = ["", "8 4", "2 3", "10 3 2 3"];

/// The `stroke-dasharray` of policy `i`'s line (none for the first).
fn dash_attr(i: usize) -> String {
    match DASHES[i % DASHES.len()] {
        "" => String::new(),
        d => format!(" stroke-dasharray=\"{d}\""),
    }
}

/// A CDF of downtime per policy: x = downtime, y = share of runs with at most that downtime.
fn cdf_chart(r: &SweepReport, name: &str) -> String {
    let max = r
        .policies
        .iter()
        .filter_map(|p| p.services.iter().find(|s| s.service == name))
        .map(|s| s.downtime_s.max)
        .fold(0.0, f64::max)
        .max(60.0);
    let x_of = |d: f64| LEFT + (d / max).clamp(0.0, 1.0) * (W - LEFT - RIGHT);
    let mut svg = svg_open(&format!("Share of runs with at most a given downtime of {name}, per policy"));
    svg.push_str(&percent_grid());
    for i in 0..=5 {
        let d = max * f64::from(i) / 5.0;
        svg.push_str(&x_tick(x_of(d), &human_duration(d)));
    }
    svg.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">downtime per run</text>\n",
        (LEFT + W - RIGHT) / 2.0,
        H - 6.0
    ));
    for (i, p) in r.policies.iter().enumerate() {
        let Some(s) = p.services.iter().find(|s| s.service == name) else { continue };
        let mut pts = format!("{:.1},{:.1}", x_of(0.0), y_of(0.0));
        for (q, d) in s.downtime_percentiles.iter().enumerate() {
            let (x, y) = (x_of(*d), y_of(q as f64 / 100.0));
            pts.push_str(&format!(" {x:.1},{:.1} {x:.1},{y:.1}", y_of(q.saturating_sub(1) as f64 / 100.0)));
        }
        pts.push_str(&format!(" {:.1},{:.1}", W - RIGHT, y_of(1.0)));
        svg.push_str(&format!(
            "<polyline class=\"series\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{pts}\"><title>{}</title>\
             </polyline>\n",
            PALETTE[i % PALETTE.len()],
            dash_attr(i),
            esc(&p.policy)
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

fn sweep_html(r: &SweepReport) -> String {
    let mut body =
        format!("<h1>{}: sweep of {} runs per policy</h1>\n<p>{}</p>\n", esc(&r.scenario), r.runs, esc(&header(r)));
    body.push_str("<p class=\"legend\">");
    for (i, p) in r.policies.iter().enumerate() {
        body.push_str(&format!(
            "<span><svg width=\"28\" height=\"8\"><line x1=\"0\" y1=\"4\" x2=\"28\" y2=\"4\" stroke=\"{}\" stroke-width=\"2\"{}/>\
             </svg> {}</span>",
            PALETTE[i % PALETTE.len()],
            dash_attr(i),
            esc(&p.policy)
        ));
    }
    body.push_str("</p>\n");
    for name in service_names(r) {
        body.push_str(&format!("<h2>{}: share of runs with at most a given downtime</h2>\n", esc(name)));
        body.push_str(&cdf_chart(r, name));
        body.push_str(&service_rows(r, name).html());
    }
    if let Some(t) = expectation_rows(r) {
        body.push_str("<h2>Expectations</h2>\n");
        body.push_str(&t.html());
    }
    for s in stopped(r) {
        body.push_str(&format!("<p class=\"fail\">{}</p>\n", esc(&s)));
    }
    body.push_str(
        "<p class=\"muted\">Replay any run with <code>capsize run SCENARIO --policy POLICY --seed SEED</code>.</p>\n",
    );
    page(&format!("capsize sweep: {}", r.scenario), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 0), 1.0);
        assert_eq!(nearest_rank(&v, 5), 1.0);
        assert_eq!(nearest_rank(&v, 50), 10.0);
        assert_eq!(nearest_rank(&v, 95), 19.0);
        assert_eq!(nearest_rank(&v, 100), 20.0);
        assert_eq!(nearest_rank(&[7.0], 95), 7.0);
    }

    #[test]
    fn wilson_interval_matches_the_textbook() {
        // 0 of 10: [0, 0.2775]; 5 of 10: [0.2366, 0.7634] (Wilson 1927, as tabulated by Newcombe 1998).
        let p = Proportion::wilson(0, 10);
        assert_eq!(p.ci95_low, 0.0);
        assert!((p.ci95_high - 0.2775).abs() < 1e-4, "{p:?}");
        let p = Proportion::wilson(5, 10);
        assert!((p.ci95_low - 0.2366).abs() < 1e-4 && (p.ci95_high - 0.7634).abs() < 1e-4, "{p:?}");
        let p = Proportion::wilson(10, 10);
        assert_eq!(p.ci95_high, 1.0);
        assert!((p.ci95_low - 0.7225).abs() < 1e-4, "{p:?}");
    }
}
