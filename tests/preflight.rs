//! Preflight against the sim on real ClickHouse and Postgres: each failure is one line saying
//! what to do, and nothing is sent until every check passes; an errors-only install has its
//! transactions taken out of the mix (without preflight they are accepted and silently lost).

mod support;

use sentry_load_sim::Decision;
use support::{only_report, sentry_load, services, shown};

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// A profile for the sim at `addr` reading back from `svc`, with `extra` before `[send]`.
fn profile(svc: &support::Services, addr: std::net::SocketAddr, key: &str, extra: &str) -> String {
    svc.relay_profile(addr, KEY, 50, 1)
        .replace(&format!("http://{KEY}@"), &format!("http://{key}@"))
        .replace("[send]\n", &format!("{extra}[send]\n"))
}

async fn preflight(dir: &std::path::Path, text: &str) -> std::process::Output {
    std::fs::write(dir.join("p.toml"), text).unwrap();
    sentry_load(dir, &["preflight", "--profile", "p.toml"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn a_wrong_or_disabled_key_a_foreign_artifacts_project_and_missing_tables_stop_the_run() {
    let svc = services("preflight").await;
    let mut config = svc.sim_config(KEY);
    const DISABLED: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    config.projects.push(sentry_load_sim::ProjectKey {
        project_id: 1,
        public_key: DISABLED.into(),
        active: false,
    });
    config.projects.push(sentry_load_sim::ProjectKey::active(
        2,
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    ));
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let addr = sim.addr();
    let dir = tempfile::tempdir().unwrap();
    // All well: every check passes.
    let js = format!("[artifacts]\nurl = \"http://{addr}/\"\ntoken = \"token\"\n");
    let good = profile(&svc, addr, KEY, &js).replace(
        "[traffic]\n",
        "[traffic]\nmix = { error = 1, javascript = 1 }\n",
    );
    let out = preflight(dir.path(), &good).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = shown(&out);
    for line in [
        "preflight ok   target",
        "is active for project 1",
        "its tables exist",
        "[artifacts] project `internal` is project 1, the DSN's",
        "chunk-upload URL",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    // Each fault: its line, the exit code, and nothing sent.
    let cases = [
        (
            profile(&svc, addr, "ffffffffffffffffffffffffffffffff", ""),
            2,
            "is not in sentry_projectkey",
        ),
        (
            profile(&svc, addr, DISABLED, ""),
            2,
            "is disabled for project 1",
        ),
        (
            good.replace(
                "token = \"token\"\n",
                "token = \"token\"\nproject = \"project-2\"\n",
            ),
            2,
            "is project 2, but the DSN sends to project 1",
        ),
        (
            profile(&svc, addr, KEY, "").replace(
                "[verify.postgres]",
                "errors_table = \"errors_nowhere\"\n[verify.postgres]",
            ),
            2,
            "has no ",
        ),
    ];
    for (text, code, line) in cases {
        let out = preflight(dir.path(), &text).await;
        assert_eq!(out.status.code(), Some(code), "{line}: {}", shown(&out));
        assert!(shown(&out).contains(line), "{line}: {}", shown(&out));
        let out = sentry_load(dir.path(), &["run", "--profile", "p.toml", "--quiet"]).await;
        assert_eq!(out.status.code(), Some(code), "{}", shown(&out));
        assert!(shown(&out).contains("nothing was sent"), "{}", shown(&out));
    }
    assert!(
        sim.truth().entries().is_empty(),
        "preflight sends no event: {:?}",
        sim.truth().entries().first()
    );
    sim.stop().await.unwrap();
    svc.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_upload_url_this_machine_cannot_reach_fails_preflight() {
    let mut config = sentry_load_sim::SimConfig::in_memory(1, KEY, "token");
    // A port nothing listens on (bound, then closed).
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    config.chunk_upload_url = Some(format!(
        "http://{dead}/api/0/organizations/sentry/chunk-upload/"
    ));
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let addr = sim.addr();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "seed = 1\n[target]\nkind = \"relay\"\ndsn = \"http://{KEY}@{addr}/1\"\n\
         [traffic]\nrate = 10\ncount = 10\nmix = {{ javascript = 1 }}\n\
         [verify.sentry_api]\nurl = \"http://{addr}/\"\ntoken = \"token\"\n\
         [artifacts]\nurl = \"http://{addr}/\"\ntoken = \"token\"\n"
    );
    let out = preflight(dir.path(), &text).await;
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    assert!(shown(&out).contains("system.url-prefix"), "{}", shown(&out));
    sim.stop().await.unwrap();
}

/// An errors-only install: with a Sentry web URL preflight sees it and takes transactions
/// out of the mix; without one, they are accepted and never stored — silent loss that the
/// report counts exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn an_errors_only_install_gets_no_transactions() {
    let svc = services("errors_only").await;
    let mut config = svc.sim_config(KEY);
    config.errors_only = true;
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let addr = sim.addr();
    let dir = tempfile::tempdir().unwrap();
    let mixed = profile(&svc, addr, KEY, "")
        .replace(
            "[traffic]\n",
            "[traffic]\nmix = { error = 1, transaction = 1 }\n",
        )
        .replace("deadline = \"10s\"", "deadline = \"2s\"");
    std::fs::write(dir.path().join("blind.toml"), &mixed).unwrap();
    let out = sentry_load(dir.path(), &["run", "--profile", "blind.toml", "--quiet"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let (run, report) = only_report(dir.path());
    let never = sim.truth().ids_with(Decision::NotConsumed).len() as u64;
    assert!(never > 0);
    assert_eq!(report["kinds"]["transaction"]["silent"], never);
    std::fs::remove_dir_all(run).unwrap();

    let seen = format!("{mixed}[verify.sentry_api]\nurl = \"http://{addr}/\"\ntoken = \"token\"\n");
    // The API source is named after ClickHouse: ClickHouse stays the read-back source.
    std::fs::write(dir.path().join("seen.toml"), seen).unwrap();
    let out = sentry_load(dir.path(), &["run", "--profile", "seen.toml"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert!(shown(&out).contains("errors-only"), "{}", shown(&out));
    let (_, report) = only_report(dir.path());
    assert!(
        report["kinds"]["transaction"].is_null(),
        "{:#}",
        report["kinds"]
    );
    assert_eq!(report["visibility"]["seen"], 50);
    assert!(
        report["run"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("errors-only")
    );
    sim.stop().await.unwrap();
    svc.cleanup().await;
}
