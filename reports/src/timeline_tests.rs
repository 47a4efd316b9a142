use super::*;
use sentry_load_common::journal::{
    JournalHeader, JournalReader, JournalRecord, JournalWriter, TargetInfo,
};
use sentry_load_common::{EventKind, RunId, SendOutcome};
use std::time::Duration;
use uuid::Uuid;

/// Time zero, Unix µs.
const T0: u64 = 1_800_000_000_000_000;

/// A send meant for `intended` (Unix µs) that ended in `outcome`.
fn send(seq: u64, intended: u64, outcome: SendOutcome) -> JournalRecord {
    let sent = if outcome.was_sent() {
        intended + 500
    } else {
        0
    };
    JournalRecord {
        seq,
        event_id: Uuid::from_u128(u128::from(seq) + 1),
        kind: EventKind::Error,
        outcome,
        status: match outcome {
            SendOutcome::Accepted => 200,
            SendOutcome::RateLimited => 429,
            _ => 0,
        },
        target: 0,
        project_id: 1,
        intended_micros: intended,
        sent_micros: sent,
        done_micros: sent,
        bytes: 10,
    }
}

fn accepted_at_seconds(seconds: &[u64]) -> Vec<JournalRecord> {
    seconds
        .iter()
        .enumerate()
        .map(|(i, s)| send(i as u64, T0 + s * 1_000_000, SendOutcome::Accepted))
        .collect()
}

/// The timeline of `records`, through a journal file, with nothing seen.
fn timeline_of(records: &[JournalRecord]) -> TimelineSection {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let header = JournalHeader {
        run_id: RunId::parse("run-1").unwrap(),
        seed: 1,
        profile: "local".into(),
        profile_hash: "0".into(),
        tool_version: "0.1.0".into(),
        started_at_micros: T0,
        targets: vec![TargetInfo {
            display: "http://relay/1".into(),
            project_id: 1,
        }],
    };
    let mut w = JournalWriter::create(&path, &header, Duration::from_secs(60)).unwrap();
    for r in records {
        w.append(r).unwrap();
    }
    w.finish().unwrap();
    let reader = JournalReader::open(&path).unwrap();
    let s = SendSummary::read_all(vec![reader], Duration::from_millis(10), |_| {}).unwrap();
    timeline(&s, &VerifyOutcome::not_verified(records.len() as u64))
}

fn point(
    t: u64,
    planned: u64,
    sent: u64,
    accepted: u64,
    refused: u64,
    failed: u64,
) -> TimelinePoint {
    TimelinePoint {
        t,
        planned,
        sent,
        accepted,
        refused,
        failed,
        ..TimelinePoint::default()
    }
}

#[test]
fn an_empty_run_has_no_points() {
    let t = timeline_of(&[]);
    assert_eq!(t.bucket_secs, 1);
    assert!(t.points.is_empty());
}

#[test]
fn sends_are_placed_by_the_second_of_their_intended_time() {
    use SendOutcome::*;
    let records = [
        send(0, T0, Accepted),
        send(1, T0 + 999_999, RateLimited),
        // Meant before time zero: counted in the first second.
        send(2, T0 - 5_000_000, Accepted),
        send(3, T0 + 1_000_000, TransportError),
        send(4, T0 + 2_500_000, HarnessDropped),
        send(5, T0 + 2_999_999, BackedOff),
    ];
    let t = timeline_of(&records);
    assert_eq!(t.bucket_secs, 1);
    assert_eq!(
        t.points,
        [
            TimelinePoint {
                refused_by_status: [("429".to_owned(), 1)].into(),
                ..point(0, 3, 3, 2, 1, 0)
            },
            point(1, 1, 1, 0, 0, 1),
            TimelinePoint {
                backed_off: 1,
                ..point(2, 2, 0, 0, 0, 2)
            },
        ]
    );
}

#[test]
fn seconds_without_sends_are_empty_points() {
    let t = timeline_of(&accepted_at_seconds(&[0, 4]));
    assert_eq!(t.bucket_secs, 1);
    assert_eq!(
        t.points,
        [
            point(0, 1, 1, 1, 0, 0),
            point(1, 0, 0, 0, 0, 0),
            point(2, 0, 0, 0, 0, 0),
            point(3, 0, 0, 0, 0, 0),
            point(4, 1, 1, 1, 0, 0),
        ]
    );
}

#[test]
fn a_run_of_600_seconds_keeps_one_second_buckets() {
    let t = timeline_of(&accepted_at_seconds(&[0, 598, 599]));
    assert_eq!(t.bucket_secs, 1);
    assert_eq!(t.points.len(), 600);
    assert_eq!(t.points[599], point(599, 1, 1, 1, 0, 0));
    assert_eq!(t.points[598], point(598, 1, 1, 1, 0, 0));
}

#[test]
fn a_run_one_second_over_600_gets_two_second_buckets() {
    let t = timeline_of(&accepted_at_seconds(&[0, 1, 598, 599, 600]));
    assert_eq!(t.bucket_secs, 2);
    // 601 seconds in buckets of 2: the last bucket holds second 600 alone.
    assert_eq!(t.points.len(), 301);
    assert_eq!(t.points[0], point(0, 2, 2, 2, 0, 0));
    assert_eq!(t.points[1], point(2, 0, 0, 0, 0, 0));
    assert_eq!(t.points[299], point(598, 2, 2, 2, 0, 0));
    assert_eq!(t.points[300], point(600, 1, 1, 1, 0, 0));
    assert!(
        t.points
            .iter()
            .enumerate()
            .all(|(i, p)| p.t == i as u64 * 2)
    );
}

#[test]
fn bucket_width_grows_so_a_timeline_has_at_most_600_points() {
    for (last_second, bucket, points) in [(1199, 2, 600), (1200, 3, 401), (1799, 3, 600)] {
        let t = timeline_of(&accepted_at_seconds(&[0, last_second]));
        assert_eq!(t.bucket_secs, bucket, "{last_second}");
        assert_eq!(t.points.len(), points, "{last_second}");
        assert_eq!(t.points.iter().map(|p| p.planned).sum::<u64>(), 2);
        let last = t.points.last().unwrap();
        assert_eq!(last.t, (points as u64 - 1) * bucket);
        assert_eq!(last.planned, 1, "{last_second}");
    }
}

#[test]
fn a_run_with_nothing_seen_has_no_visibility_or_latency() {
    let t = timeline_of(&accepted_at_seconds(&[0, 1, 2]));
    assert!(t.points.iter().all(|p| p.visible == 0
        && p.latency_p50_ms.is_none()
        && p.latency_p95_ms.is_none()
        && p.latency_p99_ms.is_none()));
}
