//! Where events go: the endpoints and auth header of one DSN, for the protocol the deployment
//! speaks.
//!
//! - `envelope` (Relay, Sentry 10 and later): every kind to `…/api/<id>/envelope/`;
//! - `store` (Sentry 9.1, which has no envelope endpoint: getsentry/sentry `src/sentry/web/
//!   urls.py` at tag 9.1.2, blob f910df8a7f20777a97ec977c383f482ae204623c): an event as JSON
//!   to `…/api/<id>/store/` with `X-Sentry-Auth` (`sentry_version=7`, the key, the secret when
//!   the DSN has one: `src/sentry/coreapi.py`, blob cdc437134f9bf3a9110fb54ea3ed8559b7588bee,
//!   `ClientAuthHelper`); a native crash as multipart to `…/api/<id>/minidump/?sentry_key=`,
//!   the only auth `MinidumpView` reads (`src/sentry/web/api.py`, blob
//!   dc794956a8ecdece90648196a5df6d33bb6ce070); no transactions (9.1 has no transaction event
//!   type: `src/sentry/eventtypes/__init__.py`).

use sentry_load_common::EventKind;
use sentry_load_config::Protocol;
use std::fmt;
use std::sync::Arc;
use url::Url;

/// Which endpoint of a target a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/api/<id>/envelope/`, an envelope.
    Envelope,
    /// `/api/<id>/store/`, one event as JSON.
    Store,
    /// `/api/<id>/minidump/`, multipart: the event and the minidump.
    Minidump,
}

impl Endpoint {
    /// Every endpoint, by [`Endpoint::index`].
    pub const ALL: [Endpoint; 3] = [Endpoint::Envelope, Endpoint::Store, Endpoint::Minidump];

    /// The position in [`Endpoint::ALL`].
    pub fn index(self) -> usize {
        match self {
            Endpoint::Envelope => 0,
            Endpoint::Store => 1,
            Endpoint::Minidump => 2,
        }
    }

    /// The request body's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Endpoint::Envelope => "application/x-sentry-envelope",
            Endpoint::Store => "application/json",
            Endpoint::Minidump => crate::generate::store::MINIDUMP_CONTENT_TYPE,
        }
    }
}

/// One destination of a run.
#[derive(Clone)]
pub struct Target {
    /// Index in the journal header's target list.
    pub index: u16,
    /// The project sends go to.
    pub project_id: u64,
    /// How the deployment takes events.
    pub protocol: Protocol,
    /// `…/api/<project_id>/envelope/`.
    pub envelope_url: Url,
    /// `…/api/<project_id>/store/`.
    pub store_url: Url,
    /// `…/api/<project_id>/minidump/?sentry_key=<public key>`.
    pub minidump_url: Url,
    /// The `X-Sentry-Auth` value; may hold a secret, so `Debug` hides it.
    pub auth_header: String,
    /// The redacted DSN, for output.
    pub display: String,
}

impl Target {
    /// The target a DSN names, taking envelopes.
    pub fn from_dsn(index: u16, dsn: &sentry_load_config::Dsn) -> Target {
        Target::speaking(index, dsn, Protocol::Envelope)
    }

    /// The target a DSN names, taking events by `protocol`.
    pub fn speaking(index: u16, dsn: &sentry_load_config::Dsn, protocol: Protocol) -> Target {
        let sdk = dsn.sentry_dsn();
        let client = format!("sentry-load/{}", sentry_load_common::TOOL_VERSION);
        let mut minidump_url = sdk.envelope_api_url();
        minidump_url.set_path(&minidump_url.path().replace("/envelope/", "/minidump/"));
        minidump_url.set_query(Some(&format!("sentry_key={}", sdk.public_key())));
        Target {
            index,
            project_id: dsn.project_id(),
            protocol,
            envelope_url: sdk.envelope_api_url(),
            store_url: sdk.store_api_url(),
            minidump_url,
            auth_header: sdk.to_auth(Some(&client)).to_string(),
            display: dsn.redacted().to_owned(),
        }
    }

    /// Where an event of `kind` goes; `None` when the protocol cannot carry it.
    pub fn endpoint(&self, kind: EventKind) -> Option<Endpoint> {
        match (self.protocol, kind) {
            (Protocol::Envelope, _) => Some(Endpoint::Envelope),
            (Protocol::Store, EventKind::Transaction) => None,
            (Protocol::Store, EventKind::Native) => Some(Endpoint::Minidump),
            (Protocol::Store, EventKind::Error | EventKind::Javascript) => Some(Endpoint::Store),
        }
    }

    /// The URL of `endpoint`.
    pub fn url(&self, endpoint: Endpoint) -> &Url {
        match endpoint {
            Endpoint::Envelope => &self.envelope_url,
            Endpoint::Store => &self.store_url,
            Endpoint::Minidump => &self.minidump_url,
        }
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("index", &self.index)
            .field("project_id", &self.project_id)
            .field("display", &self.display)
            .finish_non_exhaustive()
    }
}

/// Picks each arrival's target by weight, from the sequence number alone, so a shard or a
/// re-run routes every event the same way.
#[derive(Debug, Clone)]
pub struct Router {
    targets: Vec<Arc<Target>>,
    cumulative: Vec<f64>,
    seed: u64,
}

impl Router {
    /// One target gets everything.
    pub fn single(target: Target) -> Router {
        Router::weighted(vec![(target, 1.0)], 0)
    }

    /// Targets with relative weights (those of weight 0 get nothing).
    pub fn weighted(targets: Vec<(Target, f64)>, seed: u64) -> Router {
        let mut total = 0.0;
        let mut cumulative = Vec::with_capacity(targets.len());
        let targets = targets
            .into_iter()
            .map(|(t, w)| {
                total += w.max(0.0);
                cumulative.push(total);
                Arc::new(t)
            })
            .collect();
        Router {
            targets,
            cumulative,
            seed,
        }
    }

    /// Every target, by index.
    pub fn targets(&self) -> &[Arc<Target>] {
        &self.targets
    }

    /// The target of sequence number `seq`.
    pub fn pick(&self, seq: u64) -> &Arc<Target> {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        if self.targets.len() == 1 || total <= 0.0 {
            return &self.targets[0];
        }
        let x = unit_interval(self.seed ^ seq.wrapping_mul(0xa076_1d64_78bd_642f)) * total;
        let i = self.cumulative.partition_point(|c| *c <= x);
        &self.targets[i.min(self.targets.len() - 1)]
    }
}

/// A well-mixed value in [0, 1) from a 64-bit input (SplitMix64's finalizer).
fn unit_interval(z: u64) -> f64 {
    (sentry_load_common::hash::finalize(z) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(index: u16, project: u64) -> Target {
        let dsn: sentry_load_config::Dsn =
            format!("http://k@127.0.0.1:9/{project}").parse().unwrap();
        Target::from_dsn(index, &dsn)
    }

    #[test]
    fn weights_are_honoured_and_picks_are_stable() {
        let r = Router::weighted(
            vec![
                (target(0, 1), 3.0),
                (target(1, 2), 1.0),
                (target(2, 3), 0.0),
            ],
            5,
        );
        let mut counts = [0u32; 3];
        for seq in 0..100_000 {
            counts[usize::from(r.pick(seq).index)] += 1;
        }
        assert!(
            (counts[0] as f64 / 75_000.0 - 1.0).abs() < 0.02,
            "{counts:?}"
        );
        assert!(
            (counts[1] as f64 / 25_000.0 - 1.0).abs() < 0.04,
            "{counts:?}"
        );
        assert_eq!(counts[2], 0);
        assert_eq!(r.pick(12_345).index, r.clone().pick(12_345).index);
    }
}
