//! Before an ingest request's body is read: its credentials, and room for the body in
//! memory. The handlers buffer whole bodies (up to [`BODY_LIMIT`]); without this, a peer with
//! no key at all could make the sim hold that much per connection before it is refused.
//!
//! Relay, too, authenticates from the request's parts before its body: `RequestMeta` is a
//! `FromRequestParts` extractor whose `auth_from_parts` reads `X-Sentry-Auth`,
//! `Authorization`, the query or a path key, and refuses a request with none as
//! `MissingAuth` (getsentry/relay `relay-server/src/extractors/request_meta.rs` @
//! 099868efbc9741d71432f81213f6f396fabdac30). Relay answers 503 when its buffers are full; here
//! a body that does not fit in [`BUFFERED_BODIES_LIMIT`] is answered so at once.

use super::{BODY_LIMIT, IngestState, authenticate, reject};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The most request-body bytes the ingest handlers hold at once, all requests together.
pub const BUFFERED_BODIES_LIMIT: usize = 512 * 1024 * 1024;

/// The unit of room: one permit per KiB.
const PERMIT_BYTES: usize = 1024;

/// What the check before a body needs.
#[derive(Clone)]
pub(crate) struct Intake {
    ingest: Arc<IngestState>,
    room: Arc<Semaphore>,
}

impl Intake {
    pub(crate) fn new(ingest: Arc<IngestState>) -> Intake {
        Intake {
            ingest,
            room: Arc::new(Semaphore::new(BUFFERED_BODIES_LIMIT / PERMIT_BYTES)),
        }
    }
}

/// Refuses a request without credentials before its body is read, and holds room for its
/// body (what `Content-Length` says, else the most a body may be) until it is answered.
pub(crate) async fn before_body(
    State(intake): State<Intake>,
    req: Request,
    next: Next,
) -> Response {
    let project = req
        .uri()
        .path()
        .strip_prefix("/api/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned();
    if let Err(refused) = authenticate(&intake.ingest, &project, req.uri().query(), req.headers()) {
        return *refused;
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .map_or(BODY_LIMIT, |n| n.min(BODY_LIMIT as u64) as usize);
    let permits = declared.div_ceil(PERMIT_BYTES).max(1) as u32;
    let Ok(_room) = intake.room.clone().try_acquire_many_owned(permits) else {
        return *reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "the sim holds as many request bodies as it may; retry later",
            Some(format!(
                "at most {BUFFERED_BODIES_LIMIT} bytes of bodies at once"
            )),
        );
    };
    next.run(req).await
}
