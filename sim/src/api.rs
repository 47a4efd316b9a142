//! Sentry-web-API-shaped read endpoints over the in-memory store, so embedded runs verify the
//! way a run against a real Sentry without database access does.
//!
//! `GET /api/0/organizations/<org>/events/` (Discover) with `field=` (repeated), `project=`
//! (repeated), `start`/`end` (RFC 3339), `per_page` (≤ 100), `cursor` (`0:<offset>:0`) and
//! `query`: whitespace-separated `key:value` terms, `id:[a,b,…]` for id lists,
//! `tags[key]:value` or `key:value` for tags, `event.type:error`. Answers
//! `{"data":[{…}],"meta":{"fields":{…}}}` with a `Link` header whose `rel="next"` part has
//! `results="true"` while more rows follow. Requires `Authorization: Bearer <token>`.

use crate::ingest::relay_error;
use crate::store::StoredRow;
use crate::store::{MemoryStore, RowFilter};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sentry_load_common::Dataset;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use uuid::Uuid;

/// What the read API needs.
pub struct ApiState {
    /// The organization slug it answers to.
    pub org: String,
    /// The bearer token it requires.
    pub token: String,
    /// The store it reads.
    pub store: Arc<MemoryStore>,
    /// Sentry's API rate limits, when the sim enforces them.
    pub limits: Option<ApiLimits>,
}

/// Sentry's API rate limits, as sentry.io enforces them (self-hosted skips API rate limiting:
/// getsentry/sentry `src/sentry/middleware/ratelimit.py`, `if settings.SENTRY_SELF_HOSTED:
/// return None`): event details 5 requests in 1 s (`ProjectEventDetailsEndpoint.rate_limits`,
/// `RateLimit(limit=5, window=1)` per IP, user and organization, in
/// `src/sentry/api/endpoints/project_event_details.py`), Discover 50 in 1 s
/// (`OrganizationEventsEndpoint`, `DEFAULT_RATE_LIMIT = 50`, `src/sentry/api/endpoints/
/// organization_events.py`). Over a limit: 429 `{"detail": "You are attempting to use this
/// endpoint too frequently. Limit is N requests in W seconds"}` with
/// `X-Sentry-Rate-Limit-Limit`, `-Remaining` and `-Reset` (epoch seconds) and no
/// `Retry-After`.
#[derive(Debug, Default)]
pub struct ApiLimits {
    windows: std::sync::Mutex<std::collections::HashMap<&'static str, (u64, u32)>>,
}

/// Event-details requests per second.
pub const EVENT_DETAILS_LIMIT: u32 = 5;
/// Discover requests per second.
pub const DISCOVER_LIMIT: u32 = 50;

impl ApiLimits {
    /// `None` when the request to `endpoint` (limited to `limit` a second) may go on, else
    /// the 429 to answer.
    fn check(&self, endpoint: &'static str, limit: u32) -> Option<Response> {
        let now = sentry_load_common::clock::now_unix_micros() / 1_000_000;
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let (window, used) = w.entry(endpoint).or_insert((now, 0));
        if *window != now {
            (*window, *used) = (now, 0);
        }
        *used += 1;
        let remaining = limit.saturating_sub(*used);
        if *used <= limit {
            return None;
        }
        let mut resp = relay_error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "You are attempting to use this endpoint too frequently. Limit is {limit} \
                 requests in 1 seconds"
            ),
            &[],
        );
        let h = resp.headers_mut();
        h.insert("x-sentry-rate-limit-limit", HeaderValue::from(limit));
        h.insert(
            "x-sentry-rate-limit-remaining",
            HeaderValue::from(remaining),
        );
        h.insert("x-sentry-rate-limit-reset", HeaderValue::from(now + 1));
        Some(resp)
    }
}

const FIELDS: &[(&str, &str)] = &[
    ("id", "string"),
    ("timestamp", "date"),
    ("project.id", "integer"),
    ("issue.id", "integer"),
    ("title", "string"),
    ("message", "string"),
    ("level", "string"),
    ("release", "string"),
    ("environment", "string"),
];
const MAX_PER_PAGE: usize = 100;

/// `GET /api/0/organizations/<org>/events/`.
pub async fn discover(
    State(api): State<Arc<ApiState>>,
    Path(org): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&api, &org, &headers) {
        return *r;
    }
    if let Some(r) = api
        .limits
        .as_ref()
        .and_then(|l| l.check("discover", DISCOVER_LIMIT))
    {
        return r;
    }
    match answer(&api.store, query.as_deref().unwrap_or_default()) {
        Ok((body, more, next_offset)) => {
            let link = format!(
                "<?cursor=0:{next_offset}:0>; rel=\"next\"; results=\"{more}\"; cursor=\"0:{next_offset}:0\""
            );
            let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
            if let Ok(v) = HeaderValue::from_str(&link) {
                resp.headers_mut().insert(header::LINK, v);
            }
            resp
        }
        Err(detail) => relay_error(StatusCode::BAD_REQUEST, &detail, &[]),
    }
}

/// Checks the bearer token and the organization; the error is the answer to send.
fn authorize(api: &ApiState, org: &str, headers: &HeaderMap) -> Result<(), Box<Response>> {
    crate::web::authorize(headers, &api.token, &api.org, org)
}

/// `GET /api/0/projects/<org>/<project id>/events/<event id>/`: one processed event.
pub async fn event_details(
    State(api): State<Arc<ApiState>>,
    Path((org, project, event_id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&api, &org, &headers) {
        return *r;
    }
    if let Some(r) = api
        .limits
        .as_ref()
        .and_then(|l| l.check("event_details", EVENT_DETAILS_LIMIT))
    {
        return r;
    }
    let not_found = || relay_error(StatusCode::NOT_FOUND, "Event not found", &[]);
    let (Ok(project), Ok(id)) = (project.parse::<u64>(), Uuid::parse_str(&event_id)) else {
        return not_found();
    };
    match api.store.details(project, id) {
        Some(d) => axum::Json(d.as_ref().clone()).into_response(),
        None => not_found(),
    }
}

fn answer(store: &MemoryStore, raw: &str) -> Result<(Value, bool, usize), String> {
    let mut fields = Vec::new();
    // Like Sentry's events endpoint, errors unless another dataset is named.
    let mut filter = RowFilter {
        dataset: Some(Dataset::Errors),
        ..RowFilter::default()
    };
    let mut per_page = 50;
    let mut offset = 0;
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "field" => {
                if !FIELDS.iter().any(|(f, _)| *f == v) {
                    return Err(format!("Invalid query. Unknown field: {v}"));
                }
                fields.push(v.into_owned());
            }
            "project" => filter
                .projects
                .push(v.parse().map_err(|_| format!("Invalid project: {v}"))?),
            "start" => filter.start = Some(parse_time(&v)?),
            "end" => filter.end = Some(parse_time(&v)?),
            "per_page" => {
                per_page = v
                    .parse::<usize>()
                    .map_err(|_| format!("Invalid per_page: {v}"))?
                    .clamp(1, MAX_PER_PAGE)
            }
            "cursor" => {
                offset = v
                    .split(':')
                    .nth(1)
                    .and_then(|o| o.parse().ok())
                    .ok_or_else(|| format!("Invalid cursor: {v}"))?
            }
            "query" => parse_query(&v, &mut filter)?,
            "dataset" => {
                filter.dataset = match v.as_ref() {
                    "errors" => Some(Dataset::Errors),
                    "transactions" => Some(Dataset::Transactions),
                    "discover" => None,
                    other => return Err(format!("Invalid dataset: {other}")),
                }
            }
            _ => {}
        }
    }
    if fields.is_empty() {
        return Err("No columns selected".into());
    }
    if filter.dataset == Some(Dataset::Transactions) && fields.iter().any(|f| f == "issue.id") {
        return Err("Invalid query. issue.id is not a field of the transactions dataset".into());
    }
    let rows = store.find(&filter);
    let page: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(per_page)
        .map(|r| render(r, &fields))
        .collect();
    let next = offset + page.len();
    let meta: Map<String, Value> = fields
        .iter()
        .filter_map(|f| FIELDS.iter().find(|(n, _)| n == f))
        .map(|(n, t)| ((*n).to_owned(), json!(t)))
        .collect();
    Ok((
        json!({ "data": page, "meta": { "fields": meta } }),
        next < rows.len(),
        next,
    ))
}

fn parse_time(v: &str) -> Result<u32, String> {
    humantime::parse_rfc3339_weak(v.trim_end_matches('Z').split('+').next().unwrap_or(v))
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as u32)
        .ok_or_else(|| format!("Invalid date: {v}"))
}

fn parse_query(q: &str, filter: &mut RowFilter) -> Result<(), String> {
    for term in q.split_whitespace() {
        let (key, value) = term
            .split_once(':')
            .ok_or_else(|| format!("Invalid query term `{term}`: expected key:value"))?;
        let key = key
            .strip_prefix("tags[")
            .and_then(|k| k.strip_suffix(']'))
            .unwrap_or(key);
        match key {
            "id" => {
                let list = value
                    .strip_prefix('[')
                    .and_then(|v| v.strip_suffix(']'))
                    .unwrap_or(value);
                let ids = list
                    .split(',')
                    .map(|s| Uuid::parse_str(s.trim()).map_err(|_| format!("Invalid id: {s}")))
                    .collect::<Result<Vec<_>, _>>()?;
                filter.ids.get_or_insert_with(Vec::new).extend(ids);
            }
            "event.type" if value == "error" => {}
            _ => filter.tags.push((key.to_owned(), value.to_owned())),
        }
    }
    Ok(())
}

fn render(r: &StoredRow, fields: &[String]) -> Value {
    let e = &r.event;
    let mut out = Map::new();
    for f in fields {
        let v = match f.as_str() {
            "id" => json!(e.event_id.simple().to_string()),
            "timestamp" => json!(sentry_load_common::clock::rfc3339_millis(
                u64::from(e.timestamp) * 1_000_000
            )),
            "project.id" => json!(e.project_id),
            "issue.id" => json!(r.group_id),
            "title" => json!(e.title),
            "message" => json!(e.message),
            "level" => json!(e.level),
            "release" => json!(e.release),
            "environment" => json!(e.environment),
            _ => Value::Null,
        };
        out.insert(f.clone(), v);
    }
    Value::Object(out)
}
