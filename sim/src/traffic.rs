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
//! caller loses exactly the share of its requests that need a failing dependency. The curve of a
//! called service is its total load (callers' requests included); calls do not add load.
//! Dependencies form a DAG (validated), evaluated in topological order.

use crate::ids::ServiceId;
use crate::spec::Scenario;
use crate::time::SimTime;

/// A piecewise-linear curve of requests per second over time.
#[derive(Clone, Debug, Default)]
pub struct Curve {
    /// `(time, rps)` in strictly increasing time; empty means zero.
    pub points: Vec<(SimTime, f64)>,
}

impl Curve {
    /// The value at `t`: linear between points, flat outside them.
    pub fn at(&self, t: SimTime) -> f64 {
        self.at_f(t.0 as f64)
    }

    /// The value at a fractional millisecond (for quadrature).
    pub fn at_f(&self, t: f64) -> f64 {
        let p = &self.points;
        match p.len() {
            0 => 0.0,
            _ if t <= p[0].0.0 as f64 => p[0].1,
            _ if t >= p[p.len() - 1].0.0 as f64 => p[p.len() - 1].1,
            _ => {
                let i = p.partition_point(|(pt, _)| (pt.0 as f64) <= t);
                let (t0, v0) = p[i - 1];
                let (t1, v1) = p[i];
                v0 + (v1 - v0) * ((t - t0.0 as f64) / (t1.0 - t0.0) as f64)
            }
        }
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
}

impl Topology {
    /// Builds the graph of a validated scenario.
    pub fn new(s: &Scenario) -> Topology {
        let spec = &s.spec;
        let svcs = &spec.cluster.services;
        let id = |name: &str| -> ServiceId {
            ServiceId::from(svcs.iter().position(|x| x.name == name).expect("validated reference"))
        };
        let calls: Vec<Vec<(ServiceId, f64)>> =
            svcs.iter().map(|s| s.calls.iter().map(|c| (id(&c.service), c.share)).collect()).collect();
        let mut curves = vec![Curve::default(); svcs.len()];
        for t in &spec.traffic {
            curves[usize::from(id(&t.service))] =
                Curve { points: t.rps.iter().map(|(at, v)| (at.resolve(&spec.start), *v)).collect() };
        }
        // Topological order by depth-first post-order (callees first); validated acyclic.
        let mut order = Vec::with_capacity(svcs.len());
        let mut done = vec![false; svcs.len()];
        fn visit(i: usize, calls: &[Vec<(ServiceId, f64)>], done: &mut [bool], order: &mut Vec<ServiceId>) {
            if done[i] {
                return;
            }
            done[i] = true;
            for (c, _) in &calls[i] {
                visit(usize::from(*c), calls, done, order);
            }
            order.push(ServiceId::from(i));
        }
        for i in 0..svcs.len() {
            visit(i, &calls, &mut done, &mut order);
        }
        Topology {
            names: svcs.iter().map(|s| s.name.clone()).collect(),
            order,
            calls,
            curves,
            outage_below: svcs.iter().map(|s| s.outage_below.unwrap_or(spec.slo.outage_below)).collect(),
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

    /// Every service's ratio at `t`, given each service's serving capacity (rps) then.
    pub fn ratios(&self, t: SimTime, capacity: impl Fn(ServiceId) -> f64, out: &mut Vec<f64>) {
        out.clear();
        out.resize(self.len(), 0.0);
        for &s in &self.order {
            let i = usize::from(s);
            out[i] = ratio_of(capacity(s), self.curves[i].at(t), &self.calls[i], out);
        }
    }
}

/// One service's served share of offered requests, from its serving capacity and offered load
/// (both requests/s) and the ratios already computed for the services it calls. The formula of
/// the module docs; the monitoring and the scorer both use it.
pub fn ratio_of(capacity: f64, offered: f64, calls: &[(ServiceId, f64)], ratios: &[f64]) -> f64 {
    let own = if capacity <= 0.0 {
        0.0
    } else if offered <= 0.0 {
        1.0
    } else {
        (capacity / offered).min(1.0)
    };
    own * calls.iter().map(|&(d, share)| 1.0 - share * (1.0 - ratios[usize::from(d)])).product::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_is_linear_between_points_and_flat_outside() {
        let c = Curve { points: vec![(SimTime(1000), 10.0), (SimTime(3000), 30.0)] };
        assert_eq!(c.at(SimTime(0)), 10.0);
        assert_eq!(c.at(SimTime(2000)), 20.0);
        assert_eq!(c.at(SimTime(9000)), 30.0);
        assert_eq!(c.at_f(1500.0), 15.0);
    }
}
