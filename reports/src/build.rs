//! Joins the send summary and the verify outcome into a [`Report`].

use crate::gates::evaluate_gates;
use crate::histogram::Recorder;
use crate::kinds::kind_sections;
use crate::model::*;
use crate::send_summary::SendSummary;
use crate::timeline::timeline;
use sentry_load_common::{EventKind, SendOutcome, clock};
use sentry_load_config::GatesConfig;
use sentry_load_verify::{IssueCheck, VerifyOutcome};
use std::collections::BTreeMap;

/// Silently lost events listed by id in the report, at most.
const MISSING_LISTED: usize = 10_000;

/// Everything a report is built from.
pub struct ReportInput<'a> {
    /// What preflight changed about the run.
    pub notes: &'a [String],
    /// The journal, summed up.
    pub sending: &'a SendSummary,
    /// What verification found.
    pub verify: &'a VerifyOutcome,
    /// The Postgres issue check, when configured: its result or why it failed.
    pub issues: Option<Result<IssueCheck, String>>,
    /// Sends planned.
    pub planned: u64,
    /// Planned sends the journal holds no record of (damaged, or never written because the
    /// process died): counted as lost, since nothing says they reached Sentry. Zero for an
    /// interrupted run, whose unreached arrivals were never due.
    pub unjournaled: u64,
    /// Planned envelopes per second.
    pub target_rate: f64,
    /// Planned duration, seconds.
    pub duration_secs: f64,
    /// The profile's gates.
    pub gates: &'a GatesConfig,
    /// The fidelity check's result, when it ran.
    pub fidelity: Option<FidelitySection>,
    /// The baseline run's report and where it was read, for the baseline gates.
    pub baseline: Option<(&'a Report, String)>,
    /// The `[[disruption]]` commands that ran.
    pub disruptions: &'a [crate::disruptions::DisruptionMark],
    /// What the `[[probes]]` sampled.
    pub probes: &'a [crate::probes::ProbeTrack],
    /// The Relay-upstream check, when `[verify.relay_upstream]` is set.
    pub relay_upstream: Option<crate::relay_upstream::RelayUpstreamSection>,
}

/// Builds the report and checks its gates.
pub fn build_report(input: ReportInput<'_>) -> Report {
    let s = input.sending;
    let v = input.verify;
    let header = &s.header;
    let started = s.started();
    // Everything the schedule offered to Sentry: sent, or held back by SDK-like back-off.
    let offered: u64 = SendOutcome::ALL
        .iter()
        .filter(|o| o.was_offered())
        .map(|o| s.count(*o))
        .sum::<u64>()
        + input.unjournaled;
    let span_secs = (s.last_sent_micros.saturating_sub(header.started_at_micros) as f64 / 1e6)
        .max(input.duration_secs);
    let achieved_rate = if span_secs > 0.0 {
        started as f64 / span_secs
    } else {
        0.0
    };
    let outcomes: BTreeMap<String, u64> = SendOutcome::ALL
        .iter()
        .map(|o| (o.as_str().to_owned(), s.count(*o)))
        .collect();
    let refused: BTreeMap<String, u64> = SendOutcome::ALL
        .iter()
        .filter(|o| o.is_refusal())
        .map(|o| (o.as_str().to_owned(), s.count(*o)))
        .collect();
    let seen = v.seen_count();
    // Outcomes of missing events in their own category (one per event: the first found).
    let missing_ids: std::collections::HashSet<uuid::Uuid> =
        v.missing().iter().map(|m| m.event_id).collect();
    let mut explained: std::collections::HashMap<uuid::Uuid, String> = Default::default();
    for e in &v.explained {
        if missing_ids.contains(&e.event_id) {
            explained.entry(e.event_id).or_insert_with(|| e.label());
        }
    }
    let unexplained = v.missing().len() as u64 - explained.len() as u64;
    let (silent, outcome_unknown) = if v.outcomes_visible {
        (unexplained, 0)
    } else {
        (0, unexplained)
    };
    let report_issues = input.issues.map(|r| match r {
        Ok(c) => IssuesSection {
            expected: c.expected,
            found: c.found,
            missing: c.missing,
            crashes: c.crashes,
            crashes_with_attachment: c.crashes_with_attachment,
            crash_reports: c
                .crash_reports
                .iter()
                .map(crate::crash_reports::section)
                .collect(),
            error: None,
        },
        Err(e) => IssuesSection {
            expected: 0,
            found: 0,
            missing: vec![],
            crashes: 0,
            crashes_with_attachment: 0,
            crash_reports: vec![],
            error: Some(e),
        },
    });
    let (latency_ms, latency_histogram) = if v.live {
        let mut r = Recorder::new(3_600_000);
        for e in v.seen() {
            r.record(e.seen_micros.saturating_sub(e.intended_micros) / 1000);
        }
        (r.percentiles(), Some(r.encoded()))
    } else {
        (None, None)
    };
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        tool_version: sentry_load_common::TOOL_VERSION.to_owned(),
        run: RunSection {
            id: header.run_id.to_string(),
            profile: header.profile.clone(),
            profile_hash: header.profile_hash.clone(),
            seed: header.seed,
            started_at: clock::rfc3339_millis(header.started_at_micros),
            target: header
                .targets
                .iter()
                .map(|t| t.display.clone())
                .collect::<Vec<_>>()
                .join(", "),
            notes: input.notes.to_vec(),
            interrupted: None,
            aborted_by: None,
        },
        schedule: ScheduleSection {
            planned: input.planned,
            target_rate: input.target_rate,
            duration_secs: input.duration_secs,
            stages: Vec::new(),
        },
        sending: SendingSection {
            records: s.records,
            started,
            outcomes,
            statuses: s
                .statuses
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            achieved_rate,
            achieved_rate_ratio: if input.target_rate > 0.0 {
                achieved_rate / input.target_rate
            } else {
                0.0
            },
            late: s.late,
            late_after_ms: s.late_after.as_millis() as u64,
            lateness_us: s.lateness.percentiles(),
            round_trip_us: s.round_trip.percentiles(),
            bytes: s.bytes,
            journal_ignored_tail_bytes: s.ignored_tail_bytes,
            journal_damaged_bytes: s.damaged_bytes,
        },
        visibility: VisibilitySection {
            source: v.source.clone(),
            live: v.live,
            poll_interval_ms: v.poll_interval.as_millis() as u64,
            tracked: v.tracked,
            seen,
            missing: v.missing().len() as u64,
            unverified: v.unverified().len() as u64 + v.skipped,
            duplicated: v.seen().filter(|e| e.rows > 1).count() as u64,
            latency_ms,
            latency_histogram,
            stages: stages(v),
            stages_unavailable: stages_unavailable(v),
            clock_offset_secs: clock_offset(v),
            polls: v.polls,
            queries: v.queries,
            failed_queries: v.failed_queries,
            last_error: v.last_error.clone(),
        },
        issues: report_issues,
        loss: LossSection {
            silent,
            outcome_unknown,
            outcome_unknown_why: (outcome_unknown > 0).then(|| {
                format!(
                    "{} keeps no per-event outcomes: whether Relay or Sentry dropped these \
                     events with a reason is unknown — read back from ClickHouse \
                     ([verify.clickhouse], `outcomes_raw_local`) to tell silent loss from \
                     explained loss",
                    v.source
                )
            }),
            attachment_outcomes: v
                .attachment_outcomes
                .iter()
                .fold(BTreeMap::new(), |mut m, o| {
                    *m.entry(o.label()).or_insert(0) += 1;
                    m
                }),
            explained: explained.values().fold(BTreeMap::new(), |mut m, label| {
                *m.entry(label.clone()).or_insert(0) += 1;
                m
            }),
            refused,
            transport_errors: s.count(SendOutcome::TransportError),
            harness_dropped: s.count(SendOutcome::HarnessDropped),
            unsupported: s.count(SendOutcome::Unsupported),
            backed_off: s.count(SendOutcome::BackedOff),
            unjournaled: input.unjournaled,
            loss_ratio: if offered > 0 {
                offered.saturating_sub(seen) as f64 / offered as f64
            } else {
                0.0
            },
            missing_events: v
                .missing()
                .iter()
                .take(MISSING_LISTED)
                .map(|m| MissingEntry {
                    seq: m.seq,
                    event_id: m.event_id.simple().to_string(),
                    project_id: m.project_id,
                    outcome: explained.get(&m.event_id).cloned(),
                })
                .collect(),
        },
        kinds: BTreeMap::new(),
        fidelity: input.fidelity,
        timeline: timeline(s, v),
        baseline: input.baseline.as_ref().map(|(b, path)| BaselineRef {
            run_id: b.run.id.clone(),
            path: path.clone(),
        }),
        verdicts: vec![],
        disruptions: Vec::new(),
        probes: None,
        relay_upstream: None,
        capacity: None,
        gates: vec![],
        passed: true,
    };
    let explained_ids = explained.keys().copied().collect();
    report.kinds = kind_sections(s, v, &explained_ids);
    report.disruptions = crate::disruptions::disruption_sections(
        input.disruptions,
        header.started_at_micros,
        v,
        &explained_ids,
    );
    if !input.probes.is_empty() {
        let max_p99 = input.gates.max_p99_visibility.map(|d| d.as_millis() as u64);
        report.probes = Some(crate::probes::probes_section(
            input.probes,
            &report.timeline,
            max_p99,
        ));
    }
    report.relay_upstream = input.relay_upstream;
    report.verdicts = crate::verdicts::verdicts(&report);
    report.gates = evaluate_gates(&report, input.gates, input.baseline.map(|(b, _)| b));
    report.passed = report.gates.iter().all(|g| g.passed);
    report
}

/// The median of `received` − intended send second over the events that have `received`
/// (counted per offset: the offsets take few values, the events can be millions).
fn clock_offset(v: &sentry_load_verify::VerifyOutcome) -> Option<i64> {
    let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
    for e in v.seen() {
        if let Some(received) = e.received {
            let d = i64::from(received) - (e.intended_micros / 1_000_000) as i64;
            *counts.entry(d).or_default() += 1;
        }
    }
    let total: u64 = counts.values().sum();
    let mut below = 0;
    for (d, n) in counts {
        below += n;
        if below > total / 2 {
            return Some(d);
        }
    }
    None
}

/// The kinds seen without stage times, and why.
fn stages_unavailable(v: &sentry_load_verify::VerifyOutcome) -> BTreeMap<String, String> {
    let mut timed: BTreeMap<EventKind, bool> = BTreeMap::new();
    for e in v.seen() {
        *timed.entry(e.kind).or_default() |= e.received.is_some() && e.message_timestamp.is_some();
    }
    timed
        .into_iter()
        .filter(|(_, t)| !t)
        .map(|(kind, _)| {
            let why = match kind {
                EventKind::Transaction if v.source.starts_with("clickhouse") => {
                    "no stage split: transactions_local has no `received`, and Snuba's \
                     transactions processor does not set `message_timestamp` — only \
                     intended send → visible is measured"
                        .to_owned()
                }
                _ => format!(
                    "no stage split: {} keeps no stage times (ClickHouse's `received` and \
                     `message_timestamp` give them for errors)",
                    v.source
                ),
            };
            (kind.as_str().to_owned(), why)
        })
        .collect()
}

/// The stage split, from ClickHouse's `received` and `message_timestamp` (whole seconds).
fn stages(v: &sentry_load_verify::VerifyOutcome) -> Vec<StageSection> {
    let mut to_relay = Recorder::new(86_400);
    let mut processing = Recorder::new(86_400);
    let mut to_visible = Recorder::new(86_400);
    for e in v.seen() {
        let (Some(received), Some(saved)) = (e.received, e.message_timestamp) else {
            continue;
        };
        let intended = e.intended_micros / 1_000_000;
        to_relay.record(u64::from(received).saturating_sub(intended));
        processing.record(u64::from(saved.saturating_sub(received)));
        to_visible.record((e.seen_micros / 1_000_000).saturating_sub(u64::from(saved)));
    }
    let poll = v.poll_interval.as_millis();
    let mut out = Vec::new();
    let mut push = |stage: &str, resolution: String, r: &Recorder| {
        if let Some(p) = r.percentiles() {
            out.push(StageSection {
                stage: stage.to_owned(),
                resolution,
                seconds: p,
            });
        }
    };
    push(
        "intended send → received by Relay",
        "1 s (Relay's `received`)".into(),
        &to_relay,
    );
    push(
        "received → saved (`message_timestamp`)",
        "1 s".into(),
        &processing,
    );
    if v.live {
        push(
            "saved → visible to the verifier",
            format!("1 s + poll interval {poll} ms"),
            &to_visible,
        );
    }
    out
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
