//! Relay's older ingest endpoints, answered like the envelope endpoint (same auth, encodings,
//! limits, quotas and faults):
//!
//! - `POST /api/<pid>/store/`: one event as JSON; answers `{"id": "<event id>"}`.
//! - `POST /api/<pid>/minidump/`: multipart, the dump in `upload_file_minidump` (must start
//!   with `MDMP`), the event in an optional `sentry` field (JSON); answers the event id as
//!   text, as crash reporters expect, and never 429: a rate-limited minidump is answered 200
//!   and dropped (getsentry/relay `relay-server/src/endpoints/minidump.rs` at
//!   012f7013b808416eb571cb0529c236dff6571f91: `Ok(_) | Err(BadStoreRequest::RateLimited(_))
//!   => ()`).

use super::{
    EVENT_LIMIT, IngestState, Item, Rejection, admit_and_queue, authenticate, decode_body,
    ingest_item, reject, too_large,
};
use axum::body::Bytes;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `POST /api/<pid>/store/`.
pub async fn store(
    State(state): State<Arc<IngestState>>,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| -> Result<_, Rejection> {
        let key = authenticate(&state, &project, query.as_deref(), &headers)?;
        let decoded = decode_body(&headers, &body)?;
        if decoded.len() > EVENT_LIMIT {
            return Err(too_large("event"));
        }
        let item = Item {
            ty: "event",
            payload: &decoded,
            project_id: key.project_id,
            fallback_id: None,
            received: state.received_now(),
            dump: None,
        };
        let ev = ingest_item(&state, item)?;
        admit_and_queue(&state, vec![ev], &key)
    })();
    match result {
        Ok(a) => a.response(),
        Err(r) => *r,
    }
}

/// `POST /api/<pid>/minidump/`.
pub async fn minidump(
    State(state): State<Arc<IngestState>>,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let key = match authenticate(&state, &project, query.as_deref(), &headers) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let mut dump: Option<Bytes> = None;
    let mut event_json: Option<Vec<u8>> = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return *reject(
                    StatusCode::BAD_REQUEST,
                    "invalid multipart body",
                    Some(e.to_string()),
                );
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let Ok(data) = field.bytes().await else {
            return *reject(StatusCode::BAD_REQUEST, "invalid multipart body", None);
        };
        match name.as_str() {
            "upload_file_minidump" => {
                if !data.starts_with(b"MDMP") {
                    return *reject(
                        StatusCode::BAD_REQUEST,
                        "invalid minidump",
                        Some("upload_file_minidump must start with MDMP".into()),
                    );
                }
                dump = Some(data);
            }
            "sentry" => event_json = Some(data.to_vec()),
            _ => {}
        }
    }
    let Some(dump) = dump else {
        return *reject(
            StatusCode::BAD_REQUEST,
            "missing minidump",
            Some("no upload_file_minidump field".into()),
        );
    };
    let payload = event_json.unwrap_or_else(|| {
        serde_json::to_vec(&serde_json::json!({
            "event_id": uuid::Uuid::new_v4().simple().to_string(),
            "platform": "native",
            "level": "fatal",
        }))
        .unwrap_or_default()
    });
    let item = Item {
        ty: "event",
        payload: &payload,
        project_id: key.project_id,
        fallback_id: None,
        received: state.received_now(),
        dump: Some(&dump),
    };
    let mut ev = match ingest_item(&state, item) {
        Ok(ev) => ev,
        Err(r) => return *r,
    };
    ev.minidumps.push(dump.len());
    ev.native = true;
    let id = ev.event_id.hyphenated().to_string();
    match admit_and_queue(&state, vec![ev], &key) {
        Ok(_) => (StatusCode::OK, id).into_response(),
        Err(r) if r.status() == StatusCode::TOO_MANY_REQUESTS => {
            (StatusCode::OK, id).into_response()
        }
        Err(r) => *r,
    }
}
