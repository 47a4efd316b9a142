//! Reports: the last stages of the flow (`verify ─▶ report ─▶ gate`).
//!
//! [`SendSummary`] streams a journal into counts, rates and lateness; [`build_report`] joins it
//! with the [`VerifyOutcome`](sentry_load_verify::VerifyOutcome) into the versioned
//! [`Report`]; [`evaluate_gates`] checks it against the profile's gates; [`render_summary`]
//! is the terminal view, [`render_markdown`] and [`render_html`] its files. The run library
//! (`sentry_load_run`) decides where in a run folder they are written.
#![warn(missing_docs)]

mod build;
mod capacity;
pub mod charts;
mod comparable;
mod compare;
mod crash_reports;
mod disruptions;
mod gates;
mod histogram;
pub mod html;
mod kinds;
mod markdown;
mod model;
mod over_time;
mod probes;
mod relay_upstream;
mod send_summary;
mod summary;
mod tables;
mod timeline;
mod verdicts;

pub use build::{ReportInput, build_report};
pub use capacity::{
    CapacityEnd, CapacitySection, CapacityStep, KindCapacity, StepKind, rate as shown_rate,
};
pub use comparable::differences as not_comparable_because;
pub use compare::{compare_html, compare_markdown};
pub use disruptions::{DisruptionMark, DisruptionSection, WindowCounts, disruption_sections};
pub use gates::evaluate_gates;
pub use histogram::Percentiles;
pub use html::render_html;
pub use markdown::render_markdown;
pub use model::{
    BaselineRef, CrashReportsSection, FidelityCounts, FidelityFailure, FidelitySection, GateResult,
    IssuesSection, KindSection, LossSection, MissingEntry, Report, RunSection, SCHEMA_VERSION,
    ScheduleSection, SendingSection, StageMark, StageSection, TimelinePoint, TimelineSection,
    VisibilitySection,
};
pub use over_time::probe_charts;
pub use probes::{
    ProbeFailure, ProbeMove, ProbeSeries, ProbeTrack, ProbeTrigger, ProbesSection, probes_section,
};
pub use relay_upstream::{
    LostInRelay, RelayReported, RelayUpstreamSection, UpstreamArrivals, UpstreamRelay,
    section as relay_upstream_section,
};
pub use send_summary::{SendSummary, SummaryError};
pub use summary::render_summary;
