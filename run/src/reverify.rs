//! `verify <run-dir>...`: a run read back again from its journals (each up to its last whole
//! record) — the way to finish a run whose process died, or to join the shards of a run that
//! several machines generated (`run --shard i/n`).

use crate::error::{Failure, Verdict};
use crate::fidelity::Fidelity;
use crate::finish::{Finish, finish};
use crate::folder::{self, RunFile, RunFolder};
use crate::leg::LegRole;
use crate::sources;
use anyhow::anyhow;
use sentry_load_common::SendOutcome;
use sentry_load_common::journal::JournalReader;
use sentry_load_reports::SendSummary;
use sentry_load_verify::{Verifier, VerifyOptions};
use std::path::PathBuf;
use tokio::sync::mpsc;

/// What the command line asks of `verify`.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    /// The run folder, or the folders of every shard of one run.
    pub run_dirs: Vec<PathBuf>,
    /// Where to write the report (default: see [`folder::default_report_path`]).
    pub out: Option<PathBuf>,
    /// A previous run for the baseline gates.
    pub baseline: Option<PathBuf>,
}

/// Reads the run back again and writes its report.
pub async fn verify(request: VerifyRequest) -> Result<Verdict, Failure> {
    let folders: Vec<RunFolder> = request.run_dirs.iter().map(RunFolder::at).collect();
    let Some(first) = folders.first() else {
        return Err(Failure::usage(anyhow!(
            "verify needs at least one run folder"
        )));
    };
    let profile = first.read_profile("")?;
    let mut planned = RunFile::default();
    for f in &folders {
        let run = f.read_run_file()?;
        if run.embedded {
            return Err(Failure::usage(anyhow!(
                "{} was a run against the embedded sim, whose store ended with that process; \
                 only runs against a real target can be verified again",
                f.dir().display()
            )));
        }
        planned.leg = run.leg.clone();
        if run.interrupted.is_some() {
            planned.interrupted = run.interrupted.clone();
        }
        if planned.stages.is_empty() {
            planned.stages = run.stages.clone();
        }
        if run.aborted.is_some() {
            planned.aborted = run.aborted.clone();
        }
        for note in &run.notes {
            if !planned.notes.contains(note) {
                planned.notes.push(note.clone());
            }
        }
        planned.planned += run.planned;
        planned.target_rate += run.target_rate;
        planned.duration_secs = planned.duration_secs.max(run.duration_secs);
    }
    // A mirror leg's folder is read back where `[mirror.verify]` says.
    let role = match (planned.leg.as_deref(), &profile.mirror) {
        (Some("mirror"), Some(_)) => LegRole::Mirror,
        (Some(leg), _) => {
            return Err(Failure::usage(anyhow!(
                "{} holds leg `{leg}`, which its profile.toml does not describe",
                first.dir().display()
            )));
        }
        (None, _) => LegRole::Main,
    };
    let scope = match role {
        LegRole::Main => "verify",
        LegRole::Mirror => "mirror.verify",
    };
    profile.require(&[scope]).map_err(Failure::usage)?;
    let verify_cfg = role.verify(&profile);
    let source = sources::source_for(verify_cfg)?.into_source();
    sources::ping(source.as_ref(), &sources::datasets(&profile)).await?;

    let journals: Vec<PathBuf> = folders.iter().map(RunFolder::journal).collect();
    let readers = journals
        .iter()
        .map(|j| JournalReader::open(j))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::usage)?;
    let mut verifier = Verifier::new(
        source,
        VerifyOptions {
            poll_interval: verify_cfg.poll_interval,
            deadline: verify_cfg.deadline,
            live: false,
        },
    );
    let summary = SendSummary::read_all(readers, profile.send.late_after, |r| {
        if r.outcome == SendOutcome::Accepted {
            verifier.track(r);
        }
    })
    .map_err(Failure::usage)?;
    // Every record is tracked already: the intake is closed from the start.
    let (_, rx) = mpsc::unbounded_channel();
    eprintln!(
        "run {}: {} journal(s), {} whole records, {} damaged bytes skipped between them, {} \
         bytes after the last ones ignored",
        summary.header.run_id,
        journals.len(),
        summary.records,
        summary.damaged_bytes,
        summary.ignored_tail_bytes
    );
    let outcome = verifier.run(rx, |_| {}).await;
    // The events are regenerated from the run's id and seed for the fidelity sample.
    let generator = sentry_load_engine::Generator::for_traffic(
        summary.header.run_id.clone(),
        summary.header.seed,
        profile.traffic.get_ref(),
    );
    let fidelity = match &verify_cfg.sentry_api {
        Some(api) => Fidelity::sample(api, &generator, verify_cfg)?,
        None => None,
    };
    let report_path = request
        .out
        .unwrap_or_else(|| folder::default_report_path(&folders));
    let how = Finish {
        verify: verify_cfg,
        profile: &profile,
        planned: &planned,
        baseline: request.baseline.as_deref(),
        fidelity,
    };
    finish(&journals, &report_path, &outcome, how).await
}
