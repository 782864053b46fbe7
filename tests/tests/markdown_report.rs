//! The Markdown reports as a CommonMark viewer (with GitHub's tables) shows them: every block is
//! what it looks like in the source, empty tables are not drawn, and an outage column lists the
//! windows instead of a span that reads as one long outage.

use capsize_tests::{capsize, capsize_json};
use pulldown_cmark::{Options, Parser, html};

fn render(markdown: &str) -> String {
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(markdown, Options::ENABLE_TABLES));
    out
}

fn markdown(args: &[&str]) -> String {
    let out = capsize(args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_compare_report_renders_as_it_reads() {
    let md = markdown(&["compare", "scenarios/subpath-configmap.yaml", "--format", "markdown"]);
    let html = render(&md);
    // The side-by-side table is a table, with a row per policy and service (6 x 3).
    let first_table = &html[html.find("<table>").unwrap()..html.find("</table>").unwrap()];
    assert_eq!(first_table.matches("<tr>").count(), 1 + 18, "{first_table}");
    // No text block of the terminal's ("actions taken:" lines) runs together into a paragraph.
    assert!(!html.contains("actions taken:"), "{html}");
    assert!(!html.contains("node conditions:") && !html.contains("<p>cost:"), "{html}");
    // Each policy's actions are a table of their own under a heading.
    assert!(html.contains("<h2>Actions taken</h2>") && html.contains("<h3>as-happened</h3>"));
    // The faults are a table with a row per fault.
    let faults = &html[html.find("<h2>Faults injected</h2>").unwrap()..];
    let table = &faults[..faults.find("</table>").expect("a faults table")];
    assert!(table.matches("<tr>").count() > 1, "{table}");
}

#[test]
fn an_empty_faults_section_says_none_instead_of_an_empty_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quiet.yaml");
    std::fs::write(
        &path,
        "apiVersion: capsize.dev/v1alpha1\nkind: Scenario\nmetadata: {name: quiet}\nspec:\n  start: \"2024-01-01T00:00:00\"\n  duration: 10m\n  cluster:\n    nodes: [{pool: w, count: 1, cpu: \"2\", memory: 4Gi}]\n    workloads: [{name: web, requests: {cpu: 100m, memory: 64Mi}, capacityRps: 10}]\n    services: [{name: web, selector: {app: web}}]\n",
    )
    .unwrap();
    let md = markdown(&["run", path.to_str().unwrap(), "--policy", "do-nothing", "--format", "markdown"]);
    let html = render(&md);
    let faults = &html[html.find("<h2>Faults injected</h2>").unwrap()..];
    assert!(faults.starts_with("<h2>Faults injected</h2>\n<p>None.</p>"), "{faults}");
}

#[test]
fn the_when_column_lists_each_window() {
    // Incident A as it happened: the site has three separate outages.
    let runs = capsize_json(&[
        "compare",
        "scenarios/swarm-cascade-quorum.yaml",
        "--policy",
        "as-happened",
        "--format",
        "json",
    ]);
    let site = runs["runs"][0]["services"].as_array().unwrap().iter().find(|s| s["name"] == "site").unwrap().clone();
    let windows: Vec<(String, String)> = site["outages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["start"].as_str().unwrap().to_string(), o["end"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(windows.len(), 3);
    let md = markdown(&[
        "compare",
        "scenarios/swarm-cascade-quorum.yaml",
        "--policy",
        "as-happened",
        "--format",
        "markdown",
    ]);
    let row = md.lines().find(|l| l.contains("| site ")).expect("the site's row");
    for (start, end) in &windows {
        assert!(row.contains(&format!("{start} - {end}")), "{row}");
    }
}
