//! The polling loop against a fake source, in paused time: the deadline, the intake, failed
//! lookups becoming unverified, and outcome lookups.

use super::*;
use crate::source::{Sighting, SourceError, SourceFuture};
use sentry_load_common::SendOutcome;
use sentry_load_common::sentry_outcome::{category, code};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

const POLL: Duration = Duration::from_secs(1);
const DEADLINE: Duration = Duration::from_secs(10);

/// A source that stores some ids from a given poll on, fails the polls it is told to, and
/// keeps outcomes.
#[derive(Default)]
struct Fake {
    /// An id becomes visible at the lookup round (1-based) given.
    visible_from: HashMap<Uuid, u64>,
    /// Lookup rounds that fail.
    failing: HashSet<u64>,
    /// Every lookup fails.
    down: bool,
    /// `None`: the source sees no outcomes (asking is a bug).
    outcomes: Option<Vec<Explained>>,
    lookups: AtomicU64,
    rounds: Mutex<HashSet<u64>>,
    outcome_asks: AtomicU64,
}

impl Fake {
    fn round(&self) -> u64 {
        // A round is a second of paused time since the start, plus one.
        let round = tokio::time::Instant::now()
            .duration_since(START.with(|s| *s))
            .as_secs()
            + 1;
        self.rounds.lock().unwrap().insert(round);
        round
    }
}

thread_local! {
    static START: tokio::time::Instant = tokio::time::Instant::now();
}

impl Source for Fake {
    fn lookup<'a>(&'a self, lookup: Lookup<'a>) -> SourceFuture<'a, Vec<Sighting>> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let round = self.round();
        let result = if self.down || self.failing.contains(&round) {
            Err(SourceError::SentryApiUnreachable {
                url: "fake".into(),
                detail: format!("round {round} fails"),
            })
        } else {
            Ok(lookup
                .ids
                .iter()
                .filter(|id| self.visible_from.get(id).is_some_and(|from| round >= *from))
                .map(|id| Sighting {
                    event_id: *id,
                    received: None,
                    message_timestamp: None,
                    group_id: Some(7),
                })
                .collect())
        };
        Box::pin(async move { result })
    }

    fn sees_outcomes(&self) -> bool {
        self.outcomes.is_some()
    }

    fn outcomes<'a>(&'a self, lookup: Lookup<'a>) -> SourceFuture<'a, Vec<Explained>> {
        self.outcome_asks.fetch_add(1, Ordering::Relaxed);
        let rows = self
            .outcomes
            .as_ref()
            .expect("a source that sees no outcomes is never asked for them")
            .iter()
            .filter(|o| lookup.ids.contains(&o.event_id))
            .cloned()
            .collect();
        Box::pin(async move { Ok(rows) })
    }

    fn batch_size(&self) -> usize {
        2
    }

    fn describe(&self) -> String {
        "fake".into()
    }
}

fn record(seq: u64, kind: EventKind) -> JournalRecord {
    let now = now_unix_micros();
    JournalRecord {
        seq,
        event_id: Uuid::from_u128(u128::from(seq) + 1),
        kind,
        outcome: SendOutcome::Accepted,
        status: 200,
        target: 0,
        project_id: 1,
        intended_micros: now,
        sent_micros: now,
        done_micros: now,
        bytes: 100,
    }
}

fn id(seq: u64) -> Uuid {
    Uuid::from_u128(u128::from(seq) + 1)
}

fn options() -> VerifyOptions {
    VerifyOptions {
        poll_interval: POLL,
        deadline: DEADLINE,
        live: true,
    }
}

/// Runs a verifier over `records` (tracked before the start, the intake closed) and returns
/// the outcome with the paused time it took.
async fn verify(fake: Fake, records: &[JournalRecord]) -> (VerifyOutcome, Duration, Arc<Fake>) {
    START.with(|_| ());
    let fake = Arc::new(fake);
    let mut verifier = Verifier::new(Box::new(Shared(fake.clone())), options());
    for r in records {
        verifier.track(r);
    }
    let (_, rx) = mpsc::unbounded_channel();
    let start = tokio::time::Instant::now();
    let outcome = verifier.run(rx, |_| {}).await;
    (outcome, start.elapsed(), fake)
}

/// The fake behind an `Arc`, so a test can look at it after the verifier took its box.
struct Shared(Arc<Fake>);

impl Source for Shared {
    fn lookup<'a>(&'a self, lookup: Lookup<'a>) -> SourceFuture<'a, Vec<Sighting>> {
        self.0.lookup(lookup)
    }
    fn sees_outcomes(&self) -> bool {
        self.0.sees_outcomes()
    }
    fn outcomes<'a>(&'a self, lookup: Lookup<'a>) -> SourceFuture<'a, Vec<Explained>> {
        self.0.outcomes(lookup)
    }
    fn batch_size(&self) -> usize {
        self.0.batch_size()
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
}

#[tokio::test(start_paused = true)]
async fn every_event_seen_at_once_ends_verification_at_the_first_poll() {
    let records: Vec<_> = (0..5).map(|s| record(s, EventKind::Error)).collect();
    let fake = Fake {
        visible_from: (0..5).map(|s| (id(s), 1)).collect(),
        ..Fake::default()
    };
    let (outcome, took, fake) = verify(fake, &records).await;
    assert_eq!(outcome.seen_count(), 5);
    assert!(outcome.events.missing.is_empty() && outcome.events.unverified.is_empty());
    assert_eq!(outcome.polls, 1);
    // Five ids in batches of two: three queries, and no outcome asked for.
    assert_eq!(
        (outcome.queries, fake.lookups.load(Ordering::Relaxed)),
        (3, 3)
    );
    assert!(took < POLL, "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn stragglers_are_polled_for_until_they_appear() {
    let records: Vec<_> = (0..3).map(|s| record(s, EventKind::Error)).collect();
    let fake = Fake {
        visible_from: [(id(0), 1), (id(1), 3), (id(2), 6)].into_iter().collect(),
        ..Fake::default()
    };
    let (outcome, took, fake) = verify(fake, &records).await;
    assert_eq!(outcome.seen_count(), 3);
    assert_eq!(outcome.polls, 6);
    let rounds = fake.rounds.lock().unwrap().clone();
    assert_eq!(rounds, (1..=6).collect());
    assert!(took >= 5 * POLL && took < 6 * POLL, "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn events_never_seen_are_missing_once_the_deadline_passes() {
    let records: Vec<_> = (0..3).map(|s| record(s, EventKind::Error)).collect();
    let fake = Fake {
        visible_from: [(id(1), 1)].into_iter().collect(),
        outcomes: Some(vec![]),
        ..Fake::default()
    };
    let (outcome, took, _) = verify(fake, &records).await;
    assert_eq!(outcome.seen_count(), 1);
    let missing: Vec<u64> = outcome.events.missing.iter().map(|m| m.seq).collect();
    assert_eq!(missing, [0, 2]);
    assert!(outcome.events.unverified.is_empty());
    assert_eq!(outcome.polls, DEADLINE.as_secs());
    assert!(
        took >= DEADLINE && took < DEADLINE + 2 * POLL + OUTCOMES_SETTLE,
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn events_whose_last_lookup_failed_are_unverified_not_missing() {
    let records: Vec<_> = (0..4).map(|s| record(s, EventKind::Transaction)).collect();
    let fake = Fake {
        down: true,
        ..Fake::default()
    };
    let (outcome, _, _) = verify(fake, &records).await;
    assert_eq!(outcome.seen_count(), 0);
    assert!(outcome.events.missing.is_empty());
    assert_eq!(outcome.events.unverified.len(), 4);
    assert_eq!(outcome.failed_queries, outcome.queries);
    assert!(
        outcome
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("unreachable")),
        "{:?}",
        outcome.last_error
    );
}

#[tokio::test(start_paused = true)]
async fn a_lookup_that_failed_once_is_asked_again() {
    let records: Vec<_> = (0..2).map(|s| record(s, EventKind::Error)).collect();
    let fake = Fake {
        visible_from: (0..2).map(|s| (id(s), 1)).collect(),
        failing: [1].into_iter().collect(),
        ..Fake::default()
    };
    let (outcome, _, _) = verify(fake, &records).await;
    assert_eq!(outcome.seen_count(), 2);
    assert!(outcome.events.unverified.is_empty());
    assert_eq!((outcome.polls, outcome.failed_queries), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn a_live_intake_is_tracked_as_it_arrives_and_closes_the_run() {
    let fake = Arc::new(Fake {
        visible_from: (0..3).map(|s| (id(s), 1)).collect(),
        ..Fake::default()
    });
    let verifier = Verifier::new(Box::new(Shared(fake.clone())), options());
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicU64::new(0));
    let counted = seen.clone();
    let running = tokio::spawn(verifier.run(rx, move |n: &[(EventKind, u64)]| {
        counted.fetch_add(n.len() as u64, Ordering::Relaxed);
    }));
    for s in 0..3 {
        tx.send(record(s, EventKind::Error)).unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    drop(tx);
    let outcome = running.await.unwrap();
    assert_eq!(outcome.tracked, 3);
    assert_eq!(outcome.seen_count(), 3);
    assert_eq!(seen.load(Ordering::Relaxed), 3);
}

#[tokio::test(start_paused = true)]
async fn outcomes_explain_missing_events_in_their_own_category_only() {
    let records = [record(0, EventKind::Error), record(1, EventKind::Error)];
    let outcome_of = |seq: u64, category: u8| Explained {
        event_id: id(seq),
        outcome: code::FILTERED,
        reason: Some("why".into()),
        category,
    };
    let fake = Fake {
        // Event 0 is dropped with an error-category outcome; event 1 only has an attachment's.
        outcomes: Some(vec![
            outcome_of(0, category::ERROR),
            outcome_of(1, category::ATTACHMENT),
        ]),
        ..Fake::default()
    };
    let (outcome, _, fake) = verify(fake, &records).await;
    assert_eq!(outcome.events.missing.len(), 2);
    let explained: Vec<Uuid> = outcome.explained.iter().map(|e| e.event_id).collect();
    assert_eq!(explained, [id(0)]);
    let attachments: Vec<Uuid> = outcome
        .attachment_outcomes
        .iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(attachments, [id(1)]);
    assert!(outcome.outcomes_visible);
    assert_eq!(fake.outcome_asks.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn a_source_blind_to_outcomes_is_never_asked_for_them() {
    let records = [record(0, EventKind::Native)];
    let (outcome, _, fake) = verify(Fake::default(), &records).await;
    assert_eq!(outcome.events.missing.len(), 1);
    assert!(!outcome.outcomes_visible && outcome.explained.is_empty());
    assert_eq!(fake.outcome_asks.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_run_waits_for_stragglers_only_as_long_as_it_is_told() {
    let records = [record(0, EventKind::Error)];
    let fake = Arc::new(Fake::default());
    let (flag, interrupted) = tokio::sync::watch::channel(false);
    let mut verifier = Verifier::new(Box::new(Shared(fake)), options())
        .cut_short_by(interrupted, Duration::from_secs(3));
    for r in &records {
        verifier.track(r);
    }
    flag.send(true).unwrap();
    let (_, rx) = mpsc::unbounded_channel();
    let start = tokio::time::Instant::now();
    let outcome = verifier.run(rx, |_| {}).await;
    let took = start.elapsed();
    assert_eq!(outcome.events.missing.len(), 1);
    assert!(
        took >= Duration::from_secs(3) && took < DEADLINE,
        "{took:?}"
    );
    assert_eq!(outcome.polls, 3);
}
