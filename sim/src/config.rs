//! What a sim instance is: its projects and keys, queue and batching, store and faults.

use crate::crash_reports::CrashReportSettings;
use crate::faults::DropRule;
use crate::preset::{Preset, ServiceTimes};
use crate::script::FaultScript;
use crate::store::StoreConfig;
use std::time::Duration;

/// A project and a public key of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectKey {
    /// The Sentry project id.
    pub project_id: u64,
    /// The DSN's public key (32 hex digits in Sentry).
    pub public_key: String,
    /// Whether the key is active (`sentry_projectkey.status = 0`); an inactive key is
    /// refused as Relay refuses a disabled one.
    pub active: bool,
}

impl ProjectKey {
    /// An active key of `project_id`.
    pub fn active(project_id: u64, public_key: &str) -> ProjectKey {
        ProjectKey {
            project_id,
            public_key: public_key.to_owned(),
            active: true,
        }
    }
}

/// Everything a sim instance needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Projects the sim accepts, each with its key.
    pub projects: Vec<ProjectKey>,
    /// The organization slug the read API answers to.
    pub org: String,
    /// Bearer token the read API requires.
    pub api_token: String,
    /// Events each topic's queue holds before ingest answers 503 (Kafka's place).
    pub queue_capacity: usize,
    /// Rows per store write at most.
    pub batch_rows: usize,
    /// Longest a row waits in a batch (Snuba's consumer flushes about every 750 ms).
    pub batch_interval: Duration,
    /// Where accepted events end up.
    pub store: StoreConfig,
    /// Accepted events to lose silently.
    pub drop: DropRule,
    /// Scripted faults and the per-key quota.
    pub faults: FaultScript,
    /// Where ground truth is written as it happens (JSON lines), if anywhere.
    pub truth_file: Option<std::path::PathBuf>,
    /// Time zero of the fault script's windows: the start (default), or the first ingest
    /// request.
    pub faults_from: crate::script::ScriptOrigin,
    /// Events each topic's pipeline processes at once (`None`: unlimited).
    pub workers: Option<usize>,
    /// Processing time per kind, holding a worker.
    pub service: ServiceTimes,
    /// How long Relay takes to fetch a key's project config: the first envelopes of a key
    /// are answered at once but wait this long before processing (Relay batches fetches
    /// every 100 ms, then waits for the upstream).
    pub config_fetch: Duration,
    /// `sentry:store_crash_reports` of the projects and the organization.
    pub crash_reports: CrashReportSettings,
    /// How long an event stored twice stays visible twice in the in-memory store, until
    /// the modeled merge (ClickHouse's own merges decide it in the ClickHouse store).
    pub duplicate_merge: Duration,
    /// Whether the read API enforces sentry.io's rate limits (event details 5/s, Discover
    /// 50/s); self-hosted enforces none, the default.
    pub api_rate_limits: bool,
    /// Whether the install runs errors-only (self-hosted's `COMPOSE_PROFILES=errors-only`):
    /// Relay still takes transactions, nothing consumes `ingest-transactions`.
    pub errors_only: bool,
    /// The chunk-upload URL to answer instead of the sim's own (relative) one.
    pub chunk_upload_url: Option<String>,
    /// Which Sentry the sim answers as.
    pub flavor: Flavor,
    /// Whether a real Relay stands in front of the sim, and in which mode: the sim then
    /// answers as Relay's upstream and records every arrival ([`crate::relay_upstream`]).
    pub relay_upstream: Option<crate::relay_upstream::UpstreamMode>,
}

/// Which Sentry a sim answers as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Flavor {
    /// Sentry 10 and later, behind Relay: envelopes, outcomes, artifact bundles, Discover.
    #[default]
    Relay,
    /// Sentry 9.1: `/store/` and `/minidump/` only, release files, `eventids` read-back
    /// (the sim's `sentry9` module).
    Sentry9,
}

impl SimConfig {
    /// Applies a topology preset: workers, service times and queue capacity.
    pub fn with_preset(mut self, preset: Preset) -> SimConfig {
        let (workers, service, queue) = preset.capacity();
        self.workers = workers;
        self.service = service;
        self.queue_capacity = queue;
        self
    }
}

impl SimConfig {
    /// A sim storing in memory, accepting `project_id` with `public_key`.
    pub fn in_memory(project_id: u64, public_key: &str, api_token: &str) -> SimConfig {
        SimConfig {
            projects: vec![ProjectKey::active(project_id, public_key)],
            org: "sentry".into(),
            api_token: api_token.to_owned(),
            queue_capacity: 100_000,
            batch_rows: 5_000,
            batch_interval: Duration::from_millis(750),
            store: StoreConfig::Memory,
            drop: DropRule::None,
            faults: FaultScript::default(),
            truth_file: None,
            faults_from: Default::default(),
            workers: None,
            service: ServiceTimes::default(),
            config_fetch: Duration::from_millis(100),
            crash_reports: CrashReportSettings::default(),
            duplicate_merge: crate::store::DEFAULT_MERGE_AFTER,
            api_rate_limits: false,
            errors_only: false,
            chunk_upload_url: None,
            flavor: Flavor::Relay,
            relay_upstream: None,
        }
    }
}
