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
    /// The line of the file (or, for a long line, the stretch around the column) and the
    /// caret's 1-based place in it, for the caret display.
    pub excerpt: Option<(String, usize)>,
}

impl Diagnostic {
    /// A problem with a command-line flag (no file to point into).
    pub fn flag(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: PathBuf::from("command line"),
            line: None,
            column: None,
            message: message.into(),
            excerpt: None,
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
        if let (Some((src, c)), Some(l)) = (&self.excerpt, self.line) {
            let c = *c;
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
    /// Where each of its values starts, built on the first diagnostic that needs a place (one
    /// read of the file for any number of diagnostics).
    index: std::sync::OnceLock<yaml::Index>,
    /// Byte offset of each line's start, built on the first diagnostic that shows a line.
    lines: std::sync::OnceLock<Vec<usize>>,
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
                excerpt: self.line_text(e.line()).map(|l| excerpt(l, e.column())),
            }],
        }
    }

    /// Reads `path`, refusing files over [`MAX_FILE_BYTES`] before reading them.
    pub fn read(path: &Path) -> Result<SourceFile, LoadError> {
        let fail = |message: String| LoadError { diagnostics: vec![bare(path, message)] };
        if path == Path::new("-") {
            // Standard input, read once (a command may read its file more than once) and no
            // more than the limit.
            static STDIN: std::sync::OnceLock<Result<String, Diagnostic>> = std::sync::OnceLock::new();
            let text = STDIN.get_or_init(|| {
                use std::io::Read;
                let mut buf = Vec::new();
                std::io::stdin()
                    .lock()
                    .take(MAX_FILE_BYTES + 1)
                    .read_to_end(&mut buf)
                    .map_err(|e| bare(Path::new("-"), format!("cannot read standard input: {e}")))?;
                if buf.len() as u64 > MAX_FILE_BYTES {
                    return Err(bare(
                        Path::new("-"),
                        format!("standard input is over the limit of {MAX_FILE_BYTES} bytes (4 MiB)"),
                    ));
                }
                String::from_utf8(buf).map_err(|e| not_utf8(e.as_bytes()))
            });
            return match text {
                Ok(t) => Ok(SourceFile::new(path.to_path_buf(), t.clone())),
                Err(m) => Err(LoadError { diagnostics: vec![Diagnostic { file: path.to_path_buf(), ..m.clone() }] }),
            };
        }
        let meta = fs::metadata(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
        if !meta.is_file() {
            return Err(fail("not a regular file".into()));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(fail(format!("the file is {} bytes; the limit is {MAX_FILE_BYTES} bytes (4 MiB)", meta.len())));
        }
        let bytes = fs::read(path).map_err(|e| fail(format!("cannot read the file: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| LoadError {
            diagnostics: vec![Diagnostic { file: path.to_path_buf(), ..not_utf8(e.as_bytes()) }],
        })?;
        Ok(SourceFile::new(path.to_path_buf(), text))
    }

    /// A file's text that did not come from disk (a built-in policy).
    pub fn new(path: PathBuf, text: String) -> SourceFile {
        SourceFile { path, text, index: std::sync::OnceLock::new(), lines: std::sync::OnceLock::new() }
    }

    /// A diagnostic at `path` inside this file. When the value is not in the file (a default,
    /// a value a patch added), the diagnostic points at its nearest ancestor that is; only a
    /// file that does not parse leaves it without a place.
    pub fn at(&self, path: &[PathSeg], message: impl Into<String>) -> Diagnostic {
        self.diag(self.nearest(path).0, message.into())
    }

    /// Where the value at `path` starts, or its nearest ancestor that the file holds, and how
    /// many segments of `path` that ancestor has.
    pub fn nearest(&self, path: &[PathSeg]) -> (Option<(usize, usize)>, usize) {
        let index = self.index.get_or_init(|| yaml::Index::build(&self.text));
        (0..=path.len()).rev().find_map(|k| index.locate(&path[..k]).map(|p| (Some(p), k))).unwrap_or((None, 0))
    }

    fn diag(&self, pos: Option<(usize, usize)>, message: String) -> Diagnostic {
        Diagnostic {
            file: self.path.clone(),
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
            excerpt: pos.and_then(|(l, c)| self.line_text(l).map(|line| excerpt(line, c))),
            message,
        }
    }

    /// The text of 1-based line `n`, found through a table of line starts built once (a file
    /// with thousands of problems would otherwise be scanned once per problem).
    fn line_text(&self, n: usize) -> Option<&str> {
        let starts = self
            .lines
            .get_or_init(|| std::iter::once(0).chain(self.text.match_indices('\n').map(|(i, _)| i + 1)).collect());
        let start = *starts.get(n.checked_sub(1)?)?;
        let end = starts.get(n).map_or(self.text.len(), |&e| e - 1);
        (start <= end).then(|| self.text[start..end].trim_end_matches('\r'))
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

/// Longest stretch of a source line shown under a diagnostic: a line of a generated or hostile
/// file can be megabytes long.
const EXCERPT_CHARS: usize = 100;

/// The part of `line` shown for a problem at 1-based `column` (in characters) and the caret's
/// place in it: the whole line when it is short, else a window around the column, marked
/// `...` where it was cut. The diagnostic's `file:line:col` keeps the true column.
fn excerpt(line: &str, column: usize) -> (String, usize) {
    let n = line.chars().count();
    if n <= EXCERPT_CHARS {
        return (line.to_string(), column);
    }
    let start = column.saturating_sub(1 + EXCERPT_CHARS / 2).min(n - EXCERPT_CHARS);
    let body: String = line.chars().skip(start).take(EXCERPT_CHARS).collect();
    let head = if start > 0 { "..." } else { "" };
    let tail = if start + EXCERPT_CHARS < n { "..." } else { "" };
    (format!("{head}{body}{tail}"), column - start + head.len())
}

/// The diagnostic for bytes that are not UTF-8: the line and column of the first bad byte
/// (the column counts characters of the valid part of the line, 1-based).
fn not_utf8(bytes: &[u8]) -> Diagnostic {
    let bad = std::str::from_utf8(bytes).err().map_or(bytes.len(), |e| e.valid_up_to());
    // The part before the first bad byte is valid UTF-8 by definition.
    let valid = std::str::from_utf8(&bytes[..bad]).unwrap_or_default();
    let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
    let line = valid.matches('\n').count() + 1;
    let column = valid[line_start..].chars().count() + 1;
    let shown = String::from_utf8_lossy(&bytes[line_start..]);
    Diagnostic {
        file: PathBuf::new(),
        line: Some(line),
        column: Some(column),
        message: format!(
            "not UTF-8: byte 0x{:02x} at offset {bad} is not valid UTF-8 text",
            bytes[bad.min(bytes.len() - 1)]
        ),
        excerpt: shown.lines().next().map(|l| excerpt(l, column)),
    }
}

fn bare(path: &Path, message: String) -> Diagnostic {
    Diagnostic { file: path.to_path_buf(), line: None, column: None, message, excerpt: None }
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
                // The place is in the patch when the patch holds as much of the path as the
                // scenario does (a value the patch added, or changed), else in the scenario.
                let inner = patch::nearest_in_patch(merged_spec, p, spec_path);
                let in_scenario = scenario.file.nearest(path).1;
                if !inner.is_empty() && inner.len() + (path.len() - spec_path.len()) >= in_scenario {
                    let mut full = yaml::parse_path("spec.patch");
                    full.extend(inner);
                    policy.file.at(&full, format!("{message} (after merging this patch)"))
                } else {
                    scenario.file.at(path, format!("{message} (with policy `{}` applied)", policy.policy.metadata.name))
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
    LoadedPolicy { file: SourceFile::new(PathBuf::from("(built-in do-nothing)"), text), policy }
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
