//! Streams a journal into what the report says about sending.

use crate::histogram::Recorder;
use sentry_load_common::SendOutcome;
use sentry_load_common::journal::{JournalHeader, JournalReader};
use std::collections::BTreeMap;

/// Sending, summed up from a journal.
pub struct SendSummary {
    /// The journal's header.
    pub header: JournalHeader,
    /// Records read.
    pub records: u64,
    /// Count per outcome.
    pub outcomes: BTreeMap<SendOutcome, u64>,
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
    /// Sends that started more than `late_after` behind schedule.
    pub late: u64,
    /// The lateness threshold.
    pub late_after: std::time::Duration,
}

impl SendSummary {
    /// Reads the whole journal, calling `each` with every record (for the verifier's intake).
    pub fn read(
        mut reader: JournalReader,
        late_after: std::time::Duration,
        mut each: impl FnMut(&sentry_load_common::journal::JournalRecord),
    ) -> std::io::Result<SendSummary> {
        let mut s = SendSummary {
            header: reader.header().clone(),
            records: 0,
            outcomes: BTreeMap::new(),
            statuses: BTreeMap::new(),
            bytes: 0,
            last_sent_micros: 0,
            lateness: Recorder::new(3_600_000_000),
            round_trip: Recorder::new(3_600_000_000),
            ignored_tail_bytes: 0,
            late: 0,
            late_after,
        };
        let late_micros = late_after.as_micros() as u64;
        while let Some(r) = reader.next_record()? {
            s.records += 1;
            *s.outcomes.entry(r.outcome).or_default() += 1;
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
        s.ignored_tail_bytes = reader.ignored_tail_bytes();
        Ok(s)
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
