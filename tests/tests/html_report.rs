//! The HTML report in a real browser: one self-contained file that headless Chromium loads
//! without errors and renders with visible charts (the DOM holds the SVG lines, the screenshot
//! is not blank and shows the policies' colours).
//!
//! Chromium is Debian's `chromium` package. The test installs nothing: `scripts/test` (the
//! README's test command) installs it when it is missing, and without it this test fails saying
//! how to get it.

use std::path::{Path, PathBuf};
use std::process::Command;

use capsize_tests::capsize;

/// The browser (this test does not install it).
fn chromium() -> PathBuf {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|d| d.join(b))
                .find(|p| p.is_file())
        })
        .expect(
            "the HTML report's browser test needs headless Chromium: run `./scripts/test`, which installs \
             Debian's `chromium` package when it is missing, or install it yourself (apt-get install chromium)",
        )
}

fn browse(page: &Path, args: &[&str]) -> (Vec<u8>, String) {
    let out = Command::new(chromium())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    (out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Whether a pixel is within 24 of a colour in each channel.
fn near(p: &[u8], rgb: [u8; 3]) -> bool {
    p.iter().zip(rgb).all(|(&a, b)| a.abs_diff(b) <= 24)
}

/// A 1100 x 1400 screenshot of `page` as RGB pixels.
fn screenshot(page: &Path, dir: &Path) -> Vec<[u8; 3]> {
    let shot = dir.join("shot.png");
    let (_, log) = browse(page, &["--window-size=1100,1400", &format!("--screenshot={}", shot.display())]);
    let decoder =
        png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap_or_else(|e| panic!("{e}: {log}"))));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    buf[..info.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect()
}

#[test]
fn the_html_report_is_self_contained_and_renders_its_charts() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let out =
        capsize(&["compare", "scenarios/subpath-configmap.yaml", "--format", "html", "--out", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();

    // One file, nothing fetched: no scripts, no stylesheets or images from elsewhere.
    for outside in ["<script", "<link", "<img", "<iframe", "src=", "url(", "https://", "@import"] {
        assert!(!html.contains(outside), "the report refers outside itself: `{outside}`");
    }
    // The one namespace URI of inline SVG is not a reference; nothing else is.
    assert_eq!(html.matches("http").count(), html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count());

    // The DOM Chromium builds holds a chart per service with a line per policy.
    let (dom, log) = browse(&page, &["--dump-dom"]);
    let dom = String::from_utf8(dom).unwrap();
    for bad in ["Uncaught", "Failed to load resource", "CONSOLE"] {
        assert!(!log.contains(bad), "console: {bad}\n{log}");
    }
    assert_eq!(dom.matches("aria-label=\"Availability of").count(), 3, "one chart per service");
    // The legend is on the page (a screenshot or a PDF keeps it), a line sample per policy.
    assert_eq!(dom.matches("<svg width=\"28\"").count(), 6, "a legend entry per policy");
    // Lines that coincide are told apart: each policy has its dash pattern, and the page says
    // which are the same.
    for dash in ["stroke-dasharray=\"none\"", "stroke-dasharray=\"8 4\"", "stroke-dasharray=\"2 3\""] {
        assert!(dom.contains(dash), "{dash}");
    }
    assert!(dom.contains("Lines that coincide:"), "incident C has policies with the same line for blog-web");
    // What availability means, the outage windows and the assumptions, as in the Markdown.
    assert!(dom.contains("served / offered requests"));
    assert!(dom.contains("<h2>Outage windows</h2>") && dom.contains("<h2>Assumptions</h2>"));
    let lines = dom.matches("class=\"series\"").count();
    assert_eq!(lines, 3 * 6, "a line per policy per service");
    assert!(dom.matches("class=\"fault\"").count() >= 3 * 5, "the faults are marked");
    assert!(dom.contains("class=\"action\""), "the actions are marked");

    // The screenshot is not blank: the charts' colours are there.
    let buf = screenshot(&page, dir.path());
    let pixels: Vec<&[u8]> = buf.iter().map(|p| &p[..]).collect();
    let non_white = pixels.iter().filter(|p| !near(p, [255, 255, 255])).count();
    assert!(non_white * 50 > pixels.len(), "more than 2 % of the page is drawn: {non_white} of {}", pixels.len());
    // as-happened's blue (#0072B2) and the faults' red (#b00020) are drawn.
    let blue = pixels.iter().filter(|p| near(p, [0x00, 0x72, 0xB2])).count();
    let red = pixels.iter().filter(|p| near(p, [0xB0, 0x00, 0x20])).count();
    assert!(blue > 200 && red > 100, "chart lines drawn: {blue} blue, {red} red pixels");
}

#[test]
fn a_short_outage_in_a_long_run_is_zoomed_to_with_the_whole_run_below() {
    // The undrained reboots of the maintenance drill: two outages of 35 s and 40 s in a 2 h run.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let out =
        capsize(&["compare", "scenarios/maintenance-reboot.yaml", "--format", "html", "--out", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (dom, _) = browse(&page, &["--dump-dom"]);
    let dom = String::from_utf8(dom).unwrap();
    // The outages' service is zoomed (from 5 minutes before the first to 5 after the last:
    // 20 of the 120 minutes) with the whole run under it; a service without an outage or a
    // fault near it shows the whole run and no overview.
    let zoomed = dom.matches("Zoomed to ").count();
    assert!(zoomed >= 1, "a zoomed chart");
    assert_eq!(dom.matches("class=\"overview\"").count(), zoomed, "an overview under each zoomed chart");
    let at = dom.find("Zoomed to ").unwrap();
    let span = &dom[at + "Zoomed to ".len()..][..13];
    let (from, to) = span.split_once(" - ").unwrap();
    let minutes = |hhmm: &str| {
        let (h, m) = hhmm.split_once(':').unwrap();
        h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap()
    };
    let width = minutes(to) - minutes(from);
    assert!((15..=30).contains(&width), "zoomed to {span}: {width} minutes");
    // The screenshot shows the overview with the zoomed stretch shaded (#eef3fb, about 150 x 64
    // pixels; nothing else on the page has that colour).
    let pixels = screenshot(&page, dir.path());
    let shade = pixels.iter().filter(|p| p[..] == [0xee, 0xf3, 0xfb]).count();
    assert!(shade > 2_000, "{shade} shaded pixels");
}

#[test]
fn markdown_and_junit_come_from_run_and_compare_too() {
    let md = capsize(&["compare", "scenarios/node-notready-pleg.yaml", "--format", "markdown"]);
    let text = String::from_utf8(md.stdout).unwrap();
    assert!(text.starts_with("# node-notready-pleg: 3 policies compared"), "{text}");
    for part in [
        "## Side by side",
        "## Outage windows",
        "## Actions taken",
        "`systemctl restart docker (on worker-2)`",
        "## Assumptions",
    ] {
        assert!(text.contains(part), "{part}:\n{text}");
    }
    let xml =
        capsize(&["run", "scenarios/maintenance-reboot.yaml", "--policy", "reboot-undrained", "--format", "junit"]);
    let xml = String::from_utf8(xml.stdout).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed");
    let failures = doc.descendants().filter(|n| n.has_tag_name("failure")).count();
    assert_eq!(failures, 1, "shop-api had outages: {xml}");
}
