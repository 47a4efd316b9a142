//! The report's tables as header and cell text, shared by `report.md` and `report.html`, so the
//! two show the same columns with the same formatting.

use crate::histogram::Percentiles;
use crate::model::Report;
use sentry_load_common::Percent;

/// A table: its column headers and its rows of cells.
pub struct Table {
    /// Column headers.
    pub headers: &'static [&'static str],
    /// One row of cells per line.
    pub rows: Vec<Vec<String>>,
}

/// Sending, visibility, loss and latency per kind.
pub fn kinds(r: &Report) -> Table {
    let rows = r
        .kinds
        .iter()
        .map(|(kind, k)| {
            let p = |f: fn(&Percentiles) -> u64| {
                k.latency_ms
                    .as_ref()
                    .map_or("—".to_owned(), |p| f(p).to_string())
            };
            vec![
                kind.clone(),
                k.started.to_string(),
                k.accepted.to_string(),
                k.refused.to_string(),
                k.seen.to_string(),
                k.silent.to_string(),
                k.explained.to_string(),
                k.outcome_unknown.to_string(),
                k.unverified.to_string(),
                Percent::of(k.loss_ratio).to_string(),
                p(|p| p.p50),
                p(|p| p.p95),
                p(|p| p.p99),
            ]
        })
        .collect();
    Table {
        headers: &[
            "kind",
            "sent",
            "accepted",
            "refused",
            "visible",
            "silent",
            "explained",
            "outcome unknown",
            "unverified",
            "loss ratio",
            "p50 ms",
            "p95 ms",
            "p99 ms",
        ],
        rows,
    }
}

/// The fidelity sample per kind (empty without one).
pub fn fidelity(r: &Report) -> Table {
    let rows = r
        .fidelity
        .iter()
        .flat_map(|f| &f.kinds)
        .map(|(kind, k)| {
            vec![
                kind.clone(),
                k.sampled.to_string(),
                k.passed.to_string(),
                k.failed.to_string(),
                k.unavailable.to_string(),
                k.throttled.to_string(),
            ]
        })
        .collect();
    Table {
        headers: &[
            "kind",
            "sampled",
            "matched",
            "differed",
            "unavailable",
            "throttled",
        ],
        rows,
    }
}

/// Sends by outcome, with their share of every send.
pub fn outcomes(r: &Report) -> Table {
    let sd = &r.sending;
    Table {
        headers: &["outcome", "sends", "share"],
        rows: sd
            .outcomes
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(outcome, n)| {
                vec![
                    outcome.clone(),
                    n.to_string(),
                    Percent::part(*n, sd.records).to_string(),
                ]
            })
            .collect(),
    }
}

/// Answers by HTTP status (`0`: none came — a transport error, or not sent).
pub fn statuses(r: &Report) -> Table {
    Table {
        headers: &["HTTP status", "answers"],
        rows: r
            .sending
            .statuses
            .iter()
            .map(|(status, n)| vec![status.clone(), n.to_string()])
            .collect(),
    }
}

/// How far behind schedule sends started, and how long their round trips took.
pub fn timing(r: &Report) -> Table {
    let sd = &r.sending;
    let rows = [
        ("behind schedule (µs)", sd.lateness_us.as_ref()),
        ("round trip (µs)", sd.round_trip_us.as_ref()),
    ];
    Table {
        headers: &["timing", "p50", "p90", "p95", "p99", "max"],
        rows: rows
            .iter()
            .filter_map(|(name, p)| {
                let p: &Percentiles = (*p)?;
                Some(vec![
                    name.to_string(),
                    p.p50.to_string(),
                    p.p90.to_string(),
                    p.p95.to_string(),
                    p.p99.to_string(),
                    p.max.to_string(),
                ])
            })
            .collect(),
    }
}
