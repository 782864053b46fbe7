//! The Indexed Job in `docs/sweep-on-kubernetes`: its shard counts agree, and its commands, run
//! here as the Job's pods would run them, merge into the unsharded sweep byte for byte.

use std::path::Path;
use std::process::Command;

use serde::Deserialize;

use capsize_tests::{binary, capsize, repo};

fn documents(path: &str) -> Vec<serde_yaml::Value> {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    serde_yaml::Deserializer::from_str(&text).map(|d| serde_yaml::Value::deserialize(d).unwrap()).collect()
}

fn job<'a>(docs: &'a [serde_yaml::Value], name: &str) -> &'a serde_yaml::Value {
    docs.iter().find(|d| d["kind"] == "Job" && d["metadata"]["name"] == name).unwrap()
}

fn shell_line(job: &serde_yaml::Value) -> String {
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"][0], "/bin/sh");
    c["args"][0].as_str().unwrap().to_string()
}

/// Runs a container's shell line here: `/input` and `/results` become local directories.
fn run_here(line: &str, input: &Path, results: &Path, index: Option<u64>) -> Vec<u8> {
    let line = line.replace("/input", input.to_str().unwrap()).replace("/results", results.to_str().unwrap());
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(&line).env("PATH", format!("{}:/usr/bin:/bin", binary().parent().unwrap().display()));
    if let Some(i) = index {
        cmd.env("JOB_COMPLETION_INDEX", i.to_string());
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{line}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn the_indexed_job_and_its_merge_give_the_unsharded_sweep() {
    let sweep_docs = documents("docs/sweep-on-kubernetes/sweep-job.yaml");
    let merge_docs = documents("docs/sweep-on-kubernetes/merge-job.yaml");
    let sweep = job(&sweep_docs, "capsize-sweep");
    let merge = job(&merge_docs, "capsize-merge");
    // They are well-typed Kubernetes objects (k8s-openapi's types, as the API server reads them).
    let typed: k8s_openapi::api::batch::v1::Job = serde_yaml::from_value(sweep.clone()).unwrap();
    assert_eq!(typed.spec.as_ref().and_then(|s| s.completion_mode.as_deref()), Some("Indexed"));
    let _: k8s_openapi::api::batch::v1::Job = serde_yaml::from_value(merge.clone()).unwrap();
    let pvc = sweep_docs.iter().find(|d| d["kind"] == "PersistentVolumeClaim").unwrap();
    let _: k8s_openapi::api::core::v1::PersistentVolumeClaim = serde_yaml::from_value(pvc.clone()).unwrap();
    assert_eq!(sweep["spec"]["completionMode"], "Indexed");
    let n = sweep["spec"]["completions"].as_u64().unwrap();
    assert_eq!(sweep["spec"]["parallelism"].as_u64(), Some(n));
    let line = shell_line(sweep);
    assert!(line.contains(&format!("--shard \"$JOB_COMPLETION_INDEX/{n}\"")), "{line}");
    let merge_line = shell_line(merge);
    for i in 0..n {
        assert!(merge_line.contains(&format!("/results/part-{i}.json")), "{merge_line}");
    }
    assert!(!merge_line.contains(&format!("part-{n}.json")));
    // Both mount the same claim.
    let claim = |j: &serde_yaml::Value| {
        j["spec"]["template"]["spec"]["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str().map(str::to_string))
    };
    assert_eq!(claim(sweep), claim(merge));
    assert!(claim(sweep).is_some());

    // The ConfigMap's layout, built from the repository's files.
    let input = tempfile::tempdir().unwrap();
    let results = tempfile::tempdir().unwrap();
    let items = sweep["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find_map(|v| v["configMap"]["items"].as_sequence())
        .unwrap();
    for item in items {
        let (key, path) = (item["key"].as_str().unwrap(), item["path"].as_str().unwrap());
        let source = if key == "scenario.yaml" {
            repo().join("scenarios/subpath-configmap.yaml")
        } else {
            repo().join("scenarios").join(path)
        };
        let dest = input.path().join(path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&source, &dest).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    }
    // Fewer runs than the manifest's, the same commands otherwise.
    let line = line.replace("--runs 100000", "--runs 300");
    assert_ne!(line, shell_line(sweep), "the manifest's run count moved: update this test");
    for i in 0..n {
        run_here(&line, input.path(), results.path(), Some(i));
    }
    let merged = run_here(&merge_line, input.path(), results.path(), None);
    let scenario = input.path().join("scenario.yaml");
    let whole = capsize(&["sweep", scenario.to_str().unwrap(), "--runs", "300", "--seed", "7", "--format", "json"]);
    assert!(whole.status.success());
    assert_eq!(String::from_utf8(merged).unwrap(), String::from_utf8(whole.stdout).unwrap());
}
