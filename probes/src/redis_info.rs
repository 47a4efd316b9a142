//! The Redis probe: `INFO`'s used memory, evicted keys per second, connected and blocked
//! clients and commands per second, through one connection kept between samples (the `redis`
//! crate speaks the protocol) and opened again after a failure.

use crate::sampler::{Rates, Reading, Sampled};
use sentry_load_config::ServiceUrl;

/// A Redis probe.
pub struct RedisProbe {
    client: Result<redis::Client, String>,
    shown: String,
    conn: Option<redis::aio::MultiplexedConnection>,
    rates: Rates,
}

impl RedisProbe {
    /// The probe of `url`.
    pub fn new(url: &ServiceUrl) -> RedisProbe {
        RedisProbe {
            client: redis::Client::open(url.expose().as_str())
                .map_err(|e| format!("not a Redis URL: {:?}", e.kind())),
            shown: url.to_string(),
            conn: None,
            rates: Rates::default(),
        }
    }

    /// The server, redacted.
    pub fn shown(&self) -> String {
        self.shown.clone()
    }

    /// One sample.
    pub async fn sample(&mut self) -> Sampled {
        let r = self.read().await;
        if r.is_err() {
            self.conn = None;
        }
        r.into()
    }

    async fn read(&mut self) -> Result<Vec<Reading>, String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        if self.conn.is_none() {
            self.conn = Some(
                client
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        let Some(conn) = &mut self.conn else {
            return Err("no connection".into());
        };
        let info: String = redis::cmd("INFO")
            .query_async(conn)
            .await
            .map_err(|e| e.to_string())?;
        let field = |key: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        let mut out = Vec::new();
        if let Some(bytes) = field("used_memory") {
            out.push(Reading::new("used memory".into(), "MiB", bytes / 1048576.0));
        }
        if let Some(n) = field("connected_clients") {
            out.push(Reading::new("connected clients".into(), "clients", n));
        }
        if let Some(n) = field("blocked_clients") {
            out.push(Reading::new("blocked clients".into(), "clients", n));
        }
        if let Some(n) = field("evicted_keys") {
            out.extend(self.rates.rate("evicted keys", "per second", n));
        }
        if let Some(n) = field("total_commands_processed") {
            out.extend(self.rates.rate("commands", "per second", n));
        }
        if out.is_empty() {
            return Err("INFO holds none of used_memory, connected_clients, evicted_keys".into());
        }
        Ok(out)
    }
}
