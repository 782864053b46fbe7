//! Load balancers in front of services in one or more clusters.
//!
//! Each backend is health-checked every `interval` on the balancer's own timer (a random
//! phase). A check passes while the backend's service has a serving endpoint. A backend is
//! marked down after `unhealthyThreshold` consecutive failed checks and up again after
//! `healthyThreshold` passing ones; traffic goes to the backends marked up, in proportion to the
//! capacity each served at its last check. So a backend that dies keeps its share (and fails it)
//! until the checks catch up, and a backend that comes back waits for its healthy checks.
//!
//! Checks are lazy like probes: nothing runs while every backend's marking agrees with its
//! state and its capacity has not changed; a change schedules the next check on the grid, and
//! disagreement keeps checking until the marking flips or the state returns.

use crate::ids::ServiceId;
use crate::rng;
use crate::time::SimTime;
use crate::world::{BackendRt, Event, LbRt, World};

use super::prober::tick_at_or_after;

impl World {
    /// Builds the load balancers with every backend marked as it stands at the start.
    pub(crate) fn init_load_balancers(&mut self) {
        // Host-based routes have fixed shares.
        for k in 0..self.topology.route_shares.len() {
            let (s, share) = self.topology.route_shares[k];
            self.services[s].share = share;
            self.history.set_share(usize::from(s), SimTime::ZERO, share);
        }
        let specs = self.scenario.spec.cluster.load_balancers.clone();
        for (i, lb) in specs.iter().enumerate() {
            let mut backends = Vec::new();
            for (j, b) in lb.backends.iter().enumerate() {
                let s = ServiceId::from(
                    self.scenario.spec.cluster.services.iter().position(|x| x.name == b.service).expect("validated"),
                );
                let cap = self.services[s].capacity_mrps;
                self.services[s].backend_of.push((i as u32, j as u32));
                backends.push(BackendRt {
                    service: s,
                    enabled: b.enabled,
                    marked_up: b.enabled && cap > 0,
                    streak: 0,
                    seen_mrps: cap,
                    epoch: 0,
                    check_pending: false,
                });
            }
            let interval = lb.health_check.interval.ms();
            let phase = rng::uniform_ms(&mut self.rng.network, 0, interval - 1);
            self.lbs.push(LbRt { backends, phase });
            self.recompute_shares(i);
        }
    }

    /// A backend service's capacity changed: its balancers check it at their next tick.
    pub(crate) fn lb_backend_changed(&mut self, s: ServiceId) {
        for k in 0..self.services[s].backend_of.len() {
            let (lb, b) = self.services[s].backend_of[k];
            self.schedule_lb_check(lb as usize, b as usize);
        }
    }

    fn schedule_lb_check(&mut self, lb: usize, b: usize) {
        let interval = self.scenario.spec.cluster.load_balancers[lb].health_check.interval.ms();
        let rt = &mut self.lbs[lb];
        let backend = &mut rt.backends[b];
        if backend.check_pending || !backend.enabled {
            return;
        }
        let at = tick_at_or_after(SimTime(rt.phase), interval, SimTime(self.now.0 + 1));
        backend.check_pending = true;
        backend.epoch += 1;
        let epoch = backend.epoch;
        self.at(at, Event::LbCheck { lb: lb as u32, backend: b as u32, epoch });
    }

    /// One health check of one backend.
    pub(crate) fn on_lb_check(&mut self, lb: u32, b: u32, epoch: u32) {
        let (lb, b) = (lb as usize, b as usize);
        let hc = self.scenario.spec.cluster.load_balancers[lb].health_check;
        let backend = &mut self.lbs[lb].backends[b];
        if backend.epoch != epoch || !backend.check_pending {
            return;
        }
        backend.check_pending = false;
        if !backend.enabled {
            return;
        }
        let cap = self.services[backend.service].capacity_mrps;
        let healthy = cap > 0;
        if backend.marked_up == healthy {
            backend.streak = 0;
            if healthy && backend.seen_mrps != cap {
                backend.seen_mrps = cap;
                self.recompute_shares(lb);
            }
            return;
        }
        backend.streak += 1;
        let needed = if healthy { hc.healthy_threshold } else { hc.unhealthy_threshold };
        if backend.streak < needed {
            self.schedule_lb_check(lb, b);
            return;
        }
        backend.marked_up = healthy;
        backend.streak = 0;
        backend.seen_mrps = if healthy { cap } else { 0 };
        let (name, svc) = (self.scenario.spec.cluster.load_balancers[lb].name.clone(), backend.service);
        let svc_name = self.services[svc].name.clone();
        self.history
            .note(self.now, &name, || format!("backend {svc_name} marked {}", if healthy { "up" } else { "down" }));
        self.recompute_shares(lb);
    }

    /// Each backend's share: its last seen capacity over the total of the backends marked up.
    fn recompute_shares(&mut self, lb: usize) {
        let total: u64 = self.lbs[lb].backends.iter().filter(|b| b.enabled && b.marked_up).map(|b| b.seen_mrps).sum();
        for k in 0..self.lbs[lb].backends.len() {
            let b = &self.lbs[lb].backends[k];
            let share = if b.enabled && b.marked_up && total > 0 { b.seen_mrps as f64 / total as f64 } else { 0.0 };
            let s = b.service;
            if self.services[s].share != share {
                self.services[s].share = share;
                self.history.set_share(usize::from(s), self.now, share);
                self.saturation_refresh(s);
                self.cpu_service_changed(s);
            }
        }
    }

    /// Turns a backend on or off (its weight in the balancer's configuration). A backend turned
    /// on takes traffic once its health checks pass.
    pub(crate) fn set_backend(&mut self, lb: &str, service: &str, enabled: bool) -> Result<String, String> {
        let Some(i) = self.scenario.spec.cluster.load_balancers.iter().position(|l| l.name == lb) else {
            return Err(format!("no load balancer named `{lb}`"));
        };
        let Some(b) = self.lbs[i].backends.iter().position(|x| self.services[x.service].name == service) else {
            return Err(format!("`{service}` is not a backend of `{lb}`"));
        };
        let backend = &mut self.lbs[i].backends[b];
        if backend.enabled == enabled {
            return Ok(format!("backend {service} of {lb} already {}", if enabled { "on" } else { "off" }));
        }
        backend.enabled = enabled;
        backend.streak = 0;
        backend.check_pending = false;
        backend.epoch += 1;
        if enabled {
            backend.marked_up = false;
            self.schedule_lb_check(i, b);
        } else {
            backend.marked_up = false;
            self.recompute_shares(i);
        }
        Ok(format!("backend {service} of {lb} turned {}", if enabled { "on" } else { "off" }))
    }

    /// Checks the load balancers' invariant: traffic only to backends that are on and marked up.
    pub(crate) fn lb_invariant(&self) -> Result<(), String> {
        for lb in &self.lbs {
            for b in &lb.backends {
                let share = self.services[b.service].share;
                if share > 0.0 && !(b.enabled && b.marked_up) {
                    return Err(format!("traffic routed to backend {} marked down", self.services[b.service].name));
                }
            }
        }
        Ok(())
    }
}
