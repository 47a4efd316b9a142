//! `sentry-load dsn --profile P`: the DSNs of the projects in the Sentry database the profile's
//! `[verify.postgres]` names, built from `sentry_projectkey`'s active public keys — what to put
//! in `SENTRY_DSN` for a run. Only public keys are read; the legacy secret key never is.

use super::load_profile;
use crate::cli::DsnArgs;
use crate::exit::{Exit, OK};
use anyhow::anyhow;
use sentry_load_verify::project_keys;

pub async fn dsn(args: DsnArgs) -> Result<u8, Exit> {
    let loaded = load_profile(&args.profile)?;
    let Some(pg) = &loaded.profile.verify.postgres else {
        return Err(Exit::usage(anyhow!(
            "{}: DSN discovery reads Postgres: add [verify.postgres] with the Sentry database's url",
            args.profile
        )));
    };
    if !matches!(args.scheme.as_str(), "http" | "https") {
        return Err(Exit::usage(anyhow!(
            "--scheme `{}`: expected http or https",
            args.scheme
        )));
    }
    let keys = project_keys(pg.get_ref(), args.project)
        .await
        .map_err(|e| Exit::unreachable(anyhow!(e)))?;
    if keys.is_empty() {
        return Err(Exit::usage(anyhow!(
            "no active client key{} in sentry_projectkey",
            args.project
                .map(|p| format!(" for project {p}"))
                .unwrap_or_default()
        )));
    }
    for k in keys {
        println!(
            "project {} ({}) key \"{}\": {}://{}@{}/{}",
            k.project_id, k.slug, k.label, args.scheme, k.public_key, args.host, k.project_id
        );
    }
    Ok(OK)
}
