//! Whether ingest takes an authenticated, well-formed envelope: the per-key quota (a token
//! bucket per public key, answered with 429 as Relay answers an exhausted key quota), and the
//! scripted 429 storms and 503s. Every refusal is recorded in ground truth per event.

use crate::script::{Fault, FaultScript, Quota, hits};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Salt for the storms' event selection, so they hit other events than the drops.
const RATE_LIMIT_SALT: u64 = 0x4291;
const UNAVAILABLE_SALT: u64 = 0x5031;
const REJECT_SALT: u64 = 0x4031;

/// Why an envelope was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 429: the key's quota is used up, or a scripted storm.
    RateLimited {
        /// Seconds until it may retry.
        retry_after_secs: u64,
        /// Relay's reason code.
        reason: &'static str,
    },
    /// 503: a scripted outage.
    Unavailable,
    /// 403: a scripted rejection.
    Rejected,
}

impl Refusal {
    /// The answer Relay gives.
    pub fn response(self) -> Response {
        match self {
            Refusal::RateLimited {
                retry_after_secs,
                reason,
            } => {
                let mut resp = super::relay_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "event submission rejected with_reason: RateLimited",
                    &[],
                );
                let h = resp.headers_mut();
                h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                // `retry_after:categories:scope:reason_code`; no categories: all of them.
                if let Ok(v) = HeaderValue::from_str(&format!("{retry_after_secs}::key:{reason}")) {
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

/// The admission state.
pub struct Admission {
    script: FaultScript,
    started: Instant,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Admission {
    /// Admission by `script`, timed from `started`.
    pub fn new(script: FaultScript, started: Instant) -> Admission {
        Admission {
            script,
            started,
            buckets: Mutex::default(),
        }
    }

    /// Whether the envelope about `event_id`, sent with `key`, is taken.
    pub fn admit(&self, key: &str, event_id: Uuid) -> Result<(), Refusal> {
        let now = Instant::now();
        if let Some(q) = self.script.quota {
            self.take_token(key, q, now)?;
        }
        for fault in self.script.active(now - self.started) {
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
        Ok(())
    }

    fn take_token(&self, key: &str, q: Quota, now: Instant) -> Result<(), Refusal> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets.entry(key.to_owned()).or_insert((q.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * q.per_second).min(q.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - *tokens) / q.per_second);
        Err(Refusal::RateLimited {
            retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            reason: "key_quota",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_quota_refills_at_its_rate() {
        let script = FaultScript {
            quota: Some(Quota {
                per_second: 1000.0,
                burst: 5.0,
            }),
            faults: vec![],
        };
        let a = Admission::new(script, Instant::now());
        let ok = (0..20)
            .filter(|i| a.admit("k", Uuid::from_u128(*i)).is_ok())
            .count();
        assert!((5..=7).contains(&ok), "{ok}");
        std::thread::sleep(Duration::from_millis(20));
        assert!(a.admit("k", Uuid::nil()).is_ok());
        // Another key has its own bucket.
        assert!(a.admit("other", Uuid::nil()).is_ok());
    }
}
