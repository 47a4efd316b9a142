//! Real, independently written Sentry clients against the sim: `sentry-cli` (PyPI) uploads the
//! run's sourcemaps with its own `sourcemaps upload`, and the JavaScript errors sent afterwards
//! are resolved through what it uploaded; Sentry's Python SDK (PyPI `sentry-sdk`) sends errors
//! and transactions, and the verifier reads every one back from ClickHouse.

mod support;

use sentry_load_common::journal::JournalRecord;
use sentry_load_common::{EventKind, SendOutcome};
use sentry_load_verify::{Source, Verifier, VerifyOptions, source::ClickHouseSource};
use std::time::Duration;
use support::{only_report, sentry_load, services, shown, tool};

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// Runs `program` with `args` in `dir`, bounded in time; its stdout, or the failure.
async fn run_tool(program: &str, args: &[&str], dir: &std::path::Path) -> String {
    let child = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), child)
        .await
        .unwrap_or_else(|_| panic!("{program} did not finish within 3 minutes"))
        .unwrap_or_else(|e| panic!("{program} does not start: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn sentry_cli_uploads_the_sourcemaps_and_javascript_resolves_through_them() {
    let cli = tool("SENTRY_LOAD_TEST_SENTRY_CLI", "sentry_cli");
    let mut config = sentry_load_sim::SimConfig::in_memory(1, KEY, "cli-token");
    config.batch_interval = Duration::from_millis(50);
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let addr = sim.addr();
    let dir = tempfile::tempdir().unwrap();
    let profile = format!(
        "seed = 21\n[target]\nkind = \"relay\"\ndsn = \"http://{KEY}@{addr}/1\"\n\
         [traffic]\nrate = 50\ncount = 40\nmix = {{ javascript = 1 }}\n\
         [traffic.javascript]\nreleases = 1\n\
         [verify]\npoll_interval = \"100ms\"\ndeadline = \"5s\"\nfidelity_sample = 40\n\
         [verify.sentry_api]\nurl = \"http://{addr}/\"\ntoken = \"cli-token\"\n\
         [artifacts]\nurl = \"http://{addr}/\"\ntoken = \"cli-token\"\nupload = false\n\
         [gates]\nmax_fidelity_failures = 0\nmax_loss_ratio = 0.0\n"
    );
    std::fs::write(dir.path().join("p.toml"), &profile).unwrap();
    // The minified bundle and its sourcemap, as the run's events point into them.
    let out = sentry_load(
        dir.path(),
        &[
            "generate",
            "--profile",
            "p.toml",
            "--count",
            "1",
            "--out",
            "gen",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let js = dir.path().join("upload/static/js");
    std::fs::create_dir_all(&js).unwrap();
    for f in std::fs::read_dir(dir.path().join("gen/artifacts")).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "js" || e == "map") {
            std::fs::copy(&f, js.join(f.file_name().unwrap())).unwrap();
        }
    }
    let url = format!("http://{addr}/");
    let printed = run_tool(
        &cli,
        &[
            "--url",
            &url,
            "--auth-token",
            "cli-token",
            "sourcemaps",
            "upload",
            "--org",
            "sentry",
            "--project",
            "internal",
            "--release",
            "storefront@3.8.0",
            "upload",
        ],
        dir.path(),
    )
    .await;
    let bundles = sim.artifact_bundles();
    assert_eq!(bundles.len(), 1, "{printed}");
    assert_eq!(bundles[0].releases, ["storefront@3.8.0"]);
    assert_eq!(bundles[0].projects, ["internal"]);
    let out = sentry_load(dir.path(), &["run", "--profile", "p.toml", "--quiet"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let (_, report) = only_report(dir.path());
    let f = &report["fidelity"]["kinds"]["javascript"];
    assert_eq!(f["sampled"], 40, "{f}");
    assert_eq!(
        f["passed"], 40,
        "every frame resolved through sentry-cli's upload: {:#}",
        report["fidelity"]
    );
    sim.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn sentry_sdk_events_are_read_back_from_clickhouse() {
    let svc = services("sentry_sdk").await;
    let python = tool("SENTRY_LOAD_TEST_PYTHON", "sentry_sdk");
    let sim = sentry_load_sim::start(svc.sim_config(KEY), ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let dsn = format!("http://{KEY}@{}/1", sim.addr());
    let dir = tempfile::tempdir().unwrap();
    let sent_at = sentry_load_common::clock::now_unix_micros();
    let script = format!("{}/scripts/sdk-send.py", env!("CARGO_MANIFEST_DIR"));
    let printed = run_tool(&python, &[&script, &dsn, "25"], dir.path()).await;
    let events: Vec<(EventKind, uuid::Uuid)> = printed
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let kind = match v["kind"].as_str().unwrap() {
                "error" => EventKind::Error,
                _ => EventKind::Transaction,
            };
            (
                kind,
                uuid::Uuid::parse_str(v["id"].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    assert_eq!(events.len(), 50, "{printed}");
    let stored = sim.truth().ids_with(sentry_load_sim::Decision::Accepted);
    assert!(
        events.iter().all(|(_, id)| stored.contains(id)),
        "the sim accepted every event the SDK sent"
    );

    let profile = format!(
        "seed = 1\n[target]\nkind = \"relay\"\ndsn = \"{dsn}\"\n[traffic]\nrate = 1\ncount = 1\n\
         [verify.clickhouse]\nurl = \"{}\"\ndatabase = \"{}\"\n",
        svc.clickhouse_url, svc.clickhouse_database
    );
    let p = sentry_load_config::parse_profile("p.toml", &profile).unwrap();
    let source: Box<dyn Source> =
        Box::new(ClickHouseSource::new(p.verify.clickhouse.as_ref().unwrap()));
    let mut verifier = Verifier::new(
        source,
        VerifyOptions {
            poll_interval: Duration::from_millis(200),
            deadline: Duration::from_secs(15),
            live: false,
        },
    );
    for (seq, (kind, id)) in events.iter().enumerate() {
        verifier.track(&JournalRecord {
            seq: seq as u64,
            event_id: *id,
            kind: *kind,
            outcome: SendOutcome::Accepted,
            status: 200,
            target: 0,
            project_id: 1,
            intended_micros: sent_at,
            sent_micros: sent_at,
            done_micros: sent_at,
            bytes: 0,
        });
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    drop(tx);
    let outcome = verifier.run(rx, |_| {}).await;
    assert_eq!(outcome.seen_count(), 50, "missing: {:?}", outcome.missing());
    let transactions = outcome
        .seen()
        .filter(|e| e.kind == EventKind::Transaction)
        .count();
    assert_eq!(transactions, 25);
    sim.stop().await.unwrap();
    svc.cleanup().await;
}
