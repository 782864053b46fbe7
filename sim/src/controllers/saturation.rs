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
//! The crossings of the probe timeouts by `W` are solved exactly (the load is piecewise linear
//! between capacity changes, so `W` is piecewise quadratic). A service has one pending event, at
//! the first crossing among its serving pods: they share the load, so their backlogs keep their
//! order, and per timeout only the longest backlog under it and the shortest over it can cross
//! first. A pod draining out of the endpoints has an event of its own. The prober is told only
//! when a probe's input really changes. A service whose pods all have empty queues and whose
//! load is under its capacity costs nothing per pod: its event wakes it when the load passes
//! the capacity.
//!
//! Simplification: a pod behind several services takes its load from the first of them. That is the feedback loop of a saturated service:
//! readiness failures take pods out (the rest get more load), liveness failures restart them,
//! and a restart is where other faults (DNS) bite.

use crate::ids::{PodId, ServiceId};
use crate::time::SimTime;
use crate::world::{Container, Event, World};

use super::backlog;

/// `rho - 1 = c + k x` over `len` seconds from `start`.
type Segment = (SimTime, f64, f64, f64);

impl World {
    /// Every service starts quiet (empty queues) and is judged once.
    pub(crate) fn init_saturation(&mut self) {
        for s in self.services.ids().collect::<Vec<_>>() {
            self.saturation_refresh(s);
        }
    }

    /// The service whose traffic a pod of `w` takes (the first that selects it).
    fn load_service(&self, pod: PodId) -> Option<ServiceId> {
        self.workloads[self.pods[pod].workload].services.first().copied()
    }

    /// Whether the pod's probes can time out at all (it has a probe with a timeout).
    fn has_timed_probes(&self, pod: PodId) -> bool {
        self.workloads[self.pods[pod].workload].saturation.iter().any(Option::is_some)
    }

    /// The linear pieces of `rho - 1` for `s` from `from` to `to` under capacity `cap` rps and
    /// share `scale`.
    fn rho_segments(&self, s: ServiceId, from: SimTime, to: SimTime, (cap, scale): (f64, f64)) -> Vec<Segment> {
        let curve = &self.topology.curves[self.topology.source(usize::from(s))];
        let p = &curve.points;
        let mut out = Vec::new();
        let mut t = from.0;
        while t < to.0 {
            // The next point of the curve after t bounds the linear piece.
            let i = p.partition_point(|(pt, _)| pt.0 <= t);
            let end = p.get(i).map_or(to.0, |(pt, _)| pt.0.min(to.0));
            let v0 = curve.at_f(t as f64) * scale / cap;
            let v1 = curve.at_f(end as f64) * scale / cap;
            let len = (end - t) as f64 / 1000.0;
            let k = if len > 0.0 { (v1 - v0) / len } else { 0.0 };
            out.push((SimTime(t), len, v0 - 1.0, k));
            t = end;
        }
        out
    }

    /// The pieces of `rho - 1` the pod's backlog follows from `from` to `to`: its service's
    /// while it serves, a full-speed drain (`rho = 0`) while it does not.
    fn pod_segments(&self, pod: PodId, from: SimTime, to: SimTime) -> Vec<Segment> {
        let p = &self.pods[pod];
        match self.load_service(pod) {
            Some(s) if p.serving => {
                let rate = self.services[s].backlog_rate;
                if rate.0 <= 0.0 || rate.1 <= 0.0 {
                    vec![(from, (to.0.saturating_sub(from.0)) as f64 / 1000.0, -1.0, 0.0)]
                } else {
                    self.rho_segments(s, from, to, rate)
                }
            }
            _ => vec![(from, (to.0.saturating_sub(from.0)) as f64 / 1000.0, -1.0, 0.0)],
        }
    }

    /// Brings the pod's backlog up to now under the regime it had (before that changes).
    pub(crate) fn backlog_settle(&mut self, pod: PodId) {
        let (w, at) = (self.pods[pod].backlog_s, self.pods[pod].backlog_at);
        if at >= self.now {
            return;
        }
        let w = if w <= 0.0 && !self.pods[pod].serving {
            0.0
        } else {
            self.pod_segments(pod, at, self.now).into_iter().fold(w, |w, (_, len, c, k)| backlog::advance(w, c, k, len))
        };
        let p = &mut self.pods[pod];
        p.backlog_s = w;
        p.backlog_at = self.now;
    }

    /// A new container: an empty queue.
    pub(crate) fn backlog_reset(&mut self, pod: PodId) {
        let now = self.now;
        let p = &mut self.pods[pod];
        p.backlog_s = 0.0;
        p.backlog_at = now;
        p.backlog_epoch += 1;
        if p.backlog_over.iter().any(|&o| o) {
            p.backlog_over = [false; 3];
        }
    }

    /// Brings the pod's backlog up to date and re-judges its probes against it; returns the
    /// backlog if it can still cross a timeout (a running container that serves or drains).
    fn backlog_update(&mut self, pod: PodId) -> Option<f64> {
        if !self.has_timed_probes(pod) {
            return None;
        }
        self.backlog_settle(pod);
        let running = matches!(self.pods[pod].container, Container::Running);
        let w_now = if running { self.pods[pod].backlog_s } else { 0.0 };
        let timeouts = self.workloads[self.pods[pod].workload].saturation;
        let mut over = [false; 3];
        for (k, t) in timeouts.iter().enumerate() {
            over[k] = t.is_some_and(|t| w_now > t);
        }
        if over != self.pods[pod].backlog_over {
            self.pods[pod].backlog_over = over;
            let name = self.pods[pod].name.clone();
            self.history
                .note(self.now, &name, || format!("backlog {w_now:.1}s: probes with a shorter timeout time out"));
            self.probes_inputs_changed(pod);
        }
        (running && (w_now > 0.0 || self.pods[pod].serving)).then_some(w_now)
    }

    /// When the pod's backlog (`w` now) next crosses `t` seconds, if before the end.
    fn backlog_next(&self, pod: PodId, w: f64, t: f64) -> Option<SimTime> {
        let above = w > t;
        let mut w = w;
        for (start, len, c, k) in self.pod_segments(pod, self.now, self.end) {
            if let Some(x) = backlog::crossing(w, c, k, len, t, above) {
                // The first millisecond past the crossing (never the present one).
                return Some(SimTime(start.0 + ((x * 1000.0).ceil() as u64).max(1))).filter(|at| *at < self.end);
            }
            w = backlog::advance(w, c, k, len);
        }
        None
    }

    /// A pod on its own (out of the endpoints, draining): judged, with its own event.
    pub(crate) fn backlog_judge(&mut self, pod: PodId) {
        let w = self.backlog_update(pod);
        self.pods[pod].backlog_epoch += 1;
        let Some(w) = w else { return };
        let timeouts = self.workloads[self.pods[pod].workload].saturation;
        let next = timeouts.iter().flatten().filter_map(|&t| self.backlog_next(pod, w, t)).min();
        if let Some(at) = next {
            let epoch = self.pods[pod].backlog_epoch;
            self.at(at, Event::Backlog { pod, epoch });
        }
    }

    /// A pod's backlog (out of the endpoints) crosses one of its timeouts.
    pub(crate) fn on_backlog(&mut self, pod: PodId, epoch: u32) {
        if self.pods[pod].backlog_epoch == epoch && !self.pods[pod].serving {
            self.backlog_judge(pod);
        }
    }

    /// Judges every serving pod of `s` and schedules one event, at the first crossing among
    /// them. They share the load, so their backlogs keep their order: for each timeout, the
    /// first to cross is the longest backlog under it (going up) or the shortest over it
    /// (going down), and only those two are solved for.
    fn backlog_service_judge(&mut self, s: ServiceId) {
        // Per timeout (as bits, for an ordered map): (longest under, shortest over).
        type Pair = (Option<(f64, PodId)>, Option<(f64, PodId)>);
        let mut candidates: std::collections::BTreeMap<u64, Pair> = std::collections::BTreeMap::new();
        for p in self.loaded_pods(s) {
            let Some(w) = self.backlog_update(p) else { continue };
            for t in self.workloads[self.pods[p].workload].saturation.iter().flatten() {
                let e = candidates.entry(t.to_bits()).or_default();
                if w > *t {
                    if e.1.is_none_or(|(v, _)| w < v) {
                        e.1 = Some((w, p));
                    }
                } else if e.0.is_none_or(|(v, _)| w > v) {
                    e.0 = Some((w, p));
                }
            }
        }
        let mut next: Option<SimTime> = None;
        for (bits, (under, over)) in candidates {
            let t = f64::from_bits(bits);
            for (w, p) in [under, over].into_iter().flatten() {
                if let Some(at) = self.backlog_next(p, w, t) {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        }
        self.backlog_schedule(s, next);
    }

    /// The service's one pending event is at `next` (none: no event).
    fn backlog_schedule(&mut self, s: ServiceId, next: Option<SimTime>) {
        let svc = &mut self.services[s];
        if svc.backlog_due == next {
            return;
        }
        svc.backlog_due = next;
        svc.backlog_wake += 1;
        if let Some(at) = next {
            let epoch = svc.backlog_wake;
            self.at(at, Event::BacklogWake { svc: s, epoch });
        }
    }

    /// The serving pods whose load comes from `s`.
    fn loaded_pods(&self, s: ServiceId) -> Vec<PodId> {
        self.services[s]
            .workloads
            .iter()
            .filter(|&&w| {
                self.workloads[w].services.first() == Some(&s)
                    && self.workloads[w].saturation.iter().any(Option::is_some)
            })
            .flat_map(|&w| self.workloads[w].active.iter().copied())
            .filter(|&p| self.pods[p].serving)
            .collect()
    }

    /// `s`'s capacity or share changed: its serving pods' backlogs so far are brought up to date
    /// under the old ones, then judged again under the new ones.
    pub(crate) fn saturation_refresh(&mut self, s: ServiceId) {
        let pods = self.loaded_pods(s);
        if !self.services[s].backlog_quiet {
            for &p in &pods {
                self.backlog_settle(p);
            }
        }
        let cap = self.services[s].capacity_mrps as f64 / 1000.0;
        let rate = (cap, self.chain_share(s));
        self.services[s].backlog_rate = rate;
        // Quiet: nothing queued and the load at most the capacity now.
        let curve = &self.topology.curves[self.topology.source(usize::from(s))];
        let rho_now = if cap > 0.0 { curve.at(self.now) * rate.1 / cap } else { 0.0 };
        let empty = pods.iter().all(|&p| self.pods[p].backlog_s <= 0.0);
        if empty && rho_now <= 1.0 {
            // Woken when the load passes the capacity.
            let level = if rate.1 > 0.0 { cap / rate.1 } else { f64::INFINITY };
            let next = (cap > 0.0 && level.is_finite())
                .then(|| curve.next_crossing(self.now, level, false))
                .flatten()
                .filter(|t| *t < self.end);
            self.services[s].backlog_quiet = true;
            for &p in &pods {
                // Empty queues: every probe's input is clear of the backlog.
                self.backlog_update(p);
                self.pods[p].backlog_at = self.now;
            }
            self.backlog_schedule(s, next);
        } else {
            self.services[s].backlog_quiet = false;
            self.backlog_service_judge(s);
        }
    }

    /// The service's event: the load of a quiet service passes its capacity, or one of its
    /// serving pods' backlogs crosses a timeout.
    pub(crate) fn on_backlog_wake(&mut self, s: ServiceId, epoch: u32) {
        if self.services[s].backlog_wake != epoch {
            return;
        }
        self.services[s].backlog_due = None;
        if self.services[s].backlog_quiet {
            self.services[s].backlog_quiet = false;
            for p in self.loaded_pods(s) {
                self.pods[p].backlog_at = self.now;
            }
        }
        self.backlog_service_judge(s);
    }
}
