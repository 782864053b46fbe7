//! Policy plug-ins over JSON lines: the Python example reproduces a built-in policy exactly;
//! a plug-in that crashes, hangs or answers nonsense ends its run with an error that names it,
//! and the other runs of a compare go on.

use capsize_tests::{capsize, repo};
use serde_json::Value;

const SCENARIO: &str = "scenarios/subpath-configmap.yaml";
const PLUGIN: &str = "scenarios/policies/subpath-configmap/plugin-auto-delete.yaml";

/// A run's JSON with what names the policy blanked out (its name, who took each action).
fn anonymous(mut v: Value) -> Value {
    v["policy"] = Value::Null;
    let mut actors = Vec::new();
    for a in v["actions"].as_array_mut().unwrap() {
        actors.push(a["by"].clone());
        a["by"] = Value::Null;
    }
    for e in v["timeline"].as_array_mut().unwrap() {
        if actors.contains(&e["object"]) {
            e["object"] = Value::Null;
        }
    }
    v
}

fn run_json(policy: &str, seed: &str) -> Value {
    let out = capsize(&["run", SCENARIO, "--policy", policy, "--seed", seed, "--format", "json", "--timeline"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_python_example_reproduces_the_built_in_policy_exactly() {
    for seed in ["7", "11", "3"] {
        let builtin = run_json("auto-delete-crashloop", seed);
        let plugin = run_json(PLUGIN, seed);
        assert!(!plugin["actions"].as_array().unwrap().is_empty(), "it acts");
        // Compared whole, timeline included; only a summary is printed when they differ.
        let (a, b) = (anonymous(plugin), anonymous(builtin));
        assert!(
            a == b,
            "seed {seed}: the plug-in's run differs from the built-in's: {} vs {} actions",
            a["actions"],
            b["actions"]
        );
    }
}

/// A policy file for a plug-in whose program is `script` (Python), with `timeout`.
fn plugin_policy(dir: &std::path::Path, name: &str, script: &str, timeout: &str) -> std::path::PathBuf {
    std::fs::write(dir.join(format!("{name}.py")), script).unwrap();
    let policy = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &policy,
        format!(
            "apiVersion: capsize.dev/v1alpha1\nkind: Policy\nmetadata: {{name: {name}}}\nspec:\n  external:\n    \
             command: [python3, {name}.py]\n    timeout: {timeout}\n"
        ),
    )
    .unwrap();
    policy
}

/// `compare` with the built-in policy and the broken plug-in: exit 1, the plug-in's run carries
/// the error, the other run is whole.
fn broken(name: &str, script: &str, timeout: &str, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let policy = plugin_policy(dir.path(), name, script, timeout);
    let out = capsize(&[
        "compare",
        SCENARIO,
        "--policy",
        "auto-delete-crashloop",
        "--policy",
        policy.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert!(runs[0].get("error").is_none(), "the built-in run is unaffected");
    assert_eq!(runs[0]["duration_s"].as_f64().unwrap(), 9.0 * 3600.0);
    let error = runs[1]["error"].as_str().expect("the plug-in's run carries an error");
    assert!(error.contains(&format!("plug-in `{name}`")), "names the plug-in: {error}");
    for e in expect {
        assert!(error.contains(e), "`{e}` in: {error}");
    }
    assert!(stderr.contains(error), "and says so on stderr: {stderr}");
}

#[test]
fn a_plugin_that_crashes_ends_its_run_only() {
    broken(
        "crasher",
        "import sys\nsys.stdin.readline()\nprint('boom: cannot parse the cluster', file=sys.stderr)\nsys.exit(3)\n",
        "5s",
        &["closed its output without answering", "exit status: 3", "boom: cannot parse the cluster"],
    );
}

#[test]
fn a_plugin_that_hangs_is_killed_at_its_time_limit() {
    broken(
        "sleeper",
        "import sys, time\nsys.stdin.readline()\ntime.sleep(60)\n",
        "1s",
        &["did not answer within 1s", "(killed)"],
    );
}

#[test]
fn a_plugin_that_answers_malformed_json_is_quoted() {
    broken(
        "garbler",
        "import sys\nfor line in sys.stdin:\n    print('{\"actions\": [oops', flush=True)\n",
        "5s",
        &["answered at 00:", "`{\"actions\": [oops`", "not a valid answer"],
    );
}

#[test]
fn a_plugin_that_asks_for_an_unknown_action_is_refused() {
    broken(
        "dreamer",
        "import sys, json\nfor line in sys.stdin:\n    print(json.dumps({'actions': [{'rebootTheInternet': {}}]}), flush=True)\n",
        "5s",
        &["rebootTheInternet", "unknown variant"],
    );
}

#[test]
fn the_protocol_schema_in_docs_is_what_capsize_prints() {
    let out = capsize(&["schema", "--kind", "plugin"]);
    assert!(out.status.success());
    let shipped = std::fs::read_to_string(repo().join("docs/plugin-protocol.schema.json")).unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        shipped,
        "regenerate with `capsize schema --kind plugin --out docs/plugin-protocol.schema.json`"
    );
}
