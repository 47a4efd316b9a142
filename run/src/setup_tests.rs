//! Setup against the embedded target: the command line's overrides reach the plan and the
//! send options, the run folder is laid out, and `${VAR}`s are required by what is read.

use super::*;
use crate::error::FailureKind;

const PROFILE: &str = "seed = 5\n[target]\nkind = \"embedded\"\n[traffic]\nrate = 10\n\
                       duration = \"10s\"\n[send]\nmax_in_flight = 7\ntimeout = \"3s\"\n";

fn request(dir: &std::path::Path, text: &str) -> RunRequest {
    let path = dir.join("p.toml");
    std::fs::write(&path, text).unwrap();
    RunRequest {
        profile: path.display().to_string(),
        overrides: Overrides::default(),
        shard: Shard::WHOLE,
        run_id: Some("setup-test".into()),
        out: dir.join("runs"),
        progress: ProgressMode::Quiet,
        read_back: true,
        quiet: true,
        baseline: None,
        metrics_listen: None,
    }
}

#[tokio::test]
async fn the_command_lines_rate_and_duration_reach_the_plan_and_the_profile_the_sender() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = request(dir.path(), PROFILE);
    r.overrides = Overrides {
        rate: Some(50.0),
        duration: Some(Duration::from_secs(2)),
        instead_of_stages: false,
    };
    let run = PreparedRun::prepare(r).await.unwrap();
    assert_eq!(run.plan().total(), 100);
    assert_eq!(run.plan().mean_rate(), 50.0);
    let opts = run.send_options();
    assert_eq!(
        (opts.max_in_flight, opts.timeout),
        (7, Duration::from_secs(3))
    );
    let folders = run.folders();
    assert_eq!(folders.len(), 1);
    assert_eq!(folders[0].dir(), dir.path().join("runs/setup-test"));
    // Nothing is written before the run executes.
    assert!(!dir.path().join("runs").exists());
}

#[tokio::test]
async fn a_shard_plans_its_share_in_its_own_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = request(dir.path(), PROFILE);
    r.shard = Shard { index: 1, count: 4 };
    let run = PreparedRun::prepare(r).await.unwrap();
    assert_eq!(run.plan().total(), 25);
    assert_eq!(
        run.folders()[0].dir(),
        dir.path().join("runs/setup-test/shard-1-of-4")
    );
}

#[tokio::test]
async fn bad_input_is_a_usage_failure_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = request(dir.path(), PROFILE);
    r.run_id = Some("no spaces".into());
    let f = PreparedRun::prepare(r).await.err().unwrap();
    assert_eq!(f.kind(), FailureKind::Usage);
    assert!(
        f.message().contains("--run-id `no spaces`"),
        "{}",
        f.message()
    );

    let mut r = request(dir.path(), PROFILE);
    r.baseline = Some(dir.path().join("no-such-run"));
    let f = PreparedRun::prepare(r).await.err().unwrap();
    assert_eq!(f.kind(), FailureKind::Usage);
    assert!(f.message().contains("no-such-run"), "{}", f.message());

    let staged = PROFILE.replace(
        "rate = 10\nduration = \"10s\"\n",
        "[[traffic.stages]]\nhold = 5\nduration = \"1s\"\n",
    );
    let mut r = request(dir.path(), &staged);
    r.overrides.rate = Some(5.0);
    let f = PreparedRun::prepare(r).await.err().unwrap();
    assert_eq!(f.kind(), FailureKind::Usage);
    assert!(
        f.message().contains("[[traffic.stages]]"),
        "{}",
        f.message()
    );
}

#[tokio::test]
async fn a_run_id_in_use_is_refused_before_anything_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let used = dir.path().join("runs/setup-test");
    std::fs::create_dir_all(&used).unwrap();
    std::fs::write(used.join("run.json"), "{}").unwrap();
    let f = PreparedRun::prepare(request(dir.path(), PROFILE))
        .await
        .err()
        .unwrap();
    assert_eq!(f.kind(), FailureKind::Usage);
    assert!(
        f.message().contains("already holds run setup-test"),
        "{}",
        f.message()
    );
    assert_eq!(
        std::fs::read_to_string(used.join("run.json")).unwrap(),
        "{}"
    );
    assert!(!used.join("profile.toml").exists());
}
