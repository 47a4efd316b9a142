//! Envelope generators: one per event kind, built with the Sentry SDK's protocol types and
//! serialized exactly as the SDK serializes envelopes.
//!
//! Each kind has a set of variants (exception types, stack depths, users, …) drawn from the
//! profile's seed. A variant is serialized once, with marker values where events differ, and
//! becomes a [`template::Template`]; each send fills in the event id, timestamp, `sent_at`,
//! sequence number and issue — so payloads stay unique per event while the send path does no
//! serde work. Which variant and issue an event gets is a function of `(seed, seq)` alone.
//!
//! ```text
//! {"event_id":"…","sent_at":"2026-11-22T14:55:39.123456Z"}
//! {"type":"event","length":1096}
//! {"event_id":"…","fingerprint":["sentry-load-issue-7"],…,"tags":{"sentry_load.run":"…","sentry_load.seq":"17",…},…}
//! ```

mod error_event;
mod platforms;
pub mod template;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sentry::Envelope;
use sentry::protocol::{EnvelopeHeaders, Event};
use sentry_load_common::{EventKind, RunId, clock, event_id_for};
use std::io::Write;
use std::time::SystemTime;
use template::{Fill, Template};
use uuid::Uuid;

/// Variants per kind.
const VARIANTS: u64 = 64;

/// What differs per event: the values a builder puts in, or the markers of a template.
#[derive(Debug, Clone, Copy)]
pub struct PerEvent<'a> {
    /// The run id (the `sentry_load.run` tag).
    pub run_id: &'a str,
    /// The event id.
    pub event_id: Uuid,
    /// The event time.
    pub timestamp: SystemTime,
    /// The sequence number, as text.
    pub seq: &'a str,
    /// The issue number, as text.
    pub issue: &'a str,
}

/// Builds the envelopes of one run.
#[derive(Debug, Clone)]
pub struct Generator {
    run_id: RunId,
    run_digest: u64,
    seed: u64,
    issues: u32,
    errors: Vec<Template>,
}

/// One envelope, ready to send.
#[derive(Debug, Clone)]
pub struct Built {
    /// The event id it carries.
    pub event_id: Uuid,
    /// The bytes, uncompressed.
    pub body: Vec<u8>,
}

impl Generator {
    /// A generator for run `run_id`, drawing from `seed`, spreading errors over `issues`
    /// fingerprints.
    pub fn new(run_id: RunId, seed: u64, issues: u32) -> Generator {
        let markers = PerEvent {
            run_id: run_id.as_str(),
            event_id: template::ID_MARKER,
            timestamp: SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs_f64(template::TIMESTAMP_MARKER_SECS),
            seq: template::SEQ_MARKER,
            issue: template::ISSUE_MARKER,
        };
        let errors = (0..VARIANTS)
            .map(|v| {
                let event =
                    error_event::build(&mut variant_rng(seed, EventKind::Error, v), &markers);
                // The builder's output always has the one-item shape a template needs.
                Template::new(serialize(event, SystemTime::UNIX_EPOCH))
                    .expect("an SDK-serialized event envelope is a valid template")
            })
            .collect();
        Generator {
            run_digest: run_id.digest(),
            run_id,
            seed,
            issues: issues.max(1),
            errors,
        }
    }

    /// The event id of sequence number `seq` in this run.
    pub fn event_id(&self, seq: u64) -> Uuid {
        event_id_for(self.run_digest, seq)
    }

    /// The issue sequence number `seq` belongs to.
    pub fn issue_of(&self, seq: u64) -> u32 {
        (mix(self.seed ^ 0x1550_e5ee_d000_0001, seq) % u64::from(self.issues)) as u32
    }

    /// The envelope for sequence number `seq`, of `kind`, timestamped `intended`.
    pub fn envelope(&self, seq: u64, kind: EventKind, intended: SystemTime) -> Built {
        let event_id = self.event_id(seq);
        let issue = self.issue_of(seq);
        let variants = match kind {
            // Profiles are checked to ask only for errors in this build.
            EventKind::Error
            | EventKind::Transaction
            | EventKind::Native
            | EventKind::Javascript => &self.errors,
        };
        let fill = Fill {
            event_id,
            timestamp_micros: clock::to_unix_micros(intended),
            sent_at_micros: clock::now_unix_micros(),
            seq,
            issue,
        };
        let body = variants[(u64::from(issue) % VARIANTS) as usize].render(&fill);
        Built { event_id, body }
    }

    /// The same envelope built and serialized by the SDK directly, without templates: what
    /// [`Generator::envelope`] must equal (but for `sent_at`).
    pub fn envelope_via_sdk(
        &self,
        seq: u64,
        kind: EventKind,
        intended: SystemTime,
        sent_at: SystemTime,
    ) -> Vec<u8> {
        let issue = self.issue_of(seq);
        let (seq_text, issue_text) = (seq.to_string(), issue.to_string());
        let values = PerEvent {
            run_id: self.run_id.as_str(),
            event_id: self.event_id(seq),
            timestamp: intended,
            seq: &seq_text,
            issue: &issue_text,
        };
        let variant = u64::from(issue) % VARIANTS;
        let event = match kind {
            EventKind::Error
            | EventKind::Transaction
            | EventKind::Native
            | EventKind::Javascript => {
                error_event::build(&mut variant_rng(self.seed, kind, variant), &values)
            }
        };
        serialize(event, sent_at)
    }
}

fn variant_rng(seed: u64, kind: EventKind, variant: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(seed ^ u64::from(kind.code()) << 56, variant))
}

/// SplitMix64 of `a` and `b`: a stable, well-mixed 64-bit value.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Serializes one event as an SDK envelope.
fn serialize(event: Event<'static>, sent_at: SystemTime) -> Vec<u8> {
    let mut envelope = Envelope::new().with_headers(
        EnvelopeHeaders::new()
            .with_event_id(event.event_id)
            .with_sent_at(sent_at),
    );
    envelope.add_item(event);
    let mut body = Vec::with_capacity(2048);
    // Writing into a Vec cannot fail; serde_json cannot fail on these types.
    let _ = envelope.to_writer(&mut body);
    body
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
