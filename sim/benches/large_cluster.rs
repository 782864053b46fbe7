//! A day of a large cluster: 2,000 nodes, 200 services, 10,000 or 20,000 pods, probes at their
//! default periods (a quarter of them calling another service), diurnal traffic, alert rules
//! evaluated every minute, and a mix of faults (ConfigMap changes under subPath mounts followed
//! by crashes, so a hundred pods crash-loop all day; one service down all day, so the pods whose
//! probes call it are killed and restarted all day; random crashes; lost nodes).
//!
//! `cargo bench -p capsize-sim --bench large_cluster`

mod large;

use criterion::{Criterion, criterion_group, criterion_main};

use capsize_sim::policy::DoNothing;
use capsize_sim::score::evaluate;
use capsize_sim::{RunOptions, Scenario, Sim, StartState};
use large::{SERVICES, large};

fn run(s: &Scenario) -> (u64, usize) {
    let h = Sim::new(s, &RunOptions::default()).expect("generated scenario is valid").run(&mut DoNothing);
    let r = evaluate(s, "do-nothing", 42, &h);
    (h.events, r.services.len())
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("day_of_large_cluster");
    g.sample_size(10);
    for pods_per_service in [50u32, 100] {
        let s = large(pods_per_service);
        let (events, _) = run(&s);
        let label = format!("{}k_pods", pods_per_service as usize * SERVICES / 1000);
        eprintln!("{label}: {events} events per run");
        // The whole pipeline: build (placing every pod), a simulated day, scoring.
        g.bench_function(format!("{label}/total"), |b| b.iter(|| run(&s)));
        // Its parts: building the cluster, and scoring a finished history.
        g.bench_function(format!("{label}/build"), |b| b.iter(|| Sim::new(&s, &RunOptions::default()).unwrap()));
        let h = Sim::new(&s, &RunOptions::default()).unwrap().run(&mut DoNothing);
        g.bench_function(format!("{label}/score"), |b| b.iter(|| evaluate(&s, "do-nothing", 42, &h)));
        // What a sweep pays instead of the build for each further policy of a run.
        let start = StartState::new(&s, &RunOptions::default()).unwrap();
        g.bench_function(format!("{label}/copy_of_start"), |b| b.iter(|| start.clone()));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
