//! What `run` and `verify` share: choosing the read-back source, the run folder's files, and
//! turning a journal plus a verify outcome into `report.json` and the terminal summary.

use crate::exit::{Exit, GATE_FAILED, OK, OrInternal};
use anyhow::{Context, anyhow};
use sentry_load_common::journal::{JournalReader, JournalRecord};
use sentry_load_common::{Dataset, EventKind};
use sentry_load_config::{PostgresConfig, Profile, SentryApiConfig, VerifyConfig};
use sentry_load_reports::{
    REPORT_FILE, Report, ReportInput, SendSummary, build_report, render_summary,
};
use sentry_load_verify::source::{ClickHouseSource, SentryApiSource};
use sentry_load_verify::{Lookup, Source, VerifyOutcome, check_issues};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The profile's text, copied into the run folder (`${VAR}` unresolved: no secrets).
pub const PROFILE_FILE: &str = "profile.toml";
/// The run's effective schedule, after command-line overrides.
pub const RUN_FILE: &str = "run.json";

/// What `verify` needs to know about a run that the journal does not say.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunFile {
    /// Sends planned.
    pub planned: u64,
    /// Envelopes per second planned.
    pub target_rate: f64,
    /// Planned duration, seconds.
    pub duration_secs: f64,
    /// Whether the target was the embedded sim.
    pub embedded: bool,
    /// `i/n` when this run folder holds one shard of a run.
    #[serde(default)]
    pub shard: Option<String>,
    /// `mirror` when this folder holds a run's mirror leg (read back per `[mirror.verify]`).
    #[serde(default)]
    pub leg: Option<String>,
    /// What preflight changed about the run (transactions taken out of the mix of an
    /// errors-only install), for the report.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The read-back source a `[verify]` (or `[mirror.verify]`) table names.
pub fn source_for(verify: &VerifyConfig) -> Result<Source, Exit> {
    if let Some(ch) = &verify.clickhouse {
        return Ok(Source::ClickHouse(Box::new(ClickHouseSource::new(ch))));
    }
    if let Some(api) = &verify.sentry_api {
        return SentryApiSource::new(api)
            .map(|s| Source::SentryApi(Box::new(s)))
            .map_err(|e| Exit::usage(e.into()));
    }
    Err(Exit::usage(anyhow!(
        "the profile has no place to read events back: add [verify.clickhouse] or \
         [verify.sentry_api], or pass --no-verify to send and journal only"
    )))
}

/// The read API of an embedded sim.
pub fn embedded_source(api: &SentryApiConfig) -> Result<Source, Exit> {
    SentryApiSource::new(api)
        .map(|s| Source::SentryApi(Box::new(s)))
        .map_err(|e| Exit::internal(e.into()))
}

/// The datasets a profile's mix sends to.
pub fn datasets(profile: &Profile) -> Vec<Dataset> {
    let mix = profile.traffic.get_ref().mix.get_ref();
    let mut out = Vec::new();
    for (kind, w) in [
        (EventKind::Error, mix.error),
        (EventKind::Transaction, mix.transaction),
        (EventKind::Native, mix.native),
        (EventKind::Javascript, mix.javascript),
    ] {
        if w.value() > 0.0 && !out.contains(&kind.dataset()) {
            out.push(kind.dataset());
        }
    }
    out
}

/// Asks the source once per dataset for an id that does not exist: proves it answers and the
/// tables are there before any load is sent.
pub async fn ping(source: &Source, datasets: &[Dataset]) -> Result<(), Exit> {
    let ids = [uuid::Uuid::nil()];
    for &dataset in datasets {
        let lookup = Lookup {
            project_id: 0,
            dataset,
            from_secs: 0,
            to_secs: 1,
            ids: &ids,
        };
        source.lookup(lookup).await.map(|_| ()).map_err(|e| {
            let unreachable = e.is_unreachable();
            let e = anyhow::Error::new(e).context(format!(
                "the read-back source does not answer for {}",
                dataset.as_str()
            ));
            if unreachable {
                Exit::unreachable(e)
            } else {
                Exit::usage(e)
            }
        })?;
    }
    Ok(())
}

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
    pub fidelity: Option<super::fidelity::Fidelity<'a>>,
}

/// Reads the journals, runs the issue and fidelity checks, writes the report to
/// `report_path` (with `.md` and `.html` beside it), prints the summary, and returns 0 or 1
/// by the gates.
pub async fn finish(
    journals: &[PathBuf],
    report_path: &Path,
    outcome: &VerifyOutcome,
    how: Finish<'_>,
) -> Result<u8, Exit> {
    let Finish {
        verify,
        profile,
        planned,
        baseline,
        fidelity,
    } = how;
    let baseline = baseline.map(read_report).transpose()?;
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
        Some(f) => Some(super::fidelity::check(f, outcome).await),
        None => None,
    };
    let report = build_report(ReportInput {
        notes: &planned.notes,
        sending: &sending,
        verify: outcome,
        issues,
        planned: planned.planned,
        target_rate: planned.target_rate,
        duration_secs: planned.duration_secs,
        gates: &profile.gates,
        fidelity,
        baseline: baseline
            .as_ref()
            .map(|(r, path)| (r, path.display().to_string())),
    });
    let json = serde_json::to_vec_pretty(&report).internal("serializing the report")?;
    std::fs::write(report_path, json).internal("writing the report")?;
    std::fs::write(
        report_path.with_extension("md"),
        sentry_load_reports::render_markdown(&report),
    )
    .internal("writing the Markdown report")?;
    std::fs::write(
        report_path.with_extension("html"),
        sentry_load_reports::render_html(&report),
    )
    .internal("writing the HTML report")?;
    if let Some(leg) = &planned.leg {
        println!("── {leg} ──");
    }
    print!("{}", render_summary(&report));
    println!("report   {}", report_path.display());
    if outcome.failed_queries > 0 && outcome.queries == outcome.failed_queries {
        return Err(Exit::unreachable(anyhow!(
            "every read-back query failed; last error: {}",
            outcome.last_error.as_deref().unwrap_or("unknown")
        )));
    }
    Ok(if report.passed { OK } else { GATE_FAILED })
}

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
    check_issues(pg, outcome.events.groups(), &crashes).await
}

/// Reads a run's `report.json`, given the run folder or the file; the error names the file.
pub fn read_report(path: &Path) -> Result<(Report, PathBuf), Exit> {
    let file = if path.is_dir() {
        path.join(REPORT_FILE)
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&file)
        .with_context(|| format!("reading {}", file.display()))
        .map_err(Exit::usage)?;
    let report = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a sentry-load report", file.display()))
        .map_err(Exit::usage)?;
    Ok((report, file))
}

/// Accepted records of a journal, for re-verification.
pub fn accepted(r: &JournalRecord) -> bool {
    r.outcome == sentry_load_common::SendOutcome::Accepted
}
