//! Stopping a run: the first SIGINT stops sending, lets the sends in flight finish, reads back
//! what was sent and writes the report marked interrupted (exit 130); a second exits at once,
//! without a report.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{shown, whole_records};

/// Sends `signal` (`INT`, `TERM`) to `pid`.
fn kill(signal: &str, pid: u32) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Starts `sentry-load run` in `dir` and waits (60 s at most) until its journal holds
/// `records` records; the child and its run folder.
async fn run_until(dir: &Path, args: &[&str], records: u64) -> (tokio::process::Child, PathBuf) {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sentry-load"))
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run = dir.join("runs/stopped");
    let journal = run.join("journal.bin");
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    while !journal.exists() || whole_records(&journal) < records {
        assert!(
            tokio::time::Instant::now() < give_up,
            "no {records} records in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_sending_and_still_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "seed = 6\n[target]\nkind = \"embedded\"\n[traffic]\nrate = 50\nduration = \"60s\"\n\
         [verify]\npoll_interval = \"100ms\"\ndeadline = \"5m\"\n[gates]\nmax_loss_ratio = 0.0\n",
    )
    .unwrap();
    let args = [
        "run",
        "--profile",
        "p.toml",
        "--quiet",
        "--run-id",
        "stopped",
    ];
    let (child, run) = run_until(dir.path(), &args, 50).await;
    kill("INT", child.id().unwrap());
    // Well before the schedule's 60 s or the 5 m deadline: sending stops, reading back is cut
    // to 30 s at most.
    let out = tokio::time::timeout(Duration::from_secs(45), child.wait_with_output())
        .await
        .expect("the run ends soon after the interrupt")
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", shown(&out));
    let text = std::fs::read_to_string(run.join("report.json")).expect("a report");
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let records = report["sending"]["records"].as_u64().unwrap();
    assert_eq!(records, whole_records(&run.join("journal.bin")));
    assert!((50..3000).contains(&records), "{records}");
    let why = report["run"]["interrupted"].as_str().unwrap();
    assert!(
        why.starts_with(&format!("by SIGINT after {records} of 3000 planned sends")),
        "{why}"
    );
    // What was sent was read back: the embedded sim keeps every event it accepts.
    let accepted = report["sending"]["outcomes"]["accepted"].as_u64().unwrap();
    assert_eq!(report["visibility"]["seen"].as_u64().unwrap(), accepted);
    let run_file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_file["interrupted"].as_str(), Some(why));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("INTERRUPTED by SIGINT"), "{printed}");
    assert!(printed.contains("report.html"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_without_a_report() {
    // A target that takes connections and never answers: after the first SIGINT the run
    // waits for its sends in flight (30 s timeout), and the second ends that wait.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        format!(
            "seed = 6\n[target]\nkind = \"relay\"\n\
             dsn = \"http://0123456789abcdef0123456789abcdef@{addr}/1\"\n\
             [traffic]\nrate = 20\nduration = \"60s\"\n[send]\ntimeout = \"30s\"\n\
             give_up_after = \"60s\"\n"
        ),
    )
    .unwrap();
    let args = [
        "run",
        "--profile",
        "p.toml",
        "--quiet",
        "--no-verify",
        "--run-id",
        "stopped",
    ];
    let (child, run) = run_until(dir.path(), &args, 0).await;
    // Some sends are in flight, and stay there.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().unwrap();
    kill("INT", pid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    kill("INT", pid);
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the second interrupt ends the run at once")
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("again: exiting now"), "{err}");
    assert!(!run.join("report.json").exists());
}
