//! The kubelet's prober: startup, liveness and readiness probes with their five settings.
//!
//! Probes tick on the pod worker's timer, `anchor + k * periodSeconds`; ticks before
//! `initialDelaySeconds` after the container started do not count. Running an event at every
//! tick of every pod would cost hundreds of millions of events for a day of a large cluster, so
//! the prober is lazy and still exact:
//!
//! - a probe's *input* (would it pass now?) only changes when the container, its node or a
//!   service the check calls changes; those places call [`World::probes_inputs_changed`];
//! - on a change, the ticks since the last change are counted at the old input (`catch_up`), and
//!   one event is scheduled at the tick where the new input will reach `successThreshold` or
//!   `failureThreshold`;
//! - while the input agrees with the current result, nothing is scheduled at all.
//!
//! A dependency that fails at `t` is therefore noticed at the ticks after `t`, after
//! `failureThreshold` of them, exactly as the kubelet would, with O(1) work per change.

use crate::ids::PodId;
use crate::time::SimTime;
use crate::world::{Container, Event, ExitReason, ProbeKind, ProbeRt, World};

/// First tick at or after `t` on the grid `anchor + k * period`.
pub(crate) fn tick_at_or_after(anchor: SimTime, period: u64, t: SimTime) -> SimTime {
    if t <= anchor { anchor } else { SimTime(anchor.0 + (t.0 - anchor.0).div_ceil(period) * period) }
}

/// Counts the ticks in `[next_tick, now)` at the current input.
fn catch_up(rt: &mut ProbeRt, period: u64, now: SimTime) {
    if rt.next_tick < now {
        let n = (now.0 - rt.next_tick.0).div_ceil(period);
        let n32 = u32::try_from(n).unwrap_or(u32::MAX);
        if rt.input {
            rt.ok_run = rt.ok_run.saturating_add(n32);
            rt.fail_run = 0;
        } else {
            rt.fail_run = rt.fail_run.saturating_add(n32);
            rt.ok_run = 0;
        }
        rt.next_tick = SimTime(rt.next_tick.0 + n * period);
    }
}

impl World {
    /// Would this probe pass if it ran now?
    fn probe_input(&self, pod: PodId, kind: ProbeKind) -> bool {
        let p = &self.pods[pod];
        if !matches!(p.container, Container::Running) {
            return false;
        }
        if p.node.is_some_and(|n| !self.nodes[n].running()) {
            return false;
        }
        let w = &self.workloads[p.workload];
        // A probe waits behind the pod's backlog: it times out while that is longer than its timeout.
        if p.backlog_over[kind as usize] || self.now < p.waits_until[kind as usize] {
            return false;
        }
        let cfg = w.probes[kind as usize].as_ref().expect("active probes have settings");
        cfg.calls.iter().all(|&s| self.services[s].capacity_mrps > 0)
    }

    /// The container started: the probes start over.
    pub(crate) fn probes_container_started(&mut self, pod: PodId) {
        // A new process: whatever queue the old one had is gone.
        self.backlog_reset(pod);
        let now = self.now;
        let w = self.pods[pod].workload;
        let anchor = self.pods[pod].anchor;
        let has_startup = self.workloads[w].probes[ProbeKind::Startup as usize].is_some();
        let has_readiness = self.workloads[w].probes[ProbeKind::Readiness as usize].is_some();
        for kind in ProbeKind::ALL {
            let cfg = self.workloads[w].probes[kind as usize].as_ref();
            let p = &mut self.pods[pod];
            p.probes[kind as usize] = match cfg {
                None => ProbeRt::default(),
                Some(cfg) => ProbeRt {
                    active: if has_startup { kind == ProbeKind::Startup } else { kind != ProbeKind::Startup },
                    ..ProbeRt::fresh(
                        kind,
                        tick_at_or_after(anchor, cfg.period_ms, SimTime(now.0 + cfg.initial_delay_ms)),
                    )
                },
            };
        }
        let p = &mut self.pods[pod];
        if !has_startup && !has_readiness {
            p.ready = true;
        }
        self.probes_start_over(pod);
    }

    /// Fresh probes: take the input as it is now and schedule the first threshold.
    fn probes_start_over(&mut self, pod: PodId) {
        for kind in ProbeKind::ALL {
            if self.pods[pod].probes[kind as usize].active {
                let input = self.probe_input(pod, kind);
                self.pods[pod].probes[kind as usize].input = input;
                self.schedule_probe(pod, kind);
            }
        }
    }

    /// Something a probe depends on may have changed: recount and reschedule.
    pub(crate) fn probes_inputs_changed(&mut self, pod: PodId) {
        let now = self.now;
        for kind in ProbeKind::ALL {
            if !self.pods[pod].probes[kind as usize].active {
                continue;
            }
            let input = self.probe_input(pod, kind);
            let w = self.pods[pod].workload;
            let period = self.workloads[w].probes[kind as usize].as_ref().map_or(1, |c| c.period_ms);
            let rt = &mut self.pods[pod].probes[kind as usize];
            if rt.input == input {
                continue;
            }
            catch_up(rt, period, now);
            rt.input = input;
            self.schedule_probe(pod, kind);
        }
    }

    /// Schedules the tick at which the current input changes the probe's result, if it will.
    fn schedule_probe(&mut self, pod: PodId, kind: ProbeKind) {
        let p = &mut self.pods[pod];
        let cfg = self.workloads[p.workload].probes[kind as usize].as_ref().expect("active probes have settings");
        let rt = &p.probes[kind as usize];
        if rt.result == Some(rt.input) {
            return;
        }
        let (run, threshold) =
            if rt.input { (rt.ok_run, cfg.success_threshold) } else { (rt.fail_run, cfg.failure_threshold) };
        let need = u64::from(threshold.saturating_sub(run).max(1));
        let at = SimTime(rt.next_tick.0 + (need - 1) * cfg.period_ms);
        // Any event scheduled before this one for this probe is now stale.
        p.probe_epoch += 1;
        let epoch = p.probe_epoch;
        p.probes[kind as usize].epoch = epoch;
        self.at(at, Event::Probe { pod, kind, epoch });
    }

    /// A probe tick at which a threshold is reached.
    pub(crate) fn on_probe(&mut self, pod: PodId, kind: ProbeKind, epoch: u32) {
        let now = self.now;
        let p = &mut self.pods[pod];
        if p.probes[kind as usize].epoch != epoch || !p.probes[kind as usize].active {
            return;
        }
        let cfg = self.workloads[p.workload].probes[kind as usize].as_ref().expect("active probes have settings");
        let (period, success, failure) = (cfg.period_ms, cfg.success_threshold, cfg.failure_threshold);
        let rt = &mut p.probes[kind as usize];
        catch_up(rt, period, now);
        debug_assert_eq!(rt.next_tick, now, "probe events fall on ticks");
        // The tick at `now`.
        if rt.input {
            rt.ok_run = rt.ok_run.saturating_add(1);
            rt.fail_run = 0;
        } else {
            rt.fail_run = rt.fail_run.saturating_add(1);
            rt.ok_run = 0;
        }
        rt.next_tick = SimTime(now.0 + period);
        let reached = if rt.input { rt.ok_run >= success } else { rt.fail_run >= failure };
        if !reached {
            // Cannot happen with events scheduled at the threshold tick, but stay correct.
            self.schedule_probe(pod, kind);
            return;
        }
        let passed = rt.input;
        rt.result = Some(passed);
        self.note_pod(pod, || format!("{} probe {}", kind.name(), if passed { "succeeded" } else { "failed" }));
        match (kind, passed) {
            (ProbeKind::Startup, true) => self.startup_succeeded(pod),
            (ProbeKind::Startup, false) => self.kill_container(pod, ExitReason::StartupFailed),
            (ProbeKind::Liveness, false) => self.kill_container(pod, ExitReason::LivenessFailed),
            (ProbeKind::Liveness, true) => {}
            (ProbeKind::Readiness, ready) => {
                self.pods[pod].ready = ready;
                self.refresh_endpoints(pod);
            }
        }
    }

    /// The startup probe passed: liveness and readiness take over from the next tick.
    fn startup_succeeded(&mut self, pod: PodId) {
        let now = self.now;
        let w = self.pods[pod].workload;
        let anchor = self.pods[pod].anchor;
        let has_readiness = self.workloads[w].probes[ProbeKind::Readiness as usize].is_some();
        let p = &mut self.pods[pod];
        p.probes[ProbeKind::Startup as usize].active = false;
        for kind in [ProbeKind::Liveness, ProbeKind::Readiness] {
            if let Some(cfg) = self.workloads[w].probes[kind as usize].as_ref() {
                p.probes[kind as usize] =
                    ProbeRt::fresh(kind, tick_at_or_after(anchor, cfg.period_ms, SimTime(now.0 + 1)));
            }
        }
        if !has_readiness {
            p.ready = true;
            self.refresh_endpoints(pod);
        }
        self.probes_start_over(pod);
    }
}

impl ProbeRt {
    /// A probe that starts counting at `next_tick`: active, no results yet. Liveness is presumed
    /// passing, readiness failing (a pod is not Ready until its readiness probe succeeds),
    /// startup unknown.
    pub(crate) fn fresh(kind: ProbeKind, next_tick: SimTime) -> ProbeRt {
        let result = match kind {
            ProbeKind::Startup => None,
            ProbeKind::Liveness => Some(true),
            ProbeKind::Readiness => Some(false),
        };
        ProbeRt { active: true, next_tick, ok_run: 0, fail_run: 0, result, input: false, epoch: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_the_workers_grid() {
        assert_eq!(tick_at_or_after(SimTime(3), 10, SimTime(0)), SimTime(3));
        assert_eq!(tick_at_or_after(SimTime(3), 10, SimTime(3)), SimTime(3));
        assert_eq!(tick_at_or_after(SimTime(3), 10, SimTime(4)), SimTime(13));
        assert_eq!(tick_at_or_after(SimTime(3), 10, SimTime(23)), SimTime(23));
    }

    #[test]
    fn catch_up_counts_ticks_before_now() {
        let mut rt = ProbeRt { active: true, next_tick: SimTime(10), input: false, ..Default::default() };
        catch_up(&mut rt, 10, SimTime(35));
        // Ticks at 10, 20, 30 counted; 40 is next.
        assert_eq!(rt.fail_run, 3);
        assert_eq!(rt.next_tick, SimTime(40));
        catch_up(&mut rt, 10, SimTime(40));
        assert_eq!(rt.fail_run, 3, "the tick at `now` is not counted by catch-up");
    }
}
