use super::*;
use sentry_load_common::RunId;
use sentry_load_common::journal::{
    JournalHeader, JournalReader, JournalRecord, JournalWriter, TargetInfo,
};
use sentry_load_common::sentry_outcome::{category, code};
use sentry_load_config::Ratio;
use sentry_load_verify::{EventTable, Explained, MissingEvent};
use std::time::Duration;
use uuid::Uuid;

/// Time zero: 2027-01-15T08:00:00Z, Unix µs.
const T0: u64 = 1_800_000_000_000_000;

fn header() -> JournalHeader {
    JournalHeader {
        run_id: RunId::parse("run-1").unwrap(),
        seed: 7,
        profile: "local".into(),
        profile_hash: "abc".into(),
        tool_version: "0.1.0".into(),
        started_at_micros: T0,
        targets: vec![
            TargetInfo {
                display: "http://k…@relay-a/1".into(),
                project_id: 1,
            },
            TargetInfo {
                display: "http://k…@relay-b/2".into(),
                project_id: 2,
            },
        ],
    }
}

/// A send of `kind` ending in `outcome`, meant for `at` µs after time zero and started
/// `late` µs after that (when it went out at all).
fn send(seq: u64, kind: EventKind, outcome: SendOutcome, at: u64, late: u64) -> JournalRecord {
    let sent = outcome.was_sent();
    let status = match outcome {
        SendOutcome::Accepted => 200,
        SendOutcome::RateLimited => 429,
        SendOutcome::Unavailable => 503,
        _ => 0,
    };
    JournalRecord {
        seq,
        event_id: Uuid::from_u128(u128::from(seq) + 1),
        kind,
        outcome,
        status,
        target: 0,
        project_id: 1,
        intended_micros: T0 + at,
        sent_micros: if sent { T0 + at + late } else { 0 },
        done_micros: if sent { T0 + at + late + 5_000 } else { 0 },
        bytes: if sent { 100 } else { 0 },
    }
}

/// The records, through a journal file, summed up with a 10 ms lateness threshold.
fn summary(records: &[JournalRecord]) -> SendSummary {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let mut w = JournalWriter::create(&path, &header(), Duration::from_secs(60)).unwrap();
    for r in records {
        w.append(r).unwrap();
    }
    w.finish().unwrap();
    let reader = JournalReader::open(&path).unwrap();
    SendSummary::read_all(vec![reader], Duration::from_millis(10), |_| {}).unwrap()
}

fn missing(r: &JournalRecord) -> MissingEvent {
    MissingEvent {
        event_id: r.event_id,
        seq: r.seq,
        kind: r.kind,
        project_id: r.project_id,
        intended_micros: r.intended_micros,
    }
}

fn explained(r: &JournalRecord, outcome: u8, reason: &str, category: u8) -> Explained {
    Explained {
        event_id: r.event_id,
        outcome,
        reason: Some(reason.into()),
        category,
    }
}

fn verify(
    tracked: u64,
    missing: Vec<MissingEvent>,
    unverified: Vec<MissingEvent>,
) -> VerifyOutcome {
    let mut events = EventTable::default();
    events.missing = missing;
    events.unverified = unverified;
    VerifyOutcome {
        source: "clickhouse http://127.0.0.1:8123".into(),
        live: false,
        poll_interval: Duration::from_millis(250),
        tracked,
        events,
        explained: vec![],
        attachment_outcomes: vec![],
        outcomes_visible: true,
        skipped: 0,
        polls: 3,
        queries: 5,
        failed_queries: 1,
        last_error: Some("clickhouse: timeout".into()),
    }
}

fn input<'a>(s: &'a SendSummary, v: &'a VerifyOutcome, gates: &'a GatesConfig) -> ReportInput<'a> {
    ReportInput {
        notes: &[],
        sending: s,
        verify: v,
        issues: None,
        planned: 10,
        unjournaled: 0,
        target_rate: 5.0,
        duration_secs: 2.0,
        gates,
        fidelity: None,
        baseline: None,
        disruptions: &[],
        probes: &[],
        relay_upstream: None,
    }
}

/// Ten accepted error sends, 100 ms apart from time zero, each 1 ms late.
fn ten_accepted() -> Vec<JournalRecord> {
    (0..10)
        .map(|i| {
            send(
                i,
                EventKind::Error,
                SendOutcome::Accepted,
                i * 100_000,
                1_000,
            )
        })
        .collect()
}

fn ratio(v: f64) -> Option<Ratio> {
    Some(Ratio::try_from(v).unwrap())
}

/// Thirteen records: errors 0–5 accepted, 6–7 answered 429, 8 a transport error, 9 backed
/// off, 10–11 dropped by the harness; transaction 12 unsupported by the target.
fn mixed() -> Vec<JournalRecord> {
    use SendOutcome::*;
    let e = EventKind::Error;
    let mut r: Vec<JournalRecord> = (0..6)
        .map(|i| send(i, e, Accepted, i * 100_000, 1_000))
        .collect();
    r.push(send(6, e, RateLimited, 600_000, 20_000));
    r.push(send(7, e, RateLimited, 700_000, 20_000));
    r.push(send(8, e, TransportError, 800_000, 20_000));
    r.push(send(9, e, BackedOff, 900_000, 0));
    r.push(send(10, e, HarnessDropped, 1_000_000, 0));
    r.push(send(11, e, HarnessDropped, 1_100_000, 0));
    r.push(send(12, EventKind::Transaction, Unsupported, 1_200_000, 0));
    r
}

#[test]
fn sending_counts_follow_the_journal() {
    let records = mixed();
    let s = summary(&records);
    let v = verify(6, vec![], vec![]);
    let r = build_report(input(&s, &v, &GatesConfig::default()));
    assert_eq!(r.sending.records, 13);
    // Everything but back-off, harness drops and the unsupported transaction went out.
    assert_eq!(r.sending.started, 9);
    assert_eq!(r.sending.outcomes.len(), SendOutcome::ALL.len());
    assert_eq!(r.sending.outcomes["accepted"], 6);
    assert_eq!(r.sending.outcomes["rate_limited"], 2);
    assert_eq!(r.sending.outcomes["too_large"], 0);
    assert_eq!(r.sending.outcomes["unsupported"], 1);
    let statuses: Vec<(&str, u64)> = r
        .sending
        .statuses
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(statuses, [("0", 5), ("200", 6), ("429", 2)]);
    // 9 sends of 100 bytes; 3 of them started 20 ms late, over the 10 ms threshold.
    assert_eq!(r.sending.bytes, 900);
    assert_eq!(r.sending.late, 3);
    assert_eq!(r.sending.late_after_ms, 10);
    assert_eq!(r.loss.refused.len(), 6);
    assert_eq!(r.loss.refused["rate_limited"], 2);
    assert_eq!(r.loss.refused.values().sum::<u64>(), 2);
    assert_eq!(r.loss.transport_errors, 1);
    assert_eq!(r.loss.backed_off, 1);
    assert_eq!(r.loss.harness_dropped, 2);
    assert_eq!(r.loss.unsupported, 1);
    assert_eq!(r.run.id, "run-1");
    assert_eq!(r.run.started_at, "2027-01-15T08:00:00.000Z");
    assert_eq!(r.run.target, "http://k…@relay-a/1, http://k…@relay-b/2");
    assert_eq!(r.schedule.planned, 10);
    assert_eq!(r.visibility.poll_interval_ms, 250);
    assert_eq!(r.visibility.failed_queries, 1);
}

#[test]
fn missing_events_split_into_silent_and_explained_loss() {
    let records = mixed();
    let s = summary(&records);
    // Accepted 0–3 answered for but never seen, 4–5 unknown: their last lookup failed.
    let mut v = verify(
        6,
        records[..4].iter().map(missing).collect(),
        records[4..6].iter().map(missing).collect(),
    );
    v.explained = vec![
        explained(
            &records[1],
            code::FILTERED,
            "release-version",
            category::ERROR,
        ),
        // A second outcome for the same event: the first one found explains it.
        explained(&records[1], code::INVALID, "project_id", category::ERROR),
        // An outcome for an event that is not missing explains nothing.
        explained(
            &records[4],
            code::RATE_LIMITED,
            "key_quota",
            category::ERROR,
        ),
    ];
    // An attachment's outcome never explains its event.
    v.attachment_outcomes = vec![explained(
        &records[0],
        code::FILTERED,
        "crash-report-limit",
        category::ATTACHMENT,
    )];
    let r = build_report(input(&s, &v, &GatesConfig::default()));
    assert_eq!(r.visibility.seen, 0);
    assert_eq!(r.visibility.missing, 4);
    assert_eq!(r.visibility.unverified, 2);
    assert_eq!(r.loss.silent, 3);
    assert_eq!(r.loss.outcome_unknown, 0);
    assert_eq!(r.loss.outcome_unknown_why, None);
    let explained: Vec<(&str, u64)> = r
        .loss
        .explained
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(explained, [("filtered:release-version", 1)]);
    let attachments: Vec<(&str, u64)> = r
        .loss
        .attachment_outcomes
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(attachments, [("filtered:crash-report-limit", 1)]);
    let listed: Vec<(u64, Option<&str>)> = r
        .loss
        .missing_events
        .iter()
        .map(|m| (m.seq, m.outcome.as_deref()))
        .collect();
    assert_eq!(
        listed,
        [
            (0, None),
            (1, Some("filtered:release-version")),
            (2, None),
            (3, None)
        ]
    );
    assert_eq!(
        r.loss.missing_events[1].event_id,
        "00000000000000000000000000000002"
    );
    // Offered: 6 accepted + 2 refused + 1 transport error + 1 backed off; none seen.
    assert_eq!(r.loss.loss_ratio, 1.0);
}

#[test]
fn per_kind_counts_split_the_journal_by_kind() {
    let records = mixed();
    let s = summary(&records);
    let mut v = verify(
        6,
        records[..4].iter().map(missing).collect(),
        records[4..6].iter().map(missing).collect(),
    );
    v.explained = vec![explained(
        &records[1],
        code::FILTERED,
        "release-version",
        category::ERROR,
    )];
    let r = build_report(input(&s, &v, &GatesConfig::default()));
    assert_eq!(r.kinds.keys().collect::<Vec<_>>(), ["error", "transaction"]);
    let e = &r.kinds["error"];
    assert_eq!((e.records, e.started, e.accepted, e.refused), (12, 9, 6, 2));
    assert_eq!((e.transport_errors, e.not_sent, e.seen), (1, 3, 0));
    assert_eq!((e.silent, e.explained, e.unverified), (3, 1, 2));
    assert_eq!(e.loss_ratio, 1.0);
    let t = &r.kinds["transaction"];
    assert_eq!((t.records, t.started, t.not_sent), (1, 0, 1));
    // Nothing of the kind was offered: no loss.
    assert_eq!(t.loss_ratio, 0.0);
}

#[test]
fn a_source_blind_to_outcomes_reports_outcome_unknown_instead_of_silent_loss() {
    let records = ten_accepted();
    let s = summary(&records);
    let mut v = verify(10, records[..2].iter().map(missing).collect(), vec![]);
    v.source = "sentry api http://sentry/".into();
    v.outcomes_visible = false;
    let gates = GatesConfig {
        max_silent_loss_ratio: ratio(1.0),
        ..GatesConfig::default()
    };
    let r = build_report(input(&s, &v, &gates));
    assert_eq!(r.loss.silent, 0);
    assert_eq!(r.loss.outcome_unknown, 2);
    let why = r.loss.outcome_unknown_why.as_deref().unwrap();
    assert!(
        why.starts_with("sentry api http://sentry/ keeps no per-event outcomes"),
        "{why}"
    );
    assert_eq!(r.kinds["error"].silent, 0);
    assert_eq!(r.kinds["error"].outcome_unknown, 2);
    assert_eq!(r.gates.len(), 1);
    assert_eq!(r.gates[0].gate, "max_silent_loss_ratio");
    assert!(r.gates[0].measured.starts_with("not measured: 2 accepted"));
    assert!(!r.passed);
}

#[test]
fn achieved_rate_is_taken_over_the_planned_duration_when_sends_finish_early() {
    // Ten sends within the first second of a 2 s plan: 10 / 2 s.
    let s = summary(&ten_accepted());
    let v = verify(10, vec![], vec![]);
    let r = build_report(ReportInput {
        target_rate: 10.0,
        ..input(&s, &v, &GatesConfig::default())
    });
    assert_eq!(r.sending.achieved_rate, 5.0);
    assert_eq!(r.sending.achieved_rate_ratio, 0.5);
    assert_eq!(r.schedule.target_rate, 10.0);
    assert_eq!(r.schedule.duration_secs, 2.0);
}

#[test]
fn achieved_rate_is_taken_over_the_sending_span_when_sends_run_late() {
    // The last of ten sends starts 4 s after time zero, in a 2 s plan: 10 / 4 s.
    let mut records = ten_accepted();
    records[9] = send(
        9,
        EventKind::Error,
        SendOutcome::Accepted,
        900_000,
        3_100_000,
    );
    let s = summary(&records);
    let v = verify(10, vec![], vec![]);
    let r = build_report(ReportInput {
        target_rate: 5.0,
        ..input(&s, &v, &GatesConfig::default())
    });
    assert_eq!(r.sending.achieved_rate, 2.5);
    assert_eq!(r.sending.achieved_rate_ratio, 0.5);
    assert_eq!(r.sending.late, 1);
}

#[test]
fn a_run_that_offered_nothing_has_no_rate_and_no_loss() {
    let records: Vec<JournalRecord> = (0..4)
        .map(|i| send(i, EventKind::Error, SendOutcome::HarnessDropped, i, 0))
        .collect();
    let s = summary(&records);
    let v = verify(0, vec![], vec![]);
    let r = build_report(ReportInput {
        target_rate: 0.0,
        duration_secs: 0.0,
        ..input(&s, &v, &GatesConfig::default())
    });
    assert_eq!(r.sending.started, 0);
    assert_eq!(r.sending.achieved_rate, 0.0);
    assert_eq!(r.sending.achieved_rate_ratio, 0.0);
    assert_eq!(r.loss.harness_dropped, 4);
    assert_eq!(r.loss.loss_ratio, 0.0);
    assert_eq!(r.kinds["error"].not_sent, 4);
}

#[test]
fn the_report_passes_only_when_every_gate_passes() {
    let records = mixed();
    let s = summary(&records);
    let v = verify(6, vec![], vec![]);
    // 2 of 9 sends refused; 4.5 of 5 sends per second (9 over the 2 s plan).
    let lenient = GatesConfig {
        max_rejected_ratio: ratio(0.25),
        min_achieved_rate_ratio: ratio(0.9),
        ..GatesConfig::default()
    };
    let r = build_report(input(&s, &v, &lenient));
    let got: Vec<(&str, &str, bool)> = r
        .gates
        .iter()
        .map(|g| (g.gate.as_str(), g.measured.as_str(), g.passed))
        .collect();
    assert_eq!(
        got,
        [
            ("max_rejected_ratio", "22.2 % (2 of 9 sends refused)", true),
            ("min_achieved_rate_ratio", "90.0 % (4.5 of 5.0 per s)", true),
        ]
    );
    assert!(r.passed);
    let strict = GatesConfig {
        max_rejected_ratio: ratio(0.2),
        ..lenient
    };
    let r = build_report(input(&s, &v, &strict));
    assert_eq!(
        r.gates.iter().map(|g| g.passed).collect::<Vec<_>>(),
        [false, true]
    );
    assert!(!r.passed);
}

#[test]
fn no_gates_pass_trivially() {
    let s = summary(&ten_accepted());
    let v = verify(10, vec![], vec![]);
    let r = build_report(input(&s, &v, &GatesConfig::default()));
    assert!(r.gates.is_empty());
    assert!(r.passed);
}

#[test]
fn a_baseline_is_named_in_the_report_and_gated_against() {
    let s = summary(&ten_accepted());
    let v = verify(10, vec![], vec![]);
    let gates = GatesConfig::default();
    let mut base = build_report(input(&s, &v, &gates));
    base.run.id = "base-run".into();
    base.sending.achieved_rate = 10.0;
    let gates = GatesConfig {
        baseline: sentry_load_config::BaselineGatesConfig {
            max_achieved_rate_drop: ratio(0.4),
            ..Default::default()
        },
        ..GatesConfig::default()
    };
    let r = build_report(ReportInput {
        baseline: Some((&base, "runs/base-run".into())),
        ..input(&s, &v, &gates)
    });
    let b = r.baseline.as_ref().unwrap();
    assert_eq!(
        (b.run_id.as_str(), b.path.as_str()),
        ("base-run", "runs/base-run")
    );
    // 5 per second now against 10 then: a 50 % drop.
    assert_eq!(r.gates.len(), 1);
    assert_eq!(r.gates[0].gate, "baseline.max_achieved_rate_drop");
    assert_eq!(r.gates[0].measured, "-50.0 % (5.0/s vs 10.0/s in base-run)");
    assert!(!r.passed);
}

#[test]
fn verification_after_the_fact_measures_no_latency() {
    let s = summary(&ten_accepted());
    let v = verify(10, vec![], vec![]);
    let r = build_report(input(&s, &v, &GatesConfig::default()));
    assert!(!r.visibility.live);
    assert_eq!(r.visibility.latency_ms, None);
    assert_eq!(r.visibility.latency_histogram, None);
    assert_eq!(r.kinds["error"].latency_ms, None);
    assert!(r.visibility.stages.is_empty());
    assert_eq!(r.visibility.clock_offset_secs, None);
}

#[test]
fn a_failed_issue_check_is_reported_with_its_error() {
    let s = summary(&ten_accepted());
    let v = verify(10, vec![], vec![]);
    let r = build_report(ReportInput {
        issues: Some(Err("postgres: connection refused".into())),
        ..input(&s, &v, &GatesConfig::default())
    });
    let i = r.issues.unwrap();
    assert_eq!(i.error.as_deref(), Some("postgres: connection refused"));
    assert_eq!((i.expected, i.found), (0, 0));
}

#[test]
fn at_most_ten_thousand_missing_events_are_listed() {
    let s = summary(&ten_accepted());
    let many: Vec<MissingEvent> = (0..10_005)
        .map(|seq| MissingEvent {
            event_id: Uuid::from_u128(u128::from(seq) + 1),
            seq,
            kind: EventKind::Error,
            project_id: 1,
            intended_micros: T0,
        })
        .collect();
    let v = verify(10_005, many, vec![]);
    let r = build_report(input(&s, &v, &GatesConfig::default()));
    assert_eq!(r.visibility.missing, 10_005);
    assert_eq!(r.loss.silent, 10_005);
    assert_eq!(r.loss.missing_events.len(), 10_000);
    assert_eq!(r.loss.missing_events.last().unwrap().seq, 9_999);
}

#[test]
fn planned_sends_without_a_journal_record_count_as_lost() {
    // Ten sends journaled (none seen in this fixture), two more planned that the journal lost:
    // twelve offered.
    let s = summary(&ten_accepted());
    let v = verify(10, vec![], vec![]);
    let gates = GatesConfig {
        max_loss_ratio: Some(Ratio::try_from(0.0).unwrap()),
        ..GatesConfig::default()
    };
    let r = build_report(ReportInput {
        planned: 12,
        unjournaled: 2,
        ..input(&s, &v, &gates)
    });
    assert_eq!(r.loss.unjournaled, 2);
    let g = r.gates.iter().find(|g| g.gate == "max_loss_ratio").unwrap();
    assert!(!g.passed, "{g:?}");
    assert!(
        g.measured
            .contains("0 of 12 offered events visible; 2 planned sends have no journal record"),
        "{g:?}"
    );
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.contains("the journal holds no record of 2 planned sends")),
        "{:?}",
        r.verdicts
    );
    assert!(!r.passed);
}

#[test]
fn a_journal_of_only_its_header_fails_the_loss_gate() {
    let s = summary(&[]);
    let v = verify(0, vec![], vec![]);
    let gates = GatesConfig {
        max_loss_ratio: Some(Ratio::try_from(0.0).unwrap()),
        ..GatesConfig::default()
    };
    let r = build_report(ReportInput {
        unjournaled: 10,
        ..input(&s, &v, &gates)
    });
    assert_eq!(r.sending.records, 0);
    assert_eq!(r.loss.loss_ratio, 1.0);
    assert!(!r.passed);
}
