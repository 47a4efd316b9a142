//! The pipeline probes part of the report (`[[probes]]`): what each probe sampled beside the
//! load — its series on the run's time axis, how many samples failed and why — and which
//! series moved first before the run's trouble began ("kafka: lag snuba-consumers events
//! grew from 0 to 41k 20 s before p99 crossed 10 s").
//!
//! The run's sampler (`sentry_load_probes`) fills [`ProbeTrack`]s and the run writes them into
//! `run.json`, so `verify` rebuilds the same section; this module finds the trouble on the
//! timeline and the moves before it.

use crate::model::{TimelinePoint, TimelineSection};
use serde::{Deserialize, Serialize};

/// One failed sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeFailure {
    /// When, seconds after time zero.
    pub at_secs: f64,
    /// Why, secret-free.
    pub error: String,
}

/// One sampled quantity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeSeries {
    /// What it is: `active parts errors_local`, `cpu % sentry-worker`.
    pub name: String,
    /// Its unit: `parts`, `per second`, `% of one core`, `MiB`.
    pub unit: String,
    /// `(seconds after time zero, value)`, in time order; a failed sample leaves a gap.
    pub points: Vec<(f64, f64)>,
}

/// What one probe sampled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeTrack {
    /// Its `name`.
    pub name: String,
    /// Its `kind`.
    pub kind: String,
    /// What it sampled, secret-free.
    pub target: String,
    /// How often it sampled, seconds.
    pub every_secs: f64,
    /// Samples taken.
    pub samples: u64,
    /// Of those, failed (unreachable, refused, too slow, unreadable).
    pub failures: u64,
    /// The first failure.
    pub first_failure: Option<ProbeFailure>,
    /// The last failure.
    pub last_failure: Option<ProbeFailure>,
    /// What it measured.
    pub series: Vec<ProbeSeries>,
}

impl ProbeTrack {
    /// "142 samples, 0 failed" or "unreachable: every one of 12 samples failed (first at 0.1 s:
    /// connection refused)".
    pub fn status(&self) -> String {
        let why = |f: &Option<ProbeFailure>| {
            f.as_ref().map_or(String::new(), |f| {
                format!(" at {:.1} s: {}", f.at_secs, f.error)
            })
        };
        if self.samples > 0 && self.failures == self.samples {
            format!(
                "unreachable: every one of {} samples failed (first{})",
                self.samples,
                why(&self.first_failure)
            )
        } else if self.failures > 0 {
            format!(
                "{} samples, {} failed (first{}; last{})",
                self.samples,
                self.failures,
                why(&self.first_failure),
                why(&self.last_failure)
            )
        } else {
            format!("{} samples, none failed", self.samples)
        }
    }
}

/// When the run's trouble began, as read from its timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeTrigger {
    /// What happened: `p99 crossed 10 s`, `the target began refusing (429)`.
    pub what: String,
    /// The start of the timeline bucket it happened in, seconds after time zero.
    pub at_secs: f64,
}

/// A series that moved before (or with) the trouble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbeMove {
    /// The probe's name.
    pub probe: String,
    /// The series' name.
    pub series: String,
    /// Its unit.
    pub unit: String,
    /// Its value before it moved (the median of its first samples).
    pub from: f64,
    /// Its value when the trouble began.
    pub to: f64,
    /// When it moved, seconds after time zero.
    pub moved_at_secs: f64,
    /// How long before the trouble it moved, seconds (negative: after, within one sample).
    pub lead_secs: f64,
    /// "kafka: lag snuba-consumers events grew from 0 to 41k messages 20 s before p99
    /// crossed 10 s".
    pub sentence: String,
}

/// Every probe of the run, and which moved first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProbesSection {
    /// Each probe, in profile order.
    pub tracks: Vec<ProbeTrack>,
    /// When the trouble began, when it did.
    pub trigger: Option<ProbeTrigger>,
    /// The series that moved before or with it, earliest first (at most 5).
    pub moves: Vec<ProbeMove>,
}

/// The moves listed at most.
const MOVES_LISTED: usize = 5;

/// The section for `tracks`: the trouble on `timeline` (the first p99 above `max_p99_ms`, or
/// else a knee; the first refusal; the first failed send) and the moves before it.
pub fn probes_section(
    tracks: &[ProbeTrack],
    timeline: &TimelineSection,
    max_p99_ms: Option<u64>,
) -> ProbesSection {
    let trigger = trigger(&timeline.points, max_p99_ms);
    let mut moves = Vec::new();
    if let Some(t) = &trigger {
        let horizon = t.at_secs + timeline.bucket_secs.max(1) as f64;
        for track in tracks {
            for s in &track.series {
                if let Some(m) = moved(track, s, t, horizon) {
                    moves.push(m);
                }
            }
        }
        moves.sort_by(|a, b| a.moved_at_secs.total_cmp(&b.moved_at_secs));
        moves.truncate(MOVES_LISTED);
    }
    ProbesSection {
        tracks: tracks.to_vec(),
        trigger,
        moves,
    }
}

/// The earliest trouble on the timeline.
fn trigger(points: &[TimelinePoint], max_p99_ms: Option<u64>) -> Option<ProbeTrigger> {
    let first = |what: String, hit: &dyn Fn(&TimelinePoint) -> bool| {
        points.iter().find(|p| hit(p)).map(|p| ProbeTrigger {
            what,
            at_secs: p.t as f64,
        })
    };
    let p99 = match max_p99_ms {
        Some(limit) => first(
            format!("p99 crossed {}", seconds(limit as f64 / 1000.0)),
            &|p| p.latency_p99_ms.is_some_and(|v| v > limit),
        ),
        None => knee(points),
    };
    let refused = points.iter().find(|p| p.refused > 0).map(|p| ProbeTrigger {
        what: match p.refused_by_status.iter().max_by_key(|(_, n)| **n) {
            Some((status, _)) => format!("the target began refusing ({status})"),
            None => "the target began refusing".into(),
        },
        at_secs: p.t as f64,
    });
    let failed = first("sends began failing".into(), &|p| {
        p.failed.saturating_sub(p.backed_off) > 0
    });
    [p99, refused, failed]
        .into_iter()
        .flatten()
        .min_by(|a, b| a.at_secs.total_cmp(&b.at_secs))
}

/// Without a p99 gate: the first bucket whose p99 is over 3× the median p99 of the first fifth
/// of the run, and over 1 s.
fn knee(points: &[TimelinePoint]) -> Option<ProbeTrigger> {
    let p99: Vec<(u64, u64)> = points
        .iter()
        .filter_map(|p| p.latency_p99_ms.map(|v| (p.t, v)))
        .collect();
    if p99.len() < 5 {
        return None;
    }
    let mut start: Vec<u64> = p99[..p99.len() / 5].iter().map(|p| p.1).collect();
    start.sort_unstable();
    let base = start[start.len() / 2];
    let limit = (base * 3).max(1000);
    p99.iter()
        .find(|p| p.1 > limit)
        .map(|&(t, v)| ProbeTrigger {
            what: format!(
                "p99 rose to {} (from {})",
                seconds(v as f64 / 1000.0),
                seconds(base as f64 / 1000.0)
            ),
            at_secs: t as f64,
        })
}

/// When `s` moved away from where it started, if it did by `horizon`: its start is the median
/// of its first third of samples before the trouble, and a move is a departure of more than
/// half that value and a tenth of the series' whole range, held by the next sample and still
/// there when the trouble began.
fn moved(track: &ProbeTrack, s: &ProbeSeries, t: &ProbeTrigger, horizon: f64) -> Option<ProbeMove> {
    let before: Vec<(f64, f64)> = s
        .points
        .iter()
        .copied()
        .filter(|p| p.0 <= horizon && p.1.is_finite())
        .collect();
    if before.len() < 3 {
        return None;
    }
    let base_n = (before.len() / 3).max(1);
    let mut start: Vec<f64> = before[..base_n].iter().map(|p| p.1).collect();
    start.sort_by(f64::total_cmp);
    let from = start[start.len() / 2];
    let (lo, hi) = s
        .points
        .iter()
        .filter(|p| p.1.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    let range = hi - lo;
    if range <= 0.0 {
        return None;
    }
    let threshold = (from.abs() * 0.5).max(range * 0.1);
    let off = |v: f64| (v - from).abs() > threshold;
    let rest = &before[base_n..];
    let i =
        (0..rest.len()).find(|&i| off(rest[i].1) && rest.get(i + 1).is_none_or(|n| off(n.1)))?;
    let moved_at = rest[i].0;
    let to = rest.last().map_or(rest[i].1, |p| p.1);
    // Still away when the trouble began: a spike that passed (a burst of evictions) did not
    // lead into it.
    if !off(to) {
        return None;
    }
    let lead = t.at_secs - moved_at;
    let verb = if to >= from { "grew" } else { "fell" };
    let when = if lead.abs() < track.every_secs.max(1.0) {
        format!("as {}", t.what)
    } else if lead > 0.0 {
        format!("{} before {}", seconds(lead), t.what)
    } else {
        format!("{} after {}", seconds(-lead), t.what)
    };
    Some(ProbeMove {
        probe: track.name.clone(),
        series: s.name.clone(),
        unit: s.unit.clone(),
        from,
        to,
        moved_at_secs: moved_at,
        lead_secs: lead,
        sentence: format!(
            "{}: {} {verb} from {} to {} {} {when}",
            track.name,
            s.name,
            amount(from),
            amount(to),
            s.unit
        ),
    })
}

/// `41k`, `1.5M`, `0.25`, `12`.
pub(crate) fn amount(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || a == 0.0 || (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `20 s`, `1.5 s`.
fn seconds(s: f64) -> String {
    if (s - s.round()).abs() < 0.05 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// The probes as a table: one row per probe.
pub fn table(p: &ProbesSection) -> crate::tables::Table {
    crate::tables::Table {
        headers: &["probe", "kind", "target", "every", "series", "samples"],
        rows: p
            .tracks
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    t.kind.clone(),
                    t.target.clone(),
                    seconds(t.every_secs),
                    t.series.len().to_string(),
                    t.status(),
                ]
            })
            .collect(),
    }
}

#[cfg(test)]
#[path = "probes_tests.rs"]
mod tests;
