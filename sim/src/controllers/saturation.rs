//! Overload feedback: a pod loaded close to its capacity answers its probes too slowly.
//!
//! Each pod is treated as a single-server queue (M/M/1) serving `capacityRps`: at load
//! `rho = offered / capacity` (the service's offered requests over the serving capacity of its
//! endpoints, which share the load in proportion to their capacity), a request waits on
//! average `rho / (mu * (1 - rho))` seconds before it is handled. A probe is a request like any
//! other; it fails when that wait exceeds its `timeoutSeconds`, that is when
//!
//! ```text
//! rho > mu*T / (1 + mu*T)          (mu = capacityRps, T = timeoutSeconds)
//! ```
//!
//! and always at `rho >= 1`. A pod outside the endpoints gets no traffic, so its probes pass.
//! That is the feedback loop of a saturated service: readiness failures take pods out (the rest
//! get more load), liveness failures restart them, and a restart is where other faults (DNS)
//! bite.
//!
//! The load is piecewise linear between capacity changes, so for each threshold a service's
//! pods care about, the crossing time is computed exactly and one event is scheduled for it; the
//! pods are told only when their input really changes.

use crate::ids::ServiceId;
use crate::world::{Event, SatWatch, World};

/// The load above which a probe with timeout `timeout_s` fails on a pod serving `capacity_rps`.
pub(crate) fn saturation_threshold(capacity_rps: f64, timeout_s: u32) -> f64 {
    let x = capacity_rps * f64::from(timeout_s);
    x / (1.0 + x)
}

impl World {
    /// Sets up each service's watches (one per distinct threshold of its pods' probes).
    pub(crate) fn init_saturation(&mut self) {
        for s in self.services.ids().collect::<Vec<_>>() {
            let mut th: Vec<f64> = Vec::new();
            for &w in &self.services[s].workloads {
                for t in self.workloads[w].saturation.iter().flatten() {
                    if !th.contains(t) {
                        th.push(*t);
                    }
                }
            }
            th.sort_by(f64::total_cmp);
            self.services[s].watches =
                th.into_iter().map(|threshold| SatWatch { threshold, above: false, epoch: 0, due: None }).collect();
            self.saturation_refresh(s);
        }
    }

    /// Whether `s`'s load is above `threshold` now.
    fn load_above(&self, s: ServiceId, threshold: f64) -> bool {
        let svc = &self.services[s];
        if svc.capacity_mrps == 0 {
            return false;
        }
        let offered = self.topology.offered_f(usize::from(s), self.now.0 as f64, self.chain_share(s));
        offered > threshold * (svc.capacity_mrps as f64 / 1000.0)
    }

    /// `s`'s capacity or share changed: re-judge every watch and reschedule its crossing.
    pub(crate) fn saturation_refresh(&mut self, s: ServiceId) {
        for i in 0..self.services[s].watches.len() {
            self.saturation_judge(s, i);
        }
    }

    fn saturation_judge(&mut self, s: ServiceId, i: usize) {
        let th = self.services[s].watches[i].threshold;
        let above = self.load_above(s, th);
        if above != self.services[s].watches[i].above {
            self.services[s].watches[i].above = above;
            let name = self.services[s].name.clone();
            self.history.note(self.now, &name, || {
                if above {
                    format!("saturated: probes with this timeout fail above {:.1}% load", th * 100.0)
                } else {
                    "no longer saturated".into()
                }
            });
            self.saturation_notify(s, th);
        }
        // The next crossing of the threshold by the (piecewise-linear) offered load.
        let svc = &self.services[s];
        let src = self.topology.source(usize::from(s));
        let scale = self.chain_share(s);
        let next = if svc.capacity_mrps == 0 || scale <= 0.0 {
            None
        } else {
            let level = th * (svc.capacity_mrps as f64 / 1000.0) / scale;
            self.topology.curves[src].next_crossing(self.now, level, above).filter(|t| *t < self.end)
        };
        let watch = &mut self.services[s].watches[i];
        if watch.due == next {
            return;
        }
        watch.epoch += 1;
        watch.due = next;
        if let Some(at) = next {
            let epoch = watch.epoch;
            self.at(at, Event::Saturation { svc: s, watch: i as u32, epoch });
        }
    }

    /// The load of `s` crosses a watched threshold.
    pub(crate) fn on_saturation(&mut self, s: ServiceId, i: u32, epoch: u32) {
        let watch = &mut self.services[s].watches[i as usize];
        if watch.epoch != epoch {
            return;
        }
        watch.due = None;
        self.saturation_judge(s, i as usize);
    }

    /// The serving pods whose probes use `threshold` re-evaluate their input.
    fn saturation_notify(&mut self, s: ServiceId, threshold: f64) {
        for k in 0..self.services[s].workloads.len() {
            let w = self.services[s].workloads[k];
            if !self.workloads[w].saturation.contains(&Some(threshold)) {
                continue;
            }
            let pods: Vec<_> = self.workloads[w].active.iter().copied().filter(|&p| self.pods[p].serving).collect();
            for pod in pods {
                self.probes_inputs_changed(pod);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_the_queueing_wait() {
        // 100 rps per pod, 1 s timeout: the mean wait exceeds 1 s above 100/101 of capacity.
        assert!((saturation_threshold(100.0, 1) - 100.0 / 101.0).abs() < 1e-12);
        // A slow pod (0.5 rps) with a 1 s timeout already fails at a third of its capacity.
        assert!((saturation_threshold(0.5, 1) - 1.0 / 3.0).abs() < 1e-12);
        // A longer timeout tolerates more load.
        assert!(saturation_threshold(20.0, 5) > saturation_threshold(20.0, 1));
    }
}
