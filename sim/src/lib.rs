//! The reference ingest pipeline: a Relay-compatible target with known, injectable behaviour.
//!
//! It plays the part of Sentry behind `POST /api/<project_id>/envelope/`:
//!
//! ```text
//! HTTP ingest (auth, key state, cached limits, decoding, size limits)
//!     ─▶ a bounded queue per ingest topic (ingest-events, -transactions, -attachments)
//!     ─▶ its pipeline: Relay's step (invalid keys, inbound filters, quotas), Sentry's step
//!        (crash reports, workers, faults, grouping), the batch writer (like Snuba's consumer)
//!     ─▶ store: memory, or ClickHouse + Postgres;      outcomes ─▶ the outcomes consumer
//! ```
//!
//! It can answer as Sentry 9.1 instead ([`Flavor::Sentry9`]): `/store/` and `/minidump/`,
//! release files, `eventids` read-back.
//!
//! and serves what it stored back through Sentry-API-shaped endpoints, so an embedded run can
//! verify without external services. It keeps ground truth of every decision (accepted,
//! dropped, stored) so tests can prove that what the harness reports is what happened.
//! It also takes the artifact-bundle upload API (chunk upload and assemble) that JavaScript
//! runs use first. It never depends on the load engine: it sees only HTTP, like a real Sentry.
#![warn(missing_docs)]

mod api;
pub mod artifacts;
pub mod chunk_store;
mod config;
pub mod crash_reports;
mod faults;
mod ingest;
pub mod listener;
mod pipeline;
pub mod preset;
mod processing;
pub mod relay_upstream;
pub mod script;
mod sentry9;
mod server;
pub mod store;
mod truth;
mod web;

pub use chunk_store::CHUNKS_HELD_LIMIT;
pub use config::{Flavor, ProjectKey, SimConfig};
pub use crash_reports::CrashReportSettings;
pub use faults::DropRule;
pub use ingest::BODY_LIMIT;
pub use ingest::intake::BUFFERED_BODIES_LIMIT;
pub use relay_upstream::UpstreamMode;
pub use server::{SimHandle, run, start};
pub use store::StoreConfig;
pub use truth::{Decision, Truth, TruthEntry};
