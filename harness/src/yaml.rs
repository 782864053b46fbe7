//! All YAML parsing of capsize lives in this one module.
//!
//! It uses serde_yaml 0.9 (deprecated upstream but final and working). To move to a maintained
//! fork, change the `use` below and the dependency: nothing else in the workspace names the
//! YAML library.

use std::fmt;

use serde::de::DeserializeOwned;

use capsize_sim::PathSeg;
use serde_yaml as yaml_impl;
pub use serde_yaml::Value;

mod events;
pub use events::{Index, MAX_DEPTH, MAX_VALUES};

/// A YAML or schema error with its position (1-based line and column) when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// The path of the value, as the parser saw it (`spec.cluster.workloads[0]`), if any.
    pub path: Option<String>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn convert(e: yaml_impl::Error) -> YamlError {
    let loc = e.location();
    let full = e.to_string();
    // serde_yaml renders "<path>: <message> at line L column C"; keep the parts apart (the
    // position is reported separately).
    let (path, message) = split_path(&strip_positions(&full));
    YamlError { line: loc.as_ref().map(|l| l.line()), column: loc.as_ref().map(|l| l.column()), path, message }
}

/// Removes every " at line L column C" from a parser message.
fn strip_positions(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " at line ".len()..];
        let digits = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let n = digits(after);
        match after[n..].strip_prefix(" column ") {
            Some(col) if n > 0 => rest = &col[digits(col)..],
            _ => {
                out.push_str(" at line ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Splits serde_yaml's `path: message` prefix off, when the prefix is a path.
fn split_path(s: &str) -> (Option<String>, String) {
    if let Some(i) = s.find(": ") {
        let head = &s[..i];
        let looks_like_path = !head.is_empty()
            && head.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_' | '-'));
        if looks_like_path {
            return (Some(head.to_string()), s[i + 2..].to_string());
        }
    }
    (None, s.to_string())
}

/// Refuses a document past [`MAX_DEPTH`] or [`MAX_VALUES`] before serde_yaml reads it whole.
fn within_limits(text: &str) -> Result<(), YamlError> {
    events::check_limits(text).map_err(|(line, column, message)| YamlError {
        line: Some(line + 1),
        column: Some(column + 1),
        path: None,
        message,
    })
}

/// Parses `text` into `T`, refusing unknown fields where `T` does.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    within_limits(text)?;
    yaml_impl::from_str(text).map_err(|e| placed(convert(e), text))
}

/// An error serde_yaml gave no position (a second document, some syntax errors) gets
/// libyaml's own.
fn placed(mut e: YamlError, text: &str) -> YamlError {
    if e.line.is_none()
        && let Some((line, column)) = events::trouble(text)
    {
        e.line = Some(line + 1);
        e.column = Some(column + 1);
    }
    e
}

/// Parses `text` into a generic value (for patches and assumption paths).
pub fn parse_value(text: &str) -> Result<Value, YamlError> {
    within_limits(text)?;
    yaml_impl::from_str(text).map_err(|e| placed(convert(e), text))
}

/// Deserializes `T` from a value that was built or patched in memory. Errors carry the path of
/// the value (serde_yaml keeps paths when reading text, so the value is written out and read back).
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, YamlError> {
    let text = yaml_impl::to_string(value).map_err(convert)?;
    let mut e = match yaml_impl::from_str::<T>(&text) {
        Ok(v) => return Ok(v),
        Err(e) => convert(e),
    };
    // Positions in the rewritten text mean nothing to a reader.
    e.line = None;
    e.column = None;
    Err(e)
}

/// Parses `spec.cluster.workloads[0].name` into path segments.
pub fn parse_path(s: &str) -> Vec<PathSeg> {
    let mut out = Vec::new();
    for part in s.split('.') {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                out.push(PathSeg::Key(rest[..i].to_string()));
            }
            rest = &rest[i..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(close) = stripped.find(']') else { break };
                match stripped[..close].parse::<usize>() {
                    Ok(n) => out.push(PathSeg::Index(n)),
                    Err(_) => out.push(PathSeg::Key(stripped[..close].to_string())),
                }
                rest = &stripped[close + 1..];
            }
        } else if !rest.is_empty() {
            out.push(PathSeg::Key(rest.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locate(text: &str, path: &[PathSeg]) -> Option<(usize, usize)> {
        Index::build(text).locate(path)
    }

    #[test]
    fn locates_values_by_path() {
        let text = "a: 1\nspec:\n  items:\n    - name: x\n      v: 3\n    - name: y\n      v: {q: 5}\n";
        assert_eq!(locate(text, &parse_path("spec.items[1].v")), Some((7, 10)));
        assert_eq!(locate(text, &parse_path("spec.items[0].v")), Some((5, 10)));
        assert_eq!(locate(text, &parse_path("a")), Some((1, 4)));
        assert_eq!(locate(text, &parse_path("spec.items[5]")), None);
        assert_eq!(locate(text, &parse_path("spec.nothing")), None);
    }

    #[test]
    fn errors_keep_line_column_and_path() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct T {
            #[allow(dead_code)]
            a: u32,
        }
        let e = parse::<T>("a: 1\nb: 2\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(1)));
        assert!(e.message.contains("unknown field `b`"), "{e:?}");
    }

    #[test]
    fn positions_are_cut_out_of_messages() {
        assert_eq!(
            strip_positions(
                "did not find expected ',' at line 12 column 15, while parsing a flow mapping at line 11 column 9"
            ),
            "did not find expected ',', while parsing a flow mapping"
        );
        assert_eq!(strip_positions("x at line y"), "x at line y");
    }

    #[test]
    fn paths_parse() {
        assert_eq!(
            parse_path("spec.cluster.workloads[2].mounts[0]"),
            vec![
                PathSeg::Key("spec".into()),
                PathSeg::Key("cluster".into()),
                PathSeg::Key("workloads".into()),
                PathSeg::Index(2),
                PathSeg::Key("mounts".into()),
                PathSeg::Index(0)
            ]
        );
    }
}
