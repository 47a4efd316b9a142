use super::*;
use crate::histogram::Percentiles;
use crate::model::*;
use std::collections::BTreeMap;

fn pct(p50: u64, p95: u64, p99: u64, max: u64) -> Option<Percentiles> {
    Some(Percentiles {
        count: 100,
        p50,
        p90: p95,
        p95,
        p99,
        max,
        mean: p50 as f64,
    })
}

fn kind(p99: Option<u64>, loss_ratio: f64) -> KindSection {
    KindSection {
        loss_ratio,
        latency_ms: p99.and_then(|p| pct(p, p, p, p)),
        ..KindSection::default()
    }
}

/// The reference run: 95 of 100 per second, 1000 sent, 990 accepted, 10 refused, 980 seen
/// (loss 2 %), 4 silently lost, latency p50/p95/p99/max 800/1500/2500/3000 ms, send
/// lateness p99 1200 µs, and one error kind; its gates passed.
fn run_a() -> Report {
    Report {
        schema_version: SCHEMA_VERSION,
        tool_version: "0.1.0".into(),
        run: RunSection {
            id: "run-a".into(),
            profile: "local".into(),
            profile_hash: "0".into(),
            seed: 1,
            started_at: "2026-01-01T00:00:00.000Z".into(),
            target: "http://relay/1".into(),
            notes: vec![],
            interrupted: None,
            aborted_by: None,
        },
        schedule: ScheduleSection {
            planned: 1000,
            target_rate: 100.0,
            duration_secs: 10.0,
            stages: Vec::new(),
        },
        sending: SendingSection {
            records: 1000,
            started: 1000,
            outcomes: [
                ("accepted".to_owned(), 990),
                ("rate_limited".to_owned(), 10),
            ]
            .into(),
            statuses: BTreeMap::new(),
            achieved_rate: 95.0,
            achieved_rate_ratio: 0.95,
            late: 0,
            late_after_ms: 10,
            lateness_us: pct(10, 500, 1200, 5000),
            round_trip_us: None,
            bytes: 0,
            journal_ignored_tail_bytes: 0,
            journal_damaged_bytes: 0,
        },
        visibility: VisibilitySection {
            source: "clickhouse".into(),
            live: true,
            poll_interval_ms: 100,
            tracked: 990,
            seen: 980,
            missing: 10,
            unverified: 0,
            duplicated: 0,
            latency_ms: pct(800, 1500, 2500, 3000),
            latency_histogram: None,
            stages: vec![],
            stages_unavailable: BTreeMap::new(),
            clock_offset_secs: None,
            polls: 1,
            queries: 1,
            failed_queries: 0,
            last_error: None,
        },
        issues: None,
        loss: LossSection {
            silent: 4,
            outcome_unknown: 0,
            outcome_unknown_why: None,
            attachment_outcomes: BTreeMap::new(),
            explained: BTreeMap::new(),
            refused: [
                ("rate_limited".to_owned(), 10),
                ("unavailable".to_owned(), 0),
            ]
            .into(),
            transport_errors: 0,
            harness_dropped: 0,
            backed_off: 0,
            unjournaled: 0,
            unsupported: 0,
            loss_ratio: 0.02,
            missing_events: vec![],
        },
        kinds: [("error".to_owned(), kind(Some(2500), 0.02))].into(),
        timeline: TimelineSection::default(),
        fidelity: None,
        baseline: None,
        verdicts: vec![],
        disruptions: Vec::new(),
        probes: None,
        relay_upstream: None,
        capacity: None,
        gates: vec![],
        passed: true,
    }
}

/// A worse run of another profile: 90 per second, 900 sent, 880 accepted, 20 refused (5
/// rate limited, 15 unavailable), 870 seen (loss 3 %), nothing silently lost, latency
/// 1000/1500/2000/3600 ms, no send lateness, an error and a native kind; its gates failed.
fn run_b() -> Report {
    let mut b = run_a();
    b.run.id = "run-b".into();
    b.run.profile = "stress".into();
    b.sending.achieved_rate = 90.0;
    b.sending.started = 900;
    b.sending.outcomes.insert("accepted".into(), 880);
    b.loss.refused = [
        ("rate_limited".to_owned(), 5),
        ("unavailable".to_owned(), 15),
    ]
    .into();
    b.visibility.seen = 870;
    b.loss.loss_ratio = 0.03;
    b.loss.silent = 0;
    b.visibility.latency_ms = pct(1000, 1500, 2000, 3600);
    b.sending.lateness_us = None;
    b.kinds = [
        ("error".to_owned(), kind(Some(2000), 0.01)),
        ("native".to_owned(), kind(Some(5000), 0.5)),
    ]
    .into();
    b.passed = false;
    b
}

fn rows(md: &str) -> Vec<&str> {
    md.lines().filter(|l| l.starts_with('|')).collect()
}

#[test]
fn two_runs_show_each_change_against_the_first() {
    let md = compare_markdown(&[run_a(), run_b()]);
    assert!(md.starts_with("# sentry-load comparison\n\n"), "{md}");
    assert_eq!(
        rows(&md),
        [
            "| | A: run-a (local) | B: run-b (stress) |",
            "|---|---|---|",
            "| target rate | 100.0/s | 100.0/s (+0.0, 0 %) |",
            "| achieved rate | 95.0/s | 90.0/s (-5.0, -5.3 %) |",
            "| sent | 1000 | 900 (-100, -10.0 %) |",
            "| accepted | 990 | 880 (-110, -11.1 %) |",
            "| refused | 10 | 20 (+10, +100.0 %) |",
            "| visible | 980 | 870 (-110, -11.2 %) |",
            "| loss ratio | 2.0 % | 3.0 % (+1.0 pp, +50.0 %) |",
            "| silent loss | 4 | 0 (-4, -100.0 %) |",
            "| latency p50 | 800 ms | 1000 ms (+200, +25.0 %) |",
            "| latency p95 | 1500 ms | 1500 ms (+0, 0 %) |",
            "| latency p99 | 2500 ms | 2000 ms (-500, -20.0 %) |",
            "| latency max | 3000 ms | 3600 ms (+600, +20.0 %) |",
            "| send lateness p99 | 1200 µs | — |",
            "| error latency p99 | 2500 ms | 2000 ms (-500, -20.0 %) |",
            "| error loss ratio | 2.0 % | 1.0 % (-1.0 pp, -50.0 %) |",
            "| native latency p99 | — | 5000 ms |",
            "| native loss ratio | — | 50.0 % |",
            "| gates | passed | failed |",
        ]
    );
    assert!(
        md.ends_with("\nChanges are against A; latency in ms from intended send to first seen.\n")
    );
}

#[test]
fn a_single_run_shows_its_values_without_changes() {
    let md = compare_markdown(&[run_a()]);
    let rows = rows(&md);
    assert_eq!(rows[0], "| | A: run-a (local) |");
    assert_eq!(rows[1], "|---|---|");
    assert!(rows.contains(&"| sent | 1000 |"), "{md}");
    assert!(rows.contains(&"| loss ratio | 2.0 % |"), "{md}");
    assert!(rows.contains(&"| error loss ratio | 2.0 % |"), "{md}");
    assert_eq!(rows.last(), Some(&"| gates | passed |"));
    assert!(!md.contains(" (+"), "{md}");
    assert!(!md.contains(" (-"), "{md}");
}

#[test]
fn a_change_from_zero_has_no_relative_change() {
    let mut a = run_a();
    a.loss.silent = 0;
    let mut b = run_a();
    b.loss.silent = 3;
    let md = compare_markdown(&[a, b]);
    assert!(rows(&md).contains(&"| silent loss | 0 | 3 (+3) |"), "{md}");
}

#[test]
fn a_figure_the_reference_lacks_is_shown_without_a_change() {
    let mut a = run_a();
    a.visibility.latency_ms = None;
    a.sending.outcomes.remove("accepted");
    let md = compare_markdown(&[a, run_a()]);
    let rows = rows(&md);
    assert!(rows.contains(&"| latency p50 | — | 800 ms |"), "{md}");
    assert!(rows.contains(&"| latency max | — | 3000 ms |"), "{md}");
    assert!(rows.contains(&"| accepted | — | 990 |"), "{md}");
}

#[test]
fn kinds_of_any_run_get_rows_once_in_name_order() {
    let mut a = run_a();
    a.kinds = [("transaction".to_owned(), kind(None, 0.0))].into();
    let md = compare_markdown(&[a, run_b(), run_b()]);
    let kind_rows: Vec<&str> = rows(&md)
        .into_iter()
        .filter(|r| r.contains("latency p99 |") && !r.starts_with("| latency"))
        .collect();
    assert_eq!(
        kind_rows,
        [
            "| error latency p99 | — | 2000 ms | 2000 ms |",
            "| native latency p99 | — | 5000 ms | 5000 ms |",
            "| transaction latency p99 | — | — | — |",
        ]
    );
    assert!(
        rows(&md).contains(&"| transaction loss ratio | 0 % | — | — |"),
        "{md}"
    );
}

#[test]
fn every_later_run_is_compared_with_the_first_not_its_neighbour() {
    let md = compare_markdown(&[run_a(), run_b(), run_a()]);
    let rows = rows(&md);
    assert_eq!(
        rows[0],
        "| | A: run-a (local) | B: run-b (stress) | C: run-a (local) |"
    );
    assert_eq!(rows[1], "|---|---|---|---|");
    assert!(
        rows.contains(&"| sent | 1000 | 900 (-100, -10.0 %) | 1000 (+0, 0 %) |"),
        "{md}"
    );
    assert!(
        rows.contains(&"| gates | passed | failed | passed |"),
        "{md}"
    );
}

#[test]
fn the_html_comparison_has_the_same_cells_escaped() {
    let mut b = run_b();
    b.run.profile = "<stress>".into();
    let html = compare_html(&[run_a(), b]);
    assert!(
        html.contains("<th>B: run-b (&lt;stress&gt;)</th>"),
        "{html}"
    );
    assert!(html.contains("<tr><td>sent</td><td>1000</td><td>900 (-100, -10.0 %)</td></tr>"));
    assert!(html.contains("<td>native loss ratio</td><td>—</td><td>50.0 %</td>"));
}
