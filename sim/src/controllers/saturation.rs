//! Overload feedback: a pod that gets more requests than it serves builds a backlog, and its
//! probes, requests like any other, wait behind it.
//!
//! Each pod's backlog is a fluid queue (`backlog.rs`): its wait `W` grows at `rho - 1` seconds
//! per second while the offered load is over the serving capacity (`rho = offered / capacity`,
//! the endpoints sharing the load in proportion to their capacity, so every serving pod of a
//! service sees the same `rho`) and drains at `1 - rho` after. A pod out of the endpoints gets
//! no new requests and drains at full speed; a container that starts has an empty queue. A
//! probe fails while `W` is longer than its `timeoutSeconds`. So a short spike fills the queue
//! only a little and a long one a lot, the timeout decides how much backlog a probe tolerates,
//! and a queue drains after the load falls, as in a real server: a 60 s spike at 110 % builds
//! 6 s of wait, and at half load it drains 0.5 s per second.
//!
//! Cost: a service keeps `G`, the integral of `rho - 1`, and its serving pods grouped by floor
//! (`W = G - floor`, [`backlog::Floors`]); pods that share the load keep their order, so per
//! timeout only the group just under it and the one just over it can cross first, and one
//! event per service (at the first crossing, solved exactly: the load is piecewise linear
//! between capacity changes, so `W` is piecewise quadratic) is all a saturated service costs.
//! A change of capacity brings `G` up to date and merges the groups whose queues emptied: its
//! cost is that of the groups, never of the pods. Only a crossing touches pods, the members of
//! the group that crossed, and the prober is told only when a probe's input really changes. A
//! pod draining out of the endpoints has an event of its own.
//!
//! Simplification: a pod behind several services takes its load from the first of them. That
//! is the feedback loop of a saturated service: readiness failures take pods out (the rest get
//! more load), liveness failures restart them, and a restart is where other faults (DNS) bite.

use crate::ids::{PodId, ServiceId};
use crate::time::SimTime;
use crate::world::{Container, Event, World};

use super::backlog::{self, Floors};

/// A service's shared queue: the state its serving pods' backlogs are read from.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServiceBacklog {
    /// `G`, the integral of `rho - 1` in seconds, as of `at`: a serving pod's backlog is
    /// `G - floor`.
    pub g: f64,
    /// When `g` was brought up to date.
    pub at: SimTime,
    /// The serving capacity (rps) and load share `g` has grown under since `at`.
    pub rate: (f64, f64),
    /// Its serving pods (those it loads and whose probes have a timeout), by floor.
    pub floors: Floors,
    /// The distinct probe timeouts of the pods it loads, ascending: bit `j` of a group's
    /// `over` is about `timeouts[j]`.
    pub timeouts: Vec<f64>,
    /// Generation of its pending event.
    pub wake: u32,
    /// When that event is due (one per service: its pods share the load).
    pub due: Option<SimTime>,
    /// The highest value of its load curve from each point on (`suffix_max[i]` over points
    /// `i..`), so a draw can tell at once that the load never comes near capacity again.
    pub suffix_max: Vec<f64>,
    /// The smallest `mu t F` and probe period (s) among the liveness and readiness probes of the
    /// pods it loads: the bound of `waits.rs`'s band of load.
    pub waits_bound: (f64, f64),
    /// Generation of its pending draw of probe timeouts below saturation (`waits.rs`).
    pub waits_epoch: u32,
    /// Whether that event starts a run of timeouts (or only goes on drawing).
    pub waits_fire: bool,
    /// Retries per request its callers add now (`World::backlog_set_rate`).
    pub retry_extra: f64,
}

/// Bit `j` set: `w` is longer than `timeouts[j]`.
fn over_mask(timeouts: &[f64], w: f64) -> u64 {
    timeouts.iter().take(64).enumerate().filter(|(_, t)| w > **t).fold(0, |m, (j, _)| m | (1 << j))
}

impl World {
    /// Every service learns which timeouts its pods have, and is judged once.
    pub(crate) fn init_saturation(&mut self) {
        for s in self.services.ids().collect::<Vec<_>>() {
            let mut timeouts: Vec<f64> = self.services[s]
                .workloads
                .iter()
                .filter(|&&w| self.workloads[w].services.first() == Some(&s))
                .flat_map(|&w| self.workloads[w].saturation.iter().flatten().copied())
                .collect();
            // The clients' timeout is watched like a probe's: crossing it changes the load.
            timeouts.extend(self.services[s].retries.map(|r| r.0));
            timeouts.sort_by(f64::total_cmp);
            timeouts.dedup();
            let curve = &self.topology.curves[self.topology.source(usize::from(s))];
            let mut suffix_max: Vec<f64> = curve.points().iter().map(|&(_, v)| v).collect();
            for i in (0..suffix_max.len().saturating_sub(1)).rev() {
                suffix_max[i] = suffix_max[i].max(suffix_max[i + 1]);
            }
            let mut bound = (f64::INFINITY, f64::INFINITY);
            for &w in &self.services[s].workloads {
                let wl = &self.workloads[w];
                if wl.services.first() != Some(&s) {
                    continue;
                }
                for kind in [crate::world::ProbeKind::Liveness, crate::world::ProbeKind::Readiness] {
                    if let (Some(cfg), Some(t)) = (&wl.probes[kind as usize], wl.saturation[kind as usize]) {
                        let mu = wl.capacity_mrps as f64 / 1000.0;
                        bound.0 = bound.0.min(mu * t * f64::from(cfg.failure_threshold.max(1)));
                        bound.1 = bound.1.min(cfg.period_ms as f64 / 1000.0);
                    }
                }
            }
            let b = &mut self.services[s].backlog;
            b.waits_bound = if bound.0.is_finite() { bound } else { (0.0, 1.0) };
            b.suffix_max = suffix_max;
            b.timeouts = timeouts;
            self.saturation_refresh(s);
        }
    }

    /// The service whose traffic the pod takes (the first that selects it), if its probes can
    /// time out at all.
    fn load_service(&self, pod: PodId) -> Option<ServiceId> {
        let w = &self.workloads[self.pods[pod].workload];
        if w.saturation.iter().any(Option::is_some) { w.services.first().copied() } else { None }
    }

    /// Calls `f(c, k, len)` for the linear pieces `rho - 1 = c + k x` of `s` from `from` to
    /// `to` under its current rate (a full-speed drain when it has no capacity or no load
    /// share), until `f` says stop; returns where it stopped.
    fn for_each_segment(
        &self,
        s: ServiceId,
        from: SimTime,
        to: SimTime,
        mut f: impl FnMut(SimTime, f64, f64, f64) -> bool,
    ) {
        let (cap, scale) = self.services[s].backlog.rate;
        if cap <= 0.0 || scale <= 0.0 {
            f(from, -1.0, 0.0, (to.0.saturating_sub(from.0)) as f64 / 1000.0);
            return;
        }
        let curve = &self.topology.curves[self.topology.source(usize::from(s))];
        let p = curve.points();
        let mut t = from.0;
        let mut v0 = curve.at_f(t as f64) * scale / cap;
        while t < to.0 {
            // The next point of the curve after t bounds the linear piece.
            let i = p.partition_point(|(pt, _)| pt.0 <= t);
            let end = p.get(i).map_or(to.0, |(pt, _)| pt.0.min(to.0));
            let v1 = curve.at_f(end as f64) * scale / cap;
            let len = (end - t) as f64 / 1000.0;
            let k = if len > 0.0 { (v1 - v0) / len } else { 0.0 };
            if !f(SimTime(t), v0 - 1.0, k, len) {
                return;
            }
            t = end;
            v0 = v1;
        }
    }

    /// Brings `G` of `s` up to now under the rate it had, and merges the groups whose queues
    /// emptied on the way.
    fn backlog_settle_service(&mut self, s: ServiceId) {
        let (g0, at) = (self.services[s].backlog.g, self.services[s].backlog.at);
        if at >= self.now {
            return;
        }
        let (mut g, mut low) = (g0, g0);
        self.for_each_segment(s, at, self.now, |_, c, k, len| {
            let (d, m) = backlog::integral_min(c, k, len);
            low = low.min(g + m);
            g += d;
            true
        });
        let b = &mut self.services[s].backlog;
        b.g = g;
        b.at = self.now;
        let pods = &mut self.pods;
        b.floors.lower_to(low, |p, id| pods[p].queue_group = Some(id));
    }

    /// The pod's backlog now: its service's if it is in its queue, else its own, drained at
    /// full speed since it was last computed.
    fn backlog_now(&mut self, pod: PodId) -> f64 {
        if let (Some(id), Some(s)) = (self.pods[pod].queue_group, self.load_service(pod)) {
            self.backlog_settle_service(s);
            let b = &self.services[s].backlog;
            let floor = b.floors.groups().iter().find(|g| g.id == id).map_or(b.g, |g| g.floor);
            (b.g - floor).max(0.0)
        } else {
            let p = &self.pods[pod];
            (p.backlog_s - (self.now.0.saturating_sub(p.backlog_at.0)) as f64 / 1000.0).max(0.0)
        }
    }

    /// The pod starts serving: it joins its service's queue with the backlog it has.
    pub(crate) fn backlog_join(&mut self, pod: PodId) {
        let Some(s) = self.load_service(pod) else { return };
        if self.pods[pod].queue_group.is_some() {
            return;
        }
        let w = self.backlog_now(pod);
        self.backlog_settle_service(s);
        let b = &mut self.services[s].backlog;
        let mask = over_mask(&b.timeouts, w);
        let id = b.floors.insert(b.g - w, pod, mask);
        let p = &mut self.pods[pod];
        p.queue_group = Some(id);
        // Its own drain event, if it had one, is over.
        p.backlog_epoch += 1;
        self.backlog_apply(pod, w);
    }

    /// The pod stops serving: it leaves its service's queue with the backlog it has, which
    /// drains on its own from now.
    pub(crate) fn backlog_leave(&mut self, pod: PodId) {
        let Some(id) = self.pods[pod].queue_group else { return };
        let w = self.backlog_now(pod);
        if let Some(s) = self.load_service(pod) {
            self.services[s].backlog.floors.remove(id, pod);
        }
        let now = self.now;
        let p = &mut self.pods[pod];
        p.queue_group = None;
        p.backlog_s = w;
        p.backlog_at = now;
    }

    /// A new container: an empty queue.
    pub(crate) fn backlog_reset(&mut self, pod: PodId) {
        let in_queue = self.pods[pod].queue_group.is_some();
        self.backlog_leave(pod);
        let now = self.now;
        let p = &mut self.pods[pod];
        p.backlog_s = 0.0;
        p.backlog_at = now;
        p.backlog_epoch += 1;
        // Runs of timeouts drawn for the old process are over with it.
        p.waits_until = [SimTime::ZERO; 3];
        if p.backlog_over.iter().any(|&o| o) {
            p.backlog_over = [false; 3];
        }
        if in_queue {
            self.backlog_join(pod);
            if let Some(s) = self.load_service(pod) {
                self.saturation_refresh(s);
            }
        }
    }

    /// Judges the pod's probes against a backlog of `w` seconds (none while its container is
    /// not running) and tells the prober if that changes a probe's input.
    fn backlog_apply(&mut self, pod: PodId, w: f64) {
        let running = matches!(self.pods[pod].container, Container::Running);
        let w_now = if running { w } else { 0.0 };
        let timeouts = self.workloads[self.pods[pod].workload].saturation;
        let mut over = [false; 3];
        for (k, t) in timeouts.iter().enumerate() {
            over[k] = t.is_some_and(|t| w_now > t);
        }
        if over != self.pods[pod].backlog_over {
            self.pods[pod].backlog_over = over;
            self.note_pod(pod, || format!("backlog {w_now:.1}s: probes with a shorter timeout time out"));
            self.probes_inputs_changed(pod);
        }
    }

    /// A pod on its own (out of the endpoints, draining at full speed): judged, with its own
    /// event at the next timeout its backlog falls under.
    pub(crate) fn backlog_judge(&mut self, pod: PodId) {
        if self.load_service(pod).is_none() || self.pods[pod].queue_group.is_some() {
            return;
        }
        let w = self.backlog_now(pod);
        let now = self.now;
        let p = &mut self.pods[pod];
        p.backlog_s = w;
        p.backlog_at = now;
        p.backlog_epoch += 1;
        self.backlog_apply(pod, w);
        if !matches!(self.pods[pod].container, Container::Running) {
            return;
        }
        let timeouts = self.workloads[self.pods[pod].workload].saturation;
        // Draining one second per second, it falls under `t` after `w - t` seconds.
        let next = timeouts
            .iter()
            .flatten()
            .filter(|&&t| w > t)
            .map(|&t| SimTime(now.0 + ((w - t) * 1000.0).floor() as u64 + 1))
            .min()
            .filter(|at| *at < self.end);
        if let Some(at) = next {
            let epoch = self.pods[pod].backlog_epoch;
            self.at(at, Event::Backlog { pod, epoch });
        }
    }

    /// A pod's backlog (out of the endpoints) crosses one of its timeouts.
    pub(crate) fn on_backlog(&mut self, pod: PodId, epoch: u32) {
        if self.pods[pod].backlog_epoch == epoch && self.pods[pod].queue_group.is_none() {
            self.backlog_judge(pod);
        }
    }

    /// Re-judges the members of every group of `s` that is now on the other side of a timeout
    /// than when it was last judged.
    fn backlog_judge_groups(&mut self, s: ServiceId) {
        let b = &mut self.services[s].backlog;
        let g = b.g;
        let mut flipped: Vec<(PodId, f64)> = Vec::new();
        let timeouts = std::mem::take(&mut b.timeouts);
        for group in b.floors.groups_mut() {
            let w = (g - group.floor).max(0.0);
            let mask = over_mask(&timeouts, w);
            if mask != group.over {
                group.over = mask;
                flipped.extend(group.members.iter().map(|&p| (p, w)));
            }
        }
        self.services[s].backlog.timeouts = timeouts;
        for (p, w) in flipped {
            self.backlog_apply(p, w);
        }
    }

    /// When a backlog now `w` long, following `s`'s load, next crosses `t`, if before the end.
    /// While the queue is empty and the load under the capacity, it skips to where the load
    /// passes the capacity, so a quiet service costs the curve's points up to there, once.
    fn backlog_next(&self, s: ServiceId, w: f64, t: f64) -> Option<SimTime> {
        let above = w > t;
        let (cap, scale) = self.services[s].backlog.rate;
        let curve = &self.topology.curves[self.topology.source(usize::from(s))];
        // The load passes the capacity where the curve passes `level`.
        let level = if cap > 0.0 && scale > 0.0 { cap / scale } else { f64::INFINITY };
        let (mut from, mut w) = (self.now, w);
        loop {
            if w <= 0.0 && !above && curve.at(from) <= level {
                from = curve.next_crossing(from, level, false)?;
            }
            let (mut found, mut resume) = (None, None);
            self.for_each_segment(s, from, self.end, |start, c, k, len| {
                if let Some(x) = backlog::crossing(w, c, k, len, t, above) {
                    // The first whole millisecond strictly past the crossing (never the present one).
                    found = Some(SimTime(start.0 + (x * 1000.0).floor() as u64 + 1));
                    return false;
                }
                w = backlog::advance(w, c, k, len);
                if w <= 0.0 && !above && c + k * len <= 0.0 {
                    // Empty again and not filling: skip ahead to where the load passes capacity.
                    resume = Some(SimTime(start.0 + (len * 1000.0).round() as u64));
                    return false;
                }
                true
            });
            match (found, resume) {
                (Some(at), _) => return Some(at).filter(|at| *at < self.end),
                // From an empty queue there, it is as if asked then.
                (None, Some(at)) => (from, w) = (at, 0.0),
                (None, None) => return None,
            }
        }
    }

    /// Schedules `s`'s one event at the first crossing of a timeout among its groups: per
    /// timeout, the group just under it (going up) or just over it (going down).
    fn backlog_schedule(&mut self, s: ServiceId) {
        let b = &self.services[s].backlog;
        // The earliest crossing; read in place (this runs at every capacity change).
        let mut next: Option<SimTime> = None;
        for &t in &b.timeouts {
            let groups = b.floors.groups();
            let i = b.floors.split(b.g - t);
            for gi in [i.checked_sub(1), Some(i)].into_iter().flatten() {
                if let Some(group) = groups.get(gi)
                    && let Some(at) = self.backlog_next(s, (b.g - group.floor).max(0.0), t)
                {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        }
        let b = &mut self.services[s].backlog;
        if b.due == next {
            return;
        }
        b.due = next;
        b.wake += 1;
        if let Some(at) = next {
            let epoch = b.wake;
            self.at(at, Event::BacklogWake { svc: s, epoch });
        }
    }

    /// `s`'s capacity, share or serving pods changed: its backlog so far is brought up to date
    /// under the old rate, then judged and scheduled under the new one.
    pub(crate) fn saturation_refresh(&mut self, s: ServiceId) {
        self.backlog_settle_service(s);
        self.backlog_judge_groups(s);
        self.backlog_set_rate(s);
        self.backlog_schedule(s);
        self.waits_draw(s);
    }

    /// The rate `s`'s backlog grows under from now: its serving capacity, and its load share
    /// times what its callers' retries add. With a share `f` of its queued pods behind by
    /// more than the clients' timeout, requests sent to them are given up and retried, each
    /// retry failing as often: `f + f^2 + ... + f^attempts` retries per request, at most the
    /// budget.
    fn backlog_set_rate(&mut self, s: ServiceId) {
        let cap = self.services[s].capacity_mrps as f64 / 1000.0;
        let mut share = self.chain_share(s);
        let mut extra = 0.0;
        if let Some((timeout, attempts, budget)) = self.services[s].retries {
            let b = &self.services[s].backlog;
            let total: usize = b.floors.groups().iter().map(|g| g.members.len()).sum();
            let late: usize = b.floors.groups()[..b.floors.split(b.g - timeout)].iter().map(|g| g.members.len()).sum();
            if total > 0 && late > 0 {
                let f = late as f64 / total as f64;
                extra = (1..=attempts).map(|i| f.powi(i as i32)).sum::<f64>();
                extra = budget.map_or(extra, |b| extra.min(b));
            }
            if extra != self.services[s].backlog.retry_extra {
                let name = if self.history.timeline.is_some() { self.services[s].name.clone() } else { String::new() };
                self.history.note(self.now, &name, || {
                    if extra > 0.0 {
                        format!("clients time out and retry: {:.0} % more requests", extra * 100.0)
                    } else {
                        "clients no longer retry".into()
                    }
                });
                self.services[s].backlog.retry_extra = extra;
            }
            share *= 1.0 + extra;
        }
        self.services[s].backlog.rate = (cap, share);
    }

    /// The service's event: one of its groups' backlogs crosses a timeout.
    pub(crate) fn on_backlog_wake(&mut self, s: ServiceId, epoch: u32) {
        if self.services[s].backlog.wake != epoch {
            return;
        }
        self.services[s].backlog.due = None;
        self.backlog_settle_service(s);
        self.backlog_judge_groups(s);
        self.backlog_set_rate(s);
        self.backlog_schedule(s);
        self.waits_draw(s);
    }
}
