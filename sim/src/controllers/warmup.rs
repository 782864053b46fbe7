//! Warm-up: a container that has just started serves less than its capacity (JIT compilation,
//! cold caches, empty connection pools) and ramps up to it over the workload's
//! `warmup.duration`, from `warmup.from` of it.
//!
//! The ramp is a staircase of [`WARMUP_STEPS`] equal steps, so that between two steps a
//! service's capacity is constant and its backlog stays exactly solvable (`saturation.rs`):
//! five events per start, whatever the length of the run. A pod's capacity while it serves is
//! counted in its services' capacity, so its requests are shared in proportion to what it
//! serves now, as a least-request balancer shares them.
//!
//! Simplification: with a balancer that picks at random (kube-proxy), a cold pod would get a
//! full share of the requests and be overloaded sooner than here.

use crate::ids::PodId;
use crate::time::SimTime;
use crate::world::{Container, Event, World};

/// The number of equal steps a warm-up ramp is made of. A modelling resolution, not a default of
/// any real system: enough for the shape of a ramp, few enough to cost nothing.
pub(crate) const WARMUP_STEPS: u32 = 5;

impl World {
    /// The container started: it serves the ramp's first share, and its steps are scheduled.
    pub(crate) fn warmup_start(&mut self, pod: PodId) {
        let w = self.pods[pod].workload;
        let full = self.workloads[w].capacity_mrps;
        let Some((duration, from)) = self.workloads[w].warmup else {
            self.set_pod_capacity(pod, full);
            return;
        };
        self.set_pod_capacity(pod, (full as f64 * from).round() as u64);
        self.warmup_schedule(pod, 1, duration);
    }

    fn warmup_schedule(&mut self, pod: PodId, step: u32, duration: u64) {
        let started = self.pods[pod].last_started.unwrap_or(self.now);
        let at = SimTime(started.0 + duration * u64::from(step) / u64::from(WARMUP_STEPS));
        let epoch = self.pods[pod].epoch;
        self.at(at.max(self.now), Event::WarmupStep { pod, epoch, step });
    }

    /// The next step of the ramp (ignored once the container has stopped).
    pub(crate) fn on_warmup_step(&mut self, pod: PodId, epoch: u32, step: u32) {
        if self.pods[pod].epoch != epoch || !matches!(self.pods[pod].container, Container::Running) {
            return;
        }
        let w = self.pods[pod].workload;
        let full = self.workloads[w].capacity_mrps;
        let Some((duration, from)) = self.workloads[w].warmup else { return };
        let share = from + (1.0 - from) * f64::from(step) / f64::from(WARMUP_STEPS);
        self.set_pod_capacity(pod, (full as f64 * share.min(1.0)).round() as u64);
        if step < WARMUP_STEPS {
            self.warmup_schedule(pod, step + 1, duration);
        }
    }

    /// Sets what the pod serves, and carries the difference into the services it serves or fails
    /// for, as the endpoints controller would.
    pub(crate) fn set_pod_capacity(&mut self, pod: PodId, mrps: u64) {
        let p = &self.pods[pod];
        let old = p.capacity_mrps;
        if old == mrps {
            return;
        }
        let (serving, dead, w) = (p.serving, p.dead, p.workload);
        self.pods[pod].capacity_mrps = mrps;
        if !serving && !dead {
            return;
        }
        let d = mrps as i64 - old as i64;
        let now = self.now;
        for i in 0..self.workloads[w].services.len() {
            let s = self.workloads[w].services[i];
            let svc = &mut self.services[s];
            if serving {
                svc.capacity_mrps = (svc.capacity_mrps as i64 + d).max(0) as u64;
                let rps = svc.capacity_mrps as f64 / 1000.0;
                self.history.set_capacity(usize::from(s), now, rps);
            } else {
                svc.dead_mrps = (svc.dead_mrps as i64 + d).max(0) as u64;
                let rps = svc.dead_mrps as f64 / 1000.0;
                self.history.set_dead(usize::from(s), now, rps);
            }
            self.saturation_refresh(s);
            self.lb_backend_changed(s);
            self.cpu_service_changed(s);
        }
        let name = self.pods[pod].name.clone();
        self.history.note(now, &name, || format!("warming up: serves {:.1} rps", mrps as f64 / 1000.0));
    }
}
