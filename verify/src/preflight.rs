//! What the read-back side checks before any load is sent: the DSN's key in
//! `sentry_projectkey`, a project's id by slug, the ClickHouse tables and version, and whether
//! the install stores transactions at all. Each answer is bounded in time; errors are
//! secret-free.

use crate::postgres::{PgError, PgSession};
use sentry_load_common::redact;
use sentry_load_config::PostgresConfig;
use std::time::Duration;
use tokio_postgres::types::Type;

/// What `sentry_projectkey` says of a DSN's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// An active key of the DSN's project (`status = 0`).
    Active,
    /// A key of the DSN's project, not active.
    Inactive,
    /// A key of another project.
    OtherProject(u64),
    /// No such public key.
    Unknown,
}

/// The state of `public_key` for `project_id`.
pub async fn key_state(
    cfg: &PostgresConfig,
    project_id: u64,
    public_key: &str,
) -> Result<KeyState, PgError> {
    let pg = PgSession::connect(cfg).await?;
    let rows = pg
        .query(
            "SELECT project_id, status FROM sentry_projectkey WHERE public_key = $1",
            &[(&public_key, Type::TEXT)],
        )
        .await;
    pg.close().await;
    let rows = rows?;
    let keys: Vec<(u64, i32)> = rows
        .iter()
        .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i32>(1)))
        .collect();
    Ok(match keys.iter().find(|(p, _)| *p == project_id) {
        Some((_, 0)) => KeyState::Active,
        Some(_) => KeyState::Inactive,
        None => match keys.first() {
            Some((p, _)) => KeyState::OtherProject(*p),
            None => KeyState::Unknown,
        },
    })
}

/// The id of the project `slug_or_id` names in organization `org`, if there is one.
pub async fn project_id(
    cfg: &PostgresConfig,
    org: &str,
    slug_or_id: &str,
) -> Result<Option<u64>, PgError> {
    let pg = PgSession::connect(cfg).await?;
    let rows = pg
        .query(
            "SELECT p.id FROM sentry_project p JOIN sentry_organization o \
             ON o.id = p.organization_id \
             WHERE o.slug = $1 AND (p.slug = $2 OR p.id::text = $2)",
            &[(&org, Type::TEXT), (&slug_or_id, Type::TEXT)],
        )
        .await;
    pg.close().await;
    Ok(rows?.first().map(|r| r.get::<_, i64>(0) as u64))
}

/// How long a web request of a check may take.
const WEB_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the Sentry at `url` runs errors-only (self-hosted's
/// `COMPOSE_PROFILES=errors-only`: no transactions consumers, so transactions Relay accepts
/// are never stored, and no outcome says so), from its client config: `GET
/// /api/client-config/` (the page bootstrap: getsentry/sentry
/// `static/app/views/integrationPipeline/pipelineView.tsx`, `BOOTSTRAP_URL =
/// '/api/client-config/'`) carries `isSelfHostedErrorsOnly` (`src/sentry/web/client_config.py`;
/// set from `SENTRY_SELF_HOSTED_ERRORS_ONLY = env("COMPOSE_PROFILES") != "feature-complete"`
/// in getsentry/self-hosted `sentry/sentry.conf.example.py` at
/// 89a143f8e4d396a858cf6f462a832ae7da9fd2db). `None` when the answer does not say.
pub async fn errors_only(url: &url::Url) -> Result<Option<bool>, String> {
    let shown = redact::url(url);
    let target = url
        .join("api/client-config/")
        .map_err(|e| format!("{shown}: bad address: {e}"))?;
    let client = reqwest::Client::builder()
        .timeout(WEB_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let resp = client
        .get(target)
        .send()
        .await
        .map_err(|e| format!("{shown}: unreachable: {}", e.without_url()))?;
    if !resp.status().is_success() {
        return Err(format!("{shown}: client config answered {}", resp.status()));
    }
    let body = sentry_load_common::http::read_body(resp, 4 << 20)
        .await
        .map_err(|e| format!("{shown}: client config: {e}"))?;
    let config: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| format!("{shown}: client config is not JSON: {e}"))?;
    Ok(config
        .get("isSelfHostedErrorsOnly")
        .and_then(serde_json::Value::as_bool))
}
