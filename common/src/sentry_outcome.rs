//! Sentry's outcomes, as Relay and Sentry emit them to Kafka `outcomes` and Snuba stores them in
//! `outcomes_raw_local`: the outcome codes and the data categories an outcome is counted in.
//! The sim writes them, the verifier reads them; both take the numbers from here.
//!
//! Checked against:
//! - outcome ids: getsentry/relay `relay-server/src/services/outcome/mod.rs` (`OutcomeId`) at
//!   1fa832239ed8fbc6341bd017ea06d4cbb037e498, and getsentry/sentry `src/sentry/utils/outcomes.py`
//!   (`Outcome`);
//! - data categories: getsentry/relay `relay-base-schema/src/data_category.rs`
//!   (`#[repr(i8)] enum DataCategory`), as generated into `relay-cabi/include/relay.h` at
//!   01451fa5fca9ea29c81673602030af80352cd680;
//! - which categories an item is counted in: getsentry/relay `relay-server/src/utils/rate_limits.rs`
//!   (`EnvelopeSummary::add_quantities`) at 00a5c2e4295dbbda5f8805573ef40b869a62f77f — an
//!   attachment counts as `attachment` (bytes) and `attachment_item` (one), and an attachment
//!   that creates an event (a minidump) makes the event an `error`;
//! - attachment outcomes carry the event id of the event they belong to: getsentry/sentry
//!   `src/sentry/event_manager.py` (`filter_attachments_for_group`: `track_outcome(…,
//!   reason=FilterStatKeys.CRASH_REPORT_LIMIT, event_id=event.event_id,
//!   category=DataCategory.ATTACHMENT, quantity=attachment.size)`).

use crate::EventKind;

/// Outcome codes (`outcomes_raw_local.outcome`).
pub mod code {
    /// Stored.
    pub const ACCEPTED: u8 = 0;
    /// Dropped by an inbound filter (or a disabled project, a crash-report limit).
    pub const FILTERED: u8 = 1;
    /// Dropped by a quota or rate limit.
    pub const RATE_LIMITED: u8 = 2;
    /// Found invalid (an unknown key: reason `project_id`; too large: `too_large:<item>`).
    pub const INVALID: u8 = 3;
    /// Dropped for abuse.
    pub const ABUSE: u8 = 4;
    /// Dropped by the client (reported in a `client_report`).
    pub const CLIENT_DISCARD: u8 = 5;
    /// Dropped by a cardinality limit.
    pub const CARDINALITY_LIMITED: u8 = 6;
}

/// Data categories (`outcomes_raw_local.category`).
pub mod category {
    /// Events without a more specific category (message events).
    pub const DEFAULT: u8 = 0;
    /// Error events, native crashes and JavaScript errors.
    pub const ERROR: u8 = 1;
    /// Transactions.
    pub const TRANSACTION: u8 = 2;
    /// Attachment bytes (the quantity is the size).
    pub const ATTACHMENT: u8 = 4;
    /// Indexed transactions (counted beside `transaction`).
    pub const TRANSACTION_INDEXED: u8 = 9;
    /// Attachment items (the quantity is the count).
    pub const ATTACHMENT_ITEM: u8 = 22;
}

/// The name of an outcome code, as Relay tags it.
pub fn outcome_name(outcome: u8) -> &'static str {
    match outcome {
        code::ACCEPTED => "accepted",
        code::FILTERED => "filtered",
        code::RATE_LIMITED => "rate_limited",
        code::INVALID => "invalid",
        code::ABUSE => "abuse",
        code::CLIENT_DISCARD => "client_discard",
        code::CARDINALITY_LIMITED => "cardinality_limited",
        _ => "outcome",
    }
}

/// How an outcome in `category` bears on an event of `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeBearing {
    /// It is about the event itself: it explains the event's fate.
    Event,
    /// It is about an attachment of the event (a crash's minidump): it says nothing about the
    /// event.
    Attachment,
    /// Another category (spans, profiles, …).
    Other,
}

/// Whether an outcome of `category` is about an event of `kind`, one of its attachments, or
/// something else.
pub fn bearing(kind: EventKind, category: u8) -> OutcomeBearing {
    let own: &[u8] = match kind {
        EventKind::Error | EventKind::Native | EventKind::Javascript => {
            &[category::DEFAULT, category::ERROR]
        }
        EventKind::Transaction => &[category::TRANSACTION, category::TRANSACTION_INDEXED],
    };
    if own.contains(&category) {
        OutcomeBearing::Event
    } else if matches!(category, category::ATTACHMENT | category::ATTACHMENT_ITEM) {
        OutcomeBearing::Attachment
    } else {
        OutcomeBearing::Other
    }
}

/// The category an event of `kind` is counted in.
pub fn event_category(kind: EventKind) -> u8 {
    match kind {
        EventKind::Error | EventKind::Native | EventKind::Javascript => category::ERROR,
        EventKind::Transaction => category::TRANSACTION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_outcomes_never_bear_on_the_event() {
        assert_eq!(
            bearing(EventKind::Native, category::ERROR),
            OutcomeBearing::Event
        );
        assert_eq!(
            bearing(EventKind::Native, category::ATTACHMENT),
            OutcomeBearing::Attachment
        );
        assert_eq!(
            bearing(EventKind::Native, category::ATTACHMENT_ITEM),
            OutcomeBearing::Attachment
        );
        assert_eq!(
            bearing(EventKind::Transaction, category::ERROR),
            OutcomeBearing::Other
        );
        assert_eq!(
            bearing(EventKind::Transaction, category::TRANSACTION_INDEXED),
            OutcomeBearing::Event
        );
        for kind in EventKind::ALL {
            assert_eq!(bearing(kind, event_category(kind)), OutcomeBearing::Event);
        }
    }
}
