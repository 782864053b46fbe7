//! The endpoints controller: a Service's endpoints are its Ready, non-terminating pods.
//!
//! Each service keeps running totals so no per-pod scan is ever needed: the number of Ready
//! endpoints (what the API shows), the capacity of the endpoints that actually serve (Ready
//! and with a running container on a live, reachable node) and the capacity of the endpoints
//! that are listed but fail what they are sent (a saturated node past the router's timeout; on
//! Kubernetes, a node that went silent and whose pods the node lifecycle controller has not
//! marked NotReady yet). A pod on a deleted node stays listed until PodGC removes it, but
//! serves nothing. When a service's serving capacity goes to zero or
//! comes back, the probes that call it are told.

use crate::ids::{PodId, ServiceId};
use crate::world::{Container, Phase, World};

impl World {
    /// Recomputes `pod`'s membership in its services' endpoints and applies the difference.
    pub(crate) fn refresh_endpoints(&mut self, pod: PodId) {
        let p = &self.pods[pod];
        let node = p.node.map(|n| &self.nodes[n]);
        let node_up = node.is_some_and(|n| n.running() && !n.health.network_lost);
        let saturated = node.is_some_and(|n| n.timing_out);
        // The node lifecycle controller marks the pods of a node that is not Ready NotReady.
        let marked = node.is_some_and(|n| n.health.marked);
        let in_endpoints = p.ready && p.phase == Phase::Bound && !marked;
        let routed = in_endpoints && node_up && matches!(p.container, Container::Running);
        let serving = routed && !saturated;
        // Kubernetes: an endpoint whose node went silent (machine down, network lost) stays
        // listed until the controller marks it, and the requests sent to it fail.
        let silent = in_endpoints && !routed && p.node.is_some_and(|n| !self.nodes[n].gone && self.is_kube_node(n));
        let dead = (routed && saturated) || silent;
        if in_endpoints == p.in_endpoints && serving == p.serving && dead == p.dead {
            return;
        }
        let d_ep = i64::from(in_endpoints) - i64::from(p.in_endpoints);
        let d_serving = i64::from(serving) - i64::from(p.serving);
        let d_dead = i64::from(dead) - i64::from(p.dead);
        let w = p.workload;
        let cap = p.capacity_mrps as i64;
        if !serving && p.serving {
            // Out of its service's queue with the backlog it has; it drains on its own.
            self.backlog_leave(pod);
        }
        let was_serving = self.pods[pod].serving;
        let p = &mut self.pods[pod];
        p.in_endpoints = in_endpoints;
        p.serving = serving;
        p.dead = dead;
        if serving && !was_serving {
            self.backlog_join(pod);
        }
        let now = self.now;
        for i in 0..self.workloads[w].services.len() {
            let s = self.workloads[w].services[i];
            let svc = &mut self.services[s];
            let was_up = svc.capacity_mrps > 0;
            svc.ready_endpoints = (i64::from(svc.ready_endpoints) + d_ep) as u32;
            svc.capacity_mrps = (svc.capacity_mrps as i64 + d_serving * cap) as u64;
            svc.dead_mrps = (svc.dead_mrps as i64 + d_dead * cap) as u64;
            let is_up = svc.capacity_mrps > 0;
            let (rps, dead_rps) = (svc.capacity_mrps as f64 / 1000.0, svc.dead_mrps as f64 / 1000.0);
            self.history.set_capacity(usize::from(s), now, rps);
            self.history.set_dead(usize::from(s), now, dead_rps);
            if was_up != is_up {
                self.service_flipped(s, is_up);
            }
            self.saturation_refresh(s);
            self.lb_backend_changed(s);
            if d_serving + d_dead != 0 {
                // The requests are split over a different set of endpoints.
                self.cpu_service_changed(s);
            }
        }
        if d_ep > 0 && self.workloads[w].kind == crate::spec::WorkloadKind::StatefulSet {
            // Ready: the next ordinal may be created.
            self.statefulset_sync(w);
        }
        if d_serving < 0 {
            // Out of the endpoints: its backlog drains on its own (its services' refresh above
            // judges the pods that serve).
            self.backlog_judge(pod);
        }
        if d_serving + d_dead != 0
            && let Some(n) = self.pods[pod].node
        {
            // Its node's demand changed (a pod no longer active is not among its workload's).
            self.cpu_refresh(n);
        }
        if d_serving != 0 && matches!(self.pods[pod].container, Container::Running) {
            // Taking traffic or not changes whether a saturated service slows its probes.
            self.probes_inputs_changed(pod);
        }
    }

    /// Adds (or, with a negative `mrps`, takes away) failing capacity of a service: addresses of
    /// removed containers that service discovery still returns.
    pub(crate) fn add_dead_capacity(&mut self, s: ServiceId, mrps: i64) {
        let svc = &mut self.services[s];
        svc.dead_mrps = (svc.dead_mrps as i64 + mrps).max(0) as u64;
        let dead_rps = svc.dead_mrps as f64 / 1000.0;
        self.history.set_dead(usize::from(s), self.now, dead_rps);
        self.cpu_service_changed(s);
    }

    /// A service lost its last serving endpoint or got its first one back.
    fn service_flipped(&mut self, s: ServiceId, up: bool) {
        let name = if self.history.timeline.is_some() { self.services[s].name.clone() } else { String::new() };
        self.history.note(self.now, &name, || {
            if up { "service has serving endpoints again".into() } else { "service has no serving endpoints".into() }
        });
        for i in 0..self.services[s].probe_dependents.len() {
            let w = self.services[s].probe_dependents[i];
            let pods: Vec<PodId> = self.workloads[w]
                .active
                .iter()
                .copied()
                .filter(|&p| matches!(self.pods[p].container, Container::Running))
                .collect();
            for pod in pods {
                self.probes_inputs_changed(pod);
            }
        }
    }
}
