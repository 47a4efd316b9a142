//! A sentry-load run, from a loaded profile to its run folder and report — the pipe between
//! the stages, which the binary only parses arguments for and maps to exit codes.
//!
//! ```text
//! RunRequest ─ setup ─→ PreparedRun ─ execute ─→ Leg (main, and [mirror]) ─→ Verdict
//!               │ profile, preflight, plan,        send → journal → live verify
//!               │ embedded sim, sources, uploads,  → finish: issues, fidelity, report
//!               │ routers, generator, run folder
//! ```
//!
//! - [`setup`]: where parsed input becomes configured objects ([`RunRequest`] →
//!   [`PreparedRun`]), and where the legs are run;
//! - [`leg`]: one deployment's pipeline; [`finish`]: journals + read-back → report;
//! - [`folder`]: the run folder, its files and layout — the one place that names them;
//! - [`preflight`], [`sources`], [`upload`], [`embedded`], [`fidelity`]: the stages setup and
//!   the legs call; [`interrupt`]: an operator's Ctrl-C, which stops sending and still reports;
//! - [`capacity`]: the capacity search, a run per step at rising rates;
//! - [`reverify`], [`gate`], [`compare`], [`dsn`], [`generate`], [`profile`]: the other
//!   commands, each on the same folder and profile types;
//! - [`error`]: how a command ends ([`Verdict`] or [`Failure`]), without exit-code numbers;
//!   [`output`]: what it prints, safe when the reader stops early.
#![warn(missing_docs)]

pub mod abort;
pub mod capacity;
mod capacity_search;
pub mod compare;
pub mod disruption;
pub mod dsn;
pub mod embedded;
pub mod error;
pub mod fidelity;
pub mod finish;
pub mod folder;
pub mod gate;
pub mod generate;
pub mod interrupt;
pub mod leg;
pub mod metrics_endpoint;
pub mod output;
pub mod preflight;
pub mod profile;
pub mod reverify;
pub mod setup;
pub mod sources;
pub mod upload;

pub use error::{Failure, FailureKind, OrInternal, Verdict};
pub use folder::{RunFile, RunFolder};
pub use setup::{PreparedRun, RunRequest, run};
