//! Expectations: the one-line checks a suite, a sweep and a search judge runs by
//! (`web availability >= 99.9%`, `web downtime <= 15m`, `no failed actions`, ...).

use std::fmt;

use capsize_reports::human_duration;
use capsize_sim::RunResult;
use capsize_sim::spec::Scenario;
use capsize_sim::time::SimDuration;

/// A comparison.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            ">=" => Op::Ge,
            ">" => Op::Gt,
            "<=" => Op::Le,
            "<" => Op::Lt,
            "==" => Op::Eq,
            _ => return None,
        })
    }

    /// Whether `a OP b`, with measured values within 1e-9 of `b` counted as equal to it (the
    /// scorer's floating point must not turn a tie into a failure, for any operator alike).
    pub fn holds(self, a: f64, b: f64) -> bool {
        const EPS: f64 = 1e-9;
        let tie = (a - b).abs() <= EPS;
        match self {
            Op::Ge => a >= b || tie,
            Op::Gt => a > b && !tie,
            Op::Le => a <= b || tie,
            Op::Lt => a < b && !tie,
            Op::Eq => tie,
        }
    }
}

/// An expectation, parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum Expectation {
    /// `SERVICE availability OP RATIO`.
    Availability(String, Op, f64),
    /// `SERVICE downtime OP DURATION` (seconds).
    Downtime(String, Op, f64),
    /// `SERVICE outages OP N`.
    Outages(String, Op, f64),
    /// `spend OP NUMBER`.
    Spend(Op, f64),
    /// `no leaderless period`.
    NoLeaderless,
    /// `actions OP N` (the policy's own actions).
    Actions(Op, f64),
    /// `no failed actions`.
    NoFailedActions,
    /// `node NODE NotReady|DiskPressure OP DURATION` (seconds, summed over the run).
    NodeCondition(String, String, Op, f64),
}

/// Why an expectation line does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const GRAMMAR: &str = "expected `SERVICE availability|downtime|outages OP VALUE`, `spend OP NUMBER`, `actions OP N`, \
                       `node NODE NotReady|DiskPressure OP DURATION`, `no leaderless period` or `no failed actions` \
                       (OP: >=, >, <=, <, ==)";

impl Expectation {
    /// Reads one expectation line, or says what was expected.
    pub fn parse(line: &str) -> Result<Expectation, ParseError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let bad = || ParseError(format!("`{line}`: {GRAMMAR}"));
        let op = |w: &str| {
            Op::parse(w).ok_or_else(|| ParseError(format!("`{line}`: `{w}` is not a comparison (>=, >, <=, <, ==)")))
        };
        let number = |w: &str| -> Result<f64, ParseError> {
            // `99.9%` is read as `99.9e-2`, which is exactly the decimal 0.999 (dividing by 100 is not).
            let text = match w.strip_suffix('%') {
                Some(p) if !p.contains(['e', 'E']) => format!("{p}e-2"),
                Some(_) => return Err(ParseError(format!("`{line}`: `{w}` is not a number"))),
                None => w.to_string(),
            };
            let x: f64 = text.parse().map_err(|_| ParseError(format!("`{line}`: `{w}` is not a number")))?;
            if !x.is_finite() {
                return Err(ParseError(format!("`{line}`: `{w}` is not a number")));
            }
            Ok(x)
        };
        let duration = |w: &str| -> Result<f64, ParseError> {
            SimDuration::parse(w).map(|d| d.secs_f64()).map_err(|e| ParseError(format!("`{line}`: {e}")))
        };
        match words.as_slice() {
            ["no", "leaderless", "period"] => Ok(Expectation::NoLeaderless),
            ["no", "failed", "actions"] => Ok(Expectation::NoFailedActions),
            ["spend", o, v] => Ok(Expectation::Spend(op(o)?, number(v)?)),
            ["actions", o, v] => Ok(Expectation::Actions(op(o)?, number(v)?)),
            ["node", n, c @ ("NotReady" | "DiskPressure"), o, v] => {
                Ok(Expectation::NodeCondition(n.to_string(), c.to_string(), op(o)?, duration(v)?))
            }
            [s, "availability", o, v] => {
                let x = number(v)?;
                if !(0.0..=1.0).contains(&x) {
                    return Err(ParseError(format!("`{line}`: an availability is between 0 and 1 (or 0% and 100%)")));
                }
                Ok(Expectation::Availability(s.to_string(), op(o)?, x))
            }
            [s, "downtime", o, v] => Ok(Expectation::Downtime(s.to_string(), op(o)?, duration(v)?)),
            [s, "outages", o, v] => Ok(Expectation::Outages(s.to_string(), op(o)?, number(v)?)),
            _ => Err(bad()),
        }
    }

    /// Whether `x` holds in `r`, and what was measured.
    pub fn judge(&self, r: &RunResult) -> (bool, String) {
        let service = |name: &str| r.services.iter().find(|s| s.name == name).expect("checked at load");
        match self {
            Expectation::Availability(s, op, v) => {
                let a = service(s).availability;
                (op.holds(a, *v), format!("{a:.5}"))
            }
            Expectation::Downtime(s, op, v) => {
                let d = service(s).downtime_s;
                (op.holds(d, *v), human_duration(d))
            }
            Expectation::Outages(s, op, v) => {
                let n = service(s).outages.len() as f64;
                (op.holds(n, *v), format!("{n}"))
            }
            Expectation::Spend(op, v) => (op.holds(r.cost.spend, *v), format!("{:.2}", r.cost.spend)),
            Expectation::NoLeaderless => {
                (r.leaderless.is_empty(), format!("{} leaderless periods", r.leaderless.len()))
            }
            Expectation::Actions(op, v) => {
                let n = r.actions.iter().filter(|a| a.by_policy).count();
                (op.holds(n as f64, *v), capsize_reports::count(n, "action", "actions"))
            }
            Expectation::NoFailedActions => {
                let failed: Vec<&str> =
                    r.actions.iter().filter(|a| a.by_policy && !a.ok).map(|a| a.action.as_str()).collect();
                (
                    failed.is_empty(),
                    if failed.is_empty() { "none failed".into() } else { format!("failed: {}", failed.join("; ")) },
                )
            }
            Expectation::NodeCondition(n, c, op, v) => {
                let total: f64 = r
                    .node_conditions
                    .iter()
                    .filter(|x| x.node == *n && x.condition == *c)
                    .map(|x| x.period.duration_s)
                    .fold(0.0, |a, b| a + b);
                (op.holds(total, *v), human_duration(total))
            }
        }
    }

    /// The expectation if every service and node it names exists in `scenario` (the one the
    /// run has: with its policy's patch merged in), else what is wrong.
    pub fn names_what_exists(self, scenario: &Scenario) -> Result<Expectation, String> {
        let c = &scenario.spec.cluster;
        let services: Vec<&str> = c
            .services
            .iter()
            .map(|s| s.name.as_str())
            .chain(c.load_balancers.iter().map(|l| l.name.as_str()))
            .collect();
        match &self {
            Expectation::Availability(s, ..) | Expectation::Downtime(s, ..) | Expectation::Outages(s, ..)
                if !services.contains(&s.as_str()) =>
            {
                Err(format!("`{s}` is not a service of the scenario (it has: {})", services.join(", ")))
            }
            Expectation::NodeCondition(n, ..)
                if !c.nodes.iter().any(|p| (1..=p.count).any(|k| format!("{}-{k}", p.pool) == *n)) =>
            {
                Err(format!("`{n}` is not a node of the scenario"))
            }
            _ => Ok(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_parse_or_say_what_was_expected() {
        assert_eq!(
            Expectation::parse("i-web availability >= 99.9%"),
            Ok(Expectation::Availability("i-web".into(), Op::Ge, 0.999))
        );
        assert_eq!(
            Expectation::parse("i-web downtime <= 15m"),
            Ok(Expectation::Downtime("i-web".into(), Op::Le, 900.0))
        );
        assert_eq!(Expectation::parse("no leaderless period"), Ok(Expectation::NoLeaderless));
        assert_eq!(Expectation::parse("spend <= 120"), Ok(Expectation::Spend(Op::Le, 120.0)));
        assert_eq!(
            Expectation::parse("node worker-2 NotReady < 6m"),
            Ok(Expectation::NodeCondition("worker-2".into(), "NotReady".into(), Op::Lt, 360.0))
        );
        assert!(Expectation::parse("i-web availability => 0.9").unwrap_err().0.contains("not a comparison"));
        assert!(Expectation::parse("i-web availability >= 2").unwrap_err().0.contains("between 0 and 1"));
        assert!(Expectation::parse("i-web uptime >= 0.9").unwrap_err().0.contains("expected"));
        assert!(Expectation::parse("i-web downtime <= soon").is_err());
    }

    #[test]
    fn comparisons_hold_as_written() {
        assert!(Op::Ge.holds(1.0, 1.0) && !Op::Gt.holds(1.0, 1.0));
        assert!(Op::Le.holds(1.0, 1.0) && !Op::Lt.holds(1.0, 1.0) && Op::Eq.holds(0.3, 0.1 + 0.2));
    }
}
