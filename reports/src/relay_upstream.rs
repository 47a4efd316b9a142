//! The Relay-and-its-upstream part of the report (`[verify.relay_upstream]`): of the envelopes
//! a real Relay answered 200, how many reached the sim behind it, how many it sent more than
//! once, and how many it lost — with what Relay itself said it dropped (its client reports),
//! which Relays forwarded, and in which encodings.
//!
//! The verifier's [`UpstreamCheck`] is the input; the report keeps this section, and the gate
//! `max_lost_in_relay_ratio` reads it.

use crate::tables::Table;
use sentry_load_common::{EventKind, Percent};
use sentry_load_verify::upstream::UpstreamCheck;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One kind's (or all kinds') envelopes between Relay and its upstream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpstreamArrivals {
    /// `error`, `transaction`, … or `all`.
    pub kind: String,
    /// Answered 200 by Relay.
    pub accepted: u64,
    /// Of those, taken by the upstream (answered 2xx).
    pub delivered: u64,
    /// Of those, taken more than once.
    pub more_than_once: u64,
    /// Refused by the upstream with a status Relay does not retry (4xx, 500), and dropped.
    pub refused_by_upstream: u64,
    /// Never delivered: lost inside Relay.
    pub lost_in_relay: u64,
    /// Of those, sent and answered 502–504 (which Relay retries), then never sent again.
    pub lost_after_retryable: u64,
    /// Read back although the upstream never took them (the read-back is another sim).
    pub seen_without_arriving: u64,
}

/// One event Relay answered 200 and never forwarded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LostInRelay {
    /// Its sequence number.
    pub seq: u64,
    /// Its kind.
    pub kind: String,
    /// Its id.
    pub event_id: String,
}

/// A Relay the upstream heard from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpstreamRelay {
    /// Its `X-Sentry-Relay-Id` (`none` in proxy mode without credentials).
    pub relay_id: String,
    /// Whether it registered (managed mode).
    pub registered: bool,
    /// Envelopes it forwarded.
    pub envelopes: u64,
}

/// A count Relay reported in its client reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RelayReported {
    /// `discarded`, `rate_limited`, `filtered`, `filtered_sampling`.
    pub kind: String,
    /// Relay's reason.
    pub reason: String,
    /// The data category.
    pub category: String,
    /// How many.
    pub quantity: u64,
}

/// The section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RelayUpstreamSection {
    /// The upstream asked, without credentials.
    pub upstream: String,
    /// Why the check could not run, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The Relay mode the upstream serves.
    pub mode: String,
    /// Every kind together.
    pub total: UpstreamArrivals,
    /// Per kind, in report order.
    pub kinds: Vec<UpstreamArrivals>,
    /// The first lost events, by sequence number.
    pub lost: Vec<LostInRelay>,
    /// Events the upstream's record had no room for: `lost_in_relay` is then an upper bound.
    pub untracked: u64,
    /// Envelopes that reached the upstream (this run's, client reports and any other's).
    pub envelopes: u64,
    /// Their `Content-Encoding`s.
    pub encodings: BTreeMap<String, u64>,
    /// The Relays they came from.
    pub relays: Vec<UpstreamRelay>,
    /// What Relay said it dropped.
    pub reported: Vec<RelayReported>,
    /// One sentence for the verdicts.
    pub sentence: String,
}

impl RelayUpstreamSection {
    /// The lost share of Relay's 200s, when measured.
    pub fn lost_ratio(&self) -> Option<f64> {
        (self.error.is_none() && self.total.accepted > 0)
            .then(|| self.total.lost_in_relay as f64 / self.total.accepted as f64)
    }
}

/// The section of a check's result.
pub fn section(check: Result<UpstreamCheck, String>, upstream: &str) -> RelayUpstreamSection {
    let c = match check {
        Ok(c) => c,
        Err(e) => {
            return RelayUpstreamSection {
                upstream: upstream.to_owned(),
                sentence: format!("the Relay-upstream check failed: {e}"),
                error: Some(e),
                mode: String::new(),
                total: UpstreamArrivals {
                    kind: "all".into(),
                    ..Default::default()
                },
                kinds: vec![],
                lost: vec![],
                untracked: 0,
                envelopes: 0,
                encodings: BTreeMap::new(),
                relays: vec![],
                reported: vec![],
            };
        }
    };
    let mut total = UpstreamArrivals {
        kind: "all".into(),
        ..Default::default()
    };
    let kinds: Vec<UpstreamArrivals> = EventKind::ALL
        .iter()
        .filter(|k| c.per_kind[**k].accepted > 0)
        .map(|k| {
            let a = c.per_kind[*k];
            total.accepted += a.accepted;
            total.delivered += a.delivered;
            total.more_than_once += a.more_than_once;
            total.refused_by_upstream += a.refused_by_upstream;
            total.lost_in_relay += a.lost_in_relay;
            total.lost_after_retryable += a.lost_after_retryable;
            total.seen_without_arriving += a.seen_without_arriving;
            UpstreamArrivals {
                kind: k.as_str().into(),
                accepted: a.accepted,
                delivered: a.delivered,
                more_than_once: a.more_than_once,
                refused_by_upstream: a.refused_by_upstream,
                lost_in_relay: a.lost_in_relay,
                lost_after_retryable: a.lost_after_retryable,
                seen_without_arriving: a.seen_without_arriving,
            }
        })
        .collect();
    let reported: Vec<RelayReported> = c
        .outcomes
        .iter()
        .map(|o| RelayReported {
            kind: o.kind.clone(),
            reason: o.reason.clone(),
            category: o.category.clone(),
            quantity: o.quantity,
        })
        .collect();
    let sentence = sentence(&total, c.untracked, &reported);
    RelayUpstreamSection {
        upstream: c.upstream,
        error: None,
        mode: c.mode,
        total,
        kinds,
        lost: c
            .lost
            .iter()
            .map(|e| LostInRelay {
                seq: e.seq,
                kind: e.kind.as_str().into(),
                event_id: e.event_id.simple().to_string(),
            })
            .collect(),
        untracked: c.untracked,
        envelopes: c.envelopes,
        encodings: c.encodings,
        relays: c
            .relays
            .iter()
            .map(|r| UpstreamRelay {
                relay_id: r.relay_id.clone(),
                registered: r.registered,
                envelopes: r.envelopes,
            })
            .collect(),
        reported,
        sentence,
    }
}

fn sentence(t: &UpstreamArrivals, untracked: u64, reported: &[RelayReported]) -> String {
    let mut s = format!(
        "Relay answered 200 to {} envelopes: its upstream took {}, Relay lost {} ({})",
        t.accepted,
        t.delivered,
        t.lost_in_relay,
        Percent::part(t.lost_in_relay, t.accepted.max(1)),
    );
    if t.lost_after_retryable > 0 {
        s.push_str(&format!(
            ", {} of them after the upstream answered 502–504 (which Relay retries)",
            t.lost_after_retryable
        ));
    }
    if t.refused_by_upstream > 0 {
        s.push_str(&format!(
            "; the upstream refused {} for good (4xx or 500, which Relay drops)",
            t.refused_by_upstream
        ));
    }
    if t.more_than_once > 0 {
        s.push_str(&format!("; delivered more than once: {}", t.more_than_once));
    }
    let said: u64 = reported.iter().map(|r| r.quantity).sum();
    if t.lost_in_relay > 0 {
        s.push_str(&if said == 0 {
            "; Relay reported no outcome for any of them".to_owned()
        } else {
            format!("; Relay's client reports account for {said} dropped items in all")
        });
    }
    if t.seen_without_arriving > 0 {
        s.push_str(&format!(
            "; {} were read back without reaching this upstream: the read-back and \
             [verify.relay_upstream] name different sims",
            t.seen_without_arriving
        ));
    }
    if untracked > 0 {
        s.push_str(&format!(
            "; the upstream's record was full for {untracked} events, so the loss is an upper \
             bound"
        ));
    }
    s
}

/// The per-kind table.
pub fn arrivals_table(s: &RelayUpstreamSection) -> Table {
    let row = |a: &UpstreamArrivals| {
        vec![
            a.kind.clone(),
            a.accepted.to_string(),
            a.delivered.to_string(),
            a.more_than_once.to_string(),
            a.refused_by_upstream.to_string(),
            a.lost_in_relay.to_string(),
            a.lost_after_retryable.to_string(),
            Percent::part(a.lost_in_relay, a.accepted.max(1)).to_string(),
        ]
    };
    let mut rows: Vec<Vec<String>> = s.kinds.iter().map(row).collect();
    if s.kinds.len() > 1 {
        rows.push(row(&s.total));
    }
    Table {
        headers: &[
            "kind",
            "answered 200 by Relay",
            "taken by the upstream",
            "more than once",
            "refused by the upstream",
            "lost in Relay",
            "of them after a 502–504",
            "lost share",
        ],
        rows,
    }
}

/// What Relay reported dropping, and who forwarded in which encodings.
pub fn relay_table(s: &RelayUpstreamSection) -> Table {
    let mut rows: Vec<Vec<String>> = s
        .reported
        .iter()
        .map(|r| {
            vec![
                format!("outcome {}", r.kind),
                format!("{} ({})", r.reason, r.category),
                r.quantity.to_string(),
            ]
        })
        .collect();
    rows.extend(s.relays.iter().map(|r| {
        vec![
            "relay".into(),
            format!(
                "{}{}",
                r.relay_id,
                if r.registered { " (registered)" } else { "" }
            ),
            r.envelopes.to_string(),
        ]
    }));
    rows.extend(
        s.encodings
            .iter()
            .map(|(e, n)| vec!["encoding".into(), e.clone(), n.to_string()]),
    );
    Table {
        headers: &["", "what", "count"],
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enum_map::EnumMap;
    use sentry_load_verify::upstream::{Arrivals, RelayOutcome};

    #[test]
    fn the_sentence_counts_what_relay_lost_and_said() {
        let mut per_kind: EnumMap<EventKind, Arrivals> = EnumMap::default();
        per_kind[EventKind::Error] = Arrivals {
            accepted: 1875,
            delivered: 1510,
            more_than_once: 3,
            refused_by_upstream: 5,
            lost_in_relay: 360,
            lost_after_retryable: 200,
            seen_without_arriving: 0,
        };
        let c = UpstreamCheck {
            upstream: "http://127.0.0.1:9100/".into(),
            mode: "proxy".into(),
            per_kind,
            lost: vec![],
            untracked: 0,
            envelopes: 1518,
            encodings: BTreeMap::from([("zstd".into(), 1518)]),
            relays: vec![],
            outcomes: vec![RelayOutcome {
                kind: "rate_limited".into(),
                reason: "key_quota".into(),
                category: "error".into(),
                quantity: 2,
            }],
        };
        let s = section(Ok(c), "x");
        assert_eq!(s.total.lost_in_relay, 360);
        assert_eq!(
            s.sentence,
            "Relay answered 200 to 1875 envelopes: its upstream took 1510, Relay lost 360 \
             (19.2 %), 200 of them after the upstream answered 502–504 (which Relay retries); the \
             upstream refused 5 for good (4xx or 500, which Relay drops); delivered more than \
             once: 3; Relay's client reports account for 2 dropped items in all"
        );
        assert!((s.lost_ratio().unwrap() - 360.0 / 1875.0).abs() < 1e-12);
        assert_eq!(arrivals_table(&s).rows.len(), 1);
        let failed = section(Err("unreachable".into()), "http://127.0.0.1:9100/");
        assert_eq!(failed.lost_ratio(), None);
    }
}
