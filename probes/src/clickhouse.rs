//! The ClickHouse probe, over the HTTP interface (`TabSeparated` answers, read by every
//! version from 18.16 on): active parts per table of the database (Snuba's `errors_local`,
//! `transactions_local`, …), inserts, inserted rows and merges per second from
//! `system.events`, merges running from `system.merges`, and queries slower than
//! `slow_query` that finished in the last minute from `system.query_log` (present only when
//! the server logs queries: `log_queries`).

use crate::sampler::{Rates, Reading, Sampled, body_within, http_client};
use sentry_load_config::{ClickHouseConfig, Probe, ProbeTarget, Secret};

/// An answer's size at most.
const MAX_ANSWER: usize = 256 * 1024;
/// Tables whose parts are counted at most (the most parts first).
const MAX_TABLES: usize = 20;

/// The span slow queries are counted over: the server writes `system.query_log` in batches
/// (every 7.5 s by default), so a query shows there seconds after it ended.
const SLOW_WINDOW_SECS: u64 = 60;

/// The `system.events` counters read, and their series.
const EVENTS: [(&str, &str); 3] = [
    ("InsertQuery", "inserts"),
    ("InsertedRows", "inserted rows"),
    ("Merge", "merges"),
];

/// A ClickHouse probe.
pub struct ClickHouseProbe {
    client: reqwest::Client,
    url: Option<url::Url>,
    shown: String,
    user: String,
    password: Option<Secret>,
    database: String,
    slow_ms: u128,
    rates: Rates,
}

impl ClickHouseProbe {
    /// The probe `p`, its server `[verify.clickhouse]`'s where it names none.
    pub fn new(p: &Probe, verify: Option<&ClickHouseConfig>) -> ClickHouseProbe {
        let ProbeTarget::ClickHouse {
            url,
            user,
            password,
            database,
            slow_query,
        } = &p.target
        else {
            unreachable!("a ClickHouse probe's target")
        };
        let url = url.clone().or_else(|| verify.map(|v| v.url.clone()));
        // Credentials written into the URL stand for `user` and `password`.
        let mut bare = url.as_ref().map(|u| u.expose().clone());
        let mut from_url = (None, None);
        if let Some(u) = &mut bare
            && !u.username().is_empty()
        {
            from_url = (
                Some(u.username().to_owned()),
                u.password().map(|p| Secret::new(p.to_owned())),
            );
            let _ = u.set_username("");
            let _ = u.set_password(None);
        }
        ClickHouseProbe {
            client: http_client(),
            shown: url.as_ref().map_or("no server".into(), |u| u.to_string()),
            url: bare,
            user: from_url
                .0
                .or_else(|| user.clone())
                .or_else(|| verify.map(|v| v.user.clone()))
                .unwrap_or_else(|| "default".into()),
            password: from_url
                .1
                .or_else(|| password.clone())
                .or_else(|| verify.and_then(|v| v.password.clone())),
            database: database
                .as_ref()
                .or(verify.map(|v| &v.database))
                .map_or("default".into(), |d| d.as_str().to_owned()),
            slow_ms: slow_query.as_millis(),
            rates: Rates::default(),
        }
    }

    /// The server, redacted.
    pub fn shown(&self) -> String {
        format!("{} database {}", self.shown, self.database)
    }

    /// One sample.
    pub async fn sample(&mut self) -> Sampled {
        let mut out = Vec::new();
        let parts = format!(
            "SELECT table, count() FROM system.parts WHERE active AND database = '{}' \
             GROUP BY table ORDER BY count() DESC, table LIMIT {MAX_TABLES}",
            self.database
        );
        let rows = match self.query(&parts).await {
            Ok(rows) => rows,
            Err(e) => return Sampled::failed(e),
        };
        for row in rows {
            if let [table, n] = row.as_slice()
                && let Ok(n) = n.parse::<f64>()
            {
                out.push(Reading::new(format!("active parts {table}"), "parts", n));
            }
        }
        let names: Vec<String> = EVENTS.iter().map(|e| format!("'{}'", e.0)).collect();
        let events = format!(
            "SELECT event, value FROM system.events WHERE event IN ({})",
            names.join(",")
        );
        let mut error = None;
        match self.query(&events).await {
            Ok(rows) => {
                for (event, series) in EVENTS {
                    let total = rows
                        .iter()
                        .find(|r| r.first().map(String::as_str) == Some(event))
                        .and_then(|r| r.get(1)?.parse::<f64>().ok())
                        .unwrap_or(0.0);
                    out.extend(self.rates.rate(series, "per second", total));
                }
            }
            Err(e) => error = Some(e),
        }
        match self.query("SELECT count() FROM system.merges").await {
            Ok(rows) => {
                out.extend(count(&rows).map(|n| Reading::new("merges running".into(), "merges", n)))
            }
            Err(e) => error = error.or(Some(e)),
        }
        // Absent until the server logs a query: no series then, and no error. `type` 2 is
        // QueryFinish: a UInt8 in 18.16, an Enum8 of the same values since.
        let slow = format!(
            "SELECT count() FROM system.query_log WHERE toUInt8(type) = 2 AND \
             query_duration_ms >= {} AND event_time > now() - {SLOW_WINDOW_SECS}",
            self.slow_ms,
        );
        if let Ok(rows) = self.query(&slow).await {
            out.extend(count(&rows).map(|n| {
                Reading::new(
                    format!("queries over {} ms, last minute", self.slow_ms),
                    "queries",
                    n,
                )
            }));
        }
        Sampled {
            readings: out,
            error,
        }
    }

    /// The rows of `sql`, tab-separated.
    async fn query(&self, sql: &str) -> Result<Vec<Vec<String>>, String> {
        let Some(url) = &self.url else {
            return Err("no ClickHouse `url`".into());
        };
        let resp = self
            .client
            .post(url.clone())
            .body(format!("{sql} FORMAT TabSeparated"))
            .basic_auth(&self.user, self.password.as_ref().map(Secret::expose))
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = resp.status();
        let body = body_within(resp, MAX_ANSWER).await?;
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            let first: String = text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            return Err(format!("ClickHouse answered {status}: {first}"));
        }
        Ok(text
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect())
    }
}

/// The single number of a `SELECT count()`.
fn count(rows: &[Vec<String>]) -> Option<f64> {
    rows.first()?.first()?.parse().ok()
}
