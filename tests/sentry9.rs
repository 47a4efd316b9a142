//! Sentry 9 beside Sentry 10: the same events to both, the old one through `/store/` and
//! `/minidump/` (`protocol = "store"`), read back one event id at a time, its JavaScript
//! sourcemaps uploaded as release files — against a sim answering as Sentry 9.1 does.

mod support;

use sentry_load_sim::{Flavor, SimConfig};
use support::{head_only, sentry_load, shown, status_of};

const KEY: &str = "0123456789abcdef0123456789abcdef";
const OLD_KEY: &str = "99999999999999999999999999999999";

async fn sim(flavor: Flavor, key: &str) -> sentry_load_sim::SimHandle {
    let mut config = SimConfig::in_memory(1, key, "token");
    config.batch_interval = std::time::Duration::from_millis(50);
    config.flavor = flavor;
    sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_leg_speaks_sentry_9s_store_protocol() {
    let new = sim(Flavor::Relay, KEY).await;
    let old = sim(Flavor::Sentry9, OLD_KEY).await;
    let (a, b) = (new.addr(), old.addr());
    let profile = format!(
        "seed = 9\n[target]\nkind = \"relay\"\ndsn = \"http://{KEY}@{a}/1\"\n\
         [traffic]\nrate = 100\ncount = 200\n\
         mix = {{ error = 1, transaction = 1, native = 1, javascript = 1 }}\n\
         [traffic.native]\nattachment_size = {{ p50 = \"8 KiB\", p99 = \"16 KiB\" }}\n\
         [verify]\npoll_interval = \"100ms\"\ndeadline = \"5s\"\nfidelity_sample = 8\n\
         [verify.sentry_api]\nurl = \"http://{a}/\"\ntoken = \"token\"\n\
         [artifacts]\nurl = \"http://{a}/\"\ntoken = \"token\"\n\
         [mirror]\ndsn = \"http://{OLD_KEY}:{secret}@{b}/1\"\nprotocol = \"store\"\n\
         [mirror.verify]\npoll_interval = \"100ms\"\ndeadline = \"5s\"\nfidelity_sample = 8\n\
         [mirror.verify.sentry_api]\nurl = \"http://{b}/\"\ntoken = \"token\"\n\
         [mirror.artifacts]\nurl = \"http://{b}/\"\ntoken = \"token\"\n\
         [gates]\nmax_loss_ratio = 0.0\nmax_fidelity_failures = 0\n",
        secret = "0".repeat(32),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), profile).unwrap();
    let out = sentry_load(
        dir.path(),
        &["run", "--profile", "p.toml", "--quiet", "--run-id", "nine"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert!(
        !shown(&out).contains(&"0".repeat(32)),
        "no secret in the output"
    );
    let read = |path: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(path)).unwrap()).unwrap()
    };
    let main = read("runs/nine/report.json");
    let mirror = read("runs/nine/mirror/report.json");
    assert_eq!(main["visibility"]["seen"], 200);
    // The old leg: no transactions (not offered, not lost), every other event seen.
    let transactions = main["kinds"]["transaction"]["records"].as_u64().unwrap();
    assert!(transactions > 0);
    assert_eq!(mirror["loss"]["unsupported"], transactions);
    assert_eq!(
        mirror["visibility"]["seen"].as_u64().unwrap(),
        200 - transactions,
        "{:#}",
        mirror["loss"]
    );
    assert_eq!(mirror["loss"]["loss_ratio"], 0.0);
    assert!(
        mirror["visibility"]["source"]
            .as_str()
            .unwrap()
            .contains("sentry api")
    );
    // Its JavaScript frames resolved through the release files, its crashes read.
    for kind in ["error", "javascript", "native"] {
        let f = &mirror["fidelity"]["kinds"][kind];
        assert_eq!(f["sampled"], 8, "{kind}: {f}");
        assert_eq!(f["passed"], 8, "{kind}: {:#}", mirror["fidelity"]);
    }
    let truth = old.truth().entries();
    assert!(
        truth
            .iter()
            .all(|e| e.decision != sentry_load_sim::Decision::Rejected)
    );
    new.stop().await.unwrap();
    old.stop().await.unwrap();
}

/// Sentry 9's own answers: no envelope endpoint, errors as `{"error"}` with
/// `X-Sentry-Error`, a protocol version required, an event id refused a second time, the
/// minidump endpoint answering the dashed id as text.
#[tokio::test]
async fn a_sentry_9_answers_as_sentry_9() {
    let old = sim(Flavor::Sentry9, OLD_KEY).await;
    let addr = old.addr();
    let client = reqwest::Client::new();
    let auth =
        |v: &str| format!("Sentry sentry_version={v}, sentry_client=t/1, sentry_key={OLD_KEY}");
    let event =
        r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","message":"hi","platform":"python"}"#;
    let post = |path: &str, auth: String, body: &'static str| {
        client
            .post(format!("http://{addr}{path}"))
            .header("x-sentry-auth", auth)
            .body(body)
            .send()
    };
    let r = post("/api/1/envelope/", auth("7"), event).await.unwrap();
    assert_eq!(r.status(), 404, "Sentry 9 has no envelope endpoint");
    let r = post("/api/1/store/", auth("9"), event).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().contains_key("x-sentry-error"));
    let r = post("/api/1/store/", auth("7"), event).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["id"], "9ec79c33ec9942ab8353589fcb2e04dc");
    let r = post("/api/1/store/", auth("7"), event).await.unwrap();
    assert_eq!(r.status(), 403, "the same event id again");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("already exists"));
    let r = post(
        "/api/1/store/",
        auth("7").replace(OLD_KEY, "11111111111111111111111111111111"),
        event,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    let dump = [b"MDMP".to_vec(), vec![0u8; 64]].concat();
    let form = reqwest::multipart::Form::new()
        .part(
            "upload_file_minidump",
            reqwest::multipart::Part::bytes(dump).file_name("c.dmp"),
        )
        .text(
            "sentry",
            r#"{"event_id":"11111111111111111111111111111111"}"#,
        );
    let r = client
        .post(format!(
            "http://{addr}/api/1/minidump/?sentry_key={OLD_KEY}"
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().await.unwrap(),
        "11111111-1111-1111-1111-111111111111"
    );
    old.stop().await.unwrap();
}

/// Sentry 9's routes, too, refuse a request without a key from its head, before a byte of
/// its body is read, and hold room for the bodies of keyed ones.
#[tokio::test]
async fn sentry_9_refuses_a_keyless_body_before_reading_it() {
    let old = sim(Flavor::Sentry9, OLD_KEY).await;
    for path in ["/api/1/store/", "/api/1/minidump/"] {
        let mut keyless = head_only(old.addr(), path, None, 90 << 20).await;
        assert_eq!(
            status_of(&mut keyless).await.as_deref(),
            Some("HTTP/1.1 401 Unauthorized"),
            "{path}"
        );
    }
    let body_limit = sentry_load_sim::BODY_LIMIT;
    let keyed = format!("/api/1/store/?sentry_key={OLD_KEY}&sentry_version=7");
    let mut held = Vec::new();
    for _ in 0..sentry_load_sim::BUFFERED_BODIES_LIMIT / body_limit {
        held.push(head_only(old.addr(), &keyed, None, body_limit).await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut one_more = head_only(old.addr(), &keyed, None, body_limit).await;
    assert_eq!(
        status_of(&mut one_more).await.as_deref(),
        Some("HTTP/1.1 503 Service Unavailable")
    );
    drop(held);
    old.stop().await.unwrap();
}
