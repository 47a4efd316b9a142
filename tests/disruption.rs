//! `[[disruption]]` for real: a sim (`sentry-load sim`, storing in ClickHouse and Postgres)
//! holds what it accepted in its batch writer for 2 s; a disruption kills it mid-run and starts
//! it again on the same port — a standalone process killed with SIGKILL, and a container
//! (`FROM scratch`: the project's static binary and Debian's busybox-static) restarted
//! through the Docker Engine. What it had accepted and not yet written is really gone, and the
//! report must say exactly that: its missing events are the ones the sim's ground truth (every
//! life's truth file) accepted and never stored, and the disruption's spans hold all of them.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use support::{docker, free_port, services, shown, tool};

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// The two tests run one after the other: each kills and restarts a sim on a port it chose
/// free, and the other must not take that port in between.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The ids of the events with `decision` in a truth file (JSON lines).
fn truth_ids(path: &std::path::Path, decision: &str) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["decision"] == decision)
        .map(|v| v["event_id"].as_str().unwrap().replace('-', ""))
        .collect()
}

/// The sim's arguments (without `--truth`), storing in `svc`'s databases on `port`.
fn sim_args(svc: &support::Services, port: u16) -> String {
    format!(
        "sim --listen 127.0.0.1:{port} --key {KEY} --clickhouse {ch} --clickhouse-database {db} \
         --postgres {pg} --batch-interval 2s",
        ch = svc.clickhouse_url,
        db = svc.clickhouse_database,
        pg = svc.postgres_url,
    )
}

/// A shell loop that waits until the sim on `port` answers HTTP (at most 10 s): it listens
/// before its store is ready, and answers only once it is.
fn wait_for(port: u16) -> String {
    format!(
        "for i in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/{port} \
         && printf 'GET /api/0/relays/live/ HTTP/1.0\\r\\n\\r\\n' >&3 \
         && read -t 2 -r line <&3 && [[ $line == HTTP/* ]]) 2>/dev/null && break; \
         sleep 0.05; done\n"
    )
}

/// Runs 8 s of errors at 200/s against the sim on `port`, with a disruption running
/// `restart` (a shell script's text) at 4 s; checks the report against every `truth-*.jsonl`
/// in `dir`.
async fn run_and_check(svc: &support::Services, dir: &Path, port: u16, restart: &str) {
    std::fs::write(dir.join("restart.sh"), restart).unwrap();
    let profile = format!(
        "seed = 9\n[target]\nkind = \"relay\"\ndsn = \"http://{KEY}@127.0.0.1:{port}/1\"\n\
         [traffic]\nrate = 200\nduration = \"8s\"\nmix = {{ error = 1 }}\n\
         [send]\nmax_in_flight = 64\ntimeout = \"5s\"\n\
         [verify]\npoll_interval = \"200ms\"\ndeadline = \"10s\"\nfidelity_sample = 0\n\
         [verify.clickhouse]\nurl = \"{ch}\"\ndatabase = \"{db}\"\n\
         [[disruption]]\nname = \"kill and restart the sim\"\nat = \"4s\"\n\
         command = \"bash {dir}/restart.sh\"\nwindow = \"3s\"\n",
        ch = svc.clickhouse_url,
        db = svc.clickhouse_database,
        dir = dir.display(),
    );
    std::fs::write(dir.join("p.toml"), profile).unwrap();
    let out = support::sentry_load(dir, &["run", "--profile", "p.toml", "--quiet"]).await;
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", shown(&out));
    let (run_dir, report) = support::only_report(dir);

    // The ground truth: accepted by some life, stored by none.
    let (mut accepted, mut stored) = (BTreeSet::new(), BTreeSet::new());
    let mut lives = 0;
    for f in std::fs::read_dir(dir).unwrap() {
        let path = f.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("truth-") {
            lives += 1;
            accepted.extend(truth_ids(&path, "accepted"));
            stored.extend(truth_ids(&path, "stored"));
        }
    }
    let logs: Vec<String> = (1..=2)
        .map(|n| std::fs::read_to_string(dir.join(format!("sim-{n}.log"))).unwrap_or_default())
        .collect();
    assert_eq!(
        lives, 2,
        "two lives of the sim, each with its truth file; their logs: {logs:?}"
    );
    let lost: BTreeSet<String> = accepted.difference(&stored).cloned().collect();
    assert!(!lost.is_empty(), "the kill lost nothing: {}", shown(&out));
    // Of those, the ones whose 200 reached the harness (the kill may cut an answer).
    let mut answered = BTreeSet::new();
    let mut journal =
        sentry_load_common::journal::JournalReader::open(&run_dir.join("journal.bin")).unwrap();
    while let Some(r) = journal.next_record().unwrap() {
        if r.outcome == sentry_load_common::SendOutcome::Accepted {
            answered.insert(r.event_id.simple().to_string());
        }
    }
    let lost_answered: BTreeSet<String> = lost.intersection(&answered).cloned().collect();
    let missing: BTreeSet<String> = report["loss"]["missing_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        missing, lost_answered,
        "the report's missing events are the truth's"
    );
    assert_eq!(report["loss"]["silent"], lost_answered.len());

    // The disruption ran, and its spans hold every loss.
    let dis = &report["disruptions"][0];
    assert_eq!(dis["name"], "kill and restart the sim");
    assert_eq!(dis["ended"], "exit 0", "{dis:#}");
    let start = dis["start_secs"].as_f64().unwrap();
    assert!((4.0..5.0).contains(&start), "{dis:#}");
    let lost_in = |span: &str| {
        dis[span]["accepted"].as_u64().unwrap() - dis[span]["visible"].as_u64().unwrap()
    };
    assert!(lost_in("before") > 0, "{dis:#}");
    assert_eq!(
        lost_in("before") + lost_in("during") + lost_in("after"),
        lost_answered.len() as u64,
        "{dis:#}"
    );
    eprintln!(
        "lost {} of {} accepted (truth: {} accepted, never stored); spans: {}",
        lost_answered.len(),
        answered.len(),
        lost.len(),
        ["before", "during", "after"]
            .map(|s| format!("{s} {}/{}", lost_in(s), dis[s]["accepted"]))
            .join(", ")
    );
    // The run file keeps it for `verify`, and the page marks it.
    let run_file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        run_file["disruptions"][0]["name"],
        "kill and restart the sim"
    );
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert!(html.contains("Disruptions") && html.contains("kill and restart the sim"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services: scripts/test.sh starts them and runs it"]
async fn a_sigkill_of_the_sim_process_loses_exactly_what_it_had_not_stored() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let svc = services("disruption").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let bin = env!("CARGO_BIN_EXE_sentry-load");
    // Starts life `n` in the background, records its pid, waits until it listens.
    let start = |n: u32| {
        format!(
            "SENTRY_LOAD_SIM_TOKEN=token {bin} {args} --truth {dir}/truth-{n}.jsonl \
             >{dir}/sim-{n}.log 2>&1 &\necho $! > {dir}/sim.pid\n{wait}",
            args = sim_args(&svc, port),
            dir = d.display(),
            wait = wait_for(port),
        )
    };
    let up = std::process::Command::new("bash")
        .args(["-c", &start(1)])
        .status()
        .unwrap();
    assert!(up.success());
    let restart = format!("kill -9 $(cat {}/sim.pid)\n{}", d.display(), start(2));
    run_and_check(&svc, d, port, &restart).await;
    let pid = std::fs::read_to_string(d.join("sim.pid")).unwrap();
    let _ = std::process::Command::new("kill").arg(pid.trim()).status();
    svc.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the test services, the Docker Engine and a static build: scripts/test.sh"]
async fn a_restart_of_the_sim_container_loses_exactly_what_it_had_not_stored() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let svc = services("disruption_docker").await;
    let static_bin = tool("SENTRY_LOAD_TEST_STATIC_BIN", "disruption_docker");
    let busybox = tool("SENTRY_LOAD_TEST_BUSYBOX", "disruption_docker");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The image: FROM scratch, the static binary and busybox (for the shell that names each
    // life's truth file).
    let context = d.join("image");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::copy(&static_bin, context.join("sentry-load")).unwrap();
    std::fs::copy(&busybox, context.join("busybox")).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY sentry-load /sentry-load\n\
         ENTRYPOINT [\"/bin/busybox\", \"sh\", \"-c\", \"exec /sentry-load $SIM_ARGS \
         --truth /truth/truth-$(/bin/busybox date +%s)-$$-$RANDOM.jsonl\"]\n",
    )
    .unwrap();
    let tag = format!("sentry-load-sim-test:{}", std::process::id());
    docker(&["build", "-q", "-t", &tag, context.to_str().unwrap()]);
    let port = free_port();
    let name = format!("sentry-load-sim-{port}");
    // Host networking: the sim listens on the host's 127.0.0.1 and reaches its databases there.
    let truth = format!("{}:/truth", d.display());
    let args = format!("SIM_ARGS={}", sim_args(&svc, port));
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "host",
        "-e",
        &args,
        "-e",
        "SENTRY_LOAD_SIM_TOKEN=token",
        "-v",
        &truth,
        &tag,
    ]);
    let up = std::process::Command::new("bash")
        .args(["-c", &wait_for(port)])
        .status()
        .unwrap();
    assert!(up.success());
    // `-t 0`: no grace period, the container's processes are killed.
    let restart = format!("docker restart -t 0 {name}\n{}", wait_for(port));
    run_and_check(&svc, d, port, &restart).await;
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", &name])
        .output();
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &tag])
        .output();
    svc.cleanup().await;
}
