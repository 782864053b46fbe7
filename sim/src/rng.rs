//! Random streams, one per subsystem.
//!
//! Each subsystem draws from its own `ChaCha8Rng` keyed by the scenario seed and a fixed stream
//! number, so adding a draw in the kubelet never changes what the scheduler draws. ChaCha8 is
//! value-stable across platforms and rand versions of the same major, which the determinism
//! invariant needs.

use rand::{RngExt, SeedableRng};
pub use rand_chacha::ChaCha8Rng;

/// The model's random streams.
#[derive(Clone, Debug)]
pub struct Streams {
    /// The seed they were made from (for the per-fault streams of [`Streams::fault_target`]).
    pub seed: u64,
    /// Tie-breaking among equally scored nodes (kube-scheduler picks uniformly among the best).
    pub scheduler: ChaCha8Rng,
    /// Container start latency and the phase of probe timers.
    pub kubelet: ChaCha8Rng,
    /// Which pods a fault with a `count` hits.
    pub faults: ChaCha8Rng,
    /// The random suffix of generated pod names.
    pub names: ChaCha8Rng,
    /// The phases of Prometheus' scrape and rule-evaluation timers.
    pub monitoring: ChaCha8Rng,
    /// Cloud operation durations (boot, join, reimage).
    pub cloud: ChaCha8Rng,
    /// Load balancer health-check phases, swarm heartbeats and swarm placement ties.
    pub network: ChaCha8Rng,
    /// Raft election timeouts, manager joins, classic swarm failure detection and placement ties.
    pub swarm: ChaCha8Rng,
    /// Kubernetes node agents: the phase of a kubelet's Lease and status timers.
    pub lifecycle: ChaCha8Rng,
}

/// Fixed stream numbers. Never renumber: that would change every seeded result.
const SCHEDULER: u64 = 1;
const KUBELET: u64 = 2;
const FAULTS: u64 = 3;
const NAMES: u64 = 4;
const MONITORING: u64 = 5;
const CLOUD: u64 = 6;
const NETWORK: u64 = 7;
const SWARM: u64 = 8;
const LIFECYCLE: u64 = 9;
/// Fault `i` draws its targets from stream `FAULT_TARGETS + i`: a fault's draw does not depend
/// on the other faults, so removing one (as the schedule shrinker does) leaves the others' alone.
const FAULT_TARGETS: u64 = 1 << 32;

fn stream(seed: u64, id: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}

impl Streams {
    /// The streams for a scenario seed.
    pub fn new(seed: u64) -> Streams {
        Streams {
            seed,
            scheduler: stream(seed, SCHEDULER),
            kubelet: stream(seed, KUBELET),
            faults: stream(seed, FAULTS),
            names: stream(seed, NAMES),
            monitoring: stream(seed, MONITORING),
            cloud: stream(seed, CLOUD),
            network: stream(seed, NETWORK),
            swarm: stream(seed, SWARM),
            lifecycle: stream(seed, LIFECYCLE),
        }
    }

    /// The stream fault number `i` draws its targets from (`pick` of a `pool` or `nodeOf`).
    pub fn fault_target(&self, i: usize) -> ChaCha8Rng {
        stream(self.seed, FAULT_TARGETS + i as u64)
    }
}

/// A stream of its own for a purpose outside the model's subsystems (a policy's draws), keyed
/// by the seed and a fixed number the caller owns.
pub fn keyed_stream(seed: u64, id: u64) -> ChaCha8Rng {
    stream(seed, id)
}

/// A uniform draw in `[lo, hi]` milliseconds (`lo` when the range is empty).
pub fn uniform_ms(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    if hi <= lo { lo } else { rng.random_range(lo..=hi) }
}

/// A uniform index below `n` (`n` > 0).
pub fn index(rng: &mut ChaCha8Rng, n: usize) -> usize {
    rng.random_range(0..n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let mut a = Streams::new(7);
        let mut b = Streams::new(7);
        assert_eq!(a.kubelet.next_u64(), b.kubelet.next_u64());
        // Drawing from one stream does not move another.
        let _ = a.scheduler.next_u64();
        assert_eq!(a.faults.next_u64(), b.faults.next_u64());
        assert_ne!(Streams::new(8).kubelet.next_u64(), Streams::new(7).kubelet.next_u64());
    }
}
