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

/// Whether process `pid` still runs (a zombie waiting for its reaper does not).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses: `123 (sleep) S ...`.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// A plug-in that starts a long-lived helper (a grandchild of capsize), writes the helper's pid
/// where the test can read it, and then answers every observation with no actions, or never.
fn forking_plugin(dir: &std::path::Path, name: &str, answer: bool) -> (std::path::PathBuf, std::path::PathBuf) {
    let pid_file = dir.join(format!("{name}.pid"));
    let body = if answer {
        "for line in sys.stdin:\n    print(json.dumps({'actions': []}), flush=True)\n"
    } else {
        "sys.stdin.readline()\ntime.sleep(120)\n"
    };
    let script = format!(
        "import json, subprocess, sys, time\nhelper = subprocess.Popen(['sleep', '300'])\n\
         open({pid:?} + '.tmp', 'w').write(str(helper.pid))\nimport os\nos.rename({pid:?} + '.tmp', {pid:?})\n{body}",
        pid = pid_file.to_str().unwrap()
    );
    (plugin_policy(dir, name, &script, "30s"), pid_file)
}

fn read_pid(pid_file: &std::path::Path) -> u32 {
    for _ in 0..500 {
        if let Ok(s) = std::fs::read_to_string(pid_file) {
            return s.trim().parse().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the plug-in never wrote its helper's pid to {}", pid_file.display());
}

#[test]
fn nothing_a_plugin_started_outlives_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let (policy, pid_file) = forking_plugin(dir.path(), "forker", true);
    let out = capsize(&["run", SCENARIO, "--policy", policy.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let helper = read_pid(&pid_file);
    assert!(!alive(helper), "the plug-in's helper (pid {helper}) outlived the run");
}

#[test]
fn nothing_a_plugin_started_outlives_an_interrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let (policy, pid_file) = forking_plugin(dir.path(), "stuck", false);
    let mut child = std::process::Command::new(capsize_tests::binary())
        .args(["run", SCENARIO, "--policy", policy.to_str().unwrap()])
        .current_dir(repo())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let helper = read_pid(&pid_file);
    assert!(alive(helper), "the helper runs while capsize waits for the plug-in's answer");
    // Ctrl-C, as a terminal sends it to capsize (the plug-in is in a group of its own now).
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "an interrupted run does not succeed: {status}");
    for _ in 0..200 {
        if !alive(helper) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the plug-in's helper (pid {helper}) outlived the interrupted run");
}
