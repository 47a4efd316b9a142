//! Generated events and transactions of every kind pass Relay's own normalizer (PyPI
//! `sentry-relay`) with no errors, no `_meta` errors and nothing trimmed — checked by
//! `scripts/relay-normalize.py`, run with the Python that `SENTRY_LOAD_TEST_RELAY_PYTHON` names
//! (set by `scripts/test.sh`). The `prod` profile's mix and knobs (sizes up to its p99) are the
//! input, so the test covers what `sentry-load run --profile prod` sends.

mod support;

use support::{sentry_load_with_env, shown};

#[tokio::test]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn generated_events_pass_relays_normalizer() {
    let python = std::env::var("SENTRY_LOAD_TEST_RELAY_PYTHON")
        .expect("needs SENTRY_LOAD_TEST_RELAY_PYTHON (run scripts/test.sh)");
    // prod has every kind; the heavy profiles push sizes, breadcrumbs and stacks further.
    for (profile, count, kinds) in [
        (
            "prod",
            600,
            &["error", "transaction", "native", "javascript"][..],
        ),
        ("js-heavy", 200, &["javascript", "transaction"][..]),
        ("native-heavy", 200, &["native", "error"][..]),
    ] {
        let checked = check_profile(&python, profile, count, kinds).await;
        assert_eq!(checked, count, "{profile}");
    }
}

/// Generates `count` envelopes of `profile`, checks every kind in `kinds` is among them, and
/// runs them through the normalizer; returns how many items it checked.
async fn check_profile(python: &str, profile: &str, count: usize, kinds: &[&str]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let count_text = count.to_string();
    let out = sentry_load_with_env(
        dir.path(),
        &[
            "generate",
            "--profile",
            profile,
            "--count",
            &count_text,
            "--out",
            "env",
            "--start",
            "2026-11-22T12:00:00.123456Z",
        ],
        &[
            ("SENTRY_DSN", "http://public@127.0.0.1:9/1"),
            ("SENTRY_AUTH_TOKEN", "unused"),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let files: Vec<String> = std::fs::read_dir(dir.path().join("env"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".envelope"))
        .collect();
    assert_eq!(files.len(), count);
    for kind in kinds {
        let n = files
            .iter()
            .filter(|f| f.ends_with(&format!("-{kind}.envelope")))
            .count();
        assert!(n > 5, "{profile}: {n} {kind} envelopes in {count}");
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/relay-normalize.py");
    let checked = tokio::process::Command::new(python)
        .arg(script)
        .args(&files)
        .output()
        .await
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap_or_else(|_| {
        panic!(
            "checker output: {}",
            String::from_utf8_lossy(&checked.stderr)
        )
    });
    assert_eq!(
        report["failures"],
        serde_json::json!([]),
        "{profile}: Relay's normalizer objects: {report}"
    );
    assert_eq!(checked.status.code(), Some(0));
    report["checked"].as_u64().unwrap() as usize
}
