//! Pipeline probes: beside the load, every few seconds, each `[[probes]]` entry samples a
//! component of the pipeline — ClickHouse's parts, inserts, merges and slow queries;
//! Postgres's connections and waiting locks; Redis's memory, evictions and clients; Kafka's
//! consumer lag; each container's CPU and memory from the Docker Engine; Relay's health —
//! onto the run's time axis (`sentry_load_reports::ProbeTrack`), which the report draws under
//! the load and reads for the series that moved before the trouble.
//!
//! A probe fails soft: a sample that cannot be taken (unreachable, refused, too slow, an answer
//! too big or unreadable) is counted, its error kept secret-free, and the run goes on. Every
//! sample is bounded by the probe's `timeout`, every answer by a size, every track by
//! [`track::MAX_SERIES`] series of [`track::MAX_POINTS`] points. Each sample is also appended
//! to `probes.jsonl` in the run folder as it is taken.

#![warn(missing_docs)]

mod clickhouse;
mod docker;
mod kafka;
mod postgres;
mod redis_info;
mod relay;
mod sampler;
pub mod track;

pub use kafka::lag_by_group_and_topic;
pub use sampler::{Reading, Sampled};

use sentry_load_config::{ClickHouseConfig, PostgresConfig, Probe};
use sentry_load_reports::ProbeTrack;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::time::{Instant, MissedTickBehavior};
use track::TrackBuilder;

/// The probes of a run, sampling until dropped.
pub struct Probes {
    tracks: Vec<Arc<Mutex<TrackBuilder>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Probes {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Where a probe without `url` finds its server.
#[derive(Clone, Copy, Default)]
pub struct Defaults<'a> {
    /// `[verify.clickhouse]`.
    pub clickhouse: Option<&'a ClickHouseConfig>,
    /// `[verify.postgres]`.
    pub postgres: Option<&'a PostgresConfig>,
}

impl Probes {
    /// Starts every probe at time zero (`start`); each sample is appended to `record` (a
    /// `probes.jsonl`) as it is taken, when given.
    pub fn start(
        list: &[Probe],
        defaults: Defaults<'_>,
        start: Instant,
        record: Option<&Path>,
    ) -> Probes {
        // Opened at the first sample: the run folder is made just before time zero.
        let file = record.map(|p| Arc::new(Mutex::new(Record::Closed(p.to_owned()))));
        let mut tracks = Vec::new();
        let mut tasks = Vec::new();
        for p in list {
            let mut sampler = sampler::Sampler::new(p, defaults);
            let track = Arc::new(Mutex::new(TrackBuilder::new(
                &p.name,
                p.target.kind(),
                &sampler.shown(),
                p.every,
            )));
            tracks.push(track.clone());
            let (every, timeout, name, file) = (p.every, p.timeout, p.name.clone(), file.clone());
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval_at(start.max(Instant::now()), every);
                tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
                loop {
                    tick.tick().await;
                    let at = Instant::now()
                        .saturating_duration_since(start)
                        .as_secs_f64();
                    let sampled = match tokio::time::timeout(timeout, sampler.sample()).await {
                        Ok(s) => s,
                        Err(_) => Sampled::failed(format!(
                            "no answer within its {} ms timeout",
                            timeout.as_millis()
                        )),
                    };
                    if let Some(f) = &file {
                        write_line(f, &name, at, &sampled);
                    }
                    if let Ok(mut t) = track.lock() {
                        t.add(at, &sampled);
                    }
                }
            }));
        }
        Probes { tracks, tasks }
    }

    /// What each probe sampled so far, in profile order.
    pub fn tracks(&self) -> Vec<ProbeTrack> {
        self.tracks
            .iter()
            .filter_map(|t| t.lock().ok().map(|t| t.track()))
            .collect()
    }
}

/// `probes.jsonl`, before and after its first line.
enum Record {
    Closed(PathBuf),
    Open(std::io::BufWriter<std::fs::File>),
}

/// One line of `probes.jsonl`: `{"probe", "at_secs", "values": {series: value}, "error"}`.
fn write_line(file: &Mutex<Record>, probe: &str, at: f64, s: &Sampled) {
    let values: serde_json::Map<String, serde_json::Value> = s
        .readings
        .iter()
        .map(|r| (r.name.clone(), serde_json::json!(r.value)))
        .collect();
    let line = serde_json::json!({
        "probe": probe,
        "at_secs": (at * 1000.0).round() / 1000.0,
        "values": values,
        "error": s.error,
    });
    let Ok(mut record) = file.lock() else {
        return;
    };
    if let Record::Closed(path) = &*record {
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        match opened {
            Ok(f) => *record = Record::Open(std::io::BufWriter::new(f)),
            Err(_) => return,
        }
    }
    if let Record::Open(f) = &mut *record {
        let _ = writeln!(f, "{line}");
        let _ = f.flush();
    }
}
