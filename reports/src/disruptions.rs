//! The disruptions part of the report (`[[disruption]]`): each operator command that ran during
//! the run, when it started and ended and how, and the events meant for the `window` before
//! it, during it and the `window` after — how many were accepted, became visible and were lost,
//! and their p99 — so a restart's loss reads as a number ("accepted in the 10 s before relay
//! restarted: 1,312; lost: 1,312"). The over-time charts shade each disruption's window.

use crate::histogram::Recorder;
use sentry_load_verify::VerifyOutcome;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use uuid::Uuid;

/// What ran: the run writes it into `run.json`, so `verify` reports the same windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DisruptionMark {
    /// Its `name`.
    pub name: String,
    /// When the command started, seconds after time zero.
    pub start_secs: f64,
    /// When it ended (exited or was killed), seconds after time zero; the run's end when it
    /// was still running.
    pub end_secs: f64,
    /// The spans before and after compared with it, seconds.
    pub window_secs: f64,
    /// How the command ended: `exit 0`, `exit 1`, `killed after its 60 s timeout`, `could not
    /// start: …`, `not run: the run stopped first`.
    pub ended: String,
}

/// The events meant for one span around a disruption.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WindowCounts {
    /// The span, seconds after time zero.
    pub from_secs: f64,
    /// Its end.
    pub to_secs: f64,
    /// Accepted (200) events meant for it.
    pub accepted: u64,
    /// Of those, seen.
    pub visible: u64,
    /// Of those, never seen, with no outcome saying why.
    pub silent: u64,
    /// Of those, never seen, an outcome saying why (or a source that cannot see outcomes).
    pub explained: u64,
    /// Of those, never seen, their last lookup failed.
    pub unverified: u64,
    /// p99 visibility of those seen, milliseconds (live read-back only).
    pub p99_ms: Option<u64>,
}

/// One disruption in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DisruptionSection {
    /// What ran, and when.
    #[serde(flatten)]
    pub mark: DisruptionMark,
    /// The `window` before it started.
    pub before: WindowCounts,
    /// From its start to its end.
    pub during: WindowCounts,
    /// The `window` after it ended.
    pub after: WindowCounts,
}

impl DisruptionSection {
    /// "restart relay (exit 0, 12.0–14.3 s): accepted in the 10 s before: 1,312, lost 1,312;
    /// during: …; after: …".
    pub fn sentence(&self) -> String {
        let span = |w: &WindowCounts| {
            format!(
                "accepted {}, lost {}{}",
                w.accepted,
                w.accepted.saturating_sub(w.visible),
                w.p99_ms.map_or(String::new(), |p| format!(
                    ", p99 {:.2} s",
                    p as f64 / 1000.0
                ))
            )
        };
        format!(
            "{} ({}, {:.1}–{:.1} s): the {:.0} s before: {}; during: {}; the {:.0} s after: {}",
            self.mark.name,
            self.mark.ended,
            self.mark.start_secs,
            self.mark.end_secs,
            self.mark.window_secs,
            span(&self.before),
            span(&self.during),
            self.mark.window_secs,
            span(&self.after),
        )
    }
}

/// The disruptions as a table: a row per span of each.
pub fn table(sections: &[DisruptionSection]) -> crate::tables::Table {
    let mut rows = Vec::new();
    for d in sections {
        for (span, w) in [
            (format!("{:.0} s before", d.mark.window_secs), &d.before),
            ("during".to_owned(), &d.during),
            (format!("{:.0} s after", d.mark.window_secs), &d.after),
        ] {
            rows.push(vec![
                d.mark.name.clone(),
                d.mark.ended.clone(),
                span,
                format!("{:.1}–{:.1}", w.from_secs, w.to_secs),
                w.accepted.to_string(),
                w.visible.to_string(),
                w.accepted.saturating_sub(w.visible).to_string(),
                w.silent.to_string(),
                w.p99_ms.map_or("—".to_owned(), |p| p.to_string()),
            ]);
        }
    }
    crate::tables::Table {
        headers: &[
            "disruption",
            "ended",
            "span",
            "seconds",
            "accepted",
            "visible",
            "lost",
            "silent",
            "p99 ms",
        ],
        rows,
    }
}

/// Each disruption's windows, from the read-back's events; `explained` holds the ids of missing
/// events an outcome explains (every missing event when the source cannot see outcomes).
pub fn disruption_sections(
    marks: &[DisruptionMark],
    zero_unix_micros: u64,
    v: &VerifyOutcome,
    explained: &HashSet<Uuid>,
) -> Vec<DisruptionSection> {
    marks
        .iter()
        .map(|m| {
            let span = |from: f64, to: f64| {
                let micros = |s: f64| zero_unix_micros.saturating_add((s.max(0.0) * 1e6) as u64);
                let (lo, hi) = (micros(from), micros(to));
                let inside = |t: u64| (lo..hi).contains(&t);
                let mut w = WindowCounts {
                    from_secs: from.max(0.0),
                    to_secs: to.max(0.0),
                    ..WindowCounts::default()
                };
                let mut latency = Recorder::new(3_600_000);
                for e in v.seen().filter(|e| inside(e.intended_micros)) {
                    w.visible += 1;
                    latency.record(e.seen_micros.saturating_sub(e.intended_micros) / 1000);
                }
                for e in v.missing().iter().filter(|e| inside(e.intended_micros)) {
                    if explained.contains(&e.event_id) || !v.outcomes_visible {
                        w.explained += 1;
                    } else {
                        w.silent += 1;
                    }
                }
                w.unverified = v
                    .unverified()
                    .iter()
                    .filter(|e| inside(e.intended_micros))
                    .count() as u64;
                w.accepted = w.visible + w.silent + w.explained + w.unverified;
                w.p99_ms = latency.percentiles().filter(|_| v.live).map(|p| p.p99);
                w
            };
            DisruptionSection {
                before: span(m.start_secs - m.window_secs, m.start_secs),
                during: span(m.start_secs, m.end_secs),
                after: span(m.end_secs, m.end_secs + m.window_secs),
                mark: m.clone(),
            }
        })
        .collect()
}
