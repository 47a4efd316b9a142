//! The end of a leg's pipeline, shared by `run` and `verify`: the journals plus the verify
//! outcome, the issue check (Postgres) and the fidelity sample become the report, written into
//! the run folder and summarised on the terminal.

use crate::error::{Failure, OrInternal, Verdict};
use crate::fidelity::{self, Fidelity};
use crate::folder::{self, RunFile};
use crate::output;
use anyhow::anyhow;
use sentry_load_common::EventKind;
use sentry_load_common::journal::JournalReader;
use sentry_load_config::{PostgresConfig, Profile, VerifyConfig};
use sentry_load_reports::{
    ReportInput, SendSummary, build_report, not_comparable_because, render_summary,
};
use sentry_load_verify::{VerifyOutcome, check_issues};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How a run's read-back is turned into its report.
pub struct Finish<'a> {
    /// The `[verify]` settings it was read back with.
    pub verify: &'a VerifyConfig,
    /// The profile (gates, lateness threshold).
    pub profile: &'a Profile,
    /// What was planned.
    pub planned: &'a RunFile,
    /// A previous run for the baseline gates.
    pub baseline: Option<&'a Path>,
    /// The fidelity sample, when a Sentry web API is there to fetch it from.
    pub fidelity: Option<Fidelity<'a>>,
}

/// Reads the journals, runs the issue and fidelity checks, writes the report to
/// `report_path` (with `.md` and `.html` beside it), prints the summary, and says whether the
/// gates passed.
pub async fn finish(
    journals: &[PathBuf],
    report_path: &Path,
    outcome: &VerifyOutcome,
    how: Finish<'_>,
) -> Result<Verdict, Failure> {
    let Finish {
        verify,
        profile,
        planned,
        baseline,
        fidelity,
    } = how;
    let baseline = baseline.map(folder::read_report).transpose()?;
    let readers = journals
        .iter()
        .map(|j| JournalReader::open(j))
        .collect::<Result<Vec<_>, _>>()
        .internal("opening the journal")?;
    let sending = SendSummary::read_all(readers, profile.send.late_after, |_| {})
        .internal("reading the journal")?;
    let issues = match &verify.postgres {
        Some(pg) => Some(issue_check(pg.get_ref(), outcome).await),
        None => None,
    };
    let fidelity = match &fidelity {
        Some(f) => Some(fidelity::check(f, outcome).await),
        None => None,
    };
    let relay_upstream = match &verify.relay_upstream {
        Some(u) => Some(sentry_load_reports::relay_upstream_section(
            sentry_load_verify::upstream::check(u, outcome).await,
            &sentry_load_common::redact::url(u.url.expose()),
        )),
        None => None,
    };
    let mut report = build_report(ReportInput {
        notes: &planned.notes,
        sending: &sending,
        verify: outcome,
        issues,
        planned: planned.planned,
        unjournaled: match planned.interrupted {
            Some(_) => 0,
            None => planned.planned.saturating_sub(sending.records),
        },
        target_rate: planned.target_rate,
        duration_secs: planned.duration_secs,
        gates: &profile.gates,
        fidelity,
        disruptions: &planned.disruptions,
        probes: &planned.probes,
        relay_upstream,
        baseline: baseline
            .as_ref()
            .map(|(r, path)| (r, path.display().to_string())),
    });
    report.run.interrupted = planned.interrupted.clone();
    report.schedule.stages = planned.stages.clone();
    if let Some(gate) = &planned.aborted {
        report.run.aborted_by = Some(gate.gate.clone());
        report.gates.insert(0, gate.clone());
        report.passed = false;
    }
    if let Some((b, path)) = &baseline {
        let differs = not_comparable_because(b, &report);
        if !differs.is_empty() {
            report.run.notes.push(format!(
                "the baseline {} ({}) is not comparable with this run, so its gates compare \
                 unlike runs: {}",
                b.run.id,
                path.display(),
                differs.join("; ")
            ));
        }
    }
    folder::write_report(report_path, &report)?;
    if let Some(leg) = &planned.leg {
        output::line(format_args!("── {leg} ──"));
    }
    output::text(&render_summary(&report));
    output::line(format_args!("report   {}", report_path.display()));
    output::line(format_args!(
        "         {} · {}",
        report_path.with_extension("md").display(),
        report_path.with_extension("html").display()
    ));
    if outcome.failed_queries > 0 && outcome.queries == outcome.failed_queries {
        return Err(Failure::unreachable(anyhow!(
            "every read-back query failed; last error: {}",
            outcome.last_error.as_deref().unwrap_or("unknown")
        )));
    }
    // An abort gate's stop is a failed gate (exit 1); an operator's is an interruption.
    if report.run.interrupted.is_some() && report.run.aborted_by.is_none() {
        return Ok(Verdict::Interrupted);
    }
    Ok(Verdict::from_passed(report.passed))
}

/// The Postgres checks of the seen events: their issues exist, their crashes' minidumps agree
/// with `sentry:store_crash_reports`.
async fn issue_check(
    pg: &PostgresConfig,
    outcome: &VerifyOutcome,
) -> Result<sentry_load_verify::IssueCheck, String> {
    let mut crashes: BTreeMap<u64, Vec<sentry_load_verify::Crash>> = BTreeMap::new();
    for e in outcome.seen().filter(|e| e.kind == EventKind::Native) {
        let group = outcome.events.crash_group(e.event_id);
        crashes
            .entry(e.project_id)
            .or_default()
            .push((e.event_id, group));
    }
    check_issues(pg, outcome.events.groups(), &crashes)
        .await
        .map_err(|e| e.to_string())
}
