//! Every file in tests/malformed/ is a scenario with one mistake. Its first line says what the
//! mistake is and where capsize must point: `# what | expect LINE:COL text`. `capsize validate`
//! must exit 2 and print `file:LINE:COL` with the text, never a panic.

use capsize_tests::{capsize, repo};

#[test]
fn every_malformed_file_gets_a_located_message_and_exit_code_2() {
    let dir = repo().join("tests/malformed");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 10, "at least ten malformed files, found {}", files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let header = text.lines().next().unwrap_or_default();
        let (_, expect) =
            header.split_once("| expect ").unwrap_or_else(|| panic!("{}: no expectation", path.display()));
        let (pos, message) = expect.split_once(' ').unwrap();
        let rel = path.strip_prefix(repo()).unwrap().to_str().unwrap().to_string();
        let out = capsize(&["validate", &rel]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{rel}: exit code; stderr:\n{stderr}");
        assert!(out.stdout.is_empty(), "{rel}: nothing on stdout");
        assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{rel}: {stderr}");
        let located = format!("{rel}:{pos}: ");
        let line = stderr
            .lines()
            .find(|l| l.contains(&located))
            .unwrap_or_else(|| panic!("{rel}: expected an error at {pos}, got:\n{stderr}"));
        assert!(line.contains(message), "{rel}: expected `{message}` in `{line}`");
    }
}
