//! Relay's rate-limit answers, and the back-off state an SDK keeps from them.
//!
//! `X-Sentry-Rate-Limits: 60:transaction:key, 2700:default;error;security:organization:quota`
//! — comma-separated limits of `retry_after:categories:scope[:reason_code[:namespaces]]`, where
//! `categories` is `;`-separated and empty means every category. It may come on any answer,
//! not only a 429. A 429 without it falls back to `Retry-After` (seconds) for every category.

use sentry_load_common::EventKind;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Retry-After assumed when a 429 says nothing usable.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// One limit from a response.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    /// How long it lasts.
    pub retry_after: Duration,
    /// Data categories it covers; empty for all.
    pub categories: Vec<String>,
    /// `key`, `project`, `organization`, …
    pub scope: String,
    /// Why, when Relay says.
    pub reason: Option<String>,
}

/// Parses `X-Sentry-Rate-Limits`; malformed entries are skipped.
pub fn parse_header(value: &str) -> Vec<RateLimit> {
    value
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.trim().split(':');
            let secs: f64 = parts.next()?.trim().parse().ok()?;
            if !secs.is_finite() || secs < 0.0 {
                return None;
            }
            let categories = parts
                .next()
                .unwrap_or_default()
                .split(';')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            let scope = parts.next().unwrap_or_default().to_owned();
            let reason = parts.next().filter(|r| !r.is_empty()).map(str::to_owned);
            Some(RateLimit {
                retry_after: Duration::from_secs_f64(secs),
                categories,
                scope,
                reason,
            })
        })
        .collect()
}

/// The limit a 429 without `X-Sentry-Rate-Limits` implies, from `Retry-After` (seconds).
pub fn from_retry_after(value: Option<&str>) -> RateLimit {
    let retry_after = value
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs_f64);
    RateLimit {
        retry_after,
        categories: vec![],
        scope: String::new(),
        reason: None,
    }
}

/// The limits an answer announces: `X-Sentry-Rate-Limits` on any answer, and for a 429
/// without it, `Retry-After` for every category.
pub fn from_answer(
    status: u16,
    rate_limits: Option<&str>,
    retry_after: Option<&str>,
) -> Vec<RateLimit> {
    let mut limits = rate_limits.map(parse_header).unwrap_or_default();
    if status == 429 && limits.is_empty() {
        limits.push(from_retry_after(retry_after));
    }
    limits
}

/// The data categories an envelope of this kind is counted under by Relay.
pub fn categories(kind: EventKind) -> &'static [&'static str] {
    match kind {
        EventKind::Error | EventKind::Javascript => &["error", "default"],
        EventKind::Transaction => &["transaction"],
        EventKind::Native => &["error", "default", "attachment"],
    }
}

/// Active back-off windows, shared by the scheduler and the requests.
#[derive(Debug, Default)]
pub struct BackOff {
    windows: Mutex<Vec<(Vec<String>, Instant)>>,
}

impl BackOff {
    /// Records limits received at `now`.
    pub fn update(&self, limits: &[RateLimit], now: Instant) {
        if limits.is_empty() {
            return;
        }
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        w.retain(|(_, until)| *until > now);
        for l in limits {
            w.push((l.categories.clone(), now + l.retry_after));
        }
    }

    /// Whether an envelope of `kind` must not be sent at `now`.
    pub fn limited(&self, kind: EventKind, now: Instant) -> bool {
        let w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let cats = categories(kind);
        w.iter().any(|(limited, until)| {
            *until > now
                && (limited.is_empty() || limited.iter().any(|c| cats.contains(&c.as_str())))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relay_headers() {
        let l = parse_header(
            "60:transaction:key, 2700:default;error;security:organization:quota_x, junk",
        );
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].retry_after, Duration::from_secs(60));
        assert_eq!(l[0].categories, ["transaction"]);
        assert_eq!(l[0].scope, "key");
        assert_eq!(l[1].categories, ["default", "error", "security"]);
        assert_eq!(l[1].reason.as_deref(), Some("quota_x"));
        let all = parse_header("1.5::organization");
        assert!(all[0].categories.is_empty());
        assert_eq!(all[0].retry_after, Duration::from_millis(1500));
        assert_eq!(
            from_retry_after(Some("7")).retry_after,
            Duration::from_secs(7)
        );
        assert_eq!(
            from_retry_after(Some("Wed, 21 Oct")).retry_after,
            DEFAULT_RETRY_AFTER
        );
    }

    #[tokio::test(start_paused = true)]
    async fn back_off_covers_matching_categories_until_it_expires() {
        let b = BackOff::default();
        let now = Instant::now();
        b.update(&parse_header("10:transaction:key"), now);
        assert!(!b.limited(EventKind::Error, now));
        assert!(b.limited(EventKind::Transaction, now));
        b.update(&parse_header("5::organization"), now);
        assert!(b.limited(EventKind::Error, now + Duration::from_secs(4)));
        assert!(!b.limited(EventKind::Error, now + Duration::from_secs(5)));
        assert!(b.limited(EventKind::Transaction, now + Duration::from_secs(9)));
        assert!(!b.limited(EventKind::Transaction, now + Duration::from_secs(10)));
    }
}
