//! What sweeps cost: a 10,000-run sweep of incident C as it happened, one run of each incident
//! (runs per second per core), and the sweep machinery's overhead over calling the simulator N
//! times in a loop.
//!
//! `cargo bench -p capsize-harness --bench sweep`

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};

use capsize_harness::load::{self, Prepared};
use capsize_harness::sweep::{Shard, Sweep, derived_seed};
use capsize_sim::RunOptions;

/// The incidents, by letter, with the policy that replays what the team did (incident D is a
/// runbook drill: the on-call engineer following the runbook's ladder).
const INCIDENTS: [(&str, &str, &str); 4] = [
    ("A", "swarm-cascade-quorum.yaml", "as-happened"),
    ("B", "spot-stockout-dns.yaml", "as-happened"),
    ("C", "subpath-configmap.yaml", "as-happened"),
    ("D", "node-notready-pleg.yaml", "runbook-ladder"),
];

fn prepared(file: &str, policy: &str) -> Prepared {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("harness/ is in the repository");
    let s = load::load_scenario(&root.join("scenarios").join(file)).expect("a shipped scenario loads");
    let p = load::select_policies(&s, &[policy.to_string()]).expect("the policy is listed").remove(0);
    load::prepare(&s, &p).expect("it prepares")
}

fn one_run(p: &Prepared, seed: u64) -> f64 {
    let mut policy = p.policy.clone();
    let opts = RunOptions { seed: Some(seed), timeline: false, series: false, max_events: None };
    let r = capsize_sim::simulate(&p.scenario, &p.policy_name, &mut policy, &opts).expect("valid");
    r.services[0].availability
}

fn sweep(p: &Prepared, runs: u64, jobs: usize) -> usize {
    let s = Sweep { prepared: std::slice::from_ref(p), expectations: &[], runs, seed: 7, jobs, shard: Shard::WHOLE };
    s.rows(&|| {}).policies[0].rows.len()
}

fn bench(c: &mut Criterion) {
    let c_as_happened = prepared("subpath-configmap.yaml", "as-happened");

    let mut g = c.benchmark_group("sweep");
    g.sample_size(10);
    // The acceptance figure: 10,000 runs on both cores.
    g.bench_function("incident_C_as_happened/10000_runs/2_threads", |b| b.iter(|| sweep(&c_as_happened, 10_000, 2)));
    // The overhead: the sweep on one thread against the same runs in a plain loop.
    g.bench_function("incident_C_as_happened/1000_runs/1_thread", |b| b.iter(|| sweep(&c_as_happened, 1000, 1)));
    g.bench_function("incident_C_as_happened/1000_runs/plain_loop", |b| {
        b.iter(|| (0..1000).map(|k| one_run(&c_as_happened, derived_seed(7, k))).sum::<f64>())
    });
    g.finish();

    let mut g = c.benchmark_group("one_run");
    for (letter, file, policy) in INCIDENTS {
        let p = prepared(file, policy);
        g.bench_function(format!("incident_{letter}/{policy}"), |b| b.iter(|| one_run(&p, 7)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
