//! Both ways of sending deliver every envelope of every kind, whole, to the embedded target:
//! the plain-HTTP/1.1 path with gzip bodies (`Content-Encoding: gzip`), and reqwest speaking
//! HTTP/2 (prior knowledge, as to a Relay behind an h2c proxy) with gzip and without.

mod support;

use support::{only_report, sentry_load, shown};

fn profile(send: &str) -> String {
    format!(
        r#"
seed = 11
[target]
kind = "embedded"
[traffic]
rate = 100
duration = "2s"
mix = {{ error = 0.4, transaction = 0.3, native = 0.1, javascript = 0.2 }}
[send]
{send}
[verify]
poll_interval = "100ms"
deadline = "10s"
fidelity_sample = 5
"#
    )
}

async fn run_and_check(send: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), profile(send)).unwrap();
    let out = sentry_load(dir.path(), &["run", "--profile", "p.toml", "--quiet"]).await;
    assert_eq!(out.status.code(), Some(0), "{send}: {}", shown(&out));
    let (_, report) = only_report(dir.path());
    let s = &report["sending"];
    assert_eq!(s["records"], 200, "{send}: {s:#}");
    assert_eq!(s["outcomes"]["accepted"], 200, "{send}: {s:#}");
    assert_eq!(report["visibility"]["seen"], 200, "{send}");
    assert_eq!(report["loss"]["silent"], 0, "{send}");
    // Decompressed and processed as sent: every kind's sample matches what was generated.
    for kind in ["error", "transaction", "native", "javascript"] {
        let f = &report["fidelity"]["kinds"][kind];
        assert!(f["sampled"].as_u64().unwrap() > 0, "{send} {kind}: {f}");
        assert_eq!(f["passed"], f["sampled"], "{send} {kind}: {f}");
    }
}

#[tokio::test]
async fn plain_http_with_gzip_delivers_everything() {
    run_and_check("gzip = true").await;
}

#[tokio::test]
async fn http2_through_reqwest_delivers_everything() {
    run_and_check("http2 = true").await;
    run_and_check("http2 = true\ngzip = true").await;
}
