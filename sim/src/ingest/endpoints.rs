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
use sentry_load_common::envelope::ItemType;
use std::sync::Arc;

/// `POST /api/<pid>/store/`.
pub async fn store(
    State(state): State<Arc<IngestState>>,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let heavy = super::may_be_heavy(&headers, &body);
    let result = super::off_runtime(heavy, move || -> Result<_, Rejection> {
        let key = authenticate(&state, &project, query.as_deref(), &headers)?;
        let decoded = decode_body(&headers, &body)?;
        if decoded.len() > EVENT_LIMIT {
            return Err(too_large("event"));
        }
        let item = Item {
            ty: ItemType::Event,
            payload: &decoded,
            project_id: key.project_id,
            fallback_id: None,
            received: state.received_now(),
            dump: None,
        };
        let ev = ingest_item(&state, item)?;
        admit_and_queue(&state, vec![ev], &key)
    })
    .await;
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
    let upload = match read_minidump_form(&mut form).await {
        Ok(u) => u,
        Err(FormError::Invalid(cause)) => {
            return *reject(
                StatusCode::BAD_REQUEST,
                "invalid multipart body",
                Some(cause),
            );
        }
        Err(FormError::NoDump) => {
            return *reject(
                StatusCode::BAD_REQUEST,
                "missing minidump",
                Some("no upload_file_minidump field".into()),
            );
        }
    };
    if !upload.dump.starts_with(b"MDMP") {
        return *reject(
            StatusCode::BAD_REQUEST,
            "invalid minidump",
            Some("upload_file_minidump must start with MDMP".into()),
        );
    }
    let ev = match native_event(&state, key.project_id, &upload) {
        Ok(ev) => ev,
        Err(r) => return *r,
    };
    let id = ev.event_id.hyphenated().to_string();
    match admit_and_queue(&state, vec![ev], &key) {
        Ok(_) => (StatusCode::OK, id).into_response(),
        Err(r) if r.status() == StatusCode::TOO_MANY_REQUESTS => {
            (StatusCode::OK, id).into_response()
        }
        Err(r) => *r,
    }
}

/// What a minidump upload holds: the dump and the event JSON (a new native event when the
/// form has no `sentry` field).
pub(crate) struct MinidumpUpload {
    /// `upload_file_minidump`.
    pub dump: Bytes,
    /// The `sentry` field, or a new native event.
    pub event: Vec<u8>,
}

/// Why a minidump form was not taken.
pub(crate) enum FormError {
    /// The multipart body is broken.
    Invalid(String),
    /// It has no (or an empty) `upload_file_minidump`.
    NoDump,
}

/// Reads a minidump upload's form (Relay and Sentry 9 read the same fields).
pub(crate) async fn read_minidump_form(form: &mut Multipart) -> Result<MinidumpUpload, FormError> {
    let (mut dump, mut event) = (None, None);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| FormError::Invalid(e.to_string()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let data = field
            .bytes()
            .await
            .map_err(|e| FormError::Invalid(e.to_string()))?;
        match name.as_str() {
            "upload_file_minidump" => dump = Some(data),
            "sentry" => event = Some(data.to_vec()),
            _ => {}
        }
    }
    let dump = dump.filter(|d| !d.is_empty()).ok_or(FormError::NoDump)?;
    let event = event.unwrap_or_else(|| {
        serde_json::json!({
            "event_id": uuid::Uuid::new_v4().simple().to_string(),
            "platform": "native",
            "level": "fatal",
        })
        .to_string()
        .into_bytes()
    });
    Ok(MinidumpUpload { dump, event })
}

/// The native event of a minidump upload to `project_id`, parsed and (in memory) processed
/// with its dump.
pub(crate) fn native_event(
    state: &IngestState,
    project_id: u64,
    upload: &MinidumpUpload,
) -> Result<crate::ingest::event::IngestedEvent, Rejection> {
    let item = Item {
        ty: ItemType::Event,
        payload: &upload.event,
        project_id,
        fallback_id: None,
        received: state.received_now(),
        dump: Some(&upload.dump),
    };
    let mut ev = ingest_item(state, item)?;
    ev.minidumps.push(upload.dump.len());
    ev.native = true;
    Ok(ev)
}
