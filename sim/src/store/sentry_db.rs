//! Writes batches where self-hosted Sentry keeps them: for errors the issue in Postgres first
//! (`sentry_grouphash` → `sentry_groupedmessage`, as Sentry's save step does), then the event
//! row in ClickHouse `errors_local` (as Snuba's consumer does); transactions go to
//! `transactions_local` and have no issue. One insert per table per batch.

use super::{StoreError, StoredRow, schema};
use crate::config::ProjectKey;
use crate::ingest::event::TransactionFields;
use crate::store::outcomes::Outcome;
use clickhouse::Row;
use serde::Serialize;
use std::collections::HashMap;
use tokio_postgres::NoTls;
use uuid::Uuid;

/// Open connections to ClickHouse and Postgres, and the issue-id cache.
pub struct SentryDb {
    clickhouse: clickhouse::Client,
    postgres: tokio_postgres::Client,
    groups: HashMap<(u64, Uuid), i64>,
}

#[derive(Row, Serialize)]
struct ErrorRow<'a> {
    project_id: u64,
    timestamp: u32,
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
    platform: &'a str,
    environment: Option<&'a str>,
    release: Option<&'a str>,
    message: &'a str,
    title: &'a str,
    #[serde(rename = "type")]
    ty: &'a str,
    level: Option<&'a str>,
    #[serde(with = "clickhouse::serde::uuid")]
    primary_hash: Uuid,
    received: u32,
    message_timestamp: u32,
    group_id: u64,
    #[serde(rename = "tags.key")]
    tags_key: Vec<&'a str>,
    #[serde(rename = "tags.value")]
    tags_value: Vec<&'a str>,
    #[serde(rename = "exception_stacks.type")]
    stacks_type: Vec<Option<&'a str>>,
    #[serde(rename = "exception_stacks.value")]
    stacks_value: Vec<Option<&'a str>>,
    #[serde(rename = "exception_frames.filename")]
    frames_filename: Vec<Option<&'a str>>,
    #[serde(rename = "exception_frames.function")]
    frames_function: Vec<Option<&'a str>>,
    #[serde(rename = "exception_frames.lineno")]
    frames_lineno: Vec<Option<u32>>,
    #[serde(rename = "exception_frames.in_app")]
    frames_in_app: Vec<Option<u8>>,
    deleted: u8,
    retention_days: u16,
}

impl<'a> ErrorRow<'a> {
    fn from_stored(r: &'a StoredRow) -> ErrorRow<'a> {
        let e = &r.event;
        ErrorRow {
            project_id: e.project_id,
            timestamp: e.timestamp,
            event_id: e.event_id,
            platform: &e.platform,
            environment: e.environment.as_deref(),
            release: e.release.as_deref(),
            message: &e.message,
            title: &e.title,
            ty: if e.exceptions.is_empty() {
                "default"
            } else {
                "error"
            },
            level: Some(&e.level),
            primary_hash: e.primary_hash,
            received: e.received,
            message_timestamp: r.message_timestamp,
            group_id: r.group_id,
            tags_key: e.tags.iter().map(|(k, _)| k.as_str()).collect(),
            tags_value: e.tags.iter().map(|(_, v)| v.as_str()).collect(),
            stacks_type: e.exceptions.iter().map(|(t, _)| Some(t.as_str())).collect(),
            stacks_value: e.exceptions.iter().map(|(_, v)| Some(v.as_str())).collect(),
            frames_filename: e.frames.iter().map(|f| f.filename.as_deref()).collect(),
            frames_function: e.frames.iter().map(|f| f.function.as_deref()).collect(),
            frames_lineno: e.frames.iter().map(|f| f.lineno).collect(),
            frames_in_app: e.frames.iter().map(|f| f.in_app.map(u8::from)).collect(),
            deleted: 0,
            retention_days: 90,
        }
    }
}

#[derive(Row, Serialize)]
struct TransactionRow<'a> {
    project_id: u64,
    #[serde(with = "clickhouse::serde::uuid")]
    event_id: Uuid,
    #[serde(with = "clickhouse::serde::uuid")]
    trace_id: Uuid,
    span_id: u64,
    transaction_name: &'a str,
    transaction_op: &'a str,
    start_ts: u32,
    start_ms: u16,
    finish_ts: u32,
    finish_ms: u16,
    duration: u32,
    platform: &'a str,
    environment: Option<&'a str>,
    release: Option<&'a str>,
    #[serde(rename = "tags.key")]
    tags_key: Vec<&'a str>,
    #[serde(rename = "tags.value")]
    tags_value: Vec<&'a str>,
    message_timestamp: u32,
    deleted: u8,
    retention_days: u16,
}

impl<'a> TransactionRow<'a> {
    fn from_stored(r: &'a StoredRow, t: &'a TransactionFields) -> TransactionRow<'a> {
        let e = &r.event;
        TransactionRow {
            project_id: e.project_id,
            event_id: e.event_id,
            trace_id: t.trace_id,
            span_id: t.span_id,
            transaction_name: &t.name,
            transaction_op: &t.op,
            start_ts: (t.start_ms / 1000) as u32,
            start_ms: (t.start_ms % 1000) as u16,
            finish_ts: (t.finish_ms / 1000) as u32,
            finish_ms: (t.finish_ms % 1000) as u16,
            duration: t.finish_ms.saturating_sub(t.start_ms) as u32,
            platform: &e.platform,
            environment: e.environment.as_deref(),
            release: e.release.as_deref(),
            tags_key: e.tags.iter().map(|(k, _)| k.as_str()).collect(),
            tags_value: e.tags.iter().map(|(_, v)| v.as_str()).collect(),
            message_timestamp: r.message_timestamp,
            deleted: 0,
            retention_days: 90,
        }
    }
}

#[derive(Row, Serialize)]
struct OutcomeRow<'a> {
    org_id: u64,
    project_id: u64,
    key_id: Option<u64>,
    timestamp: u32,
    outcome: u8,
    reason: Option<&'a str>,
    #[serde(with = "clickhouse::serde::uuid::option")]
    event_id: Option<Uuid>,
    quantity: u32,
    category: u8,
}

impl SentryDb {
    /// Inserts outcome rows into `outcomes_raw_local`.
    pub async fn write_outcomes(&mut self, rows: &[Outcome]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .clickhouse
            .insert::<OutcomeRow<'_>>("outcomes_raw_local")
            .await?;
        for o in rows {
            insert
                .write(&OutcomeRow {
                    org_id: 1,
                    project_id: o.project_id,
                    key_id: None,
                    timestamp: o.timestamp,
                    outcome: o.outcome,
                    reason: o.reason.as_deref(),
                    event_id: o.event_id,
                    quantity: o.quantity,
                    category: o.category,
                })
                .await?;
        }
        insert.end().await?;
        Ok(())
    }

    /// Connects, creates the ClickHouse database and tables and the Postgres tables if missing,
    /// and seeds the organization, projects and keys.
    pub async fn connect(
        clickhouse_url: &str,
        database: &str,
        postgres_url: &str,
        projects: &[ProjectKey],
        crash_reports: crate::crash_reports::CrashReportSettings,
    ) -> Result<SentryDb, StoreError> {
        let admin = clickhouse::Client::default()
            .with_url(clickhouse_url)
            .with_validation(false);
        admin
            .query(&format!("CREATE DATABASE IF NOT EXISTS `{database}`"))
            .execute()
            .await?;
        let clickhouse = admin.with_database(database);
        clickhouse.query(schema::ERRORS_LOCAL).execute().await?;
        clickhouse
            .query(schema::OUTCOMES_RAW_LOCAL)
            .execute()
            .await?;
        clickhouse
            .query(schema::TRANSACTIONS_LOCAL)
            .execute()
            .await?;

        let (postgres, conn) = tokio_postgres::connect(postgres_url, NoTls).await?;
        tokio::spawn(async move {
            // The connection ends when the client is dropped; an error here surfaces on the
            // next query through the client.
            let _ = conn.await;
        });
        postgres.batch_execute(schema::POSTGRES).await?;
        for (sql, params) in schema::postgres_seed(projects, crash_reports) {
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                params.iter().map(|p| p as _).collect();
            postgres.execute(sql.as_str(), &params).await?;
        }
        Ok(SentryDb {
            clickhouse,
            postgres,
            groups: HashMap::new(),
        })
    }

    /// Groups the batch's errors into issues in Postgres, then inserts the rows into
    /// ClickHouse.
    pub async fn write(&mut self, batch: &mut [StoredRow]) -> Result<(), StoreError> {
        if let Err(e) = self.group(batch).await {
            // The transaction rolled back: ids cached during it may not exist.
            self.groups.clear();
            return Err(e);
        }
        if batch.iter().any(|r| r.event.transaction.is_none()) {
            let mut insert = self
                .clickhouse
                .insert::<ErrorRow<'_>>("errors_local")
                .await?;
            for row in batch.iter().filter(|r| r.event.transaction.is_none()) {
                insert.write(&ErrorRow::from_stored(row)).await?;
            }
            insert.end().await?;
        }
        if batch.iter().any(|r| r.event.transaction.is_some()) {
            let mut insert = self
                .clickhouse
                .insert::<TransactionRow<'_>>("transactions_local")
                .await?;
            for row in batch.iter() {
                if let Some(t) = &row.event.transaction {
                    insert.write(&TransactionRow::from_stored(row, t)).await?;
                }
            }
            insert.end().await?;
        }
        Ok(())
    }

    async fn group(&mut self, batch: &mut [StoredRow]) -> Result<(), StoreError> {
        let tx = self.postgres.transaction().await?;
        let mut seen: HashMap<(u64, Uuid), (i32, u32)> = HashMap::new();
        for row in batch.iter_mut().filter(|r| r.event.transaction.is_none()) {
            let e = &row.event;
            let key = (e.project_id, e.primary_hash);
            let project = e.project_id as i64;
            let hash = e.primary_hash.simple().to_string();
            let group_id = match self.groups.get(&key) {
                Some(id) => *id,
                None => {
                    let existing = tx
                        .query_opt(
                            "SELECT group_id FROM sentry_grouphash \
                             WHERE project_id = $1 AND hash = $2",
                            &[&project, &hash],
                        )
                        .await?;
                    let id: i64 = match existing {
                        Some(r) => r.get(0),
                        None => {
                            let at = to_time(e.received);
                            let r = tx
                                .query_one(
                                    "INSERT INTO sentry_groupedmessage \
                                     (project_id, level, message, view, times_seen, \
                                      first_seen, last_seen, platform) \
                                     VALUES ($1, $2, $3, $4, 0, $5, $5, $6) RETURNING id",
                                    &[
                                        &project,
                                        &e.level_number(),
                                        &e.title,
                                        &e.message,
                                        &at,
                                        &e.platform,
                                    ],
                                )
                                .await?;
                            let id: i64 = r.get(0);
                            tx.execute(
                                "INSERT INTO sentry_grouphash (project_id, hash, group_id) \
                                 VALUES ($1, $2, $3)",
                                &[&project, &hash, &id],
                            )
                            .await?;
                            id
                        }
                    };
                    self.groups.insert(key, id);
                    id
                }
            };
            row.group_id = group_id as u64;
            for size in &e.minidumps {
                tx.execute(
                    "INSERT INTO sentry_eventattachment \
                     (project_id, event_id, group_id, type, name, size, content_type) \
                     VALUES ($1, $2, $3, 'event.minidump', 'minidump.dmp', $4, \
                     'application/octet-stream')",
                    &[
                        &project,
                        &e.event_id.simple().to_string(),
                        &group_id,
                        &(*size as i32),
                    ],
                )
                .await?;
            }
            let s = seen.entry(key).or_insert((0, 0));
            s.0 += 1;
            s.1 = s.1.max(e.received);
        }
        for (key, (count, last)) in seen {
            let id = self.groups[&key];
            tx.execute(
                "UPDATE sentry_groupedmessage SET times_seen = times_seen + $2, \
                 last_seen = GREATEST(last_seen, $3) WHERE id = $1",
                &[&id, &count, &to_time(last)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn to_time(secs: u32) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(secs))
}
