//! Native crashes against a sim that keeps minidumps as Sentry does (`sentry:store_crash_reports`),
//! on real ClickHouse and Postgres: the report names the setting instead of calling missing
//! minidumps a loss, and a crash's attachment outcome never explains the crash itself.

mod support;

use support::{ids, only_report, sentry_load, services, shown};

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// A native-only run of `secs` at `rate` against `config`; the report and the truth.
async fn native_run(
    svc: &support::Services,
    config: sentry_load_sim::SimConfig,
    rate: u32,
    secs: u32,
) -> (serde_json::Value, Vec<sentry_load_sim::TruthEntry>) {
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("sim starts");
    let dir = tempfile::tempdir().unwrap();
    let profile = svc
        .relay_profile(sim.addr(), KEY, rate, secs)
        .replace("deadline = \"10s\"", "deadline = \"3s\"")
        .replace(
            "[traffic]\n",
            "[traffic]\nmix = { native = 1 }\nissues = 4\n",
        )
        .replace(
            "[send]\n",
            "[traffic.native]\nattachment_size = { p50 = \"8 KiB\", p99 = \"20 KiB\" }\n[send]\n",
        );
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();
    let out = sentry_load(dir.path(), &["run", "--profile", "p.toml", "--quiet"]).await;
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", shown(&out));
    let (_, report) = only_report(dir.path());
    let truth = sim.truth().entries();
    sim.stop().await.unwrap();
    (report, truth)
}

/// With Sentry's default (crash reports off), every minidump gets `filtered:crash-report-limit`
/// with the crash's event id. Crashes lost after that are still silent loss: the attachment's
/// outcome is reported apart and explains nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn attachment_outcomes_do_not_explain_lost_crashes() {
    let svc = services("crash_outcomes").await;
    let mut config = svc.sim_config(KEY);
    config.faults = sentry_load_sim::script::FaultScript::parse(
        "faults.toml",
        "[[fault]]\nkind = \"drop\"\nfraction = 0.2\n",
    )
    .unwrap();
    let (report, truth) = native_run(&svc, config, 40, 2).await;
    let dropped = ids(&truth, sentry_load_sim::Decision::DroppedSilently);
    let filtered = ids(&truth, sentry_load_sim::Decision::CrashReportFiltered);
    assert!(!dropped.is_empty());
    assert!(
        dropped.is_subset(&filtered),
        "dropped crashes had their minidump filtered first"
    );
    let loss = &report["loss"];
    assert_eq!(loss["silent"], dropped.len(), "{loss:#}");
    assert_eq!(loss["explained"], serde_json::json!({}), "{loss:#}");
    assert_eq!(
        loss["attachment_outcomes"]["filtered:crash-report-limit"],
        filtered.len(),
        "{loss:#}"
    );
    let policy = &report["issues"]["crash_reports"][0];
    assert_eq!(policy["setting"], 0, "{policy}");
    assert_eq!(policy["from"], "default", "{policy}");
    assert_eq!(policy["stored"], 0, "{policy}");
    assert_eq!(policy["as_set"], true, "{policy}");
    assert!(
        policy["verdict"]
            .as_str()
            .unwrap()
            .starts_with("not kept by setting"),
        "{policy}"
    );
    svc.cleanup().await;
}

/// A cap per issue: the sim keeps the first two minidumps of each issue, and the report says
/// how many this run could keep and that the stored ones agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn a_crash_report_cap_is_read_and_checked() {
    let svc = services("crash_cap").await;
    let mut config = svc.sim_config(KEY);
    config.crash_reports.project = Some(2);
    config.crash_reports.organization = Some(-1);
    let (report, truth) = native_run(&svc, config, 30, 2).await;
    let stored = ids(&truth, sentry_load_sim::Decision::CrashReportStored);
    let filtered = ids(&truth, sentry_load_sim::Decision::CrashReportFiltered);
    let policy = &report["issues"]["crash_reports"][0];
    assert_eq!(policy["setting"], 2, "the project's option wins: {policy}");
    assert_eq!(policy["from"], "project", "{policy}");
    assert_eq!(policy["stored"], stored.len(), "{policy}");
    assert_eq!(policy["crashes"], stored.len() + filtered.len(), "{policy}");
    assert_eq!(stored.len(), 8, "two per issue, four issues");
    assert_eq!(policy["keepable"], 8, "{policy}");
    assert_eq!(policy["as_set"], true, "{policy}");
    assert_eq!(
        report["loss"]["attachment_outcomes"]["filtered:crash-report-limit"],
        filtered.len()
    );
    assert_eq!(report["loss"]["silent"], 0);
    svc.cleanup().await;
}
