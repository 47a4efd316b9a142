use super::*;
use crate::model::*;
use sentry_load_common::EventKind;
use sentry_load_config::{BaselineGatesConfig, KindGatesConfig, Ratio};
use std::collections::BTreeMap;

fn ratio(v: f64) -> Option<Ratio> {
    Some(Ratio::try_from(v).unwrap())
}

fn ms(v: u64) -> Option<Duration> {
    Some(Duration::from_millis(v))
}

fn pct(p50: u64, p95: u64, p99: u64) -> Percentiles {
    Percentiles {
        count: 980,
        p50,
        p90: p95,
        p95,
        p99,
        max: p99,
        mean: p50 as f64,
    }
}

/// A live run of 1010 journal records: 10 dropped by the harness, 1000 started, 990 accepted
/// and 10 refused with 429; 980 seen (loss 0.02), 4 silently lost, latency p50/p95/p99 of
/// 800/1500/2500 ms, 95 of 100 sends per second, one error kind, a fidelity sample of 10
/// with 1 difference.
fn report(id: &str) -> Report {
    let outcomes: BTreeMap<String, u64> = [
        ("accepted", 990),
        ("rate_limited", 10),
        ("harness_dropped", 10),
        ("transport_error", 0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let kind = KindSection {
        records: 1010,
        started: 1000,
        accepted: 990,
        refused: 10,
        not_sent: 10,
        seen: 980,
        silent: 4,
        explained: 6,
        loss_ratio: 0.02,
        latency_ms: Some(pct(800, 1500, 2500)),
        ..KindSection::default()
    };
    let mut fidelity = FidelitySection {
        source: "sentry api".into(),
        ..FidelitySection::default()
    };
    fidelity.kinds.insert(
        "error".into(),
        FidelityCounts {
            sampled: 10,
            passed: 9,
            failed: 1,
            ..FidelityCounts::default()
        },
    );
    Report {
        schema_version: SCHEMA_VERSION,
        tool_version: "0.1.0".into(),
        run: RunSection {
            id: id.into(),
            profile: "local".into(),
            profile_hash: "0".into(),
            seed: 1,
            started_at: "2026-01-01T00:00:00.000Z".into(),
            target: "http://127.0.0.1/1".into(),
            notes: vec![],
            interrupted: None,
            aborted_by: None,
        },
        schedule: ScheduleSection {
            planned: 1010,
            target_rate: 100.0,
            duration_secs: 10.1,
            stages: Vec::new(),
        },
        sending: SendingSection {
            records: 1010,
            started: 1000,
            outcomes,
            statuses: BTreeMap::new(),
            achieved_rate: 95.0,
            achieved_rate_ratio: 0.95,
            late: 0,
            late_after_ms: 10,
            lateness_us: None,
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
            latency_ms: Some(pct(800, 1500, 2500)),
            latency_histogram: None,
            stages: vec![],
            stages_unavailable: BTreeMap::new(),
            clock_offset_secs: None,
            polls: 10,
            queries: 10,
            failed_queries: 0,
            last_error: None,
        },
        issues: None,
        loss: LossSection {
            silent: 4,
            outcome_unknown: 0,
            outcome_unknown_why: None,
            attachment_outcomes: BTreeMap::new(),
            explained: [("filtered:release-version".to_owned(), 6)].into(),
            refused: [("rate_limited".to_owned(), 10), ("too_large".to_owned(), 0)].into(),
            transport_errors: 0,
            harness_dropped: 10,
            backed_off: 0,
            unjournaled: 0,
            unsupported: 0,
            loss_ratio: 0.02,
            missing_events: vec![],
        },
        kinds: [("error".to_owned(), kind)].into(),
        timeline: TimelineSection::default(),
        fidelity: Some(fidelity),
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

fn result(gate: &str, threshold: &str, measured: &str, passed: bool) -> GateResult {
    GateResult {
        gate: gate.into(),
        threshold: threshold.into(),
        measured: measured.into(),
        passed,
    }
}

/// The one result of gates that configure a single gate.
fn only(r: &Report, g: &GatesConfig, baseline: Option<&Report>) -> GateResult {
    let mut out = evaluate_gates(r, g, baseline);
    assert_eq!(out.len(), 1, "{out:#?}");
    out.remove(0)
}

fn check(got: GateResult, want: GateResult) {
    assert_eq!(got.gate, want.gate);
    assert_eq!(got.threshold, want.threshold, "{}", got.gate);
    assert_eq!(got.measured, want.measured, "{}", got.gate);
    assert_eq!(got.passed, want.passed, "{}: {}", got.gate, got.measured);
}

#[test]
fn no_configured_gate_gives_no_result() {
    assert!(evaluate_gates(&report("a"), &GatesConfig::default(), None).is_empty());
    assert!(evaluate_gates(&report("a"), &GatesConfig::default(), Some(&report("b"))).is_empty());
}

#[test]
fn loss_under_the_limit_passes_and_over_it_fails() {
    let r = report("a");
    let measured = "2.0 % (980 of 1000 offered events visible)";
    for (max, threshold, passed) in [
        (0.05, "5.0 %", true),
        (0.02, "2.0 %", true),
        (0.01, "1.0 %", false),
    ] {
        let g = GatesConfig {
            max_loss_ratio: ratio(max),
            ..GatesConfig::default()
        };
        check(
            only(&r, &g, None),
            result("max_loss_ratio", threshold, measured, passed),
        );
    }
}

#[test]
fn offered_events_leave_harness_drops_and_unsupported_sends_out() {
    let mut r = report("a");
    r.sending.records = 1015;
    r.loss.unsupported = 5;
    let g = GatesConfig {
        max_loss_ratio: ratio(0.05),
        ..GatesConfig::default()
    };
    assert_eq!(
        only(&r, &g, None).measured,
        "2.0 % (980 of 1000 offered events visible)"
    );
}

#[test]
fn silent_loss_under_the_limit_passes_the_gate() {
    let g = GatesConfig {
        max_silent_loss_ratio: ratio(0.005),
        ..GatesConfig::default()
    };
    check(
        only(&report("a"), &g, None),
        result(
            "max_silent_loss_ratio",
            "0.500 %",
            "0.404 % (4 of 990 accepted events vanished)",
            true,
        ),
    );
}

#[test]
fn silent_loss_over_the_limit_fails_the_gate() {
    let g = GatesConfig {
        max_silent_loss_ratio: ratio(0.001),
        ..GatesConfig::default()
    };
    check(
        only(&report("a"), &g, None),
        result(
            "max_silent_loss_ratio",
            "0.100 %",
            "0.404 % (4 of 990 accepted events vanished)",
            false,
        ),
    );
}

#[test]
fn silent_loss_from_a_source_blind_to_outcomes_is_not_measured_and_fails() {
    let mut r = report("a");
    r.loss.silent = 0;
    r.loss.outcome_unknown = 4;
    let g = GatesConfig {
        max_silent_loss_ratio: ratio(1.0),
        ..GatesConfig::default()
    };
    check(
        only(&r, &g, None),
        result(
            "max_silent_loss_ratio",
            "100.0 %",
            "not measured: 4 accepted events missing, outcome unknown: the source cannot \
             see outcomes (add [verify.clickhouse])",
            false,
        ),
    );
}

#[test]
fn refusals_under_the_limit_pass_and_over_it_fail() {
    let r = report("a");
    let measured = "1.0 % (10 of 1000 sends refused)";
    for (max, threshold, passed) in [(0.02, "2.0 %", true), (0.005, "0.500 %", false)] {
        let g = GatesConfig {
            max_rejected_ratio: ratio(max),
            ..GatesConfig::default()
        };
        check(
            only(&r, &g, None),
            result("max_rejected_ratio", threshold, measured, passed),
        );
    }
}

#[test]
fn refusals_of_every_status_add_up() {
    let mut r = report("a");
    r.loss.refused.insert("unavailable".into(), 40);
    let g = GatesConfig {
        max_rejected_ratio: ratio(0.02),
        ..GatesConfig::default()
    };
    check(
        only(&r, &g, None),
        result(
            "max_rejected_ratio",
            "2.0 %",
            "5.0 % (50 of 1000 sends refused)",
            false,
        ),
    );
}

#[test]
fn achieved_rate_at_or_above_the_minimum_passes_and_below_fails() {
    let r = report("a");
    let measured = "95.0 % (95.0 of 100.0 per s)";
    for (min, threshold, passed) in [
        (0.9, "90.0 %", true),
        (0.95, "95.0 %", true),
        (0.99, "99.0 %", false),
    ] {
        let g = GatesConfig {
            min_achieved_rate_ratio: ratio(min),
            ..GatesConfig::default()
        };
        check(
            only(&r, &g, None),
            result("min_achieved_rate_ratio", threshold, measured, passed),
        );
    }
}

#[test]
fn latency_within_each_limit_passes() {
    let g = GatesConfig {
        max_p50_visibility: ms(1000),
        max_p95_visibility: ms(1500),
        max_p99_visibility: ms(3000),
        ..GatesConfig::default()
    };
    let out = evaluate_gates(&report("a"), &g, None);
    assert_eq!(out.len(), 3);
    check(
        out[0].clone(),
        result(
            "max_p50_visibility",
            "1000 ms",
            "800 ms (poll interval 100 ms)",
            true,
        ),
    );
    check(
        out[1].clone(),
        result(
            "max_p95_visibility",
            "1500 ms",
            "1500 ms (poll interval 100 ms)",
            true,
        ),
    );
    check(
        out[2].clone(),
        result(
            "max_p99_visibility",
            "3000 ms",
            "2500 ms (poll interval 100 ms)",
            true,
        ),
    );
}

#[test]
fn latency_over_each_limit_fails() {
    let g = GatesConfig {
        max_p50_visibility: ms(799),
        max_p95_visibility: ms(1000),
        max_p99_visibility: Some(Duration::from_secs(2)),
        ..GatesConfig::default()
    };
    let out = evaluate_gates(&report("a"), &g, None);
    let got: Vec<(&str, &str, bool)> = out
        .iter()
        .map(|g| (g.gate.as_str(), g.threshold.as_str(), g.passed))
        .collect();
    assert_eq!(
        got,
        [
            ("max_p50_visibility", "799 ms", false),
            ("max_p95_visibility", "1000 ms", false),
            ("max_p99_visibility", "2000 ms", false),
        ]
    );
    assert_eq!(out[2].measured, "2500 ms (poll interval 100 ms)");
}

#[test]
fn latency_of_a_live_run_that_saw_nothing_is_not_measured_and_fails() {
    let mut r = report("a");
    r.visibility.latency_ms = None;
    let g = GatesConfig {
        max_p99_visibility: Some(Duration::from_secs(3600)),
        ..GatesConfig::default()
    };
    check(
        only(&r, &g, None),
        result(
            "max_p99_visibility",
            "3600000 ms",
            "not measured: no event became visible",
            false,
        ),
    );
}

#[test]
fn latency_of_a_run_verified_after_the_fact_is_not_measured_and_fails() {
    let mut r = report("a");
    r.visibility.live = false;
    r.visibility.latency_ms = None;
    let g = GatesConfig {
        max_p50_visibility: ms(1000),
        ..GatesConfig::default()
    };
    check(
        only(&r, &g, None),
        result(
            "max_p50_visibility",
            "1000 ms",
            "not measured: verification ran after the fact, not live",
            false,
        ),
    );
}

#[test]
fn kind_loss_under_the_limit_passes_and_over_it_fails() {
    let r = report("a");
    for (max, threshold, passed) in [(0.03, "3.0 %", true), (0.01, "1.0 %", false)] {
        let g = GatesConfig {
            kind: KindGatesConfig::default().with(
                EventKind::Error,
                KindGates {
                    max_loss_ratio: ratio(max),
                    ..KindGates::default()
                },
            ),
            ..GatesConfig::default()
        };
        check(
            only(&r, &g, None),
            result(
                "kind.error.max_loss_ratio",
                threshold,
                "2.0 % (980 error events visible)",
                passed,
            ),
        );
    }
}

#[test]
fn kind_gates_for_a_kind_the_run_did_not_send_are_not_measured_and_fail() {
    let g = GatesConfig {
        kind: KindGatesConfig::default().with(
            EventKind::Native,
            KindGates {
                max_loss_ratio: ratio(1.0),
                max_p95_visibility: Some(Duration::from_secs(60)),
                ..KindGates::default()
            },
        ),
        ..GatesConfig::default()
    };
    let out = evaluate_gates(&report("a"), &g, None);
    assert_eq!(out.len(), 2, "{out:#?}");
    check(
        out[0].clone(),
        result(
            "kind.native.max_loss_ratio",
            "100.0 %",
            "not measured: the run sent no native events",
            false,
        ),
    );
    check(
        out[1].clone(),
        result(
            "kind.native.max_p95_visibility",
            "60000 ms",
            "not measured: no event became visible",
            false,
        ),
    );
}

#[test]
fn kind_latency_is_checked_against_the_kinds_own_percentiles() {
    let mut r = report("a");
    // The whole run is fast; the error kind alone is slow.
    r.visibility.latency_ms = Some(pct(10, 20, 30));
    let g = GatesConfig {
        max_p99_visibility: ms(100),
        kind: KindGatesConfig::default().with(
            EventKind::Error,
            KindGates {
                max_p50_visibility: ms(1000),
                max_p99_visibility: ms(100),
                ..KindGates::default()
            },
        ),
        ..GatesConfig::default()
    };
    let out = evaluate_gates(&r, &g, None);
    assert_eq!(out.len(), 3, "{out:#?}");
    check(
        out[0].clone(),
        result(
            "max_p99_visibility",
            "100 ms",
            "30 ms (poll interval 100 ms)",
            true,
        ),
    );
    check(
        out[1].clone(),
        result(
            "kind.error.max_p50_visibility",
            "1000 ms",
            "800 ms (poll interval 100 ms)",
            true,
        ),
    );
    check(
        out[2].clone(),
        result(
            "kind.error.max_p99_visibility",
            "100 ms",
            "2500 ms (poll interval 100 ms)",
            false,
        ),
    );
}

#[test]
fn kind_latency_of_a_sent_kind_never_seen_is_not_measured_and_fails() {
    let mut r = report("a");
    r.visibility.live = false;
    r.kinds.get_mut("error").unwrap().latency_ms = None;
    let g = GatesConfig {
        kind: KindGatesConfig::default().with(
            EventKind::Error,
            KindGates {
                max_p99_visibility: ms(100),
                ..KindGates::default()
            },
        ),
        ..GatesConfig::default()
    };
    check(
        only(&r, &g, None),
        result(
            "kind.error.max_p99_visibility",
            "100 ms",
            "not measured: verification ran after the fact, not live",
            false,
        ),
    );
}

#[test]
fn fidelity_differences_within_the_limit_pass_and_over_it_fail() {
    let r = report("a");
    for (max, passed) in [(1, true), (0, false)] {
        let g = GatesConfig {
            max_fidelity_failures: Some(max),
            ..GatesConfig::default()
        };
        check(
            only(&r, &g, None),
            result(
                "max_fidelity_failures",
                &max.to_string(),
                "1 of 10 sampled events differ",
                passed,
            ),
        );
    }
}

#[test]
fn fidelity_with_nothing_compared_fails() {
    let mut r = report("a");
    let f = r.fidelity.as_mut().unwrap();
    f.kinds.insert(
        "error".into(),
        FidelityCounts {
            sampled: 10,
            unavailable: 7,
            throttled: 3,
            ..FidelityCounts::default()
        },
    );
    let g = GatesConfig {
        max_fidelity_failures: Some(5),
        ..GatesConfig::default()
    };
    check(
        only(&r, &g, None),
        result(
            "max_fidelity_failures",
            "5",
            "0 of 0 sampled events differ",
            false,
        ),
    );
}

#[test]
fn fidelity_gate_without_a_fidelity_check_is_not_measured_and_fails() {
    let mut r = report("a");
    r.fidelity = None;
    let g = GatesConfig {
        max_fidelity_failures: Some(100),
        ..GatesConfig::default()
    };
    check(
        only(&r, &g, None),
        result(
            "max_fidelity_failures",
            "100",
            "not measured: no fidelity check ran (it needs [verify.sentry_api])",
            false,
        ),
    );
}

fn every_baseline_gate(max: f64) -> GatesConfig {
    GatesConfig {
        baseline: BaselineGatesConfig {
            max_p50_regression: ratio(max),
            max_p99_regression: ratio(max),
            max_loss_ratio_increase: ratio(max),
            max_achieved_rate_drop: ratio(max),
        },
        ..GatesConfig::default()
    }
}

#[test]
fn baseline_gates_without_a_baseline_are_not_measured_and_fail() {
    let out = evaluate_gates(&report("a"), &every_baseline_gate(0.5), None);
    let names: Vec<&str> = out.iter().map(|g| g.gate.as_str()).collect();
    assert_eq!(
        names,
        [
            "baseline.max_p50_regression",
            "baseline.max_p99_regression",
            "baseline.max_loss_ratio_increase",
            "baseline.max_achieved_rate_drop",
        ]
    );
    for g in out {
        let want = if g.gate == "baseline.max_loss_ratio_increase" {
            "+50.0 pp"
        } else {
            "50.0 %"
        };
        assert_eq!(g.threshold, want, "{}", g.gate);
        assert_eq!(
            g.measured, "not measured: no baseline run given (--baseline runs/<id>)",
            "{}",
            g.gate
        );
        assert!(!g.passed, "{}", g.gate);
    }
}

#[test]
fn only_the_configured_baseline_gates_are_reported_without_a_baseline() {
    let g = GatesConfig {
        baseline: BaselineGatesConfig {
            max_achieved_rate_drop: ratio(0.1),
            ..BaselineGatesConfig::default()
        },
        ..GatesConfig::default()
    };
    check(
        only(&report("a"), &g, None),
        result(
            "baseline.max_achieved_rate_drop",
            "10.0 %",
            "not measured: no baseline run given (--baseline runs/<id>)",
            false,
        ),
    );
}

/// A baseline this run is a little worse than: p50 750 → 800 ms (+6.7 %), p99 2400 → 2500 ms
/// (+4.2 %), loss 0.015 → 0.02, rate 100 → 95 per second (−5 %).
fn slightly_better_baseline() -> Report {
    let mut b = report("base");
    b.visibility.latency_ms = Some(pct(750, 1400, 2400));
    b.loss.loss_ratio = 0.015;
    b.sending.achieved_rate = 100.0;
    b
}

#[test]
fn a_run_close_to_its_baseline_passes_every_baseline_gate() {
    let b = slightly_better_baseline();
    let out = evaluate_gates(&report("a"), &every_baseline_gate(0.1), Some(&b));
    assert_eq!(out.len(), 4, "{out:#?}");
    let want = [
        (
            "baseline.max_p50_regression",
            "+6.7 % (800 ms vs 750 ms in base)",
        ),
        (
            "baseline.max_p99_regression",
            "+4.2 % (2500 ms vs 2400 ms in base)",
        ),
        (
            "baseline.max_loss_ratio_increase",
            "+0.500 pp (2.0 % vs 1.5 % in base)",
        ),
        (
            "baseline.max_achieved_rate_drop",
            "-5.0 % (95.0/s vs 100.0/s in base)",
        ),
    ];
    for (got, (gate, measured)) in out.into_iter().zip(want) {
        let threshold = if gate == "baseline.max_loss_ratio_increase" {
            "+10.0 pp"
        } else {
            "10.0 %"
        };
        check(got, result(gate, threshold, measured, true));
    }
}

#[test]
fn a_run_much_worse_than_its_baseline_fails_every_baseline_gate() {
    let b = slightly_better_baseline();
    let out = evaluate_gates(&report("a"), &every_baseline_gate(0.001), Some(&b));
    assert_eq!(out.len(), 4, "{out:#?}");
    for g in &out {
        assert!(g.gate.starts_with("baseline."), "{}", g.gate);
        let want = if g.gate == "baseline.max_loss_ratio_increase" {
            "+0.100 pp"
        } else {
            "0.100 %"
        };
        assert_eq!(g.threshold, want, "{}", g.gate);
        assert!(!g.passed, "{}: {}", g.gate, g.measured);
    }
    assert_eq!(out[0].measured, "+6.7 % (800 ms vs 750 ms in base)");
    assert_eq!(out[3].measured, "-5.0 % (95.0/s vs 100.0/s in base)");
}

#[test]
fn a_run_better_than_its_baseline_passes_even_the_strictest_baseline_gates() {
    let mut b = report("base");
    b.visibility.latency_ms = Some(pct(1600, 3000, 5000));
    b.loss.loss_ratio = 0.04;
    b.sending.achieved_rate = 50.0;
    let out = evaluate_gates(&report("a"), &every_baseline_gate(0.0), Some(&b));
    let got: Vec<(&str, &str, bool)> = out
        .iter()
        .map(|g| (g.gate.as_str(), g.measured.as_str(), g.passed))
        .collect();
    assert_eq!(
        got,
        [
            (
                "baseline.max_p50_regression",
                "-50.0 % (800 ms vs 1600 ms in base)",
                true
            ),
            (
                "baseline.max_p99_regression",
                "-50.0 % (2500 ms vs 5000 ms in base)",
                true
            ),
            (
                "baseline.max_loss_ratio_increase",
                "-2.0 pp (2.0 % vs 4.0 % in base)",
                true
            ),
            (
                "baseline.max_achieved_rate_drop",
                "+90.0 % (95.0/s vs 50.0/s in base)",
                true
            ),
        ]
    );
}

#[test]
fn latency_regression_without_latency_in_the_baseline_is_not_measured_and_fails() {
    let mut b = report("base");
    b.visibility.latency_ms = None;
    let g = GatesConfig {
        baseline: BaselineGatesConfig {
            max_p99_regression: ratio(1.0),
            ..BaselineGatesConfig::default()
        },
        ..GatesConfig::default()
    };
    check(
        only(&report("a"), &g, Some(&b)),
        result(
            "baseline.max_p99_regression",
            "100.0 %",
            "not measured: latency missing in this run or the baseline",
            false,
        ),
    );
}

#[test]
fn latency_regression_without_latency_in_this_run_is_not_measured_and_fails() {
    let mut r = report("a");
    r.visibility.latency_ms = None;
    let g = GatesConfig {
        baseline: BaselineGatesConfig {
            max_p50_regression: ratio(1.0),
            ..BaselineGatesConfig::default()
        },
        ..GatesConfig::default()
    };
    let got = only(&r, &g, Some(&report("base")));
    assert_eq!(got.gate, "baseline.max_p50_regression");
    assert_eq!(
        got.measured,
        "not measured: latency missing in this run or the baseline"
    );
    assert!(!got.passed);
}

#[test]
fn a_baseline_that_sent_nothing_counts_as_no_rate_drop() {
    let mut b = report("base");
    b.sending.achieved_rate = 0.0;
    let g = GatesConfig {
        baseline: BaselineGatesConfig {
            max_achieved_rate_drop: ratio(0.0),
            ..BaselineGatesConfig::default()
        },
        ..GatesConfig::default()
    };
    let got = only(&report("a"), &g, Some(&b));
    assert_eq!(got.gate, "baseline.max_achieved_rate_drop");
    assert!(got.passed, "{}", got.measured);
    assert!(
        got.measured.ends_with(" % (95.0/s vs 0.0/s in base)"),
        "{}",
        got.measured
    );
}

#[test]
fn gates_are_listed_in_a_fixed_order() {
    let g = GatesConfig {
        max_loss_ratio: ratio(1.0),
        max_silent_loss_ratio: ratio(1.0),
        max_rejected_ratio: ratio(1.0),
        min_achieved_rate_ratio: ratio(0.0),
        max_p50_visibility: ms(10_000),
        max_p95_visibility: ms(10_000),
        max_p99_visibility: ms(10_000),
        max_fidelity_failures: Some(10),
        max_lost_in_relay_ratio: ratio(1.0),
        kind: KindGatesConfig::default()
            .with(
                EventKind::Javascript,
                KindGates {
                    max_loss_ratio: ratio(1.0),
                    ..KindGates::default()
                },
            )
            .with(
                EventKind::Error,
                KindGates {
                    max_loss_ratio: ratio(1.0),
                    max_p50_visibility: ms(10_000),
                    ..KindGates::default()
                },
            ),
        baseline: BaselineGatesConfig {
            max_loss_ratio_increase: ratio(1.0),
            ..BaselineGatesConfig::default()
        },
        // Checked while the run sends, not here.
        abort: None,
    };
    let out = evaluate_gates(&report("a"), &g, Some(&report("base")));
    let names: Vec<(&str, bool)> = out.iter().map(|g| (g.gate.as_str(), g.passed)).collect();
    assert_eq!(
        names,
        [
            ("max_loss_ratio", true),
            ("max_silent_loss_ratio", true),
            // Not measured: the report has no Relay-upstream check.
            ("max_lost_in_relay_ratio", false),
            ("max_rejected_ratio", true),
            ("min_achieved_rate_ratio", true),
            ("max_p50_visibility", true),
            ("max_p95_visibility", true),
            ("max_p99_visibility", true),
            ("kind.error.max_loss_ratio", true),
            ("kind.error.max_p50_visibility", true),
            ("kind.javascript.max_loss_ratio", false),
            ("max_fidelity_failures", true),
            ("baseline.max_loss_ratio_increase", true),
        ]
    );
}

/// A run where nothing reached the target: every record dropped by the harness.
fn nothing_sent() -> Report {
    let mut r = report("a");
    r.sending.records = 50;
    r.sending.started = 0;
    r.loss.harness_dropped = 50;
    r.loss.silent = 0;
    r.loss.loss_ratio = 0.0;
    r.visibility.seen = 0;
    r.sending.outcomes = [("accepted", 0), ("harness_dropped", 50)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let k = r.kinds.get_mut("error").unwrap();
    (k.records, k.started, k.accepted, k.seen, k.loss_ratio) = (50, 0, 0, 0, 0.0);
    r
}

#[test]
fn ratio_gates_over_nothing_are_not_measured_and_fail() {
    let r = nothing_sent();
    let g = GatesConfig {
        max_loss_ratio: ratio(1.0),
        max_silent_loss_ratio: ratio(1.0),
        max_rejected_ratio: ratio(1.0),
        kind: KindGatesConfig::default().with(
            EventKind::Error,
            KindGates {
                max_loss_ratio: ratio(1.0),
                ..KindGates::default()
            },
        ),
        ..GatesConfig::default()
    };
    let out = evaluate_gates(&r, &g, None);
    let got: Vec<(&str, bool, bool)> = out
        .iter()
        .map(|g| {
            (
                g.gate.as_str(),
                g.passed,
                g.measured.starts_with("not measured: "),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("max_loss_ratio", false, true),
            ("max_silent_loss_ratio", false, true),
            ("max_rejected_ratio", false, true),
            ("kind.error.max_loss_ratio", false, true),
        ],
        "{out:#?}"
    );
    assert_eq!(
        out[3].measured,
        "not measured: no error event went out (50 planned, none sent)"
    );
}

#[test]
fn an_unchanged_rate_is_shown_as_no_drop() {
    let g = GatesConfig {
        baseline: BaselineGatesConfig {
            max_achieved_rate_drop: ratio(0.0),
            ..BaselineGatesConfig::default()
        },
        ..GatesConfig::default()
    };
    let got = only(&report("a"), &g, Some(&report("base")));
    assert!(got.passed, "{}", got.measured);
    assert_eq!(got.measured, "0 % (95.0/s vs 95.0/s in base)");
}
