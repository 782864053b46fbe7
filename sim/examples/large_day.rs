//! One run of the benchmark's generated cluster, for profilers and instruction counters:
//!
//! ```sh
//! cargo build --release -p capsize-sim --example large_day
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/large_day 100
//! ```
//!
//! The argument is the pods per service (50 gives 10,000 pods, 100 gives 20,000).

#[path = "../benches/large/mod.rs"]
mod large;

use capsize_sim::policy::DoNothing;
use capsize_sim::score::evaluate;
use capsize_sim::{RunOptions, Sim};

fn main() {
    let per_service: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let s = large::large(per_service);
    let h = Sim::new(&s, &RunOptions::default()).expect("generated scenario is valid").run(&mut DoNothing);
    let r = evaluate(&s, "do-nothing", 42, &h);
    let outages: usize = r.services.iter().map(|s| s.outages.len()).sum();
    println!(
        "{} pods: {} events, {} pods over the day, {outages} outages",
        per_service as usize * large::SERVICES,
        h.events,
        h.pods.len()
    );
}
