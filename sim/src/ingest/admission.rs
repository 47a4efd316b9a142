//! Whether ingest takes an envelope, and Relay's quotas.
//!
//! Quotas are enforced late, as a processing Relay enforces them. The endpoint checks only
//! rate limits already cached for the key; the quota itself (a count per key and window, as
//! Relay's Redis counters are) is consumed when the envelope is processed, after the 200.
//! An envelope over quota is then dropped with outcome `rate_limited` and the quota's reason,
//! and the limit is cached, so later envelopes are answered 429 with `Retry-After` and
//! `X-Sentry-Rate-Limits` until it expires (getsentry/relay
//! `relay-server/src/services/projects/cache/project.rs` at
//! 012283f9e6983d8a5d9108889b9c5bbbcbeda996, `check_envelope`: only "quotas with a limit of
//! `0`" and "cached rate limits" at the endpoint; `relay-server/src/processing/limits.rs` at
//! 0d3e54a8c10fb22d6d5c2ee06f0f3d80419e75fc: the Redis limiter merges the limits it found into
//! the project's cached limits). A limit on some categories only (attachments, say) removes
//! those items and answers 200 with `X-Sentry-Rate-Limits` for the rest
//! (`relay-server/src/endpoints/common.rs`: the endpoint answers 429 only when the cached
//! limits leave the envelope empty).
//!
//! Header: `retry_after:categories:scope:reason_code`, categories `;`-separated, empty for all
//! (`relay-server/src/utils/rate_limits.rs` at 00a5c2e4295dbbda5f8805573ef40b869a62f77f,
//! `format_rate_limits`).
//!
//! The scripted 429 storms, 503s and 403s of a fault script are answered here too. Every
//! refusal is recorded in ground truth per event.

use crate::script::{Fault, FaultScript, Quota, QuotaCategory, ScriptClock, hits};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Salt for the storms' event selection, so they hit other events than the drops.
const RATE_LIMIT_SALT: u64 = 0x4291;
const UNAVAILABLE_SALT: u64 = 0x5031;
const REJECT_SALT: u64 = 0x4031;

/// The reason code of the sim's per-key quota.
pub const KEY_QUOTA: &str = "key_quota";

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 429: a cached limit covers the envelope, or a scripted storm.
    RateLimited {
        /// Seconds until it may retry.
        retry_after_secs: u64,
        /// Relay's reason code.
        reason: &'static str,
        /// The limited categories, `;`-separated (empty: all).
        categories: String,
    },
    /// 503: a scripted outage.
    Unavailable,
    /// 403: a scripted rejection.
    Rejected,
}

impl Refusal {
    /// The answer Relay gives.
    pub fn response(&self) -> Response {
        match self {
            Refusal::RateLimited {
                retry_after_secs,
                reason,
                categories,
            } => {
                let mut resp = super::relay_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "event submission rejected with_reason: RateLimited",
                    &[],
                );
                let h = resp.headers_mut();
                h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
                if let Ok(v) = HeaderValue::from_str(&rate_limits_header(
                    *retry_after_secs,
                    categories,
                    reason,
                )) {
                    h.insert("x-sentry-rate-limits", v);
                }
                resp
            }
            Refusal::Rejected => super::relay_error(
                StatusCode::FORBIDDEN,
                "event submission rejected with_reason: ProjectId",
                &[],
            ),
            Refusal::Unavailable => super::relay_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "service unavailable, retry later",
                &[],
            )
            .into_response(),
        }
    }
}

/// `X-Sentry-Rate-Limits` for one limit of the key scope.
pub fn rate_limits_header(retry_after_secs: u64, categories: &str, reason: &str) -> String {
    format!("{retry_after_secs}:{categories}:key:{reason}")
}

/// What the endpoint lets through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admitted {
    /// A cached limit covers the envelope's attachments (not its event): they are removed,
    /// and the 200 carries this `X-Sentry-Rate-Limits` value.
    pub attachments_limited: Option<String>,
}

/// What processing found for one envelope's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaVerdict {
    /// Within quota.
    Within,
    /// Over quota: the event (and whatever came with it) is dropped.
    DropEvent,
    /// Over an attachment-only quota: the attachments are dropped, the event goes on.
    DropAttachments,
}

/// A limit cached for a key.
#[derive(Debug, Clone)]
struct CachedLimit {
    until: Instant,
    categories: Vec<QuotaCategory>,
}

/// The admission state.
pub struct Admission {
    script: FaultScript,
    clock: Arc<ScriptClock>,
    /// Per key: the quota's current slot and how much of it is used.
    counters: Mutex<HashMap<String, (u64, u64)>>,
    cached: Mutex<HashMap<String, CachedLimit>>,
}

/// The organization every sim project belongs to (the quota windows' shift).
const ORGANIZATION_ID: u64 = 1;

impl Admission {
    /// Admission by `script`, its windows read on `clock`.
    pub fn new(script: FaultScript, clock: Arc<ScriptClock>) -> Admission {
        Admission {
            script,
            clock,
            counters: Mutex::default(),
            cached: Mutex::default(),
        }
    }

    /// Whether the endpoint takes an envelope about `event_id` (of category `category`, with
    /// attachments or not) sent with `key`, at `now`.
    pub fn admit(
        &self,
        key: &str,
        event_id: Uuid,
        category: QuotaCategory,
        has_attachments: bool,
        now: Instant,
    ) -> Result<Admitted, Refusal> {
        self.clock.request(now);
        let mut admitted = Admitted::default();
        if let Some(limit) = self.cached_limit(key, now) {
            let retry = limit.until.saturating_duration_since(now);
            let retry_after_secs = retry.as_secs_f64().ceil().max(1.0) as u64;
            let names = QuotaCategory::header_names(&limit.categories);
            if limit.covers(category) {
                return Err(Refusal::RateLimited {
                    retry_after_secs,
                    reason: KEY_QUOTA,
                    categories: names,
                });
            }
            if has_attachments && limit.covers(QuotaCategory::Attachment) {
                admitted.attachments_limited =
                    Some(rate_limits_header(retry_after_secs, &names, KEY_QUOTA));
            }
        }
        for fault in self.script.active(self.clock.at(now)) {
            match fault {
                Fault::RateLimit {
                    fraction,
                    retry_after,
                } if hits(
                    event_id,
                    RATE_LIMIT_SALT ^ self.script.salt_of(fault),
                    *fraction,
                ) =>
                {
                    return Err(Refusal::RateLimited {
                        retry_after_secs: retry_after.as_secs().max(1),
                        reason: "project_quota",
                        categories: String::new(),
                    });
                }
                Fault::Unavailable { fraction }
                    if hits(
                        event_id,
                        UNAVAILABLE_SALT ^ self.script.salt_of(fault),
                        *fraction,
                    ) =>
                {
                    return Err(Refusal::Unavailable);
                }
                Fault::Reject { fraction }
                    if hits(
                        event_id,
                        REJECT_SALT ^ self.script.salt_of(fault),
                        *fraction,
                    ) =>
                {
                    return Err(Refusal::Rejected);
                }
                _ => {}
            }
        }
        Ok(admitted)
    }

    fn cached_limit(&self, key: &str, now: Instant) -> Option<CachedLimit> {
        let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        cached.get(key).filter(|l| l.until > now).cloned()
    }

    /// Consumes the key's quota for one processed envelope (of `category`, with attachments
    /// or not) at `now` (`unix_secs` on the sim's clock); over quota, caches the limit until
    /// the window ends. Windows are Relay's: slot `(t − shift) / window` with shift
    /// `organization id % window`, the limit ending at the next slot's start
    /// (getsentry/relay `relay-quotas/src/redis.rs` at
    /// 002f94a01f8fd58e2431b6a171dc22bedf15221a, `RedisQuota::slot` and `expiry`). The cached
    /// limit lasts `expiry − now` in whole seconds from now, as Relay's does (`retry_after(
    /// (quota.expiry() - timestamp).as_secs())` with `timestamp` in whole seconds, and
    /// `RetryAfter::from_secs` counting from `Instant::now()`: `relay-quotas/src/rate_limit.rs`
    /// at cba3a0d3800aee4c36cf0713b1c5c6b000b8c064), so it can reach up to a second into the
    /// next window.
    pub fn consume(
        &self,
        key: &str,
        category: QuotaCategory,
        has_attachments: bool,
        now: Instant,
        unix_secs: u64,
    ) -> QuotaVerdict {
        let Some(q) = self.script.quota.as_ref() else {
            return QuotaVerdict::Within;
        };
        let counted =
            q.covers(category) || (has_attachments && q.covers(QuotaCategory::Attachment));
        if !counted {
            return QuotaVerdict::Within;
        }
        let window = q.window.as_secs().max(1);
        let limit = (q.per_second * window as f64).floor() as u64;
        let shift = ORGANIZATION_ID % window;
        let slot = unix_secs.saturating_sub(shift) / window;
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let (at, used) = counters.entry(key.to_owned()).or_insert((slot, 0));
        if *at != slot {
            (*at, *used) = (slot, 0);
        }
        if *used < limit {
            *used += 1;
            return QuotaVerdict::Within;
        }
        drop(counters);
        let ends = (slot + 1) * window + shift;
        self.cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                key.to_owned(),
                CachedLimit {
                    until: now + Duration::from_secs(ends.saturating_sub(unix_secs)),
                    categories: q.categories.clone(),
                },
            );
        if q.covers(category) {
            QuotaVerdict::DropEvent
        } else {
            QuotaVerdict::DropAttachments
        }
    }
}

impl CachedLimit {
    fn covers(&self, c: QuotaCategory) -> bool {
        self.categories.is_empty() || self.categories.contains(&c)
    }
}

impl Quota {
    /// Whether the quota counts items of category `c`.
    pub fn covers(&self, c: QuotaCategory) -> bool {
        self.categories.is_empty() || self.categories.contains(&c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_clock() -> Arc<ScriptClock> {
        Arc::new(ScriptClock::new(
            crate::script::ScriptOrigin::Start,
            Instant::now(),
        ))
    }

    fn quota(categories: Vec<QuotaCategory>) -> FaultScript {
        FaultScript {
            quota: Some(Quota {
                per_second: 5.0,
                window: Duration::from_secs(1),
                categories,
            }),
            faults: vec![],
        }
    }

    #[test]
    fn the_quota_is_consumed_late_and_then_cached_until_the_window_ends() {
        let a = Admission::new(quota(vec![]), start_clock());
        let now = Instant::now();
        let (e, t) = (QuotaCategory::Error, 1_000_000);
        // Until processing finds the quota exhausted, the endpoint takes everything.
        for i in 0..20 {
            assert!(a.admit("k", Uuid::from_u128(i), e, false, now).is_ok());
        }
        let verdicts: Vec<QuotaVerdict> =
            (0..7).map(|_| a.consume("k", e, false, now, t)).collect();
        assert_eq!(
            verdicts
                .iter()
                .filter(|v| **v == QuotaVerdict::Within)
                .count(),
            5
        );
        assert_eq!(verdicts[6], QuotaVerdict::DropEvent);
        // Now it is cached: the endpoint answers 429, for every category.
        let refused = a.admit("k", Uuid::nil(), QuotaCategory::Transaction, false, now);
        assert!(
            matches!(&refused, Err(Refusal::RateLimited { reason: KEY_QUOTA, retry_after_secs: 1, categories }) if categories.is_empty()),
            "{refused:?}"
        );
        // Another key has its own count and no cached limit; the limit ends with the window.
        assert!(a.admit("other", Uuid::nil(), e, false, now).is_ok());
        let later = now + Duration::from_millis(1001);
        assert!(a.admit("k", Uuid::nil(), e, false, later).is_ok());
        assert_eq!(a.consume("k", e, false, later, t + 1), QuotaVerdict::Within);
    }

    #[test]
    fn an_attachment_quota_drops_only_attachments_and_answers_200_with_the_header() {
        let a = Admission::new(quota(vec![QuotaCategory::Attachment]), start_clock());
        let now = Instant::now();
        let (e, t) = (QuotaCategory::Error, 1_000_000);
        // Events without attachments do not count.
        for _ in 0..10 {
            assert_eq!(a.consume("k", e, false, now, t), QuotaVerdict::Within);
        }
        for _ in 0..5 {
            assert_eq!(a.consume("k", e, true, now, t), QuotaVerdict::Within);
        }
        assert_eq!(
            a.consume("k", e, true, now, t),
            QuotaVerdict::DropAttachments
        );
        let admitted = a.admit("k", Uuid::nil(), e, true, now).unwrap();
        assert_eq!(
            admitted.attachments_limited.as_deref(),
            Some("1:attachment:key:key_quota")
        );
        assert_eq!(
            a.admit("k", Uuid::nil(), e, false, now).unwrap(),
            Admitted::default()
        );
    }
}
