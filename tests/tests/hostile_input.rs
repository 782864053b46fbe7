//! Hostile input: whatever a file holds, `validate`, `run` and `check` answer within seconds,
//! refuse with a place (file:line:col, exit 2) what they cannot use, and never panic.
//!
//! The inputs are built from the shipped files: nesting 100,000 levels deep, one fault
//! repeated thousands of times (valid, and invalid so that every copy is an error), a
//! megabyte-long line, bytes that are not UTF-8, aliases that would expand exponentially.
//! Before the limits, the nesting case kept `validate` busy for minutes and 4,000 invalid
//! faults for 160 s. The fuzzer's findings (`fuzz/regressions/`) are replayed here through the
//! check that found them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use capsize_harness::fuzz_check::{self, Kind, Workdir};
use capsize_tests::{binary, repo};

/// The bound the issue sets for any input under the size limit. The tests run the debug
/// build, so this also leaves room for a busy CI machine.
const BOUND: Duration = Duration::from_secs(5);

/// A fresh directory holding a copy of the shipped scenarios and policies.
fn workdir() -> Workdir {
    Workdir::new(&repo().join("scenarios")).unwrap()
}

/// Runs `capsize ARGS` in `dir`, timing it: (exit code, stderr, elapsed).
fn timed(dir: &Path, args: &[&str]) -> (Option<i32>, String, Duration) {
    let t = Instant::now();
    let out = std::process::Command::new(binary()).args(args).current_dir(dir).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), t.elapsed())
}

fn shipped(name: &str) -> String {
    std::fs::read_to_string(repo().join("scenarios").join(name)).unwrap()
}

/// Writes `text` as `name` in `dir`.
fn put(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn nesting_a_hundred_thousand_levels_deep_is_refused_at_once_with_its_place() {
    let dir = workdir();
    let n = 100_000;
    let suite = shipped("suite.yaml");
    let cases = [
        ("flow sequences", format!("{}{}", "[".repeat(n), "]".repeat(n))),
        ("flow mappings", format!("{}1{}", "{a: ".repeat(n), "}".repeat(n))),
        ("block sequences", format!("\n{}{}x", " ".repeat(8), "- ".repeat(n))),
    ];
    for (what, deep) in cases {
        let text = suite.replacen("seeds: [7, 11]", &format!("seeds: {deep}"), 1);
        assert_ne!(text, suite, "the suite has the line this test replaces");
        put(dir.path(), "deep.yaml", &text);
        for cmd in ["validate", "check"] {
            let (code, stderr, took) = timed(dir.path(), &[cmd, "deep.yaml"]);
            assert_eq!(code, Some(2), "{what}, {cmd}: {stderr}");
            assert!(took < BOUND, "{what}, {cmd}: {took:?}");
            assert!(stderr.contains("nest deeper than 64 levels"), "{what}: {stderr}");
            let line = text[..text.find(deep.trim_start()).unwrap()].matches('\n').count() + 1;
            assert!(stderr.starts_with(&format!("error: deep.yaml:{line}:")), "{what}: placed: {stderr}");
            // The caret display shows a window of the megabyte-long line, not all of it.
            assert!(stderr.len() < 1_000, "{what}: {} bytes of stderr", stderr.len());
        }
    }
}

/// The incident C scenario with its fault at 01:49 repeated `n` times, rewritten by `edit`.
fn repeated_fault(n: usize, edit: impl Fn(&str) -> String) -> String {
    let s = shipped("subpath-configmap.yaml");
    let i = s.find("    - containerCrash:\n        at: \"01:49\"").unwrap();
    let j = s.find("    - containerCrash:\n        at: \"07:25\"").unwrap();
    format!("{}{}{}", &s[..i], edit(&s[i..j]).repeat(n), &s[j..])
}

#[test]
fn thousands_of_copies_of_one_fault_are_run_or_refused_within_the_bound() {
    let dir = workdir();
    put(dir.path(), "many.yaml", &repeated_fault(5_000, str::to_string));
    for args in [&["validate", "many.yaml"][..], &["run", "many.yaml", "--format", "json"]] {
        let (code, stderr, took) = timed(dir.path(), args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(took < BOUND, "{args:?}: {took:?}");
    }
    // Every copy wrong twice: 10,000 problems, each placed, in one read of the file.
    put(
        dir.path(),
        "bad.yaml",
        &repeated_fault(5_000, |f| f.replace("app: blog-api", "app: nothing").replace("count: 1", "count: 0")),
    );
    let (code, stderr, took) = timed(dir.path(), &["validate", "bad.yaml"]);
    assert_eq!(code, Some(2));
    assert!(took < BOUND, "{took:?}");
    let placed = stderr.lines().filter(|l| l.starts_with("error: bad.yaml:")).count();
    assert_eq!(placed, 10_000, "every problem with its place: {}", &stderr[..stderr.len().min(500)]);
}

#[test]
fn a_suite_of_thousands_of_cases_reads_each_scenario_once() {
    let dir = workdir();
    let case =
        "    - scenario: subpath-configmap.yaml\n      policy: do-nothing\n      expect: [\"i-web outages >= 0\"]\n";
    let head = "apiVersion: capsize.dev/v1alpha1\nkind: Suite\nmetadata: {name: many}\nspec:\n  cases:\n";
    put(dir.path(), "many-cases.yaml", &format!("{head}{}", case.repeat(20_000)));
    let (code, stderr, took) = timed(dir.path(), &["validate", "many-cases.yaml"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(took < BOUND, "{took:?}");
    // A broken scenario named by every case is reported once, under the first case.
    let shipped_text = shipped("subpath-configmap.yaml");
    let broken = shipped_text.replacen("kind: Scenario", "kind: Scenario\nnonsense: 1", 1);
    assert_ne!(broken, shipped_text);
    put(dir.path(), "broken.yaml", &broken);
    let case = case.replace("subpath-configmap.yaml", "broken.yaml");
    put(dir.path(), "broken-cases.yaml", &format!("{head}{}", case.repeat(1_000)));
    let (code, stderr, _) = timed(dir.path(), &["validate", "broken-cases.yaml"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.matches("error: broken.yaml:").count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: broken-cases.yaml:6:"), "{stderr}");
}

#[test]
fn a_run_that_would_take_minutes_stops_at_its_event_budget_and_says_how_to_go_on() {
    let dir = workdir();
    // Incident C left alone for 30 days: 17 pods probed every few seconds, five of them in
    // CrashLoopBackOff throughout, is millions of events.
    let s = shipped("subpath-configmap.yaml").replacen("duration: 9h", "duration: 30d", 1);
    put(dir.path(), "busy.yaml", &s);
    let (code, stderr, took) =
        timed(dir.path(), &["run", "busy.yaml", "--policy", "do-nothing", "--max-events", "200000"]);
    assert!(took < BOUND, "{took:?}");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("reached 200000 events, its limit"), "{stderr}");
    assert!(stderr.contains("--max-events"), "{stderr}");
}

#[test]
fn bytes_that_are_not_utf8_are_placed() {
    let dir = workdir();
    let mut bytes = shipped("disk-full.yaml").into_bytes();
    let at = bytes.windows(8).position(|w| w == b"metadata").unwrap() + 4;
    bytes[at] = 0xff;
    std::fs::write(dir.path().join("latin.yaml"), &bytes).unwrap();
    let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    let (code, stderr, _) = timed(dir.path(), &["validate", "latin.yaml"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with(&format!("error: latin.yaml:{line}:5: not UTF-8: byte 0xff at offset {at}")),
        "{stderr}"
    );
    // The same bytes on standard input.
    let out = std::process::Command::new(binary())
        .args(["validate", "-"])
        .current_dir(dir.path())
        .stdin(std::fs::File::open(dir.path().join("latin.yaml")).unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.starts_with(&format!("error: -:{line}:5: not UTF-8")), "{stderr}");
}

#[test]
fn aliases_that_would_expand_exponentially_are_refused_quickly() {
    let dir = workdir();
    let mut s = String::from(
        "apiVersion: capsize.dev/v1alpha1\nkind: Scenario\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..30 {
        let p = i - 1;
        s.push_str(&format!("x{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
    }
    put(dir.path(), "laughs.yaml", &s);
    let (code, stderr, took) = timed(dir.path(), &["validate", "laughs.yaml"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(took < BOUND, "{took:?}");
    assert!(stderr.starts_with("error: laughs.yaml:"), "{stderr}");
}

/// Every finding of the fuzzer, replayed through the check that found it.
#[test]
fn the_fuzzers_findings_stay_fixed() {
    let work = Workdir::new(&repo().join("scenarios")).unwrap();
    let dir = repo().join("fuzz/regressions");
    let mut seen = 0;
    for kind in ["scenario", "policy", "suite"] {
        let Ok(entries) = std::fs::read_dir(dir.join(kind)) else { continue };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            let k = match kind {
                "scenario" => Kind::Scenario,
                "policy" => Kind::Policy,
                _ => Kind::Suite,
            };
            let t = Instant::now();
            let outcome = fuzz_check::check(k, &std::fs::read(&f).unwrap(), &work);
            assert!(outcome.is_ok(), "{}: {}", f.display(), outcome.unwrap_err());
            assert!(t.elapsed() < BOUND, "{}: {:?}", f.display(), t.elapsed());
            seen += 1;
        }
    }
    assert!(seen > 0, "fuzz/regressions holds the findings");
}
