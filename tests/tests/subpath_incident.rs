//! Incident C (subPath ConfigMap, cascading health checks): the acceptance criteria, checked
//! on `capsize compare --format json` for the scenario's own seed and for other seeds, so that
//! no result hangs on one lucky draw.

use capsize_tests::{at, outages, run_of as run, service};
use serde_json::Value;

const SCENARIO: &str = "scenarios/subpath-configmap.yaml";
const SEEDS: [&str; 6] = ["7", "1", "2", "3", "11", "42"];
const MIN: f64 = 60.0;

fn compare(seed: &str) -> Vec<Value> {
    capsize_tests::compare(SCENARIO, seed)
}

#[test]
fn compare_runs_all_six_policies() {
    let runs = compare("7");
    let names: Vec<&str> = runs.iter().map(|r| r["policy"].as_str().unwrap()).collect();
    assert_eq!(names, capsize_tests::SUBPATH_POLICIES);
    for r in &runs {
        assert_eq!(r["scenario"], "subpath-configmap");
        assert_eq!(r["seed"], 7);
        for s in r["services"].as_array().unwrap() {
            let a = s["availability"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&a));
            for o in s["outages"].as_array().unwrap() {
                // The clock strings and the seconds agree (the run starts at midnight).
                let secs = o["start_s"].as_f64().unwrap() as u64;
                let clock = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
                assert_eq!(o["start"], clock.as_str());
            }
        }
    }
}

#[test]
fn as_happened_reproduces_the_documented_night() {
    for seed in SEEDS {
        let runs = compare(seed);
        let r = run(&runs, "as-happened");
        let iweb = outages(r, "i-web");
        assert_eq!(iweb.len(), 1, "seed {seed}: i-web outages {iweb:?}");
        let (start, end) = iweb[0];
        assert!((start - at("01:49")).abs() <= 10.0 * MIN, "seed {seed}: i-web outage starts at {start}");
        assert!((end - at("07:50")).abs() <= 15.0 * MIN, "seed {seed}: i-web outage ends at {end}");
        // blog-api is down over the same night.
        let api = outages(r, "blog-api");
        assert!(
            api.iter().any(|&(s, e)| s <= at("02:00") && e >= at("07:40")),
            "seed {seed}: blog-api outages {api:?}"
        );
        // The blog itself barely notices.
        let web = service(r, "blog-web")["availability"].as_f64().unwrap();
        assert!(web >= 0.95, "seed {seed}: blog-web availability {web}");
        // Each original blog-api pod restarted 70-85 times before it was deleted (documented:
        // 76 and 78), purely from the backoff mechanics.
        let api_pods: Vec<&Value> =
            r["workloads"].as_array().unwrap().iter().find(|w| w["name"] == "blog-api").unwrap()["pods"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| !p["deleted_s"].is_null())
                .collect();
        assert_eq!(api_pods.len(), 2, "seed {seed}");
        for p in api_pods {
            let n = p["restarts"].as_u64().unwrap();
            assert!((70..=85).contains(&n), "seed {seed}: {} restarted {n} times", p["name"]);
        }
    }
}

#[test]
fn counterfactuals_change_what_the_documents_say_they_change() {
    for seed in SEEDS {
        let runs = compare(seed);
        // Preventive, the authors' fix: no subPath, no outage anywhere.
        let pv = run(&runs, "projected-volumes");
        for s in ["blog-web", "blog-api", "i-web"] {
            assert!(outages(pv, s).is_empty(), "seed {seed}: projected-volumes, {s}: {:?}", outages(pv, s));
        }
        // Preventive: i-web's probes no longer call blog-api; blog-api is still down for hours.
        let dp = run(&runs, "decoupled-probes");
        assert!(outages(dp, "i-web").is_empty(), "seed {seed}: decoupled-probes i-web {:?}", outages(dp, "i-web"));
        let api_down = service(dp, "blog-api")["downtime_s"].as_f64().unwrap();
        assert!(api_down >= 3.0 * 3600.0, "seed {seed}: decoupled-probes blog-api down {api_down}s");
        // Reactive automation: every outage is short.
        let ad = run(&runs, "auto-delete-crashloop");
        for s in ["blog-web", "blog-api", "i-web"] {
            for (a, b) in outages(ad, s) {
                assert!(b - a < 15.0 * MIN, "seed {seed}: auto-delete {s} outage {a}-{b}");
            }
        }
        // The responder, paged: i-web is back within half an hour.
        let pg = run(&runs, "paged-in-10-min");
        let down: f64 = outages(pg, "i-web").iter().map(|(a, b)| b - a).sum();
        assert!(down > 0.0 && down < 30.0 * MIN, "seed {seed}: paged i-web down {down}s");
        // Nobody acts: the outage lasts to the end of the run.
        let dn = run(&runs, "do-nothing");
        let iweb = outages(dn, "i-web");
        let end = dn["duration_s"].as_f64().unwrap();
        assert_eq!(iweb.last().map(|o| o.1), Some(end), "seed {seed}: do-nothing {iweb:?}");
        assert!(service(dn, "i-web")["outages"][0]["ongoing"].as_bool().unwrap());
    }
}
