//! The sim as Sentry 9.1 answers, for the upgrade case: the same events to the old install
//! and the new. Sentry 9.1 predates envelopes and Relay: it has `/api/<id>/store/` and
//! `/api/<id>/minidump/` and no `/envelope/`; it emits no outcomes; its quotas are checked at
//! the endpoint. Checked against the 9.1.2 release (getsentry/sentry at tag 9.1.2, files by
//! git blob):
//!
//! - auth (`src/sentry/coreapi.py`, blob cdc437134f9bf3a9110fb54ea3ed8559b7588bee,
//!   `ClientAuthHelper`, `project_key_from_auth`): the `X-Sentry-Auth` header or `sentry_*`
//!   query parameters — both at once is an unhandled error, a 500; none is 401 "Unable to find
//!   authentication information"; `sentry_version` must be 2.0 or 3 to 7 (else 400); a
//!   malformed or unknown key is 401 "Invalid api key", a disabled one 401 "API key is
//!   disabled"; the secret is optional, a wrong one 401;
//! - body (`coreapi.py`, `decode_data`): gzip and deflate decoded; a body not starting with `{`
//!   is taken for base64 and fails 400 "Bad data decoding request";
//! - answers (`src/sentry/web/api.py`, blob dc794956a8ecdece90648196a5df6d33bb6ce070): 200
//!   `{"id": "<hex>"}`; errors `{"error": …}` with an `X-Sentry-Error` header; an event id seen
//!   in the last five minutes 403 "An event with the same ID already exists"; a quota 429
//!   "Creation of this event was denied due to rate limiting" with `Retry-After`;
//! - `MinidumpView`: auth by `?sentry_key=` only, multipart with `upload_file_minidump` and the
//!   event in `sentry`, answered with the dashed event id as text;
//! - read-back (`src/sentry/api/endpoints/organization_eventid.py`, blob
//!   28e5c4b9c48555a4905ceddd729b7f09d02a67a1): `GET /api/0/organizations/<org>/eventids/<id>/`
//!   → `{"organizationSlug", "projectSlug", "groupId", "eventId", "event"}`; no Discover (it
//!   needs Snuba, which a stock 9.1 does not run);
//! - sourcemaps as release files (`src/sentry/api/endpoints/project_release_files.py`, blob
//!   f60cf3fc982583598cf48b6c8605dd0feffb11b7): no artifact bundles, no debug ids.

use crate::artifacts::project_slug;
use crate::ingest::admission::QuotaVerdict;
use crate::ingest::endpoints::{FormError, native_event, read_minidump_form};
use crate::ingest::event::IngestedEvent;
use crate::ingest::intake::{Room, project_of};
use crate::ingest::projects::KeyState;
use crate::ingest::{
    IngestState, Item, Key, Rejection, admit_and_queue, auth, decode_body, ingest_item,
    may_be_heavy, off_runtime,
};
use crate::store::MemoryStore;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sentry_load_common::envelope::ItemType;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long an event id is remembered, to refuse it again.
const SEEN_FOR: Duration = Duration::from_secs(300);

/// What Sentry 9's endpoints keep besides ingest's state.
#[derive(Default)]
pub struct Sentry9 {
    /// Active keys and the project of each; inactive ones.
    pub keys: HashMap<String, (u64, bool)>,
    seen: Mutex<HashMap<Uuid, Instant>>,
}

impl Sentry9 {
    /// Sentry 9 for these keys.
    pub fn new(keys: impl IntoIterator<Item = (String, u64, bool)>) -> Sentry9 {
        Sentry9 {
            keys: keys.into_iter().map(|(k, p, a)| (k, (p, a))).collect(),
            seen: Mutex::default(),
        }
    }
}

/// A Sentry 9 error answer: `{"error": …}` and `X-Sentry-Error`.
fn error(status: StatusCode, message: &str) -> Rejection {
    let mut resp = (status, axum::Json(json!({ "error": message }))).into_response();
    if let Ok(v) = HeaderValue::from_str(message) {
        resp.headers_mut().insert("x-sentry-error", v);
    }
    Box::new(resp)
}

/// The key of a request, checked as Sentry 9 checks it.
fn authenticate(
    s9: &Sentry9,
    project: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    minidump: bool,
) -> Result<Key, Rejection> {
    // `MinidumpAuthHelper` reads the query only.
    let header = headers
        .get("x-sentry-auth")
        .and_then(|h| h.to_str().ok())
        .filter(|_| !minidump);
    if header.is_some() && auth::query_has_auth(query) {
        return Err(Box::new(StatusCode::INTERNAL_SERVER_ERROR.into_response()));
    }
    let Some(key) = auth::field("sentry_key", header, query) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "Unable to find authentication information",
        ));
    };
    if !minidump {
        let version = auth::field("sentry_version", header, query);
        if !matches!(
            version.as_deref(),
            Some("2.0" | "3" | "4" | "5" | "6" | "7")
        ) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "Client using unsupported server protocol version ('{}')",
                    version.as_deref().unwrap_or("None")
                ),
            ));
        }
    }
    let Some(&(key_project, active)) = s9.keys.get(&key) else {
        return Err(error(StatusCode::UNAUTHORIZED, "Invalid api key"));
    };
    if !active {
        return Err(error(StatusCode::UNAUTHORIZED, "API key is disabled"));
    }
    let project_id: u64 = project.parse().map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid project_id: {project}"),
        )
    })?;
    if project_id != key_project {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Two different projects were specified",
        ));
    }
    Ok(Key {
        project_id,
        key: Arc::from(key),
        state: KeyState::Valid,
    })
}

/// Checks the quota and the event id, then queues: Sentry 9's answer.
fn admit(
    state: &IngestState,
    s9: &Sentry9,
    mut ev: crate::ingest::event::IngestedEvent,
    key: &Key,
) -> Result<(), Rejection> {
    {
        let mut seen = s9.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, at| at.elapsed() < SEEN_FOR);
        if seen.contains_key(&ev.event_id) {
            return Err(error(
                StatusCode::FORBIDDEN,
                &format!(
                    "An event with the same ID already exists ({})",
                    ev.event_id.simple()
                ),
            ));
        }
        seen.insert(ev.event_id, Instant::now());
    }
    let now = Instant::now();
    let unix = u64::from(state.received_now());
    let verdict = state.admission.consume(
        &key.key,
        ev.quota_category(),
        !ev.minidumps.is_empty(),
        now,
        unix,
    );
    if verdict != QuotaVerdict::Within {
        state
            .truth
            .record(ev.event_id, ev.project_id, crate::Decision::RateLimited);
        let mut resp = error(
            StatusCode::TOO_MANY_REQUESTS,
            "Creation of this event was denied due to rate limiting",
        );
        resp.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(1u32));
        return Err(resp);
    }
    // Counted here, at the endpoint: not again when processed.
    ev.quota_counted = true;
    admit_and_queue(state, vec![ev], key).map(|_| ())
}

/// Before a request's body is read: its key, checked as the handler checks it, and room for
/// the body (shared with every ingest route, see `ingest::intake`). The sim's own bound: a
/// peer without a key cannot make it buffer bodies, nor can keyed peers past
/// `BUFFERED_BODIES_LIMIT` at once.
pub(crate) async fn before_body(
    State((s9, room)): State<(Arc<Sentry9>, Room)>,
    req: Request,
    next: Next,
) -> Response {
    let project = project_of(&req);
    let minidump = req.uri().path().ends_with("/minidump/");
    if let Err(refused) = authenticate(&s9, &project, req.headers(), req.uri().query(), minidump) {
        return *refused;
    }
    let _room = match room.hold(req.headers()) {
        Ok(room) => room,
        Err(full) => return *full,
    };
    next.run(req).await
}

/// `POST /api/<id>/store/`.
pub async fn store(
    State((state, s9)): State<(Arc<IngestState>, Arc<Sentry9>)>,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = match authenticate(&s9, &project, &headers, query.as_deref(), false) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    // A compressed or large body is decoded off the runtime's threads, as on `/envelope/`.
    let heavy = may_be_heavy(&headers, &body);
    let project_id = key.project_id;
    let decoding = state.clone();
    let work = move || -> Result<IngestedEvent, Rejection> {
        let Ok(decoded) = decode_body(&headers, &body) else {
            return Err(error(StatusCode::BAD_REQUEST, "Bad data decoding request"));
        };
        if decoded.first() != Some(&b'{') {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "Bad data decoding request (Incorrect padding)",
            ));
        }
        let item = Item {
            ty: ItemType::Event,
            payload: &decoded,
            project_id,
            fallback_id: None,
            received: decoding.received_now(),
            dump: None,
        };
        ingest_item(&decoding, item)
            .map_err(|_| error(StatusCode::BAD_REQUEST, "Bad data reconstructing object"))
    };
    let ev = match off_runtime(heavy, work).await {
        Ok(ev) => ev,
        Err(r) => return *r,
    };
    let id = ev.event_id.simple().to_string();
    match admit(&state, &s9, ev, &key) {
        Ok(()) => axum::Json(json!({ "id": id })).into_response(),
        Err(r) => *r,
    }
}

/// `POST /api/<id>/minidump/?sentry_key=…`.
pub async fn minidump(
    State((state, s9)): State<(Arc<IngestState>, Arc<Sentry9>)>,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let key = match authenticate(&s9, &project, &headers, query.as_deref(), true) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let upload = match read_minidump_form(&mut form).await {
        Ok(u) => u,
        Err(FormError::Invalid(_)) => {
            return *error(StatusCode::BAD_REQUEST, "Bad data decoding request");
        }
        Err(FormError::NoDump) => {
            return *error(StatusCode::BAD_REQUEST, "Missing minidump upload");
        }
    };
    let ev = match native_event(&state, key.project_id, &upload) {
        Ok(ev) => ev,
        Err(_) => return *error(StatusCode::BAD_REQUEST, "Bad data reconstructing object"),
    };
    let id = ev.event_id.hyphenated().to_string();
    match admit(&state, &s9, ev, &key) {
        Ok(()) => id.into_response(),
        Err(r) => *r,
    }
}

/// What the read API of a Sentry 9 needs.
pub struct EventIds {
    /// The organization slug.
    pub org: String,
    /// The bearer token.
    pub token: String,
    /// The store it reads.
    pub store: Arc<MemoryStore>,
}

/// `GET /api/0/organizations/<org>/eventids/<id>/`.
pub async fn event_id(
    State(api): State<Arc<EventIds>>,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = crate::web::authorize(&headers, &api.token, &api.org, &org) {
        return *r;
    }
    if id.len() != 32 {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"detail": "Event ID must be 32 characters."})),
        )
            .into_response();
    }
    let found = Uuid::parse_str(&id)
        .ok()
        .and_then(|id| api.store.details_by_id(id));
    match found {
        Some((project, event)) => axum::Json(json!({
            "organizationSlug": api.org,
            "projectSlug": project_slug(project),
            "groupId": event.get("groupID"),
            "eventId": event.get("eventID"),
            "event": event.as_ref(),
        }))
        .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"detail": "The requested resource does not exist"})),
        )
            .into_response(),
    }
}
