//! Loading scenario and policy files, with errors for people: every problem names the file, the
//! line and column, and what was expected.
//!
//! Sizes are checked before anything is read into memory or built: a file over
//! [`MAX_FILE_BYTES`] is refused from its metadata, and the scenario's counts (nodes, pods,
//! faults, curve points) are validated before the simulator allocates anything for them.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use capsize_sim::spec::API_VERSION;
use capsize_sim::time::SimDuration;
use capsize_sim::{PathSeg, Scenario, SpecError};

use crate::external::ExternalPolicy;
use crate::patch;
use crate::policy::{PolicyFile, RulePolicy, check_rules};
use crate::yaml::{self, Value, YamlError};

/// Largest scenario or policy file read: 4 MiB (the largest shipped scenario is a few KiB).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// One problem in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when the problem has a place.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
    /// The line of the file, for the caret display.
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// A problem with a command-line flag (no file to point into).
    pub fn flag(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: PathBuf::from("command line"),
            line: None,
            column: None,
            message: message.into(),
            source_line: None,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "error: {file}:{l}:{c}: {}", self.message)?,
            (Some(l), None) => write!(f, "error: {file}:{l}: {}", self.message)?,
            _ => write!(f, "error: {file}: {}", self.message)?,
        }
        if let (Some(src), Some(l), Some(c)) = (&self.source_line, self.line, self.column) {
            let gutter = l.to_string().len();
            write!(f, "\n{:gutter$} |\n{l} | {src}\n{:gutter$} | {:>c$}", "", "", "^")?;
        }
        Ok(())
    }
}

/// Why a file could not be used: one or more diagnostics.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// Every problem found, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadError {
    /// One problem with a command-line flag.
    pub fn flag(message: impl Into<String>) -> LoadError {
        LoadError { diagnostics: vec![Diagnostic::flag(message)] }
    }

    /// One problem with a whole file (no place in it).
    pub fn in_file(path: &Path, message: impl Into<String>) -> LoadError {
        LoadError { diagnostics: vec![bare(path, message.into())] }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A file read into memory.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Where it came from.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

impl SourceFile {
    /// A JSON file capsize wrote that does not parse as `what`: the place and the line.
    pub fn json_error(&self, e: &serde_json::Error, what: &str) -> LoadError {
        LoadError {
            diagnostics: vec![Diagnostic {
                file: self.path.clone(),
                line: Some(e.line()),
                column: Some(e.column()),
                message: format!("not {what}: {e}"),
                source_line: self.text.lines().nth(e.line().saturating_sub(1)).map(str::to_string),
            }],
        }
    }

    /// Reads `path`, refusing files over [`MAX_FILE_BYTES`] before reading them.
    pub fn read(path: &Path) -> Result<SourceFile, LoadError> {
        let fail = |message: String| LoadError { diagnostics: vec![bare(path, message)] };
        if path == Path::new("-") {
            // Standard input, read once (a command may read its file more than once) and no
            // more than the limit.
            static STDIN: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
            let text = STDIN.get_or_init(|| {
                use std::io::Read;
                let mut buf = Vec::new();
                std::io::stdin()
                    .lock()
                    .take(MAX_FILE_BYTES + 1)
                    .read_to_end(&mut buf)
                    .map_err(|e| format!("cannot read standard input: {e}"))?;
                if buf.len() as u64 > MAX_FILE_BYTES {
                    return Err(format!("standard input is over the limit of {MAX_FILE_BYTES} bytes (4 MiB)"));
                }
                String::from_utf8(buf).map_err(|e| {
                    format!(
                        "standard input is not UTF-8 (the first bad byte is at offset {})",
                        e.utf8_error().valid_up_to()
                    )
                })
            });
            return match text {
                Ok(t) => Ok(SourceFile { path: path.to_path_buf(), text: t.clone() }),
                Err(m) => Err(fail(m.clone())),
            };
        }
        let meta = fs::metadata(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
        if !meta.is_file() {
            return Err(fail("not a regular file".into()));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(fail(format!("the file is {} bytes; the limit is {MAX_FILE_BYTES} bytes (4 MiB)", meta.len())));
        }
        let text = fs::read_to_string(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
        Ok(SourceFile { path: path.to_path_buf(), text })
    }

    /// A diagnostic at `path` inside this file (at the file itself when the path is not found).
    pub fn at(&self, path: &[PathSeg], message: impl Into<String>) -> Diagnostic {
        let pos = yaml::locate(&self.text, path);
        self.diag(pos, message.into())
    }

    fn diag(&self, pos: Option<(usize, usize)>, message: String) -> Diagnostic {
        Diagnostic {
            file: self.path.clone(),
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
            source_line: pos.and_then(|(l, _)| self.text.lines().nth(l - 1)).map(str::to_string),
            message,
        }
    }

    /// A parse error of this file as a located diagnostic.
    pub fn yaml_diagnostic(&self, e: YamlError) -> Diagnostic {
        self.yaml_error(e)
    }

    fn yaml_error(&self, e: YamlError) -> Diagnostic {
        let pos = e.line.zip(e.column);
        let message = match &e.path {
            Some(p) => format!("{p}: {}", e.message),
            None => e.message.clone(),
        };
        self.diag(pos, message)
    }
}

fn bare(path: &Path, message: String) -> Diagnostic {
    Diagnostic { file: path.to_path_buf(), line: None, column: None, message, source_line: None }
}

/// The envelope every capsize file starts with.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    api_version: Option<String>,
    kind: Option<String>,
}

/// What kind of file this is, read from its envelope.
pub fn peek_kind(file: &SourceFile) -> Result<String, LoadError> {
    let env: Envelope = yaml::parse(&file.text).map_err(|e| LoadError { diagnostics: vec![file.yaml_error(e)] })?;
    match env.api_version.as_deref() {
        Some(API_VERSION) => {}
        Some(other) => {
            return Err(LoadError {
                diagnostics: vec![file.at(&[key("apiVersion")], format!("expected `{API_VERSION}`, found `{other}`"))],
            });
        }
        None => {
            return Err(LoadError {
                diagnostics: vec![file.diag(Some((1, 1)), format!("missing `apiVersion: {API_VERSION}`"))],
            });
        }
    }
    env.kind.ok_or_else(|| LoadError {
        diagnostics: vec![file.diag(Some((1, 1)), "missing `kind` (Scenario or Policy)".into())],
    })
}

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_string())
}

/// Reads a file of the given `kind` and parses it into `T`.
pub(crate) fn read_typed<T: serde::de::DeserializeOwned>(
    path: &Path,
    kind: &str,
) -> Result<(SourceFile, T), LoadError> {
    let file = SourceFile::read(path)?;
    let found = peek_kind(&file)?;
    if found != kind {
        return Err(LoadError {
            diagnostics: vec![file.at(&[key("kind")], format!("expected a {kind} file, found kind `{found}`"))],
        });
    }
    let value = yaml::parse(&file.text).map_err(|e| LoadError { diagnostics: vec![file.yaml_error(e)] })?;
    Ok((file, value))
}

/// A scenario file, parsed and validated.
#[derive(Clone, Debug)]
pub struct LoadedScenario {
    /// The file.
    pub file: SourceFile,
    /// Its document as a generic value (patches are merged into this).
    pub value: Value,
    /// Its typed contents.
    pub scenario: Scenario,
}

/// Reads, parses and validates a scenario file.
pub fn load_scenario(path: &Path) -> Result<LoadedScenario, LoadError> {
    let (file, scenario) = read_typed::<Scenario>(path, "Scenario")?;
    let value = yaml::parse_value(&file.text).map_err(|e| LoadError { diagnostics: vec![file.yaml_error(e)] })?;
    let mut diagnostics = match capsize_sim::validate(&scenario) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| file.at(&e.path, e.message)).collect(),
    };
    // Assumptions must point at values that exist, so they cannot silently go stale.
    let spec = value.get("spec").cloned().unwrap_or(Value::Null);
    for (i, a) in scenario.spec.assumptions.iter().enumerate() {
        if resolve_assumption(&spec, &a.path).is_none() {
            diagnostics.push(file.at(
                &yaml::parse_path(&format!("spec.assumptions[{i}].path")),
                format!(
                    "`{}` names no value in spec (write paths like cluster.workloads[blog-api].capacityRps)",
                    a.path
                ),
            ));
        }
    }
    // Listed policy files must exist (`do-nothing` is built in, unless a file of that name is there).
    let dir = path.parent().unwrap_or(Path::new("."));
    for (i, p) in scenario.spec.policies.iter().enumerate() {
        if !dir.join(p).is_file() && p != DO_NOTHING {
            diagnostics.push(file.at(
                &yaml::parse_path(&format!("spec.policies[{i}]")),
                format!("no policy file at `{}`", dir.join(p).display()),
            ));
        }
    }
    if !diagnostics.is_empty() {
        diagnostics.sort_by_key(|d| (d.line, d.column));
        return Err(LoadError { diagnostics });
    }
    Ok(LoadedScenario { file, value, scenario })
}

/// The value an assumption path names inside `spec`: keys, `[n]` indices and `[name]`
/// selections of list entries by `name`, `service` or `pool`.
pub fn resolve_assumption<'a>(spec: &'a Value, path: &str) -> Option<&'a Value> {
    let mut v = spec;
    for seg in yaml::parse_path(path) {
        v = match (seg, v) {
            (PathSeg::Index(i), Value::Sequence(s)) => s.get(i)?,
            (PathSeg::Key(k), Value::Sequence(s)) => s.iter().find(|x| {
                ["name", "service", "pool"].iter().any(|f| x.get(*f).and_then(Value::as_str) == Some(k.as_str()))
            })?,
            (PathSeg::Key(k), Value::Mapping(_)) => v.get(k.as_str())?,
            _ => return None,
        };
    }
    Some(v)
}

/// A policy file, parsed (checked against a scenario in [`prepare`]).
#[derive(Clone, Debug)]
pub struct LoadedPolicy {
    /// The file.
    pub file: SourceFile,
    /// Its contents.
    pub policy: PolicyFile,
}

/// Reads and parses a policy file.
pub fn load_policy(path: &Path) -> Result<LoadedPolicy, LoadError> {
    let (file, policy) = read_typed::<PolicyFile>(path, "Policy")?;
    if policy.metadata.name.trim().is_empty() {
        return Err(LoadError {
            diagnostics: vec![file.at(&yaml::parse_path("metadata.name"), "a policy needs a name")],
        });
    }
    if let Some(p) = &policy.spec.patch
        && !p.is_mapping()
    {
        return Err(LoadError {
            diagnostics: vec![file.at(&yaml::parse_path("spec.patch"), "a patch is a mapping of scenario spec fields")],
        });
    }
    // A plug-in's declaration is checked here, so `capsize validate` sees it.
    let mut diagnostics = Vec::new();
    if let Some(ext) = &policy.spec.external {
        if !policy.spec.rules.is_empty() {
            diagnostics.push(file.at(&yaml::parse_path("spec.external"), "a policy has rules or a plug-in, not both"));
        }
        if ext.command.is_empty() || ext.command[0].trim().is_empty() {
            diagnostics.push(file.at(&yaml::parse_path("spec.external.command"), "name the program to run"));
        }
        if ext.timeout.ms() == 0 || ext.timeout > SimDuration::hours(1) {
            diagnostics
                .push(file.at(&yaml::parse_path("spec.external.timeout"), "the time limit per answer is 1ms to 1h"));
        }
    }
    if !diagnostics.is_empty() {
        return Err(LoadError { diagnostics });
    }
    Ok(LoadedPolicy { file, policy })
}

/// A scenario with a policy applied: ready to run.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Policy name.
    pub policy_name: String,
    /// The scenario with the policy's patch merged in.
    pub scenario: Scenario,
    /// The policy's runtime: its rules, or its plug-in.
    pub policy: PolicyRt,
}

/// What decides during a run.
#[derive(Clone, Debug)]
pub enum PolicyRt {
    /// The policy file's rules.
    Rules(RulePolicy),
    /// A plug-in program.
    External(ExternalPolicy),
}

impl capsize_sim::Policy for PolicyRt {
    fn decide(&mut self, view: &dyn capsize_sim::policy::ClusterView) -> capsize_sim::Decision {
        match self {
            PolicyRt::Rules(r) => r.decide(view),
            PolicyRt::External(e) => e.decide(view),
        }
    }
}

/// Applies `policy` to `scenario`: merges its patch, re-validates the result, checks its rules.
/// An error in the merged scenario is reported in the policy file when the patch set the
/// value, else in the scenario file.
pub fn prepare(scenario: &LoadedScenario, policy: &LoadedPolicy) -> Result<Prepared, LoadError> {
    let mut diagnostics = Vec::new();
    let merged_scenario = match &policy.policy.spec.patch {
        None => scenario.scenario.clone(),
        Some(p) => {
            let mut merged = scenario.value.clone();
            if let Some(spec) = merged.get_mut("spec") {
                patch::merge(spec, p);
            }
            let place = |path: &[PathSeg], message: String| -> Diagnostic {
                let spec_path = match path.split_first() {
                    Some((PathSeg::Key(k), rest)) if k == "spec" => rest,
                    _ => path,
                };
                let merged_spec = merged.get("spec").unwrap_or(&Value::Null);
                match patch::path_in_patch(merged_spec, p, spec_path) {
                    Some(inner) => {
                        let mut full = yaml::parse_path("spec.patch");
                        full.extend(inner);
                        policy.file.at(&full, format!("{message} (after merging this patch)"))
                    }
                    None => scenario
                        .file
                        .at(path, format!("{message} (with policy `{}` applied)", policy.policy.metadata.name)),
                }
            };
            match yaml::from_value::<Scenario>(&merged) {
                Err(e) => {
                    let path = e.path.as_deref().map(yaml::parse_path).unwrap_or_default();
                    return Err(LoadError { diagnostics: vec![place(&path, e.message)] });
                }
                Ok(s) => {
                    if let Err(errors) = capsize_sim::validate(&s) {
                        diagnostics.extend(errors.into_iter().map(|e: SpecError| place(&e.path, e.message)));
                    }
                    s
                }
            }
        }
    };
    for (path, message) in check_rules(&policy.policy.spec.rules, &merged_scenario) {
        diagnostics.push(policy.file.at(&yaml::parse_path(&path), message));
    }
    if !diagnostics.is_empty() {
        return Err(LoadError { diagnostics });
    }
    Ok(Prepared {
        policy_name: policy.policy.metadata.name.clone(),
        policy: match &policy.policy.spec.external {
            Some(ext) => PolicyRt::External(ExternalPolicy::new(&policy.policy.metadata.name, ext, &policy.file.path)),
            None => PolicyRt::Rules(RulePolicy::new(&policy.policy.spec.rules, &merged_scenario.spec.start)),
        },
        scenario: merged_scenario,
    })
}

/// The name of the built-in policy that never acts: `--policy do-nothing` works with any
/// scenario, listed or not.
pub const DO_NOTHING: &str = "do-nothing";

/// The built-in `do-nothing` policy: no patch, no rules.
pub fn do_nothing_policy() -> LoadedPolicy {
    let text = format!(
        "apiVersion: {}\nkind: Policy\nmetadata:\n  name: {DO_NOTHING}\n  description: the built-in policy that never acts\nspec: {{}}\n",
        capsize_sim::spec::API_VERSION
    );
    let policy = yaml::parse(&text).expect("the built-in policy parses");
    LoadedPolicy { file: SourceFile { path: PathBuf::from("(built-in do-nothing)"), text }, policy }
}

/// The policies to run: those named (a file path, the name of one the scenario lists, or the
/// built-in `do-nothing`), each once in the order first named, or every policy the scenario
/// lists when none is named.
pub fn select_policies(scenario: &LoadedScenario, wanted: &[String]) -> Result<Vec<LoadedPolicy>, LoadError> {
    let dir = scenario.file.path.parent().unwrap_or(Path::new("."));
    let listed: Vec<LoadedPolicy> = scenario
        .scenario
        .spec
        .policies
        .iter()
        .map(|p| {
            if p == DO_NOTHING && !dir.join(p).is_file() { Ok(do_nothing_policy()) } else { load_policy(&dir.join(p)) }
        })
        .collect::<Result<_, _>>()?;
    if wanted.is_empty() {
        if listed.is_empty() {
            return Err(LoadError {
                diagnostics: vec![bare(
                    &scenario.file.path,
                    "the scenario lists no policies; name one with --policy (`--policy do-nothing` is built in)".into(),
                )],
            });
        }
        return Ok(listed);
    }
    let chosen = wanted
        .iter()
        .map(|w| {
            let as_path = Path::new(w);
            if as_path.is_file() {
                return load_policy(as_path);
            }
            if w == DO_NOTHING && !listed.iter().any(|p| p.policy.metadata.name == *w) {
                return Ok(do_nothing_policy());
            }
            listed.iter().find(|p| p.policy.metadata.name == *w).cloned().ok_or_else(|| {
                let names: Vec<&str> = listed.iter().map(|p| p.policy.metadata.name.as_str()).collect();
                LoadError {
                    diagnostics: vec![bare(
                        &scenario.file.path,
                        format!(
                            "no policy `{w}`: it is neither a file nor a policy this scenario lists ({})",
                            if names.is_empty() { "none".to_string() } else { names.join(", ") }
                        ),
                    )],
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // A policy named twice (by name, or by name and by file) runs once.
    let mut names: Vec<String> = Vec::new();
    Ok(chosen
        .into_iter()
        .filter(|p| {
            let fresh = !names.contains(&p.policy.metadata.name);
            names.push(p.policy.metadata.name.clone());
            fresh
        })
        .collect())
}
