//! `capsize init NAME`: a commented starter drill (one scenario, two policies, a suite) that
//! validates and runs as written, for a new user to change into their own.

use std::path::{Path, PathBuf};

const SCENARIO: &str = include_str!("init/scenario.yaml");
const POLICY: &str = include_str!("init/policy.yaml");
const SUITE: &str = include_str!("init/suite.yaml");

/// Writes the starter files into `dir` (which must not exist, or be empty); returns them.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, String> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !empty {
            return Err(format!("{} exists and is not empty: `capsize init` writes a new directory", dir.display()));
        }
    }
    // The directory's name, as a resource name (lowercase letters, digits, '-').
    let raw = dir.file_name().and_then(|n| n.to_str()).unwrap_or("drill");
    let mut name: String =
        raw.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    name = name.trim_matches('-').to_string();
    if name.is_empty() {
        name = "drill".into();
    }
    name.truncate(63);
    let files = [
        (dir.join("scenario.yaml"), SCENARIO.replace("{{name}}", &name)),
        (dir.join("policies").join("force-delete-when-paged.yaml"), POLICY.to_string()),
        (dir.join("suite.yaml"), SUITE.replace("{{name}}", &name)),
    ];
    std::fs::create_dir_all(dir.join("policies")).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (path, text) in &files {
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}
