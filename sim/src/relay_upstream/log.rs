//! The record of what reached the sim as a Relay's upstream: every envelope's arrival by event
//! id, the encodings and Relays it came with, and the outcomes Relay reported.
//!
//! Relay's outcomes arrive as `client_report` items when it runs with
//! `outcomes.emit_outcomes: as_client_reports` (its default without processing):
//! `{"timestamp", "discarded_events", "rate_limited_events", "filtered_events",
//! "filtered_sampling_events"}`, each a list of `{"reason", "category", "quantity"}`
//! (getsentry/relay 26.9.0 `relay-event-schema/src/protocol/client_report.rs`, the source in
//! PyPI's `sentry-relay` 0.10.1). They carry no event ids: they are summed by kind, reason and
//! category.
//!
//! Read through the read API's token:
//! - `GET /api/0/sentry-load/upstream/` → `{"mode", "envelopes", "events", "untracked",
//!   "encodings": {..}, "relays": [{"relay_id", "registered", "version", "envelopes"}],
//!   "config_requests", "global_config_requests", "outcomes": [{"kind", "reason", "category",
//!   "quantity"}]}`;
//! - `POST /api/0/sentry-load/upstream/arrivals/` `{"event_ids": [...]}` (at most
//!   [`MAX_IDS_PER_QUERY`]) → `{"arrivals": {id: {"arrived", "taken", "last_status"}},
//!   "untracked": n}`, listing only the ids that arrived: how often each came, how often the
//!   sim took it (a 2xx), and the status of its last answer — an envelope answered 503 and
//!   never sent again was lost by Relay all the same; `untracked` counts the events that came
//!   after the record was full
//!   ([`MAX_TRACKED_EVENTS`]), whose arrival can then be neither shown nor denied.

use super::Upstream;
use crate::ingest::relay_error;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sentry_load_common::envelope::{Item, ItemType};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use uuid::Uuid;

/// Event ids recorded at most (about 40 bytes each): 4 M, some 160 MiB.
pub const MAX_TRACKED_EVENTS: usize = 4_000_000;
/// Ids one arrivals query may ask about.
pub const MAX_IDS_PER_QUERY: usize = 10_000;
/// Distinct Relay ids, encodings and outcome keys kept; more are summed under `other`.
const MAX_KEYS: usize = 256;
/// The longest arrivals query read.
const QUERY_LIMIT: usize = 1024 * 1024;
/// The longest client report parsed.
const REPORT_LIMIT: usize = 64 * 1024;

/// One event's arrivals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Arrival {
    /// Envelopes with its id that reached the sim.
    pub arrived: u16,
    /// Of those, answered 2xx.
    pub taken: u16,
    /// The status of the last answer.
    pub last_status: u16,
}

/// What reached the sim.
#[derive(Debug, Default)]
pub struct UpstreamLog {
    envelopes: AtomicU64,
    untracked: AtomicU64,
    config_requests: AtomicU64,
    global_config_requests: AtomicU64,
    arrivals: Mutex<HashMap<Uuid, Arrival>>,
    encodings: Mutex<BTreeMap<String, u64>>,
    relays: Mutex<BTreeMap<String, u64>>,
    outcomes: Mutex<BTreeMap<(String, String, String), u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn bump(map: &Mutex<BTreeMap<String, u64>>, key: &str, by: u64) {
    let mut map = lock(map);
    let key = if map.len() >= MAX_KEYS && !map.contains_key(key) {
        "other"
    } else {
        key
    };
    *map.entry(key.to_owned()).or_default() += by;
}

impl UpstreamLog {
    /// Records an envelope that arrived: its headers and its items (client reports among
    /// them). Called once the body decoded and split, whatever the sim then answers.
    pub fn arrived(&self, headers: &HeaderMap, items: &[Item<'_>]) {
        self.envelopes.fetch_add(1, Ordering::Relaxed);
        let encoding = headers
            .get(header::CONTENT_ENCODING)
            .and_then(|h| h.to_str().ok())
            .map_or("identity", str::trim);
        bump(&self.encodings, encoding, 1);
        let relay = headers
            .get("x-sentry-relay-id")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.parse::<Uuid>().ok())
            .map_or_else(|| "none".to_owned(), |id| id.to_string());
        bump(&self.relays, &relay, 1);
        for item in items {
            if matches!(&item.header.ty, ItemType::Other(name) if name == "client_report") {
                self.client_report(item.payload);
            }
        }
    }

    /// Records the sim's answer `status` to an envelope about event `id`.
    pub fn answered(&self, id: Uuid, status: u16) {
        let mut arrivals = lock(&self.arrivals);
        let room = arrivals.len() < MAX_TRACKED_EVENTS;
        let a = match arrivals.get_mut(&id) {
            Some(a) => a,
            None if room => arrivals.entry(id).or_default(),
            None => {
                self.untracked.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        a.arrived = a.arrived.saturating_add(1);
        if (200..300).contains(&status) {
            a.taken = a.taken.saturating_add(1);
        }
        a.last_status = status;
    }

    /// Sums a client report's counters; a report that does not parse is skipped.
    fn client_report(&self, payload: &[u8]) {
        if payload.len() > REPORT_LIMIT {
            return;
        }
        #[derive(Deserialize)]
        struct Counter {
            reason: String,
            category: String,
            quantity: u64,
        }
        let Ok(report) = serde_json::from_slice::<BTreeMap<String, Value>>(payload) else {
            return;
        };
        let mut outcomes = lock(&self.outcomes);
        for kind in [
            "discarded_events",
            "rate_limited_events",
            "filtered_events",
            "filtered_sampling_events",
        ] {
            let Some(list) = report.get(kind).and_then(Value::as_array) else {
                continue;
            };
            for c in list.iter().filter_map(|c| Counter::deserialize(c).ok()) {
                let key = (
                    kind.trim_end_matches("_events").to_owned(),
                    c.reason,
                    c.category,
                );
                let key = if outcomes.len() >= MAX_KEYS && !outcomes.contains_key(&key) {
                    (key.0, "other".into(), "other".into())
                } else {
                    key
                };
                let n = outcomes.entry(key).or_default();
                *n = n.saturating_add(c.quantity);
            }
        }
    }

    /// Counts a config request of `keys` keys, and whether it asked for the global config.
    pub fn config_request(&self, keys: usize, global: bool) {
        if global {
            self.global_config_requests.fetch_add(1, Ordering::Relaxed);
        }
        if keys > 0 {
            self.config_requests.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How often `id` arrived and was taken.
    pub fn arrival(&self, id: &Uuid) -> Arrival {
        lock(&self.arrivals).get(id).copied().unwrap_or_default()
    }

    /// Envelopes that arrived.
    pub fn envelopes(&self) -> u64 {
        self.envelopes.load(Ordering::Relaxed)
    }

    /// Relay's reported outcomes: `(kind, reason, category) → quantity`.
    pub fn outcomes(&self) -> BTreeMap<(String, String, String), u64> {
        lock(&self.outcomes).clone()
    }
}

/// A random token: 32 bytes, base64url.
pub(crate) fn random_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn authorized(upstream: &Upstream, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let ok = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == upstream.token);
    if ok {
        Ok(())
    } else {
        Err(Box::new(relay_error(
            StatusCode::UNAUTHORIZED,
            "Invalid token",
            &[],
        )))
    }
}

/// `GET /api/0/sentry-load/upstream/`.
pub async fn summary(
    State(upstream): State<std::sync::Arc<Upstream>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authorized(&upstream, &headers) {
        return *e;
    }
    let log = &upstream.log;
    let relays: Vec<Value> = lock(&log.relays)
        .iter()
        .map(|(id, n)| {
            let registered = id
                .parse::<Uuid>()
                .ok()
                .and_then(|u| upstream.relays.get(&u));
            json!({
                "relay_id": id,
                "registered": registered.is_some(),
                "version": registered.map(|r| r.version),
                "envelopes": n,
            })
        })
        .collect();
    let outcomes: Vec<Value> = log
        .outcomes()
        .into_iter()
        .map(|((kind, reason, category), quantity)| {
            json!({ "kind": kind, "reason": reason, "category": category, "quantity": quantity })
        })
        .collect();
    axum::Json(json!({
        "mode": upstream.mode.as_str(),
        "envelopes": log.envelopes(),
        "events": lock(&log.arrivals).len(),
        "untracked": log.untracked.load(Ordering::Relaxed),
        "encodings": *lock(&log.encodings),
        "relays": relays,
        "registered": upstream.relays.all().len(),
        "config_requests": log.config_requests.load(Ordering::Relaxed),
        "global_config_requests": log.global_config_requests.load(Ordering::Relaxed),
        "outcomes": outcomes,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct ArrivalsQuery {
    event_ids: Vec<Value>,
}

/// `POST /api/0/sentry-load/upstream/arrivals/`.
pub async fn arrivals(
    State(upstream): State<std::sync::Arc<Upstream>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = authorized(&upstream, &headers) {
        return *e;
    }
    let bad = |detail: &str| relay_error(StatusCode::BAD_REQUEST, detail, &[]);
    if body.len() > QUERY_LIMIT {
        return relay_error(StatusCode::PAYLOAD_TOO_LARGE, "query too large", &[]);
    }
    let Ok(query) = serde_json::from_slice::<ArrivalsQuery>(&body) else {
        return bad("expected {\"event_ids\": [\"<uuid>\", …]}");
    };
    if query.event_ids.len() > MAX_IDS_PER_QUERY {
        return bad(&format!("at most {MAX_IDS_PER_QUERY} event ids a query"));
    }
    let found = lock(&upstream.log.arrivals);
    let mut arrivals = serde_json::Map::new();
    for raw in query.event_ids.iter().filter_map(Value::as_str) {
        if let Ok(id) = Uuid::parse_str(raw)
            && let Some(a) = found.get(&id)
        {
            arrivals.insert(
                id.simple().to_string(),
                json!({ "arrived": a.arrived, "taken": a.taken, "last_status": a.last_status }),
            );
        }
    }
    drop(found);
    axum::Json(json!({
        "arrivals": arrivals,
        "untracked": upstream.log.untracked.load(Ordering::Relaxed),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry_load_common::envelope;

    #[test]
    fn arrivals_and_client_reports_are_counted() {
        let log = UpstreamLog::default();
        let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
            {\"type\":\"client_report\"}\n\
            {\"discarded_events\":[{\"reason\":\"queue_overflow\",\"category\":\"error\",\"quantity\":3}],\
            \"rate_limited_events\":[{\"reason\":\"key_quota\",\"category\":\"error\",\"quantity\":2}]}\n";
        let (head, items) = envelope::split(body).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_ENCODING, "zstd".parse().unwrap());
        let id = Uuid::parse_str(head.event_id.as_deref().unwrap()).unwrap();
        for status in [503, 200] {
            log.arrived(&headers, &items);
            log.answered(id, status);
        }
        assert_eq!(
            log.arrival(&id),
            Arrival {
                arrived: 2,
                taken: 1,
                last_status: 200
            }
        );
        assert_eq!(log.envelopes(), 2);
        let outcomes = log.outcomes();
        assert_eq!(
            outcomes[&("discarded".into(), "queue_overflow".into(), "error".into())],
            6
        );
        assert_eq!(
            outcomes[&("rate_limited".into(), "key_quota".into(), "error".into())],
            4
        );
        assert_eq!(lock(&log.encodings)["zstd"], 2);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Whatever a client report holds, it is summed or skipped, never a panic, and the
        /// envelope's arrival is counted once.
        #[test]
        fn hostile_client_reports_are_skipped_without_panic(
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            quantity in proptest::prelude::any::<u64>(),
        ) {
            let log = UpstreamLog::default();
            let item = |payload| Item {
                header: envelope::ItemHeader {
                    ty: ItemType::Other("client_report".into()),
                    length: None,
                    attachment_type: None,
                },
                payload,
            };
            let counted = format!(
                "{{\"discarded_events\":[{{\"reason\":\"r\",\"category\":\"error\",\"quantity\":{quantity}}}]}}"
            );
            for _ in 0..2 {
                log.arrived(&HeaderMap::new(), &[item(&payload), item(counted.as_bytes())]);
            }
            let key = ("discarded".to_owned(), "r".to_owned(), "error".to_owned());
            proptest::prop_assert!(log.outcomes()[&key] >= quantity);
            proptest::prop_assert_eq!(log.envelopes(), 2);
        }
    }
}
