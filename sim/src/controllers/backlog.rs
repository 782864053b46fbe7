//! The arithmetic of a service's backlog: a fluid queue whose wait grows while the offered load
//! is over the serving capacity and drains after, exactly, piece by piece.
//!
//! Requests are shared over the endpoints in proportion to their capacity, so every serving pod
//! of a service has the same utilization `rho(t) = offered(t) / capacity` and, measured in
//! seconds of work, the same backlog `W`: `dW/dt = rho - 1` while `W > 0` or `rho > 1`, and `W`
//! stays at 0 otherwise (a queue reflected at empty). Between two changes of capacity and two
//! points of the traffic curve, `rho` is linear in time, `rho(x) = 1 + c + k x` (`x` seconds
//! into the segment), so `W` is made of at most three quadratic pieces: draining (or growing)
//! from `W0`, empty, growing again once `rho` passes 1. Their values and their crossings of a
//! probe's timeout are found by solving quadratics: no sampling, no step size.

/// `W(x) = a0 + a1 (x - x0) + a2 (x - x0)^2` for `x` in `[x0, x1]` (seconds into a segment).
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct Piece {
    x0: f64,
    x1: f64,
    a0: f64,
    a1: f64,
    a2: f64,
}

impl Piece {
    fn at(&self, x: f64) -> f64 {
        let y = x - self.x0;
        (self.a0 + self.a1 * y + self.a2 * y * y).max(0.0)
    }
}

/// The roots of `a0 + a1 y + a2 y^2 = 0` in `(lo, hi]`, ascending.
fn roots_in(a0: f64, a1: f64, a2: f64, lo: f64, hi: f64) -> Vec<f64> {
    let mut roots: Vec<f64> = Vec::with_capacity(2);
    if a2.abs() < 1e-15 {
        if a1.abs() > 1e-15 {
            roots.push(-a0 / a1);
        }
    } else {
        let d = a1 * a1 - 4.0 * a2 * a0;
        if d >= 0.0 {
            // The numerically stable pair (no cancellation between a1 and the root of d).
            let q = -0.5 * (a1 + if a1 >= 0.0 { d.sqrt() } else { -d.sqrt() });
            if q != 0.0 {
                roots.push(q / a2);
                roots.push(a0 / q);
            } else {
                roots.push(0.0);
            }
        }
    }
    roots.retain(|&r| r > lo && r <= hi);
    roots.sort_by(f64::total_cmp);
    roots
}

/// The smallest root of `a0 + a1 y + a2 y^2 = 0` in `(lo, hi]`, if any.
fn first_root(a0: f64, a1: f64, a2: f64, lo: f64, hi: f64) -> Option<f64> {
    roots_in(a0, a1, a2, lo, hi).first().copied()
}

/// The pieces of `W` over a segment of `len` seconds starting at `w0`, where `rho - 1 = c + k x`.
pub(crate) fn pieces(w0: f64, c: f64, k: f64, len: f64) -> Vec<Piece> {
    let mut out = Vec::with_capacity(3);
    let w0 = w0.max(0.0);
    // Where W0 + c x + k/2 x^2 first reaches 0 going down (0 if the queue is empty and not filling).
    let filling_now = c > 0.0 || (c == 0.0 && k > 0.0);
    let hit = if w0 <= 0.0 { if filling_now { None } else { Some(0.0) } } else { first_root(w0, c, k / 2.0, 0.0, len) };
    match hit {
        None => {
            out.push(Piece { x0: 0.0, x1: len, a0: w0, a1: c, a2: k / 2.0 });
            return out;
        }
        Some(h) => {
            if h > 0.0 {
                out.push(Piece { x0: 0.0, x1: h, a0: w0, a1: c, a2: k / 2.0 });
            }
            // Empty while rho <= 1; growing again from where rho passes 1 (only if it rises).
            let v = if k > 0.0 { (-c / k).max(h) } else { f64::INFINITY };
            if v >= len {
                out.push(Piece { x0: h, x1: len, a0: 0.0, a1: 0.0, a2: 0.0 });
            } else {
                if v > h {
                    out.push(Piece { x0: h, x1: v, a0: 0.0, a1: 0.0, a2: 0.0 });
                }
                // From v, dW/dx = c + k x = k (x - v) (rho passes 1 at v, or is already over it).
                let a1 = c + k * v;
                out.push(Piece { x0: v, x1: len, a0: 0.0, a1: a1.max(0.0), a2: k / 2.0 });
            }
        }
    }
    out
}

/// `W` at the end of the segment.
pub(crate) fn advance(w0: f64, c: f64, k: f64, len: f64) -> f64 {
    pieces(w0, c, k, len).last().map_or(w0, |p| p.at(len))
}

/// The first `x` in `(0, len]` where `W(x) > level` stops being `above`, if any (a root where
/// `W` only touches the level is not a crossing).
pub(crate) fn crossing(w0: f64, c: f64, k: f64, len: f64, level: f64, above: bool) -> Option<f64> {
    for p in pieces(w0, c, k, len) {
        let span = p.x1 - p.x0;
        for y in roots_in(p.a0 - level, p.a1, p.a2, 1e-9, span) {
            // The side just past the root (a quadratic has no other root that close).
            let past = p.at(p.x0 + y + 1e-6 * (1.0 + y));
            if (past > level) != above {
                return Some(p.x0 + y);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A brute-force integration of the reflected queue, to check the closed forms against.
    fn simulate(w0: f64, c: f64, k: f64, len: f64) -> Vec<f64> {
        let dx = 1e-4;
        let mut w = w0;
        let mut out = vec![w];
        let n = (len / dx).round() as usize;
        for i in 0..n {
            let x = (i as f64 + 0.5) * dx;
            w = (w + (c + k * x) * dx).max(0.0);
            out.push(w);
        }
        out
    }

    #[test]
    fn closed_forms_match_a_fine_integration() {
        for &(w0, c, k) in &[
            (0.0, 0.1, 0.0),   // overloaded by 10 %: grows 0.1 s per s
            (6.0, -0.5, 0.0),  // drains at half the capacity's speed
            (2.0, -0.5, 0.02), // drains, empties, then the load climbs past capacity
            (0.0, -0.3, 0.01), // empty until rho reaches 1 at 30 s
            (5.0, 0.2, -0.01), // grows, then the load falls and it drains
            (0.0, 0.0, 0.0),   // at capacity exactly: stays empty
        ] {
            let len = 60.0;
            let fine = simulate(w0, c, k, len);
            for (i, x) in [0.0, 7.5, 20.0, 33.3, 59.9].iter().enumerate() {
                let ps = pieces(w0, c, k, len);
                let exact = ps.iter().find(|p| *x >= p.x0 && *x <= p.x1).unwrap().at(*x);
                let approx = fine[(x / 1e-4).round() as usize];
                assert!((exact - approx).abs() < 1e-3, "case {w0} {c} {k}, point {i}: {exact} vs {approx}");
            }
            assert!((advance(w0, c, k, len) - fine.last().unwrap()).abs() < 1e-3);
        }
    }

    #[test]
    fn a_ten_percent_spike_crosses_a_timeout_when_the_arithmetic_says() {
        // 10 % over capacity: the wait passes 5 s after 50 s, 1 s after 10 s.
        assert!((crossing(0.0, 0.1, 0.0, 60.0, 5.0, false).unwrap() - 50.0).abs() < 1e-9);
        assert!((crossing(0.0, 0.1, 0.0, 60.0, 1.0, false).unwrap() - 10.0).abs() < 1e-9);
        // Then at half load it drains 0.5 s per s: from 6 s it is below 5 s after 2 s.
        assert!((crossing(6.0, -0.5, 0.0, 60.0, 5.0, true).unwrap() - 2.0).abs() < 1e-9);
        // Below capacity nothing ever crosses.
        assert_eq!(crossing(0.0, -0.1, 0.0, 3600.0, 1.0, false), None);
        // Empty, then rho climbs past 1 at 30 s: W = k/2 (x - 30)^2 reaches 2 at x = 50.
        assert!((crossing(0.0, -0.3, 0.01, 60.0, 2.0, false).unwrap() - 50.0).abs() < 1e-6);
    }
}
