//! Incident B (spot stockout, DNS breakage, three clusters behind one load balancer): the
//! acceptance criteria, on `capsize compare --format json` for several seeds so that no result
//! hangs on one lucky draw.

use capsize_tests::{at, capsize, capsize_json, outages, run_of as run, service};
use serde_json::Value;

const SCENARIO: &str = "scenarios/spot-stockout-dns.yaml";
const SEEDS: [&str; 6] = ["7", "1", "2", "3", "11", "42"];
const MIN: f64 = 60.0;
const POLICIES: [&str; 7] = [
    "as-happened",
    "do-nothing",
    "reboot-all-workers",
    "on-demand-fallback",
    "alert-on-failed-scale-up",
    "peak-capacity-on-demand",
    "warm-standby",
];

fn site(run: &Value) -> &Value {
    service(run, "site")
}

fn site_outages(run: &Value) -> Vec<(f64, f64)> {
    outages(run, "site")
}

fn downtime(run: &Value) -> f64 {
    site(run)["downtime_s"].as_f64().unwrap()
}

fn compare(seed: &str) -> Vec<Value> {
    capsize_tests::compare(SCENARIO, seed)
}

#[test]
fn compare_runs_all_seven_policies_and_scores_the_site() {
    let runs = compare("7");
    let names: Vec<&str> = runs.iter().map(|r| r["policy"].as_str().unwrap()).collect();
    assert_eq!(names, POLICIES);
    for r in &runs {
        let s = site(r);
        assert!((0.0..=1.0).contains(&s["availability"].as_f64().unwrap()));
        assert!(s["offered_requests"].as_f64().unwrap() > 1e6, "the site carries the day's traffic");
        assert!(r["cost"]["instance_hours"].as_f64().unwrap() > 0.0);
        assert!(r["cost"]["spend"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn as_happened_has_one_outage_from_the_peak_to_about_noon() {
    for seed in SEEDS {
        let runs = compare(seed);
        let o = site_outages(run(&runs, "as-happened"));
        assert_eq!(o.len(), 1, "seed {seed}: one site outage, found {o:?}");
        let (start, end) = o[0];
        assert!((start - at("10:15")).abs() <= 15.0 * MIN, "seed {seed}: starts at {start}");
        assert!((end - at("12:00")).abs() <= 20.0 * MIN, "seed {seed}: ends at {end}");
    }
}

#[test]
fn the_event_log_shows_the_failed_spot_starts_with_the_stock_error() {
    let runs = compare("7");
    let actions = run(&runs, "as-happened")["actions"].as_array().unwrap().clone();
    let cron: Vec<&Value> = actions.iter().filter(|a| a["by"] == "cron (spot)" && a["at"] == "07:30:00").collect();
    assert_eq!(cron.len(), 4, "the cron job starts each of the 4 spot workers");
    for a in &cron {
        assert_eq!(a["ok"], false);
        assert!(a["result"].as_str().unwrap().starts_with("OperationDenied.NoStock"), "{a}");
    }
    // The console start by the paged responder fails the same way; the purchase succeeds.
    assert!(actions.iter().any(|a| a["by"] == "console-start (human)" && a["ok"] == false));
    assert!(actions.iter().any(|a| a["by"] == "buy-servers (human)" && a["ok"] == true));
    // The table shows the same failures.
    let out = capsize(&["run", SCENARIO, "--policy", "as-happened"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("start instance spot-1  [FAILED: OperationDenied.NoStock"), "{text}");
}

#[test]
fn remedies_bound_the_downtime_and_doing_nothing_never_recovers() {
    for seed in SEEDS {
        let runs = compare(seed);
        let reboot = downtime(run(&runs, "reboot-all-workers"));
        assert!(reboot < 60.0 * MIN, "seed {seed}: reboot-all-workers down {reboot}s");
        for p in ["on-demand-fallback", "alert-on-failed-scale-up", "peak-capacity-on-demand", "warm-standby"] {
            let d = downtime(run(&runs, p));
            assert!(d < 5.0 * MIN, "seed {seed}: {p} down {d}s");
        }
        let nothing = run(&runs, "do-nothing");
        let o = site_outages(nothing);
        let last = site(nothing)["outages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["ongoing"], true, "seed {seed}: do-nothing never recovers");
        assert!((o[0].0 - at("10:15")).abs() <= 15.0 * MIN, "seed {seed}: do-nothing goes down at the peak");
        assert_eq!(o.len(), 1, "seed {seed}: from the peak to the end, in one piece: {o:?}");
    }
}

#[test]
fn always_on_capacity_costs_more_and_the_table_shows_it() {
    let runs = compare("7");
    let spend = |p: &str| run(&runs, p)["cost"]["spend"].as_f64().unwrap();
    assert!(spend("peak-capacity-on-demand") > spend("as-happened"));
    let out = capsize(&["compare", SCENARIO]);
    let text = String::from_utf8(out.stdout).unwrap();
    let cost = text.split("cost:").nth(1).expect("a cost table");
    for p in ["as-happened", "peak-capacity-on-demand"] {
        assert!(cost.lines().any(|l| l.contains(p)), "cost row for {p}:\n{cost}");
    }
}

#[test]
fn the_outage_comes_from_the_mechanics() {
    // Remove the DNS faults: the peak still saturates the five workers. The pods the liveness
    // probe kills come back one by one (CrashLoopBackOff staggers them by seconds), and the first
    // back meet the whole load: their queues fill within seconds and they are killed again
    // before the rest are up. Even when the evening load falls below what all five carry (420
    // rps at 20:00 against 500), they are never up together: a metastable failure, and the site
    // stays down. Restarts do succeed, so more of the day is served than with DNS broken.
    // Remove the stockout as well: the spot workers start and the peak is carried.
    let runs = compare("7");
    let with_dns = site(run(&runs, "do-nothing"))["availability"].as_f64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(capsize_tests::repo().join(SCENARIO)).unwrap();
    let no_dns: String = cut_faults(&text, "dnsFailure");
    let path = dir.path().join("no-dns.yaml");
    std::fs::write(
        &path,
        no_dns.replace("policies/", &format!("{}/scenarios/policies/", capsize_tests::repo().display())),
    )
    .unwrap();
    let out = capsize_json(&["run", path.to_str().unwrap(), "--policy", "do-nothing", "--format", "json"]);
    let o = site_outages(&out);
    assert_eq!(o.len(), 1, "{o:?}");
    assert!(o[0].0 < at("10:30"), "saturated at the peak: {o:?}");
    assert!(site(&out)["availability"].as_f64().unwrap() > with_dns);
    let calm = cut_faults(&cut_faults(&text, "dnsFailure"), "stockChange");
    std::fs::write(
        &path,
        calm.replace("policies/", &format!("{}/scenarios/policies/", capsize_tests::repo().display())),
    )
    .unwrap();
    let out = capsize_json(&["run", path.to_str().unwrap(), "--policy", "do-nothing", "--format", "json"]);
    // The peak is carried. What is left is the evening cron job stopping four workers without
    // draining them: their pods stay in the endpoints, failing what they are sent, until the
    // node lifecycle controller marks them NotReady at the grace period (50 s).
    let o = site_outages(&out);
    assert_eq!(o.len(), 1, "only the undrained evening stop: {o:?}");
    assert_eq!(o[0].0, at("21:00"), "{o:?}");
    assert!(o[0].1 - o[0].0 <= 55.0, "the grace period and one monitor tick at most: {o:?}");
}

/// The scenario text without the faults of one kind (each is a `- kind:` block).
fn cut_faults(text: &str, kind: &str) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.trim_start().starts_with("- ") {
            skipping = line.trim_start() == format!("- {kind}:");
        } else if !line.starts_with("      ") {
            skipping = false;
        }
        if !skipping {
            out.push(line);
        }
    }
    out.join("\n")
}
