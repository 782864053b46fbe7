//! Outputs recorded before a change that must not move them: every shipped scenario (and every
//! scenario of the tests) under every policy it lists, at several seeds, with its timeline
//! (where each pod was scheduled, every notable transition); a sweep of each; and the large
//! generated cluster at 10,000 and 20,000 pods, whose whole history is compared.
//!
//! The digests in `tests/recorded/outputs.sha256` were taken before the scheduler became
//! incremental (issue 17); a change that means to move an output records them again with
//! `CAPSIZE_RECORD=1 cargo test -p capsize-tests --test recorded_outputs` and says why in its
//! commit. A digest is a SHA-256 of the bytes, so any difference, however small, fails.

#[path = "../../sim/benches/large/mod.rs"]
mod large;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use capsize_sim::policy::DoNothing;
use capsize_sim::{RunOptions, Sim};
use capsize_tests::{capsize, repo};

/// Seeds each run is recorded at besides the scenario's own.
const SEEDS: [&str; 3] = ["1", "2", "3"];

/// Every shipped scenario and every scenario of the tests (each Scenario file directly in
/// `scenarios/` and `tests/scenarios/`).
fn scenarios() -> Vec<String> {
    let mut v = Vec::new();
    for dir in ["scenarios", "tests/scenarios"] {
        for e in std::fs::read_dir(repo().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml")
                && std::fs::read_to_string(&p).unwrap().contains("\nkind: Scenario")
            {
                v.push(format!("{dir}/{}", p.file_name().unwrap().to_str().unwrap()));
            }
        }
    }
    v.sort();
    assert!(v.len() >= 12, "the scenarios are found: {v:?}");
    v
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// `capsize ARGS`'s stdout, which must be a success.
fn stdout(args: &[&str]) -> Vec<u8> {
    let out = capsize(args);
    assert!(out.status.success(), "capsize {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Feeds `Debug` output to the hash as it is written: the large histories run to hundreds of
/// megabytes of text.
struct HashWriter(Sha256);

impl std::fmt::Write for HashWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

/// The large generated cluster's whole day under do-nothing, with its timeline: the digest of
/// its history (every pod with its node, every transition, the event count).
fn large_day(per_service: u32) -> String {
    let s = large::large(per_service);
    let opts = RunOptions { timeline: true, ..RunOptions::default() };
    let h = Sim::new(&s, &opts).expect("generated scenario is valid").run(&mut DoNothing);
    let mut w = HashWriter(Sha256::new());
    write!(w, "{h:?}").unwrap();
    w.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Every recorded output, by a name that says how to reproduce it.
fn digests() -> BTreeMap<String, String> {
    let mut d = BTreeMap::new();
    for scenario in scenarios() {
        // The policies it lists; do-nothing for the test scenarios that list none.
        let listed = capsize(&["compare", &scenario, "--format", "json"]);
        let policies: Vec<String> = if listed.status.success() {
            let runs: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
            runs["runs"].as_array().unwrap().iter().map(|r| r["policy"].as_str().unwrap().to_string()).collect()
        } else {
            assert!(String::from_utf8_lossy(&listed.stderr).contains("lists no policies"), "{scenario}");
            vec!["do-nothing".to_string()]
        };
        for policy in &policies {
            let base = ["run", &scenario, "--policy", policy, "--format", "json", "--timeline"];
            d.insert(format!("run {scenario} --policy {policy}"), hex(&stdout(&base)));
            for seed in SEEDS {
                let out = stdout(&[&base[..], &["--seed", seed]].concat());
                d.insert(format!("run {scenario} --policy {policy} --seed {seed}"), hex(&out));
            }
            let sweep = stdout(&["sweep", &scenario, "--policy", policy, "--runs", "10", "--format", "json"]);
            d.insert(format!("sweep {scenario} --policy {policy} --runs 10"), hex(&sweep));
        }
    }
    for per_service in [50, 100] {
        d.insert(format!("large_day {per_service}"), large_day(per_service));
    }
    d
}

#[test]
fn outputs_match_the_digests_recorded_before_the_change() {
    let path = repo().join("tests/recorded/outputs.sha256");
    let now = digests();
    let text: String = now.iter().map(|(k, v)| format!("{v}  {k}\n")).collect();
    if std::env::var("CAPSIZE_RECORD").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let recorded = std::fs::read_to_string(&path).expect("tests/recorded/outputs.sha256 is in the repository");
    let recorded: BTreeMap<&str, &str> =
        recorded.lines().map(|l| l.split_once("  ").map(|(v, k)| (k, v)).expect("`<digest>  <name>` lines")).collect();
    let names = |m: Vec<&str>| m.join("\n");
    assert_eq!(
        names(recorded.keys().copied().collect()),
        names(now.keys().map(String::as_str).collect()),
        "the same outputs are recorded as are computed"
    );
    let moved: Vec<&str> =
        now.iter().filter(|(k, v)| recorded[k.as_str()] != v.as_str()).map(|(k, _)| k.as_str()).collect();
    assert!(moved.is_empty(), "{} outputs differ from the recorded ones:\n{}", moved.len(), moved.join("\n"));
}
