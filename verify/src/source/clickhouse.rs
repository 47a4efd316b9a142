//! Reads Snuba's `errors_local` and `transactions_local` (or the `_dist` tables) over
//! ClickHouse's HTTP interface.
//!
//! ```sql
//! SELECT event_id, toUInt32(received), toUInt32(message_timestamp), group_id
//! FROM default.errors_local
//! WHERE project_id = 1 AND timestamp >= toDateTime(…) AND timestamp <= toDateTime(…)
//!   AND deleted = 0 AND event_id IN ('9ec79c33-ec99-42ab-8353-589fcb2e04dc', …)
//! ```
//!
//! Transactions are bounded by `finish_ts` (their event time) and have no `received`, no
//! `message_timestamp` and no issue: `transactions_local` has no `received` column, and
//! Snuba's transactions processor never sets `message_timestamp`, which stays 1970-01-01
//! (getsentry/snuba `snuba/datasets/processors/transactions_processor.py` at
//! 61009262d9a0b81ba952265a7f245e502674cef2), so neither is read. There is no index on `event_id`: the project and time bounds keep the scan
//! narrow. The SQL is the subset ClickHouse 18.16 and 25.8 both understand.

use super::{Explained, Lookup, Sighting, SourceError};
use clickhouse::Row;
use sentry_load_common::{Dataset, redact};
use sentry_load_config::ClickHouseConfig;
use serde::Deserialize;
use std::fmt::Write;
use uuid::Uuid;

/// A ClickHouse read-back source.
pub struct ClickHouseSource {
    client: clickhouse::Client,
    database: String,
    table: String,
    transactions_table: String,
    outcomes_table: String,
    shown: String,
    batch_size: usize,
}

/// One stored row. The id is read as a UUID (16 bytes), not as text: no allocation per row.
#[derive(Row, Deserialize)]
struct Found {
    #[serde(with = "clickhouse::serde::uuid")]
    id: Uuid,
    received: u32,
    message_timestamp: u32,
    group_id: u64,
}

impl ClickHouseSource {
    /// A source for the profile's `[verify.clickhouse]`.
    pub fn new(cfg: &ClickHouseConfig) -> ClickHouseSource {
        let url = cfg.url.expose();
        let mut client = clickhouse::Client::default()
            .with_url(url.as_str())
            .with_user(&cfg.user)
            .with_validation(false);
        if let Some(p) = &cfg.password {
            client = client.with_password(p.expose());
        }
        ClickHouseSource {
            client,
            database: cfg.database.as_str().to_owned(),
            table: format!("{}.{}", cfg.database.as_str(), cfg.errors_table.as_str()),
            transactions_table: format!(
                "{}.{}",
                cfg.database.as_str(),
                cfg.transactions_table.as_str()
            ),
            outcomes_table: format!("{}.{}", cfg.database.as_str(), cfg.outcomes_table.as_str()),
            shown: format!(
                "clickhouse {} {}.{}",
                redact::url(url),
                cfg.database.as_str(),
                cfg.errors_table.as_str()
            ),
            batch_size: cfg.batch_size.get() as usize,
        }
    }

    /// The server's version (`SELECT version()`).
    pub async fn version(&self) -> Result<String, SourceError> {
        #[derive(Row, Deserialize)]
        struct Version {
            v: String,
        }
        let rows: Vec<Version> = self.fetch("SELECT version() AS v").await?;
        Ok(rows.into_iter().next().map(|r| r.v).unwrap_or_default())
    }

    /// Of the tables read for `datasets` and the outcomes table, those that do not exist
    /// (`database.table`).
    pub async fn missing_tables(&self, datasets: &[Dataset]) -> Result<Vec<String>, SourceError> {
        #[derive(Row, Deserialize)]
        struct Name {
            name: String,
        }
        let mut wanted: Vec<&str> = datasets
            .iter()
            .map(|d| match d {
                Dataset::Errors => self.table.as_str(),
                Dataset::Transactions => self.transactions_table.as_str(),
            })
            .collect();
        wanted.push(&self.outcomes_table);
        let rows: Vec<Name> = self.fetch(&self.tables_sql()).await?;
        Ok(wanted
            .into_iter()
            .filter(|t| {
                let name = t.rsplit('.').next().unwrap_or(t);
                !rows.iter().any(|r| r.name == name)
            })
            .map(str::to_owned)
            .collect())
    }

    pub(super) fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// A secret-free description, for reports.
    pub fn describe(&self) -> String {
        self.shown.clone()
    }

    /// Runs a query and reads its rows.
    async fn fetch<T>(&self, sql: &str) -> Result<Vec<T>, SourceError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        self.client
            .query(sql)
            .fetch_all::<T>()
            .await
            .map_err(|source| SourceError::ClickHouse {
                url: self.shown.clone(),
                source,
            })
    }

    /// The SQL of a lookup (public so the same text can be run on other ClickHouse versions).
    pub fn lookup_sql(&self, l: Lookup<'_>) -> String {
        match l.dataset {
            Dataset::Errors => query(&self.table, l),
            Dataset::Transactions => transactions_query(&self.transactions_table, l),
        }
    }

    /// The SQL of an outcomes lookup.
    pub fn outcomes_sql(&self, l: Lookup<'_>) -> String {
        let mut sql = format!(
            "SELECT ifNull(toString(event_id), '') AS id, outcome, ifNull(reason, '') AS reason, \
             category FROM {} \
             WHERE project_id = {} AND timestamp >= toDateTime({}) \
             AND timestamp <= toDateTime({}) AND outcome != 0 AND event_id IN (",
            self.outcomes_table, l.project_id, l.from_secs, l.to_secs
        );
        push_ids(&mut sql, l.ids);
        sql
    }

    /// The SQL that lists the tables of the source's database.
    pub fn tables_sql(&self) -> String {
        // Table names are validated identifiers (see `ClickHouseConfig`).
        format!(
            "SELECT name FROM system.tables WHERE database = '{}'",
            self.database
        )
    }

    pub(super) async fn lookup(&self, l: Lookup<'_>) -> Result<Vec<Sighting>, SourceError> {
        let rows: Vec<Found> = self.fetch(&self.lookup_sql(l)).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let errors = l.dataset == Dataset::Errors;
                Sighting {
                    event_id: r.id,
                    received: errors.then_some(r.received),
                    message_timestamp: errors.then_some(r.message_timestamp),
                    group_id: errors.then_some(r.group_id),
                }
            })
            .collect())
    }
}

#[derive(Row, Deserialize)]
struct OutcomeFound {
    id: String,
    outcome: u8,
    reason: String,
    category: u8,
}

impl ClickHouseSource {
    /// The outcomes of the asked-for ids, with their data category: why events that never
    /// arrived were dropped, and what became of their attachments. Outcome times are the
    /// drop's, so the window is widened by the verifier's deadline.
    pub(super) async fn outcomes(&self, l: Lookup<'_>) -> Result<Vec<Explained>, SourceError> {
        let rows: Vec<OutcomeFound> = self.fetch(&self.outcomes_sql(l)).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(Explained {
                    event_id: Uuid::parse_str(&r.id).ok()?,
                    outcome: r.outcome,
                    reason: (!r.reason.is_empty()).then_some(r.reason),
                    category: r.category,
                })
            })
            .collect())
    }
}

/// The transactions query: the same columns, `received`, `message_timestamp` and `group_id`
/// as 0 (see the module docs), bounded by `finish_ts`.
fn transactions_query(table: &str, l: Lookup<'_>) -> String {
    let mut sql = format!(
        "SELECT event_id AS id, toUInt32(0) AS received, \
         toUInt32(0) AS message_timestamp, toUInt64(0) AS group_id \
         FROM {table} WHERE project_id = {} AND finish_ts >= toDateTime({}) \
         AND finish_ts <= toDateTime({}) AND deleted = 0 AND event_id IN (",
        l.project_id, l.from_secs, l.to_secs
    );
    push_ids(&mut sql, l.ids);
    sql
}

/// The query text. Table names are validated identifiers and ids are formatted UUIDs, so
/// nothing user-supplied reaches the SQL unchecked.
fn query(table: &str, l: Lookup<'_>) -> String {
    let mut sql = format!(
        "SELECT event_id AS id, toUInt32(received) AS received, \
         toUInt32(message_timestamp) AS message_timestamp, group_id \
         FROM {table} WHERE project_id = {} AND timestamp >= toDateTime({}) \
         AND timestamp <= toDateTime({}) AND deleted = 0 AND event_id IN (",
        l.project_id, l.from_secs, l.to_secs
    );
    push_ids(&mut sql, l.ids);
    sql
}

fn push_ids(sql: &mut String, ids: &[Uuid]) {
    for (i, id) in ids.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        // Writing into a String cannot fail.
        let _ = write!(sql, "{sep}'{}'", id.hyphenated());
    }
    sql.push(')');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_bounded_by_project_window_and_ids() {
        let ids = [Uuid::from_u128(1), Uuid::from_u128(2)];
        let sql = query(
            "default.errors_local",
            Lookup {
                project_id: 7,
                dataset: Dataset::Errors,
                from_secs: 100,
                to_secs: 200,
                ids: &ids,
            },
        );
        assert!(sql.contains("project_id = 7"));
        assert!(sql.contains("timestamp >= toDateTime(100)"));
        assert!(sql.contains("timestamp <= toDateTime(200)"));
        assert!(sql.contains("deleted = 0"));
        assert!(sql.ends_with(
            "IN ('00000000-0000-0000-0000-000000000001','00000000-0000-0000-0000-000000000002')"
        ));
    }
}
