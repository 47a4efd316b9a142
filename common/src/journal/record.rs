//! The journal's header and fixed-size record, and their byte encoding.

use crate::{EventKind, RunId, SendOutcome};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Bytes per encoded record.
pub const RECORD_LEN: usize = 70;
const BODY_LEN: usize = RECORD_LEN - 4;

/// What a run was: written once at the top of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalHeader {
    /// The run's id (the `sentry_load.run` tag value).
    pub run_id: RunId,
    /// The seed every random choice flowed from.
    pub seed: u64,
    /// The profile's name.
    pub profile: String,
    /// FNV-1a digest of the profile file's bytes, hex.
    pub profile_hash: String,
    /// The version of sentry-load that wrote the journal.
    pub tool_version: String,
    /// When the schedule's time zero was, Unix microseconds.
    pub started_at_micros: u64,
    /// The targets sends went to; a record's `target` indexes this list.
    pub targets: Vec<TargetInfo>,
}

/// One target of a run, secret-free.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// The DSN or the embedded target, redacted (see [`crate::redact`]).
    pub display: String,
    /// The Sentry project the target's DSN points at.
    pub project_id: u64,
}

/// One send: what was meant, when, and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalRecord {
    /// Position in the run's schedule.
    pub seq: u64,
    /// The event id the envelope carried.
    pub event_id: Uuid,
    /// The kind of event.
    pub kind: EventKind,
    /// How the send ended.
    pub outcome: SendOutcome,
    /// The HTTP status, 0 when there was none.
    pub status: u16,
    /// Index into the header's `targets`.
    pub target: u16,
    /// The Sentry project id.
    pub project_id: u64,
    /// When the schedule meant the send to start (also the event's timestamp).
    pub intended_micros: u64,
    /// When the request was really started; 0 if it never was.
    pub sent_micros: u64,
    /// When the answer (or the failure) came; 0 if it never was sent.
    pub done_micros: u64,
    /// The envelope's size on the wire.
    pub bytes: u32,
}

/// Why a stored record could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The checksum does not match: a torn or corrupted write.
    Checksum,
    /// The kind or outcome byte is not one this version knows.
    UnknownCode,
}

impl JournalRecord {
    /// Encodes the record into its fixed-size form.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        b[0..8].copy_from_slice(&self.seq.to_le_bytes());
        b[8..24].copy_from_slice(self.event_id.as_bytes());
        b[24] = self.kind.code();
        b[25] = self.outcome.code();
        b[26..28].copy_from_slice(&self.status.to_le_bytes());
        b[28..30].copy_from_slice(&self.target.to_le_bytes());
        b[30..38].copy_from_slice(&self.project_id.to_le_bytes());
        b[38..46].copy_from_slice(&self.intended_micros.to_le_bytes());
        b[46..54].copy_from_slice(&self.sent_micros.to_le_bytes());
        b[54..62].copy_from_slice(&self.done_micros.to_le_bytes());
        b[62..66].copy_from_slice(&self.bytes.to_le_bytes());
        let crc = crc32fast::hash(&b[..BODY_LEN]);
        b[BODY_LEN..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes a record, checking its checksum.
    pub fn decode(b: &[u8; RECORD_LEN]) -> Result<JournalRecord, DecodeError> {
        let crc = u32::from_le_bytes(le(&b[BODY_LEN..]));
        if crc != crc32fast::hash(&b[..BODY_LEN]) {
            return Err(DecodeError::Checksum);
        }
        let kind = EventKind::from_code(b[24]).ok_or(DecodeError::UnknownCode)?;
        let outcome = SendOutcome::from_code(b[25]).ok_or(DecodeError::UnknownCode)?;
        Ok(JournalRecord {
            seq: u64::from_le_bytes(le(&b[0..8])),
            event_id: Uuid::from_bytes(le(&b[8..24])),
            kind,
            outcome,
            status: u16::from_le_bytes(le(&b[26..28])),
            target: u16::from_le_bytes(le(&b[28..30])),
            project_id: u64::from_le_bytes(le(&b[30..38])),
            intended_micros: u64::from_le_bytes(le(&b[38..46])),
            sent_micros: u64::from_le_bytes(le(&b[46..54])),
            done_micros: u64::from_le_bytes(le(&b[54..62])),
            bytes: u32::from_le_bytes(le(&b[62..66])),
        })
    }
}

#[cfg(any(test, feature = "fixtures"))]
impl JournalRecord {
    /// For tests: an accepted error send with sequence number `seq` — event id `seq + 1`,
    /// project 1, status 200, every time `seq` µs. Change fields with `..fixture(seq)`.
    pub fn fixture(seq: u64) -> JournalRecord {
        JournalRecord {
            seq,
            event_id: Uuid::from_u128(u128::from(seq) + 1),
            kind: EventKind::Error,
            outcome: SendOutcome::Accepted,
            status: 200,
            target: 0,
            project_id: 1,
            intended_micros: seq,
            sent_micros: seq,
            done_micros: seq,
            bytes: 10,
        }
    }
}

/// Copies a slice of known length into an array (the lengths are fixed by the format above).
fn le<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(seq: u64) -> JournalRecord {
        JournalRecord {
            seq,
            event_id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef ^ u128::from(seq)),
            kind: EventKind::Error,
            outcome: SendOutcome::Accepted,
            status: 200,
            target: 0,
            project_id: 1,
            intended_micros: 1_000_000 + seq,
            sent_micros: 1_000_010 + seq,
            done_micros: 1_000_900 + seq,
            bytes: 1234,
        }
    }

    #[test]
    fn records_round_trip() {
        let r = sample(42);
        assert_eq!(JournalRecord::decode(&r.encode()), Ok(r));
    }

    #[test]
    fn a_flipped_bit_is_caught() {
        let mut b = sample(1).encode();
        b[40] ^= 0x10;
        assert_eq!(JournalRecord::decode(&b), Err(DecodeError::Checksum));
    }
}
