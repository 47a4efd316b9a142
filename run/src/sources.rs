//! Where a leg's events are read back: the source a `[verify]` table names, the embedded
//! sim's read API, and the ping that proves a source answers before load is sent.

use crate::error::Failure;
use anyhow::anyhow;
use sentry_load_common::Dataset;
use sentry_load_config::{Profile, SentryApiConfig, VerifyConfig};
use sentry_load_verify::source::{ClickHouseSource, SentryApiSource};
use sentry_load_verify::{Lookup, Source};

/// A configured read-back source, as preflight needs to tell them apart (ClickHouse answers
/// its version and its tables); the verifier holds it as a [`Source`].
pub enum ReadBack {
    /// Snuba's ClickHouse tables.
    ClickHouse(ClickHouseSource),
    /// The Sentry web API (Discover, or `eventids` on Sentry 9).
    SentryApi(SentryApiSource),
}

impl ReadBack {
    /// The source, for queries.
    pub fn source(&self) -> &dyn Source {
        match self {
            ReadBack::ClickHouse(s) => s,
            ReadBack::SentryApi(s) => s,
        }
    }

    /// The source, for the verifier to own.
    pub fn into_source(self) -> Box<dyn Source> {
        match self {
            ReadBack::ClickHouse(s) => Box::new(s),
            ReadBack::SentryApi(s) => Box::new(s),
        }
    }
}

/// The read-back source a `[verify]` (or `[mirror.verify]`) table names.
pub fn source_for(verify: &VerifyConfig) -> Result<ReadBack, Failure> {
    if let Some(ch) = &verify.clickhouse {
        return Ok(ReadBack::ClickHouse(ClickHouseSource::new(ch)));
    }
    if let Some(api) = &verify.sentry_api {
        return SentryApiSource::new(api)
            .map(ReadBack::SentryApi)
            .map_err(Failure::usage);
    }
    Err(Failure::usage(anyhow!(
        "the profile has no place to read events back: add [verify.clickhouse] or \
         [verify.sentry_api], or pass --no-verify to send and journal only"
    )))
}

/// The read API of an embedded sim.
pub fn embedded_source(api: &SentryApiConfig) -> Result<ReadBack, Failure> {
    SentryApiSource::new(api)
        .map(ReadBack::SentryApi)
        .map_err(Failure::internal)
}

/// The datasets a profile's mix sends to.
pub fn datasets(profile: &Profile) -> Vec<Dataset> {
    let mix = profile.traffic.get_ref().mix.get_ref();
    let mut out = Vec::new();
    for (kind, w) in mix.iter() {
        if w.value() > 0.0 && !out.contains(&kind.dataset()) {
            out.push(kind.dataset());
        }
    }
    out
}

/// Asks the source once per dataset for an id that does not exist: proves it answers and the
/// tables are there before any load is sent.
pub async fn ping(source: &dyn Source, datasets: &[Dataset]) -> Result<(), Failure> {
    let ids = [uuid::Uuid::nil()];
    for &dataset in datasets {
        let lookup = Lookup {
            project_id: 0,
            dataset,
            from_secs: 0,
            to_secs: 1,
            ids: &ids,
        };
        source.lookup(lookup).await.map(|_| ()).map_err(|e| {
            let unreachable = e.is_unreachable();
            let e = anyhow::Error::new(e).context(format!(
                "the read-back source does not answer for {}",
                dataset.as_str()
            ));
            if unreachable {
                Failure::unreachable(e)
            } else {
                Failure::usage(e)
            }
        })?;
    }
    Ok(())
}
