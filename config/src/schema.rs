//! The profile's shape: one struct per TOML table, all with `deny_unknown_fields`.

use crate::realism::{EventKnobs, NativeKnobs, RealismKnobs, TransactionKnobs};
use crate::values::{Dsn, Identifier, Rate, Ratio, Secret, ServiceUrl, StageRate, Weight};
use enum_map::{EnumMap, enum_map};
use sentry_load_common::EventKind;
use serde::Deserialize;
use std::num::{NonZeroU32, NonZeroU64};
use std::time::Duration;
use toml::Spanned;

/// A whole profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// One line on what the profile is for (shown by `profiles list`).
    #[serde(default)]
    pub description: String,
    /// The root of every random choice; the same seed and profile give the same payloads.
    pub seed: u64,
    /// Where envelopes go.
    pub target: TargetConfig,
    /// How many envelopes of which kinds, how fast, for how long.
    pub traffic: Spanned<TrafficConfig>,
    /// How envelopes are sent.
    #[serde(default)]
    pub send: SendConfig,
    /// Where and how long sent events are looked for.
    #[serde(default)]
    pub verify: VerifyConfig,
    /// Pass/fail thresholds; a run that misses one exits 1.
    #[serde(default)]
    pub gates: GatesConfig,
    /// The same events also sent to a second deployment.
    pub mirror: Option<Spanned<MirrorConfig>>,
    /// Where the JavaScript artifact bundle (minified bundle + sourcemap) is uploaded.
    pub artifacts: Option<Spanned<ArtifactsConfig>>,
    /// `[[disruption]]`: operators' commands run at moments of the run.
    #[serde(default, rename = "disruption")]
    pub disruptions: Vec<Spanned<crate::Disruption>>,
    /// `[[probes]]`: pipeline components sampled beside the load.
    #[serde(default)]
    pub probes: Vec<Spanned<crate::Probe>>,
    /// How `sentry-load capacity` searches for the highest sustainable rate.
    pub capacity: Option<Spanned<crate::CapacityConfig>>,
    /// Every `${VAR}` the profile references, in file order (filled in by the parser).
    #[serde(skip)]
    pub variables: Vec<crate::VariableUse>,
}

impl Profile {
    /// Refuses when a key inside one of `scopes` (`verify.postgres`, `target`; `""` for the
    /// whole profile) references an unset variable without a default: the error names the
    /// variable, the key and its place, and lists the other unset ones in those scopes.
    pub fn require(&self, scopes: &[&str]) -> Result<(), crate::ProfileError> {
        let mut missing = self
            .variables
            .iter()
            .filter(|u| u.missing() && scopes.iter().any(|s| crate::variables::within(&u.key, s)));
        let Some(first) = missing.next() else {
            return Ok(());
        };
        let others: Vec<String> = missing
            .map(|u| format!("{} ({})", u.variable, u.key))
            .collect();
        let mut e = first.error();
        if let crate::ProfileError::Invalid(i) = &mut e
            && !others.is_empty()
        {
            i.message = format!("{}; also unset: {}", i.message, others.join(", "));
        }
        Err(e)
    }
}

/// `[artifacts]`: the Sentry web API that receives the artifact bundle before a run whose mix
/// has JavaScript errors (`sentry-load upload-artifacts` uploads it on its own).
///
/// ```toml
/// [artifacts]
/// url = "${SENTRY_URL:-http://127.0.0.1:9000}"
/// token = "${SENTRY_AUTH_TOKEN}"   # project:releases (or org:ci) scope
/// org = "sentry"
/// project = "internal"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactsConfig {
    /// Sentry web, e.g. `http://127.0.0.1:9000`.
    pub url: ServiceUrl,
    /// An auth token allowed to upload release files.
    pub token: Secret,
    /// Organization slug.
    #[serde(
        default = "default_org",
        deserialize_with = "crate::values::interpolated"
    )]
    pub org: String,
    /// Project slug (or id) the bundle belongs to.
    #[serde(
        default = "default_project",
        deserialize_with = "crate::values::interpolated"
    )]
    pub project: String,
    /// Upload before `run` (set `false` when the bundle is already there).
    #[serde(default = "default_true")]
    pub upload: bool,
}

fn default_project() -> String {
    "internal".into()
}

fn default_true() -> bool {
    true
}

/// `[target]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// `embedded` (the built-in sim, in memory) or `relay` (a DSN).
    pub kind: Spanned<TargetKind>,
    /// The DSN, for `kind = "relay"`; usually `"${SENTRY_DSN}"`.
    pub dsn: Option<Spanned<Dsn>>,
    /// Several projects of one deployment, each taking a weighted share of the events
    /// (instead of `dsn`).
    #[serde(default)]
    pub projects: Vec<Spanned<ProjectTarget>>,
    /// How events are sent: `envelope` (Relay, Sentry 10 and later) or `store` (Sentry 9).
    #[serde(default = "default_protocol")]
    pub protocol: Spanned<Protocol>,
    /// For `kind = "embedded"`: the topology the built-in sim models (its workers, service
    /// times and queue), `embedded` (none: as fast as it stores) when not written.
    pub preset: Option<Spanned<SimPreset>>,
}

/// The sim's topology presets by name (the sim's `preset` module holds what each models).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SimPreset {
    /// No modelled processing.
    #[default]
    Embedded,
    /// The stock self-hosted compose on one machine.
    SingleNode,
    /// A stateful center and stateless web nodes.
    Split,
    /// Scaled task pools.
    Scaled,
}

impl SimPreset {
    /// The preset's name, as written in a profile.
    pub fn name(self) -> &'static str {
        match self {
            SimPreset::Embedded => "embedded",
            SimPreset::SingleNode => "single-node",
            SimPreset::Split => "split",
            SimPreset::Scaled => "scaled",
        }
    }
}

/// How a deployment takes events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// `POST /api/<id>/envelope/` through Relay (Sentry 10 and later).
    #[default]
    Envelope,
    /// `POST /api/<id>/store/` (one event as JSON) and `/api/<id>/minidump/` (a crash as
    /// multipart): Sentry 9, which predates envelopes, Relay and transactions.
    Store,
}

/// The default protocol is never wrong, so its empty span is never shown.
fn default_protocol() -> Spanned<Protocol> {
    Spanned::new(0..0, Protocol::Envelope)
}

/// One `[[target.projects]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectTarget {
    /// The project's DSN.
    pub dsn: Dsn,
    /// Its share of the events, relative to the other projects'.
    #[serde(default = "one")]
    pub weight: Weight,
}

fn one() -> Weight {
    Weight::try_from(1.0).expect("1 is a valid weight")
}

impl TargetConfig {
    /// The DSNs sends go to, with their weights: `dsn` alone, or every `[[target.projects]]`.
    pub fn dsns(&self) -> Vec<(Dsn, f64)> {
        dsns(self.dsn.as_ref(), &self.projects)
    }
}

/// `[mirror]`: the same events, with the same ids, also sent to a second deployment (e.g. the
/// new version beside the old), journaled, verified and reported on their own.
///
/// ```toml
/// [mirror]
/// dsn = "${NEW_SENTRY_DSN}"          # or [[mirror.projects]]
/// [mirror.verify.clickhouse]
/// url = "${NEW_CLICKHOUSE_URL}"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorConfig {
    /// The second deployment's DSN.
    pub dsn: Option<Spanned<Dsn>>,
    /// Or several projects of it, by weight.
    #[serde(default)]
    pub projects: Vec<Spanned<ProjectTarget>>,
    /// Where the mirror's events are read back.
    #[serde(default)]
    pub verify: VerifyConfig,
    /// How the mirror takes events (`store` for a Sentry 9 beside a Sentry 10 or later).
    #[serde(default = "default_protocol")]
    pub protocol: Spanned<Protocol>,
    /// Where the mirror's JavaScript sourcemaps are uploaded (release files for `store`).
    pub artifacts: Option<Spanned<ArtifactsConfig>>,
}

impl MirrorConfig {
    /// The mirror's DSNs with their weights.
    pub fn dsns(&self) -> Vec<(Dsn, f64)> {
        dsns(self.dsn.as_ref(), &self.projects)
    }
}

fn dsns(dsn: Option<&Spanned<Dsn>>, projects: &[Spanned<ProjectTarget>]) -> Vec<(Dsn, f64)> {
    match dsn {
        Some(d) => vec![(d.get_ref().clone(), 1.0)],
        None => projects
            .iter()
            .map(|p| (p.get_ref().dsn.clone(), p.get_ref().weight.value()))
            .collect(),
    }
}

/// Which target a profile sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The built-in reference pipeline, started in-process on loopback, storing in memory.
    Embedded,
    /// A Relay (or the standalone sim) reached through `dsn`.
    Relay,
}

/// `[traffic]`: either a constant rate (`rate` with `duration` or `count`) or `[[traffic.stages]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficConfig {
    /// Envelopes per second over all kinds (constant-rate form).
    pub rate: Option<Spanned<Rate>>,
    /// How long the constant rate runs.
    #[serde(default, deserialize_with = "schedule_duration_opt")]
    pub duration: Option<Duration>,
    /// How many envelopes the constant rate sends, instead of a duration.
    pub count: Option<NonZeroU64>,
    /// The staged form: stages run one after another.
    #[serde(default)]
    pub stages: Vec<Spanned<StageConfig>>,
    /// How arrivals are spaced: evenly (`uniform`) or as a Poisson process (`poisson`).
    #[serde(default)]
    pub arrivals: ArrivalProcess,
    /// Relative weights of the event kinds.
    #[serde(default = "default_mix")]
    pub mix: Spanned<KindMix>,
    /// Distinct issues (fingerprints) each error kind spreads over, unless its own table
    /// says otherwise.
    #[serde(default = "default_issues")]
    pub issues: NonZeroU32,
    /// `[traffic.error]`: knobs for server-side errors.
    #[serde(default)]
    pub error: EventKnobs,
    /// `[traffic.transaction]`: knobs for transactions.
    #[serde(default)]
    pub transaction: TransactionKnobs,
    /// `[traffic.native]`: knobs for native crashes.
    #[serde(default)]
    pub native: NativeKnobs,
    /// `[traffic.javascript]`: knobs for minified JavaScript errors.
    #[serde(default)]
    pub javascript: EventKnobs,
}

impl TrafficConfig {
    /// The realism knobs of every kind.
    pub fn realism(&self) -> RealismKnobs<'_> {
        RealismKnobs {
            issues: self.issues.get(),
            error: Some(&self.error),
            javascript: Some(&self.javascript),
            native: Some(&self.native),
            transaction: Some(&self.transaction),
        }
    }
}

/// How arrivals are spaced in time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArrivalProcess {
    /// Evenly: the i-th arrival at the time the rate curve has accumulated i arrivals.
    #[default]
    Uniform,
    /// A (non-homogeneous) Poisson process with the rate curve as its intensity.
    Poisson,
}

/// One `[[traffic.stages]]` entry: `duration` and exactly one of `hold`, `ramp_to`, `spike`.
///
/// ```toml
/// [[traffic.stages]]     # hold 500/s (a step, when the stage before ended elsewhere)
/// hold = 500
/// duration = "2m"
/// [[traffic.stages]]     # linear ramp from the previous stage's end rate (or `from`)
/// ramp_to = 2000
/// duration = "1m"
/// [[traffic.stages]]     # `base`, with `peak` for `for` starting at `at` (default: centred)
/// spike = { base = 500, peak = 5000, for = "10s" }
/// duration = "1m"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// How long the stage lasts.
    #[serde(deserialize_with = "schedule_duration")]
    pub duration: Duration,
    /// Hold this rate.
    pub hold: Option<StageRate>,
    /// Ramp linearly to this rate.
    pub ramp_to: Option<StageRate>,
    /// Where a ramp starts (default: where the previous stage ended, 0 for the first).
    pub from: Option<StageRate>,
    /// A spike within the stage.
    pub spike: Option<SpikeConfig>,
}

/// `spike = { base, peak, for, at }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeConfig {
    /// The rate around the spike.
    pub base: StageRate,
    /// The rate during the spike.
    pub peak: StageRate,
    /// How long the spike lasts.
    #[serde(rename = "for", deserialize_with = "schedule_duration")]
    pub length: Duration,
    /// When the spike starts, from the stage's start (default: centred).
    #[serde(default, deserialize_with = "schedule_offset_opt")]
    pub at: Option<Duration>,
}

/// The default mix (errors only) cannot fail the mix checks, so its empty span is never shown.
fn default_mix() -> Spanned<KindMix> {
    Spanned::new(0..0, KindMix::default())
}

fn default_issues() -> NonZeroU32 {
    NonZeroU32::new(10).expect("10 is not zero")
}

/// `[traffic.mix]`: relative weights per kind; they need not sum to 1.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(from = "MixTable")]
pub struct KindMix(EnumMap<EventKind, Weight>);

impl KindMix {
    /// The weight of `kind`.
    pub fn weight(&self, kind: EventKind) -> Weight {
        self.0[kind]
    }

    /// Sets the weight of `kind` (0 takes it out of the mix).
    pub fn set(&mut self, kind: EventKind, weight: Weight) {
        self.0[kind] = weight;
    }

    /// Whether the mix sends `kind` at all.
    pub fn sends(&self, kind: EventKind) -> bool {
        self.0[kind].value() > 0.0
    }

    /// Every kind with its weight, in report order.
    pub fn iter(&self) -> impl Iterator<Item = (EventKind, Weight)> + '_ {
        self.0.iter().map(|(k, w)| (k, *w))
    }
}

/// The table as written: a key per kind, each optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MixTable {
    #[serde(default)]
    error: Weight,
    #[serde(default)]
    transaction: Weight,
    #[serde(default)]
    native: Weight,
    #[serde(default)]
    javascript: Weight,
}

impl From<MixTable> for KindMix {
    fn from(t: MixTable) -> KindMix {
        KindMix(enum_map! {
            EventKind::Error => t.error,
            EventKind::Transaction => t.transaction,
            EventKind::Native => t.native,
            EventKind::Javascript => t.javascript,
        })
    }
}

impl Default for KindMix {
    fn default() -> Self {
        let mut mix = KindMix(EnumMap::default());
        mix.set(
            EventKind::Error,
            Weight::try_from(1.0).expect("1 is a valid weight"),
        );
        mix
    }
}

/// `[send]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendConfig {
    /// Requests in flight at most; a send that finds none free waits, and is counted late.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: NonZeroU32,
    /// How long one request may take before it counts as a transport error.
    #[serde(default = "default_timeout", deserialize_with = "positive_wait")]
    pub timeout: Duration,
    /// A send that cannot start this long after its intended time is dropped by the harness
    /// (counted as `harness_dropped`, never as Sentry loss).
    #[serde(default = "default_give_up", deserialize_with = "wait")]
    pub give_up_after: Duration,
    /// Send bodies gzip-compressed (`Content-Encoding: gzip`), as most SDKs do.
    #[serde(default)]
    pub gzip: bool,
    /// Speak HTTP/2 (prior knowledge on `http://`, ALPN on `https://`).
    #[serde(default)]
    pub http2: bool,
    /// What a 429 does: `keep_sending` (measure the limit) or `back_off` (like an SDK).
    #[serde(default)]
    pub on_rate_limit: RateLimitPolicy,
    /// Wait out the last two milliseconds before each send by yielding instead of sleeping:
    /// tokio's timer wakes on whole milliseconds and often most of one later, which would
    /// make sends about 1 ms late. Costs CPU while arrivals are 2 ms apart or closer; turn it
    /// off to save that when sub-ms lateness is moot.
    #[serde(default = "yes")]
    pub precise_timing: bool,
    /// A send that starts this long after its intended time is counted as late.
    #[serde(default = "default_late_after", deserialize_with = "wait")]
    pub late_after: Duration,
}

/// What the sender does after a 429 or an `X-Sentry-Rate-Limits` header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitPolicy {
    /// Keep to the schedule: every event is sent, and 429s are counted (measures the limit).
    #[default]
    KeepSending,
    /// Behave like an SDK: events of a limited category are not sent until `Retry-After`
    /// passes; they are counted as `backed_off`.
    BackOff,
}

fn yes() -> bool {
    true
}

fn default_late_after() -> Duration {
    Duration::from_millis(10)
}

fn default_in_flight() -> NonZeroU32 {
    NonZeroU32::new(512).expect("512 is not zero")
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_give_up() -> Duration {
    Duration::from_secs(5)
}

impl Default for SendConfig {
    fn default() -> Self {
        SendConfig {
            max_in_flight: default_in_flight(),
            timeout: default_timeout(),
            give_up_after: default_give_up(),
            gzip: false,
            http2: false,
            on_rate_limit: RateLimitPolicy::default(),
            late_after: default_late_after(),
            precise_timing: true,
        }
    }
}

/// `[verify]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    /// Time between read-back polls; the resolution of every visibility time.
    #[serde(default = "default_poll", deserialize_with = "poll_interval")]
    pub poll_interval: Duration,
    /// How long after the last send stragglers are waited for.
    #[serde(default = "default_deadline", deserialize_with = "wait")]
    pub deadline: Duration,
    /// Read back from ClickHouse (Snuba's tables).
    pub clickhouse: Option<ClickHouseConfig>,
    /// Check issues in Postgres.
    pub postgres: Option<Spanned<PostgresConfig>>,
    /// Read back through the Sentry web API.
    pub sentry_api: Option<SentryApiConfig>,
    /// The sim standing as the upstream of a real Relay (`sentry-load sim --relay-upstream`):
    /// asked which accepted envelopes reached it, so the report counts those Relay answered
    /// 200 and never forwarded.
    pub relay_upstream: Option<RelayUpstreamConfig>,
    /// Seen events per kind fetched through the Sentry web API (`[verify.sentry_api]`, or the
    /// embedded sim's) and compared field by field with what was sent; 0 turns it off.
    #[serde(default = "default_fidelity_sample")]
    pub fidelity_sample: u32,
}

fn default_fidelity_sample() -> u32 {
    20
}

fn default_poll() -> Duration {
    Duration::from_millis(500)
}

/// The shortest poll interval: polling faster only loads the stores.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(20);

fn poll_interval<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let v = wait(d)?;
    if v < MIN_POLL_INTERVAL {
        return Err(serde::de::Error::custom(format!(
            "invalid poll interval {}: expected at least {}",
            humantime_serde::re::humantime::format_duration(v),
            humantime_serde::re::humantime::format_duration(MIN_POLL_INTERVAL)
        )));
    }
    Ok(v)
}

/// The longest schedule a profile may give (a year and a day): every time in a run is an
/// offset from its start that the clock can add without overflowing, and longer soaks are
/// several runs.
pub const MAX_SCHEDULE: Duration = Duration::from_secs(366 * 24 * 3600);

/// The longest wait a profile may give (a timeout, a deadline, a poll interval): a day.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// A duration from 0 up to `max`; `what` names the limit in the error.
fn duration_up_to<'de, D: serde::Deserializer<'de>>(
    d: D,
    max: Duration,
    positive: bool,
    what: &str,
) -> Result<Duration, D::Error> {
    let v: Duration = humantime_serde::deserialize(d)?;
    let shown = humantime_serde::re::humantime::format_duration;
    if positive && v.is_zero() {
        return Err(serde::de::Error::custom(
            "invalid duration 0s: expected a duration above zero, such as \"60s\" or \"5m\"",
        ));
    }
    if v > max {
        return Err(serde::de::Error::custom(format!(
            "invalid duration {}: expected at most {} ({what})",
            shown(v),
            shown(max)
        )));
    }
    Ok(v)
}

fn schedule_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_up_to(d, MAX_SCHEDULE, true, "the longest schedule a run takes")
}

fn schedule_duration_opt<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    schedule_duration(d).map(Some)
}

fn schedule_offset_opt<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    duration_up_to(d, MAX_SCHEDULE, false, "the longest schedule a run takes").map(Some)
}

fn wait<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_up_to(d, MAX_WAIT, false, "the longest wait a profile may give")
}

fn positive_wait<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_up_to(d, MAX_WAIT, true, "the longest wait a profile may give")
}
fn default_deadline() -> Duration {
    Duration::from_secs(60)
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            poll_interval: default_poll(),
            deadline: default_deadline(),
            clickhouse: None,
            postgres: None,
            sentry_api: None,
            relay_upstream: None,
            fidelity_sample: default_fidelity_sample(),
        }
    }
}

/// `[verify.clickhouse]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// HTTP interface, e.g. `http://127.0.0.1:8123`.
    pub url: ServiceUrl,
    /// Database holding Snuba's tables (`default` in self-hosted).
    #[serde(default = "default_database")]
    pub database: Identifier,
    /// User (`default` in self-hosted).
    #[serde(
        default = "default_user",
        deserialize_with = "crate::values::interpolated"
    )]
    pub user: String,
    /// Password, usually `${CLICKHOUSE_PASSWORD}`; self-hosted has none.
    pub password: Option<Secret>,
    /// The errors table (`errors_local`; `errors_dist` on a cluster).
    #[serde(default = "default_errors_table")]
    pub errors_table: Identifier,
    /// The transactions table (`transactions_local`; `transactions_dist` on a cluster).
    #[serde(default = "default_transactions_table")]
    pub transactions_table: Identifier,
    /// The outcomes table (`outcomes_raw_local`; `outcomes_raw_dist` on a cluster): says why
    /// a missing event is missing.
    #[serde(default = "default_outcomes_table")]
    pub outcomes_table: Identifier,
    /// Event ids per `IN (...)` query.
    #[serde(default = "default_batch")]
    pub batch_size: NonZeroU32,
}

fn default_database() -> Identifier {
    "default".into()
}
fn default_user() -> String {
    "default".into()
}
fn default_errors_table() -> Identifier {
    "errors_local".into()
}
fn default_transactions_table() -> Identifier {
    "transactions_local".into()
}
fn default_outcomes_table() -> Identifier {
    "outcomes_raw_local".into()
}
fn default_batch() -> NonZeroU32 {
    NonZeroU32::new(2000).expect("2000 is not zero")
}

/// `[verify.postgres]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
    pub url: ServiceUrl,
}

/// `[verify.relay_upstream]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayUpstreamConfig {
    /// The sim Relay forwards to, e.g. `http://127.0.0.1:9100`.
    pub url: ServiceUrl,
    /// The sim's read API token, usually `${SENTRY_LOAD_SIM_TOKEN}`.
    pub token: Secret,
}

/// `[verify.sentry_api]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentryApiConfig {
    /// Sentry web, e.g. `http://127.0.0.1:9000`.
    pub url: ServiceUrl,
    /// Organization slug (`sentry` in self-hosted).
    #[serde(
        default = "default_org",
        deserialize_with = "crate::values::interpolated"
    )]
    pub org: String,
    /// An auth token with `event:read`, usually `${SENTRY_AUTH_TOKEN}`.
    pub token: Secret,
    /// Event-details requests (the fidelity sample) per second at most; 0: unpaced. sentry.io
    /// allows 5 a second (`ProjectEventDetailsEndpoint`); self-hosted enforces no API limits,
    /// so an operator may raise it there.
    #[serde(default = "default_event_details_rate")]
    pub event_details_per_second: u32,
    /// Read-back requests per second at most; 0: unpaced. Unset: 25 for Discover (Sentry
    /// allows 50 a second, 30 with `organizations:discover-events-rate-limit`), unpaced for
    /// `event_ids` (Sentry 9 limits no API requests).
    pub discover_per_second: Option<u32>,
    /// How events are looked up: `discover` (Sentry 10 and later: id lists through
    /// `organizations/<org>/events/`) or `event_ids` (one
    /// `organizations/<org>/eventids/<id>/` per event: Sentry 9, whose Discover needs
    /// Snuba). Unset: `event_ids` for a `store` deployment, `discover` otherwise.
    pub lookup: Option<ApiLookup>,
}

/// How the Sentry API source looks events up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiLookup {
    /// Discover, 100 ids a request.
    Discover,
    /// One request per event id.
    EventIds,
}

fn default_event_details_rate() -> u32 {
    5
}

fn default_org() -> String {
    "sentry".into()
}

/// `[gates]`: every gate is optional; a run that misses one exits 1.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatesConfig {
    /// Most events (of those offered) that may not become visible, whatever the cause.
    pub max_loss_ratio: Option<Ratio>,
    /// Most accepted events that may vanish with no outcome saying why, as a fraction of
    /// those accepted.
    pub max_silent_loss_ratio: Option<Ratio>,
    /// Most sends the target may refuse (429, 503, 403, 413, 400, 401), as a fraction of
    /// those started.
    pub max_rejected_ratio: Option<Ratio>,
    /// Lowest achieved / target send rate.
    pub min_achieved_rate_ratio: Option<Ratio>,
    /// Slowest median time from intended send to visible.
    #[serde(default, with = "humantime_serde")]
    pub max_p50_visibility: Option<Duration>,
    /// Slowest p95 time from intended send to visible.
    #[serde(default, with = "humantime_serde")]
    pub max_p95_visibility: Option<Duration>,
    /// Slowest p99 time from intended send to visible.
    #[serde(default, with = "humantime_serde")]
    pub max_p99_visibility: Option<Duration>,
    /// Most sampled events whose stored form differs from what was sent.
    pub max_fidelity_failures: Option<u64>,
    /// Most envelopes a real Relay may answer 200 and never forward to the sim behind it, as
    /// a fraction of those it answered 200 (needs `[verify.relay_upstream]`).
    pub max_lost_in_relay_ratio: Option<Ratio>,
    /// `[gates.kind.error]`, `[gates.kind.native]`, …: the same latency and loss gates for
    /// one kind.
    #[serde(default)]
    pub kind: KindGatesConfig,
    /// `[gates.baseline]`: limits relative to the run given with `--baseline runs/X`.
    #[serde(default)]
    pub baseline: BaselineGatesConfig,
    /// `[gates.abort]`: limits checked while the run sends, that stop it when crossed.
    #[serde(default)]
    pub abort: Option<crate::AbortGates>,
}

/// `[gates.kind]`: one optional table per kind.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "KindGatesTable")]
pub struct KindGatesConfig(EnumMap<EventKind, Option<KindGates>>);

impl KindGatesConfig {
    /// The configured tables, in report order.
    pub fn iter(&self) -> impl Iterator<Item = (EventKind, &KindGates)> {
        self.0.iter().filter_map(|(k, g)| Some((k, g.as_ref()?)))
    }

    /// The table of `kind`, if configured.
    pub fn of(&self, kind: EventKind) -> Option<&KindGates> {
        self.0[kind].as_ref()
    }

    /// These tables with `kind`'s set to `gates`.
    pub fn with(mut self, kind: EventKind, gates: KindGates) -> KindGatesConfig {
        self.0[kind] = Some(gates);
        self
    }
}

/// `[gates.kind]` as written: a table per kind, each optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KindGatesTable {
    error: Option<KindGates>,
    transaction: Option<KindGates>,
    native: Option<KindGates>,
    javascript: Option<KindGates>,
}

impl From<KindGatesTable> for KindGatesConfig {
    fn from(t: KindGatesTable) -> KindGatesConfig {
        KindGatesConfig(enum_map! {
            EventKind::Error => t.error.clone(),
            EventKind::Transaction => t.transaction.clone(),
            EventKind::Native => t.native.clone(),
            EventKind::Javascript => t.javascript.clone(),
        })
    }
}

/// The gates one kind can have.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindGates {
    /// Most events of the kind (of those offered) that may not become visible.
    pub max_loss_ratio: Option<Ratio>,
    /// Slowest median visibility latency of the kind.
    #[serde(default, with = "humantime_serde")]
    pub max_p50_visibility: Option<Duration>,
    /// Slowest p95 visibility latency of the kind.
    #[serde(default, with = "humantime_serde")]
    pub max_p95_visibility: Option<Duration>,
    /// Slowest p99 visibility latency of the kind.
    #[serde(default, with = "humantime_serde")]
    pub max_p99_visibility: Option<Duration>,
}

/// `[gates.baseline]`: how much worse than the baseline run this run may be. Checked only
/// when a baseline is given; a gate set here without a baseline fails, so CI cannot pass by
/// forgetting `--baseline`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineGatesConfig {
    /// Largest relative rise of p50 visibility latency (0.10 = 10 % slower).
    pub max_p50_regression: Option<Ratio>,
    /// Largest relative rise of p99 visibility latency.
    pub max_p99_regression: Option<Ratio>,
    /// Largest rise of the loss ratio, in absolute terms (0.001 = 0.1 percentage points).
    pub max_loss_ratio_increase: Option<Ratio>,
    /// Largest relative fall of the achieved send rate.
    pub max_achieved_rate_drop: Option<Ratio>,
}

impl BaselineGatesConfig {
    /// Whether any baseline gate is set.
    pub fn any(&self) -> bool {
        self.max_p50_regression.is_some()
            || self.max_p99_regression.is_some()
            || self.max_loss_ratio_increase.is_some()
            || self.max_achieved_rate_drop.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_defaults_are_valid_identifiers() {
        for id in [
            default_database(),
            default_errors_table(),
            default_transactions_table(),
            default_outcomes_table(),
        ] {
            assert!(Identifier::try_from(id.as_str().to_string()).is_ok());
        }
    }
}
