//! The timeline part of the report: per-bucket planned, sent, accepted, refused, failed and
//! visible counts, and latency percentiles of the events meant for each bucket — what the
//! HTML report's over-time charts draw.

use crate::model::{TimelinePoint, TimelineSection};
use crate::send_summary::SendSummary;
use sentry_load_common::EventKind;
use sentry_load_verify::VerifyOutcome;

/// Buckets a timeline has at most; longer runs get wider buckets.
const MAX_POINTS: u64 = 600;
/// The last second a timeline (and the send summary) keeps: 31 days.
const MAX_SECOND: u64 = 31 * 86_400;

/// The timeline from time zero to the last send or sighting.
pub fn timeline(s: &SendSummary, v: &VerifyOutcome) -> TimelineSection {
    let zero = s.header.started_at_micros;
    // Capped as the send summary caps it: a corrupt time far in the future lands in the last
    // second the summary keeps, not past the end of the points.
    let second_of = |micros: u64| (micros.saturating_sub(zero) / 1_000_000).min(MAX_SECOND);
    let mut last_second = s.per_second.len() as u64;
    // (bucket of intended time, kind, latency ms), and first-seen seconds.
    let mut latencies: Vec<(u32, EventKind, u32)> = Vec::new();
    // First seen per second: one counter per second, not one entry per event.
    let mut visible_per_second: Vec<u64> = Vec::new();
    for e in v.seen() {
        let seen = second_of(e.seen_micros) as usize;
        last_second = last_second.max(seen as u64 + 1);
        if visible_per_second.len() <= seen {
            visible_per_second.resize(seen + 1, 0);
        }
        visible_per_second[seen] += 1;
        if v.live {
            let ms = e.seen_micros.saturating_sub(e.intended_micros) / 1000;
            latencies.push((
                second_of(e.intended_micros) as u32,
                e.kind,
                ms.min(u32::MAX as u64) as u32,
            ));
        }
    }
    let bucket = last_second.div_ceil(MAX_POINTS).max(1);
    let n = last_second.div_ceil(bucket) as usize;
    let mut points: Vec<TimelinePoint> = (0..n)
        .map(|i| TimelinePoint {
            t: i as u64 * bucket,
            ..TimelinePoint::default()
        })
        .collect();
    for (second, c) in s.per_second.iter().enumerate() {
        let p = &mut points[second / bucket as usize];
        p.planned += c[0];
        p.sent += c[1];
        p.accepted += c[2];
        p.refused += c[3];
        p.failed += c[4];
    }
    for (&(second, status), n) in &s.refusals_per_second {
        let p = &mut points[(second / bucket) as usize];
        *p.refused_by_status.entry(status.to_string()).or_default() += n;
    }
    for (&second, n) in &s.backed_off_per_second {
        points[(second / bucket) as usize].backed_off += n;
    }
    for (second, n) in visible_per_second.into_iter().enumerate() {
        points[second / bucket as usize].visible += n;
    }
    for l in &mut latencies {
        l.0 /= bucket as u32;
    }
    // By bucket, then kind: each kind's p99 first, then the bucket's over every kind.
    latencies.sort_unstable();
    for group in latencies.chunk_by(|a, b| a.0 == b.0) {
        let p = &mut points[group[0].0 as usize];
        for kind in group.chunk_by(|a, b| a.1 == b.1) {
            let ms: Vec<u32> = kind.iter().map(|l| l.2).collect();
            p.latency_p99_ms_by_kind
                .insert(kind[0].1.as_str().to_owned(), u64::from(rank(&ms, 0.99)));
        }
        let mut ms: Vec<u32> = group.iter().map(|l| l.2).collect();
        ms.sort_unstable();
        p.latency_p50_ms = Some(u64::from(rank(&ms, 0.50)));
        p.latency_p95_ms = Some(u64::from(rank(&ms, 0.95)));
        p.latency_p99_ms = Some(u64::from(rank(&ms, 0.99)));
    }
    TimelineSection {
        bucket_secs: bucket,
        points,
    }
}

/// The nearest-rank `q` quantile of sorted, non-empty `v`.
fn rank(v: &[u32], q: f64) -> u32 {
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

#[cfg(test)]
#[path = "timeline_tests.rs"]
mod tests;
