//! Running prepared scenarios: one, or several side by side on a bounded pool of threads.
//!
//! Runs are independent and each is deterministic, so the results do not depend on the number
//! of threads or their timing; they come back in the order they were asked for.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use capsize_sim::{RunOptions, RunResult};

use crate::load::Prepared;

/// Runs one prepared scenario under its policy and scores it.
pub fn run(prepared: Prepared, opts: &RunOptions) -> RunResult {
    let Prepared { policy_name, scenario, mut policy } = prepared;
    tracing::info!(scenario = %scenario.metadata.name, policy = %policy_name, "run");
    // `prepare` validated the merged scenario, so the simulator accepts it.
    capsize_sim::simulate(&scenario, &policy_name, &mut policy, opts)
        .unwrap_or_else(|e| unreachable!("a prepared scenario failed validation: {e:?}"))
}

/// Runs every prepared scenario, in parallel up to the machine's cores; results in input order.
pub fn run_all(prepared: Vec<Prepared>, opts: &RunOptions) -> Vec<RunResult> {
    run_each(prepared.into_iter().map(|p| (p, opts.clone())).collect())
}

/// Runs every prepared scenario with its own options, in parallel up to the machine's cores;
/// results in input order.
pub fn run_each(jobs: Vec<(Prepared, RunOptions)>) -> Vec<RunResult> {
    let n = jobs.len();
    let workers = std::thread::available_parallelism().map_or(1, |p| p.get()).min(n.max(1));
    let jobs: Vec<Mutex<Option<(Prepared, RunOptions)>>> = jobs.into_iter().map(|p| Mutex::new(Some(p))).collect();
    let results: Vec<Mutex<Option<RunResult>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let (job, opts) = jobs[i].lock().expect("job lock").take().expect("each job is taken once");
                    let r = run(job, &opts);
                    *results[i].lock().expect("result lock") = Some(r);
                }
            });
        }
    });
    results.into_iter().map(|r| r.into_inner().expect("result lock").expect("every job ran")).collect()
}
