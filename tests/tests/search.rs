//! `capsize search`: a budget of node faults on the Redis drill finds a schedule that breaks the
//! web's SLO, shrinks it to a local minimum, and writes a scenario that fails the same way.

use std::path::Path;

use capsize_harness::load;
use capsize_harness::search::{self, Search};
use capsize_tests::{capsize, repo};

const DRILL: &str = "tests/scenarios/redis-drill.yaml";
const BUDGET: &str = "tests/scenarios/redis-drill-budget.yaml";

fn prepared(scenario: &str) -> (load::LoadedScenario, load::Prepared) {
    let s = load::load_scenario(&repo().join(scenario)).unwrap();
    let p = load::select_policies(&s, &[]).unwrap().remove(0);
    let prepared = load::prepare(&s, &p).unwrap();
    (s, prepared)
}

fn web_availability(run: &serde_json::Value) -> f64 {
    run["services"].as_array().unwrap().iter().find(|s| s["name"] == "web").unwrap()["availability"].as_f64().unwrap()
}

#[test]
fn a_found_schedule_is_written_as_a_scenario_that_fails_the_same_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["search", DRILL, "--budget", BUDGET, "--format", "json", "--out-dir", dir.path().to_str().unwrap()];
    let out = capsize(&args);
    assert_eq!(out.status.code(), Some(1), "a failing schedule exits 1: {}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found = &r["outcome"]["found"][0];
    assert!(!found["shrunk"].as_array().unwrap().is_empty());
    assert!(found["shrunk"].as_array().unwrap().len() <= found["drawn"].as_array().unwrap().len());
    assert_eq!(found["broken"][0]["expectation"], "web availability >= 99.5%");
    // The written scenario validates and, run on its own, breaks the expectation by the
    // measured amount.
    let written = r["written"][0].as_str().unwrap();
    assert!(Path::new(written).starts_with(dir.path()));
    let check = capsize(&["validate", written]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let run = capsize(&["run", written, "--format", "json"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let run: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let a = web_availability(&run);
    assert!(a < 0.995, "the written scenario does not fail: {a}");
    assert_eq!(format!("{a:.5}"), found["broken"][0]["measured"].as_str().unwrap());
    // And the drill without the found faults does not fail.
    let base: serde_json::Value = serde_json::from_slice(&capsize(&["run", DRILL, "--format", "json"]).stdout).unwrap();
    assert!(web_availability(&base) >= 0.995);
    // The same search again finds the same schedule (deterministic from its seed).
    let again = capsize(&args);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["outcome"], r["outcome"]);
}

/// A network loss's length in seconds.
fn duration(f: &capsize_sim::spec::FaultSpec) -> Option<u64> {
    let v = serde_json::to_value(f).unwrap();
    let text = v["networkLoss"]["for"].as_str()?.to_string();
    Some(capsize_sim::SimDuration::parse(&text).unwrap().ms() / 1000)
}

/// Checks that `found` fails and that no schedule one shrinker move away does.
fn assert_local_minimum(search: &Search<'_>, shrunk: &[search::Planned]) {
    assert!(search.fails(shrunk).is_some(), "the shrunk schedule must still fail");
    let moves = search.moves(shrunk);
    assert!(!moves.is_empty(), "dropping a fault is always a move");
    for m in moves {
        let lines: Vec<String> = m.iter().map(|p| search::fault_line(&p.fault)).collect();
        assert!(search.fails(&m).is_none(), "a smaller schedule still fails: {lines:?}");
    }
}

#[test]
fn shrunk_schedules_are_local_minima_of_the_shrinkers_moves() {
    let (_, prepared) = prepared(DRILL);
    // The shipped budget, and one of network losses only, whose lengths and times the
    // shrinker has to cut down.
    let dir = tempfile::tempdir().unwrap();
    let losses = dir.path().join("losses.yaml");
    std::fs::write(
        &losses,
        "apiVersion: capsize.dev/v1alpha1\nkind: Budget\nmetadata: {name: losses}\nspec:\n  maxFaults: 3\n  tries: 200\n  \
         faults:\n    - networkLoss: {at: {from: \"00:05\", to: \"00:40\"}, pool: worker, pick: {count: 2}, for: {min: 1m, \
         max: 20m}}\n    - networkLoss: {at: {from: \"00:10\", to: \"00:30\"}, nodeOf: {app: web}, pick: {count: 3}, for: \
         {min: 1m, max: 20m}}\n  expect:\n    - web availability >= 99.5%\n",
    )
    .unwrap();
    let mut shrunk_lengths = 0;
    for budget in [repo().join(BUDGET), losses] {
        let budget = search::load_budget(&budget, &prepared).unwrap();
        let s = Search { prepared: &prepared, budget: &budget, seed: 11, tries: 200, deadline: None, find: 3 };
        let outcome = s.run_search();
        assert!(!outcome.found.is_empty(), "{}: nothing found in {} tries", budget.budget.metadata.name, outcome.tries);
        for f in &outcome.found {
            assert!(!f.shrink_cut);
            assert_local_minimum(&s, &f.shrunk);
            shrunk_lengths += f.drawn.len() - f.shrunk.len();
        }
        if budget.budget.metadata.name == "losses" {
            // Network losses were drawn up to 20 minutes long: the shrinker cut them down to
            // what still breaks the SLO.
            let total = |faults: &[search::Planned]| -> u64 { faults.iter().filter_map(|p| duration(&p.fault)).sum() };
            assert!(outcome.found.iter().all(|f| total(&f.shrunk) <= total(&f.drawn)));
            assert!(outcome.found.iter().any(|f| total(&f.shrunk) < total(&f.drawn)), "no loss was shortened");
        }
    }
    assert!(shrunk_lengths > 0, "no found schedule was shrunk at all");
}

#[test]
fn bad_budgets_are_refused_with_their_place_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (body, line, col, says) in [
        (
            "maxFaults: 0\n  faults:\n    - kubeletDown: {at: \"00:10\", pool: worker, pick: one}\n",
            5,
            14,
            "between 1 and",
        ),
        (
            "maxFaults: 2\n  faults:\n    - networkLoss: {at: \"00:10\", pool: worker, for: {min: 30m, max: 20m}}\n",
            7,
            53,
            "longer than max",
        ),
        (
            "maxFaults: 2\n  faults:\n    - kubeletDown: {at: {around: \"00:30\", jitter: 2h}, pool: worker}\n",
            7,
            25,
            "longer than the run",
        ),
        (
            "maxFaults: 2\n  faults:\n    - kubeletDown: {at: \"00:10\", pool: workers}\n",
            7,
            40,
            "no node pool named `workers`",
        ),
        ("maxFaults: 2\n  faults:\n    - kubeletDown: {at: \"00:10\", nodeOf: {app: db}}\n", 7, 42, "app=db"),
        (
            "maxFaults: 2\n  faults:\n    - kubeletDown: {at: \"00:10\", node: worker-1}\n  expect: [db downtime <= 1m]\n",
            8,
            12,
            "`db` is not a service",
        ),
        ("maxFaults: 2\n  faults: []\n  tries: 5\n", 6, 11, "at least one fault template"),
        ("maxFaults: 2\n  fault: []\n", 6, 3, "unknown field `fault`"),
    ] {
        let path = dir.path().join("budget.yaml");
        std::fs::write(
            &path,
            format!("apiVersion: capsize.dev/v1alpha1\nkind: Budget\nmetadata: {{name: b}}\nspec:\n  {body}"),
        )
        .unwrap();
        let out =
            capsize(&["search", DRILL, "--budget", path.to_str().unwrap(), "--out-dir", dir.path().to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{body}");
        let err = String::from_utf8_lossy(&out.stderr);
        let place = format!("{}:{line}:{col}: ", path.display());
        assert!(err.contains(&place) && err.contains(says), "{body}\nwanted {place}... {says}, got:\n{err}");
    }
}
