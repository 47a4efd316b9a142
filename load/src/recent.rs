//! The last minutes of a run, a slot per second, for the gates that stop a run while it sends
//! (`[gates.abort]`). The collector counts every send into the second it was answered in (or
//! meant to start, for one never sent) and every accepted event into the second it was meant
//! to start; the live verifier counts each event it sees into that same second. The run's
//! abort watcher sums the slots of a window.
//!
//! Memory is one slot per second of the horizon, whatever the rate or the length of the run:
//! a slot is reused once its second has left the horizon, and a count for a second older than
//! that is dropped.

use sentry_load_common::SendOutcome;
use sentry_load_common::journal::JournalRecord;
use std::sync::Mutex;
use std::time::Duration;

/// What happened in one second (or, summed, in a window).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Sends the target answered, or failed to: every send made.
    pub answered: u64,
    /// Of those, 5xx answers and transport errors (timeouts, resets, refused connections).
    pub failed: u64,
    /// Of those, refusals: 429, 413, 400, 401, 403 and other 4xx.
    pub refused: u64,
    /// Accepted events meant to start in the second.
    pub accepted: u64,
    /// Of those, the ones seen by the verifier so far.
    pub seen: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.answered += o.answered;
        self.failed += o.failed;
        self.refused += o.refused;
        self.accepted += o.accepted;
        self.seen += o.seen;
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    second: u64,
    counts: Counts,
}

/// A run's recent seconds.
#[derive(Debug)]
pub struct Recent {
    start_unix_micros: u64,
    slots: Mutex<Vec<Slot>>,
}

impl Recent {
    /// Keeps `horizon` (and two seconds more) of the run that started at `start_unix_micros`.
    pub fn new(start_unix_micros: u64, horizon: Duration) -> Recent {
        let len = usize::try_from(horizon.as_secs().saturating_add(2)).unwrap_or(usize::MAX);
        Recent {
            start_unix_micros,
            slots: Mutex::new(vec![
                Slot {
                    second: u64::MAX,
                    counts: Counts::default(),
                };
                len.min(1 << 20)
            ]),
        }
    }

    /// Counts one journal record.
    pub fn note(&self, r: &JournalRecord) {
        let made = !matches!(
            r.outcome,
            SendOutcome::HarnessDropped | SendOutcome::BackedOff | SendOutcome::Unsupported
        );
        if made {
            let at = if r.done_micros > 0 {
                r.done_micros
            } else {
                r.intended_micros
            };
            self.with(at, |c| {
                c.answered += 1;
                match r.outcome {
                    SendOutcome::Unavailable | SendOutcome::TransportError => c.failed += 1,
                    SendOutcome::RateLimited
                    | SendOutcome::TooLarge
                    | SendOutcome::Malformed
                    | SendOutcome::Unauthorized
                    | SendOutcome::Rejected => c.refused += 1,
                    _ => {}
                }
            });
        }
        if r.outcome == SendOutcome::Accepted {
            self.with(r.intended_micros, |c| c.accepted += 1);
        }
    }

    /// Counts accepted events the verifier has just seen, by their intended send times.
    pub fn note_seen(&self, intended_micros: impl IntoIterator<Item = u64>) {
        for at in intended_micros {
            self.with(at, |c| c.seen += 1);
        }
    }

    /// The counts of seconds `from..to` of the run (seconds since its start).
    pub fn sum(&self, from: u64, to: u64) -> Counts {
        let mut total = Counts::default();
        let Ok(slots) = self.slots.lock() else {
            return total;
        };
        for s in slots.iter().filter(|s| (from..to).contains(&s.second)) {
            total.add(&s.counts);
        }
        total
    }

    fn with(&self, unix_micros: u64, count: impl FnOnce(&mut Counts)) {
        let second = unix_micros.saturating_sub(self.start_unix_micros) / 1_000_000;
        let Ok(mut slots) = self.slots.lock() else {
            return;
        };
        let len = slots.len() as u64;
        let slot = &mut slots[(second % len) as usize];
        if slot.second == second {
            count(&mut slot.counts);
        } else if slot.second == u64::MAX || slot.second < second {
            // The slot's second has left the horizon: it is this second's now.
            *slot = Slot {
                second,
                counts: Counts::default(),
            };
            count(&mut slot.counts);
        }
        // Otherwise the second is older than the horizon: too late to count.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: u64 = 1_700_000_000_000_000;

    fn record(outcome: SendOutcome, intended_s: f64, done_s: Option<f64>) -> JournalRecord {
        let at = |s: f64| START + (s * 1e6) as u64;
        JournalRecord {
            outcome,
            intended_micros: at(intended_s),
            sent_micros: done_s.map_or(0, |_| at(intended_s)),
            done_micros: done_s.map_or(0, at),
            ..JournalRecord::fixture(0)
        }
    }

    #[test]
    fn sends_count_where_answered_and_events_where_meant() {
        let r = Recent::new(START, Duration::from_secs(10));
        r.note(&record(SendOutcome::Accepted, 1.2, Some(3.5)));
        r.note(&record(SendOutcome::Unavailable, 1.0, Some(2.1)));
        r.note(&record(SendOutcome::TransportError, 2.0, Some(2.9)));
        r.note(&record(SendOutcome::RateLimited, 2.0, Some(2.0)));
        r.note(&record(SendOutcome::HarnessDropped, 2.0, None));
        r.note(&record(SendOutcome::BackedOff, 2.0, None));
        assert_eq!(
            r.sum(2, 3),
            Counts {
                answered: 3,
                failed: 2,
                refused: 1,
                ..Counts::default()
            }
        );
        assert_eq!(r.sum(1, 2).accepted, 1);
        assert_eq!(r.sum(3, 4).answered, 1);
        r.note_seen([START + 1_500_000]);
        assert_eq!(r.sum(0, 10).seen, 1);
    }

    #[test]
    fn memory_is_the_horizon_and_old_seconds_are_dropped() {
        let r = Recent::new(START, Duration::from_secs(3));
        for second in 0..1000u64 {
            r.note(&record(
                SendOutcome::Accepted,
                second as f64,
                Some(second as f64),
            ));
        }
        assert_eq!(r.slots.lock().unwrap().len(), 5);
        assert_eq!(r.sum(995, 1000).answered, 5);
        assert_eq!(r.sum(0, 995).answered, 0);
        // A count for a second gone from the horizon does not land in a newer one.
        r.note(&record(SendOutcome::Unavailable, 2.0, Some(2.0)));
        assert_eq!(r.sum(0, 1000).failed, 0);
    }
}
