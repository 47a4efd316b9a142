//! The per-kind part of the report: sending, visibility, loss and latency for each event kind
//! the run sent.

use crate::histogram::Recorder;
use crate::model::KindSection;
use crate::send_summary::SendSummary;
use sentry_load_common::{EventKind, SendOutcome};
use sentry_load_verify::VerifyOutcome;
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// One section per kind that has journal records.
pub fn kind_sections(
    s: &SendSummary,
    v: &VerifyOutcome,
    explained_ids: &HashSet<Uuid>,
) -> BTreeMap<String, KindSection> {
    let mut latency: BTreeMap<EventKind, Recorder> = BTreeMap::new();
    let mut seen: BTreeMap<EventKind, u64> = BTreeMap::new();
    for e in v.seen() {
        *seen.entry(e.kind).or_default() += 1;
        if v.live {
            latency
                .entry(e.kind)
                .or_insert_with(|| Recorder::new(3_600_000))
                .record(e.seen_micros.saturating_sub(e.intended_micros) / 1000);
        }
    }
    let mut out = BTreeMap::new();
    for kind in EventKind::ALL {
        let records: u64 = SendOutcome::ALL
            .iter()
            .map(|o| s.kind_count(kind, *o))
            .sum();
        if records == 0 {
            continue;
        }
        let not_sent: u64 = SendOutcome::ALL
            .iter()
            .filter(|o| !o.was_sent())
            .map(|o| s.kind_count(kind, *o))
            .sum();
        let offered: u64 = SendOutcome::ALL
            .iter()
            .filter(|o| o.was_offered())
            .map(|o| s.kind_count(kind, *o))
            .sum();
        let seen = seen.get(&kind).copied().unwrap_or(0);
        let missing = v.missing().iter().filter(|m| m.kind == kind);
        let (mut unexplained, mut explained) = (0, 0);
        for m in missing {
            if explained_ids.contains(&m.event_id) {
                explained += 1;
            } else {
                unexplained += 1;
            }
        }
        let (silent, outcome_unknown) = if v.outcomes_visible {
            (unexplained, 0)
        } else {
            (0, unexplained)
        };
        let recorder = latency.get(&kind);
        out.insert(
            kind.as_str().to_owned(),
            KindSection {
                records,
                started: records - not_sent,
                accepted: s.kind_count(kind, SendOutcome::Accepted),
                refused: SendOutcome::ALL
                    .iter()
                    .filter(|o| o.is_refusal())
                    .map(|o| s.kind_count(kind, *o))
                    .sum(),
                transport_errors: s.kind_count(kind, SendOutcome::TransportError),
                not_sent,
                seen,
                silent,
                explained,
                outcome_unknown,
                unverified: v.unverified().iter().filter(|m| m.kind == kind).count() as u64,
                loss_ratio: if offered > 0 {
                    offered.saturating_sub(seen) as f64 / offered as f64
                } else {
                    0.0
                },
                latency_ms: recorder.and_then(Recorder::percentiles),
                latency_histogram: recorder.map(Recorder::encoded),
            },
        );
    }
    out
}
