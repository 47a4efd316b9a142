//! `report.json`: the versioned report model. Bump [`SCHEMA_VERSION`] on any change that is
//! not a pure addition.

use crate::histogram::Percentiles;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The version of the report's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// A run's report.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    /// [`SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The sentry-load version that wrote it.
    pub tool_version: String,
    /// What ran.
    pub run: RunSection,
    /// What was planned.
    pub schedule: ScheduleSection,
    /// What was sent and how it ended.
    pub sending: SendingSection,
    /// What became visible, and how fast.
    pub visibility: VisibilitySection,
    /// Whether the seen events' issues exist in Postgres (when checked).
    pub issues: Option<IssuesSection>,
    /// What did not make it, by cause.
    pub loss: LossSection,
    /// Sending, visibility and loss per event kind (`error`, `transaction`, …), for the kinds
    /// the run sent.
    #[serde(default)]
    pub kinds: BTreeMap<String, KindSection>,
    /// Rates and latency over the run, in fixed buckets from time zero.
    #[serde(default)]
    pub timeline: TimelineSection,
    /// Stored events compared field by field with what was sent, on a sample per kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<FidelitySection>,
    /// The run the baseline gates compared against, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineRef>,
    /// What the numbers say, where a pattern needs words (a wrong DSN key, quotas enforced
    /// after the 200): one sentence each, most important first.
    #[serde(default)]
    pub verdicts: Vec<String>,
    /// Each `[[disruption]]` command that ran, with the events meant for the spans around it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disruptions: Vec<crate::disruptions::DisruptionSection>,
    /// What the `[[probes]]` sampled beside the load, and which of their series moved first
    /// before the run's trouble began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<crate::probes::ProbesSection>,
    /// Of the envelopes a real Relay answered 200, how many reached the sim behind it
    /// (`[verify.relay_upstream]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_upstream: Option<crate::relay_upstream::RelayUpstreamSection>,
    /// The capacity search's result, in the report of a `sentry-load capacity` folder (the
    /// rest of the report is then that of the highest step that held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<crate::capacity::CapacitySection>,
    /// Each gate of the profile, checked.
    pub gates: Vec<GateResult>,
    /// Whether every gate passed.
    pub passed: bool,
}

/// What ran.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunSection {
    /// The run id (the `sentry_load.run` tag).
    pub id: String,
    /// Profile name.
    pub profile: String,
    /// Profile file hash.
    pub profile_hash: String,
    /// The seed.
    pub seed: u64,
    /// Time zero, RFC 3339.
    pub started_at: String,
    /// The target, redacted.
    pub target: String,
    /// What preflight changed about the run (transactions taken out of the mix of an
    /// errors-only install).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Why and where the run was stopped before its schedule ended (an operator's Ctrl-C or
    /// SIGTERM): its figures are of what was sent until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// The abort gate (`[gates.abort]`) that stopped the run while it sent, if one did: it
    /// is also the first of the gates, failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_by: Option<String>,
}

impl RunSection {
    /// How the run was stopped before its schedule ended, if it was — `aborted` (by an abort
    /// gate) or `interrupted` (by a signal) — and why.
    pub fn stopped(&self) -> Option<(&'static str, &str)> {
        let why = self.interrupted.as_deref()?;
        let how = if self.aborted_by.is_some() {
            "aborted"
        } else {
            "interrupted"
        };
        Some((how, why))
    }
}

/// What was planned.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScheduleSection {
    /// Sends planned.
    pub planned: u64,
    /// Planned envelopes per second.
    pub target_rate: f64,
    /// Planned duration, seconds.
    pub duration_secs: f64,
    /// The schedule's stretches (stages, and a spike's three parts), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageMark>,
}

/// One stretch of the schedule, its rate moving linearly from `from_rate` to `to_rate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StageMark {
    /// Its start, seconds after time zero.
    pub start_secs: f64,
    /// Its end, seconds after time zero.
    pub end_secs: f64,
    /// Envelopes per second at its start.
    pub from_rate: f64,
    /// Envelopes per second at its end.
    pub to_rate: f64,
}

/// What was sent and how it ended.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SendingSection {
    /// Journal records read.
    pub records: u64,
    /// Requests that went out (not dropped by the harness, not backed off).
    pub started: u64,
    /// Count per outcome (`accepted`, `rate_limited`, …), every outcome listed.
    pub outcomes: BTreeMap<String, u64>,
    /// Count per HTTP status.
    pub statuses: BTreeMap<String, u64>,
    /// Sends started per second over the time they took to start.
    pub achieved_rate: f64,
    /// `achieved_rate / target_rate`.
    pub achieved_rate_ratio: f64,
    /// Sends that started more than `late_after_ms` behind schedule.
    pub late: u64,
    /// The lateness threshold, ms (the profile's `send.late_after`).
    pub late_after_ms: u64,
    /// How far behind schedule sends started, microseconds.
    pub lateness_us: Option<Percentiles>,
    /// Request round trips, microseconds.
    pub round_trip_us: Option<Percentiles>,
    /// Bytes sent.
    pub bytes: u64,
    /// Bytes after the journal's last whole record (a crash leaves some).
    pub journal_ignored_tail_bytes: u64,
    /// Bytes skipped between the journal's intact records: damage, which cost records.
    #[serde(default)]
    pub journal_damaged_bytes: u64,
}

impl SendingSection {
    /// The count of one outcome (the report keeps them by name, for readers of the JSON).
    pub fn count(&self, outcome: sentry_load_common::SendOutcome) -> u64 {
        self.outcomes.get(outcome.as_str()).copied().unwrap_or(0)
    }
}

/// Latency of one pipeline stage, whole seconds (the stores keep whole seconds).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StageSection {
    /// From where to where.
    pub stage: String,
    /// The stage's resolution, as stated by the source.
    pub resolution: String,
    /// Percentiles in seconds.
    pub seconds: Percentiles,
}

/// What became visible, and how fast.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VisibilitySection {
    /// Where events were read back.
    pub source: String,
    /// Whether verification ran live (latencies measured) or after the fact.
    pub live: bool,
    /// Poll interval, ms: the resolution of visibility latency.
    pub poll_interval_ms: u64,
    /// Accepted events tracked.
    pub tracked: u64,
    /// Seen.
    pub seen: u64,
    /// Not seen by the deadline, although the source answered for them.
    pub missing: u64,
    /// Not seen, and the last query asking for them failed: unknown, not counted as Sentry's
    /// loss (but counted in `loss.loss_ratio`, so a loss gate cannot pass on them).
    pub unverified: u64,
    /// Events stored more than once, as the query that first found each saw it. Snuba's
    /// tables are ReplacingMergeTrees: a background merge keeps one copy, and queries without
    /// `FINAL` see every copy only until then — a floor on duplicates, not a count.
    pub duplicated: u64,
    /// Intended send → first seen, milliseconds (live verification only).
    pub latency_ms: Option<Percentiles>,
    /// The latency histogram, HdrHistogram V2 base64 (live verification only).
    pub latency_histogram: Option<String>,
    /// Stage split, where the source keeps stage times (errors, native and JavaScript events
    /// read from ClickHouse).
    pub stages: Vec<StageSection>,
    /// Kinds the run saw that have no stage split, and why (transactions: Snuba stores no
    /// stage times for them).
    #[serde(default)]
    pub stages_unavailable: BTreeMap<String, String>,
    /// Median of Relay's `received` minus the intended send second, where the source keeps
    /// `received`: about 0 when the clocks agree; several seconds off when the target's clock
    /// is off, which shifts every stage that mixes the two clocks.
    #[serde(default)]
    pub clock_offset_secs: Option<i64>,
    /// Polls made.
    pub polls: u64,
    /// Queries issued.
    pub queries: u64,
    /// Queries that failed.
    pub failed_queries: u64,
    /// The last query error, redacted.
    pub last_error: Option<String>,
}

/// The Postgres issue check.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IssuesSection {
    /// Distinct issues the seen events point at.
    pub expected: u64,
    /// Found in `sentry_groupedmessage`.
    pub found: u64,
    /// `[project, group id]` of the missing ones.
    pub missing: Vec<(u64, u64)>,
    /// Seen native crashes looked up in `sentry_eventattachment`.
    #[serde(default)]
    pub crashes: u64,
    /// Of those, how many have their minidump stored as an attachment (0 when the project
    /// does not keep crash reports: `sentry:store_crash_reports`).
    #[serde(default)]
    pub crashes_with_attachment: u64,
    /// Per project with seen crashes: its `sentry:store_crash_reports` setting, what it
    /// allows, and what was stored.
    #[serde(default)]
    pub crash_reports: Vec<CrashReportsSection>,
    /// Why the check could not run, if it could not.
    pub error: Option<String>,
}

/// One project's crash-report setting and its crashes' stored minidumps.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CrashReportsSection {
    /// The project.
    pub project_id: u64,
    /// `sentry:store_crash_reports` as it applies: -1 every minidump, 0 none, n at most n per
    /// issue; absent when it could not be read.
    pub setting: Option<i64>,
    /// Where it came from: `project`, `organization`, `default` (unset: 0), or `unreadable`.
    pub from: String,
    /// Seen crashes.
    pub crashes: u64,
    /// Of those, stored with their minidump.
    pub stored: u64,
    /// The most this run could have stored under the setting, when it says.
    pub keepable: Option<u64>,
    /// What the numbers mean: `not kept by setting`, `capped at n per issue`, `every crash
    /// kept`, or what is wrong.
    pub verdict: String,
    /// Whether what was stored agrees with the setting.
    pub as_set: bool,
}

/// One event that never became visible.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MissingEntry {
    /// Sequence number.
    pub seq: u64,
    /// Event id (32 hex).
    pub event_id: String,
    /// Project.
    pub project_id: u64,
    /// The outcome that explains it (`filtered:release-version`), when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// What did not make it, by cause. Harness drops are listed, never counted as Sentry's loss.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LossSection {
    /// Accepted (200) but never visible, and no outcome says why: silent loss. Counted only
    /// where the source sees outcomes; elsewhere such events are `outcome_unknown`.
    pub silent: u64,
    /// Accepted but never visible, read back from a source that cannot see outcomes (the
    /// Sentry web API): whether an outcome explains them is unknown, so they are neither
    /// silent nor explained.
    #[serde(default)]
    pub outcome_unknown: u64,
    /// Why outcomes could not be looked up, when they could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_unknown_why: Option<String>,
    /// Outcomes of attachments (a crash's minidump `filtered:crash-report-limit`), by outcome
    /// and reason, counted per attachment outcome. They carry the crash's event id but are
    /// about the attachment, never the event: reported apart, they explain no event.
    #[serde(default)]
    pub attachment_outcomes: BTreeMap<String, u64>,
    /// Accepted but never visible, with an outcome saying why (`filtered:release-version`,
    /// `invalid:…`), per outcome and reason — from the outcomes table, where the source has it.
    #[serde(default)]
    pub explained: BTreeMap<String, u64>,
    /// Refused by the target, per outcome (`rate_limited`, `too_large`, …).
    pub refused: BTreeMap<String, u64>,
    /// No HTTP answer.
    pub transport_errors: u64,
    /// Never sent: the harness could not start them in time.
    pub harness_dropped: u64,
    /// Not sent because a 429 asked to back off (the `back_off` policy, like an SDK).
    pub backed_off: u64,
    /// Not sent: the target's protocol cannot carry the kind (transactions to Sentry 9's
    /// `/store/`). Not offered, never Sentry's loss.
    #[serde(default)]
    pub unsupported: u64,
    /// Planned sends with no journal record (a damaged journal, a process that died): lost as
    /// far as anyone can tell, and counted as offered and not seen.
    #[serde(default)]
    pub unjournaled: u64,
    /// `(offered − seen) / offered`, offered = every arrival but harness drops and
    /// unsupported ones, plus the unjournaled: events that did not become visible, whatever
    /// the cause (refused, backed off, lost, unverified, unrecorded).
    pub loss_ratio: f64,
    /// Events accepted but never visible, by sequence number (first 10,000); those with an
    /// outcome carry it.
    pub missing_events: Vec<MissingEntry>,
}

/// One gate, checked.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateResult {
    /// The gate's profile key.
    pub gate: String,
    /// The threshold, as written.
    pub threshold: String,
    /// What was measured, or why it could not be.
    pub measured: String,
    /// Whether it passed.
    pub passed: bool,
}

/// One event kind's numbers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KindSection {
    /// Journal records of the kind.
    pub records: u64,
    /// Requests that went out.
    pub started: u64,
    /// Accepted (200).
    pub accepted: u64,
    /// Refused by the target, every refusal status together.
    pub refused: u64,
    /// No HTTP answer.
    pub transport_errors: u64,
    /// Never sent by the harness (dropped or backed off).
    pub not_sent: u64,
    /// Seen by the verifier.
    pub seen: u64,
    /// Accepted, never seen, no outcome saying why.
    pub silent: u64,
    /// Accepted, never seen, with an outcome saying why.
    pub explained: u64,
    /// Accepted, never seen, from a source that cannot see outcomes.
    #[serde(default)]
    pub outcome_unknown: u64,
    /// Accepted, never seen, last lookup failed.
    pub unverified: u64,
    /// `(offered − seen) / offered` for the kind.
    pub loss_ratio: f64,
    /// Intended send → first seen, milliseconds (live verification only).
    pub latency_ms: Option<Percentiles>,
    /// The kind's latency histogram, HdrHistogram V2 base64 (live verification only).
    pub latency_histogram: Option<String>,
}

/// Counts and latency per time bucket. Counts are per bucket (divide by `bucket_secs` for
/// rates); sends are placed by intended time, visibility by first-seen time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimelineSection {
    /// The bucket width, seconds.
    pub bucket_secs: u64,
    /// One point per bucket, from time zero.
    pub points: Vec<TimelinePoint>,
}

/// One timeline bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimelinePoint {
    /// Bucket start, seconds after time zero.
    pub t: u64,
    /// Sends the schedule placed in the bucket.
    pub planned: u64,
    /// Requests that went out.
    pub sent: u64,
    /// Accepted (200).
    pub accepted: u64,
    /// Refused by the target.
    pub refused: u64,
    /// Transport errors, harness drops and back-offs.
    pub failed: u64,
    /// Events first seen in the bucket.
    pub visible: u64,
    /// Median latency of the events meant for the bucket, ms.
    pub latency_p50_ms: Option<u64>,
    /// Their p95, ms.
    pub latency_p95_ms: Option<u64>,
    /// Their p99, ms.
    pub latency_p99_ms: Option<u64>,
    /// Each kind's p99 of them, ms (the kinds with an event meant for the bucket).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_p99_ms_by_kind: BTreeMap<String, u64>,
    /// Of the refused, how many per HTTP status (`"429"`, `"503"`, …): only those with some.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refused_by_status: BTreeMap<String, u64>,
    /// Sends not made for an earlier rate limit (counted in `failed` too).
    #[serde(default)]
    pub backed_off: u64,
}

/// The run a report was gated against.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BaselineRef {
    /// Its run id.
    pub run_id: String,
    /// Where its report was read.
    pub path: String,
}

/// The fidelity check: a sample of seen events, fetched as Sentry stored them and compared
/// with what was sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FidelitySection {
    /// Where the stored events were fetched.
    pub source: String,
    /// Per kind: how many were sampled, compared, differed, or could not be fetched.
    pub kinds: BTreeMap<String, FidelityCounts>,
    /// Events whose stored form differs, with each differing field (first 100).
    pub failures: Vec<FidelityFailure>,
}

impl FidelitySection {
    /// Events that differed, over every kind.
    pub fn failed(&self) -> u64 {
        self.kinds.values().map(|k| k.failed).sum()
    }
}

/// One kind's fidelity counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FidelityCounts {
    /// Events sampled.
    pub sampled: u64,
    /// Fetched and every checked field matched.
    pub passed: u64,
    /// Fetched, and some field differed.
    pub failed: u64,
    /// Could not be fetched (not counted as a failure).
    pub unavailable: u64,
    /// Still throttled (429) after waiting: not compared, never a failure.
    #[serde(default)]
    pub throttled: u64,
}

/// One stored event that differs from what was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FidelityFailure {
    /// Sequence number.
    pub seq: u64,
    /// Event id (32 hex).
    pub event_id: String,
    /// Kind.
    pub kind: String,
    /// What differed: `field: sent … stored …`, one line per field.
    pub differences: Vec<String>,
}
