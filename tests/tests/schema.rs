//! `capsize schema` describes every file capsize reads: each scenario, policy and suite in
//! `scenarios/` validates against it, and a typo an editor should flag does not.

use std::path::{Path, PathBuf};

use capsize_tests::{capsize, repo};

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(yaml_files(&p));
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn schema() -> serde_json::Value {
    let out = capsize(&["schema"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

fn as_json(path: &Path) -> serde_json::Value {
    let y: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::to_value(y).unwrap()
}

#[test]
fn every_shipped_file_validates_against_the_schema() {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let mut files = yaml_files(&repo().join("scenarios"));
    assert!(files.len() >= 25, "scenarios, policies and the suite: {}", files.len());
    files.extend(yaml_files(&repo().join("tests/scenarios")));
    files.push(repo().join("docs/node-commands-kind.yaml"));
    for f in files {
        let doc = as_json(&f);
        let errors: Vec<String> =
            validator.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{}:\n{}", f.display(), errors.join("\n"));
    }
}

#[test]
fn the_schema_refuses_what_the_loader_refuses() {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let base = as_json(&repo().join("scenarios/node-notready-pleg.yaml"));
    let mut typo = base.clone();
    typo["spec"]["cluster"]["nodes"][0]["liveRestor"] = true.into();
    assert!(!validator.is_valid(&typo), "an unknown field");
    let mut bad_fault = base.clone();
    bad_fault["spec"]["faults"][0] = serde_json::json!({"dockerHang": {"at": "10:00", "node": "worker-2"}});
    assert!(!validator.is_valid(&bad_fault), "an unknown fault kind");
    let mut bad_duration = base.clone();
    bad_duration["spec"]["duration"] = "3 hours".into();
    assert!(!validator.is_valid(&bad_duration), "a duration without a unit");
    let mut wrong_kind = base;
    wrong_kind["kind"] = "Scenery".into();
    assert!(!validator.is_valid(&wrong_kind), "the kind");
    let policy = as_json(&repo().join("scenarios/policies/runbook-ladder.yaml"));
    let mut bad = policy.clone();
    bad["spec"]["rules"][0]["ladder"][0]["do"][0] = serde_json::json!({"restartKubelte": {}});
    assert!(!validator.is_valid(&bad), "an unknown action");
    let mut bad = policy;
    bad["spec"]["rules"][0]["when"]["nodes"]["anyCondition"][0] = "NotReddy".into();
    assert!(!validator.is_valid(&bad), "an unknown condition");
}
