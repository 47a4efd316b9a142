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
    pub async fn connect(cfg: &PostgresConfig) -> Result<PgSession, String> {
        let shown = redact::url(cfg.url.expose());
        let mut config: tokio_postgres::Config = cfg
            .url
            .expose()
            .as_str()
            .parse()
            .map_err(|e| format!("postgres {shown}: not a connection URL: {e}"))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let (client, conn) = bounded(&shown, CONNECT_TIMEOUT, config.connect(NoTls)).await?;
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
    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, String> {
        bounded(
            &self.shown,
            QUERY_TIMEOUT,
            self.client.query_typed(sql, params),
        )
        .await
    }

    /// Closes the session.
    pub async fn close(self) {
        drop(self.client);
        let _ = self.conn.await;
    }
}

async fn bounded<T>(
    shown: &str,
    limit: Duration,
    f: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("postgres {shown}: {e}")),
        Err(_) => Err(format!(
            "postgres {shown}: no answer within {} s",
            limit.as_secs()
        )),
    }
}
