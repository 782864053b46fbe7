//! `capsize check`: the regression gate CI runs. Exit 0 when every expectation of the shipped
//! suite holds, 1 with the failing case named when a change breaks one, 2 on invalid input;
//! JUnit XML that an XML parser reads; a baseline that catches silent regressions.

use std::path::Path;

use capsize_tests::{capsize, repo};

const SUITE: &str = "scenarios/suite.yaml";

/// A copy of `scenarios/` (and the `examples/` its plug-in policy runs) in a temporary
/// directory, to break on purpose; returns the copy of `scenarios/`.
fn copy_scenarios(dir: &Path) -> std::path::PathBuf {
    for top in ["scenarios", "examples"] {
        let src = repo().join(top);
        for entry in walk(&src) {
            let to = dir.join(top).join(entry.strip_prefix(&src).unwrap());
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&entry, &to).unwrap();
        }
    }
    dir.join("scenarios")
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_shipped_suite_passes_and_a_policy_that_loses_availability_fails_it() {
    let out = capsize(&["check", SUITE]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("all expectations hold"), "{text}");

    // Break one policy: projected volumes without the patch is the incident again.
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_scenarios(tmp.path());
    let policy = dir.join("policies/subpath-configmap/projected-volumes.yaml");
    let text = std::fs::read_to_string(&policy).unwrap();
    let broken: String = text
        .lines()
        .take_while(|l| !l.starts_with("  patch:"))
        .chain(std::iter::once("  rules: []"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&policy, broken).unwrap();
    let suite = dir.join("suite.yaml");
    let out = capsize(&["check", suite.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("FAILED"), "{text}");
    let failing: Vec<&str> = text.lines().filter(|l| l.contains("FAIL")).collect();
    assert!(
        text.lines().any(|l| l.contains("subpath-configmap / projected-volumes (seed 7)")),
        "the failing case is named: {text}"
    );
    assert!(failing.iter().any(|l| l.contains("i-web outages == 0")), "{failing:?}");
    assert!(failing.iter().any(|l| l.contains("of the baseline")), "the baseline catches it too: {failing:?}");
}

#[test]
fn junit_output_parses_and_counts_cases_and_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_scenarios(tmp.path());
    // One failing expectation, on purpose.
    let suite = dir.join("suite.yaml");
    let text = std::fs::read_to_string(&suite).unwrap();
    std::fs::write(&suite, text.replace("\"i-web downtime <= 15m\"", "\"i-web downtime <= 1m\"")).unwrap();
    let xml_path = dir.join("junit.xml");
    let out = capsize(&["check", suite.to_str().unwrap(), "--format", "junit", "--out", xml_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    let failures: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("failure")).collect();
    assert_eq!(root.attribute("tests").unwrap().parse::<usize>().unwrap(), cases.len());
    assert_eq!(root.attribute("failures").unwrap().parse::<usize>().unwrap(), failures.len());
    assert_eq!(failures.len(), 1, "exactly the one broken expectation");
    let failed_case = failures[0].parent().unwrap();
    assert_eq!(failed_case.attribute("name"), Some("i-web downtime <= 1m"));
    assert!(failed_case.attribute("classname").unwrap().contains("paged-in-10-min"));
    let message = failures[0].attribute("message").unwrap();
    assert!(message.contains("measured 8m31s"), "the measured value: {message}");
    // One case per scenario x policy x seed x expectation (plus the automatic checks).
    assert!(cases.len() > 60, "{}", cases.len());
    let suites: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testsuite")).collect();
    assert_eq!(suites.len(), 7, "one per scenario");
}

#[test]
fn a_case_whose_fault_hits_nothing_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_scenarios(tmp.path());
    let suite = dir.join("suite.yaml");
    let text = std::fs::read_to_string(&suite).unwrap();
    // Without the allowance, the do-nothing run's 23:15 crash (nothing left to crash) fails.
    std::fs::write(&suite, text.replace("      allowUnmatchedFaults: true\n", "")).unwrap();
    let out = capsize(&["check", suite.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.lines().any(|l| l.contains("hit nothing: containerCrash") && l.contains("FAIL")), "{text}");
}

#[test]
fn a_policy_that_must_act_and_does_not_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_scenarios(tmp.path());
    let suite = dir.join("suite.yaml");
    let text = std::fs::read_to_string(&suite).unwrap();
    let extra = "    - scenario: subpath-configmap.yaml\n      policy: do-nothing\n      mustAct: true\n";
    std::fs::write(&suite, format!("{text}{extra}")).unwrap();
    let out = capsize(&["check", suite.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.lines().any(|l| l.contains("the policy acts") && l.contains("0 actions") && l.contains("FAIL")),
        "{text}"
    );
}

#[test]
fn an_invalid_suite_is_refused_with_its_location() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_scenarios(tmp.path());
    let suite = dir.join("suite.yaml");
    let text = std::fs::read_to_string(&suite).unwrap();
    std::fs::write(&suite, text.replace("\"i-web downtime <= 15m\"", "\"i-wbe downtime <= 15m\"")).unwrap();
    let out = capsize(&["check", suite.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("suite.yaml:") && err.contains("`i-wbe` is not a service of the scenario"), "{err}");
    std::fs::write(&suite, text.replace("\"i-web downtime <= 15m\"", "\"i-web downtime about 15m\"")).unwrap();
    let out = capsize(&["check", suite.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is not a comparison"), "{err}");
}

#[test]
fn update_baseline_rewrites_it_deliberately() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_scenarios(tmp.path());
    let baseline = dir.join("suite-baseline.json");
    std::fs::remove_file(&baseline).unwrap();
    let suite = dir.join("suite.yaml");
    let out = capsize(&["check", suite.to_str().unwrap(), "--update-baseline"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let written = std::fs::read_to_string(&baseline).unwrap();
    let shipped = std::fs::read_to_string(repo().join("scenarios/suite-baseline.json")).unwrap();
    assert_eq!(written, shipped, "the shipped baseline is what the suite gives today");
}

#[test]
fn a_missing_baseline_is_an_error_and_a_case_missing_from_it_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_scenarios(tmp.path());
    let suite = dir.join("suite.yaml");
    // The suite names a baseline that is not there: invalid input, not a silent pass.
    std::fs::remove_file(dir.join("suite-baseline.json")).unwrap();
    let out = capsize(&["check", suite.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("suite-baseline.json does not exist yet") && err.contains("--update-baseline` to create it"),
        "{err}"
    );
    // A case the baseline has never seen fails until the baseline is rewritten deliberately.
    std::fs::copy(repo().join("scenarios/suite-baseline.json"), dir.join("suite-baseline.json")).unwrap();
    let text = std::fs::read_to_string(&suite).unwrap();
    std::fs::write(
        &suite,
        text.replace(
            "      seeds: [7, 11]\n      expect: [\"i-web outages == 0\", \"blog-api outages == 0\"",
            "      seeds: [7, 12]\n      expect: [\"i-web outages == 0\", \"blog-api outages == 0\"",
        ),
    )
    .unwrap();
    let out = capsize(&["check", suite.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.lines().any(|l| l.contains("the case is in the baseline") && l.contains("seed 12") && l.contains("FAIL")),
        "{text}"
    );
}
