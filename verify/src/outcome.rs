//! What verification found.

use crate::tracker::EventTable;
use sentry_load_common::EventKind;
use std::time::Duration;
use uuid::Uuid;

/// An event that became visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenEvent {
    /// Its id.
    pub event_id: Uuid,
    /// Its sequence number.
    pub seq: u64,
    /// Its kind.
    pub kind: EventKind,
    /// Its project.
    pub project_id: u64,
    /// When it was meant to be sent, Unix µs.
    pub intended_micros: u64,
    /// When the poll that first returned it completed, Unix µs (ms resolution).
    pub seen_micros: u64,
    /// Relay's receive time, Unix seconds, where the source has it.
    pub received: Option<u32>,
    /// When the saved event was produced to Kafka `events`, Unix seconds, where known.
    pub message_timestamp: Option<u32>,
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
    /// Its kind.
    pub kind: EventKind,
    /// Its project.
    pub project_id: u64,
    /// When it was meant to be sent, Unix µs.
    pub intended_micros: u64,
}

/// The whole result of verification.
#[derive(Debug)]
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
    /// Every tracked event: seen ones, and the missing and unverified ones by sequence
    /// number.
    pub events: EventTable,
    /// Outcomes found for missing events in their own data category, one per event: why they
    /// were dropped. A missing event without one is silent loss — when the source sees
    /// outcomes at all.
    pub explained: Vec<crate::source::Explained>,
    /// Outcomes of attachments (a crash's minidump filtered by `crash-report-limit`, say) of
    /// missing events and of seen native crashes: they carry the event's id but never
    /// explain the event.
    pub attachment_outcomes: Vec<crate::source::Explained>,
    /// Whether the source can see outcomes. When it cannot (the Sentry web API), a missing
    /// event's fate is unknown: never counted as silent loss.
    pub outcomes_visible: bool,
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
            events: EventTable::default(),
            explained: vec![],
            attachment_outcomes: vec![],
            outcomes_visible: false,
            skipped: accepted,
            polls: 0,
            queries: 0,
            failed_queries: 0,
            last_error: None,
        }
    }
}

impl VerifyOutcome {
    /// The seen events.
    pub fn seen(&self) -> impl Iterator<Item = SeenEvent> + '_ {
        self.events.seen()
    }

    /// How many events were seen.
    pub fn seen_count(&self) -> u64 {
        self.events.seen_count() as u64
    }

    /// Events never seen although the source answered for them, by sequence number.
    pub fn missing(&self) -> &[MissingEvent] {
        &self.events.missing
    }

    /// Events never seen whose last lookup failed: unknown, never counted as Sentry's loss.
    pub fn unverified(&self) -> &[MissingEvent] {
        &self.events.unverified
    }
}
