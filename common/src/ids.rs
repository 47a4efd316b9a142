//! Run ids and the event ids derived from them.
//!
//! An event id is a pure function of `(run id, sequence number)`: the generator, the journal
//! reader and the sim's fault rules can all name the same event without sharing state, and two
//! runs never collide (Sentry deduplicates by event id).

use crate::hash::{GOLDEN_GAMMA, splitmix64};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A run's identity: `YYYYMMDD-HHMMSS-<6 hex>`, sortable by start time, safe as a tag value and
/// a folder name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    /// A new run id for a run starting at `started_at_micros` (Unix microseconds).
    pub fn generate(started_at_micros: u64) -> RunId {
        let stamp = crate::clock::rfc3339_millis(started_at_micros);
        // "2026-11-22T14:55:39.123Z" -> "20261122-145539"
        let digits: String = stamp[..19].chars().filter(|c| c.is_ascii_digit()).collect();
        let suffix = &Uuid::new_v4().simple().to_string()[..6];
        RunId(format!("{}-{}-{suffix}", &digits[..8], &digits[8..14]))
    }

    /// Takes a run id read back from a journal or a tag, if it has the allowed characters
    /// (ASCII letters, digits, `-`, `_`, `.`; 1 to 64 of them).
    pub fn parse(s: &str) -> Option<RunId> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        ok.then(|| RunId(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A 64-bit digest of the id, the root of every per-event derivation.
    pub fn digest(&self) -> u64 {
        fnv1a(self.0.as_bytes())
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// FNV-1a over bytes: stable across platforms and releases, unlike `std`'s hasher. Used for run
/// digests and profile hashes.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The event id of sequence number `seq` in the run whose digest is `run_digest`.
///
/// A version-4-shaped UUID built from two rounds of SplitMix64, so ids look random to Sentry's
/// sampling and hashing while staying reproducible.
pub fn event_id_for(run_digest: u64, seq: u64) -> Uuid {
    let hi = splitmix64(run_digest ^ seq.wrapping_mul(GOLDEN_GAMMA));
    let lo = splitmix64(hi ^ seq);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn run_ids_have_the_documented_shape() {
        let id = RunId::generate(1_795_359_339_250_000);
        assert!(id.as_str().starts_with("20261122-145539-"), "{id}");
        assert_eq!(id.as_str().len(), 22);
        assert_eq!(RunId::parse(id.as_str()), Some(id));
        assert_eq!(RunId::parse("bad id"), None);
        assert_eq!(RunId::parse(""), None);
    }

    #[test]
    fn event_ids_are_stable_distinct_and_version_4() {
        let run = RunId::parse("20261122-145539-abcdef").unwrap();
        let a = event_id_for(run.digest(), 7);
        assert_eq!(a, event_id_for(run.digest(), 7));
        assert_eq!(a.get_version_num(), 4);
        let ids: HashSet<_> = (0..100_000)
            .map(|s| event_id_for(run.digest(), s))
            .collect();
        assert_eq!(ids.len(), 100_000);
        let other = RunId::parse("20261122-145539-abcdee").unwrap();
        assert_ne!(a, event_id_for(other.digest(), 7));
    }
}
