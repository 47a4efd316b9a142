//! Relay's ingest endpoint: `POST /api/<project_id>/envelope/` (and, in [`endpoints`],
//! `/store/` and `/minidump/`).
//!
//! Answers as Relay does (getsentry/relay `relay-server/src/endpoints/common.rs`,
//! `BadStoreRequest` and its statuses; `relay-server/src/extractors/request_meta.rs` at
//! 01aef71f62365a6c2712a66b22de62fc99e8ae49 for the auth errors):
//! - 200 `{"id":"<event id>"}`, also for a key whose project config is still being fetched
//!   ([`projects`]) and for envelopes over a quota not cached yet ([`admission`]);
//! - 400 malformed envelope, bad project path or malformed public key; 401 missing
//!   authorization;
//! - 403 `rejected with_reason: ProjectId` once a key's config says it is unknown or disabled;
//! - 413 an event over Relay's `max_event_size` (1 MiB), a body over nginx's
//!   `client_max_body_size 100m` (getsentry/self-hosted `nginx.conf` at
//!   89a143f8e4d396a858cf6f462a832ae7da9fd2db) or decoded over Relay's `max_envelope_size`
//!   (200 MiB; relay-config `config.rs` at 00191ff783db81675131903b8c5b289de8cfd903, `Limits`);
//! - 429 with `Retry-After` and `X-Sentry-Rate-Limits` for a cached limit or a scripted storm;
//! - 503 when the topic's queue (Kafka's place) is full.
//!
//! Bodies may be gzip, deflate, zstd or br (all of Relay's `http.encoding` values). Error bodies are `{"detail":"…","causes":[…]}`.
//! `event` and `transaction` items are queued on their topic ([`crate::pipeline::Topic`]);
//! an `event.minidump` attachment must start with `MDMP` and rides along with its event;
//! other item types are accepted and not stored.

pub mod admission;
pub(crate) mod auth;
pub mod endpoints;
pub mod event;
pub(crate) mod intake;
pub mod projects;

use crate::pipeline::Topic;
use crate::store::outcomes::{Outcome, category, code};
use crate::truth::{Decision, Truth};
use admission::{Admission, Refusal};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use event::IngestedEvent;
use projects::{KeyState, ProjectConfigs};
use sentry_load_common::envelope::{self, ItemType};
use std::io::Read;
use std::sync::Arc;
use tokio::sync::mpsc;

/// nginx's `client_max_body_size 100m` in front of Relay: the largest body on the wire.
pub const BODY_LIMIT: usize = 100 * 1024 * 1024;
/// Relay's default `max_envelope_size`: the largest envelope once decoded.
pub const ENVELOPE_LIMIT: usize = 200 * 1024 * 1024;
/// Relay's default `max_event_size`.
pub const EVENT_LIMIT: usize = 1024 * 1024;

/// What the ingest handler needs.
pub struct IngestState {
    /// Cached limits, quotas and scripted refusals.
    pub admission: Arc<Admission>,
    /// What Relay knows of each key.
    pub configs: ProjectConfigs,
    /// The sim's clock offset, microseconds (a scripted clock skew).
    pub skew_micros: i64,
    /// The queue of each topic into its pipeline, by [`Topic::index`].
    pub queues: [mpsc::Sender<IngestedEvent>; 3],
    /// Outcomes of refused events, on their way to the outcomes consumer.
    pub outcomes: mpsc::UnboundedSender<Outcome>,
    /// Ground truth.
    pub truth: Arc<Truth>,
    /// The record of arrivals, when a real Relay stands in front of the sim.
    pub upstream_log: Option<Arc<crate::relay_upstream::log::UpstreamLog>>,
    /// Where uploaded sourcemaps are, when processed events are kept (the in-memory store):
    /// every stored event is then processed as Sentry would show it.
    pub processing: Option<Arc<crate::artifacts::ArtifactState>>,
}

/// A Relay-shaped error answer.
pub fn relay_error(status: StatusCode, detail: &str, causes: &[String]) -> Response {
    let body = if causes.is_empty() {
        serde_json::json!({ "detail": detail })
    } else {
        serde_json::json!({ "detail": detail, "causes": causes })
    };
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
    let heavy = may_be_heavy(&headers, &body);
    let queued = off_runtime(heavy, move || {
        let mut about = None;
        let answer = accept(
            &state,
            &project,
            query.as_deref(),
            &headers,
            &body,
            &mut about,
        )
        .and_then(|(events, key)| admit_and_queue(&state, events, &key));
        if let (Some(log), Some(id)) = (&state.upstream_log, about) {
            let status = match &answer {
                Ok(_) => 200,
                Err(refusal) => refusal.status().as_u16(),
            };
            log.answered(id, status);
        }
        answer
    })
    .await;
    match queued {
        Ok(a) => a.response(),
        Err(resp) => *resp,
    }
}

/// Bodies bigger than this, or compressed, are decoded and parsed off the runtime's threads.
const INLINE_BODY: usize = 256 * 1024;

/// Whether decoding and parsing `body` may take long: it is large, or compressed (and may
/// unpack to [`ENVELOPE_LIMIT`]).
pub(crate) fn may_be_heavy(headers: &HeaderMap, body: &[u8]) -> bool {
    let compressed = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|e| !matches!(e.trim(), "" | "identity"));
    compressed || body.len() > INLINE_BODY
}

/// Runs `work` on a blocking thread when it is `heavy`, so that an envelope bomb stalls no
/// other request; inline otherwise.
pub(crate) async fn off_runtime<T: Send + 'static>(
    heavy: bool,
    work: impl FnOnce() -> Result<T, Rejection> + Send + 'static,
) -> Result<T, Rejection> {
    if !heavy {
        return work();
    }
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|_| {
        Err(reject(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request could not be processed",
            None,
        ))
    })
}

/// What an accepted request is answered with.
pub(crate) struct Accepted {
    /// The id Relay answers with.
    pub id: Option<String>,
    /// `X-Sentry-Rate-Limits` for the part a cached limit removed, if any.
    pub rate_limits: Option<String>,
}

impl Accepted {
    fn response(self) -> Response {
        let mut resp = (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "id": self.id })),
        )
            .into_response();
        if let Some(v) = self
            .rate_limits
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            resp.headers_mut().insert("x-sentry-rate-limits", v);
        }
        resp
    }
}

/// An authenticated request's key: which project, which key, and what Relay knows of it.
pub(crate) struct Key {
    pub project_id: u64,
    pub key: Arc<str>,
    pub state: KeyState,
}

/// Admits and queues a request's events: the answer, or the refusal. Every event's fate is
/// recorded in ground truth.
pub(crate) fn admit_and_queue(
    state: &IngestState,
    mut events: Vec<IngestedEvent>,
    key: &Key,
) -> Result<Accepted, Rejection> {
    let id = events.first().map(|e| e.event_id.simple().to_string());
    if key.state == KeyState::Invalid {
        for ev in &events {
            state
                .truth
                .record(ev.event_id, ev.project_id, Decision::Rejected);
            let _ = state
                .outcomes
                .send(refused_outcome(state, ev, code::INVALID, "project_id"));
        }
        return Err(Box::new(Refusal::Rejected.response()));
    }
    let now = std::time::Instant::now();
    let mut rate_limits = None;
    if let Some(first) = events.first() {
        let has_attachments = events.iter().any(|e| !e.minidumps.is_empty());
        match state.admission.admit(
            &key.key,
            first.event_id,
            first.quota_category(),
            has_attachments,
            now,
        ) {
            Err(refusal) => {
                refuse(state, &events, &refusal);
                return Err(Box::new(refusal.response()));
            }
            Ok(admitted) => {
                if admitted.attachments_limited.is_some() {
                    for ev in events.iter_mut().filter(|e| !e.minidumps.is_empty()) {
                        state.truth.record(
                            ev.event_id,
                            ev.project_id,
                            Decision::AttachmentRateLimited,
                        );
                        for size in std::mem::take(&mut ev.minidumps) {
                            let mut o = refused_outcome(
                                state,
                                ev,
                                code::RATE_LIMITED,
                                admission::KEY_QUOTA,
                            );
                            o.category = category::ATTACHMENT;
                            o.quantity = u32::try_from(size).unwrap_or(u32::MAX);
                            let _ = state.outcomes.send(o);
                        }
                    }
                }
                rate_limits = admitted.attachments_limited;
            }
        }
    }
    let (ready_at, key_valid) = match key.state {
        KeyState::Fetching { until, valid } => (until, valid),
        KeyState::Valid | KeyState::Invalid => (now, true),
    };
    for mut ev in events {
        ev.ready_at = ready_at;
        ev.key_valid = key_valid;
        ev.key = key.key.clone();
        let (event_id, project_id) = (ev.event_id, ev.project_id);
        if state.queues[Topic::of(&ev).index()].try_send(ev).is_err() {
            state
                .truth
                .record(event_id, project_id, Decision::Unavailable);
            return Err(reject(
                StatusCode::SERVICE_UNAVAILABLE,
                "failed to queue envelope",
                None,
            ));
        }
        state.truth.record(event_id, project_id, Decision::Accepted);
    }
    Ok(Accepted { id, rate_limits })
}

/// Records a refusal in ground truth and its outcomes, per event.
fn refuse(state: &IngestState, events: &[IngestedEvent], refusal: &Refusal) {
    let decision = match refusal {
        Refusal::RateLimited { .. } => Decision::RateLimited,
        Refusal::Unavailable => Decision::Unavailable,
        Refusal::Rejected => Decision::Rejected,
    };
    for ev in events {
        state.truth.record(ev.event_id, ev.project_id, decision);
        let outcome = match refusal {
            Refusal::RateLimited { reason, .. } => Some((code::RATE_LIMITED, *reason)),
            // A rejected project: `Outcome::Invalid(DiscardReason::ProjectId)`.
            Refusal::Rejected => Some((code::INVALID, "project_id")),
            // Relay emits no outcome for a 503: the client is expected to retry.
            Refusal::Unavailable => None,
        };
        if let Some((outcome, reason)) = outcome {
            let _ = state
                .outcomes
                .send(refused_outcome(state, ev, outcome, reason));
        }
    }
}

pub(crate) type Rejection = Box<Response>;

pub(crate) fn reject(status: StatusCode, detail: &str, cause: Option<String>) -> Rejection {
    Box::new(relay_error(
        status,
        detail,
        &cause.into_iter().collect::<Vec<_>>(),
    ))
}

/// The 413 Relay answers for an item over its limit (`BadStoreRequest::Overflow`).
pub(crate) fn too_large(item: &str) -> Rejection {
    reject(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "envelope exceeded size limits for type '{item}' \
             (https://develop.sentry.dev/sdk/envelopes/#size-limits)"
        ),
        None,
    )
}

/// Authenticates, decodes and parses an envelope into its events; with a Relay in front,
/// `about` is set to the envelope header's event id once the body has been split.
fn accept(
    state: &IngestState,
    project: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    about: &mut Option<uuid::Uuid>,
) -> Result<(Vec<IngestedEvent>, Key), Rejection> {
    let key = authenticate(state, project, query, headers)?;
    let decoded = decode_body(headers, body)?;
    let (env_header, items) = envelope::split(&decoded).map_err(|cause| {
        reject(
            StatusCode::BAD_REQUEST,
            "invalid event envelope",
            Some(cause.to_string()),
        )
    })?;
    if let Some(log) = &state.upstream_log {
        *about = env_header
            .event_id
            .as_deref()
            .and_then(|id| uuid::Uuid::parse_str(id).ok());
        log.arrived(headers, &items);
    }
    let received = state.received_now();
    let mut events = Vec::new();
    let mut minidumps = Vec::new();
    let mut first_dump: Option<&[u8]> = None;
    for item in items.iter().filter(|i| i.header.ty == ItemType::Attachment) {
        if item.is_minidump() {
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
    for item in items.iter().filter(|i| i.header.ty.is_event()) {
        if item.payload.len() > EVENT_LIMIT {
            return Err(too_large(item.header.ty.as_str()));
        }
        let is_event = item.header.ty == ItemType::Event;
        let dump = if is_event { first_dump.take() } else { None };
        let item_event = Item {
            ty: item.header.ty.clone(),
            payload: item.payload,
            project_id: key.project_id,
            fallback_id: env_header.event_id.as_deref(),
            received,
            dump,
        };
        let mut ev = ingest_item(state, item_event)?;
        if is_event && !minidumps.is_empty() {
            ev.minidumps = std::mem::take(&mut minidumps);
            ev.native = true;
        }
        events.push(ev);
    }
    Ok((events, key))
}

/// One event or transaction item, as ingest received it.
pub(crate) struct Item<'a> {
    /// `Event` or `Transaction`.
    pub ty: ItemType,
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
        &item.ty,
        &json,
        item.project_id,
        item.fallback_id,
        item.received,
    )
    .map_err(invalid)?;
    if let Some(artifacts) = &state.processing {
        let details =
            crate::processing::process(&json, item.project_id, &ev.title, item.dump, artifacts);
        ev.details = Some(Arc::new(details));
    }
    Ok(ev)
}

/// The outcome of an event refused at the endpoint.
fn refused_outcome(state: &IngestState, ev: &IngestedEvent, outcome: u8, reason: &str) -> Outcome {
    Outcome {
        project_id: ev.project_id,
        event_id: Some(ev.event_id),
        timestamp: state.received_now(),
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

/// The project and public key of an authenticated request, and what Relay knows of the key.
pub(crate) fn authenticate(
    state: &IngestState,
    project: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Key, Rejection> {
    let project_id: u64 = project
        .parse()
        .map_err(|_| reject(StatusCode::BAD_REQUEST, "bad project path parameter", None))?;
    let auth = headers.get("x-sentry-auth").and_then(|h| h.to_str().ok());
    let key = auth::public_key(auth, query).ok_or_else(|| {
        reject(
            StatusCode::UNAUTHORIZED,
            "missing authorization information",
            None,
        )
    })?;
    if !projects::well_formed(&key) {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            "bad sentry DSN public key",
            None,
        ));
    }
    let state = state
        .configs
        .state(project_id, &key, std::time::Instant::now());
    Ok(Key {
        project_id,
        key: Arc::from(key),
        state,
    })
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
        "br" => brotli::Decompressor::new(body, 64 * 1024)
            .take(limit)
            .read_to_end(&mut out),
        other => {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                "unsupported content encoding",
                Some(format!(
                    "`{other}`; this sim decodes gzip, deflate, zstd and br"
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
        return Err(too_large("envelope"));
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::decode;
    use std::io::Write;

    /// Every value of Relay's `http.encoding` (identity, deflate, gzip, br, zstd: relay-config
    /// `config.rs`, `HttpEncoding`) decodes to the body sent.
    #[test]
    fn every_encoding_relay_sends_upstream_decodes() {
        let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n".repeat(50);
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&body).unwrap();
        let mut deflate =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        deflate.write_all(&body).unwrap();
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(&body).unwrap();
        }
        for (encoding, sent) in [
            ("identity", body.clone()),
            ("gzip", gzip.finish().unwrap()),
            ("deflate", deflate.finish().unwrap()),
            ("zstd", zstd::encode_all(&body[..], 3).unwrap()),
            ("br", br),
        ] {
            let decoded = decode(encoding, &sent).unwrap_or_else(|_| panic!("{encoding}"));
            assert_eq!(&decoded[..], &body[..], "{encoding}");
        }
        assert!(decode("br", b"not brotli").is_err());
        assert!(decode("compress", &body).is_err());
    }
}
