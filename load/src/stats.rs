//! Counters the collector and verifier update and the progress display reads.

use sentry_load_common::SendOutcome;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Live counts of a run in progress.
#[derive(Debug, Default)]
pub struct LiveStats {
    by_outcome: [AtomicU64; SendOutcome::ALL.len()],
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    seen: AtomicU64,
}

impl LiveStats {
    /// Counts one finished send.
    pub fn record(&self, outcome: SendOutcome) {
        self.by_outcome[usize::from(outcome.code() - 1)].fetch_add(1, Relaxed);
    }

    /// Sends with this outcome so far.
    pub fn count(&self, outcome: SendOutcome) -> u64 {
        self.by_outcome[usize::from(outcome.code() - 1)].load(Relaxed)
    }

    /// Every finished send, whatever its outcome.
    pub fn finished(&self) -> u64 {
        self.by_outcome.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// A request started.
    pub fn start_request(&self) {
        let now = self.in_flight.fetch_add(1, Relaxed) + 1;
        self.peak_in_flight.fetch_max(now, Relaxed);
    }

    /// The most requests in flight at once so far.
    pub fn peak_in_flight(&self) -> u64 {
        self.peak_in_flight.load(Relaxed)
    }

    /// A request ended.
    pub fn end_request(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Relaxed)
    }

    /// The verifier saw `n` more events.
    pub fn add_seen(&self, n: u64) {
        self.seen.fetch_add(n, Relaxed);
    }

    /// Events the verifier has seen.
    pub fn seen(&self) -> u64 {
        self.seen.load(Relaxed)
    }
}
