//! Read-back: turns a journal's accepted sends into what became visible, when, and what did
//! not — the `verify` stage between the journal and the report.
//!
//! The [`Verifier`] tracks accepted events as the collector forwards them (live, while load
//! runs) or from a journal (after the fact), polls a [`Source`] every poll interval with
//! queries bounded by project and event-time window (`event_id IN (…)` in batches), records
//! the first time each event was seen, and stops when every event is seen or the straggler
//! deadline passes. Missing events are explained by outcomes of their own data category
//! (where the source sees outcomes at all); attachments' outcomes are kept apart. The Postgres
//! checks then confirm the issues of the seen events exist and their crashes' minidumps
//! agree with `sentry:store_crash_reports`; [`preflight`] checks what a run needs before it
//! starts.
#![warn(missing_docs)]

pub mod fidelity;
mod issues;
mod outcome;
pub mod postgres;
pub mod preflight;
pub mod source;
mod tracker;
pub mod upstream;
mod verifier;

pub use issues::{Crash, CrashReports, IssueCheck, ProjectKeyRow, check_issues, project_keys};
pub use outcome::{MissingEvent, SeenEvent, VerifyOutcome};
pub use source::{Explained, Lookup, Sighting, Source, SourceError};
pub use tracker::EventTable;
pub use verifier::{Verifier, VerifyOptions};
