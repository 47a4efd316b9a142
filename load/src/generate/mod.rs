//! Envelope generators: one per event kind, built with the Sentry SDK's protocol types and
//! serialized exactly as the SDK serializes envelopes.
//!
//! Every random choice of an event comes from a ChaCha8 stream seeded with
//! `(profile seed, sequence number)`, so an event's content does not depend on which events
//! came before it. Per run, the event id (derived from run id and sequence number), the
//! timestamp (the intended send time) and `sent_at` differ.
//!
//! ```text
//! {"event_id":"…","sent_at":"2026-11-22T14:55:39.123Z"}
//! {"type":"event","length":1432}
//! {"event_id":"…","level":"error","platform":"python","tags":{"sentry_load.run":"…","sentry_load.seq":"17"},…}
//! ```

mod error_event;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sentry::Envelope;
use sentry::protocol::EnvelopeHeaders;
use sentry_load_common::{EventKind, RunId, event_id_for};
use std::io::Write;
use std::time::SystemTime;

/// Builds the envelopes of one run.
#[derive(Debug, Clone)]
pub struct Generator {
    run_id: RunId,
    run_digest: u64,
    seed: u64,
    issues: u32,
}

/// One envelope, ready to send.
#[derive(Debug, Clone)]
pub struct Built {
    /// The event id it carries.
    pub event_id: uuid::Uuid,
    /// The bytes, uncompressed.
    pub body: Vec<u8>,
}

impl Generator {
    /// A generator for run `run_id`, drawing from `seed`, spreading errors over `issues`
    /// fingerprints.
    pub fn new(run_id: RunId, seed: u64, issues: u32) -> Generator {
        Generator {
            run_digest: run_id.digest(),
            run_id,
            seed,
            issues: issues.max(1),
        }
    }

    /// The event id of sequence number `seq` in this run.
    pub fn event_id(&self, seq: u64) -> uuid::Uuid {
        event_id_for(self.run_digest, seq)
    }

    /// The envelope for sequence number `seq`, of `kind`, timestamped `intended`.
    pub fn envelope(&self, seq: u64, kind: EventKind, intended: SystemTime) -> Built {
        let event_id = self.event_id(seq);
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.seed ^ seq.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let event = match kind {
            EventKind::Error => error_event::build(&mut rng, self, seq, event_id, intended),
            // Profiles are checked to ask only for errors in this build.
            EventKind::Transaction | EventKind::Native | EventKind::Javascript => {
                error_event::build(&mut rng, self, seq, event_id, intended)
            }
        };
        let mut envelope = Envelope::new().with_headers(
            EnvelopeHeaders::new()
                .with_event_id(event_id)
                .with_sent_at(SystemTime::now()),
        );
        envelope.add_item(event);
        let mut body = Vec::with_capacity(2048);
        // Writing into a Vec cannot fail; serde_json cannot fail on these types.
        let _ = envelope.to_writer(&mut body);
        Built { event_id, body }
    }

    pub(crate) fn run_id(&self) -> &RunId {
        &self.run_id
    }

    pub(crate) fn issues(&self) -> u32 {
        self.issues
    }
}

/// Gzip-compresses a body as SDKs do (`Content-Encoding: gzip`).
pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests;
