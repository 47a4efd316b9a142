//! Where envelopes go: the envelope endpoint and auth header of one DSN.

use std::fmt;
use url::Url;

/// One destination of a run.
#[derive(Clone)]
pub struct Target {
    /// Index in the journal header's target list.
    pub index: u16,
    /// The project sends go to.
    pub project_id: u64,
    /// `…/api/<project_id>/envelope/`.
    pub envelope_url: Url,
    /// The `X-Sentry-Auth` value; may hold a secret, so `Debug` hides it.
    pub auth_header: String,
    /// The redacted DSN, for output.
    pub display: String,
}

impl Target {
    /// The target a DSN names.
    pub fn from_dsn(index: u16, dsn: &sentry_load_config::Dsn) -> Target {
        let sdk = dsn.sentry_dsn();
        let client = format!("sentry-load/{}", sentry_load_common::TOOL_VERSION);
        Target {
            index,
            project_id: dsn.project_id(),
            envelope_url: sdk.envelope_api_url(),
            auth_header: sdk.to_auth(Some(&client)).to_string(),
            display: dsn.redacted().to_owned(),
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
