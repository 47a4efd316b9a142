//! How one send ended, classified the way Relay answers (see DESIGN §3).
//!
//! Stored in the journal as a one-byte code next to the HTTP status, so the loss taxonomy can
//! tell "Sentry rejected it" from "the harness never sent it".

use serde::{Deserialize, Serialize};

/// The class of a send's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendOutcome {
    /// 200: Relay took the envelope; from here on a missing event is Sentry's loss.
    Accepted,
    /// 429: a quota or rate limit applied.
    RateLimited,
    /// 413: the envelope or an item was over a size limit.
    TooLarge,
    /// 400: Relay could not parse the request.
    Malformed,
    /// 401: missing or unknown credentials.
    Unauthorized,
    /// 403 and any other 4xx: the event was rejected.
    Rejected,
    /// 5xx (503: Relay's queue or memory is full).
    Unavailable,
    /// No HTTP answer: connection refused or reset, timeout, TLS failure.
    TransportError,
    /// The harness could not start the send in time and dropped it. Never Sentry's loss.
    HarnessDropped,
    /// Not sent: an earlier 429 asked to back off for this event's category, and the run
    /// behaves like an SDK (which discards such events as `ratelimit_backoff`).
    BackedOff,
    /// Not sent: the target's protocol cannot carry this kind (a transaction to Sentry 9's
    /// `/store/`, which predates transactions). Never Sentry's loss.
    Unsupported,
}

impl SendOutcome {
    /// Every outcome, in report order.
    pub const ALL: [SendOutcome; 11] = [
        SendOutcome::Accepted,
        SendOutcome::RateLimited,
        SendOutcome::TooLarge,
        SendOutcome::Malformed,
        SendOutcome::Unauthorized,
        SendOutcome::Rejected,
        SendOutcome::Unavailable,
        SendOutcome::TransportError,
        SendOutcome::HarnessDropped,
        SendOutcome::BackedOff,
        SendOutcome::Unsupported,
    ];

    /// Classifies an HTTP status as Relay uses it.
    pub fn from_status(status: u16) -> SendOutcome {
        match status {
            200..=299 => SendOutcome::Accepted,
            429 => SendOutcome::RateLimited,
            413 => SendOutcome::TooLarge,
            400 => SendOutcome::Malformed,
            401 => SendOutcome::Unauthorized,
            402..=412 | 414..=428 | 430..=499 => SendOutcome::Rejected,
            _ => SendOutcome::Unavailable,
        }
    }

    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SendOutcome::Accepted => "accepted",
            SendOutcome::RateLimited => "rate_limited",
            SendOutcome::TooLarge => "too_large",
            SendOutcome::Malformed => "malformed",
            SendOutcome::Unauthorized => "unauthorized",
            SendOutcome::Rejected => "rejected",
            SendOutcome::Unavailable => "unavailable",
            SendOutcome::TransportError => "transport_error",
            SendOutcome::HarnessDropped => "harness_dropped",
            SendOutcome::BackedOff => "backed_off",
            SendOutcome::Unsupported => "unsupported",
        }
    }

    /// Whether a request went out (everything but harness drops, SDK back-off and kinds the
    /// target's protocol cannot carry).
    pub fn was_sent(self) -> bool {
        !matches!(
            self,
            SendOutcome::HarnessDropped | SendOutcome::BackedOff | SendOutcome::Unsupported
        )
    }

    /// Whether the schedule offered the event to Sentry: everything but harness drops and
    /// kinds the target cannot take (back-off is the client's choice, and counts).
    pub fn was_offered(self) -> bool {
        !matches!(self, SendOutcome::HarnessDropped | SendOutcome::Unsupported)
    }

    /// Whether the target answered and refused the send (any status but 200).
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            SendOutcome::RateLimited
                | SendOutcome::TooLarge
                | SendOutcome::Malformed
                | SendOutcome::Unauthorized
                | SendOutcome::Rejected
                | SendOutcome::Unavailable
        )
    }

    /// The one-byte journal code.
    pub fn code(self) -> u8 {
        match self {
            SendOutcome::Accepted => 1,
            SendOutcome::RateLimited => 2,
            SendOutcome::TooLarge => 3,
            SendOutcome::Malformed => 4,
            SendOutcome::Unauthorized => 5,
            SendOutcome::Rejected => 6,
            SendOutcome::Unavailable => 7,
            SendOutcome::TransportError => 8,
            SendOutcome::HarnessDropped => 9,
            SendOutcome::BackedOff => 10,
            SendOutcome::Unsupported => 11,
        }
    }

    /// The outcome for a journal code, if it is one.
    pub fn from_code(code: u8) -> Option<SendOutcome> {
        SendOutcome::ALL.into_iter().find(|o| o.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify_as_relay_uses_them() {
        assert_eq!(SendOutcome::from_status(200), SendOutcome::Accepted);
        assert_eq!(SendOutcome::from_status(429), SendOutcome::RateLimited);
        assert_eq!(SendOutcome::from_status(413), SendOutcome::TooLarge);
        assert_eq!(SendOutcome::from_status(400), SendOutcome::Malformed);
        assert_eq!(SendOutcome::from_status(401), SendOutcome::Unauthorized);
        assert_eq!(SendOutcome::from_status(403), SendOutcome::Rejected);
        assert_eq!(SendOutcome::from_status(503), SendOutcome::Unavailable);
        assert_eq!(SendOutcome::from_status(502), SendOutcome::Unavailable);
    }

    #[test]
    fn codes_round_trip() {
        for o in SendOutcome::ALL {
            assert_eq!(SendOutcome::from_code(o.code()), Some(o));
        }
        assert_eq!(SendOutcome::from_code(0), None);
    }
}
