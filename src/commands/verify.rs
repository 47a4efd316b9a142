//! `sentry-load verify <run-dir>...`: reads a run's journals (each up to its last whole
//! record), asks the profile's read-back source for every accepted event, and writes the
//! report — the way to finish a run whose process died, or to join the shards of a run that
//! several machines generated (`run --shard i/n`).

use super::readback::{self, PROFILE_FILE, RUN_FILE, RunFile};
use crate::cli::VerifyArgs;
use crate::exit::Exit;
use anyhow::{Context, anyhow};
use sentry_load_common::journal::{self, JournalReader};
use sentry_load_reports::{REPORT_FILE, SendSummary};
use sentry_load_verify::{Verifier, VerifyOptions};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

pub async fn verify(args: VerifyArgs) -> Result<u8, Exit> {
    let dirs = &args.run_dirs;
    let first = &dirs[0];
    let profile_path = first.join(PROFILE_FILE);
    let text = std::fs::read_to_string(&profile_path)
        .with_context(|| format!("reading {}", profile_path.display()))
        .map_err(Exit::usage)?;
    let profile = sentry_load_config::parse_profile(&profile_path.display().to_string(), &text)
        .map_err(|e| Exit::usage(e.into()))?;
    let mut planned = RunFile {
        planned: 0,
        target_rate: 0.0,
        duration_secs: 0.0,
        embedded: false,
        shard: None,
        leg: None,
        notes: vec![],
    };
    for dir in dirs {
        let run = read_run_file(dir)?;
        if run.embedded {
            return Err(Exit::usage(anyhow!(
                "{} was a run against the embedded sim, whose store ended with that process; \
                 only runs against a real target can be verified again",
                dir.display()
            )));
        }
        planned.leg = run.leg.clone();
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
    let verify_cfg = match (planned.leg.as_deref(), &profile.mirror) {
        (Some("mirror"), Some(m)) => &m.get_ref().verify,
        (Some(leg), _) => {
            return Err(Exit::usage(anyhow!(
                "{} holds leg `{leg}`, which its profile.toml does not describe",
                first.display()
            )));
        }
        (None, _) => &profile.verify,
    };
    let source = readback::source_for(verify_cfg)?;
    readback::ping(&source, &readback::datasets(&profile)).await?;

    let journals: Vec<PathBuf> = dirs.iter().map(|d| d.join(journal::FILE_NAME)).collect();
    let readers = journals
        .iter()
        .map(|j| JournalReader::open(j))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Exit::usage(e.into()))?;
    let mut verifier = Verifier::new(
        source,
        VerifyOptions {
            poll_interval: verify_cfg.poll_interval,
            deadline: verify_cfg.deadline,
            live: false,
        },
    );
    let summary = SendSummary::read_all(readers, profile.send.late_after, |r| {
        if readback::accepted(r) {
            verifier.track(r);
        }
    })
    .map_err(|e| Exit::usage(e.into()))?;
    // Every record is tracked already: the intake is closed from the start.
    let (_, rx) = mpsc::unbounded_channel();
    eprintln!(
        "run {}: {} journal(s), {} whole records, {} bytes after the last ones ignored",
        summary.header.run_id,
        journals.len(),
        summary.records,
        summary.ignored_tail_bytes
    );
    let outcome = verifier.run(rx, |_| {}).await;
    // The events are regenerated from the run's id and seed for the fidelity sample.
    let generator;
    let fidelity = match &verify_cfg.sentry_api {
        Some(api) if verify_cfg.fidelity_sample > 0 => {
            generator = sentry_load_engine::Generator::for_traffic(
                summary.header.run_id.clone(),
                summary.header.seed,
                profile.traffic.get_ref(),
            );
            Some(super::fidelity::Fidelity {
                api: sentry_load_verify::source::SentryApiSource::new(api)
                    .map_err(|e| Exit::usage(e.into()))?,
                generator: &generator,
                per_kind: verify_cfg.fidelity_sample as usize,
            })
        }
        _ => None,
    };
    let report_path = match &args.out {
        Some(p) => p.clone(),
        None => default_report_path(dirs),
    };
    let how = readback::Finish {
        verify: verify_cfg,
        profile: &profile,
        planned: &planned,
        baseline: args.baseline.as_deref(),
        fidelity,
    };
    readback::finish(&journals, &report_path, &outcome, how).await
}

fn read_run_file(dir: &Path) -> Result<RunFile, Exit> {
    let path = dir.join(RUN_FILE);
    let bytes = std::fs::read(&path)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(Exit::usage)?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(Exit::usage)
}

/// One folder: its `report.json`, or `report.verify.json` beside a live report. Several
/// (shards): the same names in the first folder's parent, the run's own folder.
fn default_report_path(dirs: &[PathBuf]) -> PathBuf {
    let home = if dirs.len() == 1 {
        dirs[0].clone()
    } else {
        dirs[0]
            .parent()
            .map_or_else(|| dirs[0].clone(), Path::to_path_buf)
    };
    if home.join(REPORT_FILE).exists() {
        home.join("report.verify.json")
    } else {
        home.join(REPORT_FILE)
    }
}
