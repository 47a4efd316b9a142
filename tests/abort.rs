//! `[gates.abort]` end to end, against the sim in this process: a run whose target starts
//! failing, or starts losing accepted events, is stopped while it sends; the report names the
//! gate, its figure and when, the gate is the first failed one, and the run exits 1.

mod support;

use sentry_load_sim::SimConfig;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::{only_report, sentry_load, shown};

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// Runs 100/s for 30 s against a sim with `faults`, with `abort` as `[gates.abort]`; the
/// exit code, the report, the run file, the folder the run was made in and the run's folder.
async fn run(
    faults: &str,
    abort: &str,
) -> (
    Option<i32>,
    serde_json::Value,
    serde_json::Value,
    tempfile::TempDir,
    PathBuf,
) {
    let mut config = SimConfig::in_memory(1, KEY, "token");
    config.batch_interval = Duration::from_millis(50);
    config.faults = sentry_load_sim::script::FaultScript::parse("f.toml", faults).unwrap();
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let addr = sim.addr();
    let profile = format!(
        "seed = 5\n[target]\nkind = \"relay\"\ndsn = \"http://{KEY}@{addr}/1\"\n\
         [traffic]\nrate = 100\nduration = \"30s\"\nmix = {{ error = 1.0 }}\n\
         [send]\nmax_in_flight = 64\non_rate_limit = \"keep_sending\"\n\
         [verify]\npoll_interval = \"100ms\"\ndeadline = \"5s\"\nfidelity_sample = 0\n\
         [verify.sentry_api]\nurl = \"http://{addr}/\"\ntoken = \"token\"\n\
         [gates]\nmax_loss_ratio = 1.0\n[gates.abort]\n{abort}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();
    let began = Instant::now();
    let out = sentry_load(dir.path(), &["run", "--profile", "p.toml", "--quiet"]).await;
    let took = began.elapsed();
    sim.stop().await.unwrap();
    // Well short of the 30 s schedule (and its 5 s straggler wait).
    assert!(took < Duration::from_secs(25), "{took:?}: {}", shown(&out));
    let (folder, report) = only_report(dir.path());
    let run_file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("run.json")).unwrap()).unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        printed.contains("ABORTED by the abort gate"),
        "{}",
        shown(&out)
    );
    (out.status.code(), report, run_file, dir, folder)
}

fn first_gate(report: &serde_json::Value) -> (&str, &str, &str, bool) {
    let g = &report["gates"][0];
    (
        g["gate"].as_str().unwrap(),
        g["threshold"].as_str().unwrap(),
        g["measured"].as_str().unwrap(),
        g["passed"].as_bool().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_starts_answering_503_is_left_alone() {
    let faults =
        "[[fault]]\nkind = \"unavailable\"\nfrom = \"3s\"\nuntil = \"60s\"\nfraction = 1.0\n";
    let abort = "window = \"2s\"\nafter = \"1s\"\nmin_sends = 50\nmax_failed_ratio = 0.2\n";
    let (code, report, run_file, dir, folder) = run(faults, abort).await;
    assert_eq!(code, Some(1), "an abort gate is a failed gate");
    assert_eq!(report["run"]["aborted_by"], "abort.max_failed_ratio");
    let (gate, threshold, measured, passed) = first_gate(&report);
    assert_eq!(
        (gate, threshold, passed),
        ("abort.max_failed_ratio", "20.0 %", false)
    );
    assert!(
        measured.contains("sends answered in the 2 s before"),
        "{measured}"
    );
    assert!(
        measured.ends_with("failed, with a 5xx or no answer); the run was stopped there"),
        "{measured}"
    );
    let why = report["run"]["interrupted"].as_str().unwrap();
    assert!(
        why.starts_with(&format!(
            "by the abort gate abort.max_failed_ratio ({} over its 20.0 % limit: ",
            measured.split(" (").next().unwrap()
        )),
        "{why}"
    );
    // Stopped within a few seconds of the fault: at most some 8 s of the 30 s were sent.
    let records = report["sending"]["records"].as_u64().unwrap();
    assert!((300..=800).contains(&records), "{records}: {why}");
    assert!(
        why.contains(&format!("after {records} of 3000 planned sends")),
        "{why}"
    );
    assert_eq!(run_file["aborted"]["gate"], "abort.max_failed_ratio");
    assert_eq!(report["passed"], false);
    // Re-checked later, against gates the partial run meets, it still fails on the abort.
    let lenient = dir.path().join("lenient.toml");
    std::fs::write(
        &lenient,
        "seed = 1\n[target]\nkind = \"embedded\"\n[traffic]\nrate = 1\ncount = 1\n",
    )
    .unwrap();
    let out = sentry_load(
        &folder,
        &["gate", ".", "--profile", lenient.to_str().unwrap()],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL abort.max_failed_ratio: "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_events_that_never_appear_stop_the_run() {
    let faults = "[[fault]]\nkind = \"drop\"\nfraction = 0.5\n";
    let abort = "window = \"2s\"\nafter = \"1s\"\nmin_sends = 50\nmax_unseen_ratio = 0.1\n\
                 unseen_after = \"2s\"\nmax_failed_ratio = 0.2\n";
    let (code, report, ..) = run(faults, abort).await;
    assert_eq!(code, Some(1));
    let (gate, _, measured, passed) = first_gate(&report);
    assert_eq!((gate, passed), ("abort.max_unseen_ratio", false));
    assert!(
        measured.contains("still not visible 2 s later"),
        "{measured}"
    );
    // Half are dropped: the unseen share is near 50 %, not near the limit.
    let shown: f64 = measured.split(' ').next().unwrap().parse().unwrap();
    assert!((35.0..=65.0).contains(&shown), "{measured}");
}
