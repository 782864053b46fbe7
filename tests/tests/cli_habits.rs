//! What a user expects of a command-line tool: files created as any program creates them,
//! `-` for standard input, directories validated whole, a starter drill, messages that say
//! what to do, counts in the right number.

use std::io::Write;
use std::process::{Command, Stdio};

use capsize_tests::{binary, capsize, repo};

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[cfg(unix)]
#[test]
fn out_files_get_the_usual_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("result.json");
    // Under a umask of 022 a new file is 0644 (a temporary file would be 0600).
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 022; exec '{}' run scenarios/subpath-configmap.yaml --format json --out '{}'",
            binary().display(),
            out.display()
        ))
        .current_dir(repo())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o644);
}

fn with_stdin(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new(binary())
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_dash_reads_standard_input() {
    // (Relative paths in a file read from standard input are relative to the current directory.)
    let scenario = b"apiVersion: capsize.dev/v1alpha1\nkind: Scenario\nmetadata: {name: piped}\nspec:\n  start: \"2024-01-01T00:00:00\"\n  duration: 10m\n  cluster:\n    nodes: [{pool: w, count: 1, cpu: \"2\", memory: 4Gi}]\n    workloads: [{name: web, requests: {cpu: 100m, memory: 64Mi}, capacityRps: 10}]\n    services: [{name: web, selector: {app: web}}]\n";
    let scenario = &scenario[..];
    let out = with_stdin(&["validate", "-"], scenario);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ok: -"), "{}", text(&out));
    let out = with_stdin(&["run", "-", "--policy", "do-nothing", "--format", "json"], scenario);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["policy"], "do-nothing");
    // Errors on standard input are located like any others.
    let out = with_stdin(
        &["validate", "-"],
        b"apiVersion: capsize.dev/v1alpha1\nkind: Scenario\nmetadata: {name: x}\nspec: {durration: 1h}\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("-:4:"), "{}", text(&out));
}

#[test]
fn validate_takes_a_directory() {
    let out = capsize(&["validate", "scenarios"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    // Every YAML file below it, the policies included.
    let yaml = t.lines().filter(|l| l.starts_with("ok: ")).count();
    assert!(yaml >= 30, "{t}");
    assert!(t.contains("ok: scenarios/policies/runbook-ladder.yaml"), "{t}");
    // A directory of broken files: every one reported, exit 2.
    let out = capsize(&["validate", "tests/malformed"]);
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(t.contains("tests/malformed/bad-yaml.yaml") && t.contains("tests/malformed/warmup-from-zero.yaml"), "{t}");
}

#[test]
fn a_missing_baseline_says_how_to_make_it() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite.yaml");
    let scenario = repo().join("tests/scenarios/redis-drill.yaml");
    std::fs::write(
        &suite,
        format!(
            "apiVersion: capsize.dev/v1alpha1\nkind: Suite\nmetadata: {{name: s}}\nspec:\n  baseline: baseline.json\n  cases:\n    - scenario: {}\n      policy: do-nothing\n",
            scenario.display()
        ),
    )
    .unwrap();
    let out = capsize(&["check", suite.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("suite.yaml:5:") && t.contains("--update-baseline` to create it"), "{t}");
    // Made as it says, it passes.
    assert!(capsize(&["check", suite.to_str().unwrap(), "--update-baseline"]).status.success());
    assert!(capsize(&["check", suite.to_str().unwrap()]).status.success());
}

#[test]
fn init_writes_a_drill_that_validates_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let drill = dir.path().join("My Drill");
    let out = capsize(&["init", drill.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(drill.join("scenario.yaml").is_file() && drill.join("policies/force-delete-when-paged.yaml").is_file());
    let out = capsize(&["validate", drill.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Scenario my-drill, 2 policies"), "{}", text(&out));
    // Its suite holds as written, and the runbook makes the difference it claims.
    let out = capsize(&["check", drill.join("suite.yaml").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = capsize(&["compare", drill.join("scenario.yaml").to_str().unwrap(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let redis_down = |policy: &str| {
        let run = v["runs"].as_array().unwrap().iter().find(|r| r["policy"] == policy).unwrap();
        run["services"].as_array().unwrap().iter().find(|s| s["name"] == "redis").unwrap()["downtime_s"]
            .as_f64()
            .unwrap()
    };
    assert!(redis_down("force-delete-when-paged") < redis_down("do-nothing") - 600.0);
    // It never writes over anything.
    let out = capsize(&["init", drill.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("exists and is not empty"), "{}", text(&out));
}

#[test]
fn counts_take_the_right_number_and_help_says_what_capsize_is() {
    let out = capsize(&["validate", "scenarios/policies/subpath-configmap/paged-in-10-min.yaml"]);
    assert!(text(&out).contains("1 rule;"), "{}", text(&out));
    let out = capsize(&["--help"]);
    let t = text(&out);
    assert!(t.contains("replays Kubernetes and Docker Swarm incidents"), "{t}");
    assert!(!t.contains("Scenario and policy loading"), "{t}");
}

#[test]
fn a_share_can_be_written_as_a_percentage() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |share: &str, from: &str, below: &str| {
        format!(
            "apiVersion: capsize.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: pct}}\nspec:\n  start: \"2024-01-01T00:00:00\"\n  duration: 30m\n  slo: {{outageBelow: {below}}}\n  cluster:\n    nodes: [{{pool: w, count: 2, cpu: \"2\", memory: 4Gi}}]\n    workloads:\n      - {{name: web, replicas: 2, requests: {{cpu: 100m, memory: 64Mi}}, capacityRps: 100, warmup: {{duration: 1m, from: {from}}}, livenessProbe: {{}}}}\n      - {{name: db, requests: {{cpu: 100m, memory: 64Mi}}, capacityRps: 50, livenessProbe: {{}}}}\n    services:\n      - {{name: web, selector: {{app: web}}, calls: [{{service: db, share: {share}}}]}}\n      - {{name: db, selector: {{app: db}}}}\n  traffic: [{{service: web, rps: [[\"00:00\", 150]]}}]\n  faults: [{{containerCrash: {{at: \"00:05\", selector: {{app: web}}}}}}]\n"
        )
    };
    let run = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = capsize(&["run", path.to_str().unwrap(), "--policy", "do-nothing", "--format", "json"]);
        assert!(out.status.success(), "{}", text_of(&out));
        out.stdout
    };
    let fractions = run("a.yaml", scenario("0.3", "0.25", "0.5"));
    let percentages = run("b.yaml", scenario("\"30%\"", "25%", "50 %"));
    assert_eq!(fractions, percentages, "the same scenario, the same bytes");
    // Anything else is refused where it is written.
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, scenario("thirty%", "0.25", "0.5")).unwrap();
    let out = capsize(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text_of(&out).contains("c.yaml:14:") && text_of(&out).contains("expected a share"), "{}", text_of(&out));
}

fn text_of(out: &std::process::Output) -> String {
    text(out)
}
