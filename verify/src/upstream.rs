//! The Relay-upstream check (`[verify.relay_upstream]`): after read-back, the sim that stands
//! behind a real Relay (`sentry-load sim --relay-upstream`) is asked which of the envelopes
//! Relay answered 200 it took. Relay lost those it never delivered: never sent at all (its
//! memory buffer on a restart, say), or sent, answered 502–504 — which Relay retries from
//! memory — and never sent again (getsentry/relay 26.9.0 `relay-server/src/services/
//! upstream.rs`, `is_network_error`, in the source of PyPI's `sentry-relay` 0.10.1). Those the
//! upstream refused with any other status Relay drops by design, and are counted apart. No
//! read-back through Sentry's API can tell any of them from events merely missing.
//!
//! ```text
//! journal (answered 200 by Relay) ─▶ verifier (seen or missing) ─▶ this check ─▶ report
//!                                     POST /api/0/sentry-load/upstream/arrivals/ (5,000 ids a query)
//!                                     GET  /api/0/sentry-load/upstream/ (Relays, encodings, outcomes)
//! ```
//!
//! Every answer is bounded ([`ANSWER_LIMIT`], 30 s a request) and every error names the
//! upstream without its token.

use crate::VerifyOutcome;
use crate::outcome::MissingEvent;
use enum_map::EnumMap;
use sentry_load_common::EventKind;
use sentry_load_common::http::read_body;
use sentry_load_common::redact;
use sentry_load_config::RelayUpstreamConfig;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use uuid::Uuid;

/// Ids asked about in one query (the sim takes at most 10,000).
pub const IDS_PER_QUERY: usize = 5_000;
/// The largest answer read.
pub const ANSWER_LIMIT: usize = 4 << 20;
/// Lost events listed by id, the first by sequence number.
pub const LOST_LISTED: usize = 20;
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What happened to one kind's envelopes between Relay and its upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Arrivals {
    /// Answered 200 by Relay (the events read back tracked).
    pub accepted: u64,
    /// Of those, taken by the upstream (answered 2xx).
    pub delivered: u64,
    /// Of those, taken more than once (Relay delivered them again).
    pub more_than_once: u64,
    /// Refused by the upstream with a status Relay does not retry (4xx, 500): dropped by
    /// design.
    pub refused_by_upstream: u64,
    /// Never delivered and not refused for good: lost inside Relay.
    pub lost_in_relay: u64,
    /// Of those, sent and answered 502–504, then never sent again.
    pub lost_after_retryable: u64,
    /// Read back although the upstream never took them: the read-back and the upstream are
    /// not the same sim (not counted as lost).
    pub seen_without_arriving: u64,
}

/// A Relay the upstream heard from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RelaySeen {
    /// Its `X-Sentry-Relay-Id`, or `none`.
    pub relay_id: String,
    /// Whether it registered (managed mode).
    #[serde(default)]
    pub registered: bool,
    /// Envelopes it forwarded.
    pub envelopes: u64,
}

/// Outcomes Relay reported in its client reports.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RelayOutcome {
    /// `discarded`, `rate_limited`, `filtered` or `filtered_sampling`.
    pub kind: String,
    /// Relay's reason.
    pub reason: String,
    /// The data category.
    pub category: String,
    /// How many.
    pub quantity: u64,
}

/// The check's result.
#[derive(Debug, Clone)]
pub struct UpstreamCheck {
    /// The upstream, without credentials.
    pub upstream: String,
    /// The mode it serves (`proxy`, `managed`).
    pub mode: String,
    /// Per kind.
    pub per_kind: EnumMap<EventKind, Arrivals>,
    /// The first lost events, by sequence number.
    pub lost: Vec<MissingEvent>,
    /// Events the upstream could not record (its record was full): `lost_in_relay` may count
    /// some of them.
    pub untracked: u64,
    /// Envelopes that reached the upstream, this run's and any other's.
    pub envelopes: u64,
    /// Their `Content-Encoding`s.
    pub encodings: BTreeMap<String, u64>,
    /// The Relays they came from.
    pub relays: Vec<RelaySeen>,
    /// What Relay said it dropped.
    pub outcomes: Vec<RelayOutcome>,
}

#[derive(Deserialize)]
struct Summary {
    mode: String,
    envelopes: u64,
    #[serde(default)]
    untracked: u64,
    #[serde(default)]
    encodings: BTreeMap<String, u64>,
    #[serde(default)]
    relays: Vec<RelaySeen>,
    #[serde(default)]
    outcomes: Vec<RelayOutcome>,
}

#[derive(Deserialize, Clone, Copy)]
struct ArrivalRow {
    arrived: u32,
    taken: u32,
    last_status: u16,
}

#[derive(Deserialize)]
struct ArrivalsAnswer {
    arrivals: HashMap<String, ArrivalRow>,
    #[serde(default)]
    untracked: u64,
}

/// What the upstream answered a ping: its mode and the envelopes it has taken so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinged {
    /// `proxy` or `managed`.
    pub mode: String,
    /// Envelopes taken so far.
    pub envelopes: u64,
}

/// Why a ping failed: whether the upstream did not answer at all, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingError {
    /// Nothing answered (no connection, a timeout).
    pub unreachable: bool,
    /// Secret-free.
    pub message: String,
}

/// Proves, before load is sent, that `cfg` names a sim standing as Relay's upstream and that
/// its token is right.
pub async fn ping(cfg: &RelayUpstreamConfig) -> Result<Pinged, PingError> {
    let base = cfg.url.expose();
    let shown = redact::url(base);
    let err = |what: &str, detail: String| format!("relay upstream {shown}: {what}: {detail}");
    let failed = |message| PingError {
        unreachable: false,
        message,
    };
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| failed(err("HTTP client", e.to_string())))?;
    let url = base
        .join("api/0/sentry-load/upstream/")
        .map_err(|e| failed(err("bad address", e.to_string())))?;
    summary(&client, &url, cfg.token.expose(), &err)
        .await
        .map(|s| Pinged {
            mode: s.mode,
            envelopes: s.envelopes,
        })
        .map_err(|message| PingError {
            unreachable: message.contains(": unreachable: "),
            message,
        })
}

/// One tracked event: its id, and whether it was read back.
struct Tracked {
    event: MissingEvent,
    seen: bool,
}

/// Asks the upstream about every event `outcome` tracked.
pub async fn check(
    cfg: &RelayUpstreamConfig,
    outcome: &VerifyOutcome,
) -> Result<UpstreamCheck, String> {
    let base = cfg.url.expose();
    let shown = redact::url(base);
    let err = |what: &str, detail: String| format!("relay upstream {shown}: {what}: {detail}");
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| err("HTTP client", e.to_string()))?;
    let token = cfg.token.expose();
    let summary_url = base
        .join("api/0/sentry-load/upstream/")
        .map_err(|e| err("bad address", e.to_string()))?;
    let arrivals_url = base
        .join("api/0/sentry-load/upstream/arrivals/")
        .map_err(|e| err("bad address", e.to_string()))?;

    // Asked first, so a wrong address or token fails before thousands of queries.
    summary(&client, &summary_url, token, &err).await?;
    let mut tracked: Vec<Tracked> = outcome
        .seen()
        .map(|e| Tracked {
            event: MissingEvent {
                event_id: e.event_id,
                seq: e.seq,
                kind: e.kind,
                project_id: e.project_id,
                intended_micros: e.intended_micros,
            },
            seen: true,
        })
        .chain(
            outcome
                .missing()
                .iter()
                .chain(outcome.unverified())
                .map(|e| Tracked {
                    event: *e,
                    seen: false,
                }),
        )
        .collect();
    tracked.sort_by_key(|t| t.event.seq);

    let mut per_kind: EnumMap<EventKind, Arrivals> = EnumMap::default();
    let mut lost = Vec::new();
    let mut untracked = 0;
    for batch in tracked.chunks(IDS_PER_QUERY) {
        let ids: Vec<String> = batch
            .iter()
            .map(|t| t.event.event_id.simple().to_string())
            .collect();
        let resp = client
            .post(arrivals_url.clone())
            .bearer_auth(token)
            .json(&serde_json::json!({ "event_ids": ids }))
            .send()
            .await
            .map_err(|e| err("unreachable", e.without_url().to_string()))?;
        if !resp.status().is_success() {
            return Err(err("arrivals", format!("answered {}", resp.status())));
        }
        let body = read_body(resp, ANSWER_LIMIT)
            .await
            .map_err(|e| err("arrivals", e.to_string()))?;
        let answer: ArrivalsAnswer =
            serde_json::from_slice(&body).map_err(|e| err("arrivals", e.to_string()))?;
        untracked = untracked.max(answer.untracked);
        let arrived: HashMap<Uuid, ArrivalRow> = answer
            .arrivals
            .iter()
            .filter_map(|(id, row)| Some((Uuid::parse_str(id).ok()?, *row)))
            .collect();
        for t in batch {
            let a = &mut per_kind[t.event.kind];
            a.accepted += 1;
            let row = arrived.get(&t.event.event_id).copied();
            match row {
                Some(r) if r.taken > 0 => {
                    a.delivered += 1;
                    if r.taken > 1 {
                        a.more_than_once += 1;
                    }
                }
                Some(r) if r.arrived > 0 && !(502..=504).contains(&r.last_status) => {
                    a.refused_by_upstream += 1;
                }
                // Read back, so stored somewhere: not by this upstream.
                _ if t.seen => a.seen_without_arriving += 1,
                _ => {
                    a.lost_in_relay += 1;
                    if row.is_some_and(|r| r.arrived > 0) {
                        a.lost_after_retryable += 1;
                    }
                    if lost.len() < LOST_LISTED {
                        lost.push(t.event);
                    }
                }
            }
        }
    }
    // Asked last, so the outcomes Relay reported during the read-back are in.
    let last = summary(&client, &summary_url, token, &err).await?;
    Ok(UpstreamCheck {
        untracked: untracked.max(last.untracked),
        upstream: shown,
        mode: last.mode,
        per_kind,
        lost,
        envelopes: last.envelopes,
        encodings: last.encodings,
        relays: last.relays,
        outcomes: last.outcomes,
    })
}

/// `GET /api/0/sentry-load/upstream/`: proves the address is a sim standing as Relay's
/// upstream and the token is right, and reads its totals.
async fn summary(
    client: &reqwest::Client,
    url: &url::Url,
    token: &str,
    err: &(dyn Fn(&str, String) -> String + Sync),
) -> Result<Summary, String> {
    let resp = client
        .get(url.clone())
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| err("unreachable", e.without_url().to_string()))?;
    let status = resp.status().as_u16();
    match status {
        200 => {}
        401 | 403 => {
            return Err(err(
                "refused the token",
                format!("answered {status}; give the sim's token (SENTRY_LOAD_SIM_TOKEN)"),
            ));
        }
        404 => {
            return Err(err(
                "not a sim standing as Relay's upstream",
                "GET /api/0/sentry-load/upstream/ answered 404; start it with \
                 `sentry-load sim --relay-upstream proxy` (or managed)"
                    .into(),
            ));
        }
        s => return Err(err("summary", format!("answered {s}"))),
    }
    let body = read_body(resp, ANSWER_LIMIT)
        .await
        .map_err(|e| err("summary", e.to_string()))?;
    serde_json::from_slice(&body).map_err(|e| err("summary", e.to_string()))
}
