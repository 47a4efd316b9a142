//! `${VAR}` resolved where it is used: a command needs only the variables of the keys it
//! reads, `profiles show` lists every variable and whether it is set, and a command that does
//! read an unset one names it with its key.

mod support;

use std::path::Path;
use std::process::Output;
use support::{only_report, shown};

/// The variables the shipped profiles read, none set here.
const UNSET: [&str; 6] = [
    "SENTRY_DSN",
    "SENTRY_AUTH_TOKEN",
    "SENTRY_URL",
    "SENTRY_LOAD_CLICKHOUSE_URL",
    "SENTRY_LOAD_POSTGRES_URL",
    "SENTRY_LOAD_TEST_SURELY_UNSET_TOKEN",
];

/// The binary with `UNSET` removed from its environment and `env` added.
async fn without_secrets(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sentry-load"));
    cmd.args(args).current_dir(dir).env("NO_COLOR", "1");
    for var in UNSET {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().await.expect("sentry-load starts")
}

#[tokio::test]
async fn dsn_runs_without_the_dsn_it_is_meant_to_find() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9: the command gets as far as Postgres, which it needs.
    let pg = [(
        "SENTRY_LOAD_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:9/postgres",
    )];
    let args = [
        "dsn",
        "--profile",
        "single-node",
        "--host",
        "127.0.0.1:9000",
    ];
    let out = without_secrets(dir.path(), &args, &pg).await;
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    let text = shown(&out);
    assert!(text.contains("postgres"), "{text}");
    assert!(
        !text.contains("SENTRY_DSN") && !text.contains("SENTRY_AUTH_TOKEN"),
        "{text}"
    );
}

#[tokio::test]
async fn profiles_show_lists_each_variable_and_whether_it_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let token = [("SENTRY_AUTH_TOKEN", "tok-do-not-print-7f3a")];
    let out = without_secrets(dir.path(), &["profiles", "show", "single-node"], &token).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("dsn = \"${SENTRY_DSN}\""),
        "the text as written: {text}"
    );
    let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("#   ${")).collect();
    assert!(
        listed
            .iter()
            .any(|l| l.contains("${SENTRY_DSN} in target.dsn") && l.ends_with("NOT SET")),
        "{listed:#?}"
    );
    assert!(
        listed.iter().any(
            |l| l.contains("${SENTRY_AUTH_TOKEN} in verify.sentry_api.token")
                && l.ends_with(": set")
        ),
        "{listed:#?}"
    );
    assert!(
        listed.iter().any(
            |l| l.contains("${SENTRY_LOAD_CLICKHOUSE_URL} in verify.clickhouse.url")
                && l.ends_with("its default stands in")
        ),
        "{listed:#?}"
    );
    assert!(!shown(&out).contains("tok-do-not-print-7f3a"));

    let out = without_secrets(dir.path(), &["profiles", "check", "single-node"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("${SENTRY_DSN} (target.dsn) is not set"),
        "{text}"
    );
}

#[tokio::test]
async fn run_names_every_unset_variable_it_needs_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = without_secrets(
        dir.path(),
        &["run", "--profile", "single-node", "--quiet"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`target.dsn`"), "{err}");
    assert!(
        err.contains("environment variable SENTRY_DSN is not set"),
        "{err}"
    );
    assert!(
        err.contains("also unset: SENTRY_AUTH_TOKEN (verify.sentry_api.token)"),
        "{err}"
    );
    assert!(!dir.path().join("runs").exists(), "nothing was written");
}

#[tokio::test]
async fn verify_needs_only_the_read_back_variables() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    // The target's DSN and the API token are unset; the read-back source is ClickHouse on a
    // port where nothing listens: verify gets as far as asking it.
    std::fs::write(
        run.join("profile.toml"),
        "seed = 1\n[target]\nkind = \"relay\"\ndsn = \"${SENTRY_DSN}\"\n\
         [traffic]\nrate = 10\nduration = \"1s\"\n\
         [verify.clickhouse]\nurl = \"http://127.0.0.1:9\"\n\
         [artifacts]\nurl = \"http://127.0.0.1:9\"\ntoken = \"${SENTRY_AUTH_TOKEN}\"\n",
    )
    .unwrap();
    std::fs::write(
        run.join("run.json"),
        r#"{"planned": 10, "target_rate": 10.0, "duration_secs": 1.0, "embedded": false}"#,
    )
    .unwrap();
    let out = without_secrets(dir.path(), &["verify", "run"], &[]).await;
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    let text = shown(&out);
    assert!(text.contains("clickhouse"), "{text}");
    assert!(
        !text.contains("SENTRY_DSN") && !text.contains("SENTRY_AUTH_TOKEN"),
        "{text}"
    );
}

#[tokio::test]
async fn gate_needs_no_variable_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let profile = "seed = 2\n[target]\nkind = \"embedded\"\n[traffic]\nrate = 20\n\
                   duration = \"1s\"\n[verify]\npoll_interval = \"100ms\"\ndeadline = \"10s\"\n";
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();
    let out = without_secrets(dir.path(), &["run", "--profile", "p.toml", "--quiet"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let (run, _) = only_report(dir.path());
    // The run's copied profile now reads secrets for a target and a read-back it never needs
    // to gate, and gates that this run meets.
    std::fs::write(
        run.join("profile.toml"),
        "seed = 2\n[target]\nkind = \"relay\"\ndsn = \"${SENTRY_DSN}\"\n\
         [traffic]\nrate = 20\nduration = \"1s\"\n\
         [verify.sentry_api]\nurl = \"${SENTRY_URL}\"\ntoken = \"${SENTRY_LOAD_TEST_SURELY_UNSET_TOKEN}\"\n\
         [gates]\nmax_loss_ratio = 0.0\n",
    )
    .unwrap();
    let out = without_secrets(dir.path(), &["gate", run.to_str().unwrap()], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("pass max_loss_ratio"),
        "{}",
        shown(&out)
    );
}

#[tokio::test]
async fn literal_secrets_are_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let profile = "seed = 1\n[target]\nkind = \"relay\"\n\
                   dsn = \"http://abcd:dsn-literal-secret@127.0.0.1:9/1\"\n\
                   [traffic]\nrate = 10\nduration = \"1s\"\n\
                   [verify.clickhouse]\nurl = \"http://127.0.0.1:9/?password=ch-literal-pass\"\n\
                   [verify.postgres]\nurl = \"postgres://u:pg-literal-pass@127.0.0.1:9/db\"\n\
                   [verify.sentry_api]\nurl = \"http://127.0.0.1:9\"\ntoken = \"sntrys_literal_token\"\n";
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();
    let literal = [
        "dsn-literal-secret",
        "ch-literal-pass",
        "pg-literal-pass",
        "sntrys_literal_token",
    ];

    let out = without_secrets(dir.path(), &["profiles", "show", "p.toml"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = shown(&out);
    assert!(literal.iter().all(|s| !text.contains(s)), "{text}");
    assert!(
        text.contains("token = \"${SENTRY_LOAD_REDACTED_VERIFY_SENTRY_API_TOKEN}\""),
        "{text}"
    );
    assert!(
        text.contains("written literally") && text.contains("verify.postgres.url"),
        "{text}"
    );

    // An error on the secret's own line shows the line redacted, the caret still on the fault.
    let broken = profile.replace(
        "token = \"sntrys_literal_token\"",
        "token = \"sntrys_literal_token\"\nurl_typo = \"postgres://u:pg-literal-pass@h/db\"",
    );
    std::fs::write(dir.path().join("p.toml"), broken).unwrap();
    let out = without_secrets(dir.path(), &["profiles", "check", "p.toml"], &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let text = shown(&out);
    assert!(literal.iter().all(|s| !text.contains(s)), "{text}");
    assert!(text.contains("url_typo"), "{text}");
}
