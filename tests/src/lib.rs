//! Helpers for the end-to-end tests: find the `capsize` binary and the repository, run it.
//!
//! The binary is built by `cargo test --workspace` (the harness crate has integration tests,
//! which makes cargo build its binaries first); these tests run it as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Incident C's policies, in the order its scenario lists them.
pub const SUBPATH_POLICIES: [&str; 6] =
    ["as-happened", "do-nothing", "projected-volumes", "decoupled-probes", "auto-delete-crashloop", "paged-in-10-min"];

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the repository").to_path_buf()
}

/// The `capsize` binary next to this test executable (`target/<profile>/capsize`).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let bin = dir.join(format!("capsize{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds it",
        bin.display()
    );
    bin
}

/// Runs `capsize ARGS` from the repository root.
pub fn capsize(args: &[&str]) -> Output {
    Command::new(binary()).args(args).current_dir(repo()).output().expect("capsize runs")
}

/// Runs `capsize ARGS`, requires success, and parses stdout as JSON.
pub fn capsize_json(args: &[&str]) -> serde_json::Value {
    let out = capsize(args);
    assert!(
        out.status.success(),
        "capsize {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("capsize prints JSON")
}

/// Seconds from the start of a run that starts at midnight, for a clock time `HH:MM`.
pub fn at(hhmm: &str) -> f64 {
    let (h, m) = hhmm.split_once(':').expect("HH:MM");
    h.parse::<f64>().unwrap() * 3600.0 + m.parse::<f64>().unwrap() * 60.0
}

/// `capsize compare SCENARIO --format json --seed SEED`: the runs, in policy order.
pub fn compare(scenario: &str, seed: &str) -> Vec<serde_json::Value> {
    capsize_json(&["compare", scenario, "--format", "json", "--seed", seed])["runs"].as_array().unwrap().clone()
}

/// The run of `policy` among a compare's runs.
pub fn run_of<'a>(runs: &'a [serde_json::Value], policy: &str) -> &'a serde_json::Value {
    runs.iter().find(|r| r["policy"] == policy).unwrap_or_else(|| panic!("no run for {policy}"))
}

/// The scored service (or load balancer) `name` of a run.
pub fn service<'a>(run: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    run["services"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("{name} is scored"))
}

/// `name`'s outages in a run, as `(start_s, end_s)`.
pub fn outages(run: &serde_json::Value, name: &str) -> Vec<(f64, f64)> {
    service(run, name)["outages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["start_s"].as_f64().unwrap(), o["end_s"].as_f64().unwrap()))
        .collect()
}
