//! `sentry-load sim`: its arguments become the sim's configuration, and the reference ingest
//! pipeline runs standalone until Ctrl-C.

use crate::cli::{FaultsFrom, RelayUpstreamArg, SimArgs};
use anyhow::Context;
use sentry_load_run::{Failure, Verdict};
use sentry_load_sim::script::ScriptOrigin;
use sentry_load_sim::{DropRule, ProjectKey, SimConfig, StoreConfig, UpstreamMode};

pub async fn sim(args: SimArgs) -> Result<Verdict, Failure> {
    let token = std::env::var("SENTRY_LOAD_SIM_TOKEN").ok();
    let mut config = SimConfig::in_memory(
        args.project,
        &args.key,
        token
            .as_deref()
            .unwrap_or(&uuid::Uuid::new_v4().simple().to_string()),
    );
    config.projects = vec![ProjectKey::active(args.project, &args.key)];
    config = config.with_preset(args.preset);
    config.batch_interval = args.batch_interval;
    config.config_fetch = args.config_fetch;
    config.crash_reports.project = args.store_crash_reports;
    config.errors_only = args.errors_only;
    config.api_rate_limits = args.api_rate_limits;
    if args.sentry9 {
        config.flavor = sentry_load_sim::Flavor::Sentry9;
    }
    config.relay_upstream = args.relay_upstream.map(|m| match m {
        RelayUpstreamArg::Proxy => UpstreamMode::Proxy,
        RelayUpstreamArg::Managed => UpstreamMode::Managed,
    });
    if let (Some(ch), Some(pg)) = (&args.clickhouse, &args.postgres) {
        config.store = StoreConfig::Sentry {
            clickhouse_url: ch.clone(),
            clickhouse_database: args.clickhouse_database.clone(),
            postgres_url: pg.clone(),
        };
    }
    config.drop = match (args.drop_every, args.drop_seq.is_empty()) {
        (Some(n), _) => DropRule::EveryNth(n),
        (None, false) => DropRule::Seqs(args.drop_seq.iter().copied().collect()),
        (None, true) => DropRule::None,
    };
    if let Some(path) = &args.faults {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))
            .map_err(Failure::usage)?;
        config.faults =
            sentry_load_sim::script::FaultScript::parse(&path.display().to_string(), &text)
                .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
        config.faults_from = match args.faults_from {
            FaultsFrom::FirstRequest => ScriptOrigin::FirstRequest,
            FaultsFrom::Start => ScriptOrigin::Start,
        };
        let zero = match args.faults_from {
            FaultsFrom::FirstRequest => "the first ingest request",
            FaultsFrom::Start => "the sim's start",
        };
        eprintln!("faults from {} (time zero: {zero}):", path.display());
        for line in config.faults.schedule() {
            eprintln!("  {line}");
        }
    }
    config.truth_file = args.truth.clone();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))
        .map_err(Failure::usage)?;
    let addr = listener.local_addr().map_err(Failure::internal)?;
    eprintln!("sim listening on http://{addr}");
    eprintln!("DSN: http://{}@{addr}/{}", args.key, args.project);
    if let Some(mode) = config.relay_upstream {
        eprintln!(
            "upstream of a Relay in {} mode: point its relay.upstream at http://{addr}/",
            mode.as_str()
        );
    }
    eprintln!(
        "read and artifact-upload API token: {}",
        if token.is_some() {
            "from $SENTRY_LOAD_SIM_TOKEN"
        } else {
            "random (set $SENTRY_LOAD_SIM_TOKEN to choose it)"
        }
    );
    sentry_load_sim::run(listener, config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(Failure::unreachable)?;
    Ok(Verdict::Passed)
}
