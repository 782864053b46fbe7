//! `capsize sweep`: many runs of one scenario with derived seeds, per policy, in parallel, and
//! the sharded form of it (`--shard I/N` writes a part, `capsize merge` joins the parts).
//!
//! Determinism: run `k` has the seed `splitmix64(seed + k)` whatever thread or shard runs it,
//! every policy sees the same seed in run `k` (so policies are compared on the same draws), and
//! the summary is computed from the rows in run order. Threads, shards and their timing change
//! nothing in the output.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use capsize_reports::sweep::{PolicyRows, ServiceRow, SweepRow, SweepRows};
use capsize_sim::RunOptions;
use capsize_sim::rng::text_key;

use crate::expect::Expectation;
use crate::load::{LoadError, PolicyRt, Prepared, SourceFile};

/// The most runs a sweep takes: a row per run and policy is kept in memory.
pub const MAX_RUNS: u64 = 10_000_000;

/// The seed of run `k` of a sweep with seed `seed`: `splitmix64(splitmix64(seed) + k)`. The
/// inner mix keeps sweeps of nearby seeds apart (with `seed + k` alone, seed 43's run 0 would be
/// seed 42's run 1); the outer one makes nearby runs' seeds unrelated.
pub fn derived_seed(seed: u64, k: u64) -> u64 {
    splitmix64(splitmix64(seed).wrapping_add(k))
}

/// The output of SplitMix64 (Steele, Lea and Flood 2014) from state `x`: one step of Java's
/// `SplittableRandom`, a bijection that scatters nearby inputs.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Which runs of the sweep this process takes: those with `k % count == index`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based.
    pub index: u64,
    /// How many shards the sweep is cut into.
    pub count: u64,
}

impl Shard {
    /// The whole sweep.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Reads `I/N` (0 <= I < N).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("`{s}`: expected I/N with 0 <= I < N, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse::<u64>().map_err(|_| bad())?, n.trim().parse::<u64>().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    fn runs(self, total: u64) -> impl Iterator<Item = u64> {
        (self.index..total).step_by(self.count as usize)
    }

    /// How many of `total` runs this shard takes.
    pub fn runs_in(self, total: u64) -> u64 {
        total.saturating_sub(self.index).div_ceil(self.count)
    }
}

/// A sweep to run.
pub struct Sweep<'a> {
    /// The scenario under each policy.
    pub prepared: &'a [Prepared],
    /// Expectations every run is judged by (text as written, parsed).
    pub expectations: &'a [(String, Expectation)],
    /// Runs in the whole sweep.
    pub runs: u64,
    /// The sweep's seed.
    pub seed: u64,
    /// Threads.
    pub jobs: usize,
    /// The part of the sweep to run.
    pub shard: Shard,
}

impl Sweep<'_> {
    /// Runs this shard's runs under every policy; `progress` is told each finished run.
    pub fn rows(&self, progress: &(dyn Fn() + Sync)) -> SweepRows {
        let first = &self.prepared[0].scenario;
        let services = capsize_sim::traffic::Topology::new(first).names;
        let mine: Vec<u64> = self.shard.runs(self.runs).collect();
        let next = AtomicU64::new(0);
        let done: Mutex<Vec<(u64, Vec<SweepRow>)>> = Mutex::new(Vec::with_capacity(mine.len()));
        let workers = self.jobs.max(1).min(mine.len().max(1));
        // A policy's runtime may hold a plug-in's pipes (not shareable between threads): each
        // worker gets its own unstarted copies, and each run a fresh clone of those.
        let targets: Vec<(&str, &capsize_sim::Scenario)> =
            self.prepared.iter().map(|p| (p.policy_name.as_str(), &p.scenario)).collect();
        // Policies whose patch leaves the scenario as it is (or changes it alike) share each
        // run's start: it is built once per run and group, and each policy runs from a copy.
        let as_json: Vec<serde_json::Value> =
            self.prepared.iter().map(|p| serde_json::to_value(&p.scenario).expect("a scenario serializes")).collect();
        let groups: Vec<usize> =
            (0..as_json.len()).map(|i| as_json.iter().position(|v| *v == as_json[i]).unwrap_or(i)).collect();
        let groups_r = &groups;
        let (targets_r, services_r, mine_r, next_r, done_r) = (&targets, &services, &mine, &next, &done);
        let expectations = self.expectations;
        let seed = self.seed;
        std::thread::scope(|s| {
            for _ in 0..workers {
                let templates: Vec<PolicyRt> = self.prepared.iter().map(|p| p.policy.clone()).collect();
                s.spawn(move || {
                    let mut local = Vec::new();
                    loop {
                        let i = next_r.fetch_add(1, Ordering::Relaxed) as usize;
                        let Some(&k) = mine_r.get(i) else { break };
                        local.push((k, one_run(seed, k, targets_r, groups_r, &templates, expectations, services_r)));
                        progress();
                    }
                    done_r.lock().expect("rows lock").extend(local);
                });
            }
        });
        let mut done = done.into_inner().expect("rows lock");
        done.sort_by_key(|(k, _)| *k);
        let mut policies: Vec<PolicyRows> = self
            .prepared
            .iter()
            .map(|p| PolicyRows { policy: p.policy_name.clone(), rows: Vec::with_capacity(done.len()) })
            .collect();
        for (_, rows) in done {
            for (p, row) in policies.iter_mut().zip(rows) {
                p.rows.push(row);
            }
        }
        SweepRows {
            scenario: first.metadata.name.clone(),
            seed: self.seed,
            runs: self.runs,
            outage_below: first.spec.slo.outage_below,
            services,
            expectations: self.expectations.iter().map(|(t, _)| t.clone()).collect(),
            policies,
        }
    }

    /// A digest of everything that decides the rows (scenario under each policy, expectations,
    /// seed, runs, capsize's version): parts of different sweeps are never merged.
    pub fn digest(&self) -> String {
        let mut text = format!("capsize {} runs {} seed {}\n", env!("CARGO_PKG_VERSION"), self.runs, self.seed);
        for p in self.prepared {
            text.push_str(&p.policy_name);
            text.push_str(&serde_json::to_string(&p.scenario).expect("a scenario serializes"));
            text.push_str(&format!("{:?}", p.policy));
        }
        for (t, _) in self.expectations {
            text.push_str(t);
            text.push('\n');
        }
        format!("{:016x}", text_key(&text))
    }
}

/// Run `k` under every policy, reduced to rows.
fn one_run(
    sweep_seed: u64,
    k: u64,
    targets: &[(&str, &capsize_sim::Scenario)],
    groups: &[usize],
    templates: &[PolicyRt],
    expectations: &[(String, Expectation)],
    services: &[String],
) -> Vec<SweepRow> {
    let seed = derived_seed(sweep_seed, k);
    let opts = RunOptions { seed: Some(seed), timeline: false, series: false, max_events: None };
    let mut starts: Vec<Option<capsize_sim::StartState>> = targets.iter().map(|_| None).collect();
    // Policies still to run from each group's start: the last one runs the start itself.
    let mut left: Vec<usize> = vec![0; targets.len()];
    for &g in groups {
        left[g] += 1;
    }
    targets
        .iter()
        .zip(templates)
        .enumerate()
        .map(|(i, (&(name, scenario), template))| {
            let mut policy = template.clone();
            let g = groups[i];
            let start = starts[g].get_or_insert_with(|| {
                capsize_sim::StartState::new(scenario, &opts)
                    .unwrap_or_else(|e| unreachable!("a prepared scenario failed validation: {e:?}"))
            });
            left[g] -= 1;
            let r = if left[g] == 0 {
                starts[g].take().expect("made above").into_run(name, &mut policy)
            } else {
                start.run(name, &mut policy)
            };
            SweepRow {
                run: k,
                seed,
                services: services
                    .iter()
                    .map(|name| {
                        let s = r
                            .services
                            .iter()
                            .find(|s| &s.name == name)
                            .expect("every policy's scenario has the same services (checked before the sweep)");
                        ServiceRow {
                            availability: s.availability,
                            downtime_s: s.downtime_s,
                            outages: s.outages.len() as u32,
                        }
                    })
                    .collect(),
                held: expectations.iter().map(|(_, x)| x.judge(&r).0).collect(),
                error: r.error.clone(),
            }
        })
        .collect()
}

/// What `sweep --shard I/N` writes: its rows and what is needed to join them with the others.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepPart {
    /// Always `SweepPart`.
    pub kind: String,
    /// See [`Sweep::digest`]: the parts of one sweep carry the same.
    pub digest: String,
    /// Which part.
    pub shard: Shard,
    /// How many worst runs the summary lists.
    pub worst: usize,
    /// Its rows.
    pub rows: SweepRows,
}

/// Reads the parts and joins them into the rows of the whole sweep (and the `worst` it asked
/// for): every part of one sweep, each once, nothing else.
pub fn merge(paths: &[std::path::PathBuf]) -> Result<(SweepRows, usize), LoadError> {
    let mut parts = Vec::new();
    for path in paths {
        let file = SourceFile::read(path)?;
        let part: SweepPart = serde_json::from_str(&file.text)
            .map_err(|e| file.json_error(&e, "a part written by `capsize sweep --shard`"))?;
        if part.kind != "SweepPart" {
            return Err(LoadError::in_file(path, format!("expected kind SweepPart, found `{}`", part.kind)));
        }
        parts.push((path, part));
    }
    let Some((first_path, first)) = parts.first() else {
        return Err(LoadError::in_file(Path::new("merge"), "no parts given"));
    };
    let count = first.shard.count;
    let mut seen = vec![false; count.min(MAX_RUNS) as usize];
    for (path, p) in &parts {
        if p.digest != first.digest || p.shard.count != count || p.worst != first.worst {
            return Err(LoadError::in_file(
                path,
                format!(
                    "this part is of another sweep than {} (digest {} of {} shards, not {} of {})",
                    first_path.display(),
                    p.digest,
                    p.shard.count,
                    first.digest,
                    count
                ),
            ));
        }
        let slot =
            seen.get_mut(p.shard.index as usize).ok_or_else(|| LoadError::in_file(path, "shard index out of range"))?;
        if std::mem::replace(slot, true) {
            return Err(LoadError::in_file(path, format!("shard {}/{count} is given twice", p.shard.index)));
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(LoadError::in_file(
            first_path,
            format!("shard {missing}/{count} is missing: give every part of the sweep"),
        ));
    }
    let worst = first.worst;
    let mut rows = first.rows.clone();
    for p in &mut rows.policies {
        p.rows.clear();
    }
    for (path, p) in &parts {
        for (mine, theirs) in rows.policies.iter_mut().zip(&p.rows.policies) {
            for r in &theirs.rows {
                if r.run % count != p.shard.index {
                    return Err(LoadError::in_file(
                        path,
                        format!("run {} does not belong to shard {}", r.run, p.shard.index),
                    ));
                }
            }
            mine.rows.extend(theirs.rows.iter().cloned());
        }
    }
    for p in &mut rows.policies {
        p.rows.sort_by_key(|r| r.run);
        if p.rows.len() as u64 != rows.runs || p.rows.iter().enumerate().any(|(i, r)| r.run != i as u64) {
            return Err(LoadError::in_file(
                first_path,
                format!("the parts do not hold each of the {} runs once", rows.runs),
            ));
        }
    }
    Ok((rows, worst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_run_once() {
        let mut all: Vec<u64> = (0..3).flat_map(|i| Shard { index: i, count: 3 }.runs(10)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert!(Shard::parse("4/4").is_err() && Shard::parse("0/0").is_err() && Shard::parse("x").is_err());
    }

    #[test]
    fn derived_seeds_are_splitmix64() {
        // SplitMix64's first outputs from state 0 (the reference implementation's test vector).
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(derived_seed(7, 3), splitmix64(splitmix64(7) + 3));
        assert_ne!(derived_seed(1, 0), derived_seed(0, 1));
        assert_ne!(derived_seed(7, 1), derived_seed(7, 2));
    }
}
