//! One leg of a run, from first send to report: send → journal → live verify → finish. A run
//! has one leg, or two with `[mirror]` — the same plan and the same events (same ids) sent to
//! two deployments at once, each measured on its own, so a stalled deployment cannot make the
//! other one's sends late.

use crate::disruption::Disruptions;
use crate::error::{Failure, OrInternal, Verdict};
use crate::fidelity::Fidelity;
use crate::finish::{Finish, finish};
use crate::folder::{RunFile, RunFolder};
use crate::interrupt::{Interrupt, READ_BACK_AFTER_INTERRUPT, Stop};
use anyhow::anyhow;
use sentry_load_common::journal::{JournalHeader, JournalRecord, JournalWriter, TargetInfo};
use sentry_load_common::{EventKind, RunId, SendOutcome};
use sentry_load_config::{LoadedProfile, Profile, SentryApiConfig, VerifyConfig};
use sentry_load_engine::{
    Generator, HttpTransport, LiveMetrics, LiveStats, Onward, PlainHttpTransport, Plan, Progress,
    Recent, Router, RunClock, SendOptions, Transport, collect, drive_until,
};
use sentry_load_verify::{Source, Verifier, VerifyOptions, VerifyOutcome};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the journal is flushed to the OS: what a crash can lose at most.
const JOURNAL_FLUSH: Duration = Duration::from_millis(200);

/// Which deployment a leg measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegRole {
    /// The profile's `[target]`, read back per `[verify]`.
    Main,
    /// The `[mirror]` deployment, read back per `[mirror.verify]`.
    Mirror,
}

impl LegRole {
    /// The name the run file and the terminal give the leg (`None` for the main leg).
    pub fn name(self) -> Option<&'static str> {
        match self {
            LegRole::Main => None,
            LegRole::Mirror => Some("mirror"),
        }
    }

    /// The leg's `[verify]` settings.
    pub fn verify(self, profile: &Profile) -> &VerifyConfig {
        match (self, &profile.mirror) {
            (LegRole::Mirror, Some(m)) => &m.get_ref().verify,
            _ => &profile.verify,
        }
    }

    fn suffix(self) -> String {
        self.name().map(|n| format!(" ({n})")).unwrap_or_default()
    }
}

/// A leg, set up: where it sends, where it reads back, where it writes.
pub struct Leg {
    /// Which deployment.
    pub role: LegRole,
    /// Where its sends go.
    pub router: Router,
    /// Where its events are read back (`None` with `--no-verify`).
    pub source: Option<Box<dyn Source>>,
    /// The Sentry web API its fidelity sample is fetched from, if it has one.
    pub fidelity_api: Option<SentryApiConfig>,
    /// Its run folder.
    pub folder: RunFolder,
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
    pub baseline: Option<&'a Path>,
    /// An operator's stop.
    pub interrupt: &'a Interrupt,
    /// The live metrics the main leg feeds (`--metrics-listen`).
    pub metrics: Option<Arc<LiveMetrics>>,
    /// The `[[disruption]]` commands, as they go.
    pub disruptions: Option<&'a Disruptions>,
    /// The `[[probes]]`, sampling.
    pub probes: Option<&'a sentry_load_probes::Probes>,
}

impl Leg {
    /// Runs the leg to its report.
    pub async fn run(self, stats: Arc<LiveStats>, s: &Shared<'_>) -> Result<Verdict, Failure> {
        let profile = &s.loaded.profile;
        let verify = self.role.verify(profile);
        let mut run_file = RunFile {
            leg: self.role.name().map(str::to_owned),
            ..s.run_file.clone()
        };
        self.folder.create(&s.loaded.text, &run_file)?;
        let header = JournalHeader {
            run_id: s.run_id.clone(),
            seed: profile.seed,
            profile: s.loaded.name.clone(),
            profile_hash: s.loaded.hash.clone(),
            tool_version: sentry_load_common::TOOL_VERSION.into(),
            started_at_micros: s.clock.start_unix_micros,
            targets: self
                .router
                .targets()
                .iter()
                .map(|t| TargetInfo {
                    display: t.display.clone(),
                    project_id: t.project_id,
                })
                .collect(),
        };
        let journal_path = self.folder.journal();
        let journal = JournalWriter::create(&journal_path, &header, JOURNAL_FLUSH)
            .internal("creating the journal")?;
        let shown: Vec<&str> = header.targets.iter().map(|t| t.display.as_str()).collect();
        s.progress.println(&format!(
            "run {}{}: {} events at {:.1}/s on average for {} to {} → {}",
            s.run_id,
            self.role.suffix(),
            s.plan.total(),
            s.plan.mean_rate(),
            humantime::format_duration(s.plan.duration()),
            shown.join(", "),
            self.folder.dir().display()
        ));

        // Send, journal and verify at once: one result stream, one collector.
        let (results_tx, results_rx) = mpsc::channel(65_536);
        let (accepted_tx, accepted_rx) = mpsc::unbounded_channel();
        let abort = profile.gates.abort.clone();
        let metrics = s.metrics.clone().filter(|_| self.role == LegRole::Main);
        let recent = abort
            .as_ref()
            .map(|g| Arc::new(Recent::new(s.clock.start_unix_micros, g.horizon())));
        let verifying = self.source.map(|source| {
            let verifier = Verifier::new(
                source,
                VerifyOptions {
                    poll_interval: verify.poll_interval,
                    deadline: verify.deadline,
                    live: true,
                },
            )
            .cut_short_by(s.interrupt.flag(), READ_BACK_AFTER_INTERRUPT);
            let seen = stats.clone();
            let recent = recent.clone();
            let metrics = metrics.clone();
            tokio::spawn(
                verifier.run(accepted_rx, move |newly: &[(EventKind, u64)]| {
                    seen.add_seen(newly.len() as u64);
                    if let Some(r) = &recent {
                        r.note_seen(newly.iter().map(|&(_, intended)| intended));
                    }
                    if let Some(m) = &metrics {
                        m.note_seen(newly, sentry_load_common::clock::now_unix_micros());
                    }
                }),
            )
        });
        let onward = Onward {
            accepted: verifying.as_ref().map(|_| accepted_tx),
            recent: recent.clone(),
            metrics,
        };
        let collector = tokio::spawn(collect(results_rx, journal, onward));
        let watching = abort.zip(recent).map(|(gates, recent)| {
            crate::abort::watch(
                gates,
                recent,
                s.clock,
                s.interrupt.clone(),
                self.role.name(),
            )
        });
        let sent = send(&self.router, s, results_tx, stats.clone()).await;
        if let Some(w) = watching {
            w.abort();
        }
        sent?;
        if self.role == LegRole::Main {
            s.progress.sending_done();
        }
        let records = collector
            .await
            .internal("collector")?
            .internal("writing the journal")?;
        let outcome = match verifying {
            Some(verifying) => {
                let wait = match s.interrupt.cause() {
                    Some(_) => verify.deadline.min(READ_BACK_AFTER_INTERRUPT),
                    None => verify.deadline,
                };
                s.progress.println(&format!(
                    "sent {records} envelopes{}; waiting up to {} for stragglers",
                    self.role.suffix(),
                    humantime::format_duration(wait)
                ));
                verifying.await.internal("verifier")?
            }
            None => VerifyOutcome::not_verified(stats.count(SendOutcome::Accepted)),
        };
        // Marked after the read-back: an interrupt while stragglers were awaited cut that wait
        // short, and the report must say why some were not seen.
        if let Some((why, at)) = s.interrupt.cause() {
            let planned = run_file.planned;
            let by = match &why {
                Stop::Signal(signal) => signal.to_string(),
                Stop::Gate(crossed, leg) => {
                    run_file.aborted = Some(crossed.gate.clone());
                    let whose = if *leg == self.role.name() {
                        String::new()
                    } else {
                        format!(", crossed by the {} leg", leg.unwrap_or("main"))
                    };
                    format!("{}{whose}", crossed.by())
                }
            };
            // The schedule ran until the interrupt: rates are of that time, not of the whole
            // plan.
            run_file.duration_secs = at
                .saturating_duration_since(s.clock.start)
                .as_secs_f64()
                .min(run_file.duration_secs);
            run_file.interrupted = Some(if records < planned {
                format!(
                    "by {by} after {records} of {planned} planned sends ({}): the rest \
                     were never sent, so rates, loss and the gates speak of the sends made",
                    sentry_load_common::Percent::part(records, planned)
                )
            } else {
                format!(
                    "by {by} while the sent events were read back: the wait for stragglers \
                     was cut to {} s at most, so an event counted missing may only have been late",
                    READ_BACK_AFTER_INTERRUPT.as_secs()
                )
            });
            self.folder.write_run_file(&run_file)?;
        }
        if let Some(d) = s.disruptions {
            run_file.disruptions = d.marks();
            self.folder.write_run_file(&run_file)?;
        }
        // Sampled until the read-back ended, so the tail of visibility has its probes too.
        if let Some(p) = s.probes.filter(|_| self.role.name().is_none()) {
            run_file.probes = p.tracks();
            self.folder.write_run_file(&run_file)?;
        }
        let fidelity = match &self.fidelity_api {
            Some(api) => Fidelity::sample(api, s.generator, verify)?,
            None => None,
        };
        let how = Finish {
            verify,
            profile,
            planned: &run_file,
            baseline: s.baseline,
            fidelity,
        };
        finish(&[journal_path], &self.folder.report(), &outcome, how).await
    }
}

/// Sends the plan to the leg's targets: plain-HTTP/1.1 targets take the lean plain-HTTP path,
/// TLS and HTTP/2 go through reqwest.
async fn send(
    router: &Router,
    s: &Shared<'_>,
    results: mpsc::Sender<JournalRecord>,
    stats: Arc<LiveStats>,
) -> Result<(), Failure> {
    let plain = (!s.http2)
        .then(|| PlainHttpTransport::new(router.targets()).ok())
        .flatten();
    match plain {
        Some(t) => drive_with(router, s, results, stats, t).await,
        None => {
            let t = HttpTransport::new(s.opts.max_in_flight, s.http2, s.opts.timeout)
                .map_err(|e| Failure::internal(anyhow!(e).context("building the HTTP client")))?;
            drive_with(router, s, results, stats, t).await;
        }
    }
    Ok(())
}

async fn drive_with<T: Transport>(
    router: &Router,
    s: &Shared<'_>,
    results: mpsc::Sender<JournalRecord>,
    stats: Arc<LiveStats>,
    transport: T,
) {
    drive_until(
        s.plan,
        s.generator,
        router,
        s.opts,
        s.clock,
        results,
        stats,
        Arc::new(transport),
        s.interrupt.happened(),
    )
    .await;
}
