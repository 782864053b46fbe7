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

/// At most `N` values, kept in place: what the queue arithmetic returns (two roots, three
/// pieces) runs hundreds of thousands of times a day, and a `Vec` would allocate each time.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Few<T: Copy, const N: usize> {
    items: [Option<T>; N],
    len: usize,
}

impl<T: Copy, const N: usize> Few<T, N> {
    fn new() -> Self {
        Few { items: [None; N], len: 0 }
    }

    fn push(&mut self, x: T) {
        self.items[self.len] = Some(x);
        self.len += 1;
    }

    /// Keeps the values `keep` accepts, in order.
    fn retain(&mut self, keep: impl Fn(&T) -> bool) {
        let mut out = Few::new();
        for x in self.iter() {
            if keep(&x) {
                out.push(x);
            }
        }
        *self = out;
    }

    /// The values, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.items[..self.len].iter().map(|x| x.expect("set below len"))
    }

    /// The last value.
    pub(crate) fn last(&self) -> Option<T> {
        self.len.checked_sub(1).and_then(|i| self.items[i])
    }
}

/// The roots of `a0 + a1 y + a2 y^2 = 0` in `(lo, hi]`, ascending.
fn roots_in(a0: f64, a1: f64, a2: f64, lo: f64, hi: f64) -> Few<f64, 2> {
    let mut roots = Few::new();
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
    if let (2, Some(a), Some(b)) = (roots.len, roots.items[0], roots.items[1])
        && b.total_cmp(&a).is_lt()
    {
        roots.items = [Some(b), Some(a)];
    }
    roots
}

/// The smallest root of `a0 + a1 y + a2 y^2 = 0` in `(lo, hi]`, if any.
fn first_root(a0: f64, a1: f64, a2: f64, lo: f64, hi: f64) -> Option<f64> {
    roots_in(a0, a1, a2, lo, hi).iter().next()
}

/// The pieces of `W` over a segment of `len` seconds starting at `w0`, where `rho - 1 = c + k x`.
pub(crate) fn pieces(w0: f64, c: f64, k: f64, len: f64) -> Few<Piece, 3> {
    let mut out = Few::new();
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
    if c >= 0.0 && c + k * len >= 0.0 {
        // Never under capacity on the way: no reflection, the free integral.
        return w0.max(0.0) + c * len + 0.5 * k * len * len;
    }
    pieces(w0, c, k, len).last().map_or(w0, |p| p.at(len))
}

/// The first `x` in `(0, len]` where `W(x) > level` stops being `above`, if any (a root where
/// `W` only touches the level is not a crossing).
pub(crate) fn crossing(w0: f64, c: f64, k: f64, len: f64, level: f64, above: bool) -> Option<f64> {
    // Fast paths: over capacity the whole segment `W` only grows, under it only shrinks.
    let (rising, falling) = (c >= 0.0 && c + k * len >= 0.0, c <= 0.0 && c + k * len <= 0.0);
    if (rising && above) || (falling && !above) {
        return None;
    }
    if rising && advance(w0, c, k, len) <= level {
        return None;
    }
    if falling && w0 + c * len + 0.5 * k * len * len > level {
        return None;
    }
    for p in pieces(w0, c, k, len).iter() {
        let span = p.x1 - p.x0;
        for y in roots_in(p.a0 - level, p.a1, p.a2, 1e-9, span).iter() {
            // The side just past the root (a quadratic has no other root that close).
            let past = p.at(p.x0 + y + 1e-6 * (1.0 + y));
            if (past > level) != above {
                return Some(p.x0 + y);
            }
        }
    }
    None
}

/// The free integral of `rho - 1` over a segment (`G` grows by it) and its lowest point on the
/// way, relative to the start: `(G(len) - G(0), min G - G(0))`.
pub(crate) fn integral_min(c: f64, k: f64, len: f64) -> (f64, f64) {
    let g = |x: f64| c * x + 0.5 * k * x * x;
    let end = g(len);
    let mut low = end.min(0.0);
    // A parabola opening upwards has its lowest point where rho passes 1.
    if k > 0.0 {
        let v = -c / k;
        if v > 0.0 && v < len {
            low = low.min(g(v));
        }
    }
    (end, low)
}

/// A service's serving pods grouped by *floor*: with `G(t)` the free integral of `rho - 1`, a
/// pod's backlog is `W = G - floor` (the reflected queue of Skorokhod's formula, `floor` being
/// the lowest `G` since its queue was last empty, or `G - W` at the moment it joined). Pods that
/// share the load keep their floors until `G` falls below them, when their queues empty
/// together and they merge into one group: so a refresh costs the groups that merge, not the
/// pods, and the longest backlog is always the first group.
#[derive(Clone, Debug, Default)]
pub(crate) struct Floors {
    /// Ascending by floor: the first group has the longest backlog, the last the shortest.
    groups: Vec<Group>,
    /// The id the next new group gets (ids are never reused within a run).
    next_id: u32,
}

/// Pods with the same backlog.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    /// Stable name of the group, which its members keep (`Pod::queue_group`).
    pub id: u32,
    /// `G - W` for its members.
    pub floor: f64,
    /// Its pods, in the order they joined (merged groups are appended).
    pub members: Vec<crate::ids::PodId>,
    /// Bit `j`: the backlog was over the service's `j`-th timeout when last judged.
    pub over: u64,
}

impl Floors {
    /// The groups, longest backlog first.
    pub(crate) fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// Mutable access to judge them.
    pub(crate) fn groups_mut(&mut self) -> &mut [Group] {
        &mut self.groups
    }

    /// `G` has been as low as `low`: every group whose floor is at or above it emptied and
    /// they become one group with floor `low`, at the top. `relabel` is told of each pod that
    /// changes group (the pods of the smaller groups: small into large).
    pub(crate) fn lower_to(&mut self, low: f64, mut relabel: impl FnMut(crate::ids::PodId, u32)) {
        let first = self.groups.partition_point(|g| g.floor < low);
        if first == self.groups.len() {
            return;
        }
        if first + 1 == self.groups.len() {
            self.groups[first].floor = low;
            return;
        }
        // Keep the largest group; move the others' pods into it.
        let keep =
            (first..self.groups.len()).max_by_key(|&i| (self.groups[i].members.len(), usize::MAX - i)).unwrap_or(first);
        let mut merged = self.groups.swap_remove(keep);
        let rest: Vec<Group> = self.groups.drain(first..).collect();
        let mut over = merged.over;
        for g in rest {
            over |= g.over;
            for &p in &g.members {
                relabel(p, merged.id);
            }
            merged.members.extend(g.members);
        }
        merged.floor = low;
        merged.over = over;
        self.groups.push(merged);
    }

    /// Adds a pod with backlog `G - floor`; returns its group's id. A pod that joins with an
    /// empty queue at the lowest `G` joins the top group.
    pub(crate) fn insert(&mut self, floor: f64, pod: crate::ids::PodId, over: u64) -> u32 {
        let at = self.groups.partition_point(|g| g.floor < floor);
        if let Some(g) = self.groups.get_mut(at)
            && g.floor == floor
        {
            g.members.push(pod);
            return g.id;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.groups.insert(at, Group { id, floor, members: vec![pod], over });
        id
    }

    /// Takes a pod out of group `id`; returns its floor.
    pub(crate) fn remove(&mut self, id: u32, pod: crate::ids::PodId) -> Option<f64> {
        let gi = self.groups.iter().position(|g| g.id == id)?;
        let g = &mut self.groups[gi];
        let mi = g.members.iter().position(|&p| p == pod)?;
        g.members.swap_remove(mi);
        let floor = g.floor;
        if g.members.is_empty() {
            self.groups.remove(gi);
        }
        Some(floor)
    }

    /// The index of the first group whose floor is at or above `level`: groups before it have
    /// a backlog longer than `G - level`.
    pub(crate) fn split(&self, level: f64) -> usize {
        self.groups.partition_point(|g| g.floor < level)
    }
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

    #[test]
    fn the_integral_and_its_lowest_point() {
        // rho - 1 = -0.5 for 10 s: G falls by 5, lowest at the end.
        assert_eq!(integral_min(-0.5, 0.0, 10.0), (-5.0, -5.0));
        // rho - 1 = -1 + 0.1 x over 20 s: lowest at x = 10 (-5), back to 0 at 20.
        let (end, low) = integral_min(-1.0, 0.1, 20.0);
        assert!(end.abs() < 1e-12 && (low + 5.0).abs() < 1e-12);
    }

    #[test]
    fn floors_merge_when_the_queues_empty_together() {
        use crate::ids::PodId;
        let mut f = Floors::default();
        let a = f.insert(0.0, PodId::from(0usize), 0);
        let b = f.insert(2.0, PodId::from(1usize), 0);
        let c = f.insert(3.0, PodId::from(2usize), 0);
        assert_eq!(f.groups().len(), 3);
        // G went down to 1: the two groups at 2 and 3 emptied and merge; the one at 0 keeps
        // its backlog.
        let mut moved = Vec::new();
        f.lower_to(1.0, |p, g| moved.push((p, g)));
        assert_eq!(f.groups().len(), 2);
        assert_eq!(f.groups()[1].floor, 1.0);
        assert_eq!(f.groups()[1].members.len(), 2);
        assert_eq!(moved.len(), 1);
        assert!(b != c && moved[0].1 != a);
        // The longest backlog stays first; split finds who is over a level.
        assert_eq!(f.split(0.5), 1);
        assert_eq!(f.remove(a, PodId::from(0usize)), Some(0.0));
        assert_eq!(f.groups().len(), 1);
    }
}
