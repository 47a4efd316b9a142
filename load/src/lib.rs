//! The load engine: `plan ─▶ generate ─▶ schedule ─▶ send ─▶ journal`.
//!
//! A profile compiles to one [`Plan`]; the sender walks it open-loop on absolute deadlines
//! (`start + offset`, never `previous + interval`, so no drift accumulates), builds each
//! envelope with the [`Generator`], and sends it with `reqwest`. Every send — accepted,
//! refused, failed, or dropped by the harness because it could not start in time — becomes one
//! [`JournalRecord`](sentry_load_common::journal::JournalRecord) on one result stream; the
//! [`collect`] task writes the journal, keeps [`LiveStats`] for the progress display, and
//! forwards accepted events to the verifier.
#![warn(missing_docs)]

mod collect;
pub mod generate;
mod live_metrics;
mod plan;
mod progress;
mod recent;
mod send;
mod stats;
mod target;
pub mod upload;

pub use collect::{CollectError, Onward, collect};
pub use generate::Generator;
pub use live_metrics::LiveMetrics;
pub use plan::{Arrival, Arrivals, Overrides, Phase, Plan, PlanError, Shard};
pub use progress::{Progress, ProgressMode};
pub use recent::{Counts, Recent};
pub use send::{
    Answer, BackOff, Category, Connections, HttpTransport, Limits, NotPlainHttp,
    PlainHttpTransport, RunClock, Scope, SendOptions, Transport, drive, drive_until, parse_header,
};
pub use stats::LiveStats;
pub use target::{Endpoint, Router, Target};
