//! Offered load and what gets served.
//!
//! Each service has an offered-load curve (requests per second, piecewise linear). At any instant
//! a service serves
//!
//! ```text
//! served(s) = offered(s) * ratio(s)
//! ratio(s)  = own(s) * product over calls (d, share) of (1 - share * (1 - ratio(d)))
//! own(s)    = 0                           if no endpoint serves
//!           = 1                           if nothing is offered
//!           = min(1, capacity / offered)  otherwise
//! ```
//!
//! so a service whose endpoints are all gone is down (ratio 0) even with nothing offered, and a
//! caller loses exactly the share of its requests that need a failing dependency. A called
//! service with a traffic curve of its own takes that curve as its total load (callers'
//! requests included); one without gets what its callers send it: the sum over its callers of
//! their offered load times the share of their requests that need it, so load flows down the
//! call graph and a callee can saturate under its callers' traffic. (A caller behind a load
//! balancer counts with its nominal share: its route's share, or an equal split among the
//! balancer's backends.)
//! Dependencies form a DAG (validated), evaluated in topological order.
//!
//! A load balancer is scored as a service of its own: users' requests (its curve) are split
//! among its backends by their current `share` (what the load balancer's health checks last
//! saw), so a backend's offered load is `offered(lb) * share(backend)` and
//!
//! ```text
//! ratio(lb) = sum over backends b of share(b) * ratio(b)      (0 when no backend is marked up)
//! ```
//!
//! A balancer may route by host instead (`routes`): each target (another balancer, one per app,
//! or a service) gets a fixed share, so a site of many apps serves the share-weighted sum of its
//! apps' ratios. Shares multiply down the chain: a backend of an app's balancer is offered
//! `offered(site) * share(app) * share(backend)`.
//!
//! Requests the router sends to endpoints that fail them (containers on a CPU-saturated node,
//! addresses of removed containers that service discovery still hands out) are lost: with `H`
//! the capacity that serves and `D` the capacity that fails, requests are split in proportion to
//! capacity and
//!
//! ```text
//! own(s) = H/(H+D) * min(1, (H+D)/offered)
//! ```

use crate::ids::ServiceId;
use crate::spec::Scenario;
use crate::time::SimTime;

/// A piecewise-linear curve of requests per second over time.
#[derive(Clone, Debug, Default)]
pub struct Curve {
    /// `(time, rps)` in strictly increasing time; empty means zero.
    points: Vec<(SimTime, f64)>,
    /// Each point's time as `f64`, the length of the stretch up to it as `f64` (0 for the
    /// first) and its value: what [`Curve::at_f`] computes with, converted once rather than at
    /// every call (it runs millions of times a day; the values are the same, so are its
    /// results).
    knots: Vec<Knot>,
    /// The stretch the last lookup fell in: most lookups follow time forward and fall in the
    /// same one, which two comparisons confirm (a hint only: every lookup checks it, so the
    /// result is what the search would give).
    last: std::cell::Cell<usize>,
}

/// A point of a curve as [`Curve::at_f`] reads it.
#[derive(Copy, Clone, Debug, Default)]
struct Knot {
    /// Its time, milliseconds.
    at: f64,
    /// Milliseconds since the point before (0 for the first).
    span: f64,
    /// Its value.
    value: f64,
}

impl Curve {
    /// The curve through `points` (strictly increasing in time).
    pub fn new(points: Vec<(SimTime, f64)>) -> Curve {
        let knots = points
            .iter()
            .enumerate()
            .map(|(i, &(t, value))| Knot {
                at: t.0 as f64,
                span: if i == 0 { 0.0 } else { (t.0 - points[i - 1].0.0) as f64 },
                value,
            })
            .collect();
        Curve { points, knots, last: std::cell::Cell::new(1) }
    }

    /// Its points, `(time, rps)` in strictly increasing time; none means zero.
    pub fn points(&self) -> &[(SimTime, f64)] {
        &self.points
    }

    /// The first millisecond after `from` at which `value > level` is no longer `above`, or
    /// `None` if it never changes (the curve is flat after its last point).
    pub fn next_crossing(&self, from: SimTime, level: f64, above: bool) -> Option<SimTime> {
        let p = &self.points;
        let state = |v: f64| v > level;
        let mut t0 = from.0;
        let mut v0 = self.at(from);
        let first = p.partition_point(|(pt, _)| pt.0 <= from.0);
        for &(t1, v1) in &p[first..] {
            if state(v1) != above {
                // The value moves linearly from v0 to v1: find where it passes the level.
                let x = if v1 == v0 { 0.0 } else { (level - v0) / (v1 - v0) };
                let t = t0 as f64 + x.clamp(0.0, 1.0) * (t1.0 - t0) as f64;
                let mut at = (t.ceil() as u64).clamp(t0, t1.0);
                // Step past the exact crossing until the state really differs (at most t1).
                while at < t1.0 && state(self.at(SimTime(at))) == above {
                    at += 1;
                }
                return Some(SimTime(at.max(from.0 + 1)));
            }
            t0 = t1.0;
            v0 = v1;
        }
        None
    }

    /// Every value times `k`.
    pub fn scaled(&self, k: f64) -> Curve {
        Curve::new(self.points.iter().map(|&(t, v)| (t, v * k)).collect())
    }

    /// The pointwise sum of two curves (piecewise linear again, on the union of their points).
    pub fn plus(&self, other: &Curve) -> Curve {
        let mut times: Vec<SimTime> = self.points.iter().chain(&other.points).map(|&(t, _)| t).collect();
        times.sort();
        times.dedup();
        let at = |c: &Curve, t: SimTime| if c.points.is_empty() { 0.0 } else { c.at(t) };
        Curve::new(times.into_iter().map(|t| (t, at(self, t) + at(other, t))).collect())
    }

    /// The value at `t`: linear between points, flat outside them.
    pub fn at(&self, t: SimTime) -> f64 {
        self.at_f(t.0 as f64)
    }

    /// The value at a fractional millisecond (for quadrature).
    pub fn at_f(&self, t: f64) -> f64 {
        let x = &self.knots[..];
        let (Some(first), Some(last)) = (x.first(), x.last()) else { return 0.0 };
        if t <= first.at {
            return first.value;
        }
        if t >= last.at {
            return last.value;
        }
        // Here the first point < t < the last. The first point after t: the hinted one if t
        // falls before it and not before the point ahead of it, else found by bisection.
        let hint = self.last.get();
        let (a, b) = match (x.get(hint.wrapping_sub(1)), x.get(hint)) {
            (Some(a), Some(b)) if a.at <= t && t < b.at => (a, b),
            _ => {
                let i = x.partition_point(|k| k.at <= t);
                self.last.set(i);
                (&x[i - 1], &x[i])
            }
        };
        a.value + (b.value - a.value) * ((t - a.at) / b.span)
    }
}

/// The static service graph: who calls whom, offered curves, outage thresholds.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    /// Service names by id.
    pub names: Vec<String>,
    /// Services in an order where every callee comes before its callers.
    pub order: Vec<ServiceId>,
    /// `(callee, share)` per service.
    pub calls: Vec<Vec<(ServiceId, f64)>>,
    /// Offered load per service.
    pub curves: Vec<Curve>,
    /// Outage threshold per service.
    pub outage_below: Vec<f64>,
    /// For a load balancer: its backends (empty for other services).
    pub backends: Vec<Vec<ServiceId>>,
    /// For a backend: the load balancer whose traffic it gets.
    pub fed_by: Vec<Option<ServiceId>>,
    /// Fixed shares of host-based routes: `(target, share)`.
    pub route_shares: Vec<(ServiceId, f64)>,
    /// Whether another service calls this one (callers find it through service discovery).
    pub called: Vec<bool>,
}

impl Topology {
    /// Builds the graph of a validated scenario.
    pub fn new(s: &Scenario) -> Topology {
        let spec = &s.spec;
        let svcs = &spec.cluster.services;
        let lbs = &spec.cluster.load_balancers;
        let n = svcs.len() + lbs.len();
        let mut names: Vec<String> = svcs.iter().map(|s| s.name.clone()).collect();
        names.extend(lbs.iter().map(|l| l.name.clone()));
        let id = |name: &str| -> ServiceId {
            ServiceId::from(names.iter().position(|x| x == name).expect("validated reference"))
        };
        let mut calls: Vec<Vec<(ServiceId, f64)>> =
            svcs.iter().map(|s| s.calls.iter().map(|c| (id(&c.service), c.share)).collect()).collect();
        calls.resize(n, Vec::new());
        let mut backends = vec![Vec::new(); n];
        let mut fed_by = vec![None; n];
        let mut route_shares = Vec::new();
        for (i, lb) in lbs.iter().enumerate() {
            let me = ServiceId::from(svcs.len() + i);
            for b in &lb.backends {
                let bid = id(&b.service);
                backends[svcs.len() + i].push(bid);
                fed_by[usize::from(bid)] = Some(me);
            }
            for r in &lb.routes {
                let rid = id(&r.to);
                backends[svcs.len() + i].push(rid);
                fed_by[usize::from(rid)] = Some(me);
                route_shares.push((rid, r.share));
            }
        }
        let mut curves = vec![Curve::default(); n];
        for t in &spec.traffic {
            curves[usize::from(id(&t.service))] =
                Curve::new(t.rps.iter().map(|(at, v)| (at.resolve(&spec.start), *v * t.scale.value())).collect());
        }
        let own: Vec<bool> = (0..n).map(|i| !curves[i].points.is_empty()).collect();
        // Topological order by depth-first post-order (callees and backends first); validated
        // acyclic.
        let deps: Vec<Vec<usize>> = (0..n)
            .map(|i| {
                calls[i]
                    .iter()
                    .map(|(c, _)| usize::from(*c))
                    .chain(backends[i].iter().map(|&b| usize::from(b)))
                    .collect()
            })
            .collect();
        let mut order = Vec::with_capacity(n);
        let mut done = vec![false; n];
        fn visit(i: usize, deps: &[Vec<usize>], done: &mut [bool], order: &mut Vec<ServiceId>) {
            if done[i] {
                return;
            }
            done[i] = true;
            for &c in &deps[i] {
                visit(c, deps, done, order);
            }
            order.push(ServiceId::from(i));
        }
        for i in 0..n {
            visit(i, &deps, &mut done, &mut order);
        }
        // Load down the call graph: callers before callees (the reverse of `order`), so a
        // caller's derived curve is complete before it is passed on.
        let nominal = |i: usize| -> (usize, f64) {
            let mut share = 1.0;
            let mut at = i;
            while let Some(up) = fed_by[at] {
                let up_i = usize::from(up);
                let route = route_shares.iter().find(|(t, _)| usize::from(*t) == at).map(|&(_, s)| s);
                share *= route.unwrap_or(1.0 / backends[up_i].len().max(1) as f64);
                at = up_i;
            }
            (at, share)
        };
        for &s in order.iter().rev() {
            let i = usize::from(s);
            let (src, share) = nominal(i);
            for &(callee, call_share) in &calls[i] {
                let c = usize::from(callee);
                if own[c] || fed_by[c].is_some() {
                    continue;
                }
                let add = curves[src].scaled(share * call_share);
                curves[c] = curves[c].plus(&add);
            }
        }
        let mut outage_below: Vec<f64> = svcs.iter().map(|s| s.outage_below.unwrap_or(spec.slo.outage_below)).collect();
        outage_below.extend(lbs.iter().map(|l| l.outage_below.unwrap_or(spec.slo.outage_below)));
        let mut called = vec![false; n];
        for c in calls.iter().flatten() {
            called[usize::from(c.0)] = true;
        }
        Topology { names, order, calls, curves, outage_below, backends, fed_by, route_shares, called }
    }

    /// The curve whose points shape `s`'s offered load: its own, or that of the balancer at the
    /// root of its chain.
    pub fn source(&self, s: usize) -> usize {
        let mut at = s;
        while let Some(up) = self.fed_by[at] {
            at = usize::from(up);
        }
        at
    }

    /// `s` and the balancers above it, nearest first.
    pub fn chain(&self, s: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(Some(s), move |&x| self.fed_by[x].map(usize::from))
    }

    /// The product of the shares down `s`'s chain (1 for a service with its own curve), given
    /// each service's share of its own balancer's traffic.
    pub fn chain_share(&self, s: usize, share: impl Fn(usize) -> f64) -> f64 {
        self.chain(s).filter(|&x| self.fed_by[x].is_some()).map(share).product()
    }

    /// Offered requests/s of `s` at a fractional millisecond, given the product of the shares
    /// down its chain ([`Topology::chain_share`]; ignored for services with a curve of their own).
    pub fn offered_f(&self, s: usize, t: f64, chain_share: f64) -> f64 {
        match self.fed_by[s] {
            Some(_) => self.curves[self.source(s)].at_f(t) * chain_share,
            None => self.curves[s].at_f(t),
        }
    }

    /// One service's ratio, from its serving and failing capacity and the ratios of what it
    /// depends on; `shares` are each service's share of its own balancer's traffic.
    pub fn ratio(
        &self,
        s: usize,
        capacity: f64,
        dead: f64,
        offered: f64,
        shares: impl Fn(usize) -> f64,
        ratios: &[f64],
    ) -> f64 {
        if self.backends[s].is_empty() {
            ratio_of(capacity, dead, offered, &self.calls[s], ratios)
        } else {
            self.backends[s].iter().map(|&b| shares(usize::from(b)) * ratios[usize::from(b)]).sum::<f64>().min(1.0)
        }
    }

    /// Number of services.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there are no services.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every service's ratio at `t`, given each service's serving and failing capacity (rps)
    /// and share of its load balancer's traffic then.
    pub fn ratios(
        &self,
        t: SimTime,
        capacity: impl Fn(ServiceId) -> (f64, f64),
        share: impl Fn(usize) -> f64,
        out: &mut Vec<f64>,
    ) {
        out.clear();
        out.resize(self.len(), 0.0);
        for &s in &self.order {
            let i = usize::from(s);
            let offered = self.offered_f(i, t.0 as f64, self.chain_share(i, &share));
            let (cap, dead) = capacity(s);
            out[i] = self.ratio(i, cap, dead, offered, &share, out);
        }
    }
}

/// One service's served share of offered requests, from its serving and failing capacity and
/// offered load (all requests/s) and the ratios already computed for the services it calls. The
/// formula of the module docs; the monitoring and the scorer both use it.
pub fn ratio_of(capacity: f64, dead: f64, offered: f64, calls: &[(ServiceId, f64)], ratios: &[f64]) -> f64 {
    let routed = capacity + dead.max(0.0);
    let own = if capacity <= 0.0 {
        0.0
    } else if offered <= 0.0 {
        capacity / routed
    } else {
        capacity / routed * (routed / offered).min(1.0)
    };
    own * calls.iter().map(|&(d, share)| 1.0 - share * (1.0 - ratios[usize::from(d)])).product::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_is_linear_between_points_and_flat_outside() {
        let c = Curve::new(vec![(SimTime(1000), 10.0), (SimTime(3000), 30.0)]);
        assert_eq!(c.at(SimTime(0)), 10.0);
        assert_eq!(c.at(SimTime(2000)), 20.0);
        assert_eq!(c.at(SimTime(9000)), 30.0);
        assert_eq!(c.at_f(1500.0), 15.0);
    }

    #[test]
    fn crossings_are_found_to_the_millisecond() {
        let c = Curve::new(vec![(SimTime(0), 0.0), (SimTime(10_000), 100.0), (SimTime(20_000), 0.0)]);
        // Rising through 50 at t = 5000: the first millisecond strictly above is 5001.
        assert_eq!(c.next_crossing(SimTime(0), 50.0, false), Some(SimTime(5001)));
        // Falling back to 50 at t = 15000 (no longer above from there).
        assert_eq!(c.next_crossing(SimTime(6000), 50.0, true), Some(SimTime(15_000)));
        // Never reaching 150; flat after the last point.
        assert_eq!(c.next_crossing(SimTime(0), 150.0, false), None);
        assert_eq!(c.next_crossing(SimTime(20_000), 10.0, false), None);
    }
}
