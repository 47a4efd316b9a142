//! The polling loop: intake of accepted sends, one poll per interval, stop when all are seen
//! or the straggler deadline after the last send passes.

use crate::outcome::VerifyOutcome;
use crate::source::{Lookup, Source};
use crate::tracker::Tracker;
use sentry_load_common::clock::now_unix_micros;
use sentry_load_common::journal::JournalRecord;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, error::TryRecvError};
use tokio::time::{Instant, MissedTickBehavior, interval};

/// How verification runs.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// Time between polls.
    pub poll_interval: Duration,
    /// How long after the intake closes stragglers are waited for.
    pub deadline: Duration,
    /// Whether the intake is live (first-seen times then measure latency).
    pub live: bool,
}

/// Polls one source for the events it is given.
pub struct Verifier {
    source: Source,
    opts: VerifyOptions,
}

impl Verifier {
    /// A verifier reading `source`.
    pub fn new(source: Source, opts: VerifyOptions) -> Verifier {
        Verifier { source, opts }
    }

    /// Runs until every event from `intake` is seen after the intake closed, or until the
    /// deadline after it closed. `on_seen` is told how many events each poll newly saw.
    pub async fn run(
        self,
        mut intake: UnboundedReceiver<JournalRecord>,
        on_seen: impl Fn(u64) + Send,
    ) -> VerifyOutcome {
        let mut tracker = Tracker::default();
        let mut closed_at: Option<Instant> = None;
        let mut tick = interval(self.opts.poll_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let (mut polls, mut queries, mut failed) = (0u64, 0u64, 0u64);
        let mut last_error = None;
        loop {
            tick.tick().await;
            loop {
                match intake.try_recv() {
                    Ok(r) => tracker.track(&r),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        closed_at.get_or_insert_with(Instant::now);
                        break;
                    }
                }
            }
            if closed_at.is_some() && tracker.is_done() {
                break;
            }
            if closed_at.is_some_and(|c| c.elapsed() >= self.opts.deadline) {
                break;
            }
            polls += 1;
            for batch in tracker.batches(self.source.batch_size()) {
                queries += 1;
                let lookup = Lookup {
                    project_id: batch.project_id,
                    dataset: batch.dataset,
                    from_secs: batch.from_secs,
                    to_secs: batch.to_secs,
                    ids: &batch.ids,
                };
                match self.source.lookup(lookup).await {
                    Ok(rows) => {
                        let newly = tracker.mark_seen(&rows, now_unix_micros());
                        tracker.set_lookup_failed(&batch.ids, false);
                        on_seen(newly);
                    }
                    Err(e) => {
                        failed += 1;
                        tracker.set_lookup_failed(&batch.ids, true);
                        last_error = Some(e.to_string());
                    }
                }
            }
            if closed_at.is_some() && tracker.is_done() {
                break;
            }
        }
        let tracked = tracker.tracked();
        let (seen, missing, unverified) = tracker.finish();
        VerifyOutcome {
            source: self.source.describe(),
            live: self.opts.live,
            poll_interval: self.opts.poll_interval,
            tracked,
            seen,
            missing,
            unverified,
            skipped: 0,
            polls,
            queries,
            failed_queries: failed,
            last_error,
        }
    }
}
