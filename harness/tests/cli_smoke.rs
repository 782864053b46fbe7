//! The binary starts, reports its version, and refuses bad usage with exit code 2.
//! (Its presence also makes `cargo test --workspace` build the binary that the end-to-end tests
//! in `tests/` run.)

use std::process::Command;

#[test]
fn version_and_usage_errors() {
    let bin = env!("CARGO_BIN_EXE_capsize");
    let v = Command::new(bin).arg("--version").output().unwrap();
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("capsize "));
    let bad = Command::new(bin).arg("frobnicate").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let missing = Command::new(bin).args(["validate", "/nonexistent/scenario.yaml"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/scenario.yaml"));
}
