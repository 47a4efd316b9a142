//! One Postgres session for the read-back checks, safe behind pgbouncer in transaction pooling
//! mode — how self-hosted reaches Postgres (getsentry/self-hosted `docker-compose.yml`,
//! service `pgbouncer`: `POOL_MODE: transaction`, at commit
//! 89a143f8e4d396a858cf6f462a832ae7da9fd2db).
//!
//! In transaction pooling, consecutive statements outside a transaction may run on different
//! server connections, so nothing may live in the session between them. A client that
//! prepares a named statement (`Parse "s0"`, then `Bind "s0"` in a later round trip, which is
//! what `tokio_postgres::Client::query` does) finds it missing on the next connection. Every
//! query here goes through [`tokio_postgres::Client::query_typed`]: parameters are sent with
//! their types and the statement is the unnamed one, parsed, bound and executed in one round
//! trip, so it never outlives its transaction. pgbouncer 1.24 and later can track named
//! statements (`max_prepared_statements`, on by default since 1.24.0), older ones cannot;
//! this works with both.
//!
//! Every wait is bounded: the connection by [`CONNECT_TIMEOUT`], each query by
//! [`QUERY_TIMEOUT`]. Errors name the server with its password redacted.

use sentry_load_common::redact;
use sentry_load_config::PostgresConfig;
use std::future::Future;
use std::time::Duration;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Row};

/// Longest wait for a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for one query's rows.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// A Postgres check failed; the server is named with its password redacted.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// `[verify.postgres] url` is not a connection URL.
    #[error("postgres {shown}: not a connection URL: {source}")]
    Url {
        /// The redacted address.
        shown: String,
        /// Why.
        #[source]
        source: tokio_postgres::Error,
    },
    /// No connection: refused, or nothing within [`CONNECT_TIMEOUT`].
    #[error("postgres {shown}: {detail}")]
    Connect {
        /// The redacted address.
        shown: String,
        /// What happened.
        detail: String,
    },
    /// A query failed or gave no answer within [`QUERY_TIMEOUT`].
    #[error("postgres {shown}: {detail}")]
    Query {
        /// The redacted address.
        shown: String,
        /// What happened.
        detail: String,
    },
}

impl PgError {
    /// Whether the server could not be reached at all (rather than refusing a query).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, PgError::Connect { .. })
    }
}

/// An open session.
pub struct PgSession {
    client: tokio_postgres::Client,
    conn: tokio::task::JoinHandle<()>,
    shown: String,
}

/// A typed query parameter.
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

impl PgSession {
    /// Connects to `[verify.postgres]`; the error is secret-free.
    pub async fn connect(cfg: &PostgresConfig) -> Result<PgSession, PgError> {
        let shown = redact::url(cfg.url.expose());
        let mut config: tokio_postgres::Config =
            cfg.url
                .expose()
                .as_str()
                .parse()
                .map_err(|source| PgError::Url {
                    shown: shown.clone(),
                    source,
                })?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let (client, conn) = bounded(CONNECT_TIMEOUT, config.connect(NoTls))
            .await
            .map_err(|detail| PgError::Connect {
                shown: shown.clone(),
                detail,
            })?;
        let conn = tokio::spawn(async move {
            // The connection ends when the client is dropped; its error surfaces on the next
            // query through the client.
            let _ = conn.await;
        });
        Ok(PgSession {
            client,
            conn,
            shown,
        })
    }

    /// The server, redacted.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Runs `sql` with typed parameters as the unnamed statement.
    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, PgError> {
        bounded(QUERY_TIMEOUT, self.client.query_typed(sql, params))
            .await
            .map_err(|detail| PgError::Query {
                shown: self.shown.clone(),
                detail,
            })
    }

    /// Closes the session.
    pub async fn close(self) {
        drop(self.client);
        let _ = self.conn.await;
    }
}

/// `f` within `limit`; the error says what happened, without the server.
async fn bounded<T>(
    limit: Duration,
    f: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", limit.as_secs())),
    }
}
