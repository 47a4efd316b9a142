//! The worker and batch writer between ingest's queue and the store: applies fault rules,
//! stamps `message_timestamp`, and flushes like Snuba's consumer — when a batch is full or
//! its oldest row has waited `batch_interval`. A failed write is retried; a batch that still
//! fails is recorded in ground truth as lost by the store.

use crate::faults::DropRule;
use crate::ingest::event::IngestedEvent;
use crate::store::{Store, StoredRow};
use crate::truth::{Decision, Truth};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

/// Attempts per batch before it is given up as lost.
const WRITE_ATTEMPTS: u32 = 5;

/// The pipeline's settings.
pub struct Pipeline {
    /// The store written to.
    pub store: Store,
    /// Accepted events to lose.
    pub drop: DropRule,
    /// Ground truth.
    pub truth: Arc<Truth>,
    /// Rows per write at most.
    pub batch_rows: usize,
    /// Longest a row waits in a batch.
    pub batch_interval: Duration,
}

impl Pipeline {
    /// Runs until the queue is closed and drained, then flushes what is left.
    pub async fn run(mut self, mut queue: mpsc::Receiver<IngestedEvent>) {
        let mut batch: Vec<StoredRow> = Vec::with_capacity(self.batch_rows);
        let mut deadline: Option<Instant> = None;
        let mut nth: u64 = 0;
        loop {
            let next = tokio::select! {
                ev = queue.recv() => ev,
                _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    self.flush(&mut batch).await;
                    deadline = None;
                    continue;
                }
            };
            let Some(ev) = next else { break };
            nth += 1;
            if self.drop.drops(nth, ev.event_id, ev.seq) {
                self.truth
                    .record(ev.event_id, ev.project_id, Decision::DroppedSilently);
                continue;
            }
            let now = sentry_load_common::clock::now_unix_micros();
            batch.push(StoredRow {
                event: ev,
                message_timestamp: (now / 1_000_000) as u32,
                group_id: 0,
            });
            deadline.get_or_insert_with(|| Instant::now() + self.batch_interval);
            if batch.len() >= self.batch_rows {
                self.flush(&mut batch).await;
                deadline = None;
            }
        }
        self.flush(&mut batch).await;
    }

    async fn flush(&mut self, batch: &mut Vec<StoredRow>) {
        if batch.is_empty() {
            return;
        }
        let mut attempt = 0;
        let decision = loop {
            attempt += 1;
            match self.store.write(batch).await {
                Ok(()) => break Decision::Stored,
                Err(e) if attempt < WRITE_ATTEMPTS => {
                    eprintln!("sim: store write failed (attempt {attempt}): {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
                Err(e) => {
                    eprintln!(
                        "sim: store write failed {attempt} times, {} events lost: {e}",
                        batch.len()
                    );
                    break Decision::LostByStore;
                }
            }
        };
        for row in batch.drain(..) {
            self.truth
                .record(row.event.event_id, row.event.project_id, decision);
        }
    }
}
