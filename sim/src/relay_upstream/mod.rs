//! The sim as the upstream of a real Relay (`sentry-load sim --relay-upstream proxy|managed`):
//! the operator's own Relay stands between the harness and the sim, and the sim answers it as
//! Sentry does, so that Relay alone is measured: its throughput, its 429s and 503s, and what it
//! loses.
//!
//! ```text
//! harness ──▶ Relay (the operator's image and config) ──▶ sim ── record of every arrival
//!                                                          └── the usual pipeline and store
//! ```
//!
//! What Relay 26.9.0 asks of its upstream (getsentry/relay, the source in PyPI's
//! `sentry-relay` 0.10.1; the mode list in relay-config `config.rs` at
//! 00191ff783db81675131903b8c5b289de8cfd903):
//! - both modes forward envelopes to `POST /api/<project>/envelope/` with the client's
//!   `X-Sentry-Auth`, the body compressed per `http.encoding` (zstd by default: relay-config
//!   `config.rs`, `encoding: HttpEncoding::Zstd`), and `X-Sentry-Relay-Id` when the Relay has
//!   credentials (`relay-server/src/services/upstream.rs`, `set_relay_id`);
//! - both probe `GET /api/0/relays/live/` once the upstream fails for `http.outage_grace_period`
//!   (`GetHealthCheck`); any success ends the outage;
//! - it retries 502–504 and connection errors in memory, and takes every other answer,
//!   4xx and 500 included, as received: the envelope is gone (`is_received`,
//!   `is_network_error` in `services/upstream.rs`);
//! - proxy mode asks for nothing else: every project is allowed (`ProjectState::new_allowed`,
//!   `services/projects/project/mod.rs`);
//! - managed mode first registers ([`register`]), then fetches the global config and every key's
//!   project config through `POST /api/0/relays/projectconfigs/?version=3`, and the public keys
//!   of Relays that connect to it through `POST /api/0/relays/publickeys/` ([`configs`]); those
//!   requests are signed ([`signature`]);
//! - with `outcomes.emit_outcomes: as_client_reports`, its outcomes arrive as `client_report`
//!   items ([`log`]).
//!
//! Every envelope that reaches the sim is recorded ([`log::UpstreamLog`]), so a run can count
//! the envelopes Relay answered 200 that never arrived: `GET /api/0/sentry-load/upstream/` and
//! `POST /api/0/sentry-load/upstream/arrivals/`, behind the read API's token.

pub mod configs;
pub mod log;
pub mod register;
pub mod signature;

use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;

/// How the Relay in front of the sim runs (`relay.mode` in its `config.yml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamMode {
    /// `proxy`: forwards everything; asks only for the health check.
    Proxy,
    /// `managed`: registers, and fetches global and project configs.
    Managed,
}

impl UpstreamMode {
    /// Its name in Relay's config.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamMode::Proxy => "proxy",
            UpstreamMode::Managed => "managed",
        }
    }
}

/// What the upstream endpoints share.
pub struct Upstream {
    /// The mode served.
    pub mode: UpstreamMode,
    /// Registered Relays and open challenges (managed mode).
    pub relays: register::Registry,
    /// The sim's projects and keys, as project configs.
    pub projects: configs::ProjectTable,
    /// Every arrival, and Relay's own outcomes.
    pub log: Arc<log::UpstreamLog>,
    /// The read API's token, which the record's endpoints require.
    pub token: String,
}

/// The routes of the upstream mode: the health check in both modes, registration and configs
/// in managed mode, and the record of arrivals.
pub fn routes(upstream: Arc<Upstream>) -> Router {
    let mut router = Router::new()
        .route("/api/0/relays/live/", get(live))
        .route("/api/0/sentry-load/upstream/", get(log::summary))
        .route("/api/0/sentry-load/upstream/arrivals/", post(log::arrivals));
    if upstream.mode == UpstreamMode::Managed {
        router = router
            .route(
                "/api/0/relays/register/challenge/",
                post(register::challenge),
            )
            .route("/api/0/relays/register/response/", post(register::response))
            .route(
                "/api/0/relays/projectconfigs/",
                post(configs::project_configs),
            )
            .route("/api/0/relays/publickeys/", post(configs::public_keys));
    }
    router.with_state(upstream)
}

/// `GET /api/0/relays/live/`: what Relay's own health check answers
/// (`relay-server/src/endpoints/health_check.rs`: `{"is_healthy": true}`).
async fn live() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "is_healthy": true }))
}
