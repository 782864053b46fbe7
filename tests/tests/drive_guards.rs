//! The real-cluster mode's guards, without a cluster: a drive is refused (exit 2, nothing read
//! from any cluster) without an explicit context, for a context that is not a kind cluster
//! unless `--allow-context`, without a namespace, for a context the kubeconfig lacks, and for a
//! policy that patches the scenario; a rollback refuses a file that is not a journal.

use capsize_tests::capsize;

const DRILL: &str = "tests/scenarios/e2e-drill.yaml";

fn refused(args: &[&str], expected: &str) {
    let out = capsize(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: expected `{expected}` in {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed a plan");
}

#[test]
fn a_drive_needs_an_explicit_kind_context_and_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    // A kubeconfig whose current context is a kind cluster: it is never used by default.
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\ncurrent-context: kind-default\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\"}\n\
         contexts:\n- name: kind-default\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {token: t}\n",
    )
    .unwrap();
    let kc = kc.to_str().unwrap();
    refused(&["drive", DRILL, "--kubeconfig", kc, "-n", "shop"], "name the cluster with --context");
    refused(&["fidelity", DRILL, "--kubeconfig", kc, "-n", "shop"], "name the cluster with --context");
    refused(&["drive", DRILL, "--kubeconfig", kc, "--context", "prod-eu", "-n", "shop"], "add --allow-context");
    refused(&["drive", DRILL, "--kubeconfig", kc, "--context", "kind-default"], "--namespace");
    refused(
        &["drive", DRILL, "--kubeconfig", kc, "--context", "kind-other", "-n", "shop"],
        "no context named `kind-other`",
    );
    refused(
        &[
            "drive",
            "scenarios/subpath-configmap.yaml",
            "--kubeconfig",
            kc,
            "--context",
            "kind-default",
            "-n",
            "blog",
            "--policy",
            "projected-volumes",
        ],
        "patches the scenario",
    );
    refused(
        &["drive", DRILL, "--kubeconfig", kc, "--context", "kind-default", "-n", "shop", "--node", "worker-1"],
        "--node worker-1",
    );
}

#[test]
fn a_rollback_refuses_what_is_not_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("not-a-journal");
    std::fs::write(&f, "{\"hello\": 1}\n").unwrap();
    refused(&["rollback", f.to_str().unwrap()], "not a capsize journal");
    refused(&["rollback", dir.path().join("missing").to_str().unwrap()], "cannot read it");
}

#[test]
fn the_shipped_node_commands_for_kind_validate_and_a_typo_is_located() {
    let out = capsize(&["validate", "docs/node-commands-kind.yaml"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("NodeCommands, 13 commands"));
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(&f, "apiVersion: capsize.dev/v1alpha1\nkind: NodeCommands\nmetadata: {name: x}\nspec:\n  commands:\n    kubeletDown: {run: a, undoo: b}\n").unwrap();
    let out = capsize(&["validate", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.yaml:6:") && stderr.contains("undoo"), "{stderr}");
}
