//! One leg of a run: a set of targets on one deployment, with its own journal, collector,
//! live verifier and report. A run has one leg, or two with `[mirror]` — the same plan and the
//! same events (same ids) sent to two deployments at once, each measured on its own, so a
//! stalled deployment cannot make the other one's sends late.

use super::readback::{self, PROFILE_FILE, RUN_FILE, RunFile};
use crate::exit::{Exit, OrInternal};
use anyhow::{Context, anyhow};
use sentry_load_common::journal::{self, JournalHeader, JournalWriter, TargetInfo};
use sentry_load_common::{RunId, SendOutcome};
use sentry_load_config::{LoadedProfile, VerifyConfig};
use sentry_load_engine::{
    Generator, HttpTransport, LiveStats, PlainHttpTransport, Plan, Progress, Router, RunClock,
    SendOptions, Transport, collect, drive,
};
use sentry_load_verify::{Source, Verifier, VerifyOptions, VerifyOutcome};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the journal is flushed to the OS: what a crash can lose at most.
const JOURNAL_FLUSH: Duration = Duration::from_millis(200);

/// What differs between legs.
pub struct Leg<'a> {
    /// `None` for the main leg, `Some("mirror")` for the mirror.
    pub name: Option<&'static str>,
    /// Where its sends go.
    pub router: Router,
    /// Where its events are read back (`None` with `--no-verify`).
    pub source: Option<Source>,
    /// The Sentry web API its fidelity sample is fetched from, if it has one.
    pub fidelity_api: Option<sentry_load_config::SentryApiConfig>,
    /// Its `[verify]` (or `[mirror.verify]`) settings.
    pub verify: &'a VerifyConfig,
    /// Its run folder.
    pub dir: PathBuf,
    /// Its live counts (the main leg's feed the progress display).
    pub stats: Arc<LiveStats>,
}

/// What every leg of a run shares.
pub struct Shared<'a> {
    /// The profile as loaded.
    pub loaded: &'a LoadedProfile,
    /// The run id.
    pub run_id: &'a RunId,
    /// The schedule.
    pub plan: &'a Plan,
    /// The envelopes.
    pub generator: &'a Arc<Generator>,
    /// How to send.
    pub opts: &'a SendOptions,
    /// Speak HTTP/2 (reqwest) instead of the plain-HTTP/1 path.
    pub http2: bool,
    /// Time zero.
    pub clock: RunClock,
    /// The run file's common part (the leg name is filled in per leg).
    pub run_file: &'a RunFile,
    /// Where the main leg's messages go.
    pub progress: &'a Progress,
    /// The run the baseline gates compare against (`--baseline`).
    pub baseline: Option<&'a std::path::Path>,
}

/// Runs one leg to its report; returns 0, or 1 when a gate failed.
pub async fn run_leg(leg: Leg<'_>, s: &Shared<'_>) -> Result<u8, Exit> {
    let profile = &s.loaded.profile;
    std::fs::create_dir_all(&leg.dir)
        .with_context(|| format!("creating {}", leg.dir.display()))
        .map_err(Exit::internal)?;
    std::fs::write(leg.dir.join(PROFILE_FILE), &s.loaded.text).internal("writing profile.toml")?;
    let run_file = RunFile {
        leg: leg.name.map(str::to_owned),
        ..s.run_file.clone()
    };
    let json = serde_json::to_vec_pretty(&run_file).internal("run.json")?;
    std::fs::write(leg.dir.join(RUN_FILE), json).internal("writing run.json")?;
    let header = JournalHeader {
        run_id: s.run_id.clone(),
        seed: profile.seed,
        profile: s.loaded.name.clone(),
        profile_hash: s.loaded.hash.clone(),
        tool_version: sentry_load_common::TOOL_VERSION.into(),
        started_at_micros: s.clock.start_unix_micros,
        targets: leg
            .router
            .targets()
            .iter()
            .map(|t| TargetInfo {
                display: t.display.clone(),
                project_id: t.project_id,
            })
            .collect(),
    };
    let journal_path = leg.dir.join(journal::FILE_NAME);
    let journal = JournalWriter::create(&journal_path, &header, JOURNAL_FLUSH)
        .internal("creating the journal")?;
    let shown: Vec<&str> = header.targets.iter().map(|t| t.display.as_str()).collect();
    s.progress.println(&format!(
        "run {}{}: {} events at {:.1}/s on average for {} to {} → {}",
        s.run_id,
        leg.name.map(|n| format!(" ({n})")).unwrap_or_default(),
        s.plan.total(),
        s.plan.mean_rate(),
        humantime::format_duration(s.plan.duration()),
        shown.join(", "),
        leg.dir.display()
    ));

    // Send, journal and verify at once: one result stream, one collector.
    let (results_tx, results_rx) = mpsc::channel(65_536);
    let (accepted_tx, accepted_rx) = mpsc::unbounded_channel();
    let verifying = leg.source.map(|source| {
        let verifier = Verifier::new(
            source,
            VerifyOptions {
                poll_interval: leg.verify.poll_interval,
                deadline: leg.verify.deadline,
                live: true,
            },
        );
        let seen = leg.stats.clone();
        tokio::spawn(verifier.run(accepted_rx, move |n| seen.add_seen(n)))
    });
    let forward = verifying.as_ref().map(|_| accepted_tx);
    let collector = tokio::spawn(collect(results_rx, journal, forward));
    send(&leg.router, s, results_tx, leg.stats.clone()).await?;
    let records = collector
        .await
        .internal("collector")?
        .internal("writing the journal")?;
    let outcome = match verifying {
        Some(verifying) => {
            s.progress.println(&format!(
                "sent {records} envelopes{}; waiting up to {} for stragglers",
                leg.name.map(|n| format!(" ({n})")).unwrap_or_default(),
                humantime::format_duration(leg.verify.deadline)
            ));
            verifying.await.internal("verifier")?
        }
        None => VerifyOutcome::not_verified(leg.stats.count(SendOutcome::Accepted)),
    };
    let fidelity = match &leg.fidelity_api {
        Some(api) if leg.verify.fidelity_sample > 0 => Some(super::fidelity::Fidelity {
            api: sentry_load_verify::source::SentryApiSource::new(api)
                .map_err(|e| Exit::usage(e.into()))?,
            generator: s.generator,
            per_kind: leg.verify.fidelity_sample as usize,
        }),
        _ => None,
    };
    let report_path = leg.dir.join(sentry_load_reports::REPORT_FILE);
    let how = readback::Finish {
        verify: leg.verify,
        profile,
        planned: &run_file,
        baseline: s.baseline,
        fidelity,
    };
    readback::finish(&[journal_path], &report_path, &outcome, how).await
}

/// Sends the plan to the leg's targets: plain-HTTP/1.1 targets take the lean plain-HTTP path,
/// TLS and HTTP/2 go through reqwest.
async fn send(
    router: &Router,
    s: &Shared<'_>,
    results: mpsc::Sender<sentry_load_common::journal::JournalRecord>,
    stats: Arc<LiveStats>,
) -> Result<(), Exit> {
    let plain = (!s.http2)
        .then(|| PlainHttpTransport::new(router.targets()).ok())
        .flatten();
    match plain {
        Some(t) => drive_with(router, s, results, stats, t).await,
        None => {
            let t = HttpTransport::new(s.opts.max_in_flight, s.http2, s.opts.timeout)
                .map_err(|e| Exit::internal(anyhow!(e).context("building the HTTP client")))?;
            drive_with(router, s, results, stats, t).await;
        }
    }
    Ok(())
}

async fn drive_with<T: Transport>(
    router: &Router,
    s: &Shared<'_>,
    results: mpsc::Sender<sentry_load_common::journal::JournalRecord>,
    stats: Arc<LiveStats>,
    transport: T,
) {
    let (plan, generator, opts, clock) = (s.plan, s.generator, s.opts, s.clock);
    drive(
        plan,
        generator,
        router,
        opts,
        clock,
        results,
        stats,
        Arc::new(transport),
    )
    .await;
}
