//! Reads through the Sentry web API, for when the databases are out of reach (and for the
//! embedded sim, which serves the same shape): Discover for Sentry 10 and later, one
//! `eventids` lookup per event for Sentry 9 (`lookup = "event_ids"`).
//!
//! `GET <url>/api/0/organizations/<org>/eventids/<hex>/` answers `{"organizationSlug",
//! "projectSlug", "groupId", "eventId", "event": {…}}` or 404; Sentry 9.1 reads it from
//! Postgres (getsentry/sentry `src/sentry/api/endpoints/organization_eventid.py` at tag 9.1.2,
//! blob 28e5c4b9c48555a4905ceddd729b7f09d02a67a1), and the `event` is the event-details
//! shape, so the fidelity check reads it too.
//!
//! `GET <url>/api/0/organizations/<org>/events/?dataset=errors&field=id&field=issue.id
//! (`dataset=transactions&field=id` for transactions)
//! &project=<pid>&start=<rfc3339>&end=<rfc3339>&per_page=100&query=id:[<hex>,…]`
//! with `Authorization: Bearer <token>`, following `Link: …; rel="next"; results="true"`.
//!
//! Requests are paced per endpoint (`discover_per_second`, `event_details_per_second`) and a
//! 429 is waited out and asked again: Sentry's API answers 429 without `Retry-After` but with
//! `X-Sentry-Rate-Limit-Reset` (epoch seconds) (getsentry/sentry
//! `src/sentry/middleware/ratelimit.py`); `Retry-After` is honoured too when a proxy sends it.
//! A lookup still throttled after [`MAX_THROTTLED`] tries fails (its events stay unverified);
//! an event-details fetch still throttled is [`EventFetch::Throttled`], never a difference.

use super::{Lookup, Sighting, SourceError};
use sentry_load_common::http::read_body;
use sentry_load_common::{clock, redact};
use sentry_load_config::{ApiLookup, SentryApiConfig};
use serde::Deserialize;
use std::time::Duration;
use url::Url;
use uuid::Uuid;

/// Discover answers at most 100 rows a page; one page per query keeps it to one request.
pub const MAX_IDS: usize = 100;
const MAX_PAGES: usize = 10;
/// The largest answer read (an event's details, a Discover page): a peer that answers more is
/// refused, not buffered.
const MAX_ANSWER: usize = 16 << 20;
/// Tries of one request answered 429 before giving up.
pub const MAX_THROTTLED: u32 = 6;
/// The longest wait for one 429.
const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(30);

/// Spaces requests at least `interval` apart (none when zero).
#[derive(Debug)]
struct Pacer {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    fn per_second(rate: u32) -> Pacer {
        Pacer {
            interval: if rate == 0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(1.0 / f64::from(rate))
            },
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// Waits for the next slot.
    async fn wait(&self) {
        if self.interval.is_zero() {
            return;
        }
        let mut next = self.next.lock().await;
        let now = tokio::time::Instant::now();
        if *next > now {
            tokio::time::sleep_until(*next).await;
        }
        *next = (*next).max(now) + self.interval;
    }
}

/// How long a 429 asks to wait: `Retry-After` (seconds), else Sentry's
/// `X-Sentry-Rate-Limit-Reset` (epoch seconds), else `fallback`; at most
/// [`MAX_THROTTLE_WAIT`].
fn throttle_wait(headers: &reqwest::header::HeaderMap, fallback: Duration) -> Duration {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let wait = if let Some(secs) = number("retry-after") {
        Duration::from_secs_f64(secs.min(MAX_THROTTLE_WAIT.as_secs_f64()))
    } else if let Some(reset) = number("x-sentry-rate-limit-reset") {
        let now = clock::now_unix_micros() as f64 / 1e6;
        Duration::from_secs_f64((reset - now).clamp(0.0, MAX_THROTTLE_WAIT.as_secs_f64()))
    } else {
        fallback
    };
    wait.clamp(Duration::from_millis(100), MAX_THROTTLE_WAIT)
}

/// What an event-details fetch found.
#[derive(Debug)]
pub enum EventFetch {
    /// The event as the API shows it.
    Found(serde_json::Value),
    /// The API does not know it.
    NotFound,
    /// Still answered 429 after [`MAX_THROTTLED`] tries.
    Throttled,
}

/// A Sentry-API read-back source.
pub struct SentryApiSource {
    client: reqwest::Client,
    events_url: Url,
    /// `<url>/api/0/projects/<org>/`: event details are under it.
    projects_url: Url,
    token: String,
    shown: String,
    discover: Pacer,
    details: Pacer,
    /// `<url>/api/0/organizations/<org>/eventids/`, for `lookup = "event_ids"`.
    event_ids: Option<Url>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventIdAnswer {
    #[serde(default)]
    group_id: Option<serde_json::Value>,
    #[serde(default)]
    event: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Page {
    data: Vec<Row>,
}

#[derive(Deserialize)]
struct Row {
    id: String,
    #[serde(rename = "issue.id")]
    issue_id: Option<u64>,
}

impl SentryApiSource {
    /// A source for `[verify.sentry_api]` (or the embedded sim's equivalent).
    pub fn new(cfg: &SentryApiConfig) -> Result<SentryApiSource, SourceError> {
        let base = cfg.url.expose();
        let shown = format!("sentry api {} org {}", redact::url(base), cfg.org);
        let err = |detail: String| SourceError::SentryApi {
            url: shown.clone(),
            detail,
        };
        let events_url = base
            .join(&format!("api/0/organizations/{}/events/", cfg.org))
            .map_err(|e| err(format!("bad address: {e}")))?;
        let projects_url = base
            .join(&format!("api/0/projects/{}/", cfg.org))
            .map_err(|e| err(format!("bad address: {e}")))?;
        let event_ids = match cfg.lookup {
            Some(ApiLookup::EventIds) => Some(
                base.join(&format!("api/0/organizations/{}/eventids/", cfg.org))
                    .map_err(|e| err(format!("bad address: {e}")))?,
            ),
            Some(ApiLookup::Discover) | None => None,
        };
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| err(format!("cannot build an HTTP client: {e}")))?;
        Ok(SentryApiSource {
            client,
            events_url,
            projects_url,
            token: cfg.token.expose().to_owned(),
            shown,
            discover: Pacer::per_second(cfg.discover_per_second.unwrap_or(25)),
            details: Pacer::per_second(cfg.event_details_per_second),
            event_ids,
        })
    }

    /// A secret-free description, for reports.
    pub fn describe(&self) -> String {
        self.shown.clone()
    }

    /// The stored event as the event-details API shows it
    /// (`GET /api/0/projects/<org>/<project id>/events/<event id>/`), paced and with 429s
    /// waited out.
    pub async fn event(&self, project_id: u64, event_id: Uuid) -> Result<EventFetch, SourceError> {
        let err = |detail: String| SourceError::SentryApi {
            url: self.shown.clone(),
            detail,
        };
        if let Some(base) = &self.event_ids {
            return Ok(
                match self.by_event_id(base, event_id, &self.details).await? {
                    None => EventFetch::Throttled,
                    Some(None) => EventFetch::NotFound,
                    Some(Some(answer)) => match answer.event {
                        Some(event) => EventFetch::Found(event),
                        None => return Err(err("eventids answered without the event".into())),
                    },
                },
            );
        }
        let url = self
            .projects_url
            .join(&format!("{project_id}/events/{}/", event_id.simple()))
            .map_err(|e| err(format!("bad address: {e}")))?;
        let Some(resp) = self.get(url, &self.details).await? else {
            return Ok(EventFetch::Throttled);
        };
        match resp.status().as_u16() {
            200 => {
                let body = read_body(resp, MAX_ANSWER)
                    .await
                    .map_err(|e| err(format!("event details: {e}")))?;
                serde_json::from_slice(&body)
                    .map(EventFetch::Found)
                    .map_err(|e| err(format!("event details: {e}")))
            }
            404 => Ok(EventFetch::NotFound),
            s => Err(err(format!("event details answered {s}"))),
        }
    }

    /// An authenticated GET paced by `pacer`, a 429 waited out and asked again; `None` when
    /// it is still throttled after [`MAX_THROTTLED`] tries. The error is secret-free (no URL,
    /// no token).
    async fn get(&self, url: Url, pacer: &Pacer) -> Result<Option<reqwest::Response>, SourceError> {
        for attempt in 0..MAX_THROTTLED {
            pacer.wait().await;
            let resp = self
                .client
                .get(url.clone())
                .bearer_auth(&self.token)
                .send()
                .await
                .map_err(|e| SourceError::SentryApiUnreachable {
                    url: self.shown.clone(),
                    detail: e.without_url().to_string(),
                })?;
            if resp.status() != reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Ok(Some(resp));
            }
            let fallback = Duration::from_millis(500 << attempt.min(6));
            tokio::time::sleep(throttle_wait(resp.headers(), fallback)).await;
        }
        Ok(None)
    }

    /// One `eventids` lookup: `None` when throttled throughout, `Some(None)` for a 404.
    async fn by_event_id(
        &self,
        base: &Url,
        event_id: Uuid,
        pacer: &Pacer,
    ) -> Result<Option<Option<EventIdAnswer>>, SourceError> {
        let err = |detail: String| SourceError::SentryApi {
            url: self.shown.clone(),
            detail,
        };
        let unreachable = |detail: String| SourceError::SentryApiUnreachable {
            url: self.shown.clone(),
            detail,
        };
        let url = base
            .join(&format!("{}/", event_id.simple()))
            .map_err(|e| err(format!("bad address: {e}")))?;
        let Some(resp) = self.get(url, pacer).await? else {
            return Ok(None);
        };
        match resp.status().as_u16() {
            200 => {
                let body = read_body(resp, MAX_ANSWER)
                    .await
                    .map_err(|e| unreachable(e.to_string()))?;
                serde_json::from_slice(&body)
                    .map(|a| Some(Some(a)))
                    .map_err(|e| err(format!("unexpected eventids answer: {e}")))
            }
            404 => Ok(Some(None)),
            s => Err(err(format!("eventids answered {s}"))),
        }
    }

    pub(super) async fn lookup(&self, l: Lookup<'_>) -> Result<Vec<Sighting>, SourceError> {
        if let Some(base) = &self.event_ids {
            let mut found = Vec::new();
            for id in l.ids {
                match self.by_event_id(base, *id, &self.discover).await? {
                    None => {
                        return Err(SourceError::SentryApi {
                            url: self.shown.clone(),
                            detail: format!(
                                "throttled: still answered 429 after {MAX_THROTTLED} tries"
                            ),
                        });
                    }
                    Some(None) => {}
                    Some(Some(answer)) => found.push(Sighting {
                        event_id: *id,
                        received: None,
                        message_timestamp: None,
                        group_id: answer.group_id.as_ref().and_then(|g| match g {
                            serde_json::Value::String(s) => s.parse().ok(),
                            other => other.as_u64(),
                        }),
                    }),
                }
            }
            return Ok(found);
        }
        let mut found = Vec::new();
        for ids in l.ids.chunks(MAX_IDS) {
            let list: Vec<String> = ids.iter().map(|i| i.simple().to_string()).collect();
            let mut cursor: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let (rows, next) = self.page(l, &list, cursor.as_deref()).await?;
                found.extend(rows);
                match next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        Ok(found)
    }

    async fn page(
        &self,
        l: Lookup<'_>,
        ids: &[String],
        cursor: Option<&str>,
    ) -> Result<(Vec<Sighting>, Option<String>), SourceError> {
        let err = |detail: String| SourceError::SentryApi {
            url: self.shown.clone(),
            detail,
        };
        let unreachable = |detail: String| SourceError::SentryApiUnreachable {
            url: self.shown.clone(),
            detail,
        };
        let mut url = self.events_url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("dataset", l.dataset.as_str())
                .append_pair("field", "id");
            if l.dataset == sentry_load_common::Dataset::Errors {
                q.append_pair("field", "issue.id");
            }
            q.append_pair("project", &l.project_id.to_string())
                .append_pair("start", &clock::rfc3339_millis(l.from_secs * 1_000_000))
                .append_pair("end", &clock::rfc3339_millis(l.to_secs * 1_000_000))
                .append_pair("per_page", &MAX_IDS.to_string())
                .append_pair("query", &format!("id:[{}]", ids.join(",")));
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
        }
        let Some(resp) = self.get(url, &self.discover).await? else {
            return Err(err(format!(
                "throttled: still answered 429 after {MAX_THROTTLED} tries"
            )));
        };
        let status = resp.status();
        let next = next_cursor(resp.headers());
        let body = read_body(resp, MAX_ANSWER)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(err(format!("HTTP {status}: {text}")));
        }
        let page: Page =
            serde_json::from_slice(&body).map_err(|e| err(format!("unexpected answer: {e}")))?;
        let rows = page
            .data
            .into_iter()
            .filter_map(|r| {
                Some(Sighting {
                    event_id: Uuid::parse_str(&r.id).ok()?,
                    received: None,
                    message_timestamp: None,
                    group_id: r.issue_id,
                })
            })
            .collect();
        Ok((rows, next))
    }
}

/// The cursor of the `rel="next"` link when it says `results="true"`.
fn next_cursor(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let link = headers.get(reqwest::header::LINK)?.to_str().ok()?;
    link.split(',')
        .find(|part| part.contains("rel=\"next\"") && part.contains("results=\"true\""))
        .and_then(|part| part.split("cursor=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, LINK};

    #[test]
    fn a_429_waits_for_retry_after_or_sentrys_reset_bounded() {
        let fallback = Duration::from_secs(2);
        let mut h = HeaderMap::new();
        assert_eq!(throttle_wait(&h, fallback), fallback);
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(throttle_wait(&h, fallback), Duration::from_secs(3));
        h.insert("retry-after", HeaderValue::from_static("1e30"));
        assert_eq!(throttle_wait(&h, fallback), MAX_THROTTLE_WAIT);
        let mut h = HeaderMap::new();
        let reset = clock::now_unix_micros() / 1_000_000 + 5;
        h.insert("x-sentry-rate-limit-reset", HeaderValue::from(reset));
        let w = throttle_wait(&h, fallback);
        assert!(
            w > Duration::from_secs(3) && w <= Duration::from_secs(5),
            "{w:?}"
        );
        h.insert(
            "x-sentry-rate-limit-reset",
            HeaderValue::from_static("nonsense"),
        );
        assert_eq!(throttle_wait(&h, fallback), fallback);
    }

    #[test]
    fn follows_only_next_links_with_results() {
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static(
                "<https://s/?cursor=0:0:1>; rel=\"previous\"; results=\"false\"; cursor=\"0:0:1\", \
             <https://s/?cursor=0:100:0>; rel=\"next\"; results=\"true\"; cursor=\"0:100:0\"",
            ),
        );
        assert_eq!(next_cursor(&h).as_deref(), Some("0:100:0"));
        h.insert(
            LINK,
            HeaderValue::from_static(
                "<https://s/?cursor=0:100:0>; rel=\"next\"; results=\"false\"; cursor=\"0:100:0\"",
            ),
        );
        assert_eq!(next_cursor(&h), None);
    }
}
