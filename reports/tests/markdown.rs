//! Snapshot of `report.md` for a fixed report that has every section: sending, visibility with
//! stages and a clock offset, explained and silent loss, refusals, issues and gates.

use sentry_load_reports::{Report, render_markdown};

#[test]
fn the_markdown_report_has_every_section() {
    let report: Report =
        serde_json::from_str(include_str!("fixtures/report.json")).expect("the fixture parses");
    insta::assert_snapshot!(render_markdown(&report));
}
