//! Exit codes and error messages of the command line.

mod support;

use support::{sentry_load, shown};

#[tokio::test]
async fn a_malformed_profile_exits_2_naming_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "seed = 1\n[target]\nkind = \"embedded\"\n[traffic]\nrate = 10\nduraton = \"5s\"\n",
    )
    .unwrap();
    let out = sentry_load(dir.path(), &["profiles", "check", "bad.toml"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:6:1"), "{err}");
    assert!(err.contains("`traffic.duraton`"), "{err}");
    assert!(err.contains("unknown field `duraton`"), "{err}");

    let out = sentry_load(dir.path(), &["run", "--profile", "bad.toml"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
}

#[tokio::test]
async fn profiles_check_reports_every_error_and_what_run_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "seed = 1\ndescripton = \"x\"\n[target]\nkind = \"relay\"\n\
         dsn = \"http://abc@127.0.0.1:9/1\"\n[traffic]\nrate = 0\nduraton = \"5s\"\n\
         duration = \"5s\"\n[send]\ntimout = \"1s\"\n",
    )
    .unwrap();
    let out = sentry_load(dir.path(), &["profiles", "check", "bad.toml"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("bad.toml:")).collect();
    let places: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.split("bad.toml:").nth(1)?.split(": ").next())
        .filter(|place| !place.starts_with(' '))
        .collect();
    assert_eq!(places, ["2:1", "7:8", "8:1", "11:1"], "{err}");
    assert!(err.contains("did you mean `description`?"), "{err}");
    assert!(err.contains("did you mean `duration`?"), "{err}");
    assert!(err.contains("did you mean `timeout`?"), "{err}");
    assert!(err.contains("bad.toml: 4 errors"), "{err}");

    // A profile that parses but that `run` refuses: a relay target with nowhere to read back.
    std::fs::write(
        dir.path().join("send-only.toml"),
        "seed = 1\n[target]\nkind = \"relay\"\ndsn = \"http://abc@127.0.0.1:9/1\"\n\
         [traffic]\nrate = 10\nduration = \"5s\"\n",
    )
    .unwrap();
    let out = sentry_load(dir.path(), &["profiles", "check", "send-only.toml"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no place to read events back"), "{err}");
    assert!(err.contains("--no-verify"), "{err}");
}

#[tokio::test]
async fn an_unreachable_target_exits_3_without_showing_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 of loopback.
    let profile = "seed = 1\n[target]\nkind = \"relay\"\ndsn = \"http://pub:hunter2@127.0.0.1:9/1\"\n\
                   [traffic]\nrate = 10\nduration = \"1s\"\n\
                   [verify.clickhouse]\nurl = \"http://127.0.0.1:9\"\n";
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();
    let out = sentry_load(dir.path(), &["run", "--profile", "p.toml", "--quiet"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    assert!(!shown(&out).contains("hunter2"), "{}", shown(&out));
}

#[tokio::test]
async fn profiles_list_and_show_the_shipped_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = sentry_load(dir.path(), &["profiles", "list"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("local") && text.contains("smoke"), "{text}");
    let out = sentry_load(dir.path(), &["profiles", "show", "local"]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("kind = \"embedded\""));
}

#[tokio::test]
async fn generate_refuses_a_kind_the_profile_does_not_send() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("errors.toml"),
        "seed = 1\n[target]\nkind = \"embedded\"\n[traffic]\nrate = 10\nduration = \"1s\"\n",
    )
    .unwrap();
    let args = [
        "generate",
        "--profile",
        "errors.toml",
        "--kind",
        "transaction",
        "--count",
        "2",
        "--out",
        "env",
    ];
    let out = sentry_load(dir.path(), &args).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(
        shown(&out).contains("gives `transaction` no weight"),
        "{}",
        shown(&out)
    );
    let out = sentry_load(
        dir.path(),
        &[
            "generate",
            "--profile",
            "local",
            "--count",
            "2",
            "--out",
            "env",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let envelopes = std::fs::read_dir(dir.path().join("env"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "envelope")
        })
        .count();
    assert_eq!(envelopes, 2);
}

const SMALL_EMBEDDED: &str = "seed = 4\n[target]\nkind = \"embedded\"\n[traffic]\nrate = 20\n\
                              duration = \"1s\"\n[verify]\npoll_interval = \"100ms\"\n\
                              deadline = \"10s\"\n";

#[tokio::test]
async fn a_run_id_in_use_exits_2_and_leaves_the_earlier_run_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), SMALL_EMBEDDED).unwrap();
    let args = ["run", "--profile", "p.toml", "--quiet", "--run-id", "taken"];
    let out = sentry_load(dir.path(), &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let run = dir.path().join("runs/taken");
    let files = ["profile.toml", "run.json", "journal.bin", "report.json"];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(run.join(f)).unwrap())
        .collect();

    std::fs::write(
        dir.path().join("p.toml"),
        SMALL_EMBEDDED.replace("rate = 20", "rate = 30"),
    )
    .unwrap();
    let out = sentry_load(dir.path(), &args).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already holds run taken"), "{err}");
    assert!(err.contains("--run-id"), "{err}");
    for (f, was) in files.iter().zip(&before) {
        assert_eq!(&std::fs::read(run.join(f)).unwrap(), was, "{f} was changed");
    }
}

#[tokio::test]
async fn a_reader_that_stops_early_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), SMALL_EMBEDDED).unwrap();
    let args = ["run", "--profile", "p.toml", "--quiet", "--run-id", "piped"];
    let out = sentry_load(dir.path(), &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    for args in [
        vec!["compare", "runs/piped", "runs/piped", "--out", "cmp"],
        vec!["gate", "runs/piped"],
        vec!["profiles", "show", "local"],
    ] {
        // The read end is closed before the command writes anything, as `| head -0` does.
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sentry-load"))
            .args(&args)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().await.unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn runs_that_differ_in_seed_or_schedule_are_compared_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), SMALL_EMBEDDED).unwrap();
    std::fs::write(
        dir.path().join("b.toml"),
        SMALL_EMBEDDED
            .replace("seed = 4", "seed = 5")
            .replace("rate = 20", "rate = 30"),
    )
    .unwrap();
    for (profile, id) in [("a.toml", "a"), ("b.toml", "b")] {
        let args = ["run", "--profile", profile, "--quiet", "--run-id", id];
        let out = sentry_load(dir.path(), &args).await;
        assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    }
    let out = sentry_load(dir.path(), &["compare", "runs/a", "runs/b", "--out", "cmp"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        md.contains(
            "> **B is not comparable with A:** seed 5 vs 4 (different events); schedule 30 over"
        ),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.path().join("cmp/compare.html")).unwrap();
    assert!(html.contains("B is not comparable with A:"));
    // The same run against itself is comparable: no warning.
    let out = sentry_load(dir.path(), &["compare", "runs/a", "runs/a", "--out", "cmp"]).await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains("not comparable"));

    let out = sentry_load(dir.path(), &["gate", "runs/b", "--baseline", "runs/a"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: the baseline is not comparable with this run: seed 5 vs 4"),
        "{err}"
    );
}
