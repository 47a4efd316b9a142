//! Gates end to end on the embedded target: a run that meets its gates exits 0; `gate`
//! re-checks the report against stricter profiles and exits 1 naming each failed gate with its
//! threshold and measured value; baseline gates need `--baseline`; `compare` writes its table
//! and page.

mod support;

use support::{only_report, sentry_load, shown};

/// The shipped `local` profile at a smaller size, with gates for every kind.
const MET: &str = r#"
seed = 7
[target]
kind = "embedded"
[traffic]
rate = 100
duration = "3s"
mix = { error = 0.5, transaction = 0.3, native = 0.1, javascript = 0.1 }
[verify]
poll_interval = "100ms"
deadline = "10s"
[gates]
max_loss_ratio = 0.0
max_silent_loss_ratio = 0.0
max_rejected_ratio = 0.0
min_achieved_rate_ratio = 0.9
max_p50_visibility = "5s"
max_p95_visibility = "5s"
max_p99_visibility = "5s"
max_fidelity_failures = 0
[gates.kind.native]
max_loss_ratio = 0.0
max_p99_visibility = "5s"
[gates.kind.javascript]
max_p50_visibility = "5s"
"#;

#[tokio::test]
async fn met_gates_exit_0_and_missed_ones_exit_1_naming_each() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("met.toml"), MET).unwrap();
    let out = sentry_load(dir.path(), &["run", "--profile", "met.toml", "--quiet"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let (run, report) = only_report(dir.path());
    let gates = report["gates"].as_array().unwrap();
    assert_eq!(gates.len(), 11, "{gates:#?}");
    assert!(gates.iter().all(|g| g["passed"] == true));
    for kind in ["error", "transaction", "native", "javascript"] {
        let k = &report["kinds"][kind];
        assert!(k["seen"].as_u64().unwrap() > 0, "{kind}: {k}");
        assert!(k["latency_ms"]["p99"].as_u64().is_some(), "{kind}: {k}");
        // Every kind's sample was fetched processed — JavaScript resolved through the
        // uploaded sourcemap, native read from its minidump — and matched what was sent.
        let f = &report["fidelity"]["kinds"][kind];
        assert!(f["sampled"].as_u64().unwrap() > 0, "{kind}: {f}");
        assert_eq!(
            f["passed"], f["sampled"],
            "{kind}: {:#}",
            report["fidelity"]
        );
    }
    assert!(!report["timeline"]["points"].as_array().unwrap().is_empty());
    assert!(run.join("report.html").exists() && run.join("report.md").exists());
    let run = run.to_str().unwrap();

    // The same report against its own profile: still passes.
    let out = sentry_load(dir.path(), &["gate", run]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));

    // Stricter gates: exit 1, each failed gate named with threshold and measurement.
    let strict = MET.replacen(
        "max_p50_visibility = \"5s\"",
        "max_p50_visibility = \"1ms\"",
        1,
    ) + "[gates.kind.error]\nmax_p99_visibility = \"1ms\"\n[gates.baseline]\nmax_p99_regression = 0.1\n";
    std::fs::write(dir.path().join("strict.toml"), strict).unwrap();
    let out = sentry_load(dir.path(), &["gate", run, "--profile", "strict.toml"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for failed in [
        "FAIL max_p50_visibility: ",
        "(threshold 1 ms)",
        "FAIL kind.error.max_p99_visibility: ",
        "FAIL baseline.max_p99_regression: not measured: no baseline run given",
    ] {
        assert!(text.contains(failed), "{failed} in\n{text}");
    }
    assert!(text.contains("pass max_loss_ratio"), "{text}");

    // Against itself as the baseline, the regression is 0 %.
    let out = sentry_load(
        dir.path(),
        &["gate", run, "--profile", "strict.toml", "--baseline", run],
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("pass baseline.max_p99_regression: 0 %"),
        "{text}"
    );

    // A baseline that is not a report is refused, naming the file.
    let out = sentry_load(dir.path(), &["gate", run, "--baseline", "met.toml"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(shown(&out).contains("met.toml is not a sentry-load report"));

    let out = sentry_load(dir.path(), &["compare", run, run, "--out", "cmp"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let md = std::fs::read_to_string(dir.path().join("cmp/compare.md")).unwrap();
    assert!(
        md.contains("| latency p99 |") && md.contains("(+0, 0 %)"),
        "{md}"
    );
    assert!(md.contains("| native loss ratio |"), "{md}");
    assert!(dir.path().join("cmp/compare.html").exists());
}
