//! The closed set of event kinds the harness generates and accounts for.
//!
//! Every stage classifies with an exhaustive `match`, so adding a kind is a compile error wherever
//! it must be counted. The journal stores a kind as its one-byte [`EventKind::code`]. Data per
//! kind is an `enum_map::EnumMap<EventKind, _>`, never a field per kind.

use enum_map::Enum;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an envelope carries, as far as cost and verification are concerned.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Enum,
)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A server-side error event (exception with a stack trace).
    Error,
    /// A performance transaction with a span tree.
    Transaction,
    /// A native crash: an event plus a minidump attachment.
    Native,
    /// A minified browser JavaScript error that needs sourcemaps.
    Javascript,
}

impl EventKind {
    /// Every kind, in report order.
    pub const ALL: [EventKind; 4] = [
        EventKind::Error,
        EventKind::Transaction,
        EventKind::Native,
        EventKind::Javascript,
    ];

    /// The name used in profiles, reports and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Error => "error",
            EventKind::Transaction => "transaction",
            EventKind::Native => "native",
            EventKind::Javascript => "javascript",
        }
    }

    /// The one-byte code stored in the journal.
    pub fn code(self) -> u8 {
        match self {
            EventKind::Error => 1,
            EventKind::Transaction => 2,
            EventKind::Native => 3,
            EventKind::Javascript => 4,
        }
    }

    /// The kind for a journal code, if it is one.
    pub fn from_code(code: u8) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Where Snuba stores this kind.
    pub fn dataset(self) -> Dataset {
        match self {
            EventKind::Error | EventKind::Native | EventKind::Javascript => Dataset::Errors,
            EventKind::Transaction => Dataset::Transactions,
        }
    }
}

/// Snuba's datasets: which table (and which Discover `dataset`) holds an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// `errors_local`: error, native and JavaScript events.
    Errors,
    /// `transactions_local`.
    Transactions,
}

impl Dataset {
    /// The Discover `dataset` parameter's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Errors => "errors",
            Dataset::Transactions => "transactions",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(EventKind::from_code(0), None);
        assert_eq!(EventKind::from_code(200), None);
    }
}
