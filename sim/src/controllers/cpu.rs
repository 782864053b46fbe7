//! Node CPU: demand that follows traffic, saturation, and the agent that stalls under it.
//!
//! A container of a workload with a `cpuDemand` burns `base + perRps x (requests/s it receives)`
//! while the router sends it requests (a container out of the routing is counted as idle).
//! A service's requests are split among the endpoints the router sends to in proportion to
//! their capacity, so a container receives `offered(s) x capacity(c) / routed capacity(s)`. A
//! node's demand is the sum over its running containers; between changes it is a weighted sum
//! of the traffic curves, piecewise linear, so the instant it crosses the node's CPU is found
//! exactly and one event is scheduled for it (nothing is sampled per period).
//!
//! Above 100 % the node cannot keep up and serves slowly: at utilisation `u` its backlog grows by
//! `u - 1` seconds of work per second, so once it holds more than the router's timeout `T`
//! (60 s) of work, `T / (u - 1)` after saturation began, requests wait longer than the router
//! will and fail; the node keeps burning CPU on requests nobody waits for any more, so from then
//! on everything routed to its containers times out. They stay in the routing (nothing
//! health-checks them here), and their demand does not fall, because the requests keep coming. A node whose cluster sets
//! `agentStallAfter` and stays saturated that long loses its agent: it stops reporting and goes
//! offline until it is rebooted, and its containers are lost to the cluster (rescheduled where
//! the orchestrator does that). That is the whole cascade of a rescheduler that piles work on a
//! small node: nothing in it is scripted.

use crate::ids::{NodeId, PodId, ServiceId};
use crate::time::{SimDuration, SimTime};
use crate::world::{Event, World};

impl World {
    /// `node`'s CPU demand as `base + sum of weight x curve(t)`, in millicores, with the curves
    /// named by their index in the topology.
    fn cpu_terms(&self, node: NodeId) -> (f64, Vec<(usize, f64)>) {
        let mut base = 0.0;
        let mut terms: Vec<(usize, f64)> = Vec::new();
        for &pod in &self.nodes[node].pods {
            // Only containers the router sends requests to count: a container's demand changes
            // exactly when it enters or leaves the routing (which is when this is refreshed).
            let p = &self.pods[pod];
            if !(p.serving || p.dead) {
                continue;
            }
            let (b, term) = self.container_cpu(pod);
            base += b;
            if let Some((src, weight)) = term {
                match terms.iter_mut().find(|t| t.0 == src) {
                    Some(t) => t.1 += weight,
                    None => terms.push((src, weight)),
                }
            }
        }
        (base, terms)
    }

    /// One container's CPU as `base + weight x curve(t)`: its base, and the curve with the
    /// weight its share of its service's requests gives it (as if it were routed to).
    fn container_cpu(&self, pod: PodId) -> (f64, Option<(usize, f64)>) {
        let w = &self.workloads[self.pods[pod].workload];
        let base = w.cpu_base as f64;
        let Some(&s) = w.services.first().filter(|_| w.cpu_per_rps > 0) else { return (base, None) };
        let svc = &self.services[s];
        // A container about to be routed to counts its own capacity in the split.
        let routed = (svc.capacity_mrps + svc.dead_mrps).max(w.capacity_mrps);
        let weight = w.cpu_per_rps as f64 * (w.capacity_mrps as f64 / routed as f64) * self.chain_share(s);
        (base, Some((self.topology.source(usize::from(s)), weight)))
    }

    /// The CPU one container burns now, millicores.
    pub(crate) fn container_cpu_now(&self, pod: PodId) -> f64 {
        let (base, term) = self.container_cpu(pod);
        self.cpu_at(base, term.as_slice(), self.now.0 as f64)
    }

    /// Demand at fractional millisecond `t` from [`World::cpu_terms`].
    fn cpu_at(&self, base: f64, terms: &[(usize, f64)], t: f64) -> f64 {
        base + terms.iter().map(|&(c, w)| w * self.topology.curves[c].at_f(t)).sum::<f64>()
    }

    /// `node`'s CPU demand now, millicores (0 when CPU is not modelled).
    pub(crate) fn cpu_demand_now(&self, node: NodeId) -> f64 {
        if !self.cpu_model {
            return 0.0;
        }
        let (base, terms) = self.cpu_terms(node);
        self.cpu_at(base, &terms, self.now.0 as f64)
    }

    /// The first millisecond after now at which `demand > cpu` stops being `above`.
    fn cpu_next_crossing(&self, base: f64, terms: &[(usize, f64)], cpu: f64, above: bool) -> Option<SimTime> {
        let now = self.now.0;
        let mut cuts: Vec<u64> = terms
            .iter()
            .flat_map(|&(c, _)| self.topology.curves[c].points().iter().map(|p| p.0.0))
            .filter(|&t| t > now && t < self.end.0)
            .collect();
        cuts.push(self.end.0);
        cuts.sort_unstable();
        cuts.dedup();
        let state = |t: u64| self.cpu_at(base, terms, t as f64) > cpu;
        let mut t0 = now;
        for t1 in cuts {
            if state(t1) != above || (t1 == self.end.0 && state(t1.saturating_sub(1)) != above) {
                // Linear in between: solve, then step to the first millisecond really past it.
                let (v0, v1) = (self.cpu_at(base, terms, t0 as f64), self.cpu_at(base, terms, t1 as f64));
                let x = if v1 == v0 { 0.0 } else { ((cpu - v0) / (v1 - v0)).clamp(0.0, 1.0) };
                let mut at = ((t0 as f64 + x * (t1 - t0) as f64).ceil() as u64).clamp(t0 + 1, t1);
                while at < t1 && state(at) == above {
                    at += 1;
                }
                return (at < self.end.0).then_some(SimTime(at));
            }
            t0 = t1;
        }
        None
    }

    /// Re-judges `node`'s saturation and reschedules its next crossing: called whenever what
    /// its containers receive may have changed.
    pub(crate) fn cpu_refresh(&mut self, node: NodeId) {
        if !self.cpu_model {
            return;
        }
        let n = &self.nodes[node];
        if !n.running() {
            if n.saturated {
                self.set_saturated(node, false, 0.0);
            }
            self.nodes[node].cpu_due = None;
            self.nodes[node].cpu_epoch += 1;
            return;
        }
        let (base, terms) = self.cpu_terms(node);
        let cpu = self.nodes[node].cpu as f64;
        let demand = self.cpu_at(base, &terms, self.now.0 as f64);
        let above = demand > cpu;
        if above != self.nodes[node].saturated {
            self.set_saturated(node, above, demand);
        }
        let next = if terms.is_empty() { None } else { self.cpu_next_crossing(base, &terms, cpu, above) };
        let n = &mut self.nodes[node];
        if n.cpu_due == next {
            return;
        }
        n.cpu_epoch += 1;
        n.cpu_due = next;
        if let Some(at) = next {
            let epoch = n.cpu_epoch;
            self.at(at, Event::CpuCross { node, epoch });
        }
    }

    /// The nodes running containers of `s` re-judge their CPU (its routing or traffic changed).
    pub(crate) fn cpu_service_changed(&mut self, s: ServiceId) {
        if !self.cpu_model {
            return;
        }
        let mut nodes: Vec<NodeId> = Vec::new();
        for &w in &self.services[s].workloads {
            if self.workloads[w].cpu_per_rps == 0 {
                continue;
            }
            nodes.extend(self.workloads[w].active.iter().filter_map(|&p| self.pods[p].node));
        }
        nodes.sort_unstable();
        nodes.dedup();
        for node in nodes {
            self.cpu_refresh(node);
        }
    }

    fn set_saturated(&mut self, node: NodeId, on: bool, demand: f64) {
        let now = self.now;
        let n = &mut self.nodes[node];
        n.saturated = on;
        n.stall_epoch += 1;
        let was_timing_out = n.timing_out;
        n.timing_out = false;
        let cpu = n.cpu;
        if on {
            // Seconds of backlog per second at this utilisation; the first request times out
            // once the backlog reaches the router's timeout.
            let excess = (demand / cpu.max(1) as f64 - 1.0).max(1e-6);
            let delay = ((crate::defaults::GATEWAY_TIMEOUT_MS as f64 / excess) as u64).min(crate::time::HOUR);
            let epoch = self.nodes[node].stall_epoch;
            self.at(SimTime(now.0 + delay.max(1)), Event::CpuBacklog { node, epoch });
        }
        let n = &self.nodes[node];
        let (name, cpu, stall_epoch, c) = (n.name.clone(), n.cpu, n.stall_epoch, n.cluster as usize);
        self.history.note(now, &name, || {
            if on {
                format!("CPU over 100%: demand {:.0}m of {cpu}m; it serves slowly", demand)
            } else {
                "CPU back under 100%".into()
            }
        });
        let stall = self.clusters[c].def.agent_stall_after;
        if on && let Some(after) = stall {
            self.at(now.after(after), Event::AgentStall { node, epoch: stall_epoch });
        }
        if was_timing_out {
            let pods: Vec<_> = self.nodes[node].pods.iter().copied().collect();
            for pod in pods {
                self.refresh_endpoints(pod);
            }
        }
    }

    /// The backlog of a saturated node passed the router's timeout: its requests fail.
    pub(crate) fn on_cpu_backlog(&mut self, node: NodeId, epoch: u32) {
        let n = &mut self.nodes[node];
        if n.stall_epoch != epoch || !n.saturated || n.timing_out {
            return;
        }
        n.timing_out = true;
        let name = n.name.clone();
        self.history
            .note(self.now, &name, || "backlog past the 60 s router timeout: requests to its containers fail".into());
        let pods: Vec<_> = self.nodes[node].pods.iter().copied().collect();
        for pod in pods {
            self.refresh_endpoints(pod);
        }
    }

    /// The node's CPU demand crosses its capacity.
    pub(crate) fn on_cpu_cross(&mut self, node: NodeId, epoch: u32) {
        if self.nodes[node].cpu_epoch != epoch {
            return;
        }
        self.nodes[node].cpu_due = None;
        self.cpu_refresh(node);
    }

    /// The node stayed saturated for its cluster's `agentStallAfter`: its agent stops reporting
    /// and the node goes offline until rebooted.
    pub(crate) fn on_agent_stall(&mut self, node: NodeId, epoch: u32) {
        let n = &self.nodes[node];
        if n.stall_epoch != epoch || !n.saturated || !n.running() {
            return;
        }
        let c = n.cluster as usize;
        let after = self.clusters[c].def.agent_stall_after.unwrap_or(SimDuration::ZERO);
        let name = n.name.clone();
        let now = self.now;
        self.history.note(now, &name, || {
            format!("node offline: CPU saturated for {after}, its agent stopped reporting (reboot to recover)")
        });
        self.history.offline.push((name, now));
        self.nodes[node].failed = true;
        self.node_down(node);
    }
}
