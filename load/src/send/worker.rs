//! A sender worker: one long-lived task that takes arrivals from the scheduler one at a time,
//! builds each envelope into its own reusable buffer, sends it through its own transport
//! session (its kept-alive connections), classifies the answer and puts the record on the
//! result stream. A worker runs one request at a time, so `max_in_flight` workers bound the
//! requests in flight.
//!
//! Timeouts cost no timer registration per request: the worker keeps one timer for
//! [`super::before_deadline`], which only has to fire no later than the current request's
//! deadline. When it fires early (it was set for an earlier request), it is moved to the
//! current deadline, so it is re-armed about once per `timeout`, not once per request.

use super::{BackOff, RunClock, Transport, before_deadline};
use crate::generate::{Generator, store};
use crate::stats::LiveStats;
use crate::target::{Endpoint, Target};
use sentry_load_common::SendOutcome;
use sentry_load_common::clock::from_unix_micros;
use sentry_load_common::journal::JournalRecord;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

/// What every worker of one sender shares.
pub(super) struct Shared<T> {
    pub generator: Arc<Generator>,
    pub targets: Vec<Arc<Target>>,
    pub transport: Arc<T>,
    pub results: mpsc::Sender<JournalRecord>,
    pub stats: Arc<LiveStats>,
    /// The limits answers announced, kept only under the `back_off` policy.
    pub back_off: Option<Arc<BackOff>>,
    pub clock: RunClock,
    pub timeout: Duration,
    pub gzip: bool,
}

/// One arrival to send: its record with everything but the send's own fields filled in, and
/// the target's endpoint for its kind.
pub(super) struct Job {
    pub record: JournalRecord,
    pub endpoint: Endpoint,
}

/// Runs worker `id`: takes jobs until the scheduler closes `jobs`, saying on `idle` each time
/// it is ready for the next.
pub(super) async fn run<T: Transport>(
    id: usize,
    shared: Arc<Shared<T>>,
    mut jobs: mpsc::Receiver<Job>,
    idle: mpsc::UnboundedSender<usize>,
) {
    let s = &*shared;
    let mut session = s.transport.session();
    let mut body = Vec::new();
    let mut timer = pin!(sleep_until(s.clock.start));
    while let Some(Job {
        mut record,
        endpoint,
    }) = jobs.recv().await
    {
        let intended = from_unix_micros(record.intended_micros);
        let target = &s.targets[usize::from(record.target)];
        let gzip = s.gzip && endpoint != Endpoint::Minidump;
        match endpoint {
            Endpoint::Envelope if gzip => {
                body = s
                    .generator
                    .envelope_gzip(record.seq, record.kind, intended)
                    .body;
            }
            Endpoint::Envelope => {
                s.generator
                    .envelope_into(record.seq, record.kind, intended, &mut body)
            }
            Endpoint::Store | Endpoint::Minidump => {
                s.generator
                    .envelope_into(record.seq, record.kind, intended, &mut body);
                // The generator's envelopes always have these items (see `generate::store`).
                let made = if endpoint == Endpoint::Store {
                    store::store_body(&mut body)
                } else {
                    store::minidump_body(&mut body)
                };
                if let Err(e) = made {
                    unreachable!("a generated envelope lacks what {endpoint:?} needs: {e}");
                }
                if gzip {
                    body = crate::generate::gzip(&body);
                }
            }
        }
        record.bytes = body.len() as u32;
        s.stats.start_request();
        let started = Instant::now();
        record.sent_micros = s.clock.unix_micros(started);
        let request = s
            .transport
            .send(&mut session, target, endpoint, &body, gzip);
        let answer = before_deadline(timer.as_mut(), started + s.timeout, request).await;
        let now = Instant::now();
        record.done_micros = s.clock.unix_micros(now);
        match answer.and_then(|a| a.status.map(|status| (status, a.rate_limits))) {
            Some((status, rate_limits)) => {
                record.status = status;
                record.outcome = SendOutcome::from_status(status);
                if let Some(b) = &s.back_off {
                    b.update(usize::from(record.target), &rate_limits, now);
                }
            }
            None => record.outcome = SendOutcome::TransportError,
        }
        s.stats.end_request();
        s.stats.record(record.outcome);
        // Idle first: the scheduler may hand over the next arrival while the record queues.
        let _ = idle.send(id);
        if s.results.send(record).await.is_err() {
            break;
        }
    }
}
