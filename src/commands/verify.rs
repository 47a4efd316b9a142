//! `sentry-load verify <run-dir>`: reads a run's journal (up to its last whole record), asks
//! the profile's read-back source for every accepted event, and writes the report — the way to
//! finish a run whose process died.

use super::readback::{self, PROFILE_FILE, RUN_FILE, RunFile};
use crate::cli::VerifyArgs;
use crate::exit::{Exit, OrInternal};
use anyhow::{Context, anyhow};
use sentry_load_common::journal::{self, JournalReader};
use sentry_load_reports::{REPORT_FILE, SendSummary};
use sentry_load_verify::{Verifier, VerifyOptions};
use tokio::sync::mpsc;

pub async fn verify(args: VerifyArgs) -> Result<u8, Exit> {
    let dir = &args.run_dir;
    let journal_path = dir.join(journal::FILE_NAME);
    let reader = JournalReader::open(&journal_path).map_err(|e| Exit::usage(e.into()))?;
    let profile_path = dir.join(PROFILE_FILE);
    let text = std::fs::read_to_string(&profile_path)
        .with_context(|| format!("reading {}", profile_path.display()))
        .map_err(Exit::usage)?;
    let profile = sentry_load_config::parse_profile(&profile_path.display().to_string(), &text)
        .map_err(|e| Exit::usage(e.into()))?;
    let run_path = dir.join(RUN_FILE);
    let run: RunFile = std::fs::read(&run_path)
        .map_err(anyhow::Error::from)
        .and_then(|b| serde_json::from_slice(&b).map_err(anyhow::Error::from))
        .with_context(|| format!("reading {}", run_path.display()))
        .map_err(Exit::usage)?;
    if run.embedded {
        return Err(Exit::usage(anyhow!(
            "{} was a run against the embedded sim, whose store ended with that process; \
             only runs against a real target can be verified again",
            dir.display()
        )));
    }
    let source = readback::source_for(&profile)?;
    readback::ping(&source).await?;

    let (tx, rx) = mpsc::unbounded_channel();
    let summary = SendSummary::read(reader, profile.send.late_after, |r| {
        if readback::accepted(r) {
            let _ = tx.send(*r);
        }
    })
    .internal("reading the journal")?;
    drop(tx);
    eprintln!(
        "journal of run {}: {} whole records, {} bytes after the last one ignored",
        summary.header.run_id, summary.records, summary.ignored_tail_bytes
    );
    let verifier = Verifier::new(
        source,
        VerifyOptions {
            poll_interval: profile.verify.poll_interval,
            deadline: profile.verify.deadline,
            live: false,
        },
    );
    let outcome = verifier.run(rx, |_| {}).await;
    let name = if dir.join(REPORT_FILE).exists() {
        "report.verify.json"
    } else {
        REPORT_FILE
    };
    readback::finish(dir, &profile, &run, &outcome, name).await
}
