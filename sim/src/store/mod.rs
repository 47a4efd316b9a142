//! Where the sim's pipeline writes accepted events: memory (embedded mode), or the tables a
//! self-hosted Sentry writes — ClickHouse `errors_local` and Postgres `sentry_groupedmessage`.

mod memory;
pub mod outcomes;
pub mod schema;
mod sentry_db;

use crate::ingest::event::IngestedEvent;
pub use memory::{DEFAULT_MERGE_AFTER, MemoryStore, RowFilter};
pub use sentry_db::SentryDb;
use std::sync::Arc;

/// Where a sim stores events.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// In memory, served back through the Sentry-API-shaped endpoints.
    Memory,
    /// In ClickHouse and Postgres, under Sentry's table and column names.
    Sentry {
        /// ClickHouse HTTP interface.
        clickhouse_url: String,
        /// ClickHouse database (created if missing).
        clickhouse_database: String,
        /// Postgres connection URL (the database must exist).
        postgres_url: String,
    },
}

/// An event on its way into the store: what ingest read, plus what the pipeline added.
#[derive(Debug, Clone)]
pub struct StoredRow {
    /// The event as ingested.
    pub event: IngestedEvent,
    /// When the worker produced it to the `events` topic (Snuba's `message_timestamp`).
    pub message_timestamp: u32,
    /// The issue it was grouped into (`sentry_groupedmessage.id`); set by the store.
    pub group_id: u64,
}

/// A store write failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// ClickHouse refused or could not be reached.
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// Postgres refused or could not be reached.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
}

/// An open store.
pub enum Store {
    /// In memory.
    Memory(Arc<MemoryStore>),
    /// ClickHouse + Postgres.
    Sentry(Box<SentryDb>),
}

impl Store {
    /// Writes outcome rows (only the ClickHouse store keeps them).
    pub async fn write_outcomes(&mut self, rows: &[outcomes::Outcome]) -> Result<(), StoreError> {
        match self {
            Store::Memory(_) => Ok(()),
            Store::Sentry(db) => db.write_outcomes(rows).await,
        }
    }

    /// Groups and writes a batch; rows get their `group_id`.
    pub async fn write(&mut self, batch: &mut [StoredRow]) -> Result<(), StoreError> {
        match self {
            Store::Memory(m) => {
                m.write(batch);
                Ok(())
            }
            Store::Sentry(db) => db.write(batch).await,
        }
    }
}
