//! What verification found.

use std::time::Duration;
use uuid::Uuid;

/// An event that became visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenEvent {
    /// Its id.
    pub event_id: Uuid,
    /// Its sequence number.
    pub seq: u64,
    /// Its project.
    pub project_id: u64,
    /// When it was meant to be sent, Unix µs.
    pub intended_micros: u64,
    /// When the poll that first returned it completed, Unix µs.
    pub seen_micros: u64,
    /// Relay's receive time, Unix seconds, where the source has it.
    pub received: Option<u32>,
    /// When the saved event was produced to Kafka `events`, Unix seconds, where known.
    pub message_timestamp: Option<u32>,
    /// The issue it was grouped into, where known.
    pub group_id: Option<u64>,
    /// Rows the source returned for it (more than 1: duplicates).
    pub rows: u32,
}

/// An accepted event that never became visible before the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingEvent {
    /// Its id.
    pub event_id: Uuid,
    /// Its sequence number.
    pub seq: u64,
    /// Its project.
    pub project_id: u64,
    /// When it was meant to be sent, Unix µs.
    pub intended_micros: u64,
}

/// The whole result of verification.
#[derive(Debug, Clone)]
pub struct VerifyOutcome {
    /// The source polled.
    pub source: String,
    /// Whether verification ran while load ran, so first-seen times measure visibility
    /// latency; false when re-verifying a journal after the fact.
    pub live: bool,
    /// The poll interval: the resolution of every first-seen time.
    pub poll_interval: Duration,
    /// Accepted events tracked.
    pub tracked: u64,
    /// Events seen, in the order seen.
    pub seen: Vec<SeenEvent>,
    /// Events never seen although the source answered for them, by sequence number.
    pub missing: Vec<MissingEvent>,
    /// Outcomes found for missing events: why they were dropped. A missing event without one
    /// is silent loss.
    pub explained: Vec<crate::source::Explained>,
    /// Events never seen whose last lookup failed: unknown, never counted as Sentry's loss.
    pub unverified: Vec<MissingEvent>,
    /// Accepted events nobody looked for (verification was switched off).
    pub skipped: u64,
    /// Polls made.
    pub polls: u64,
    /// Queries issued (one per batch per project per poll).
    pub queries: u64,
    /// Queries that failed (the events stayed pending and were asked for again).
    pub failed_queries: u64,
    /// The last query error, if any (no secrets: URLs are redacted).
    pub last_error: Option<String>,
}

impl VerifyOutcome {
    /// The outcome of a run sent without verification: `accepted` events, none looked for.
    pub fn not_verified(accepted: u64) -> VerifyOutcome {
        VerifyOutcome {
            source: "sent with --no-verify, nothing read back".into(),
            live: false,
            poll_interval: Duration::ZERO,
            tracked: accepted,
            seen: vec![],
            missing: vec![],
            explained: vec![],
            unverified: vec![],
            skipped: accepted,
            polls: 0,
            queries: 0,
            failed_queries: 0,
            last_error: None,
        }
    }
}
