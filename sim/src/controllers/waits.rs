//! Below saturation a queue is empty only on average: requests arrive at random, and now and
//! then a probe lands behind a burst and waits longer than its timeout.
//!
//! Each serving pod is taken as an M/M/1 queue whose service rate `mu` is its capacity
//! (`capacityRps`) and whose utilization is its service's `rho` (`saturation.rs`). In steady
//! state its wait exceeds `t` with probability `q = rho exp(-mu (1 - rho) t)`. Probes are taken
//! as independent (their period is long against the queue's relaxation time), so a probe with
//! timeout `t`, period `P` and `failureThreshold` `F` starts a run of `F` timeouts, the run that
//! changes its result, at a tick with probability `q^F`, and the pods of a service start such
//! runs at the rate `sum n q^F / P`.
//!
//! That rate changes with the load, so the next run is drawn by thinning: over each stretch
//! where the load is in the band that matters (from where the rate is [`RATE_FLOOR`] up to
//! capacity), candidates at the rate's bound there (the stretch's highest load), each kept with
//! the ratio of the rate then to the bound. One event per service at the drawn run, redrawn whenever the
//! service's capacity or queue changes (the process is memoryless): the cost is the runs that
//! happen, never the probe ticks. At the run, one pod (drawn among those with an empty queue)
//! fails `F` probes in a row, and the prober acts on them as on any others.
//!
//! Only pods whose fluid queue is empty draw, and only under capacity: otherwise the backlog's
//! own wait decides (`saturation.rs`). The waits are those of the steady state: a load that
//! stays near capacity for less than the queue's relaxation time, about
//! `1 / (mu (1 - sqrt rho)^2)`, is judged more harshly than a real queue would be. At 60 % load with a 1 s timeout and 50 rps pods `q` is about `1e-9`: in
//! practice nothing; at 98 % it is about 0.4, and probes time out every few minutes.

use crate::ids::{PodId, ServiceId, WorkloadId};
use crate::rng;
use crate::time::SimTime;
use crate::world::{Event, ProbeKind, World};

use super::prober::tick_at_or_after;

/// Candidates drawn per call before the draw goes on from an event of its own, so that one call
/// costs little even when the bound is far above the rate now.
const THINNING_BATCH: u32 = 64;

/// Runs of timeouts less likely than this per second (once in 30 years) are not drawn: it
/// bounds the band of load where the draw walks. A modelling resolution, not a real default.
const RATE_FLOOR: f64 = 1e-9;

/// One kind of probe of one workload among the pods that draw.
struct Class {
    workload: WorkloadId,
    kind: ProbeKind,
    /// Pods of the workload with an empty queue.
    pods: usize,
    /// Service rate of one pod, requests per second.
    mu: f64,
    timeout: f64,
    failures: u32,
    period_s: f64,
}

impl Class {
    /// Runs of timeouts started per second at utilization `rho` (none at or over capacity,
    /// where the fluid backlog of `saturation.rs` decides).
    fn rate(&self, rho: f64) -> f64 {
        if !(rho > 0.0 && rho < 1.0) {
            return 0.0;
        }
        let q = rho * libm::exp(-self.mu * (1.0 - rho) * self.timeout);
        self.pods as f64 * q.powi(self.failures as i32) / self.period_s
    }
}

impl World {
    /// The pods of `s` that draw (the group with an empty queue), by workload and probe kind.
    fn waits_classes(&self, s: ServiceId) -> Vec<Class> {
        let b = &self.services[s].backlog;
        let Some(top) = b.floors.groups().last().filter(|g| b.g - g.floor <= 1e-9) else { return Vec::new() };
        let mut out = Vec::new();
        for &w in &self.services[s].workloads {
            let wl = &self.workloads[w];
            if wl.services.first() != Some(&s) {
                continue;
            }
            let pods = if self.services[s].workloads.len() == 1 {
                top.members.len()
            } else {
                top.members.iter().filter(|&&p| self.pods[p].workload == w).count()
            };
            if pods == 0 {
                continue;
            }
            for kind in [ProbeKind::Liveness, ProbeKind::Readiness] {
                if let (Some(cfg), Some(timeout)) = (&wl.probes[kind as usize], wl.saturation[kind as usize]) {
                    out.push(Class {
                        workload: w,
                        kind,
                        pods,
                        mu: wl.capacity_mrps as f64 / 1000.0,
                        timeout,
                        failures: cfg.failure_threshold.max(1),
                        period_s: cfg.period_ms as f64 / 1000.0,
                    });
                }
            }
        }
        out
    }

    /// `s`'s utilization at `t` under its current rate.
    fn waits_rho(&self, s: ServiceId, t: f64) -> f64 {
        let (cap, share) = self.services[s].backlog.rate;
        let curve = &self.topology.curves[self.topology.source(usize::from(s))];
        if cap > 0.0 { curve.at_f(t) * share / cap } else { 0.0 }
    }

    /// Draws `s`'s next run of probe timeouts (any pending draw is void).
    pub(crate) fn waits_draw(&mut self, s: ServiceId) {
        let b = &mut self.services[s].backlog;
        b.waits_epoch += 1;
        // No timed probes (or the watches have not started yet: `init_saturation` draws).
        if b.timeouts.is_empty() {
            return;
        }
        self.waits_continue(s, self.now.0 as f64);
    }

    /// Goes on drawing candidates from `from` (ms).
    fn waits_continue(&mut self, s: ServiceId, from: f64) {
        let b = &self.services[s].backlog;
        let (cap, share) = b.rate;
        let Some(top) = b.floors.groups().last().filter(|g| b.g - g.floor <= 1e-9) else { return };
        let (a, p_min) = b.waits_bound;
        if cap <= 0.0 || share <= 0.0 || a.is_nan() || a <= 0.0 {
            return;
        }
        // The band of load where runs are likely enough to draw: from `low` to capacity. With
        // q <= exp(-mu t (1 - rho)), the rate is at most N / P exp(-a (1 - rho)) for the
        // smallest `a = mu t F` and period `P` among the service's probes: under `low` it is
        // below RATE_FLOOR. Checked before anything else: most services never come near it.
        let n = top.members.len() as f64;
        let low = (1.0 - libm::log(n / (p_min * RATE_FLOOR)).max(0.0) / a).max(0.0);
        let (level_low, level_cap) = (low * cap / share, cap / share);
        let curve = &self.topology.curves[self.topology.source(usize::from(s))];
        // Quiet for the rest of the run: the load never reaches the band.
        let first = curve.points().partition_point(|(t, _)| (t.0 as f64) <= from);
        let rest_peak = b.suffix_max.get(first).copied().unwrap_or(f64::NEG_INFINITY).max(curve.at_f(from));
        if rest_peak <= level_low {
            return;
        }
        let classes = self.waits_classes(s);
        if classes.is_empty() {
            return;
        }
        let rate = |rho: f64| classes.iter().map(|c| c.rate(rho)).sum::<f64>();
        let curve = &self.topology.curves[self.topology.source(usize::from(s))];
        let end = self.end.0 as f64;
        let mut f = SimTime(from.ceil() as u64);
        let mut drawn = 0;
        while f < self.end {
            let v = curve.at(f);
            if v <= level_low {
                let Some(next) = curve.next_crossing(f, level_low, false) else { return };
                f = next;
                continue;
            }
            if v >= level_cap {
                let Some(next) = curve.next_crossing(f, level_cap, true) else { return };
                f = next;
                continue;
            }
            // In the band until the load leaves it either way.
            let out = [curve.next_crossing(f, level_low, true), curve.next_crossing(f, level_cap, false)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(self.end)
                .min(self.end);
            let first = curve.points().partition_point(|(t, _)| *t <= f);
            let peak = curve.points()[first..]
                .iter()
                .take_while(|(t, _)| *t < out)
                .map(|&(_, v)| v)
                .fold(v.max(curve.at(out)), f64::max);
            let bound = rate((peak * share / cap).min(1.0 - 1e-12));
            let mut t = f.0 as f64;
            loop {
                t += rng::exponential_s(&mut self.rng.waits, bound) * 1000.0;
                if t >= out.0 as f64 || t >= end {
                    break;
                }
                drawn += 1;
                let now_rate = rate(self.waits_rho(s, t));
                if rng::unit(&mut self.rng.waits) * bound < now_rate {
                    return self.waits_schedule(s, t, true);
                }
                if drawn >= THINNING_BATCH {
                    // Many candidates refused: carry on from an event at the last one.
                    return self.waits_schedule(s, t, false);
                }
            }
            f = out.max(SimTime(f.0 + 1));
        }
    }

    fn waits_schedule(&mut self, s: ServiceId, t: f64, fire: bool) {
        let b = &mut self.services[s].backlog;
        b.waits_fire = fire;
        let epoch = b.waits_epoch;
        let at = SimTime((t.ceil() as u64).max(self.now.0 + 1));
        if at < self.end {
            self.at(at, Event::ProbeWaits { svc: s, epoch });
        }
    }

    /// The drawn run of timeouts starts (or the draw goes on from here).
    pub(crate) fn on_probe_waits(&mut self, s: ServiceId, epoch: u32) {
        if self.services[s].backlog.waits_epoch != epoch {
            return;
        }
        if !self.services[s].backlog.waits_fire {
            return self.waits_continue(s, self.now.0 as f64);
        }
        let classes = self.waits_classes(s);
        let rho = self.waits_rho(s, self.now.0 as f64);
        let total: f64 = classes.iter().map(|c| c.rate(rho)).sum();
        if total > 0.0 {
            // Which kind of probe of which workload, by its share of the rate; then which pod.
            let mut x = rng::unit(&mut self.rng.waits) * total;
            let class = classes.iter().find(|c| {
                x -= c.rate(rho);
                x < 0.0
            });
            if let Some(c) = class.or(classes.last()) {
                let b = &self.services[s].backlog;
                let top = b.floors.groups().last().map(|g| g.members.as_slice()).unwrap_or(&[]);
                let pods: Vec<PodId> = top.iter().copied().filter(|&p| self.pods[p].workload == c.workload).collect();
                if !pods.is_empty() {
                    let pod = pods[rng::index(&mut self.rng.waits, pods.len())];
                    self.waits_fail(pod, c.kind, rho);
                }
            }
        }
        self.waits_draw(s);
    }

    /// `failureThreshold` probes of `kind` in a row time out in the pod's queue, from its next tick.
    fn waits_fail(&mut self, pod: PodId, kind: ProbeKind, rho: f64) {
        let w = self.pods[pod].workload;
        let Some(cfg) = self.workloads[w].probes[kind as usize].as_ref() else { return };
        let (period, failures) = (cfg.period_ms, u64::from(cfg.failure_threshold.max(1)));
        let rt = &self.pods[pod].probes[kind as usize];
        if !rt.active {
            return;
        }
        let next = tick_at_or_after(rt.next_tick, period, self.now);
        let until = SimTime(next.0 + (failures - 1) * period + 1);
        let p = &mut self.pods[pod];
        p.waits_until[kind as usize] = p.waits_until[kind as usize].max(until);
        p.waits_epoch += 1;
        let epoch = p.waits_epoch;
        self.note_pod(pod, || {
            format!("{} probes time out in its queue ({:.0} % load, a burst of requests)", kind.name(), rho * 100.0)
        });
        self.probes_inputs_changed(pod);
        let end = self.pods[pod].waits_until.iter().copied().max().unwrap_or(until);
        self.at(end, Event::ProbeWaitsEnd { pod, epoch });
    }

    /// A drawn run of timeouts is over: the probes see the pod's queue as it is again.
    pub(crate) fn on_probe_waits_end(&mut self, pod: PodId, epoch: u32) {
        if self.pods[pod].waits_epoch == epoch {
            self.probes_inputs_changed(pod);
        }
    }
}
