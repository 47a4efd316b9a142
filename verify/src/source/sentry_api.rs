//! Reads through the Sentry web API's Discover endpoint, for when the databases are out of
//! reach (and for the embedded sim, which serves the same shape).
//!
//! `GET <url>/api/0/organizations/<org>/events/?dataset=errors&field=id&field=issue.id
//! (`dataset=transactions&field=id` for transactions)
//! &project=<pid>&start=<rfc3339>&end=<rfc3339>&per_page=100&query=id:[<hex>,…]`
//! with `Authorization: Bearer <token>`, following `Link: …; rel="next"; results="true"`.

use super::{Lookup, Sighting, SourceError};
use sentry_load_common::{clock, redact};
use sentry_load_config::SentryApiConfig;
use serde::Deserialize;
use url::Url;
use uuid::Uuid;

/// Discover answers at most 100 rows a page; one page per query keeps it to one request.
pub const MAX_IDS: usize = 100;
const MAX_PAGES: usize = 10;

/// A Sentry-API read-back source.
pub struct SentryApiSource {
    client: reqwest::Client,
    events_url: Url,
    /// `<url>/api/0/projects/<org>/`: event details are under it.
    projects_url: Url,
    token: String,
    shown: String,
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
        })
    }

    /// A secret-free description, for reports.
    pub fn describe(&self) -> String {
        self.shown.clone()
    }

    /// The stored event as the event-details API shows it
    /// (`GET /api/0/projects/<org>/<project id>/events/<event id>/`); `None` when the API does
    /// not know it.
    pub async fn event(
        &self,
        project_id: u64,
        event_id: Uuid,
    ) -> Result<Option<serde_json::Value>, SourceError> {
        let err = |detail: String| SourceError::SentryApi {
            url: self.shown.clone(),
            detail,
        };
        let url = self
            .projects_url
            .join(&format!("{project_id}/events/{}/", event_id.simple()))
            .map_err(|e| err(format!("bad address: {e}")))?;
        let resp = self.get(url).await?;
        match resp.status().as_u16() {
            200 => resp
                .json()
                .await
                .map(Some)
                .map_err(|e| err(format!("event details: {e}"))),
            404 => Ok(None),
            s => Err(err(format!("event details answered {s}"))),
        }
    }

    /// An authenticated GET; the error is secret-free (no URL, no token).
    async fn get(&self, url: Url) -> Result<reqwest::Response, SourceError> {
        self.client
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| SourceError::SentryApi {
                url: self.shown.clone(),
                detail: format!("unreachable: {}", e.without_url()),
            })
    }

    pub(super) async fn lookup(&self, l: Lookup<'_>) -> Result<Vec<Sighting>, SourceError> {
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
        let resp = self.get(url).await?;
        let status = resp.status();
        let next = next_cursor(resp.headers());
        let body = resp
            .bytes()
            .await
            .map_err(|e| err(format!("unreachable: {}", e.without_url())))?;
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
