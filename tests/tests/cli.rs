//! The command line as people use it: validation, defaults, output files, errors in policies.

use capsize_tests::{capsize, capsize_json, repo};

#[test]
fn every_shipped_scenario_validates_with_its_policies() {
    let mut files: Vec<String> = std::fs::read_dir(repo().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.strip_prefix(repo()).unwrap().to_str().unwrap().to_string())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let out = capsize(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), files.len());
}

#[test]
fn run_uses_the_first_listed_policy_by_default() {
    let r = capsize_json(&["run", "scenarios/subpath-configmap.yaml", "--format", "json"]);
    assert_eq!(r["policy"], "as-happened");
}

#[test]
fn out_writes_the_whole_result_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("result.json");
    let out =
        capsize(&["run", "scenarios/subpath-configmap.yaml", "--format", "json", "--out", path.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["scenario"], "subpath-configmap");
    // Nothing but the result is left behind (the temporary file was renamed).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_unknown_policy_name_lists_the_known_ones() {
    let out = capsize(&["run", "scenarios/subpath-configmap.yaml", "--policy", "pray"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no policy `pray`") && err.contains("as-happened, do-nothing"), "{err}");
}

fn policy_error(policy_text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, policy_text).unwrap();
    let out = capsize(&["run", "scenarios/subpath-configmap.yaml", "--policy", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).replace(path.to_str().unwrap(), "policy.yaml")
}

#[test]
fn policy_references_are_checked_against_the_scenario() {
    let err = policy_error(
        "apiVersion: capsize.dev/v1alpha1\nkind: Policy\nmetadata: {name: p}\nspec:\n  rules:\n    - name: r\n      when: {alert: {name: Paging}}\n      do: [{deletePods: {status: CrashLoopBackOff}}]\n",
    );
    assert!(err.contains("policy.yaml:7:28: the scenario has no alert rule named `Paging`"), "{err}");
}

#[test]
fn rules_that_could_never_fire_are_refused() {
    let err = policy_error(
        "apiVersion: capsize.dev/v1alpha1\nkind: Policy\nmetadata: {name: p}\nspec:\n  rules:\n    - name: r\n      when: {alert: {name: ServiceDown, target: iweb}}\n      do: [{deletePods: {status: CrashLoopBackOff}}]\n",
    );
    assert!(
        err.contains("policy.yaml:7:49: `ServiceDown` fires per service, and the scenario has no service named `iweb`"),
        "{err}"
    );
    let err = policy_error(
        "apiVersion: capsize.dev/v1alpha1\nkind: Policy\nmetadata: {name: p}\nspec:\n  rules:\n    - name: r\n      when: {at: \"+10h\"}\n      do: [{deletePods: {status: CrashLoopBackOff}}]\n",
    );
    assert!(err.contains("policy.yaml:7:18:") && err.contains("would never fire"), "{err}");
}

#[test]
fn an_invalid_patch_is_reported_in_the_policy_file() {
    let err = policy_error(
        "apiVersion: capsize.dev/v1alpha1\nkind: Policy\nmetadata: {name: p}\nspec:\n  patch:\n    cluster:\n      workloads:\n        - name: i-web\n          replicas: -3\n",
    );
    assert!(err.contains("policy.yaml:9:21:"), "{err}");
    let err = policy_error(
        "apiVersion: capsize.dev/v1alpha1\nkind: Policy\nmetadata: {name: p}\nspec:\n  patch:\n    cluster:\n      workloads:\n        - name: i-web\n          readinessProbe: {calls: [nothing]}\n",
    );
    assert!(err.contains("policy.yaml:9:36:") && err.contains("no service has that name"), "{err}");
}

#[test]
fn compare_table_snapshot() {
    let out = capsize(&["compare", "scenarios/subpath-configmap.yaml"]);
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

#[test]
fn runtime_actions_must_match_the_nodes_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let policy = |action: &str| {
        let path = dir.path().join(format!("{action}.yaml"));
        std::fs::write(
            &path,
            format!(
                "apiVersion: capsize.dev/v1alpha1\nkind: Policy\nmetadata: {{name: p}}\nspec:\n  rules:\n    - name: r\n      \
                 when: {{nodes: {{condition: NotReady, for: 1m}}}}\n      do:\n        - {action}: {{}}\n"
            ),
        )
        .unwrap();
        path
    };
    // Kubernetes 1.30: containerd, so `restartDocker` is refused and `restartRuntime` taken.
    let docker = policy("restartDocker");
    let out = capsize(&["run", "tests/scenarios/redis-drill.yaml", "--policy", docker.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:9:26: ", docker.display())) && err.contains("write `restartRuntime`"), "{err}");
    let runtime = policy("restartRuntime");
    let out = capsize(&["run", "tests/scenarios/redis-drill.yaml", "--policy", runtime.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Kubernetes 1.20 (incident D): docker, so the other way round.
    let out = capsize(&["run", "scenarios/node-notready-pleg.yaml", "--policy", runtime.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("write `restartDocker`"));
}

#[test]
fn a_policy_named_twice_runs_once_and_do_nothing_is_built_in() {
    let r = capsize_json(&[
        "compare",
        "scenarios/subpath-configmap.yaml",
        "--policy",
        "as-happened",
        "--policy",
        "as-happened",
        "--policy",
        "scenarios/policies/subpath-configmap/as-happened.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(r["runs"].as_array().unwrap().len(), 1, "{}", r["runs"]);
    // The Redis drill lists only its own policy; `do-nothing` needs no file.
    let r = capsize_json(&["run", "tests/scenarios/redis-drill.yaml", "--policy", "do-nothing", "--format", "json"]);
    assert_eq!(r["policy"], "do-nothing");
    assert!(r["actions"].as_array().unwrap().is_empty());
}

#[test]
fn an_ongoing_period_is_called_ongoing_everywhere() {
    // Incident B's fallback policies leave a spot node NotReady from 21:00 to the end of the day.
    let table = capsize(&["compare", "scenarios/spot-stockout-dns.yaml", "--policy", "on-demand-fallback"]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("00:00:00 (ongoing)") && !table.contains("(still)"), "{table}");
    let html =
        capsize(&["compare", "scenarios/spot-stockout-dns.yaml", "--policy", "on-demand-fallback", "--format", "html"]);
    let html = String::from_utf8(html.stdout).unwrap();
    assert!(html.contains("(ongoing)") && !html.contains("(still)"));
}
