//! Profiles: the TOML files that say what a run does — the first stage of the data flow
//! (`profile ─▶ plan ─▶ generate ─▶ …`).
//!
//! A profile is parsed strictly: unknown keys are errors, values have real types (durations,
//! URLs, DSNs, positive rates), and every error names the file, line, column, key path, the bad
//! value and what is allowed. Secrets come from the environment through `${VAR}` (or
//! `${VAR:-default}`) and are never printed: [`Secret`] has no `Display`, and DSNs and URLs are
//! shown through `sentry_load_common::redact`. A `${VAR}` is resolved where a command uses it:
//! a profile parses without its environment, and [`Profile::require`] refuses, naming the key
//! and the variable, only for the keys a command reads (see [`VariableUse`]).
//!
//! ```toml
//! seed = 42
//! [target]
//! kind = "relay"
//! dsn = "${SENTRY_DSN}"
//! [traffic]
//! rate = 100          # events per second
//! duration = "60s"
//! mix = { error = 1.0 }
//! [verify.clickhouse]
//! url = "http://127.0.0.1:8123"
//! ```
#![warn(missing_docs)]

mod abort_gates;
mod capacity;
mod deserialize;
mod disruption;
mod error;
mod interpolate;
mod literal_secrets;
mod load;
mod probe;
mod realism;
mod schema;
mod shipped;
mod values;
mod variables;

pub use abort_gates::{AbortGates, MAX_ABORT_WINDOW};
pub use capacity::{CapacityConfig, MAX_HOLD, MAX_STEPS};
pub use disruption::{Disruption, MAX_DISRUPTION_WAIT};
pub use error::ProfileError;
pub use interpolate::interpolate;
pub use load::{
    LoadedProfile, MAX_TARGETS, ProfileText, load_profile, parse_profile, profile_errors,
    read_profile,
};
pub use probe::{MAX_PROBES, PROBE_EVERY, Probe, ProbeTarget};
pub use realism::{
    CountRange, EventKnobs, KindRealism, NativeKnobs, RealismKnobs, SizeDist, TransactionKnobs,
};
pub use schema::{
    ApiLookup, ArrivalProcess, ArtifactsConfig, BaselineGatesConfig, ClickHouseConfig, GatesConfig,
    KindGates, KindGatesConfig, KindMix, MAX_SCHEDULE, MAX_WAIT, MIN_POLL_INTERVAL, MirrorConfig,
    PostgresConfig, Profile, ProjectTarget, Protocol, RateLimitPolicy, RelayUpstreamConfig,
    SendConfig, SentryApiConfig, SimPreset, SpikeConfig, StageConfig, TargetConfig, TargetKind,
    TrafficConfig, VerifyConfig,
};
pub use shipped::{SHIPPED_PROFILES, shipped_profile};
pub use values::{Dsn, Identifier, Rate, Ratio, Secret, ServiceUrl, StageRate, Weight};
pub use variables::VariableUse;
