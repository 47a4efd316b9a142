//! The pipelines between ingest and the store: one per ingest [`Topic`], each with its own
//! queue, workers and batch writer, as Relay's topics each have their consumers.
//!
//! An event goes through three steps:
//!
//! 1. **Relay** (once its key's project config has arrived, see
//!    [`crate::ingest::projects`]): an unknown or disabled key drops it with
//!    `invalid:project_id`; inbound filters (a scripted `discard`) drop it with their outcome;
//!    the key's quota is consumed, and over it the event (or just its attachment) is dropped
//!    with `rate_limited` and the limit is cached ([`crate::ingest::admission`]).
//! 2. **Sentry** (a worker, for the kind's service time): the crash's minidump is kept or
//!    filtered by `sentry:store_crash_reports` ([`crate::crash_reports`]); the scripted
//!    losses (`drop`, a restart) and mangles, per-kind delays and stalls apply.
//! 3. **Store**: the batch writer flushes like Snuba's consumer — when a batch is full or its
//!    oldest row has waited `batch_interval` — stamping `message_timestamp` on errors only
//!    (Snuba's transactions processor never sets it: getsentry/snuba
//!    `snuba/datasets/processors/transactions_processor.py` at
//!    61009262d9a0b81ba952265a7f245e502674cef2 writes no `message_timestamp`, so
//!    `transactions_local` keeps 1970-01-01). A failed write is retried; a batch that still
//!    fails is recorded in ground truth as lost by the store.
//!
//! Outcomes go to the outcomes consumer ([`outcomes`]), which writes them on its own.

pub mod outcomes;
pub mod topic;

use crate::crash_reports::{CRASH_REPORT_LIMIT, CrashReportPolicy};
use crate::faults::DropRule;
use crate::ingest::admission::{Admission, KEY_QUOTA, QuotaVerdict};
use crate::ingest::event::IngestedEvent;
use crate::preset::ServiceTimes;
use crate::script::{DiscardOutcome, EventsOf, Fault, FaultScript, hits, service_time};
use crate::store::outcomes::{Outcome, category, code};
use crate::store::{Store, StoredRow};
use crate::truth::{Decision, Truth};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};
use tokio::time::{Instant, sleep_until};
pub use topic::Topic;

/// Attempts per batch before it is given up as lost.
const WRITE_ATTEMPTS: u32 = 5;

/// What every pipeline shares.
pub struct Shared {
    /// The store written to.
    pub store: Arc<Mutex<Store>>,
    /// Where outcomes go.
    pub outcomes: mpsc::UnboundedSender<Outcome>,
    /// Accepted events to lose.
    pub drop: DropRule,
    /// Scripted faults.
    pub script: FaultScript,
    /// The clock the fault script's windows are read on.
    pub clock: Arc<crate::script::ScriptClock>,
    /// The sim's clock offset, microseconds.
    pub skew_micros: i64,
    /// Ground truth.
    pub truth: Arc<Truth>,
    /// The keys' quotas.
    pub admission: Arc<Admission>,
    /// Which minidumps are kept.
    pub crash_reports: CrashReportPolicy,
    /// Events that reached Sentry's step, over every topic (the drop rule's `nth`).
    pub nth: AtomicU64,
}

/// One topic's pipeline.
pub struct Pipeline {
    /// Its topic.
    pub topic: Topic,
    /// What the pipelines share.
    pub shared: Arc<Shared>,
    /// Events processed at once (`None`: unlimited).
    pub workers: Option<usize>,
    /// Processing time per kind, holding a worker.
    pub service: ServiceTimes,
    /// Rows per write at most.
    pub batch_rows: usize,
    /// Longest a row waits in a batch.
    pub batch_interval: Duration,
    /// Whether anything consumes the topic (an errors-only install reads no
    /// `ingest-transactions`: getsentry/self-hosted `docker-compose.yml` at
    /// 89a143f8e4d396a858cf6f462a832ae7da9fd2db gives `transactions-consumer` and
    /// `snuba-transactions-consumer` the `feature-complete` profile only).
    pub consumed: bool,
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
    } else if ev.native {
        EventsOf::Native
    } else if ev.platform == "javascript" {
        EventsOf::Javascript
    } else {
        EventsOf::Error
    }
}

/// The step an event is due for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Relay,
    Store,
}

impl Shared {
    fn since_start(&self) -> Duration {
        self.clock.at(std::time::Instant::now())
    }

    fn now_secs(&self) -> u32 {
        (sentry_load_common::clock::now_unix_micros().saturating_add_signed(self.skew_micros)
            / 1_000_000) as u32
    }

    /// An outcome about `ev` (in its own category, or `category` when given).
    fn outcome(&self, ev: &IngestedEvent, outcome: u8, reason: &str, cat: Option<(u8, u32)>) {
        let (category, quantity) = cat.unwrap_or((event_category(ev), 1));
        let _ = self.outcomes.send(Outcome {
            project_id: ev.project_id,
            event_id: Some(ev.event_id),
            timestamp: self.now_secs(),
            outcome,
            reason: Some(reason.to_owned()),
            category,
            quantity,
        });
    }

    /// One outcome per minidump of `ev`, in the attachment category.
    fn attachment_outcomes(&self, ev: &IngestedEvent, outcome: u8, reason: &str) {
        for size in &ev.minidumps {
            let size = u32::try_from(*size).unwrap_or(u32::MAX);
            self.outcome(ev, outcome, reason, Some((category::ATTACHMENT, size)));
        }
    }

    /// Relay's step; `false` when the event was dropped.
    fn relay(&self, ev: &mut IngestedEvent) -> bool {
        if !ev.key_valid {
            self.truth
                .record(ev.event_id, ev.project_id, Decision::InvalidKey);
            self.outcome(ev, code::INVALID, "project_id", None);
            self.attachment_outcomes(ev, code::INVALID, "project_id");
            return false;
        }
        if let Some(outcome) = self.discarded(ev) {
            self.truth
                .record(ev.event_id, ev.project_id, Decision::Discarded);
            let _ = self.outcomes.send(outcome);
            return false;
        }
        if ev.quota_counted {
            return true;
        }
        let verdict = self.admission.consume(
            &ev.key,
            ev.quota_category(),
            !ev.minidumps.is_empty(),
            std::time::Instant::now(),
            u64::from(self.now_secs()),
        );
        match verdict {
            QuotaVerdict::Within => true,
            QuotaVerdict::DropEvent => {
                self.truth
                    .record(ev.event_id, ev.project_id, Decision::RateLimitedLate);
                self.outcome(ev, code::RATE_LIMITED, KEY_QUOTA, None);
                self.attachment_outcomes(ev, code::RATE_LIMITED, KEY_QUOTA);
                false
            }
            QuotaVerdict::DropAttachments => {
                self.truth
                    .record(ev.event_id, ev.project_id, Decision::AttachmentRateLimited);
                self.attachment_outcomes(ev, code::RATE_LIMITED, KEY_QUOTA);
                ev.minidumps.clear();
                true
            }
        }
    }

    /// Sentry's saving step before the worker's time: crash reports, scripted losses and
    /// mangles; `false` when the event was lost.
    fn save(&self, ev: &mut IngestedEvent) -> bool {
        if !ev.minidumps.is_empty() && !self.crash_reports.keep(ev.project_id, ev.primary_hash) {
            self.truth
                .record(ev.event_id, ev.project_id, Decision::CrashReportFiltered);
            self.attachment_outcomes(ev, code::FILTERED, CRASH_REPORT_LIMIT);
            ev.minidumps.clear();
        }
        let nth = self.nth.fetch_add(1, Ordering::Relaxed) + 1;
        if self.lost(nth, ev) {
            self.truth
                .record(ev.event_id, ev.project_id, Decision::DroppedSilently);
            return false;
        }
        if self.mangled(ev) {
            mangle(ev);
            self.truth
                .record(ev.event_id, ev.project_id, Decision::Mangled);
        }
        true
    }

    /// Whether a drop rule or a scripted drop loses the `nth` saved event.
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
                        timestamp: self.now_secs(),
                        outcome: match outcome {
                            DiscardOutcome::Filtered => code::FILTERED,
                            DiscardOutcome::Invalid => code::INVALID,
                        },
                        reason: Some(reason.clone()),
                        category: event_category(ev),
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

    fn stalled(&self) -> bool {
        self.script
            .active(self.since_start())
            .any(|f| matches!(f, Fault::Stall))
    }
}

/// The data category of an event.
fn event_category(ev: &IngestedEvent) -> u8 {
    if ev.transaction.is_some() {
        category::TRANSACTION
    } else {
        category::ERROR
    }
}

impl Pipeline {
    /// Runs until the queue is closed and drained (and delayed events stored), then flushes
    /// what is left.
    pub async fn run(self, mut queue: mpsc::Receiver<IngestedEvent>) {
        let s = self.shared.clone();
        let mut batch: Vec<StoredRow> = Vec::with_capacity(self.batch_rows);
        let mut deadline: Option<Instant> = None;
        // Events back from a wait (their config, a worker, a scripted delay).
        let (delayed_tx, mut delayed) = mpsc::unbounded_channel::<(IngestedEvent, Step)>();
        let mut pending_delayed = 0usize;
        // When each worker is next free. A worker's next event starts when the previous one
        // is due to finish, not when its timer fired (tokio's timers wake on whole
        // milliseconds), so capacity is exactly workers / service time.
        let mut busy: BinaryHeap<Reverse<Instant>> = (0..self.workers.unwrap_or(0))
            .map(|_| Reverse(Instant::now()))
            .collect();
        let mut restarted = vec![false; s.script.faults.len()];
        let mut open = true;
        let later = |ev: IngestedEvent, step: Step, at: Instant, pending: &mut usize| {
            *pending += 1;
            let tx = delayed_tx.clone();
            tokio::spawn(async move {
                sleep_until(at).await;
                let _ = tx.send((ev, step));
            });
        };
        loop {
            self.restart_if_due(&mut restarted, &mut queue);
            let stalled = s.stalled();
            if !open && pending_delayed == 0 {
                break;
            }
            let free_at = busy.peek().map(|Reverse(t)| *t);
            let worker_free = free_at.is_none_or(|t| t <= Instant::now());
            let next = tokio::select! {
                ev = queue.recv(), if open && !stalled && worker_free => match ev {
                    Some(ev) => Some((ev, Step::Relay, false)),
                    None => { open = false; None }
                },
                _ = sleep_until(free_at.unwrap_or_else(Instant::now)), if open && !stalled && !worker_free => None,
                back = delayed.recv(), if pending_delayed > 0 => back.map(|(ev, step)| (ev, step, true)),
                _ = tokio::time::sleep(Duration::from_millis(20)), if stalled || !open => None,
                _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    self.flush(&mut batch).await;
                    deadline = None;
                    None
                }
            };
            let Some((mut ev, step, was_delayed)) = next else {
                continue;
            };
            if was_delayed {
                pending_delayed -= 1;
            }
            if !self.consumed {
                s.truth
                    .record(ev.event_id, ev.project_id, Decision::NotConsumed);
                continue;
            }
            if step == Step::Relay {
                // Relay holds the event until its key's project config has arrived.
                let ready = Instant::from_std(ev.ready_at);
                if ready > Instant::now() {
                    later(ev, Step::Relay, ready, &mut pending_delayed);
                    continue;
                }
                if !s.relay(&mut ev) || !s.save(&mut ev) {
                    continue;
                }
                // A worker holds the event for its kind's service time; a scripted delay
                // (waiting on symbolication, say) does not hold a worker.
                let mut due = Instant::now();
                if let Some(Reverse(free)) = busy.pop() {
                    // Service starts when both the worker and the event were ready.
                    let ready = Instant::from_std(ev.accepted_at.max(ev.ready_at));
                    due = free.max(ready) + self.service_of(&ev);
                    busy.push(Reverse(due));
                }
                if let Some(wait) = s.delay_of(&ev) {
                    due += wait;
                }
                if due > Instant::now() {
                    later(ev, Step::Store, due, &mut pending_delayed);
                    continue;
                }
            }
            let twice = s.script.active(s.since_start()).any(|f| {
                matches!(f, Fault::Duplicate { fraction } if hits(ev.event_id, DUPLICATE_SALT ^ s.script.salt_of(f), *fraction))
            });
            // Snuba's errors processor stamps `message_timestamp`; its transactions processor
            // does not.
            let message_timestamp = if ev.transaction.is_some() {
                0
            } else {
                s.now_secs()
            };
            let row = StoredRow {
                event: ev,
                message_timestamp,
                group_id: 0,
            };
            if twice {
                s.truth.record(
                    row.event.event_id,
                    row.event.project_id,
                    Decision::Duplicated,
                );
                batch.push(row.clone());
            }
            batch.push(row);
            deadline.get_or_insert_with(|| Instant::now() + self.batch_interval);
            if batch.len() >= self.batch_rows {
                self.flush(&mut batch).await;
                deadline = None;
            }
        }
        self.flush(&mut batch).await;
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

    /// A scripted restart loses everything in the queue, once.
    fn restart_if_due(&self, fired: &mut [bool], queue: &mut mpsc::Receiver<IngestedEvent>) {
        let s = &self.shared;
        let t = s.since_start();
        for (i, f) in s.script.faults.iter().enumerate() {
            if matches!(f.fault, Fault::Restart) && !fired[i] && f.is_active(t) {
                fired[i] = true;
                while let Ok(ev) = queue.try_recv() {
                    s.truth
                        .record(ev.event_id, ev.project_id, Decision::LostInRestart);
                }
            }
        }
    }

    async fn flush(&self, batch: &mut Vec<StoredRow>) {
        if batch.is_empty() {
            return;
        }
        let s = &self.shared;
        let slow = s.script.active(s.since_start()).find_map(|f| match f {
            Fault::SlowInserts { by } => Some(*by),
            _ => None,
        });
        if let Some(by) = slow {
            tokio::time::sleep(by).await;
        }
        let mut attempt = 0;
        let decision = loop {
            attempt += 1;
            let written = write_apart(&mut *s.store.lock().await, batch).await;
            match written {
                Ok(()) => break Decision::Stored,
                Err(e) if attempt < WRITE_ATTEMPTS => {
                    eprintln!(
                        "sim: {} store write failed (attempt {attempt}): {e}; retrying",
                        self.topic.name()
                    );
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
                Err(e) => {
                    eprintln!(
                        "sim: {} store write failed {attempt} times, {} events lost: {e}",
                        self.topic.name(),
                        batch.len()
                    );
                    break Decision::LostByStore;
                }
            }
        };
        for row in batch.drain(..) {
            let e = &row.event;
            if decision == Decision::Stored {
                let _ = s.outcomes.send(accepted_outcome(&row));
                if !e.minidumps.is_empty() {
                    s.truth
                        .record(e.event_id, e.project_id, Decision::CrashReportStored);
                }
            }
            s.truth.record(e.event_id, e.project_id, decision);
        }
    }
}

/// Writes a batch, second copies of an event in inserts of their own: a copy in the same
/// insert would be merged away at once by ClickHouse 20.5 and later (`optimize_on_insert`,
/// on by default, applies the ReplacingMergeTree to each inserted block), while duplicates
/// that reach Snuba in different batches — a consumer's replay — stay visible until a
/// background merge, on every version.
async fn write_apart(
    store: &mut Store,
    batch: &mut [StoredRow],
) -> Result<(), crate::store::StoreError> {
    let mut seen = std::collections::HashSet::new();
    let repeats: Vec<usize> = (0..batch.len())
        .filter(|&i| !seen.insert(batch[i].event.event_id))
        .collect();
    if repeats.is_empty() {
        return store.write(batch).await;
    }
    let (mut firsts, mut seconds): (Vec<StoredRow>, Vec<StoredRow>) = (Vec::new(), Vec::new());
    for (i, row) in batch.iter().enumerate() {
        if repeats.binary_search(&i).is_ok() {
            seconds.push(row.clone());
        } else {
            firsts.push(row.clone());
        }
    }
    store.write(&mut firsts).await?;
    store.write(&mut seconds).await?;
    // The store set each row's issue: keep it on the batch, whose rows are recorded next.
    let (mut f, mut sec) = (firsts.into_iter(), seconds.into_iter());
    for (i, row) in batch.iter_mut().enumerate() {
        let written = if repeats.binary_search(&i).is_ok() {
            sec.next()
        } else {
            f.next()
        };
        if let Some(w) = written {
            row.group_id = w.group_id;
        }
    }
    Ok(())
}

/// The `accepted` outcome of a stored row.
fn accepted_outcome(row: &StoredRow) -> Outcome {
    let e = &row.event;
    Outcome {
        project_id: e.project_id,
        event_id: Some(e.event_id),
        timestamp: row.message_timestamp.max(e.received),
        outcome: code::ACCEPTED,
        reason: None,
        category: event_category(e),
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
