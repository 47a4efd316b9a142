//! A run killed mid-send (SIGKILL): its journal keeps every whole record, and `verify`
//! accounts for each of them.

mod support;

use std::time::Duration;
use support::{sentry_load, services, shown, whole_records};

const KEY: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn a_killed_run_is_verified_from_its_journal() {
    let svc = services("crash").await;
    let sim = sentry_load_sim::start(svc.sim_config(KEY), ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let profile = svc
        .relay_profile(sim.addr(), KEY, 200, 60)
        .replace("deadline = \"10s\"", "deadline = \"5s\"");
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();

    let stderr = dir.path().join("stderr.txt");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sentry-load"))
        .args(["run", "--profile", "p.toml", "--quiet"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    // Kill it once a few hundred records are on disk: 400 at 200/s take 2 s; the run would
    // send for 60 s, so a run that ends (or never writes them) within that has failed.
    let runs = dir.path().join("runs");
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    let journal = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the run ended before it was killed ({status}): {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "no 400 journal records within 60 s"
        );
        let found = std::fs::read_dir(&runs)
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.unwrap().path().join("journal.bin"));
        if let Some(j) = found.filter(|j| j.exists() && whole_records(j) >= 400) {
            break j;
        }
    };
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "the run died of SIGKILL: {status}"
        );
    }
    let run_dir = journal.parent().unwrap().to_path_buf();
    let on_disk = whole_records(&journal);
    assert!(!run_dir.join("report.json").exists(), "the run really died");

    let out = sentry_load(dir.path(), &["verify", run_dir.to_str().unwrap()]).await;
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", shown(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    let sending = &report["sending"];
    assert_eq!(
        sending["records"].as_u64().unwrap(),
        on_disk,
        "every whole record is read"
    );
    let accepted = sending["outcomes"]["accepted"].as_u64().unwrap();
    let vis = &report["visibility"];
    assert_eq!(vis["tracked"].as_u64().unwrap(), accepted);
    let (seen, missing, unverified) = (
        vis["seen"].as_u64().unwrap(),
        vis["missing"].as_u64().unwrap(),
        vis["unverified"].as_u64().unwrap(),
    );
    assert_eq!(
        seen + missing + unverified,
        accepted,
        "each accepted record accounted for"
    );
    assert_eq!(missing, 0, "the sim stored everything it accepted");

    // At most a flush interval (200 ms at 200/s) plus what was in flight is missing from the
    // journal: the sim accepted those, the journal never heard the answer.
    let sim_accepted = sim
        .truth()
        .ids_with(sentry_load_sim::Decision::Accepted)
        .len() as u64;
    assert!(sim_accepted >= accepted);
    assert!(
        sim_accepted - accepted <= 40 + 64,
        "{sim_accepted} accepted by the sim, {accepted} journaled"
    );
    sim.stop().await.unwrap();
    svc.cleanup().await;
}
