//! Project and global configs for a managed Relay, and the public keys of registered Relays.
//!
//! `POST /api/0/relays/projectconfigs/?version=3` carries either
//! `{"global": true, "publicKeys": []}` (the global config, every 10 s) or
//! `{"publicKeys": [...], "revisions": [...], "fullConfig": bool, "noCache": bool}`, and is
//! answered `{"configs": {key: state}, "pending": [], "unchanged": [...]}` plus, for the first,
//! `"global"` and `"globalStatus": "ready"` (getsentry/relay 26.9.0, the source in PyPI's
//! `sentry-relay` 0.10.1: `relay-server/src/services/projects/source/upstream.rs`,
//! `GetProjectStates` and `GetProjectStatesResponse`; `services/global_config.rs`,
//! `GetGlobalConfig` and `GetGlobalConfigResponse`).
//!
//! A key's state is `ParsedProjectState` (`services/projects/project/mod.rs` and `info.rs`):
//! `disabled`, then `projectId`, `lastChange`, `rev`, `publicKeys` (one), `slug`, `config`,
//! `organizationId`. A disabled key is `{"disabled": true}`; so is a key the sim does not know
//! (Relay also takes a missing key as disabled: `ErrorBoundary::Ok(None) =>
//! ProjectState::Disabled`). The config allows every origin and carries no quotas: a Relay that
//! does not process enforces no counted quota itself, and learns the sim's limits from its 429s
//! as in proxy mode. Revisions the Relay already holds come back in `unchanged` when it sent a
//! revision for every key, as the response's docs require.
//!
//! `POST /api/0/relays/publickeys/` `{"relay_ids": [...]}` → `{"relays": {id: {"publicKey",
//! "internal"} or null}}` (`services/relays.rs`, `GetRelays`, `RelayInfo`).

use super::Upstream;
use super::register::signed_by_registered;
use crate::ingest::relay_error;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Keys one config request may ask for (Relay batches 500: `cache.batch_size`).
pub const MAX_KEYS_PER_REQUEST: usize = 5_000;
/// The longest config request read.
const BODY_LIMIT: usize = 4 * 1024 * 1024;
/// The organization every sim project belongs to.
const ORGANIZATION_ID: u64 = 1;

/// One key of the sim, as a project config.
#[derive(Debug, Clone)]
struct KeyConfig {
    project_id: u64,
    active: bool,
    numeric_id: u64,
}

/// The sim's keys, as project configs.
#[derive(Debug)]
pub struct ProjectTable {
    keys: HashMap<String, KeyConfig>,
    /// When the configs were made, as `lastChange`.
    made: String,
}

impl ProjectTable {
    /// The table of `(project id, public key, active)`.
    pub fn new(keys: impl IntoIterator<Item = (u64, String, bool)>) -> ProjectTable {
        let keys = keys
            .into_iter()
            .enumerate()
            .map(|(i, (project_id, key, active))| {
                (
                    key,
                    KeyConfig {
                        project_id,
                        active,
                        numeric_id: i as u64 + 1,
                    },
                )
            })
            .collect();
        ProjectTable {
            keys,
            made: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }

    /// The revision of `key`'s config: it changes with what the config says.
    fn revision(&self, key: &str) -> String {
        match self.keys.get(key) {
            Some(k) => format!("{:x}-{}-{}", k.project_id, k.numeric_id, k.active),
            None => "unknown".into(),
        }
    }

    /// `key`'s `ParsedProjectState`.
    pub fn state(&self, key: &str) -> Value {
        let Some(k) = self.keys.get(key).filter(|k| k.active) else {
            return json!({ "disabled": true });
        };
        json!({
            "disabled": false,
            "projectId": k.project_id,
            "lastChange": self.made,
            "rev": self.revision(key),
            "publicKeys": [{ "publicKey": key, "numericId": k.numeric_id }],
            "slug": format!("project-{}", k.project_id),
            "config": project_config(),
            "organizationId": ORGANIZATION_ID,
        })
    }
}

/// The `config` of every enabled key: every origin allowed, nothing scrubbed beyond Relay's
/// defaults, no quotas.
pub fn project_config() -> Value {
    json!({
        "allowedDomains": ["*"],
        "trustedRelays": [],
        "piiConfig": null,
    })
}

/// The global config: Relay's defaults (every field of `GlobalConfig` has one).
pub fn global_config() -> Value {
    json!({})
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigsRequest {
    #[serde(default)]
    public_keys: Vec<Value>,
    #[serde(default)]
    revisions: Option<Vec<Option<String>>>,
    #[serde(default)]
    global: bool,
}

fn bad(detail: &str, cause: String) -> Box<Response> {
    Box::new(relay_error(StatusCode::BAD_REQUEST, detail, &[cause]))
}

/// A signed request's body, decoded within [`BODY_LIMIT`] and parsed; an unknown Relay is
/// refused before anything is decoded.
fn parse_signed<T: serde::de::DeserializeOwned>(
    upstream: &Upstream,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Box<Response>> {
    if upstream
        .relays
        .get(&super::register::relay_id(headers)?)
        .is_none()
    {
        return Err(Box::new(relay_error(
            StatusCode::UNAUTHORIZED,
            "unknown relay id",
            &[],
        )));
    }
    if body.len() > BODY_LIMIT {
        return Err(Box::new(relay_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request too large",
            &[],
        )));
    }
    let decoded = crate::ingest::decode_body(headers, body)?.into_owned();
    if decoded.len() > BODY_LIMIT {
        return Err(bad("request too large", "decoded".into()));
    }
    signed_by_registered(upstream, headers, &decoded)?;
    serde_json::from_slice(&decoded).map_err(|e| bad("invalid JSON data", e.to_string()))
}

/// `POST /api/0/relays/projectconfigs/?version=3`.
pub async fn project_configs(
    State(upstream): State<Arc<Upstream>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answered = (|| -> Result<axum::Json<serde_json::Value>, Box<Response>> {
        let req: ConfigsRequest = parse_signed(&upstream, &headers, &body)?;
        if req.public_keys.len() > MAX_KEYS_PER_REQUEST {
            return Err(bad(
                "too many keys",
                format!("at most {MAX_KEYS_PER_REQUEST} a request"),
            ));
        }
        let keys: Vec<String> = req
            .public_keys
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
        let revisions = req
            .revisions
            .filter(|r| r.len() == keys.len() && r.iter().all(Option::is_some));
        let mut configs = Map::new();
        let mut unchanged = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let held = revisions.as_ref().and_then(|r| r[i].as_deref());
            if held == Some(upstream.projects.revision(key).as_str()) {
                unchanged.push(Value::from(key.as_str()));
            } else {
                configs.insert(key.clone(), upstream.projects.state(key));
            }
        }
        let mut answer = json!({ "configs": configs, "pending": [], "unchanged": unchanged });
        if req.global {
            answer["global"] = global_config();
            answer["globalStatus"] = "ready".into();
        }
        upstream.log.config_request(keys.len(), req.global);
        Ok(axum::Json(answer))
    })();
    answered.map_or_else(|e| *e, IntoResponse::into_response)
}

#[derive(Deserialize)]
struct RelaysRequest {
    #[serde(default)]
    relay_ids: Vec<Value>,
}

/// `POST /api/0/relays/publickeys/`.
pub async fn public_keys(
    State(upstream): State<Arc<Upstream>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answered = (|| -> Result<axum::Json<serde_json::Value>, Box<Response>> {
        let req: RelaysRequest = parse_signed(&upstream, &headers, &body)?;
        if req.relay_ids.len() > MAX_KEYS_PER_REQUEST {
            return Err(bad(
                "too many relay ids",
                format!("at most {MAX_KEYS_PER_REQUEST} a request"),
            ));
        }
        let mut relays = Map::new();
        for id in req.relay_ids.iter().filter_map(Value::as_str) {
            let info = id
                .parse::<Uuid>()
                .ok()
                .and_then(|id| upstream.relays.get(&id))
                .map_or(
                    Value::Null,
                    |r| json!({ "publicKey": r.public_key, "internal": false }),
                );
            relays.insert(id.to_owned(), info);
        }
        Ok(axum::Json(json!({ "relays": relays })))
    })();
    answered.map_or_else(|e| *e, IntoResponse::into_response)
}
