//! A run's setup: the one place where a loaded profile plus the command line's overrides
//! become configured objects — the profile with the variables it reads, the baseline and the
//! run id checked, preflight passed, the plan, the embedded sim, the read-back sources, the
//! sourcemaps uploaded, the routers, the generator, the run folder and the send options —
//! and then the legs run ([`crate::leg`]). Nothing is written before [`PreparedRun::execute`].

use crate::disruption::Disruptions;
use crate::embedded::{self, Embedded};
use crate::error::{Failure, OrInternal, Verdict};
use crate::folder::{self, RunFile, RunFolder};
use crate::interrupt::Interrupt;
use crate::leg::{Leg, LegRole, Shared};
use crate::metrics_endpoint::{MetricsEndpoint, MetricsListener};
use crate::{preflight, profile, sources, upload};
use anyhow::anyhow;
use sentry_load_common::{EventKind, RunId};
use sentry_load_config::{Dsn, LoadedProfile, Protocol, TargetKind};
use sentry_load_engine::{
    Generator, LiveMetrics, LiveStats, Overrides, Plan, Progress, ProgressMode, Router, RunClock,
    SendOptions, Shard, Target,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What the command line asks of a run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// A shipped profile's name, `profiles/<name>.toml`, or a path.
    pub profile: String,
    /// The rate and duration overrides.
    pub overrides: Overrides,
    /// The shard of the run this process sends.
    pub shard: Shard,
    /// The run id (a new one when `None`).
    pub run_id: Option<String>,
    /// The folder that receives the run folder.
    pub out: PathBuf,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// Read events back (`false` with `--no-verify`: send and journal only).
    pub read_back: bool,
    /// Print only failures and changes of preflight.
    pub quiet: bool,
    /// A previous run for the baseline gates.
    pub baseline: Option<PathBuf>,
    /// Serve live metrics for Prometheus here while the run goes (`--metrics-listen`).
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Sends, verifies and reports a run; the worst verdict of its legs.
pub async fn run(request: RunRequest) -> Result<Verdict, Failure> {
    PreparedRun::prepare(request).await?.execute().await
}

/// A run ready to send: everything configured, nothing sent.
pub struct PreparedRun {
    loaded: LoadedProfile,
    run_id: RunId,
    plan: Plan,
    generator: Arc<Generator>,
    opts: SendOptions,
    http2: bool,
    run_file: RunFile,
    legs: Vec<Leg>,
    embedded: Option<Embedded>,
    progress: ProgressMode,
    baseline: Option<PathBuf>,
    metrics: Option<MetricsListener>,
}

impl PreparedRun {
    /// Loads the profile, passes preflight (nothing is sent until it does) and configures
    /// every stage.
    pub async fn prepare(request: RunRequest) -> Result<PreparedRun, Failure> {
        // A run reads every part of its profile (preflight checks the key through
        // `[verify.postgres]` and the install through `[verify.sentry_api]` even with
        // `--no-verify`).
        let mut loaded = profile::load_for(&request.profile, &[""])?;
        if let Some(b) = &request.baseline {
            // Refuse a bad baseline before sending anything.
            folder::read_report(b)?;
        }
        let run_id = match &request.run_id {
            Some(id) => RunId::parse(id).ok_or_else(|| {
                Failure::usage(anyhow!(
                    "--run-id `{id}`: expected 1 to 64 ASCII letters, digits, `-`, `_` or `.`"
                ))
            })?,
            None => RunId::generate(sentry_load_common::clock::now_unix_micros()),
        };
        // A run id names one run: reusing it would overwrite that run's files.
        let folder = RunFolder::for_run(&request.out, &run_id, request.shard);
        if folder.holds_a_run() {
            return Err(Failure::usage(anyhow!(
                "{} already holds run {run_id}: nothing was changed — choose another --run-id \
                 (or none, for a new one), or remove that folder; to read it back again, \
                 `sentry-load verify {}`",
                folder.dir().display(),
                folder.dir().display()
            )));
        }
        // Bound before anything else is done: a port in use is refused up front.
        let metrics = request
            .metrics_listen
            .map(MetricsListener::bind)
            .transpose()?;
        let checks = preflight::check(&loaded.profile, request.read_back).await;
        checks.print(request.quiet);
        if let Some(e) = checks.failure() {
            return Err(e);
        }
        let mut notes = Vec::new();
        if checks.drop_transactions {
            let mix = loaded.profile.traffic.get_mut().mix.get_mut();
            mix.set(EventKind::Transaction, Default::default());
            notes.push(
                "the install is errors-only: transactions were taken out of the mix (preflight)"
                    .to_owned(),
            );
        }
        let profile = &loaded.profile;
        let plan = Plan::from_traffic(profile.traffic.get_ref(), profile.seed, request.overrides)
            .map_err(Failure::usage)?
            .with_shard(request.shard);
        if plan.total() == 0 {
            return Err(Failure::usage(anyhow!("the schedule plans no events")));
        }
        if !request.read_back
            && profile
                .gates
                .abort
                .as_ref()
                .is_some_and(|g| g.max_unseen_ratio.is_some())
        {
            return Err(Failure::usage(anyhow!(
                "[gates.abort] max_unseen_ratio watches events become visible while the run \
                 sends, but --no-verify reads nothing back: drop --no-verify, or the rule"
            )));
        }

        // The targets, and where events are read back.
        let read_back = request.read_back;
        let protocol = *profile.target.protocol.get_ref();
        let (embedded, dsns, source) = if *profile.target.kind.get_ref() == TargetKind::Embedded {
            let preset = profile.target.preset.as_ref().map(|p| *p.get_ref());
            let e = embedded::start(preset.unwrap_or_default()).await?;
            let source =
                read_back.then(|| sources::embedded_source(&e.api).map(|r| r.into_source()));
            let dsns = vec![(e.dsn.clone(), 1.0)];
            (Some(e), dsns, source.transpose()?)
        } else {
            let source =
                read_back.then(|| sources::source_for(&profile.verify).map(|r| r.into_source()));
            (None, profile.target.dsns(), source.transpose()?)
        };
        upload_sourcemaps(&loaded, embedded.as_ref()).await?;

        let main_api = embedded
            .as_ref()
            .map(|e| e.api.clone())
            .or_else(|| profile.verify.sentry_api.clone());
        let mut legs = vec![Leg {
            role: LegRole::Main,
            router: destination(&dsns, protocol, profile.seed),
            fidelity_api: main_api.filter(|_| source.is_some()),
            source,
            folder: folder.clone(),
        }];
        if let Some(m) = &profile.mirror {
            let m = m.get_ref();
            let source = read_back
                .then(|| sources::source_for(&m.verify).map(|r| r.into_source()))
                .transpose()?;
            legs.push(Leg {
                role: LegRole::Mirror,
                router: destination(&m.dsns(), *m.protocol.get_ref(), profile.seed),
                fidelity_api: m.verify.sentry_api.clone().filter(|_| source.is_some()),
                source,
                folder: folder.mirror(),
            });
        }
        // The envelopes' templates, built before time zero: native minidumps take a moment.
        let mut generator =
            Generator::for_traffic(run_id.clone(), profile.seed, profile.traffic.get_ref());
        if profile.send.gzip {
            generator = generator.precompressed();
        }
        let shard = request.shard;
        let run_file = RunFile {
            planned: plan.exact_total(),
            target_rate: plan.mean_rate(),
            duration_secs: plan.duration().as_secs_f64(),
            stages: stage_marks(&plan),
            embedded: embedded.is_some(),
            shard: (shard != Shard::WHOLE).then(|| format!("{}/{}", shard.index, shard.count)),
            leg: None,
            notes,
            interrupted: None,
            aborted: None,
            disruptions: Vec::new(),
            probes: Vec::new(),
        };
        let opts = SendOptions {
            max_in_flight: profile.send.max_in_flight.get() as usize,
            timeout: profile.send.timeout,
            give_up_after: profile.send.give_up_after,
            gzip: profile.send.gzip,
            on_rate_limit: profile.send.on_rate_limit,
            precise_timing: profile.send.precise_timing,
        };
        let http2 = profile.send.http2;
        Ok(PreparedRun {
            run_id,
            plan,
            generator: Arc::new(generator),
            opts,
            http2,
            run_file,
            legs,
            embedded,
            progress: if request.quiet {
                ProgressMode::Quiet
            } else {
                request.progress
            },
            baseline: request.baseline,
            metrics,
            loaded,
        })
    }

    /// The schedule.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The send options.
    pub fn send_options(&self) -> &SendOptions {
        &self.opts
    }

    /// The run folder of each leg, main leg first.
    pub fn folders(&self) -> Vec<&RunFolder> {
        self.legs.iter().map(|l| &l.folder).collect()
    }

    /// Runs every leg to its report (both at once with `[mirror]`), stops the embedded sim,
    /// and returns the worst verdict; an operator's Ctrl-C or SIGTERM stops it early
    /// ([`Interrupt`]).
    pub async fn execute(self) -> Result<Verdict, Failure> {
        self.execute_until(Interrupt::listen()).await
    }

    /// [`PreparedRun::execute`], stopped early by `interrupt`.
    pub async fn execute_until(self, interrupt: Interrupt) -> Result<Verdict, Failure> {
        // Time zero leaves room for the legs to open their journals.
        let clock = RunClock::starting_in(Duration::from_millis(100));
        let main_stats = Arc::new(LiveStats::default());
        let progress = Progress::start(main_stats.clone(), &self.plan, self.progress);
        let deadline = self.loaded.profile.verify.deadline;
        let (metrics, _endpoint) = match self.metrics {
            Some(listener) => {
                let m = Arc::new(LiveMetrics::new(
                    clock.start_unix_micros,
                    self.plan.total(),
                    deadline,
                ));
                let endpoint = MetricsEndpoint::start(
                    listener,
                    m.clone(),
                    main_stats.clone(),
                    &self.plan,
                    clock,
                )?;
                (Some(m), Some(endpoint))
            }
            None => (None, None),
        };
        // One shard runs the commands for the whole run (restarting Relay once, not once per
        // machine); the others only send.
        let commands = !self.loaded.profile.disruptions.is_empty() && self.plan.shard().index == 0;
        let disruptions = commands.then(|| {
            let list: Vec<_> = self
                .loaded
                .profile
                .disruptions
                .iter()
                .map(|d| d.get_ref().clone())
                .collect();
            Disruptions::start(&list, clock, self.run_id.as_str(), interrupt.clone())
        });
        // Shard 0 samples the pipeline for the whole run, into the main leg's folder.
        let probes =
            (!self.loaded.profile.probes.is_empty() && self.plan.shard().index == 0).then(|| {
                let profile = &self.loaded.profile;
                let list: Vec<_> = profile.probes.iter().map(|p| p.get_ref().clone()).collect();
                let defaults = sentry_load_probes::Defaults {
                    clickhouse: profile.verify.clickhouse.as_ref(),
                    postgres: profile.verify.postgres.as_ref().map(|p| p.get_ref()),
                };
                let record = self.legs.first().map(|l| l.folder.probe_samples());
                sentry_load_probes::Probes::start(&list, defaults, clock.start, record.as_deref())
            });
        let shared = Shared {
            loaded: &self.loaded,
            run_id: &self.run_id,
            plan: &self.plan,
            generator: &self.generator,
            opts: &self.opts,
            http2: self.http2,
            clock,
            run_file: &self.run_file,
            progress: &progress,
            baseline: self.baseline.as_deref(),
            interrupt: &interrupt,
            metrics,
            disruptions: disruptions.as_ref(),
            probes: probes.as_ref(),
        };
        let mut legs = self.legs.into_iter();
        let main = legs.next().map(|leg| leg.run(main_stats, &shared));
        let mirror = legs
            .next()
            .map(|leg| leg.run(Arc::new(LiveStats::default()), &shared));
        let verdicts = match (main, mirror) {
            (Some(main), None) => vec![main.await],
            (Some(main), Some(mirror)) => {
                let (a, b) = tokio::join!(main, mirror);
                vec![a, b]
            }
            _ => vec![],
        };
        progress.finish();
        if let Some(e) = self.embedded {
            e.sim.stop().await.internal("stopping the embedded sim")?;
        }
        let mut worst = Verdict::Passed;
        for v in verdicts {
            worst = worst.max(v?);
        }
        Ok(worst)
    }
}

/// JavaScript errors need their sourcemaps on the target before the first one arrives: on
/// the embedded sim, per `[artifacts]`, and per `[mirror.artifacts]`.
async fn upload_sourcemaps(
    loaded: &LoadedProfile,
    embedded: Option<&Embedded>,
) -> Result<(), Failure> {
    let profile = &loaded.profile;
    if !profile
        .traffic
        .get_ref()
        .mix
        .get_ref()
        .sends(EventKind::Javascript)
    {
        return Ok(());
    }
    let protocol = *profile.target.protocol.get_ref();
    match (embedded, &profile.artifacts) {
        (Some(e), _) => upload::upload(profile, &upload::embedded_target(&e.api), protocol).await?,
        (None, Some(a)) if a.get_ref().upload => {
            upload::upload(profile, &upload::target_of(a.get_ref()), protocol).await?
        }
        _ => {}
    }
    if let Some(m) = &profile.mirror
        && let Some(a) = &m.get_ref().artifacts
        && a.get_ref().upload
    {
        let target = upload::target_of(a.get_ref());
        upload::upload(profile, &target, *m.get_ref().protocol.get_ref()).await?;
    }
    Ok(())
}

/// The router over a deployment's DSNs, speaking `protocol` (preflight has checked they
/// answer).
fn destination(dsns: &[(Dsn, f64)], protocol: Protocol, seed: u64) -> Router {
    let targets: Vec<(Target, f64)> = dsns
        .iter()
        .enumerate()
        .map(|(i, (dsn, w))| (Target::speaking(i as u16, dsn, protocol), *w))
        .collect();
    Router::weighted(targets, seed)
}

#[cfg(test)]
#[path = "setup_tests.rs"]
mod tests;

/// The plan's stretches as the report marks them.
fn stage_marks(plan: &Plan) -> Vec<sentry_load_reports::StageMark> {
    let mut start = 0.0;
    plan.phases()
        .iter()
        .map(|p| {
            let end = start + p.duration.as_secs_f64();
            let mark = sentry_load_reports::StageMark {
                start_secs: start,
                end_secs: end,
                from_rate: p.from,
                to_rate: p.to,
            };
            start = end;
            mark
        })
        .collect()
}
