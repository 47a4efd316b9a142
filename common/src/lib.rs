//! Types shared by every stage of the data flow
//! (`profile ─▶ plan ─▶ generate ─▶ schedule ─▶ send ─▶ journal ─▶ verify ─▶ report`).
//!
//! This crate is the leaf of the workspace: the load engine writes what is defined here (the
//! journal, event kinds, run ids, derived event ids, envelope framing and item types) and the
//! verifier, the sim and the run library read it, so that `sim` and `verify` never depend on
//! the load engine's internals.
#![warn(missing_docs)]

pub mod clock;
pub mod envelope;
pub mod hash;
#[cfg(feature = "http")]
pub mod http;
pub mod ids;
pub mod journal;
pub mod kind;
pub mod lognormal;
pub mod outcome;
pub mod percent;
pub mod redact;
pub mod sentry_outcome;

pub use ids::{RunId, event_id_for, fnv1a};
pub use kind::{Dataset, EventKind};
pub use outcome::SendOutcome;
pub use percent::Percent;

/// The tag every generated event carries with the run id as its value.
pub const RUN_TAG: &str = "sentry_load.run";
/// The tag every generated event carries with its sequence number as its value.
pub const SEQ_TAG: &str = "sentry_load.seq";
/// This tool's version, written into journals and reports.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
