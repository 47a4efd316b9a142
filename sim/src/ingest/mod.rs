//! Relay's ingest endpoint: `POST /api/<project_id>/envelope/` (and, in [`endpoints`],
//! `/store/` and `/minidump/`).
//!
//! Answers as Relay does: 200 `{"id":"<event id>"}`; 400 malformed; 401 missing or unknown
//! key; 413 over Relay's default size limits (envelope 200 MiB, event 1 MiB); 429 for an
//! exhausted key quota or a scripted storm ([`admission`]); 503 when the queue (Kafka's place)
//! is full. Bodies may be gzip, deflate or zstd. Error bodies are `{"detail":"…","causes":[…]}`.
//! `event` and `transaction` items are queued for storage; an `event.minidump` attachment
//! must start with `MDMP` and rides along with its event; other item types are accepted and
//! not stored.

pub mod admission;
mod auth;
pub mod endpoints;
mod envelope;
pub mod event;

use crate::store::outcomes::{Outcome, category, code};
use crate::truth::{Decision, Truth};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use event::IngestedEvent;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Relay's default envelope size limit.
pub const ENVELOPE_LIMIT: usize = 200 * 1024 * 1024;
/// Relay's default event size limit.
pub const EVENT_LIMIT: usize = 1024 * 1024;

/// What the ingest handler needs.
pub struct IngestState {
    /// Quotas and scripted refusals.
    pub admission: admission::Admission,
    /// The sim's clock offset, microseconds (a scripted clock skew).
    pub skew_micros: i64,
    /// Public key per project id.
    pub keys: HashMap<u64, String>,
    /// The queue into the pipeline.
    pub queue: mpsc::Sender<IngestedEvent>,
    /// Outcomes of refused events, on their way to the store.
    pub outcomes: mpsc::UnboundedSender<crate::store::outcomes::Outcome>,
    /// Ground truth.
    pub truth: Arc<Truth>,
    /// Where uploaded sourcemaps are, when processed events are kept (the in-memory store):
    /// every stored event is then processed as Sentry would show it.
    pub processing: Option<Arc<crate::artifacts::ArtifactState>>,
}

/// A Relay-shaped error answer.
pub fn relay_error(status: StatusCode, detail: &str, causes: &[String]) -> Response {
    let body = serde_json::json!({ "detail": detail, "causes": causes });
    (status, axum::Json(body)).into_response()
}

/// The envelope handler.
pub async fn envelope(
    State(state): State<Arc<IngestState>>,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let queued = accept(&state, &project, query.as_deref(), &headers, &body)
        .and_then(|(events, key)| admit_and_queue(&state, events, &key));
    match queued {
        Ok(id) => (StatusCode::OK, axum::Json(serde_json::json!({ "id": id }))).into_response(),
        Err(resp) => *resp,
    }
}

/// Admits and queues a request's events: the id Relay answers with, or the refusal. Every
/// event's fate is recorded in ground truth.
pub(crate) fn admit_and_queue(
    state: &IngestState,
    events: Vec<IngestedEvent>,
    key: &str,
) -> Result<Option<String>, Rejection> {
    let id = events.first().map(|e| e.event_id.simple().to_string());
    if let Some(first) = events.first()
        && let Err(refusal) = state.admission.admit(key, first.event_id)
    {
        let decision = match refusal {
            admission::Refusal::RateLimited { .. } => Decision::RateLimited,
            admission::Refusal::Unavailable => Decision::Unavailable,
            admission::Refusal::Rejected => Decision::Rejected,
        };
        for ev in &events {
            state.truth.record(ev.event_id, ev.project_id, decision);
            match refusal {
                admission::Refusal::RateLimited { reason, .. } => {
                    let _ = state
                        .outcomes
                        .send(refused_outcome(ev, code::RATE_LIMITED, reason));
                }
                admission::Refusal::Rejected => {
                    let _ = state
                        .outcomes
                        .send(refused_outcome(ev, code::FILTERED, "project_id"));
                }
                // Relay emits no outcome for a 503: the client is expected to retry.
                admission::Refusal::Unavailable => {}
            }
        }
        return Err(Box::new(refusal.response()));
    }
    for ev in events {
        let (event_id, project_id) = (ev.event_id, ev.project_id);
        if state.queue.try_send(ev).is_err() {
            state
                .truth
                .record(event_id, project_id, Decision::Unavailable);
            return Err(reject(
                StatusCode::SERVICE_UNAVAILABLE,
                "event queue is full, retry later",
                None,
            ));
        }
        state.truth.record(event_id, project_id, Decision::Accepted);
    }
    Ok(id)
}

pub(crate) type Rejection = Box<Response>;

pub(crate) fn reject(status: StatusCode, detail: &str, cause: Option<String>) -> Rejection {
    Box::new(relay_error(
        status,
        detail,
        &cause.into_iter().collect::<Vec<_>>(),
    ))
}

fn accept(
    state: &IngestState,
    project: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Vec<IngestedEvent>, String), Rejection> {
    let (project_id, key) = authenticate(state, project, query, headers)?;
    let decoded = decode_body(headers, body)?;
    let (env_header, items) = envelope::split(&decoded).map_err(|cause| {
        reject(
            StatusCode::BAD_REQUEST,
            "invalid event envelope",
            Some(cause),
        )
    })?;
    let received = state.received_now();
    let mut events = Vec::new();
    let mut minidumps = Vec::new();
    let mut first_dump: Option<&[u8]> = None;
    for item in items.iter().filter(|i| i.header.ty == "attachment") {
        if item.header.attachment_type.as_deref() == Some("event.minidump") {
            if !item.payload.starts_with(b"MDMP") {
                return Err(reject(
                    StatusCode::BAD_REQUEST,
                    "invalid minidump",
                    Some("an event.minidump attachment must start with MDMP".into()),
                ));
            }
            minidumps.push(item.payload.len());
            first_dump.get_or_insert(item.payload);
        }
    }
    let stored = |i: &&envelope::Item<'_>| i.header.ty == "event" || i.header.ty == "transaction";
    for item in items.iter().filter(stored) {
        if item.payload.len() > EVENT_LIMIT {
            return Err(reject(
                StatusCode::PAYLOAD_TOO_LARGE,
                "envelope exceeded size limits",
                Some(format!(
                    "event of {} bytes is over {EVENT_LIMIT}",
                    item.payload.len()
                )),
            ));
        }
        let is_event = item.header.ty == "event";
        let dump = if is_event { first_dump.take() } else { None };
        let item_event = Item {
            ty: &item.header.ty,
            payload: item.payload,
            project_id,
            fallback_id: env_header.event_id.as_deref(),
            received,
            dump,
        };
        let mut ev = ingest_item(state, item_event)?;
        if is_event {
            ev.minidumps = std::mem::take(&mut minidumps);
        }
        events.push(ev);
    }
    Ok((events, key))
}

/// One event or transaction item, as ingest received it.
pub(crate) struct Item<'a> {
    /// `event` or `transaction`.
    pub ty: &'a str,
    /// Its JSON.
    pub payload: &'a [u8],
    /// The project it was sent to.
    pub project_id: u64,
    /// The envelope header's event id, if any.
    pub fallback_id: Option<&'a str>,
    /// Relay's `received`, Unix seconds.
    pub received: u32,
    /// The minidump that came with it, if any.
    pub dump: Option<&'a [u8]>,
}

/// Parses an item into the event the pipeline carries; when processed events are kept (the
/// in-memory store), also processes it as Sentry's event-details API would show it. Every
/// ingest endpoint goes through here.
pub(crate) fn ingest_item(state: &IngestState, item: Item<'_>) -> Result<IngestedEvent, Rejection> {
    let invalid = |cause| reject(StatusCode::BAD_REQUEST, "invalid event", Some(cause));
    let json = event::parse_json(item.payload).map_err(invalid)?;
    let mut ev = event::parse_value(
        item.ty,
        &json,
        item.project_id,
        item.fallback_id,
        item.received,
    )
    .map_err(invalid)?;
    if let Some(artifacts) = &state.processing {
        let details = crate::processing::process(&json, &ev.title, item.dump, artifacts);
        ev.details = Some(Arc::new(details));
    }
    Ok(ev)
}

/// The outcome of a refused event.
fn refused_outcome(ev: &IngestedEvent, outcome: u8, reason: &str) -> Outcome {
    Outcome {
        project_id: ev.project_id,
        event_id: Some(ev.event_id),
        timestamp: ev.received,
        outcome,
        reason: Some(reason.to_owned()),
        category: if ev.transaction.is_some() {
            category::TRANSACTION
        } else {
            category::ERROR
        },
        quantity: 1,
    }
}

impl IngestState {
    /// Relay's `received` for a request arriving now, on the sim's (possibly skewed) clock.
    pub fn received_now(&self) -> u32 {
        let now = sentry_load_common::clock::now_unix_micros();
        (now.saturating_add_signed(self.skew_micros) / 1_000_000) as u32
    }
}

/// The project and public key of an authenticated request.
pub(crate) fn authenticate(
    state: &IngestState,
    project: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<(u64, String), Rejection> {
    let project_id: u64 = project
        .parse()
        .map_err(|_| reject(StatusCode::NOT_FOUND, "invalid project id", None))?;
    let auth = headers.get("x-sentry-auth").and_then(|h| h.to_str().ok());
    let key = auth::public_key(auth, query).ok_or_else(|| {
        reject(
            StatusCode::UNAUTHORIZED,
            "missing authorization information",
            None,
        )
    })?;
    if state.keys.get(&project_id) != Some(&key) {
        return Err(reject(StatusCode::UNAUTHORIZED, "invalid public key", None));
    }
    Ok((project_id, key))
}

/// The body as sent, decoded per `Content-Encoding`.
pub(crate) fn decode_body<'a>(
    headers: &HeaderMap,
    body: &'a [u8],
) -> Result<std::borrow::Cow<'a, [u8]>, Rejection> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("identity");
    decode(encoding, body)
}

fn decode<'a>(encoding: &str, body: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>, Rejection> {
    let limit = ENVELOPE_LIMIT as u64 + 1;
    let mut out = Vec::new();
    let read = match encoding.trim() {
        "identity" | "" => return Ok(body.into()),
        "gzip" => flate2::read::GzDecoder::new(body)
            .take(limit)
            .read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(body)
            .take(limit)
            .read_to_end(&mut out),
        "zstd" => {
            zstd::stream::read::Decoder::new(body).and_then(|d| d.take(limit).read_to_end(&mut out))
        }
        other => {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                "unsupported content encoding",
                Some(format!(
                    "`{other}`; this sim decodes gzip, deflate and zstd"
                )),
            ));
        }
    };
    read.map_err(|e| {
        reject(
            StatusCode::BAD_REQUEST,
            "invalid compressed body",
            Some(e.to_string()),
        )
    })?;
    if out.len() > ENVELOPE_LIMIT {
        return Err(reject(
            StatusCode::PAYLOAD_TOO_LARGE,
            "envelope exceeded size limits",
            None,
        ));
    }
    Ok(out.into())
}
