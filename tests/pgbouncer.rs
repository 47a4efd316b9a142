//! Every Postgres query of the harness through a real pgbouncer in transaction pooling mode
//! (Debian's package, started by `scripts/services.sh`), as self-hosted reaches Postgres.

mod support;

use support::{only_report, sentry_load, services, shown};

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// The setup is what it claims: through this pgbouncer, a statement prepared under a name in
/// one round trip is gone in the next (what `tokio_postgres::Client::query` relies on), while
/// the same query in one round trip works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn named_prepared_statements_do_not_survive_the_pool() {
    let svc = services("pgb_premise").await;
    let url = svc.pgbouncer("pgb_premise");
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("pgbouncer answers");
    tokio::spawn(conn);
    let named = client.query("SELECT $1::bigint + 1", &[&41i64]).await;
    assert!(
        named.is_err(),
        "a named statement outlived its transaction: pgbouncer is not in transaction mode"
    );
    let unnamed = client
        .query_typed(
            "SELECT $1::bigint + 1",
            &[(&41i64, tokio_postgres::types::Type::INT8)],
        )
        .await
        .expect("the unnamed statement works");
    assert_eq!(unnamed[0].get::<_, i64>(0), 42);
    svc.cleanup().await;
}

/// A run whose `[verify.postgres]` goes through pgbouncer: the issue check and the crash
/// check answer as they do on Postgres directly, and `dsn` finds the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn the_postgres_checks_and_dsn_work_through_pgbouncer() {
    let svc = services("pgb_checks").await;
    let pgbouncer = svc.pgbouncer("pgb_checks").to_owned();
    let sim = sentry_load_sim::start(svc.sim_config(KEY), ([127, 0, 0, 1], 0).into())
        .await
        .expect("sim starts");
    let dir = tempfile::tempdir().unwrap();
    let profile = svc
        .relay_profile(sim.addr(), KEY, 60, 2)
        .replace(&svc.postgres_url, &pgbouncer)
        .replace(
            "[traffic]\n",
            "[traffic]\nmix = { error = 3, native = 1 }\n",
        )
        .replace(
            "[send]\n",
            "[traffic.native]\nattachment_size = { p50 = \"20 KiB\", p99 = \"60 KiB\" }\n[send]\n",
        );
    assert!(profile.contains(":6432/"), "{profile}");
    std::fs::write(dir.path().join("p.toml"), &profile).unwrap();
    let out = sentry_load(dir.path(), &["run", "--profile", "p.toml", "--quiet"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let (_, report) = only_report(dir.path());
    let issues = &report["issues"];
    assert!(issues["error"].is_null(), "{issues}");
    assert!(issues["expected"].as_u64().unwrap() > 0, "{issues}");
    assert_eq!(issues["found"], issues["expected"], "{issues}");
    assert!(issues["crashes"].as_u64().unwrap() > 0, "{issues}");

    let out = sentry_load(
        dir.path(),
        &["dsn", "--profile", "p.toml", "--host", "127.0.0.1:9000"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("http://{KEY}@127.0.0.1:9000/1")),
        "{text}"
    );
    sim.stop().await.unwrap();
    svc.cleanup().await;
}
