//! The sender: walks the plan open-loop and turns every arrival into exactly one journal record.
//!
//! Each arrival is due at `start + offset`. The scheduler sleeps until then, takes one of
//! `max_in_flight` permits, builds the envelope and spawns the request. If no permit frees up
//! before `due + give_up_after`, the arrival is recorded as `harness_dropped` — counted, never
//! hidden, never Sentry's loss. Latency is always measured from the due time.

use crate::generate::{Generator, gzip};
use crate::plan::Plan;
use crate::stats::LiveStats;
use crate::target::Target;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};
use sentry_load_common::SendOutcome;
use sentry_load_common::clock::from_unix_micros;
use sentry_load_common::journal::JournalRecord;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Instant, sleep_until, timeout_at};

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

    /// Unix microseconds of a monotonic instant.
    pub fn unix_micros(&self, at: Instant) -> u64 {
        self.start_unix_micros + at.saturating_duration_since(self.start).as_micros() as u64
    }
}

/// Sends the whole plan to `target`; every arrival ends as one record on `results`.
/// Returns when every request has finished.
pub async fn drive(
    plan: &Plan,
    generator: &Generator,
    target: &Target,
    opts: &SendOptions,
    clock: RunClock,
    results: mpsc::Sender<JournalRecord>,
    stats: Arc<LiveStats>,
) -> Result<(), reqwest::Error> {
    let client = reqwest::Client::builder()
        .timeout(opts.timeout)
        .pool_max_idle_per_host(opts.max_in_flight)
        .tcp_nodelay(true)
        .build()?;
    let permits = Arc::new(Semaphore::new(opts.max_in_flight));
    for arrival in plan.arrivals() {
        let due = clock.start + arrival.offset;
        sleep_until(due).await;
        let intended_micros = clock.unix_micros(due);
        let mut record = JournalRecord {
            seq: arrival.seq,
            event_id: generator.event_id(arrival.seq),
            kind: arrival.kind,
            outcome: SendOutcome::HarnessDropped,
            status: 0,
            target: target.index,
            project_id: target.project_id,
            intended_micros,
            sent_micros: 0,
            done_micros: 0,
            bytes: 0,
        };
        let Ok(permit) =
            timeout_at(due + opts.give_up_after, permits.clone().acquire_owned()).await
        else {
            stats.record(SendOutcome::HarnessDropped);
            if results.send(record).await.is_err() {
                break;
            }
            continue;
        };
        let built =
            generator.envelope(arrival.seq, arrival.kind, from_unix_micros(intended_micros));
        let body = if opts.gzip {
            gzip(&built.body)
        } else {
            built.body
        };
        record.bytes = body.len() as u32;
        let mut request = client
            .post(target.envelope_url.clone())
            .header(CONTENT_TYPE, "application/x-sentry-envelope")
            .header("X-Sentry-Auth", &target.auth_header);
        if opts.gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        let request = request.body(body);
        let (results, stats) = (results.clone(), stats.clone());
        stats.start_request();
        record.sent_micros = clock.unix_micros(Instant::now());
        tokio::spawn(async move {
            let answer = request.send().await;
            record.done_micros = clock.unix_micros(Instant::now());
            match answer {
                Ok(resp) => {
                    record.status = resp.status().as_u16();
                    record.outcome = SendOutcome::from_status(record.status);
                    // Read the body so the connection returns to the pool.
                    let _ = resp.bytes().await;
                }
                Err(_) => record.outcome = SendOutcome::TransportError,
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
    Ok(())
}
