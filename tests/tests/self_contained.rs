//! A fresh clone has everything it cites: no file refers to a path outside the repository, and
//! every relative link in the Markdown points at a file that is there.

use std::path::{Path, PathBuf};

use capsize_tests::repo;

/// The project's text files (not `target/`, not `.git/`).
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !matches!(name, "target" | ".git" | "fuzz-corpus") {
                text_files(&path, out);
            }
        } else if ["md", "yaml", "yml", "rs", "toml", "json", "sh", "html"]
            .iter()
            .any(|ext| path.extension().is_some_and(|e| e == *ext))
            || name == "run"
        {
            out.push(path);
        }
    }
}

#[test]
fn nothing_refers_to_files_outside_the_repository() {
    let root = repo();
    let mut files = Vec::new();
    text_files(&root, &mut files);
    assert!(files.len() > 50, "found {} files", files.len());
    // Written in pieces so that this file does not match itself.
    let outside = [["shared", "/INCIDENTS"].concat(), ["shared", "/seeds"].concat(), ["..", "/shared"].concat()];
    let mut found = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else { continue };
        for (n, line) in text.lines().enumerate() {
            if outside.iter().any(|o| line.contains(o.as_str())) {
                found.push(format!("{}:{}: {}", f.strip_prefix(&root).unwrap().display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "references to files outside the repository:\n{}", found.join("\n"));
}

#[test]
fn every_relative_markdown_link_resolves() {
    let root = repo();
    let mut files = Vec::new();
    text_files(&root, &mut files);
    let mut broken = Vec::new();
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "md")) {
        let text = std::fs::read_to_string(f).expect("utf-8 Markdown");
        let mut rest = text.as_str();
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = &rest[..end];
            let path = target.split('#').next().unwrap_or("");
            let external =
                target.starts_with("http://") || target.starts_with("https://") || target.starts_with("mailto:");
            if !external && !path.is_empty() && !path.contains(' ') && !f.parent().unwrap().join(path).exists() {
                broken.push(format!("{}: {target}", f.strip_prefix(&root).unwrap().display()));
            }
        }
    }
    assert!(broken.is_empty(), "links to files that are not there:\n{}", broken.join("\n"));
}
