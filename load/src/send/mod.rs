//! The sender: walks the plan open-loop and turns every arrival into exactly one journal record.
//!
//! Each arrival is due at `start + offset`. The scheduler sleeps until then and hands it to one
//! of at most `max_in_flight` long-lived workers ([`worker`]), which builds the envelope into
//! its own buffer and sends it over its own connection. If no worker is free before
//! `due + give_up_after`, the arrival is recorded as `harness_dropped` — counted, never hidden,
//! never Sentry's loss. Under the `back_off` policy an arrival whose category a 429 limited is
//! recorded as `backed_off` without a request. Latency is always measured from the due time; a
//! request that outlives `timeout` is a transport error.

mod http1;
mod plain_http;
mod rate_limits;
mod transport;
mod worker;

pub use plain_http::{Connections, NotPlainHttp, PlainHttpTransport};
pub use rate_limits::{BackOff, Category, Limits, Scope, parse_header};
pub use transport::{Answer, HttpTransport, Transport};

use crate::generate::Generator;
use crate::plan::Plan;
use crate::stats::LiveStats;
use crate::target::Router;
use sentry_load_common::SendOutcome;
use sentry_load_common::journal::JournalRecord;
use sentry_load_config::RateLimitPolicy;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep, sleep_until};

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
    /// Yield through the last [`SPIN_WINDOW`] before each send instead of sleeping through
    /// it (tokio's timer has 1 ms granularity). Off under paused test time, where yielding
    /// would never see the clock move.
    pub precise_timing: bool,
}

/// How long before a due time the scheduler stops sleeping and starts yielding. tokio's
/// timer wakes on a whole millisecond at or after the deadline, and the thread then takes a
/// while to run: waking at `due - 1 ms` left about a quarter of a millisecond's lateness at
/// 200/s; two milliseconds leave microseconds (measured with `send.precise_timing` on and off
/// against the benchmark's null sink).
const SPIN_WINDOW: Duration = Duration::from_millis(2);

/// Waits until `due`: sleeps, then (when precise) yields through the last [`SPIN_WINDOW`].
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
///
/// The scheduler (this future) walks the plan and hands each arrival due now to an idle worker
/// — spawning one while fewer than `max_in_flight` exist — or, when every worker is busy,
/// waits for one until `due + give_up_after` and records a harness drop past that.
#[allow(clippy::too_many_arguments)]
pub async fn drive<T: Transport>(
    plan: &Plan,
    generator: &Arc<Generator>,
    router: &Router,
    opts: &SendOptions,
    clock: RunClock,
    results: mpsc::Sender<JournalRecord>,
    stats: Arc<LiveStats>,
    transport: Arc<T>,
) {
    let never = std::future::pending::<()>();
    drive_until(
        plan, generator, router, opts, clock, results, stats, transport, never,
    )
    .await;
}

/// [`drive`], stopping early when `stop` resolves (an operator's Ctrl-C): no arrival is
/// handed out after that, the requests in flight finish and are journaled, and the arrivals
/// never reached are not journaled at all (the plan says how many there were). Returns
/// whether it stopped early.
#[allow(clippy::too_many_arguments)]
pub async fn drive_until<T: Transport>(
    plan: &Plan,
    generator: &Arc<Generator>,
    router: &Router,
    opts: &SendOptions,
    clock: RunClock,
    results: mpsc::Sender<JournalRecord>,
    stats: Arc<LiveStats>,
    transport: Arc<T>,
    stop: impl Future<Output = ()>,
) -> bool {
    let mut stop = pin!(stop);
    let mut stopped = false;
    let honour_limits = opts.on_rate_limit == RateLimitPolicy::BackOff;
    let back_off = honour_limits.then(|| Arc::new(BackOff::new(router.targets(), clock.start)));
    let mut pool = Pool::new(
        opts.max_in_flight.max(1),
        Arc::new(worker::Shared {
            generator: generator.clone(),
            targets: router.targets().to_vec(),
            transport,
            results: results.clone(),
            stats: stats.clone(),
            back_off: back_off.clone(),
            clock,
            timeout: opts.timeout,
            gzip: opts.gzip,
        }),
    );
    let record_unsent = |record: JournalRecord| {
        stats.record(record.outcome);
        results.send(record)
    };
    // Armed lazily: it only has to fire by the give-up time of the arrival being waited for.
    let mut give_up = pin!(sleep_until(clock.start));
    for arrival in plan.arrivals() {
        let due = clock.start + arrival.offset;
        tokio::select! {
            biased;
            () = &mut stop => {
                stopped = true;
                break;
            }
            () = wait_until(due, opts.precise_timing) => {}
        }
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
        let Some(endpoint) = target.endpoint(arrival.kind) else {
            record.outcome = SendOutcome::Unsupported;
            if record_unsent(record).await.is_err() {
                break;
            }
            continue;
        };
        if let Some(b) = &back_off
            && b.limited(arrival.kind, usize::from(target.index), Instant::now())
        {
            record.outcome = SendOutcome::BackedOff;
            if record_unsent(record).await.is_err() {
                break;
            }
            continue;
        }
        let job = worker::Job { record, endpoint };
        let unsent = match pool
            .idle_worker(give_up.as_mut(), due + opts.give_up_after)
            .await
        {
            Some(w) => pool.hand(w, job),
            None => Some(job),
        };
        if let Some(job) = unsent
            && record_unsent(job.record).await.is_err()
        {
            break;
        }
    }
    pool.finish().await;
    stopped
}

/// Runs `work` until `deadline`; `None` if it did not finish by then. `timer` may be armed for
/// any time: it is moved to `deadline` when armed later, and when it fires before `deadline`.
/// A caller that keeps one timer for a series of rising deadlines therefore re-arms it about
/// once per distance between deadline and start, not once per call.
///
/// The timer is polled outside tokio's cooperative budget: a peer that streams bytes as fast
/// as they can be read (a flood of `103` answers, endless chunk extensions) keeps `work`
/// ready until it has spent the task's whole budget, and a budgeted timer polled after it
/// would then never see its deadline.
async fn before_deadline<F: Future>(
    mut timer: Pin<&mut Sleep>,
    deadline: Instant,
    work: F,
) -> Option<F::Output> {
    if timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    let mut work = pin!(work);
    loop {
        tokio::select! {
            biased;
            done = &mut work => return Some(done),
            () = tokio::task::unconstrained(timer.as_mut()) => {
                if Instant::now() >= deadline {
                    return None;
                }
                timer.as_mut().reset(deadline);
            }
        }
    }
}

/// The workers: a job channel to each, and the ids of the idle ones.
struct Pool<T: Transport> {
    max: usize,
    shared: Arc<worker::Shared<T>>,
    jobs: Vec<mpsc::Sender<worker::Job>>,
    handles: Vec<JoinHandle<()>>,
    idle_tx: mpsc::UnboundedSender<usize>,
    idle: mpsc::UnboundedReceiver<usize>,
}

impl<T: Transport> Pool<T> {
    fn new(max: usize, shared: Arc<worker::Shared<T>>) -> Pool<T> {
        let (idle_tx, idle) = mpsc::unbounded_channel();
        Pool {
            max,
            shared,
            jobs: Vec::new(),
            handles: Vec::new(),
            idle_tx,
            idle,
        }
    }

    /// An idle worker, a new one while there are fewer than `max`, else the first to become
    /// idle before `deadline` (`None` after it), waited for with [`before_deadline`].
    async fn idle_worker(&mut self, timer: Pin<&mut Sleep>, deadline: Instant) -> Option<usize> {
        if let Ok(w) = self.idle.try_recv() {
            return Some(w);
        }
        if self.jobs.len() < self.max {
            let id = self.jobs.len();
            let (tx, rx) = mpsc::channel(1);
            let run = worker::run(id, self.shared.clone(), rx, self.idle_tx.clone());
            self.handles.push(tokio::spawn(run));
            self.jobs.push(tx);
            return Some(id);
        }
        before_deadline(timer, deadline, self.idle.recv())
            .await
            .flatten()
    }

    /// Gives `job` to idle worker `w`; hands it back if that worker is gone.
    fn hand(&self, w: usize, job: worker::Job) -> Option<worker::Job> {
        // An idle worker's channel is empty: it took its last job before saying it was idle.
        self.jobs[w].try_send(job).err().map(|e| e.into_inner())
    }

    /// Lets every worker finish its last request and send its record.
    async fn finish(self) {
        drop(self.jobs);
        for h in self.handles {
            if let Err(e) = h.await
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
}

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;
