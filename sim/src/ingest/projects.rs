//! Relay's view of a public key: nothing until its project config is fetched, then valid
//! (the key belongs to the URL's project and is active) or not. What the endpoint answers, and
//! what becomes of the envelopes that arrive before the config, follow Relay:
//!
//! - a key Relay has not seen is `Pending`: the endpoint cannot check it, answers **200** and
//!   buffers the envelope until the config arrives (getsentry/relay
//!   `relay-server/src/services/projects/cache/project.rs` at
//!   012283f9e6983d8a5d9108889b9c5bbbcbeda996: `ProjectState::Pending => None` skips the
//!   project checks; the envelope buffer, `relay-server/src/services/buffer/mod.rs`, keeps it
//!   until the project is ready);
//! - when the config says the key is unknown or disabled, the buffered envelopes are dropped
//!   with outcome `invalid`, reason `project_id` (`pop_and_forward`:
//!   `Outcome::Invalid(DiscardReason::ProjectId)`), and from then on the endpoint answers
//!   **403** `{"detail":"event submission rejected with_reason: ProjectId"}`
//!   (`relay-server/src/endpoints/common.rs`, `BadStoreRequest::EventRejected` → 403); a key
//!   that does not belong to the URL's project is refused the same way
//!   (`relay-server/src/services/projects/project/info.rs` at
//!   06e9b6cb625ccb08500a8e444bb88da795c19ffa: `is_valid_project_id`, `is_matching_key`);
//! - fetches are batched every 100 ms (`cache.batch_interval`, relay-config `config.rs` at
//!   00191ff783db81675131903b8c5b289de8cfd903), so the first envelopes of every key wait
//!   about that long, plus the upstream's answer, before processing starts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What Relay knows of a key for a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// The config is being fetched until this instant: accept, and hold the events.
    Fetching {
        /// When the config arrives.
        until: Instant,
        /// Whether it will say the key is valid for the project.
        valid: bool,
    },
    /// The config is cached: the key is valid for the project.
    Valid,
    /// The config is cached: the key is unknown, disabled or another project's.
    Invalid,
}

/// The per-key states, and how long a config fetch takes.
#[derive(Debug)]
pub struct ProjectConfigs {
    /// `(project id, public key)` pairs that are valid and active.
    valid: HashMap<(u64, String), bool>,
    fetch: Duration,
    states: Mutex<HashMap<(u64, String), KeyState>>,
}

impl ProjectConfigs {
    /// Keys by project, each active or not, with a config fetch taking `fetch`.
    pub fn new(keys: impl IntoIterator<Item = (u64, String, bool)>, fetch: Duration) -> Self {
        ProjectConfigs {
            valid: keys
                .into_iter()
                .map(|(p, k, active)| ((p, k), active))
                .collect(),
            fetch,
            states: Mutex::default(),
        }
    }

    /// The state of `key` for `project` for a request arriving at `now`; the first request
    /// starts the fetch.
    pub fn state(&self, project: u64, key: &str, now: Instant) -> KeyState {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let entry = states.entry((project, key.to_owned())).or_insert_with(|| {
            let valid = self
                .valid
                .get(&(project, key.to_owned()))
                .copied()
                .unwrap_or(false);
            if self.fetch.is_zero() {
                settled(valid)
            } else {
                KeyState::Fetching {
                    until: now + self.fetch,
                    valid,
                }
            }
        });
        if let KeyState::Fetching { until, valid } = *entry
            && now >= until
        {
            *entry = settled(valid);
        }
        *entry
    }
}

fn settled(valid: bool) -> KeyState {
    if valid {
        KeyState::Valid
    } else {
        KeyState::Invalid
    }
}

/// Whether a public key is well-formed as Relay parses it: 32 hex digits
/// (`relay-base-schema` `ProjectKey::parse`; a malformed one is answered 400 "bad sentry DSN
/// public key": `relay-server/src/extractors/request_meta.rs` at
/// 01aef71f62365a6c2712a66b22de62fc99e8ae49, `BadPublicKey`).
pub fn well_formed(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_key_is_pending_until_its_config_arrives_then_settles() {
        let c = ProjectConfigs::new([(1, K.to_owned(), true)], Duration::from_millis(100));
        let t0 = Instant::now();
        assert!(matches!(
            c.state(1, K, t0),
            KeyState::Fetching { valid: true, .. }
        ));
        assert!(matches!(
            c.state(2, K, t0),
            KeyState::Fetching { valid: false, .. }
        ));
        let later = t0 + Duration::from_millis(150);
        assert_eq!(c.state(1, K, later), KeyState::Valid);
        assert_eq!(c.state(2, K, later), KeyState::Invalid);
        assert!(well_formed(K) && !well_formed("abc") && !well_formed(&K.replace('0', "g")));
    }

    #[test]
    fn an_inactive_key_is_invalid() {
        let c = ProjectConfigs::new([(1, K.to_owned(), false)], Duration::ZERO);
        assert_eq!(c.state(1, K, Instant::now()), KeyState::Invalid);
    }
}
