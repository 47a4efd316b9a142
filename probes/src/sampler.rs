//! One probe's sampler: what every kind shares — a sample's readings and error, counters
//! turned into per-second rates, answers read within a size — and the dispatch to each kind.

use crate::{Defaults, clickhouse, docker, kafka, postgres, redis_info, relay};
use sentry_load_config::{Probe, ProbeTarget};
use std::collections::HashMap;
use tokio::time::Instant;

/// One sampled value.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The series it belongs to.
    pub name: String,
    /// Its unit.
    pub unit: &'static str,
    /// The value.
    pub value: f64,
}

impl Reading {
    /// A reading of `name`.
    pub fn new(name: String, unit: &'static str, value: f64) -> Reading {
        Reading { name, unit, value }
    }
}

/// What one sample gave: its readings, and an error when (part of) it failed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampled {
    /// The values read.
    pub readings: Vec<Reading>,
    /// Why the sample (or part of it) failed, secret-free.
    pub error: Option<String>,
}

impl Sampled {
    /// A sample that read nothing.
    pub fn failed(error: String) -> Sampled {
        Sampled {
            readings: Vec::new(),
            error: Some(error),
        }
    }
}

impl From<Result<Vec<Reading>, String>> for Sampled {
    fn from(r: Result<Vec<Reading>, String>) -> Sampled {
        match r {
            Ok(readings) => Sampled {
                readings,
                error: None,
            },
            Err(e) => Sampled::failed(e),
        }
    }
}

/// Cumulative counters turned into per-second rates between two samples: the first sample of a
/// counter gives no rate, a counter that went down (a restart) starts over.
#[derive(Default)]
pub struct Rates {
    last: HashMap<String, (Instant, f64)>,
}

impl Rates {
    /// The rate of `name` since its last value, as a reading.
    pub fn rate(&mut self, name: &str, unit: &'static str, total: f64) -> Option<Reading> {
        let now = Instant::now();
        let before = self.last.insert(name.to_owned(), (now, total));
        let (then, prev) = before?;
        let secs = now.saturating_duration_since(then).as_secs_f64();
        (secs > 0.0 && total >= prev)
            .then(|| Reading::new(name.to_owned(), unit, (total - prev) / secs))
    }
}

/// Reads at most `limit` bytes of `resp`'s body; a longer body is an error.
pub async fn body_within(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| e.without_url().to_string())?
    {
        if body.len() + chunk.len() > limit {
            return Err(format!("answer longer than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An HTTP client for probes: no redirects, no proxy, bounded connect time.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

/// A probe's sampler, by kind.
pub enum Sampler {
    /// ClickHouse.
    ClickHouse(clickhouse::ClickHouseProbe),
    /// Postgres.
    Postgres(postgres::PostgresProbe),
    /// Redis.
    Redis(redis_info::RedisProbe),
    /// The Docker Engine.
    Docker(docker::DockerProbe),
    /// Relay.
    Relay(relay::RelayProbe),
    /// Kafka's consumer groups.
    Kafka(kafka::KafkaProbe),
}

impl Sampler {
    /// The sampler of `p`.
    pub fn new(p: &Probe, defaults: Defaults<'_>) -> Sampler {
        match &p.target {
            ProbeTarget::ClickHouse { .. } => {
                Sampler::ClickHouse(clickhouse::ClickHouseProbe::new(p, defaults.clickhouse))
            }
            ProbeTarget::Postgres { url } => Sampler::Postgres(postgres::PostgresProbe::new(
                url.as_ref(),
                defaults.postgres,
            )),
            ProbeTarget::Redis { url } => Sampler::Redis(redis_info::RedisProbe::new(url)),
            ProbeTarget::Docker { socket, project } => {
                Sampler::Docker(docker::DockerProbe::new(socket, project.as_deref()))
            }
            ProbeTarget::Relay { url } => Sampler::Relay(relay::RelayProbe::new(url)),
            ProbeTarget::Kafka { command } => Sampler::Kafka(kafka::KafkaProbe::new(command)),
        }
    }

    /// What it samples, secret-free.
    pub fn shown(&self) -> String {
        match self {
            Sampler::ClickHouse(p) => p.shown(),
            Sampler::Postgres(p) => p.shown(),
            Sampler::Redis(p) => p.shown(),
            Sampler::Docker(p) => p.shown(),
            Sampler::Relay(p) => p.shown(),
            Sampler::Kafka(p) => p.shown(),
        }
    }

    /// One sample.
    pub async fn sample(&mut self) -> Sampled {
        match self {
            Sampler::ClickHouse(p) => p.sample().await,
            Sampler::Postgres(p) => p.sample().await,
            Sampler::Redis(p) => p.sample().await,
            Sampler::Docker(p) => p.sample().await,
            Sampler::Relay(p) => p.sample().await,
            Sampler::Kafka(p) => p.sample().await,
        }
    }
}
