//! The Postgres probe: client connections by state (`pg_stat_activity`) and lock requests
//! waiting (`pg_locks` not granted), through one session kept open between samples and opened
//! again after a failure. Its queries are unnamed statements, so it also reads Postgres
//! through pgbouncer in transaction pooling (see `sentry_load_verify`'s session).

use crate::sampler::{Reading, Sampled};
use sentry_load_config::{PostgresConfig, ServiceUrl};
use sentry_load_verify::postgres::PgSession;

/// The states always drawn, at 0 when no connection is in them.
const STATES: [&str; 3] = ["active", "idle", "idle in transaction"];

/// A Postgres probe.
pub struct PostgresProbe {
    cfg: Option<PostgresConfig>,
    session: Option<PgSession>,
}

impl PostgresProbe {
    /// The probe of `url`, or of `[verify.postgres]`'s.
    pub fn new(url: Option<&ServiceUrl>, verify: Option<&PostgresConfig>) -> PostgresProbe {
        PostgresProbe {
            cfg: url
                .map(|u| PostgresConfig { url: u.clone() })
                .or_else(|| verify.cloned()),
            session: None,
        }
    }

    /// The server, redacted.
    pub fn shown(&self) -> String {
        self.cfg
            .as_ref()
            .map_or("no server".into(), |c| c.url.to_string())
    }

    /// One sample.
    pub async fn sample(&mut self) -> Sampled {
        let r = self.read().await;
        if r.is_err() {
            // Opened afresh next time: the session may be what broke.
            self.session = None;
        }
        r.into()
    }

    async fn read(&mut self) -> Result<Vec<Reading>, String> {
        let Some(cfg) = &self.cfg else {
            return Err("no Postgres `url`".into());
        };
        if self.session.is_none() {
            self.session = Some(PgSession::connect(cfg).await.map_err(|e| e.to_string())?);
        }
        let Some(s) = &self.session else {
            return Err("no session".into());
        };
        let rows = s
            .query(
                "SELECT coalesce(state, 'unknown'), count(*)::int8 FROM pg_stat_activity \
                 WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 1 LIMIT 16",
                &[],
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut out: Vec<Reading> = STATES
            .iter()
            .map(|s| Reading::new(format!("connections {s}"), "connections", 0.0))
            .collect();
        for row in rows {
            let (state, n): (String, i64) = (row.get(0), row.get(1));
            let name = format!("connections {state}");
            match out.iter_mut().find(|r| r.name == name) {
                Some(r) => r.value = n as f64,
                None => out.push(Reading::new(name, "connections", n as f64)),
            }
        }
        let locks = s
            .query("SELECT count(*)::int8 FROM pg_locks WHERE NOT granted", &[])
            .await
            .map_err(|e| e.to_string())?;
        let waiting: i64 = locks.first().map_or(0, |r| r.get(0));
        out.push(Reading::new(
            "waiting locks".into(),
            "locks",
            waiting as f64,
        ));
        Ok(out)
    }
}
