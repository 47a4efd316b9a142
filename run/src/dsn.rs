//! `dsn --profile P`: the DSNs of the projects in the Sentry database the profile's
//! `[verify.postgres]` names, built from `sentry_projectkey`'s active public keys — what to put
//! in `SENTRY_DSN` for a run. Only public keys are read; the legacy secret key never is.

use crate::error::Failure;
use crate::profile;
use anyhow::anyhow;
use sentry_load_verify::project_keys;

/// What the command line asks of `dsn`.
#[derive(Debug, Clone)]
pub struct DsnRequest {
    /// The profile whose `[verify.postgres]` names the Sentry database.
    pub profile: String,
    /// Relay's address as the SDKs reach it (`host:port`).
    pub host: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Only this project's keys.
    pub project: Option<u64>,
}

/// One line per active key: project, slug, label and DSN.
pub async fn dsn(request: DsnRequest) -> Result<Vec<String>, Failure> {
    let loaded = profile::load_for(&request.profile, &["verify.postgres"])?;
    let Some(pg) = &loaded.profile.verify.postgres else {
        return Err(Failure::usage(anyhow!(
            "{}: DSN discovery reads Postgres: add [verify.postgres] with the Sentry database's url",
            request.profile
        )));
    };
    if !matches!(request.scheme.as_str(), "http" | "https") {
        return Err(Failure::usage(anyhow!(
            "--scheme `{}`: expected http or https",
            request.scheme
        )));
    }
    let keys = project_keys(pg.get_ref(), request.project)
        .await
        .map_err(|e| {
            if e.is_unreachable() {
                Failure::unreachable(e)
            } else {
                Failure::usage(e)
            }
        })?;
    if keys.is_empty() {
        return Err(Failure::usage(anyhow!(
            "no active client key{} in sentry_projectkey",
            request
                .project
                .map(|p| format!(" for project {p}"))
                .unwrap_or_default()
        )));
    }
    Ok(keys
        .into_iter()
        .map(|k| {
            format!(
                "project {} ({}) key \"{}\": {}://{}@{}/{}",
                k.project_id,
                k.slug,
                k.label,
                request.scheme,
                k.public_key,
                request.host,
                k.project_id
            )
        })
        .collect())
}
