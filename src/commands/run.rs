//! `sentry-load run`: profile → plan → (embedded sim) → send + journal + live verify → report.

use super::load_profile;
use super::readback::{self, PROFILE_FILE, RUN_FILE, RunFile};
use crate::cli::{ProgressArg, RunArgs};
use crate::exit::{Exit, OrInternal};
use anyhow::{Context, anyhow};
use sentry_load_common::journal::{self, JournalHeader, JournalWriter, TargetInfo};
use sentry_load_common::{RunId, SendOutcome};
use sentry_load_config::{Dsn, Secret, SentryApiConfig, TargetKind};
use sentry_load_engine::{
    Generator, HttpTransport, LiveStats, Overrides, PlainHttpTransport, Plan, Progress,
    ProgressMode, Router, RunClock, SendOptions, Shard, Target, collect, drive,
};
use sentry_load_verify::{Verifier, VerifyOptions, VerifyOutcome};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the journal is flushed to the OS: what a crash can lose at most.
const JOURNAL_FLUSH: Duration = Duration::from_millis(200);

pub async fn run(args: RunArgs) -> Result<u8, Exit> {
    let loaded = load_profile(&args.profile)?;
    let profile = &loaded.profile;
    let overrides = Overrides {
        rate: args.rate,
        duration: args.duration,
    };
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let plan = Plan::from_traffic(profile.traffic.get_ref(), profile.seed, overrides)
        .map_err(|e| Exit::usage(anyhow!(e)))?
        .with_shard(shard);
    if plan.total() == 0 {
        return Err(Exit::usage(anyhow!("the schedule plans no events")));
    }

    // The target, and where events are read back.
    let embedded = *profile.target.kind.get_ref() == TargetKind::Embedded;
    let (dsns, source, sim) = if embedded {
        let (sim, dsn, api) = start_embedded().await?;
        let source = (!args.no_verify).then(|| readback::embedded_source(&api));
        (vec![(dsn, 1.0)], source.transpose()?, Some(sim))
    } else {
        let source = (!args.no_verify).then(|| readback::source_for(profile));
        (profile.target.dsns(), source.transpose()?, None)
    };
    let targets: Vec<(Target, f64)> = dsns
        .iter()
        .enumerate()
        .map(|(i, (dsn, w))| (Target::from_dsn(i as u16, dsn), *w))
        .collect();
    // The projects share one deployment (the profile checks it): one probe answers for all.
    probe_target(&targets[0].0).await?;
    if let Some(source) = &source {
        readback::ping(source).await?;
    }
    let router = Router::weighted(targets, profile.seed);

    // The run folder.
    let clock = RunClock::now();
    let run_id = match &args.run_id {
        Some(id) => RunId::parse(id).ok_or_else(|| {
            Exit::usage(anyhow!(
                "--run-id `{id}`: expected 1 to 64 ASCII letters, digits, `-`, `_` or `.`"
            ))
        })?,
        None => RunId::generate(clock.start_unix_micros),
    };
    let mut run_dir = args.out.join(run_id.as_str());
    if shard != Shard::WHOLE {
        run_dir = run_dir.join(format!("shard-{}-of-{}", shard.index, shard.count));
    }
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("creating {}", run_dir.display()))
        .map_err(Exit::internal)?;
    std::fs::write(run_dir.join(PROFILE_FILE), &loaded.text).internal("writing profile.toml")?;
    let run_file = RunFile {
        planned: plan.total(),
        target_rate: plan.mean_rate(),
        duration_secs: plan.duration().as_secs_f64(),
        embedded,
        shard: (shard != Shard::WHOLE).then(|| format!("{}/{}", shard.index, shard.count)),
    };
    std::fs::write(
        run_dir.join(RUN_FILE),
        serde_json::to_vec_pretty(&run_file).internal("run.json")?,
    )
    .internal("writing run.json")?;
    let header = JournalHeader {
        run_id: run_id.clone(),
        seed: profile.seed,
        profile: loaded.name.clone(),
        profile_hash: loaded.hash.clone(),
        tool_version: sentry_load_common::TOOL_VERSION.into(),
        started_at_micros: clock.start_unix_micros,
        targets: router
            .targets()
            .iter()
            .map(|t| TargetInfo {
                display: t.display.clone(),
                project_id: t.project_id,
            })
            .collect(),
    };
    let journal_path = run_dir.join(journal::FILE_NAME);
    let journal = JournalWriter::create(&journal_path, &header, JOURNAL_FLUSH)
        .internal("creating the journal")?;
    eprintln!(
        "run {run_id}: {} events at {:.1}/s on average for {} to {} → {}",
        plan.total(),
        plan.mean_rate(),
        humantime::format_duration(plan.duration()),
        header
            .targets
            .iter()
            .map(|t| t.display.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        run_dir.display()
    );

    // Send, journal and verify at once: one result stream, one collector.
    let stats = Arc::new(LiveStats::default());
    let (results_tx, results_rx) = mpsc::channel(65_536);
    let (accepted_tx, accepted_rx) = mpsc::unbounded_channel();
    let verifying = source.map(|source| {
        let verifier = Verifier::new(
            source,
            VerifyOptions {
                poll_interval: profile.verify.poll_interval,
                deadline: profile.verify.deadline,
                live: true,
            },
        );
        let seen_stats = stats.clone();
        tokio::spawn(verifier.run(accepted_rx, move |n| seen_stats.add_seen(n)))
    });
    let forward = verifying.as_ref().map(|_| accepted_tx);
    let collector = tokio::spawn(collect(results_rx, journal, forward, JOURNAL_FLUSH));
    let mode = match (args.quiet, args.progress) {
        (true, _) | (false, ProgressArg::None) => ProgressMode::Quiet,
        (false, ProgressArg::Bar) => ProgressMode::Bar,
        (false, ProgressArg::Json) => ProgressMode::Json,
    };
    let progress = Progress::start(stats.clone(), &plan, mode);
    let generator = Generator::new(
        run_id.clone(),
        profile.seed,
        profile.traffic.get_ref().issues.get(),
    );
    let opts = SendOptions {
        max_in_flight: profile.send.max_in_flight.get() as usize,
        timeout: profile.send.timeout,
        give_up_after: profile.send.give_up_after,
        gzip: profile.send.gzip,
        on_rate_limit: profile.send.on_rate_limit,
        precise_timing: profile.send.precise_timing,
    };
    // Plain-HTTP/1.1 targets take the lean hyper path; TLS and HTTP/2 go through reqwest.
    let plain = (!profile.send.http2)
        .then(|| PlainHttpTransport::new(router.targets(), opts.timeout).ok())
        .flatten();
    match plain {
        Some(transport) => {
            let t = Arc::new(transport);
            drive(
                &plan,
                &generator,
                &router,
                &opts,
                clock,
                results_tx,
                stats.clone(),
                t,
            )
            .await;
        }
        None => {
            let transport =
                HttpTransport::new(opts.max_in_flight, profile.send.http2, opts.timeout).map_err(
                    |e| Exit::internal(anyhow::Error::new(e).context("building the HTTP client")),
                )?;
            let t = Arc::new(transport);
            drive(
                &plan,
                &generator,
                &router,
                &opts,
                clock,
                results_tx,
                stats.clone(),
                t,
            )
            .await;
        }
    }
    let records = collector
        .await
        .internal("collector")?
        .internal("writing the journal")?;
    let outcome = match verifying {
        Some(verifying) => {
            progress.println(&format!(
                "sent {records} envelopes; waiting up to {} for stragglers",
                humantime::format_duration(profile.verify.deadline)
            ));
            verifying.await.internal("verifier")?
        }
        None => VerifyOutcome::not_verified(stats.count(SendOutcome::Accepted)),
    };
    progress.finish();
    if let Some(sim) = sim {
        sim.stop().await.internal("stopping the embedded sim")?;
    }
    let report_path = run_dir.join(sentry_load_reports::REPORT_FILE);
    readback::finish(&[journal_path], &report_path, profile, &run_file, &outcome).await
}

/// Starts the embedded sim on loopback: its handle, a DSN for it, and its read API.
async fn start_embedded() -> Result<(sentry_load_sim::SimHandle, Dsn, SentryApiConfig), Exit> {
    let key = uuid::Uuid::new_v4().simple().to_string();
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut config = sentry_load_sim::SimConfig::in_memory(1, &key, &token);
    // Embedded runs are short: flush faster than Snuba's 750 ms so latency reflects the
    // harness, not the sim's batching.
    config.batch_interval = Duration::from_millis(50);
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .map_err(|e| Exit::internal(e.into()))?;
    let addr = sim.addr();
    let dsn: Dsn = format!("http://{key}@{addr}/1")
        .parse()
        .map_err(|e: String| Exit::internal(anyhow!(e)))?;
    let api = SentryApiConfig {
        url: format!("http://{addr}/")
            .parse()
            .map_err(|e: String| Exit::internal(anyhow!(e)))?,
        org: "sentry".into(),
        token: Secret::new(token),
    };
    Ok((sim, dsn, api))
}

/// Opens one TCP connection to the target before any load: exit 3 when it is not there.
async fn probe_target(target: &Target) -> Result<(), Exit> {
    let url = &target.envelope_url;
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(Exit::unreachable(
            anyhow::Error::new(e).context(format!("target {} does not answer", target.display)),
        )),
        Err(_) => Err(Exit::unreachable(anyhow!(
            "target {} did not accept a connection within 10 s",
            target.display
        ))),
    }
}
