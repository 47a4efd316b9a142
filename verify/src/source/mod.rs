//! Where events are read back from. Each source answers one question: which of these event
//! ids, sent to this project within this time window, are stored?

mod clickhouse;
mod sentry_api;

pub use self::clickhouse::ClickHouseSource;
pub use self::sentry_api::{EventFetch, SentryApiSource};
use sentry_load_common::Dataset;
use std::future::Future;
use std::pin::Pin;
use uuid::Uuid;

/// One batched question.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// The project the events were sent to.
    pub project_id: u64,
    /// Where they are stored.
    pub dataset: Dataset,
    /// Event time from, Unix seconds (inclusive).
    pub from_secs: u64,
    /// Event time to, Unix seconds (inclusive).
    pub to_secs: u64,
    /// The ids asked for.
    pub ids: &'a [Uuid],
}

/// One stored row for an asked-for id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// The event's id.
    pub event_id: Uuid,
    /// Relay's receive time, where the source has it.
    pub received: Option<u32>,
    /// When the event was produced to Kafka `events`, where the source has it.
    pub message_timestamp: Option<u32>,
    /// The issue, where the source has it.
    pub group_id: Option<u64>,
}

/// An outcome recorded for an asked-for event id, from the outcomes table: why the event, or
/// one of its attachments, was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// The event the outcome names.
    pub event_id: Uuid,
    /// The outcome code (see [`sentry_load_common::sentry_outcome::code`]).
    pub outcome: u8,
    /// The outcome's reason, if it has one.
    pub reason: Option<String>,
    /// The data category it was counted in: the event's own, or an attachment's (see
    /// [`sentry_load_common::sentry_outcome::bearing`]).
    pub category: u8,
}

impl Explained {
    /// `filtered`, `invalid`, … — the outcome's name, with its reason when there is one.
    pub fn label(&self) -> String {
        let name = sentry_load_common::sentry_outcome::outcome_name(self.outcome);
        match &self.reason {
            Some(r) => format!("{name}:{r}"),
            None => name.to_owned(),
        }
    }
}

/// A read-back query failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// ClickHouse refused or could not be reached.
    #[error("clickhouse {url}: {source}")]
    ClickHouse {
        /// The redacted address.
        url: String,
        /// What failed.
        #[source]
        source: ::clickhouse::error::Error,
    },
    /// The Sentry API answered wrongly (a refusal, an unreadable answer).
    #[error("sentry api {url}: {detail}")]
    SentryApi {
        /// The redacted address.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The Sentry API could not be reached at all.
    #[error("sentry api {url}: unreachable: {detail}")]
    SentryApiUnreachable {
        /// The redacted address.
        url: String,
        /// What failed.
        detail: String,
    },
}

impl SourceError {
    /// Whether the service could not be reached at all (rather than refusing a query).
    pub fn is_unreachable(&self) -> bool {
        match self {
            SourceError::ClickHouse { source, .. } => {
                matches!(source, ::clickhouse::error::Error::Network(_))
            }
            SourceError::SentryApi { .. } => false,
            SourceError::SentryApiUnreachable { .. } => true,
        }
    }
}

/// A source's answer, to come.
pub type SourceFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SourceError>> + Send + 'a>>;

/// A read-back source the [`crate::Verifier`] polls: Snuba's ClickHouse tables
/// ([`ClickHouseSource`]), the Sentry web API ([`SentryApiSource`]), or a test's own.
pub trait Source: Send + Sync {
    /// Which stored rows match the lookup.
    fn lookup<'a>(&'a self, lookup: Lookup<'a>) -> SourceFuture<'a, Vec<Sighting>>;

    /// Whether the source can see outcomes at all. One that cannot (the Sentry web API has
    /// per-event outcomes nowhere) leaves a missing event's fate unknown: never silent.
    fn sees_outcomes(&self) -> bool {
        false
    }

    /// The outcomes recorded for the asked-for ids, in every category, where the source keeps
    /// outcomes (ClickHouse); other sources explain nothing.
    fn outcomes<'a>(&'a self, _lookup: Lookup<'a>) -> SourceFuture<'a, Vec<Explained>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Ids per query.
    fn batch_size(&self) -> usize;

    /// A secret-free description, for reports.
    fn describe(&self) -> String;
}

impl Source for ClickHouseSource {
    fn lookup<'a>(&'a self, lookup: Lookup<'a>) -> SourceFuture<'a, Vec<Sighting>> {
        Box::pin(ClickHouseSource::lookup(self, lookup))
    }

    fn sees_outcomes(&self) -> bool {
        true
    }

    fn outcomes<'a>(&'a self, lookup: Lookup<'a>) -> SourceFuture<'a, Vec<Explained>> {
        Box::pin(ClickHouseSource::outcomes(self, lookup))
    }

    fn batch_size(&self) -> usize {
        ClickHouseSource::batch_size(self)
    }

    fn describe(&self) -> String {
        ClickHouseSource::describe(self)
    }
}

impl Source for SentryApiSource {
    fn lookup<'a>(&'a self, lookup: Lookup<'a>) -> SourceFuture<'a, Vec<Sighting>> {
        Box::pin(SentryApiSource::lookup(self, lookup))
    }

    fn batch_size(&self) -> usize {
        sentry_api::MAX_IDS
    }

    fn describe(&self) -> String {
        SentryApiSource::describe(self)
    }
}
