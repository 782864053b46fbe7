//! The crate's determinism rules (see its documentation) checked on its source: no unordered
//! collections, no clock, no thread RNG, and no float function from the platform's C library.

use std::path::Path;

/// What the rules forbid in code, and why.
const FORBIDDEN: &[(&str, &str)] = &[
    ("HashMap", "iteration order varies between runs"),
    ("HashSet", "iteration order varies between runs"),
    ("Instant", "wall clock"),
    ("SystemTime", "wall clock"),
    ("thread_rng", "unseeded randomness"),
    (".exp()", "the platform's libm: use libm::exp"),
    (".ln()", "the platform's libm: use libm::log"),
    (".powf(", "the platform's libm: use libm::pow"),
    (".log10(", "the platform's libm"),
    (".log2(", "the platform's libm"),
    (".exp2(", "the platform's libm"),
    (".sin(", "the platform's libm"),
    (".cos(", "the platform's libm"),
    (".tan(", "the platform's libm"),
    (".cbrt(", "the platform's libm"),
    (".hypot(", "the platform's libm"),
];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_source_keeps_the_determinism_rules() {
    let mut files = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    files.sort();
    assert!(files.len() > 20, "the sources are found: {}", files.len());
    let mut broken = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for (what, why) in FORBIDDEN {
                if code.contains(what) {
                    broken.push(format!("{}:{}: `{what}` ({why})", f.display(), n + 1));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
