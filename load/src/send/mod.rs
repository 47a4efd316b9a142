//! The sender: walks the plan open-loop and turns every arrival into exactly one journal record.
//!
//! Each arrival is due at `start + offset`. The scheduler sleeps until then, takes one of
//! `max_in_flight` permits, builds the envelope and spawns the request. If no permit frees up
//! before `due + give_up_after`, the arrival is recorded as `harness_dropped` — counted, never
//! hidden, never Sentry's loss. Under the `back_off` policy an arrival whose category a 429
//! limited is recorded as `backed_off` without a request. Latency is always measured from the
//! due time; a request that outlives `timeout` is a transport error.

mod plain_http;
mod rate_limits;
mod transport;

pub use plain_http::{NotPlainHttp, PlainHttpTransport};
pub use rate_limits::{BackOff, RateLimit, parse_header};
pub use transport::{Answer, HttpTransport, Transport};

use crate::generate::Generator;
use crate::plan::Plan;
use crate::stats::LiveStats;
use crate::target::Router;
use sentry_load_common::SendOutcome;
use sentry_load_common::clock::from_unix_micros;
use sentry_load_common::journal::JournalRecord;
use sentry_load_config::RateLimitPolicy;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};

/// How envelopes are sent.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// Requests in flight at most.
    pub max_in_flight: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// How late a send may start before the harness drops it.
    pub give_up_after: Duration,
    /// Gzip the bodies.
    pub gzip: bool,
    /// What a 429 does.
    pub on_rate_limit: RateLimitPolicy,
    /// Yield through the last millisecond before each send instead of sleeping through it
    /// (tokio's timer has 1 ms granularity). Off under paused test time, where yielding
    /// would never see the clock move.
    pub precise_timing: bool,
}

/// How long before a due time the scheduler stops sleeping and starts yielding.
const SPIN_WINDOW: Duration = Duration::from_millis(1);

/// Waits until `due`: sleeps, then (when precise) yields through the last millisecond.
async fn wait_until(due: Instant, precise: bool) {
    if !precise {
        sleep_until(due).await;
        return;
    }
    if due > Instant::now() + SPIN_WINDOW {
        sleep_until(due - SPIN_WINDOW).await;
    }
    while Instant::now() < due {
        tokio::task::yield_now().await;
    }
}

/// The run's time zero, on the monotonic clock and as wall time.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    /// Time zero on the monotonic clock.
    pub start: Instant,
    /// Time zero as Unix microseconds.
    pub start_unix_micros: u64,
}

impl RunClock {
    /// Time zero is now.
    pub fn now() -> RunClock {
        RunClock {
            start: Instant::now(),
            start_unix_micros: sentry_load_common::clock::now_unix_micros(),
        }
    }

    /// Time zero is `lead` from now: room to open journals and connections before the first
    /// send is due, so setup does not show up as lateness.
    pub fn starting_in(lead: Duration) -> RunClock {
        let now = RunClock::now();
        RunClock {
            start: now.start + lead,
            start_unix_micros: now.start_unix_micros + lead.as_micros() as u64,
        }
    }

    /// Unix microseconds of a monotonic instant.
    pub fn unix_micros(&self, at: Instant) -> u64 {
        self.start_unix_micros + at.saturating_duration_since(self.start).as_micros() as u64
    }
}

/// Sends the whole plan through `transport` to the targets `router` picks; every arrival ends
/// as one record on `results`. Returns when every request has finished.
#[allow(clippy::too_many_arguments)]
pub async fn drive<T: Transport>(
    plan: &Plan,
    generator: &Generator,
    router: &Router,
    opts: &SendOptions,
    clock: RunClock,
    results: mpsc::Sender<JournalRecord>,
    stats: Arc<LiveStats>,
    transport: Arc<T>,
) {
    let permits = Arc::new(Semaphore::new(opts.max_in_flight));
    let back_off = Arc::new(BackOff::default());
    let honour_limits = opts.on_rate_limit == RateLimitPolicy::BackOff;
    for arrival in plan.arrivals() {
        let due = clock.start + arrival.offset;
        wait_until(due, opts.precise_timing).await;
        let target = router.pick(arrival.seq);
        let mut record = JournalRecord {
            seq: arrival.seq,
            event_id: generator.event_id(arrival.seq),
            kind: arrival.kind,
            outcome: SendOutcome::HarnessDropped,
            status: 0,
            target: target.index,
            project_id: target.project_id,
            intended_micros: clock.unix_micros(due),
            sent_micros: 0,
            done_micros: 0,
            bytes: 0,
        };
        if honour_limits && back_off.limited(arrival.kind, Instant::now()) {
            record.outcome = SendOutcome::BackedOff;
            stats.record(record.outcome);
            if results.send(record).await.is_err() {
                break;
            }
            continue;
        }
        let Ok(permit) =
            timeout_at(due + opts.give_up_after, permits.clone().acquire_owned()).await
        else {
            stats.record(record.outcome);
            if results.send(record).await.is_err() {
                break;
            }
            continue;
        };
        let intended = from_unix_micros(record.intended_micros);
        let body = if opts.gzip {
            generator
                .envelope_gzip(arrival.seq, arrival.kind, intended)
                .body
        } else {
            generator.envelope(arrival.seq, arrival.kind, intended).body
        };
        record.bytes = body.len() as u32;
        let (results, stats) = (results.clone(), stats.clone());
        let (target, transport, back_off) = (target.clone(), transport.clone(), back_off.clone());
        let (limit, compressed) = (opts.timeout, opts.gzip);
        stats.start_request();
        record.sent_micros = clock.unix_micros(Instant::now());
        tokio::spawn(async move {
            let sending = transport.send(&target, body, compressed);
            let answer = if transport.enforces_timeout() {
                Ok(sending.await)
            } else {
                timeout(limit, sending).await
            };
            let now = Instant::now();
            record.done_micros = clock.unix_micros(now);
            match answer {
                Ok(Answer {
                    status: Some(status),
                    rate_limits,
                }) => {
                    record.status = status;
                    record.outcome = SendOutcome::from_status(status);
                    back_off.update(&rate_limits, now);
                }
                Ok(Answer { status: None, .. }) | Err(_) => {
                    record.outcome = SendOutcome::TransportError;
                }
            }
            drop(permit);
            stats.end_request();
            stats.record(record.outcome);
            let _ = results.send(record).await;
        });
    }
    // Every spawned request holds a permit until its record is sent: taking them all back
    // means every record is on the stream.
    let _all = permits.acquire_many(opts.max_in_flight as u32).await;
}

#[cfg(test)]
mod tests;
