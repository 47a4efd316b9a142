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

use super::{BODY_LIMIT, IngestState, Rejection, authenticate, reject};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The most request-body bytes the ingest handlers hold at once, all requests together.
pub const BUFFERED_BODIES_LIMIT: usize = 512 * 1024 * 1024;

/// The unit of room: one permit per KiB.
const PERMIT_BYTES: usize = 1024;

/// Room for request bodies in memory, shared by every ingest route of a sim.
#[derive(Clone)]
pub(crate) struct Room(Arc<Semaphore>);

impl Room {
    pub(crate) fn new() -> Room {
        Room(Arc::new(Semaphore::new(
            BUFFERED_BODIES_LIMIT / PERMIT_BYTES,
        )))
    }

    /// Holds room for the body `headers` announce (what `Content-Length` says, else the most
    /// a body may be) until the permit is dropped; a 503 when there is none.
    pub(crate) fn hold(&self, headers: &HeaderMap) -> Result<OwnedSemaphorePermit, Rejection> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .map_or(BODY_LIMIT, |n| n.min(BODY_LIMIT as u64) as usize);
        let permits = declared.div_ceil(PERMIT_BYTES).max(1) as u32;
        self.0.clone().try_acquire_many_owned(permits).map_err(|_| {
            reject(
                StatusCode::SERVICE_UNAVAILABLE,
                "the sim holds as many request bodies as it may; retry later",
                Some(format!(
                    "at most {BUFFERED_BODIES_LIMIT} bytes of bodies at once"
                )),
            )
        })
    }
}

/// The project in an ingest path (`/api/<project>/…`).
pub(crate) fn project_of(req: &Request) -> String {
    req.uri()
        .path()
        .strip_prefix("/api/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_owned()
}

/// What the check before a body needs.
#[derive(Clone)]
pub(crate) struct Intake {
    ingest: Arc<IngestState>,
    room: Room,
}

impl Intake {
    pub(crate) fn new(ingest: Arc<IngestState>, room: Room) -> Intake {
        Intake { ingest, room }
    }
}

/// Refuses a request without credentials before its body is read, and holds room for its
/// body (what `Content-Length` says, else the most a body may be) until it is answered.
pub(crate) async fn before_body(
    State(intake): State<Intake>,
    req: Request,
    next: Next,
) -> Response {
    let project = project_of(&req);
    if let Err(refused) = authenticate(&intake.ingest, &project, req.uri().query(), req.headers()) {
        return *refused;
    }
    let _room = match intake.room.hold(req.headers()) {
        Ok(room) => room,
        Err(full) => return *full,
    };
    next.run(req).await
}
