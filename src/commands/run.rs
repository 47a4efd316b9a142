//! `sentry-load run`: profile → plan → (embedded sim) → one leg, or two with `[mirror]`:
//! send + journal + live verify → report (see [`super::leg`]).

use super::leg::{Leg, Shared, run_leg};
use super::load_profile;
use super::readback::{self, RunFile};
use crate::cli::{ProgressArg, RunArgs};
use crate::exit::{Exit, OK, OrInternal};
use anyhow::anyhow;
use sentry_load_common::RunId;
use sentry_load_config::{Dsn, Protocol, Secret, SentryApiConfig, TargetKind};
use sentry_load_engine::{
    Generator, LiveStats, Overrides, Plan, Progress, ProgressMode, Router, RunClock, SendOptions,
    Shard, Target,
};
use std::sync::Arc;
use std::time::Duration;

pub async fn run(args: RunArgs) -> Result<u8, Exit> {
    let mut loaded = load_profile(&args.profile)?;
    if let Some(b) = &args.baseline {
        // Refuse a bad baseline before sending anything.
        super::readback::read_report(b)?;
    }
    // Nothing is sent until preflight passes.
    let checks = super::preflight::check(&loaded.profile, !args.no_verify).await;
    checks.print(args.quiet);
    if let Some(e) = checks.failure() {
        return Err(e);
    }
    let mut notes = Vec::new();
    if checks.drop_transactions {
        let mix = loaded.profile.traffic.get_mut().mix.get_mut();
        mix.transaction = Default::default();
        notes.push(
            "the install is errors-only: transactions were taken out of the mix (preflight)"
                .to_owned(),
        );
    }
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

    // The targets, and where events are read back.
    let embedded = *profile.target.kind.get_ref() == TargetKind::Embedded;
    let mut embedded_api = None;
    let (dsns, source, sim) = if embedded {
        let (sim, dsn, api) = start_embedded().await?;
        let source = (!args.no_verify).then(|| readback::embedded_source(&api));
        embedded_api = Some(api);
        (vec![(dsn, 1.0)], source.transpose()?, Some(sim))
    } else {
        let source = (!args.no_verify).then(|| readback::source_for(&profile.verify));
        (profile.target.dsns(), source.transpose()?, None)
    };
    // JavaScript errors need their sourcemaps on the target before the first one arrives.
    let protocol = *profile.target.protocol.get_ref();
    if profile.traffic.get_ref().mix.get_ref().javascript.value() > 0.0 {
        match (&embedded_api, &profile.artifacts) {
            (Some(api), _) => {
                let target = super::upload::embedded_target(api);
                super::upload::upload(profile, &target, protocol).await?;
            }
            (None, Some(a)) if a.get_ref().upload => {
                let target = super::upload::target_of(a.get_ref());
                super::upload::upload(profile, &target, protocol).await?;
            }
            _ => {}
        }
        if let Some(m) = &profile.mirror
            && let Some(a) = &m.get_ref().artifacts
            && a.get_ref().upload
        {
            let target = super::upload::target_of(a.get_ref());
            super::upload::upload(profile, &target, *m.get_ref().protocol.get_ref()).await?;
        }
    }
    let router = destination(&dsns, protocol, profile.seed);
    let mirror = match &profile.mirror {
        Some(m) => {
            let m = m.get_ref();
            let source = (!args.no_verify).then(|| readback::source_for(&m.verify));
            let source = source.transpose()?;
            let router = destination(&m.dsns(), *m.protocol.get_ref(), profile.seed);
            Some((router, source, &m.verify))
        }
        None => None,
    };

    // The run id, and the envelopes' templates (built before time zero: native minidumps
    // take a moment).
    let run_id = match &args.run_id {
        Some(id) => RunId::parse(id).ok_or_else(|| {
            Exit::usage(anyhow!(
                "--run-id `{id}`: expected 1 to 64 ASCII letters, digits, `-`, `_` or `.`"
            ))
        })?,
        None => RunId::generate(sentry_load_common::clock::now_unix_micros()),
    };
    let mut generator =
        Generator::for_traffic(run_id.clone(), profile.seed, profile.traffic.get_ref());
    if profile.send.gzip {
        generator = generator.precompressed();
    }
    let generator = Arc::new(generator);
    // The run folder. Time zero leaves room for the legs to open their journals.
    let clock = RunClock::starting_in(Duration::from_millis(100));
    let mut run_dir = args.out.join(run_id.as_str());
    if shard != Shard::WHOLE {
        run_dir = run_dir.join(format!("shard-{}-of-{}", shard.index, shard.count));
    }
    let run_file = RunFile {
        planned: plan.total(),
        target_rate: plan.mean_rate(),
        duration_secs: plan.duration().as_secs_f64(),
        embedded,
        shard: (shard != Shard::WHOLE).then(|| format!("{}/{}", shard.index, shard.count)),
        leg: None,
        notes,
    };
    let mode = match (args.quiet, args.progress) {
        (true, _) | (false, ProgressArg::None) => ProgressMode::Quiet,
        (false, ProgressArg::Bar) => ProgressMode::Bar,
        (false, ProgressArg::Json) => ProgressMode::Json,
    };
    let stats = Arc::new(LiveStats::default());
    let progress = Progress::start(stats.clone(), &plan, mode);
    let opts = SendOptions {
        max_in_flight: profile.send.max_in_flight.get() as usize,
        timeout: profile.send.timeout,
        give_up_after: profile.send.give_up_after,
        gzip: profile.send.gzip,
        on_rate_limit: profile.send.on_rate_limit,
        precise_timing: profile.send.precise_timing,
    };
    let shared = Shared {
        loaded: &loaded,
        run_id: &run_id,
        plan: &plan,
        generator: &generator,
        opts: &opts,
        http2: profile.send.http2,
        clock,
        run_file: &run_file,
        progress: &progress,
        baseline: args.baseline.as_deref(),
    };
    let main_api = embedded_api.or_else(|| profile.verify.sentry_api.clone());
    let main_leg = Leg {
        name: None,
        router,
        fidelity_api: main_api.filter(|_| source.is_some()),
        source,
        verify: &profile.verify,
        dir: run_dir.clone(),
        stats,
    };
    let codes = match mirror {
        None => vec![run_leg(main_leg, &shared).await],
        Some((router, source, verify)) => {
            let mirror_leg = Leg {
                name: Some("mirror"),
                router,
                fidelity_api: verify.sentry_api.clone().filter(|_| source.is_some()),
                source,
                verify,
                dir: run_dir.join("mirror"),
                stats: Arc::new(LiveStats::default()),
            };
            let (a, b) = tokio::join!(run_leg(main_leg, &shared), run_leg(mirror_leg, &shared));
            vec![a, b]
        }
    };
    progress.finish();
    if let Some(sim) = sim {
        sim.stop().await.internal("stopping the embedded sim")?;
    }
    let mut worst = OK;
    for code in codes {
        worst = worst.max(code?);
    }
    Ok(worst)
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
        // The embedded sim enforces no API limits (as self-hosted does not).
        event_details_per_second: 0,
        discover_per_second: Some(0),
        lookup: None,
    };
    Ok((sim, dsn, api))
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
