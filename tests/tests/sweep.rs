//! `capsize sweep` and `capsize merge`: distributions over derived seeds, the same bytes on any
//! number of threads and shards, worst runs that replay with `run --seed`.

use capsize_tests::{capsize, capsize_json};

fn stdout(args: &[&str]) -> String {
    let out = capsize(args);
    assert!(out.status.success(), "capsize {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_sweep_of_incident_c_covers_all_six_policies_and_is_the_same_on_one_or_two_threads() {
    let args = ["sweep", "scenarios/subpath-configmap.yaml", "--runs", "1000", "--format", "json"];
    let one = stdout(&[&args[..], &["--jobs", "1"]].concat());
    let two = stdout(&[&args[..], &["--jobs", "2"]].concat());
    let again = stdout(&[&args[..], &["--jobs", "2"]].concat());
    assert_eq!(one, two, "the thread count changed the sweep");
    assert_eq!(two, again, "the same sweep twice differs");
    let r: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(r["runs"], 1000);
    let policies: Vec<&str> = r["policies"].as_array().unwrap().iter().map(|p| p["policy"].as_str().unwrap()).collect();
    assert_eq!(policies, capsize_tests::SUBPATH_POLICIES);
    for p in r["policies"].as_array().unwrap() {
        for s in p["services"].as_array().unwrap() {
            let a = &s["availability"];
            let (min, p5, p50, p95, max) = (
                a["min"].as_f64().unwrap(),
                a["p5"].as_f64().unwrap(),
                a["p50"].as_f64().unwrap(),
                a["p95"].as_f64().unwrap(),
                a["max"].as_f64().unwrap(),
            );
            assert!(0.0 <= min && min <= p5 && p5 <= p50 && p50 <= p95 && p95 <= max && max <= 1.0, "{s}");
            let b = &s["breach"];
            let (lo, est, hi) =
                (b["ci95_low"].as_f64().unwrap(), b["estimate"].as_f64().unwrap(), b["ci95_high"].as_f64().unwrap());
            assert!(lo <= est && est <= hi, "{b}");
            assert_eq!(b["runs"], 1000);
        }
    }
    // The paging policy's outcome depends on when the page is answered (drawn per run): it has a
    // spread; the fixed replay of the night has none.
    let service = |policy: usize, name: &str| {
        r["policies"][policy]["services"].as_array().unwrap().iter().find(|s| s["service"] == name).unwrap().clone()
    };
    let paged = service(5, "i-web");
    assert!(paged["downtime_s"]["min"].as_f64() < paged["downtime_s"]["max"].as_f64(), "{paged}");
    // Every run of the night without remediation breaches; with projected volumes none does.
    assert_eq!(service(1, "blog-api")["breach"]["count"], 1000);
    assert_eq!(service(2, "blog-api")["breach"]["count"], 0);
    // Not on a terminal: no progress bar in the output or the log.
    let piped = capsize(&["sweep", "scenarios/subpath-configmap.yaml", "--runs", "50"]);
    assert!(piped.stderr.is_empty(), "{}", String::from_utf8_lossy(&piped.stderr));
    // The table prints every policy for every service.
    let table = String::from_utf8(piped.stdout).unwrap();
    for p in &policies {
        assert_eq!(table.matches(&format!("| {p} ")).count(), 3, "{table}");
    }
}

#[test]
fn the_worst_run_of_a_sweep_replays_with_run_seed() {
    let r = capsize_json(&["sweep", "tests/scenarios/redis-drawn.yaml", "--runs", "200", "--format", "json"]);
    for (p, policy) in r["policies"].as_array().unwrap().iter().enumerate() {
        let web = policy["services"].as_array().unwrap().iter().find(|s| s["service"] == "web").unwrap();
        let worst = &web["worst"][0];
        assert!(worst["availability"].as_f64() <= web["availability"]["min"].as_f64(), "{web}");
        let seed = worst["seed"].as_u64().unwrap().to_string();
        let name = policy["policy"].as_str().unwrap();
        let run = capsize_json(&[
            "run",
            "tests/scenarios/redis-drawn.yaml",
            "--policy",
            name,
            "--seed",
            &seed,
            "--format",
            "json",
        ]);
        let replayed = run["services"].as_array().unwrap().iter().find(|s| s["name"] == "web").unwrap();
        assert_eq!(replayed["availability"], worst["availability"], "policy {p}");
        assert_eq!(replayed["downtime_s"], worst["downtime_s"]);
        assert_eq!(replayed["outages"].as_array().unwrap().len() as u64, worst["outages"].as_u64().unwrap());
    }
}

#[test]
fn drawn_faults_spread_the_outcomes_and_expectations_are_counted() {
    let r = capsize_json(&[
        "sweep",
        "tests/scenarios/redis-drawn.yaml",
        "--runs",
        "300",
        "--format",
        "json",
        "--expect",
        "web downtime <= 5m",
    ]);
    for policy in r["policies"].as_array().unwrap() {
        let web = policy["services"].as_array().unwrap().iter().find(|s| s["service"] == "web").unwrap();
        // The loss's length is drawn from 2 to 15 minutes: the downtime is not one number.
        assert!(web["downtime_s"]["min"].as_f64() < web["downtime_s"]["max"].as_f64(), "{web}");
        let e = &policy["expectations"][0];
        assert_eq!(e["expectation"], "web downtime <= 5m");
        let failed = e["failed"]["count"].as_u64().unwrap();
        // Each failing seed listed is a run whose downtime is really over 5 minutes.
        for seed in e["failing_seeds"].as_array().unwrap() {
            let run = capsize_json(&[
                "run",
                "tests/scenarios/redis-drawn.yaml",
                "--policy",
                policy["policy"].as_str().unwrap(),
                "--seed",
                &seed.as_u64().unwrap().to_string(),
                "--format",
                "json",
            ]);
            let d = run["services"].as_array().unwrap().iter().find(|s| s["name"] == "web").unwrap()["downtime_s"]
                .as_f64()
                .unwrap();
            assert!(d > 300.0, "seed {seed} listed as failing with {d} s of downtime");
        }
        assert_eq!(e["failing_seeds"].as_array().unwrap().len() as u64, failed.min(5));
    }
}

#[test]
fn a_sharded_sweep_merged_is_the_unsharded_sweep_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["sweep", "tests/scenarios/redis-drawn.yaml", "--runs", "101", "--expect", "web availability >= 95%"];
    let mut parts = Vec::new();
    // Given in another order than their indices: the merge does not care.
    for i in [2, 0, 1] {
        let path = dir.path().join(format!("part-{i}.json"));
        let shard = format!("{i}/3");
        let out = capsize(&[&base[..], &["--shard", &shard, "--out", path.to_str().unwrap()]].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        parts.push(path.to_str().unwrap().to_string());
    }
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    for format in ["json", "table", "markdown", "html"] {
        let whole = stdout(&[&base[..], &["--format", format]].concat());
        let merged = stdout(&[&["merge"][..], &parts, &["--format", format]].concat());
        assert_eq!(whole, merged, "{format}: merged shards differ from the whole sweep");
    }

    // Refused: a missing part, a part given twice, a part of another sweep.
    let err = |args: &[&str]| {
        let out = capsize(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(err(&["merge", parts[0], parts[1]]).contains("is missing"));
    assert!(err(&["merge", parts[0], parts[1], parts[2], parts[0]]).contains("given twice"));
    let other = dir.path().join("other.json");
    let out = capsize(&[
        "sweep",
        "tests/scenarios/redis-drawn.yaml",
        "--runs",
        "101",
        "--seed",
        "9",
        "--shard",
        "0/3",
        "--out",
        other.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(err(&["merge", other.to_str().unwrap(), parts[1], parts[2]]).contains("another sweep"));
}

#[test]
fn bad_sweep_flags_are_refused_with_exit_2() {
    for (args, says) in [
        (vec!["--runs", "0"], "--runs 0"),
        (vec!["--runs", "10", "--expect", "nosuch availability >= 0.9"], "not a service"),
        (vec!["--runs", "10", "--shard", "3/3"], "0 <= I < N"),
    ] {
        let out = capsize(&[&["sweep", "scenarios/subpath-configmap.yaml"][..], &args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(says), "{args:?}: {e}");
    }
}
