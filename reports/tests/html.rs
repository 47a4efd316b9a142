//! `report.html` and `compare.html` in a real browser: headless Chromium opens them, logs no
//! console message, and the screenshot shows the charts (pixels in the series colours).
//!
//! Chromium is found as `$SENTRY_LOAD_TEST_CHROMIUM` or `chromium` on the PATH. The test is
//! `#[ignore]`d (listed as ignored by `cargo test`); `scripts/test.sh` installs Chromium and
//! runs it, and it fails without Chromium.

use sentry_load_reports::charts::PALETTE;
use sentry_load_reports::{Report, compare_html, render_html};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture() -> Report {
    serde_json::from_str(include_str!("fixtures/report.json")).expect("the fixture parses")
}

fn chromium() -> PathBuf {
    let named = std::env::var_os("SENTRY_LOAD_TEST_CHROMIUM").map(PathBuf::from);
    let found = named.or_else(|| {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    });
    found.expect("needs Chromium (scripts/test.sh installs it)")
}

/// Screenshots `page` and returns the RGB pixels and what Chromium logged from the page.
fn screenshot(chromium: &Path, page: &Path, height: u32) -> (Vec<[u8; 3]>, Vec<String>) {
    let shot = page.with_extension("png");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--log-level=0",
            &format!("--window-size=1000,{height}"),
            &format!("--screenshot={}", shot.display()),
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_owned)
        .collect();
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("the screenshot was written"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let step = info.color_type.samples();
    let pixels = buf[..info.buffer_size()]
        .chunks(step)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (pixels, console)
}

fn count(pixels: &[[u8; 3]], rgb: [u8; 3]) -> usize {
    pixels.iter().filter(|p| **p == rgb).count()
}

#[test]
#[ignore = "needs Chromium: scripts/test.sh installs it and runs it"]
fn report_and_compare_pages_render_their_charts_without_console_messages() {
    let chromium = chromium();
    let dir = tempfile::tempdir().unwrap();

    // The console check can fail: a page that logs an error is caught.
    let noisy = dir.path().join("noisy.html");
    std::fs::write(&noisy, "<script>console.error('broken chart')</script>").unwrap();
    let (_, console) = screenshot(&chromium, &noisy, 200);
    assert!(
        console.iter().any(|l| l.contains("broken chart")),
        "console messages are not captured: {console:?}"
    );

    let report = fixture();
    let page = dir.path().join("report.html");
    std::fs::write(&page, render_html(&report)).unwrap();
    let (pixels, console) = screenshot(&chromium, &page, 5000);
    assert!(console.is_empty(), "{console:?}");
    let color = |i: usize| [PALETTE[i].0, PALETTE[i].1, PALETTE[i].2];
    // Lines in the first colours (rates, latency, kinds), bars in the later ones.
    for i in 0..4 {
        assert!(
            count(&pixels, color(i)) > 300,
            "colour {i} drew {} pixels",
            count(&pixels, color(i))
        );
    }
    let white = count(&pixels, [255, 255, 255]);
    assert!(white < pixels.len() * 95 / 100, "the page is blank");

    let mut other = fixture();
    other.run.id = "20261122-120000-bbbbbb".into();
    for p in &mut other.timeline.points {
        p.latency_p99_ms = p.latency_p99_ms.map(|v| v * 2);
    }
    let page = dir.path().join("compare.html");
    std::fs::write(&page, compare_html(&[report, other])).unwrap();
    let (pixels, console) = screenshot(&chromium, &page, 2400);
    assert!(console.is_empty(), "{console:?}");
    for i in 0..2 {
        assert!(count(&pixels, color(i)) > 200, "run {i} is not drawn");
    }
}

/// A capacity search's report (a real one, from `sentry-load capacity --profile capacity`):
/// its section draws two charts above the run's own — the top of the page holds far more
/// pixels of the capacity charts' line colours than the same report without the section.
#[test]
#[ignore = "needs Chromium: scripts/test.sh installs it and runs it"]
fn a_capacity_report_draws_its_charts_first() {
    let chromium = chromium();
    let dir = tempfile::tempdir().unwrap();
    let with: Report =
        serde_json::from_str(include_str!("fixtures/capacity-report.json")).expect("parses");
    assert!(with.capacity.is_some());
    let mut without = with.clone();
    without.capacity = None;
    let color = |i: usize| [PALETTE[i].0, PALETTE[i].1, PALETTE[i].2];
    let mut drawn = Vec::new();
    for (name, report) in [("with", &with), ("without", &without)] {
        let page = dir.path().join(format!("{name}.html"));
        std::fs::write(&page, render_html(report)).unwrap();
        let (pixels, console) = screenshot(&chromium, &page, 1400);
        assert!(console.is_empty(), "{name}: {console:?}");
        drawn.push([0, 1].map(|i| count(&pixels, color(i))));
    }
    // The top of the page: without the section it holds the tiles and the start of the
    // over-time charts; with it, the two capacity charts. Colour 0 draws the p99 and the
    // achieved-rate lines there; colour 1 (also the "passed" badge's) the held mark and the
    // visible-rate line; the kinds' lines are dashed, too thin to count.
    let (with, without) = (drawn[0][0], drawn[1][0]);
    assert!(
        with > 300 && with > 3 * without,
        "colour 0: {with} pixels with the capacity section, {without} without"
    );
    assert!(drawn[0][1] > drawn[1][1] + 50, "colour 1: {drawn:?}");
}

/// The pipeline probes' section (`fixtures/probes-report.json`: a run like `tests/probes.rs`'s,
/// against the real ClickHouse, Postgres, Redis and a Docker container) draws a chart per probe
/// and unit: the page holds far more pixels of the first line colour, which each of those
/// charts draws, than the same report without the probes.
#[test]
#[ignore = "needs Chromium: scripts/test.sh installs it and runs it"]
fn every_probe_chart_is_drawn() {
    let chromium = chromium();
    let dir = tempfile::tempdir().unwrap();
    let with: Report =
        serde_json::from_str(include_str!("fixtures/probes-report.json")).expect("parses");
    let charts = sentry_load_reports::probe_charts(&with);
    for probe in [
        "clickhouse",
        "postgres",
        "redis",
        "docker",
        "relay",
        "kafka",
    ] {
        let prefix = format!("{probe}: ");
        assert!(charts.iter().any(|c| c.0.starts_with(&prefix)), "{probe}");
    }
    let mut without = with.clone();
    without.probes = None;
    let first = [PALETTE[0].0, PALETTE[0].1, PALETTE[0].2];
    let mut drawn = Vec::new();
    for (name, report) in [("with", &with), ("without", &without)] {
        let page = dir.path().join(format!("{name}.html"));
        let html = render_html(report);
        assert_eq!(html.contains("Pipeline probes"), name == "with");
        std::fs::write(&page, html).unwrap();
        let (pixels, console) = screenshot(&chromium, &page, 12_000);
        assert!(console.is_empty(), "{name}: {console:?}");
        drawn.push(count(&pixels, first));
    }
    assert!(
        drawn[0] > drawn[1] + 150 * charts.len(),
        "{} probe charts: {drawn:?} pixels of the first colour with and without them",
        charts.len()
    );
}
