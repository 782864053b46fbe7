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
    /// Probes that time out in a queue below saturation (`controllers/waits.rs`).
    pub waits: ChaCha8Rng,
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
const WAITS: u64 = 10;
/// A fault draws its targets from stream `FAULT_TARGETS ^ key`, its key from its own content
/// ([`fault_keys`]): a fault's draw does not depend on the other faults.
const FAULT_TARGETS: u64 = 0x7461_7267_0000_0000;

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
            waits: stream(seed, WAITS),
        }
    }

    /// The stream the fault of key `key` ([`fault_keys`]) draws its targets from (`pick` of a
    /// `pool` or `nodeOf`).
    pub fn fault_target(&self, key: u64) -> ChaCha8Rng {
        stream(self.seed, FAULT_TARGETS ^ key)
    }
}

/// The base of the streams distributions are drawn from (`Scenario::realize`).
pub const DRAWS: u64 = 0x6472_6177_0000_0000;

/// A stable 64-bit key of a text (FNV-1a): the same on every machine and run.
pub fn text_key(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A key per fault from its content, and for identical faults their rank among them: a fault's
/// streams (its draws, its targets) depend on nothing but itself, so removing, adding or moving
/// other faults (as the schedule shrinker does) leaves them alone.
pub fn fault_keys(faults: &[crate::spec::FaultSpec]) -> Vec<u64> {
    let mut seen: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
    faults
        .iter()
        .map(|f| {
            let k = text_key(&format!("{f:?}"));
            let n = seen.entry(k).or_insert(0);
            *n += 1;
            k ^ (*n - 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        })
        .collect()
}

/// A stream of its own for a purpose outside the model's subsystems (a policy's draws), keyed
/// by the seed and a fixed number the caller owns.
pub fn keyed_stream(seed: u64, id: u64) -> ChaCha8Rng {
    stream(seed, id)
}

/// An exponential draw of rate `rate` per second, in seconds.
pub fn exponential_s(rng: &mut ChaCha8Rng, rate: f64) -> f64 {
    // 1 - u is in (0, 1]: its logarithm is finite.
    -libm::log(1.0 - rng.random::<f64>()) / rate
}

/// A uniform draw in `[0, 1)`.
pub fn unit(rng: &mut ChaCha8Rng) -> f64 {
    rng.random::<f64>()
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
