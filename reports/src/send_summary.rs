//! Streams a journal into what the report says about sending.

use crate::histogram::Recorder;
use sentry_load_common::journal::{JournalHeader, JournalReader, JournalRecord};
use sentry_load_common::{EventKind, SendOutcome};
use std::collections::BTreeMap;

/// Sending, summed up from a journal.
pub struct SendSummary {
    /// The journal's header.
    pub header: JournalHeader,
    /// Records read.
    pub records: u64,
    /// Count per outcome.
    pub outcomes: BTreeMap<SendOutcome, u64>,
    /// Count per kind and outcome.
    pub kind_outcomes: BTreeMap<EventKind, BTreeMap<SendOutcome, u64>>,
    /// Per second after time zero (by intended time): planned, sent, accepted, refused,
    /// failed.
    pub per_second: Vec<[u64; 5]>,
    /// Refusals per (second, HTTP status): only the seconds and statuses that had some.
    pub refusals_per_second: BTreeMap<(u64, u16), u64>,
    /// Sends backed off (not sent for a rate limit) per second: only seconds that had some.
    pub backed_off_per_second: BTreeMap<u64, u64>,
    /// Count per HTTP status (0 = none).
    pub statuses: BTreeMap<u16, u64>,
    /// Bytes sent.
    pub bytes: u64,
    /// Latest send start, Unix µs.
    pub last_sent_micros: u64,
    /// Lateness, µs.
    pub lateness: Recorder,
    /// Round trips, µs.
    pub round_trip: Recorder,
    /// Bytes after the last whole record.
    pub ignored_tail_bytes: u64,
    /// Bytes skipped between intact records: damage that cost records.
    pub damaged_bytes: u64,
    /// Sends that started more than `late_after` behind schedule.
    pub late: u64,
    /// The lateness threshold.
    pub late_after: std::time::Duration,
}

/// Journals of one run could not be summed up.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    /// A journal could not be read.
    #[error("reading a journal: {0}")]
    Io(#[from] std::io::Error),
    /// Journals of different runs were given together.
    #[error("journals of different runs: {0} and {1}")]
    MixedRuns(String, String),
    /// No journal was given.
    #[error("no journal")]
    Empty,
}

impl SendSummary {
    /// Reads the journals of one run's shards as one: counts add up, time zero is the
    /// earliest shard's, the targets are the first journal's.
    pub fn read_all(
        readers: Vec<JournalReader>,
        late_after: std::time::Duration,
        mut each: impl FnMut(&JournalRecord),
    ) -> Result<SendSummary, SummaryError> {
        let first = readers.first().ok_or(SummaryError::Empty)?;
        let mut s = SendSummary {
            header: first.header().clone(),
            records: 0,
            outcomes: BTreeMap::new(),
            kind_outcomes: BTreeMap::new(),
            per_second: Vec::new(),
            refusals_per_second: BTreeMap::new(),
            backed_off_per_second: BTreeMap::new(),
            statuses: BTreeMap::new(),
            bytes: 0,
            last_sent_micros: 0,
            lateness: Recorder::new(3_600_000_000),
            round_trip: Recorder::new(3_600_000_000),
            ignored_tail_bytes: 0,
            damaged_bytes: 0,
            late: 0,
            late_after,
        };
        let late_micros = late_after.as_micros() as u64;
        for mut reader in readers {
            let h = reader.header();
            if h.run_id != s.header.run_id {
                return Err(SummaryError::MixedRuns(
                    s.header.run_id.to_string(),
                    h.run_id.to_string(),
                ));
            }
            s.header.started_at_micros = s.header.started_at_micros.min(h.started_at_micros);
            while let Some(r) = reader.next_record()? {
                s.records += 1;
                *s.outcomes.entry(r.outcome).or_default() += 1;
                *s.kind_outcomes
                    .entry(r.kind)
                    .or_default()
                    .entry(r.outcome)
                    .or_default() += 1;
                s.count_second(&r);
                *s.statuses.entry(r.status).or_default() += 1;
                if r.outcome.was_sent() {
                    let lateness = r.sent_micros.saturating_sub(r.intended_micros);
                    s.bytes += u64::from(r.bytes);
                    s.last_sent_micros = s.last_sent_micros.max(r.sent_micros);
                    s.lateness.record(lateness);
                    s.late += u64::from(lateness > late_micros);
                    s.round_trip
                        .record(r.done_micros.saturating_sub(r.sent_micros));
                }
                each(&r);
            }
            s.ignored_tail_bytes += reader.ignored_tail_bytes();
            s.damaged_bytes += reader.damaged_bytes();
        }
        Ok(s)
    }

    fn count_second(&mut self, r: &JournalRecord) {
        let second = (r
            .intended_micros
            .saturating_sub(self.header.started_at_micros)
            / 1_000_000) as usize;
        // A corrupt time far in the future must not allocate the world.
        let second = second.min(31 * 86_400);
        if self.per_second.len() <= second {
            self.per_second.resize(second + 1, [0; 5]);
        }
        let slot = &mut self.per_second[second];
        slot[0] += 1;
        slot[1] += u64::from(r.outcome.was_sent());
        let column = match r.outcome {
            SendOutcome::Accepted => 2,
            o if o.is_refusal() => {
                *self
                    .refusals_per_second
                    .entry((second as u64, r.status))
                    .or_default() += 1;
                3
            }
            SendOutcome::BackedOff => {
                *self.backed_off_per_second.entry(second as u64).or_default() += 1;
                4
            }
            _ => 4,
        };
        slot[column] += 1;
    }

    /// Sends of a kind with this outcome.
    pub fn kind_count(&self, kind: EventKind, o: SendOutcome) -> u64 {
        self.kind_outcomes
            .get(&kind)
            .and_then(|m| m.get(&o))
            .copied()
            .unwrap_or(0)
    }

    /// Sends with this outcome.
    pub fn count(&self, o: SendOutcome) -> u64 {
        self.outcomes.get(&o).copied().unwrap_or(0)
    }

    /// Requests that went out.
    pub fn started(&self) -> u64 {
        self.outcomes
            .iter()
            .filter(|(o, _)| o.was_sent())
            .map(|(_, n)| n)
            .sum()
    }
}
