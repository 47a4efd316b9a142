//! Outcomes, as Relay and Sentry's pipeline emit them to Kafka `outcomes` and Snuba stores them
//! in `outcomes_raw_local`: why an event was accepted or not. The sim emits `accepted` for each
//! stored event, `rate_limited` (with the quota's reason) for each one refused with 429,
//! `filtered` for each one refused with 403, and `filtered` or `invalid` for each one a
//! `discard` fault drops after acceptance. A silent
//! drop or a restart's loss emits nothing — that is what makes them silent.

use uuid::Uuid;

pub use sentry_load_common::sentry_outcome::{category, code};

/// One outcome row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The project.
    pub project_id: u64,
    /// The event, when known.
    pub event_id: Option<Uuid>,
    /// Unix seconds.
    pub timestamp: u32,
    /// The outcome code.
    pub outcome: u8,
    /// Why (`key_quota`, `project_quota`, …).
    pub reason: Option<String>,
    /// The data category.
    pub category: u8,
    /// How many items.
    pub quantity: u32,
}
