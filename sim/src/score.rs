//! The scorer: a separate checker over a run's history. It never sees the engine, only what the
//! history recorded (each service's serving capacity over time) and the scenario's traffic
//! curves and dependencies.
//!
//! Between two changes (a capacity step or a curve point, for the service and everything it
//! calls) every capacity is constant and every offered curve linear. Each such segment is split
//! again where an offered curve crosses its service's capacity, so that inside a piece the
//! served rate is smooth: offered requests are integrated exactly (trapezoid on a line) and
//! served requests with 5-point Gauss-Legendre (error far below a request per day). Outage
//! boundaries (ratio below the threshold) fall on piece boundaries to the millisecond, or inside
//! a piece where the load crosses the threshold, found by bisection to the millisecond.
//!
//! Most pieces need no search: a ratio never rises with an offered load, so when every load in a
//! piece goes the same way (or stays) the ratio is monotone along it, and if both ends are on the
//! same side of the threshold every point between is too. Only pieces whose loads go opposite
//! ways, or whose ends disagree, are sampled (debug builds sample the others as well and assert
//! they agree).

use std::collections::{BTreeMap, BTreeSet};

use crate::history::History;
use crate::result::{
    ActionResult, AlertResult, CostResult, FaultResult, LeaderlessResult, Mode, MoveResult, NodeConditionResult,
    OfflineResult, OutageResult, Period, PodResult, RunResult, ServiceResult, TimelineResult, WorkloadResult,
};
use crate::spec::{AlertCondition, Scenario};
use crate::time::SimTime;
use crate::traffic::Topology;

/// Gauss-Legendre nodes and weights on [-1, 1].
const GL: [(f64, f64); 5] = [
    (0.0, 0.568_888_888_888_888_9),
    (-0.538_469_310_105_683_1, 0.478_628_670_499_366_5),
    (0.538_469_310_105_683_1, 0.478_628_670_499_366_5),
    (-0.906_179_845_938_664, 0.236_926_885_056_189_1),
    (0.906_179_845_938_664, 0.236_926_885_056_189_1),
];

/// Slices of a run in the availability series that reports chart.
const SERIES_SLICES: u64 = 288;

/// Samples per piece when looking for a threshold crossing inside it.
const SAMPLES: u64 = 16;

/// Scores a run.
pub fn evaluate(scenario: &Scenario, policy: &str, seed: u64, history: &History) -> RunResult {
    // The offered load of a drawn traffic scale is the one the run had.
    let realized = scenario.realize(seed);
    let scenario = &realized;
    let start = &scenario.spec.start;
    let topo = Topology::new(scenario);
    let clock = |t: SimTime| start.clock_at(t).to_string();
    // A recorded period; one still open ends with the run.
    let period = |a: SimTime, b: Option<SimTime>| {
        let end = b.unwrap_or(history.end);
        Period {
            start: clock(a),
            end: clock(end),
            start_s: a.secs_f64(),
            end_s: end.secs_f64(),
            duration_s: end.secs_f64() - a.secs_f64(),
            ongoing: b.is_none(),
        }
    };
    let cl = &scenario.spec.cluster;
    let down_rules: BTreeSet<&str> = scenario
        .spec
        .monitoring
        .alerts
        .iter()
        .filter(|a| a.condition == AlertCondition::ServiceDown)
        .map(|a| a.name.as_str())
        .collect();

    let mut restarts_by_workload: BTreeMap<&str, u32> = BTreeMap::new();
    for p in &history.pods {
        *restarts_by_workload.entry(p.workload.as_str()).or_default() += p.restarts;
    }
    let mut pods_by_workload: BTreeMap<&str, Vec<&crate::history::PodRecord>> = BTreeMap::new();
    for p in &history.pods {
        pods_by_workload.entry(p.workload.as_str()).or_default().push(p);
    }

    // Restarts per service: the workloads it selects in its own cluster; a load balancer's are
    // its backends'.
    let own_restarts: Vec<u32> = cl
        .services
        .iter()
        .map(|spec| {
            let cluster = cl.service_cluster(spec);
            cl.workloads
                .iter()
                .filter(|w| cl.cluster_of(w.cluster.as_deref()) == cluster && w.selected_by(&spec.selector))
                .map(|w| restarts_by_workload.get(w.name.as_str()).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let services = (0..topo.len())
        .map(|i| {
            let (offered, served, raw) = service_integrals(&topo, i, history);
            let intervals = merge_flaps(raw, scenario.spec.slo.min_recovery.ms());
            let name = topo.names[i].clone();
            let outages: Vec<OutageResult> = intervals
                .iter()
                .map(|&(a, b)| {
                    let detected = history
                        .alerts
                        .iter()
                        .filter(|r| r.target == name && down_rules.contains(r.name.as_str()))
                        .filter(|r| r.fired <= b && r.resolved.is_none_or(|x| x >= a))
                        .map(|r| r.fired.since(a).secs_f64())
                        .reduce(f64::min);
                    OutageResult {
                        start: clock(a),
                        end: clock(b),
                        start_s: a.secs_f64(),
                        end_s: b.secs_f64(),
                        duration_s: b.since(a).secs_f64(),
                        ongoing: b >= history.end,
                        detected_after_s: detected,
                    }
                })
                .collect();
            // Folded from +0.0: an empty `sum` of floats is -0.0, which JSON would show.
            let downtime: f64 = outages.iter().map(|o| o.duration_s).fold(0.0, |a, b| a + b);
            let availability = if offered > 0.0 {
                (served / offered).clamp(0.0, 1.0)
            } else {
                1.0 - downtime / history.end.secs_f64().max(1e-9)
            };
            let restarts = restarts_of(&topo, &own_restarts, i);
            let detected: Vec<f64> = outages.iter().filter_map(|o| o.detected_after_s).collect();
            ServiceResult {
                name,
                availability,
                offered_requests: offered,
                served_requests: served,
                downtime_s: downtime,
                restarts,
                mttd_s: mean(&detected),
                mttr_s: mean(&outages.iter().map(|o| o.duration_s).collect::<Vec<_>>()),
                outages,
                series: Vec::new(),
            }
        })
        .collect();

    let workloads = cl
        .workloads
        .iter()
        .map(|w| {
            let pods: Vec<PodResult> = pods_by_workload
                .get(w.name.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|p| PodResult {
                    name: p.name.clone(),
                    node: p.node.clone(),
                    created_s: p.created.secs_f64(),
                    deleted_s: p.deleted.map(SimTime::secs_f64),
                    restarts: p.restarts,
                    status: p.status.clone(),
                })
                .collect();
            WorkloadResult { name: w.name.clone(), restarts: pods.iter().map(|p| p.restarts).sum(), pods }
        })
        .collect();

    RunResult {
        mode: Mode::Sim,
        scenario: scenario.metadata.name.clone(),
        policy: policy.to_string(),
        seed,
        start: start.text.clone(),
        duration_s: history.end.secs_f64(),
        services,
        workloads,
        actions: history
            .actions
            .iter()
            .map(|a| ActionResult {
                at: clock(a.issued),
                at_s: a.issued.secs_f64(),
                observed_s: a.observed.filter(|o| *o < a.issued).map(|o| o.secs_f64()),
                observed: a.observed.filter(|o| *o < a.issued).map(clock),
                done_s: a.done.secs_f64(),
                by: a.by.clone(),
                action: a.action.clone(),
                ok: a.outcome.is_ok(),
                result: match &a.outcome {
                    Ok(s) | Err(s) => s.clone(),
                },
                by_policy: a.from_policy,
            })
            .collect(),
        faults: history
            .faults
            .iter()
            .map(|f| FaultResult {
                at: clock(f.at),
                at_s: f.at.secs_f64(),
                kind: f.kind.clone(),
                target: f.target.clone(),
                matched: f.matched,
                note: f.note.clone(),
            })
            .collect(),
        alerts: history
            .alerts
            .iter()
            .map(|a| AlertResult {
                name: a.name.clone(),
                target: a.target.clone(),
                fired: clock(a.fired),
                fired_s: a.fired.secs_f64(),
                resolved_s: a.resolved.map(SimTime::secs_f64),
            })
            .collect(),
        assumptions: scenario.spec.assumptions.clone(),
        timeline: history.timeline.as_ref().map(|t| {
            t.iter()
                .map(|e| TimelineResult {
                    at: clock(e.at),
                    at_s: e.at.secs_f64(),
                    object: e.object.clone(),
                    what: e.what.clone(),
                })
                .collect()
        }),
        cost: CostResult {
            instance_hours: history.instances.iter().map(|i| i.hours).sum(),
            spend: history.instances.iter().map(|i| i.spend).sum(),
            instances: history.instances.clone(),
        },
        events: history.events,
        probes: Vec::new(),
        error: history.aborted.clone(),
        leaderless: history
            .leaderless
            .iter()
            .map(|(c, a, b)| LeaderlessResult { cluster: c.clone(), period: period(*a, *b) })
            .collect(),
        node_conditions: history
            .node_conditions
            .iter()
            .map(|(n, c, a, b)| NodeConditionResult {
                node: n.clone(),
                condition: c.to_string(),
                period: period(*a, *b),
            })
            .collect(),
        offline_nodes: history
            .offline
            .iter()
            .map(|(n, t)| OfflineResult {
                node: n.clone(),
                at: clock(*t),
                at_s: t.secs_f64(),
                reason: "CPU saturated past agentStallAfter; agent stopped reporting".into(),
            })
            .collect(),
        moves: history
            .moves
            .iter()
            .map(|m| MoveResult {
                at: clock(m.at),
                at_s: m.at.secs_f64(),
                workload: m.workload.clone(),
                from_pod: m.from_pod.clone(),
                from_node: m.from_node.clone(),
                to_pod: m.to_pod.clone(),
                to_node: m.to_node.clone(),
                placed_later_on: m.placed_later.as_ref().map(|(n, _)| n.clone()),
                placed_later_at: m.placed_later.as_ref().map(|&(_, t)| clock(t)),
                reason: m.reason.clone(),
            })
            .collect(),
    }
}

/// Restarts of a service's workloads; a load balancer's are those of everything behind it.
/// Fills each service's availability series (for charts): the same exact integration as the
/// totals, per slice of the run. It costs about as much as scoring again, so only reports that
/// draw it ask for it (`RunOptions::series`).
pub fn add_series(scenario: &Scenario, history: &History, result: &mut RunResult) {
    let topo = Topology::new(scenario);
    for (i, s) in result.services.iter_mut().enumerate().take(topo.len()) {
        s.series = availability_series(&topo, i, history, SERIES_SLICES);
    }
}

fn restarts_of(topo: &Topology, own: &[u32], i: usize) -> u32 {
    if i < own.len() { own[i] } else { topo.backends[i].iter().map(|&b| restarts_of(topo, own, usize::from(b))).sum() }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Offered and served requests of service `s` over `[0, end)`, and its outage intervals.
pub(crate) fn service_integrals(topo: &Topology, s: usize, history: &History) -> (f64, f64, Vec<(SimTime, SimTime)>) {
    integrate(topo, s, history, None)
}

/// Served over offered requests of service `s` in `buckets` equal slices of the run, as
/// `(slice start s, slice end s, availability)`: what a chart of availability over time draws.
/// Integrated exactly as the totals are (the slice edges are extra cuts).
pub(crate) fn availability_series(topo: &Topology, s: usize, history: &History, buckets: u64) -> Vec<(f64, f64, f64)> {
    let end = history.end.0.max(1);
    let n = buckets.clamp(1, end);
    let mut sums = vec![(0.0, 0.0); n as usize];
    let (_, _, outages) = integrate(topo, s, history, Some((end.div_ceil(n), &mut sums)));
    let width = end.div_ceil(n);
    sums.iter()
        .enumerate()
        .map(|(k, &(offered, served))| {
            let a = k as u64 * width;
            let b = ((k as u64 + 1) * width).min(end);
            // With nothing offered, availability is up-time, as the totals count it: the share
            // of the slice outside the outages.
            let v = if offered > 0.0 {
                (served / offered).clamp(0.0, 1.0)
            } else {
                let down: u64 = outages.iter().map(|(o0, o1)| o1.0.min(b).saturating_sub(o0.0.max(a))).sum();
                1.0 - down as f64 / (b - a).max(1) as f64
            };
            (a as f64 / 1000.0, b as f64 / 1000.0, v)
        })
        .filter(|&(a, b, _)| b > a)
        .collect()
}

/// The integration behind both: totals and outages, and per-slice sums when `slices` is given
/// (`(width ms, sums)`).
fn integrate(
    topo: &Topology,
    s: usize,
    history: &History,
    mut slices: Option<(u64, &mut [(f64, f64)])>,
) -> (f64, f64, Vec<(SimTime, SimTime)>) {
    let (capacity, end) = (&history.capacity, history.end);
    // The service and everything it calls, callees first.
    let mut in_closure = vec![false; topo.len()];
    let mut stack = vec![s];
    while let Some(x) = stack.pop() {
        if !in_closure[x] {
            in_closure[x] = true;
            stack.extend(topo.calls[x].iter().map(|(d, _)| usize::from(*d)));
            stack.extend(topo.backends[x].iter().map(|&b| usize::from(b)));
        }
    }
    let closure: Vec<usize> = topo.order.iter().map(|&id| usize::from(id)).filter(|&i| in_closure[i]).collect();

    let mut cuts: BTreeSet<u64> = BTreeSet::from([0, end.0]);
    // Every service whose share shapes an offered load here: the closure and the balancers
    // above its members.
    let mut sharing = vec![false; topo.len()];
    for &x in &closure {
        for y in topo.chain(x) {
            sharing[y] = true;
        }
    }
    let sharing: Vec<usize> = (0..topo.len()).filter(|&i| sharing[i]).collect();
    for &x in &sharing {
        cuts.extend(history.shares[x].iter().map(|(t, _)| t.0).filter(|&t| t < end.0));
    }
    for &x in &closure {
        cuts.extend(capacity[x].iter().map(|(t, _)| t.0).filter(|&t| t < end.0));
        cuts.extend(history.dead[x].iter().map(|(t, _)| t.0).filter(|&t| t < end.0));
        let src = topo.source(x);
        cuts.extend(topo.curves[src].points().iter().map(|(t, _)| t.0).filter(|&t| t > 0 && t < end.0));
    }
    if let Some((width, sums)) = &slices {
        cuts.extend((1..sums.len() as u64).map(|k| k * width).filter(|&t| t < end.0));
    }
    let cuts: Vec<u64> = cuts.into_iter().collect();

    let threshold = topo.outage_below[s];
    let mut offered = 0.0;
    let mut served = 0.0;
    let mut outages = Vec::new();
    let mut down_since: Option<u64> = None;
    let mut caps = vec![0.0; topo.len()];
    let mut deads = vec![0.0; topo.len()];
    let mut shares = vec![0.0; topo.len()];
    let mut chain = vec![0.0; topo.len()];
    let mut ratios = vec![0.0; topo.len()];
    // The segments go forward in time: each step function is read from where the last read
    // stopped (the values `History::capacity_at` and the others give, without a search).
    fn cursors(steps: &[Vec<(SimTime, f64)>]) -> Vec<Steps<'_>> {
        steps.iter().map(|s| Steps { steps: s, next: 0 }).collect()
    }
    let (mut share_steps, mut cap_steps, mut dead_steps) =
        (cursors(&history.shares), cursors(&history.capacity), cursors(&history.dead));
    let mut pieces = Vec::new();

    for seg in cuts.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        for &x in &sharing {
            shares[x] = share_steps[x].at(SimTime(a));
        }
        for &x in &closure {
            caps[x] = cap_steps[x].at(SimTime(a));
            deads[x] = dead_steps[x].at(SimTime(a));
            chain[x] = topo.chain_share(x, |i| shares[i]);
        }
        // Split where an offered curve crosses its capacity (the kink of min(1, cap/offered)).
        pieces.clear();
        pieces.extend([a, b]);
        for &x in &closure {
            if !topo.backends[x].is_empty() {
                continue;
            }
            let (oa, ob) = (topo.offered_f(x, a as f64, chain[x]), topo.offered_f(x, b as f64, chain[x]));
            // The kink is where the offered load crosses the capacity the router sends to.
            let c = caps[x] + deads[x];
            if c > 0.0 && (oa - c) * (ob - c) < 0.0 {
                let t = a as f64 + (c - oa) / (ob - oa) * (b - a) as f64;
                let t = t.round() as u64;
                if t > a && t < b {
                    pieces.push(t);
                }
            }
        }
        pieces.sort_unstable();
        pieces.dedup();

        let ratio_at = |t: f64, ratios: &mut Vec<f64>| -> f64 {
            for &x in &closure {
                let offered = topo.offered_f(x, t, chain[x]);
                ratios[x] = topo.ratio(x, caps[x], deads[x], offered, |b| shares[b], ratios);
            }
            ratios[s]
        };
        let offered_at = |t: f64| topo.offered_f(s, t, chain[s]);

        for w in pieces.windows(2) {
            let (u, v) = (w[0], w[1]);
            let len_s = (v - u) as f64 / 1000.0;
            let piece_offered = (offered_at(u as f64) + offered_at(v as f64)) / 2.0 * len_s;
            let mid = (u + v) as f64 / 2.0;
            let half = (v - u) as f64 / 2.0;
            let piece_served = GL
                .iter()
                .map(|&(x, wt)| {
                    let t = mid + half * x;
                    wt * offered_at(t) * ratio_at(t, &mut ratios)
                })
                .sum::<f64>()
                * len_s
                / 2.0;
            offered += piece_offered;
            served += piece_served;
            if let Some((width, sums)) = &mut slices {
                let k = ((u / *width) as usize).min(sums.len() - 1);
                sums[k].0 += piece_offered;
                sums[k].1 += piece_served;
            }

            // Outage state along the piece.
            let below = |t: u64, ratios: &mut Vec<f64>| ratio_at(t as f64, ratios) < threshold;
            let first_below = below(u, &mut ratios);
            toggle(&mut down_since, &mut outages, first_below, u);
            // The end of the piece is judged with the piece's capacities (its left limit).
            let last = v.saturating_sub(1).max(u);
            // Inside a piece every offered load is linear and the ratio does not rise with any
            // of them, so when they all go the same way the ratio is monotone along the piece:
            // with both ends on the same side of the threshold, so is every sample, and the
            // samples need not be taken (their answers are known: no crossing).
            let same_way = {
                let (mut up, mut down) = (false, false);
                for &x in &closure {
                    let (o0, o1) = (topo.offered_f(x, u as f64, chain[x]), topo.offered_f(x, last as f64, chain[x]));
                    up |= o1 > o0;
                    down |= o1 < o0;
                }
                !(up && down)
            };
            if same_way && below(last, &mut ratios) == first_below {
                // Debug builds take the samples anyway, to check that none crosses.
                debug_assert!(
                    sample_crossings(u, v, first_below, &mut |t| below(t, &mut ratios)).is_empty(),
                    "service {s}: a monotone piece [{u}, {v}) crosses the threshold"
                );
                continue;
            }
            for (now_below, at) in sample_crossings(u, v, first_below, &mut |t| below(t, &mut ratios)) {
                toggle(&mut down_since, &mut outages, now_below, at);
            }
        }
    }
    if let Some(since) = down_since {
        outages.push((SimTime(since), end));
    }
    (offered, served, outages)
}

/// The threshold crossings inside the piece `[u, v)`, from `below(u) == first`: `SAMPLES`
/// samples, each change of side bisected to the first millisecond on the new side, as
/// `(below, at)` in time order.
fn sample_crossings(u: u64, v: u64, first: bool, below: &mut dyn FnMut(u64) -> bool) -> Vec<(bool, u64)> {
    let mut out = Vec::new();
    let mut prev_t = u;
    let mut prev_below = first;
    for k in 1..=SAMPLES {
        let t = u + (v - u) * k / SAMPLES;
        // The end of the piece is judged with the piece's capacities (its left limit).
        let t_eval = if k == SAMPLES { v.saturating_sub(1).max(u) } else { t };
        let now_below = below(t_eval);
        if now_below != prev_below {
            // Bisect to the first millisecond in the new state.
            let (mut lo, mut hi) = (prev_t, t_eval);
            while hi - lo > 1 {
                let m = lo + (hi - lo) / 2;
                if below(m) == prev_below {
                    lo = m;
                } else {
                    hi = m;
                }
            }
            out.push((now_below, hi));
            prev_below = now_below;
        }
        prev_t = t_eval;
    }
    out
}

/// A step function `(from, value)` read at times that never go back: `at` gives what
/// `History::capacity_at` gives (0 before the first step), moving forward from the last read.
struct Steps<'a> {
    steps: &'a [(SimTime, f64)],
    /// Steps at or before the last time read.
    next: usize,
}

impl Steps<'_> {
    fn at(&mut self, t: SimTime) -> f64 {
        while self.next < self.steps.len() && self.steps[self.next].0 <= t {
            self.next += 1;
        }
        if self.next == 0 { 0.0 } else { self.steps[self.next - 1].1 }
    }
}

/// Joins outages separated by a recovery shorter than `min_recovery` ms.
fn merge_flaps(intervals: Vec<(SimTime, SimTime)>, min_recovery: u64) -> Vec<(SimTime, SimTime)> {
    let mut out: Vec<(SimTime, SimTime)> = Vec::with_capacity(intervals.len());
    for (a, b) in intervals {
        match out.last_mut() {
            Some(last) if a.0 - last.1.0 < min_recovery => last.1 = b,
            _ => out.push((a, b)),
        }
    }
    out
}

/// Opens or closes an outage at `t` when the state changes.
fn toggle(down_since: &mut Option<u64>, outages: &mut Vec<(SimTime, SimTime)>, below: bool, t: u64) {
    match (*down_since, below) {
        (None, true) => *down_since = Some(t),
        (Some(since), false) => {
            if t > since {
                outages.push((SimTime(since), SimTime(t)));
            }
            *down_since = None;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ServiceId;
    use crate::traffic::{Curve, ratio_of};
    use proptest::prelude::*;

    /// A step function at `t` (0 before its first step), read the plain way.
    fn step(steps: &[(SimTime, f64)], t: u64) -> f64 {
        steps.iter().take_while(|(at, _)| at.0 <= t).last().map_or(0.0, |s| s.1)
    }

    /// Strictly increasing times in `[0, end)` with a value each.
    fn steps(end: u64, max: f64, n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<(SimTime, f64)>> {
        prop::collection::btree_map(0..end, 0.0..max, n)
            .prop_map(|m| m.into_iter().map(|(t, v)| (SimTime(t), v)).collect())
    }

    /// Services `a` (its own curve) and, when `callee` is given, `b` with a curve of its own that
    /// `a` calls with that share.
    fn topology(a: Curve, callee: Option<(Curve, f64)>, threshold: f64) -> Topology {
        let n = 1 + usize::from(callee.is_some());
        let mut t = Topology {
            names: ["a", "b"].iter().take(n).map(|s| s.to_string()).collect(),
            order: (0..n).rev().map(ServiceId::from).collect(),
            calls: vec![Vec::new(); n],
            curves: vec![a],
            outage_below: vec![threshold; n],
            backends: vec![Vec::new(); n],
            fed_by: vec![None; n],
            route_shares: Vec::new(),
            called: vec![false; n],
        };
        if let Some((b, share)) = callee {
            t.calls[0].push((ServiceId::from(1), share));
            t.curves.push(b);
            t.called[1] = true;
        }
        t
    }

    const END: u64 = 20_000;

    /// The runs of milliseconds in `[0, end)` where `below` holds.
    fn runs(end: u64, below: impl Fn(u64) -> bool) -> Vec<(SimTime, SimTime)> {
        let mut out = Vec::new();
        let mut since = None;
        for t in 0..end {
            match (since, below(t)) {
                (None, true) => since = Some(t),
                (Some(s), false) => {
                    out.push((SimTime(s), SimTime(t)));
                    since = None;
                }
                _ => {}
            }
        }
        if let Some(s) = since {
            out.push((SimTime(s), SimTime(end)));
        }
        out
    }

    /// A caller whose load rises past its capacity and a callee whose load falls to its own:
    /// `1 / ((1 + x)(2 - x))` dips under 0.47 in the middle of the piece while both ends are
    /// over it. Skipping the samples of this piece would lose the outage.
    #[test]
    fn a_dip_between_two_loads_going_opposite_ways_is_found() {
        let a = Curve::new(vec![(SimTime(0), 100.0), (SimTime(10_000), 200.0)]);
        let b = Curve::new(vec![(SimTime(0), 200.0), (SimTime(10_000), 100.0)]);
        let topo = topology(a, Some((b, 1.0)), 0.47);
        let cap = vec![(SimTime(0), 100.0)];
        let history = History {
            end: SimTime(10_000),
            capacity: vec![cap.clone(), cap],
            dead: vec![Vec::new(); 2],
            shares: vec![Vec::new(); 2],
            ..History::default()
        };
        let (_, _, outages) = service_integrals(&topo, 0, &history);
        let brute = runs(10_000, |t| {
            let r_b = ratio_of(100.0, 0.0, topo.curves[1].at(SimTime(t)), &[], &[]);
            ratio_of(100.0, 0.0, topo.curves[0].at(SimTime(t)), &topo.calls[0], &[0.0, r_b]) < 0.47
        });
        assert_eq!(brute.len(), 1, "{brute:?}");
        // (1 + x)(2 - x) > 1 / 0.47 for x in (0.150, 0.850).
        assert!((1495..1510).contains(&brute[0].0.0) && (8490..8505).contains(&brute[0].1.0), "{brute:?}");
        assert_eq!(outages, brute);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// One service: inside a piece its ratio is monotone, so the scorer's outages (with the
        /// samples of monotone pieces skipped) are exactly the runs of milliseconds whose ratio
        /// is under the threshold.
        #[test]
        fn one_service_outages_are_the_milliseconds_under_the_threshold(
            curve in steps(END, 300.0, 2..6),
            capacity in steps(END, 200.0, 1..6),
            dead in steps(END, 50.0, 0..3),
            threshold in 0.3..0.99f64,
        ) {
            let topo = topology(Curve::new(curve), None, threshold);
            let history = History {
                end: SimTime(END),
                capacity: vec![capacity.clone()],
                dead: vec![dead.clone()],
                shares: vec![Vec::new()],
                ..History::default()
            };
            let (_, _, outages) = service_integrals(&topo, 0, &history);
            let brute = runs(END, |t| {
                let offered = topo.curves[0].at(SimTime(t));
                ratio_of(step(&capacity, t), step(&dead, t), offered, &[], &[]) < threshold
            });
            prop_assert_eq!(outages, brute);
        }

        /// A caller and a callee whose loads may go opposite ways: pieces where they do are
        /// sampled, the others skipped, and debug builds check every skipped piece against its
        /// samples (the `debug_assert` in `integrate`). The outages come out ordered and apart.
        #[test]
        fn skipped_pieces_agree_with_their_samples(
            a in steps(END, 300.0, 2..6),
            b in steps(END, 300.0, 2..6),
            share in 0.0..=1.0f64,
            capacity_a in steps(END, 200.0, 1..5),
            capacity_b in steps(END, 200.0, 1..5),
            threshold in 0.3..0.99f64,
        ) {
            let topo = topology(Curve::new(a), Some((Curve::new(b), share)), threshold);
            let history = History {
                end: SimTime(END),
                capacity: vec![capacity_a, capacity_b],
                dead: vec![Vec::new(); 2],
                shares: vec![Vec::new(); 2],
                ..History::default()
            };
            for s in 0..2 {
                let (_, _, outages) = service_integrals(&topo, s, &history);
                for w in outages.windows(2) {
                    prop_assert!(w[0].1 < w[1].0, "{:?}", outages);
                }
                prop_assert!(outages.iter().all(|(a, b)| a < b && b.0 <= END));
            }
        }
    }
}
