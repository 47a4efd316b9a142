//! Managed Relay registration, answered as Sentry answers it.
//!
//! ```text
//! POST /api/0/relays/register/challenge/  {"relay_id","public_key","version"}  signed by that key
//!   ◀─ {"relay_id","token"}
//! POST /api/0/relays/register/response/   {"relay_id","token","version"}      signed by the same key
//!   ◀─ {"relay_id"}
//! ```
//!
//! The shapes and the self-signed bootstrap follow getsentry/relay 26.9.0 `relay-auth/src/lib.rs`
//! (`RegisterRequest::bootstrap_unpack`, `RegisterChallenge`, `RegisterResponse::unpack`; the
//! source in PyPI's `sentry-relay` 0.10.1). Registration is open, as in Sentry's default
//! (`SENTRY_RELAY_OPEN_REGISTRATION = True`, getsentry/sentry `src/sentry/conf/server.py` at
//! 8496a76c22124aed0ae5295502104fbfdad16ce3); a challenge's signature and its answer must each
//! be at most 60 s old (`max_age=60` of `create_register_challenge` and
//! `validate_register_response`, `sentry_relay/auth.py` of the same package). Unlike Sentry's
//! HMAC-signed token the sim keeps its open challenges, at most [`MAX_CHALLENGES`]; at most
//! [`MAX_RELAYS`] Relays register.

use super::Upstream;
use super::signature::{self, SignatureError};
use crate::ingest::relay_error;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ed25519_dalek::VerifyingKey;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use uuid::Uuid;

/// How long a register signature and a challenge stay valid.
pub const REGISTER_MAX_AGE: Duration = Duration::from_secs(60);
/// Relays that may register with one sim.
pub const MAX_RELAYS: usize = 256;
/// Challenges open at once; the oldest is forgotten beyond it.
pub const MAX_CHALLENGES: usize = 1024;
/// The longest registration body read.
const BODY_LIMIT: usize = 16 * 1024;

/// A registered Relay.
#[derive(Debug, Clone)]
pub struct RegisteredRelay {
    /// Its public key as it sent it.
    pub public_key: String,
    /// The key, parsed.
    pub key: VerifyingKey,
    /// The version it registered with.
    pub version: String,
}

#[derive(Debug, Clone)]
struct Challenge {
    relay_id: Uuid,
    public_key: String,
    key: VerifyingKey,
    issued: Instant,
}

/// Registered Relays and open challenges.
#[derive(Debug, Default)]
pub struct Registry {
    relays: Mutex<HashMap<Uuid, RegisteredRelay>>,
    challenges: Mutex<HashMap<String, Challenge>>,
}

impl Registry {
    /// The registered Relay `id`, if any.
    pub fn get(&self, id: &Uuid) -> Option<RegisteredRelay> {
        lock(&self.relays).get(id).cloned()
    }

    /// Every registered Relay, by id.
    pub fn all(&self) -> Vec<(Uuid, RegisteredRelay)> {
        let mut v: Vec<_> = lock(&self.relays)
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    fn open(&self, challenge: Challenge) -> String {
        let mut open = lock(&self.challenges);
        open.retain(|_, c| c.issued.elapsed() <= REGISTER_MAX_AGE);
        if open.len() >= MAX_CHALLENGES
            && let Some(oldest) = open
                .iter()
                .min_by_key(|(_, c)| c.issued)
                .map(|(t, _)| t.clone())
        {
            open.remove(&oldest);
        }
        let token = crate::relay_upstream::log::random_token();
        open.insert(token.clone(), challenge);
        token
    }

    /// The open challenge `token` of Relay `id`, if it is still valid: its key.
    fn key_of(&self, token: &str, id: Uuid) -> Option<(String, VerifyingKey)> {
        let open = lock(&self.challenges);
        let c = open.get(token)?;
        (c.relay_id == id && c.issued.elapsed() <= REGISTER_MAX_AGE)
            .then(|| (c.public_key.clone(), c.key))
    }

    /// Spends `token`: a challenge is answered once.
    fn close(&self, token: &str) -> bool {
        lock(&self.challenges).remove(token).is_some()
    }

    fn register(&self, id: Uuid, relay: RegisteredRelay) -> Result<(), Box<Response>> {
        let mut relays = lock(&self.relays);
        if relays.len() >= MAX_RELAYS && !relays.contains_key(&id) {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                &format!("this sim takes at most {MAX_RELAYS} Relays"),
            ));
        }
        relays.insert(id, relay);
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn refuse(status: StatusCode, detail: &str) -> Box<Response> {
    Box::new(relay_error(status, detail, &[]))
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, Box<Response>> {
    headers
        .get(name)
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, &format!("missing header: {name}")))?
        .to_str()
        .map_err(|_| {
            refuse(
                StatusCode::UNAUTHORIZED,
                &format!("malformed header: {name}"),
            )
        })
}

/// The Relay id a request names in `X-Sentry-Relay-Id`.
pub(crate) fn relay_id(headers: &HeaderMap) -> Result<Uuid, Box<Response>> {
    header(headers, "x-sentry-relay-id")?.parse().map_err(|_| {
        refuse(
            StatusCode::UNAUTHORIZED,
            "malformed header: x-sentry-relay-id",
        )
    })
}

/// Checks the request's `X-Sentry-Relay-Signature` over `body` against `key`.
pub(crate) fn check_signature(
    headers: &HeaderMap,
    key: &VerifyingKey,
    body: &[u8],
    max_age: Duration,
) -> Result<(), Box<Response>> {
    let sig = header(headers, "x-sentry-relay-signature")?;
    signature::verify(key, body, sig, SystemTime::now(), max_age)
        .map_err(|e: SignatureError| refuse(StatusCode::UNAUTHORIZED, &e.to_string()))
}

/// A signed request from a registered Relay: its id and the body, once the signature holds
/// (Relay's `SignedBytes` extractor, `relay-server/src/extractors/signed_json.rs`: an unknown
/// Relay, a missing or bad signature are 401).
pub(crate) fn signed_by_registered(
    upstream: &Upstream,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Uuid, Box<Response>> {
    let id = relay_id(headers)?;
    let relay = upstream
        .relays
        .get(&id)
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "unknown relay id"))?;
    check_signature(headers, &relay.key, body, signature::SIGNATURE_MAX_AGE)?;
    Ok(id)
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, Box<Response>> {
    if body.len() > BODY_LIMIT {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "registration too large",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        Box::new(relay_error(
            StatusCode::BAD_REQUEST,
            "invalid JSON data",
            &[e.to_string()],
        ))
    })
}

#[derive(Deserialize)]
struct ChallengeRequest {
    relay_id: Uuid,
    public_key: String,
}

#[derive(Deserialize)]
struct ChallengeResponse {
    relay_id: Uuid,
    token: String,
    #[serde(default)]
    version: Option<String>,
}

/// `POST /api/0/relays/register/challenge/`.
pub async fn challenge(
    State(upstream): State<Arc<Upstream>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answered = (|| -> Result<axum::Json<serde_json::Value>, Box<Response>> {
        let req: ChallengeRequest = parse(&body)?;
        let key = signature::parse_public_key(&req.public_key)
            .map_err(|e| refuse(StatusCode::BAD_REQUEST, &e.to_string()))?;
        check_signature(&headers, &key, &body, REGISTER_MAX_AGE)?;
        if relay_id(&headers)? != req.relay_id {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "relay_id does not match X-Sentry-Relay-Id",
            ));
        }
        let token = upstream.relays.open(Challenge {
            relay_id: req.relay_id,
            public_key: req.public_key,
            key,
            issued: Instant::now(),
        });
        Ok(axum::Json(
            serde_json::json!({ "relay_id": req.relay_id, "token": token }),
        ))
    })();
    answered.map_or_else(|e| *e, IntoResponse::into_response)
}

/// `POST /api/0/relays/register/response/`.
pub async fn response(
    State(upstream): State<Arc<Upstream>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answered = (|| -> Result<axum::Json<serde_json::Value>, Box<Response>> {
        let resp: ChallengeResponse = parse(&body)?;
        let (public_key, key) = upstream
            .relays
            .key_of(&resp.token, resp.relay_id)
            .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "invalid or expired token"))?;
        // Only an answer signed by the challenged key spends the challenge.
        check_signature(&headers, &key, &body, REGISTER_MAX_AGE)?;
        if !upstream.relays.close(&resp.token) {
            return Err(refuse(StatusCode::UNAUTHORIZED, "invalid or expired token"));
        }
        upstream.relays.register(
            resp.relay_id,
            RegisteredRelay {
                public_key,
                key,
                version: resp.version.unwrap_or_default(),
            },
        )?;
        Ok(axum::Json(serde_json::json!({ "relay_id": resp.relay_id })))
    })();
    answered.map_or_else(|e| *e, IntoResponse::into_response)
}
