//! The worker and batch writer between ingest's queue and the store: applies fault rules and
//! scripted faults (drops, per-kind processing delays, duplicates, stalls, restarts that lose
//! the queue, slow inserts, clock skew), stamps `message_timestamp`, and flushes like Snuba's
//! consumer — when a batch is full or its oldest row has waited `batch_interval`. A failed
//! write is retried; a batch that still fails is recorded in ground truth as lost by the store.

use crate::faults::DropRule;
use crate::ingest::event::IngestedEvent;
use crate::preset::ServiceTimes;
use crate::script::{DiscardOutcome, EventsOf, Fault, FaultScript, hits, service_time};
use crate::store::outcomes::{Outcome, category, code};
use crate::store::{Store, StoredRow};
use crate::truth::{Decision, Truth};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
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
    /// Scripted faults.
    pub script: FaultScript,
    /// When the sim started (the script's time zero).
    pub started: std::time::Instant,
    /// The sim's clock offset, microseconds.
    pub skew_micros: i64,
    /// Events processed at once (`None`: unlimited).
    pub workers: Option<usize>,
    /// Processing time per kind, holding a worker.
    pub service: ServiceTimes,
    /// Ground truth.
    pub truth: Arc<Truth>,
    /// Rows per write at most.
    pub batch_rows: usize,
    /// Longest a row waits in a batch.
    pub batch_interval: Duration,
    /// Outcomes from ingest (refusals), written with the next batch.
    pub outcomes: mpsc::UnboundedReceiver<Outcome>,
}

/// Salts of the pipeline's fault selections.
const DROP_SALT: u64 = 0xd409;
const DUPLICATE_SALT: u64 = 0xd0b1;
const DELAY_SALT: u64 = 0xde1a;
const DISCARD_SALT: u64 = 0xd15c;
const MANGLE_SALT: u64 = 0x3a61;

/// Which script kind an event is, for per-kind faults.
fn events_of(ev: &IngestedEvent) -> EventsOf {
    if ev.transaction.is_some() {
        EventsOf::Transaction
    } else if !ev.minidumps.is_empty() {
        EventsOf::Native
    } else if ev.platform == "javascript" {
        EventsOf::Javascript
    } else {
        EventsOf::Error
    }
}

impl Pipeline {
    fn since_start(&self) -> Duration {
        self.started.elapsed()
    }

    /// Runs until the queue is closed and drained (and delayed events stored), then flushes
    /// what is left.
    pub async fn run(mut self, mut queue: mpsc::Receiver<IngestedEvent>) {
        let mut batch: Vec<StoredRow> = Vec::with_capacity(self.batch_rows);
        let mut deadline: Option<Instant> = None;
        let mut nth: u64 = 0;
        // Events back from a worker or a scripted delay.
        let (delayed_tx, mut delayed) = mpsc::unbounded_channel::<IngestedEvent>();
        let mut pending_delayed = 0usize;
        // When each worker is next free. A worker's next event starts when the previous one
        // is due to finish, not when its timer fired (tokio's timers wake on whole
        // milliseconds), so capacity is exactly workers / service time.
        let mut busy: BinaryHeap<Reverse<Instant>> = (0..self.workers.unwrap_or(0))
            .map(|_| Reverse(Instant::now()))
            .collect();
        let mut restarted = vec![false; self.script.faults.len()];
        let mut open = true;
        let mut refused: Vec<Outcome> = Vec::new();
        loop {
            self.restart_if_due(&mut restarted, &mut queue);
            let stalled = self
                .script
                .active(self.since_start())
                .any(|f| matches!(f, Fault::Stall));
            if !open && pending_delayed == 0 {
                break;
            }
            let free_at = busy.peek().map(|Reverse(t)| *t);
            let worker_free = free_at.is_none_or(|t| t <= Instant::now());
            let next = tokio::select! {
                ev = queue.recv(), if open && !stalled && worker_free => match ev {
                    Some(ev) => Some((ev, false)),
                    None => { open = false; None }
                },
                _ = sleep_until(free_at.unwrap_or_else(Instant::now)), if open && !stalled && !worker_free => None,
                ev = delayed.recv(), if pending_delayed > 0 => ev.map(|ev| (ev, true)),
                Some(o) = self.outcomes.recv() => {
                    refused.push(o);
                    deadline.get_or_insert_with(|| Instant::now() + self.batch_interval);
                    None
                }
                _ = tokio::time::sleep(Duration::from_millis(20)), if stalled || !open => None,
                _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    self.flush(&mut batch, &mut refused).await;
                    deadline = None;
                    None
                }
            };
            let Some((mut ev, was_delayed)) = next else {
                continue;
            };
            if was_delayed {
                pending_delayed -= 1;
            } else {
                nth += 1;
                if self.lost(nth, &ev) {
                    self.truth
                        .record(ev.event_id, ev.project_id, Decision::DroppedSilently);
                    continue;
                }
                if self.mangled(&ev) {
                    mangle(&mut ev);
                    self.truth
                        .record(ev.event_id, ev.project_id, Decision::Mangled);
                }
                if let Some(outcome) = self.discarded(&ev) {
                    self.truth
                        .record(ev.event_id, ev.project_id, Decision::Discarded);
                    refused.push(outcome);
                    deadline.get_or_insert_with(|| Instant::now() + self.batch_interval);
                    continue;
                }
                // A worker holds the event for its kind's service time; a scripted delay
                // (waiting on symbolication, say) does not hold a worker.
                let mut due = Instant::now();
                if let Some(Reverse(free)) = busy.pop() {
                    // Service starts when both the worker and the event were ready.
                    due = free.max(Instant::from_std(ev.accepted_at)) + self.service_of(&ev);
                    busy.push(Reverse(due));
                }
                if let Some(wait) = self.delay_of(&ev) {
                    due += wait;
                }
                if due > Instant::now() {
                    pending_delayed += 1;
                    let tx = delayed_tx.clone();
                    tokio::spawn(async move {
                        sleep_until(due).await;
                        let _ = tx.send(ev);
                    });
                    continue;
                }
            }
            let twice = self.script.active(self.since_start()).any(|f| {
                matches!(f, Fault::Duplicate { fraction } if hits(ev.event_id, DUPLICATE_SALT ^ self.script.salt_of(f), *fraction))
            });
            let now = sentry_load_common::clock::now_unix_micros()
                .saturating_add_signed(self.skew_micros);
            let row = StoredRow {
                event: ev,
                message_timestamp: (now / 1_000_000) as u32,
                group_id: 0,
            };
            if twice {
                self.truth.record(
                    row.event.event_id,
                    row.event.project_id,
                    Decision::Duplicated,
                );
                batch.push(row.clone());
            }
            batch.push(row);
            deadline.get_or_insert_with(|| Instant::now() + self.batch_interval);
            if batch.len() >= self.batch_rows {
                self.flush(&mut batch, &mut refused).await;
                deadline = None;
            }
        }
        while let Ok(o) = self.outcomes.try_recv() {
            refused.push(o);
        }
        self.flush(&mut batch, &mut refused).await;
    }

    /// The preset's processing time for an event's kind.
    fn service_of(&self, ev: &IngestedEvent) -> Duration {
        match events_of(ev) {
            EventsOf::Transaction => self.service.transaction,
            EventsOf::Native => self.service.native,
            EventsOf::Javascript => self.service.javascript,
            EventsOf::Error | EventsOf::All => self.service.error,
        }
    }

    /// Whether a drop rule or a scripted drop loses the `nth` accepted event.
    fn lost(&self, nth: u64, ev: &IngestedEvent) -> bool {
        self.drop.drops(nth, ev.event_id, ev.seq)
            || self.script.active(self.since_start()).any(
                |f| matches!(f, Fault::Drop { fraction } if hits(ev.event_id, DROP_SALT ^ self.script.salt_of(f), *fraction)),
            )
    }

    /// Whether a scripted mangle hits this event.
    fn mangled(&self, ev: &IngestedEvent) -> bool {
        self.script.active(self.since_start()).any(
            |f| matches!(f, Fault::Mangle { fraction } if hits(ev.event_id, MANGLE_SALT ^ self.script.salt_of(f), *fraction)),
        )
    }

    /// The outcome of a scripted discard that hits this event, if one does.
    fn discarded(&self, ev: &IngestedEvent) -> Option<Outcome> {
        self.script
            .active(self.since_start())
            .find_map(|f| match f {
                Fault::Discard {
                    fraction,
                    outcome,
                    reason,
                } if hits(
                    ev.event_id,
                    DISCARD_SALT ^ self.script.salt_of(f),
                    *fraction,
                ) =>
                {
                    Some(Outcome {
                        project_id: ev.project_id,
                        event_id: Some(ev.event_id),
                        timestamp: (sentry_load_common::clock::now_unix_micros()
                            .saturating_add_signed(self.skew_micros)
                            / 1_000_000) as u32,
                        outcome: match outcome {
                            DiscardOutcome::Filtered => code::FILTERED,
                            DiscardOutcome::Invalid => code::INVALID,
                        },
                        reason: Some(reason.clone()),
                        category: if ev.transaction.is_some() {
                            category::TRANSACTION
                        } else {
                            category::ERROR
                        },
                        quantity: 1,
                    })
                }
                _ => None,
            })
    }

    /// The scripted processing time of an event, if any.
    fn delay_of(&self, ev: &IngestedEvent) -> Option<Duration> {
        let kind = events_of(ev);
        self.script
            .active(self.since_start())
            .find_map(|f| match f {
                Fault::Delay { events, p50, p99 }
                    if *events == EventsOf::All || *events == kind =>
                {
                    let u = sentry_load_common::fnv1a(&ev.event_id.into_bytes()) ^ DELAY_SALT;
                    let u = (u >> 11) as f64 / (1u64 << 53) as f64;
                    Some(service_time(*p50, *p99, u.clamp(1e-9, 1.0 - 1e-9)))
                }
                _ => None,
            })
    }

    /// A scripted restart loses everything in the queue, once.
    fn restart_if_due(&self, fired: &mut [bool], queue: &mut mpsc::Receiver<IngestedEvent>) {
        let t = self.since_start();
        for (i, f) in self.script.faults.iter().enumerate() {
            if matches!(f.fault, Fault::Restart) && !fired[i] && f.is_active(t) {
                fired[i] = true;
                while let Ok(ev) = queue.try_recv() {
                    self.truth
                        .record(ev.event_id, ev.project_id, Decision::LostInRestart);
                }
            }
        }
    }

    async fn flush(&mut self, batch: &mut Vec<StoredRow>, refused: &mut Vec<Outcome>) {
        if !refused.is_empty() {
            if let Err(e) = self.store.write_outcomes(refused).await {
                eprintln!("sim: writing {} outcomes failed: {e}", refused.len());
            }
            refused.clear();
        }
        if batch.is_empty() {
            return;
        }
        let slow = self
            .script
            .active(self.since_start())
            .find_map(|f| match f {
                Fault::SlowInserts { by } => Some(*by),
                _ => None,
            });
        if let Some(by) = slow {
            tokio::time::sleep(by).await;
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
        if decision == Decision::Stored {
            let accepted: Vec<Outcome> = batch.iter().map(accepted_outcome).collect();
            if let Err(e) = self.store.write_outcomes(&accepted).await {
                eprintln!("sim: writing {} outcomes failed: {e}", accepted.len());
            }
        }
        for row in batch.drain(..) {
            self.truth
                .record(row.event.event_id, row.event.project_id, decision);
        }
    }
}

/// The `accepted` outcome of a stored row.
fn accepted_outcome(row: &StoredRow) -> Outcome {
    let e = &row.event;
    Outcome {
        project_id: e.project_id,
        event_id: Some(e.event_id),
        timestamp: row.message_timestamp,
        outcome: code::ACCEPTED,
        reason: None,
        category: if e.transaction.is_some() {
            category::TRANSACTION
        } else {
            category::ERROR
        },
        quantity: 1,
    }
}

/// Stores `ev` unlike it was sent: no release, and a changed `sentry_load.issue` tag — in the
/// row and in the processed event.
fn mangle(ev: &mut IngestedEvent) {
    ev.release = None;
    for (k, v) in &mut ev.tags {
        if k == "sentry_load.issue" {
            v.push_str("-mangled");
        }
    }
    if let Some(d) = &ev.details {
        let mut d = (**d).clone();
        d["release"] = serde_json::Value::Null;
        if let Some(tags) = d.get_mut("tags").and_then(serde_json::Value::as_array_mut) {
            tags.retain(|t| t["key"] != "release");
            for t in tags.iter_mut().filter(|t| t["key"] == "sentry_load.issue") {
                let v = format!("{}-mangled", t["value"].as_str().unwrap_or_default());
                t["value"] = serde_json::json!(v);
            }
        }
        ev.details = Some(std::sync::Arc::new(d));
    }
}
