//! Whole runs of the `sentry-load` binary against the sim, on real ClickHouse and Postgres
//! (and on the embedded default, with no services).

mod support;

use std::collections::BTreeSet;
use support::{only_report, sentry_load, services, shown};

const KEY: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn a_run_through_clickhouse_and_postgres_loses_nothing() {
    let svc = services("zero_loss").await;
    let sim = sentry_load_sim::start(svc.sim_config(KEY), ([127, 0, 0, 1], 0).into())
        .await
        .expect("sim starts");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        svc.relay_profile(sim.addr(), KEY, 200, 3),
    )
    .unwrap();

    let out = sentry_load(dir.path(), &["run", "--profile", "p.toml", "--quiet"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let (_, report) = only_report(dir.path());
    assert_eq!(report["schedule"]["planned"], 600);
    // A send the harness could not start in time (a busy machine) is its own, not a loss:
    // every planned one is accepted or dropped by the harness, and the sim's ground truth
    // says how many it accepted and stored.
    let outcomes = &report["sending"]["outcomes"];
    let accepted = outcomes["accepted"].as_u64().unwrap();
    let dropped = outcomes["harness_dropped"].as_u64().unwrap();
    assert_eq!(accepted + dropped, 600, "{outcomes}");
    let truth_accepted = sim
        .truth()
        .ids_with(sentry_load_sim::Decision::Accepted)
        .len() as u64;
    assert_eq!(accepted, truth_accepted, "ground truth agrees");
    assert_eq!(report["visibility"]["seen"], accepted);
    assert_eq!(report["visibility"]["missing"], 0);
    assert_eq!(report["loss"]["silent"], 0);
    assert!(report["visibility"]["latency_ms"]["p99"].as_u64().unwrap() > 0);
    // Stage split from ClickHouse's `received` and `message_timestamp`.
    assert_eq!(
        report["visibility"]["stages"].as_array().unwrap().len(),
        3,
        "{report}"
    );
    // Issues: the generator spreads errors over 10 fingerprints, all present in Postgres.
    assert_eq!(report["issues"]["expected"], 10, "{}", report["issues"]);
    assert_eq!(report["issues"]["found"], 10);

    let stored = sim
        .truth()
        .ids_with(sentry_load_sim::Decision::Stored)
        .len() as u64;
    assert_eq!(stored, accepted, "ground truth agrees");
    sim.stop().await.unwrap();
    svc.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn silently_dropped_events_are_named_exactly() {
    let svc = services("silent_drop").await;
    let dropped: BTreeSet<u64> = [0, 3, 17, 42, 299].into();
    let mut config = svc.sim_config(KEY);
    config.drop = sentry_load_sim::DropRule::Seqs(dropped.iter().copied().collect());
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let profile = svc
        .relay_profile(sim.addr(), KEY, 100, 3)
        .replace("deadline = \"10s\"", "deadline = \"2s\"");
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();

    let out = sentry_load(dir.path(), &["run", "--profile", "p.toml", "--quiet"]).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "the loss gate fails: {}",
        shown(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL max_loss_ratio"), "{stdout}");
    let (_, report) = only_report(dir.path());
    assert_eq!(report["sending"]["outcomes"]["accepted"], 300);
    assert_eq!(report["loss"]["silent"], 5);
    let missing: BTreeSet<u64> = report["loss"]["missing_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(missing, dropped);
    // The ids match the sim's ground truth, event for event.
    let truth: BTreeSet<String> = sim
        .truth()
        .ids_with(sentry_load_sim::Decision::DroppedSilently)
        .iter()
        .map(|id| id.simple().to_string())
        .collect();
    let reported: BTreeSet<String> = report["loss"]["missing_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reported, truth);
    sim.stop().await.unwrap();
    svc.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn verify_recounts_a_run_from_its_journal() {
    const DSN_SECRET: &str = "dsn-secret-kept-out";
    let svc = services("reverify").await;
    let mut config = svc.sim_config(KEY);
    config.drop = sentry_load_sim::DropRule::EveryNth(10);
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The DSN carries a secret key written literally: the run folder keeps none of it, and
    // verify, which reads no DSN, still reads the run back from the folder's copy.
    let profile = svc
        .relay_profile(sim.addr(), KEY, 100, 2)
        .replace("deadline = \"10s\"", "deadline = \"2s\"")
        .replace(
            &format!("http://{KEY}@"),
            &format!("http://{KEY}:{DSN_SECRET}@"),
        );
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();
    let out = sentry_load(dir.path(), &["run", "--profile", "p.toml", "--quiet"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let (run_dir, live) = only_report(dir.path());
    let kept = std::fs::read_to_string(run_dir.join("profile.toml")).unwrap();
    assert!(
        kept.contains("${SENTRY_LOAD_REDACTED_TARGET_DSN_PASSWORD}"),
        "{kept}"
    );
    for entry in std::fs::read_dir(&run_dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(DSN_SECRET));
    }
    assert!(!shown(&out).contains(DSN_SECRET));

    let out = sentry_load(dir.path(), &["verify", run_dir.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let text = std::fs::read_to_string(run_dir.join("report.verify.json")).unwrap();
    let again: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(again["visibility"]["live"], false);
    assert_eq!(again["visibility"]["tracked"], 200);
    assert_eq!(again["loss"]["silent"], 20);
    assert_eq!(
        again["loss"]["missing_events"],
        live["loss"]["missing_events"]
    );

    // One flipped byte in record 5 costs that record only, and the record it cost counts
    // against the loss gate as a planned send with no journal record.
    let journal = run_dir.join("journal.bin");
    let mut bytes = std::fs::read(&journal).unwrap();
    let records_at = bytes.len() - 200 * sentry_load_common::journal::RECORD_LEN;
    bytes[records_at + 5 * sentry_load_common::journal::RECORD_LEN + 20] ^= 0x01;
    std::fs::write(&journal, &bytes).unwrap();
    let out = sentry_load(dir.path(), &["verify", run_dir.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let text = std::fs::read_to_string(run_dir.join("report.verify.json")).unwrap();
    let damaged: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(damaged["sending"]["records"], 199);
    assert_eq!(
        damaged["sending"]["journal_damaged_bytes"],
        sentry_load_common::journal::RECORD_LEN
    );
    assert_eq!(damaged["loss"]["unjournaled"], 1);
    assert_eq!(damaged["visibility"]["tracked"], 199);
    sim.stop().await.unwrap();
    svc.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_default_runs_with_no_services() {
    let dir = tempfile::tempdir().unwrap();
    let out = sentry_load(
        dir.path(),
        &[
            "run",
            "--profile",
            "local",
            "--duration",
            "2s",
            "--rate",
            "100",
            "--quiet",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let (run_dir, report) = only_report(dir.path());
    assert_eq!(report["visibility"]["seen"], 200);
    assert_eq!(report["passed"], true);
    // The Markdown report beside it says the same.
    let md = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(
        md.contains("— passed") && md.contains("| 200 | 200 | 0 |"),
        "{md}"
    );
    // The run folder holds what `verify` would need, and no secret.
    let run_json = std::fs::read_to_string(run_dir.join("run.json")).unwrap();
    assert!(run_json.contains("\"embedded\": true"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("token"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn every_kind_reaches_its_snuba_table() {
    let svc = services("every_kind").await;
    let mut config = svc.sim_config(KEY);
    // The organization keeps every crash report; the project does not say.
    config.crash_reports.organization = Some(-1);
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("sim starts");
    let dir = tempfile::tempdir().unwrap();
    let profile = svc
        .relay_profile(sim.addr(), KEY, 100, 3)
        .replace(
            "[traffic]\n",
            "[traffic]\nmix = { error = 1, transaction = 1, native = 1, javascript = 1 }\n",
        )
        .replace(
            "[send]\n",
            &format!(
                "[traffic.native]\nattachment_size = {{ p50 = \"40 KiB\", p99 = \"200 KiB\" }}\n\
                 [artifacts]\nurl = \"http://{}/\"\ntoken = \"token\"\n[send]\n",
                sim.addr()
            ),
        );
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();
    let out = sentry_load(dir.path(), &["run", "--profile", "p.toml", "--quiet"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let (_, report) = only_report(dir.path());
    assert_eq!(
        report["visibility"]["seen"],
        300,
        "{}",
        serde_json::to_string_pretty(&report["loss"]).unwrap()
    );
    assert_eq!(report["visibility"]["missing"], 0);
    // The bundles went up first, one per JavaScript release, each bound to it.
    let bundles = sim.artifact_bundles();
    assert_eq!(bundles.len(), 3);
    for (i, b) in bundles.iter().enumerate() {
        assert_eq!(b.releases, [format!("storefront@3.8.{i}")]);
    }

    let count = |sql: &'static str| svc.clickhouse_count(sql);
    let transactions = count("SELECT count() FROM transactions_local").await;
    let errors =
        count("SELECT count() FROM errors_local WHERE platform NOT IN ('native', 'javascript')")
            .await;
    let native = count("SELECT count() FROM errors_local WHERE platform = 'native'").await;
    let javascript = count("SELECT count() FROM errors_local WHERE platform = 'javascript'").await;
    assert_eq!(transactions + errors + native + javascript, 300);
    // Every native crash's minidump is in Postgres as an attachment, as the organization's
    // setting says.
    let crashes = &report["issues"];
    assert_eq!(crashes["crashes"], native, "{crashes}");
    assert_eq!(crashes["crashes_with_attachment"], native, "{crashes}");
    let policy = &crashes["crash_reports"][0];
    assert_eq!(policy["setting"], -1, "{policy}");
    assert_eq!(policy["from"], "organization", "{policy}");
    assert_eq!(policy["as_set"], true, "{policy}");
    // The DSN can be discovered from `sentry_projectkey`: the public key only.
    let out = sentry_load(
        dir.path(),
        &[
            "dsn",
            "--profile",
            "p.toml",
            "--host",
            "sentry.example.com:9000",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("http://{KEY}@sentry.example.com:9000/1")),
        "{text}"
    );
    for (kind, n) in [
        ("transaction", transactions),
        ("error", errors),
        ("native", native),
        ("javascript", javascript),
    ] {
        assert!(
            (45..=105).contains(&n),
            "{n} {kind} rows of 300 evenly mixed"
        );
    }
    // Snuba stores no stage times for transactions: the report says so instead of a stage.
    let why = report["visibility"]["stages_unavailable"]["transaction"]
        .as_str()
        .unwrap_or_default();
    assert!(
        why.contains("message_timestamp"),
        "{:#}",
        report["visibility"]
    );
    assert!(
        report["visibility"]["stages_unavailable"]["error"].is_null(),
        "{:#}",
        report["visibility"]
    );
    assert_eq!(
        count("SELECT count() FROM transactions_local WHERE message_timestamp > 0").await,
        0,
        "the transactions processor sets no message_timestamp"
    );
    // Transactions keep their span tree's times: finish after start, duration in ms.
    let bad =
        count("SELECT count() FROM transactions_local WHERE finish_ts < start_ts OR duration = 0")
            .await;
    assert_eq!(bad, 0);
    sim.stop().await.unwrap();
    svc.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn outcomes_and_attachments_are_written_where_sentry_writes_them() {
    let svc = services("outcomes").await;
    let mut config = svc.sim_config(KEY);
    config.crash_reports.project = Some(-1);
    config.faults = sentry_load_sim::script::FaultScript::parse(
        "faults.toml",
        "[quota]\nper_second = 40\n[[fault]]\nkind = \"reject\"\nfraction = 0.05\n",
    )
    .unwrap();
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let profile = svc.relay_profile(sim.addr(), KEY, 80, 3).replace(
        "[traffic]\n",
        "[traffic]\nmix = { error = 1, native = 1 }\n",
    );
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();
    let out = sentry_load(dir.path(), &["run", "--profile", "p.toml", "--quiet"]).await;
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", shown(&out));
    let (_, report) = only_report(dir.path());
    let truth = sim.truth().clone();
    sim.stop().await.unwrap();
    let limited = truth.ids_with(sentry_load_sim::Decision::RateLimited).len() as u64;
    let late = truth
        .ids_with(sentry_load_sim::Decision::RateLimitedLate)
        .len() as u64;
    let stored = truth.ids_with(sentry_load_sim::Decision::Stored).len() as u64;
    assert!(limited > 50, "{limited}");
    assert!(
        late > 0,
        "the quota is enforced after the 200 until the limit is cached"
    );
    assert_eq!(report["loss"]["refused"]["rate_limited"], limited);
    // Accepted, then dropped over the quota: explained by their own outcome, not silent.
    assert_eq!(report["loss"]["explained"]["rate_limited:key_quota"], late);
    assert_eq!(report["loss"]["silent"], 0, "{:#}", report["loss"]);

    let count = |sql: &'static str| svc.clickhouse_count(sql);
    assert_eq!(
        count(
            "SELECT count() FROM outcomes_raw_local \
             WHERE outcome = 2 AND reason = 'key_quota' AND category = 1"
        )
        .await,
        limited + late
    );
    assert_eq!(
        count("SELECT count() FROM outcomes_raw_local WHERE outcome = 0").await,
        stored
    );
    let rejected = truth.ids_with(sentry_load_sim::Decision::Rejected).len() as u64;
    assert!(rejected > 0);
    assert_eq!(
        count("SELECT count() FROM outcomes_raw_local WHERE outcome = 3 AND reason = 'project_id'")
            .await,
        rejected
    );

    // Each stored native crash has its minidump row in Postgres.
    let native = count("SELECT count() FROM errors_local WHERE platform = 'native'").await;
    assert!(native > 10, "{native}");
    let (pg, conn) = tokio_postgres::connect(&svc.postgres_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let row = pg
        .query_one(
            "SELECT count(*), min(size) FROM sentry_eventattachment WHERE type = 'event.minidump'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0) as u64, native);
    assert!(row.get::<_, i32>(1) > 1000);
    svc.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn a_target_clock_that_is_off_is_named_in_the_report() {
    let svc = services("clock_skew").await;
    let sim = svc
        .start_sim_with_faults(KEY, "[[fault]]\nkind = \"clock_skew\"\nby = \"-5s\"\n")
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        svc.relay_profile(sim.addr(), KEY, 50, 2),
    )
    .unwrap();
    let out = sentry_load(dir.path(), &["run", "--profile", "p.toml"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let (_, report) = only_report(dir.path());
    // Whole seconds on both sides: -5 s, give or take one.
    let offset = report["visibility"]["clock_offset_secs"].as_i64().unwrap();
    assert!((-6..=-4).contains(&offset), "{offset}");
    assert!(shown(&out).contains("clock looks"), "{}", shown(&out));
    assert_eq!(
        report["visibility"]["missing"], 0,
        "the read-back window absorbs the skew"
    );
    sim.stop().await.unwrap();
    svc.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn losses_with_an_outcome_are_explained_and_the_rest_stay_silent() {
    let svc = services("explained").await;
    let sim = svc
        .start_sim_with_faults(
            KEY,
            "[[fault]]\nkind = \"discard\"\nfraction = 0.05\noutcome = \"filtered\"\nreason = \"release-version\"\n\
         [[fault]]\nkind = \"discard\"\nfraction = 0.03\noutcome = \"invalid\"\nreason = \"invalid_transaction\"\n\
         [[fault]]\nkind = \"drop\"\nfraction = 0.03\n",
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        svc.relay_profile(sim.addr(), KEY, 200, 3),
    )
    .unwrap();
    let out = sentry_load(dir.path(), &["run", "--profile", "p.toml"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let (_, report) = only_report(dir.path());
    let truth = sim.truth().clone();
    sim.stop().await.unwrap();
    let hex = |d| -> BTreeSet<String> {
        truth
            .ids_with(d)
            .iter()
            .map(|id| id.simple().to_string())
            .collect()
    };
    let (silent, discarded) = (
        hex(sentry_load_sim::Decision::DroppedSilently),
        hex(sentry_load_sim::Decision::Discarded),
    );
    assert!(!silent.is_empty() && discarded.len() > 10);
    assert_eq!(report["loss"]["silent"], silent.len(), "{}", report["loss"]);
    let explained = &report["loss"]["explained"];
    let total = explained["filtered:release-version"].as_u64().unwrap()
        + explained["invalid:invalid_transaction"].as_u64().unwrap();
    assert_eq!(total as usize, discarded.len(), "{explained}");
    let listed = report["loss"]["missing_events"].as_array().unwrap();
    let with_outcome: BTreeSet<String> = listed
        .iter()
        .filter(|m| m["outcome"].is_string())
        .map(|m| m["event_id"].as_str().unwrap().to_owned())
        .collect();
    let without: BTreeSet<String> = listed
        .iter()
        .filter(|m| m["outcome"].is_null())
        .map(|m| m["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(with_outcome, discarded);
    assert_eq!(without, silent);
    assert!(
        shown(&out).contains("filtered:release-version"),
        "{}",
        shown(&out)
    );
    svc.cleanup().await;
}
