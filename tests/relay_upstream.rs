//! The sim as a Relay's upstream (`sim --relay-upstream`): what Relay answered 200 and never
//! forwarded is counted exactly, and a managed Relay's registration and config fetches are
//! answered in a form Relay's own code (PyPI `sentry-relay`) signs, verifies and reads.

mod support;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use sentry_load_sim::{SimConfig, UpstreamMode};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use support::{only_report, sentry_load, shown};

const KEY: &str = "0123456789abcdef0123456789abcdef";
const RELAY_ID: &str = "4a9c1d2e-7b3f-4c5d-8e6f-0a1b2c3d4e5f";

async fn upstream_sim(mode: UpstreamMode) -> sentry_load_sim::SimHandle {
    let mut config = SimConfig::in_memory(1, KEY, "token");
    config.batch_interval = std::time::Duration::from_millis(50);
    config.relay_upstream = Some(mode);
    sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
}

/// A stand-in for a Relay whose ground truth the test holds: it answers every envelope 200 at
/// once, then forwards it zstd-compressed with its Relay id — except every seventh, which it
/// loses, and the eleventh, which it sends twice.
struct Forwarder {
    upstream: String,
    client: reqwest::Client,
    received: Mutex<u64>,
    lost: Mutex<BTreeSet<String>>,
}

fn event_id(body: &[u8]) -> String {
    let first = body.split(|b| *b == b'\n').next().unwrap_or_default();
    let head: serde_json::Value = serde_json::from_slice(first).unwrap_or_default();
    head["event_id"]
        .as_str()
        .unwrap_or_default()
        .replace('-', "")
}

async fn forward(f: &Forwarder, project: &str, auth: &str, body: &[u8]) {
    let compressed = zstd::encode_all(body, 3).unwrap();
    let resp = f
        .client
        .post(format!("{}/api/{project}/envelope/", f.upstream))
        .header("x-sentry-auth", auth)
        .header("content-encoding", "zstd")
        .header("content-type", "application/x-sentry-envelope")
        .header("x-sentry-relay-id", RELAY_ID)
        .body(compressed)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "the upstream takes the forwarded envelope"
    );
}

async fn envelope(
    State(f): State<Arc<Forwarder>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::Json<serde_json::Value> {
    let id = event_id(&body);
    let n = {
        let mut r = f.received.lock().unwrap();
        *r += 1;
        *r
    };
    let auth = headers
        .get("x-sentry-auth")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if n % 7 == 3 {
        f.lost.lock().unwrap().insert(id.clone());
    } else {
        let f = f.clone();
        tokio::spawn(async move {
            forward(&f, &project, &auth, &body).await;
            if n == 11 {
                forward(&f, &project, &auth, &body).await;
            }
        });
    }
    axum::Json(serde_json::json!({ "id": id }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_relay_answered_and_never_forwarded_are_counted_exactly() {
    let sim = upstream_sim(UpstreamMode::Proxy).await;
    let up = sim.addr();
    let forwarder = Arc::new(Forwarder {
        upstream: format!("http://{up}"),
        client: reqwest::Client::new(),
        received: Mutex::new(0),
        lost: Mutex::new(BTreeSet::new()),
    });
    // Relay's own outcomes, as it sends them with `emit_outcomes: as_client_reports`.
    let report = b"{}\n{\"type\":\"client_report\"}\n{\"timestamp\":1795000000,\
        \"discarded_events\":[{\"reason\":\"queue_overflow\",\"category\":\"error\",\"quantity\":5}]}\n";
    let auth = format!("Sentry sentry_key={KEY}, sentry_version=7");
    forward(&forwarder, "1", &auth, report).await;

    let app = axum::Router::new()
        .route("/api/{project}/envelope/", axum::routing::post(envelope))
        .with_state(forwarder.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let profile = format!(
        "seed = 3\n[target]\nkind = \"relay\"\ndsn = \"http://{KEY}@{relay}/1\"\n\
         [traffic]\nrate = 100\ncount = 140\nmix = {{ error = 1, transaction = 1 }}\n\
         [verify]\npoll_interval = \"100ms\"\ndeadline = \"3s\"\nfidelity_sample = 0\n\
         [verify.sentry_api]\nurl = \"http://{up}/\"\ntoken = \"token\"\n\
         [verify.relay_upstream]\nurl = \"http://{up}/\"\ntoken = \"${{SIM_TOKEN}}\"\n\
         [gates]\nmax_lost_in_relay_ratio = 0.0\n"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), &profile).unwrap();
    let out = support::sentry_load_with_env(
        dir.path(),
        &["run", "--profile", "p.toml", "--quiet"],
        &[("SIM_TOKEN", "token")],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "the gate fails: {}",
        shown(&out)
    );
    let (folder, r) = only_report(dir.path());
    let lost = forwarder.lost.lock().unwrap().clone();
    assert_eq!(lost.len(), 20, "140 envelopes, every seventh lost");
    let u = &r["relay_upstream"];
    assert_eq!(u["mode"], "proxy", "{u}");
    assert_eq!(u["total"]["accepted"], 140, "{u}");
    assert_eq!(u["total"]["arrived"], 120, "{u}");
    assert_eq!(u["total"]["lost_in_relay"], 20, "{u}");
    assert_eq!(u["total"]["more_than_once"], 1, "{u}");
    let listed: BTreeSet<String> = u["lost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, lost, "the lost events, by id");
    // 120 forwarded, one of them twice, and the client report.
    assert_eq!(u["encodings"]["zstd"], 122, "{u}");
    assert_eq!(u["relays"][0]["relay_id"], RELAY_ID, "{u}");
    assert_eq!(
        u["reported"][0],
        serde_json::json!({"kind": "discarded", "reason": "queue_overflow",
            "category": "error", "quantity": 5})
    );
    // The read API cannot see outcomes: the missing events' fate is unknown there; only the
    // upstream's record says Relay lost them.
    assert_eq!(r["loss"]["outcome_unknown"], 20, "{}", r["loss"]);
    let gate = r["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "max_lost_in_relay_ratio")
        .unwrap();
    assert_eq!(gate["passed"], false);
    assert!(
        gate["measured"]
            .as_str()
            .unwrap()
            .contains("20 of 140 envelopes Relay answered 200"),
        "{gate}"
    );
    let md = std::fs::read_to_string(folder.join("report.md")).unwrap();
    assert!(md.contains("## Relay and its upstream"), "{md}");
    assert!(
        md.contains("Relay answered 200 to 140 envelopes; 120 reached its upstream, 20 never did"),
        "{md}"
    );
    let html = std::fs::read_to_string(folder.join("report.html")).unwrap();
    assert!(html.contains("<h2>Relay and its upstream</h2>"));
    for file in ["report.json", "report.md", "report.html", "run.json"] {
        let text = std::fs::read_to_string(folder.join(file)).unwrap_or_default();
        assert!(!text.contains("token\""), "{file} shows no token");
    }
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn a_wrong_address_or_token_is_named_in_the_report() {
    let sim = upstream_sim(UpstreamMode::Proxy).await;
    let plain = sentry_load_sim::start(
        SimConfig::in_memory(1, KEY, "token"),
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    for (upstream, token, says) in [
        (
            plain.addr(),
            "token",
            "not a sim standing as Relay's upstream",
        ),
        (sim.addr(), "wrong", "refused the token"),
    ] {
        let a = sim.addr();
        let profile = format!(
            "seed = 3\n[target]\nkind = \"relay\"\ndsn = \"http://{KEY}@{a}/1\"\n\
             [traffic]\nrate = 50\ncount = 10\n\
             [verify]\npoll_interval = \"100ms\"\ndeadline = \"2s\"\nfidelity_sample = 0\n\
             [verify.sentry_api]\nurl = \"http://{a}/\"\ntoken = \"token\"\n\
             [verify.relay_upstream]\nurl = \"http://{upstream}/\"\ntoken = \"{token}\"\n\
             [gates]\nmax_lost_in_relay_ratio = 0.0\n"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.toml"), &profile).unwrap();
        let out = sentry_load(dir.path(), &["run", "--profile", "p.toml", "--quiet"]).await;
        assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
        let (_, r) = only_report(dir.path());
        let u = &r["relay_upstream"];
        assert!(u["error"].as_str().unwrap().contains(says), "{u}");
        let gate = &r["gates"][0];
        assert!(
            gate["measured"]
                .as_str()
                .unwrap()
                .starts_with("not measured"),
            "{gate}"
        );
        assert!(!u.to_string().contains("wrong"), "no token in {u}");
    }
}

#[tokio::test]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn a_managed_relay_registers_and_reads_its_configs_with_relays_own_code() {
    let python = std::env::var("SENTRY_LOAD_TEST_RELAY_PYTHON")
        .expect("needs SENTRY_LOAD_TEST_RELAY_PYTHON (run scripts/test.sh)");
    let sim = upstream_sim(UpstreamMode::Managed).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/relay-upstream-client.py"
    );
    let out = tokio::process::Command::new(python)
        .arg(script)
        .arg(format!("http://{}", sim.addr()))
        .arg(KEY)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", shown(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expect = serde_json::json!({
        "configs_before_registering": 401,
        "challenge_forged": 401,
        "challenge": 200,
        "response_other_key": 401,
        "response": 200,
        "registered_as": RELAY_ID_OF_SCRIPT,
        "response_again": 401,
        "global": 200,
        "global_status": "ready",
        "global_normalized": true,
        "configs": 200,
        "config_keys_kept": true,
        "project_id": 1,
        "public_key": KEY,
        "unknown_key": {"disabled": true},
        "unchanged": [KEY],
        "public_keys": 200,
        "own_key_known": true,
    });
    let mut got = r.clone();
    // The script's Relay id is its own, random: it must be the one it registered.
    got["registered_as"] = RELAY_ID_OF_SCRIPT.into();
    assert!(r["registered_as"].as_str().is_some_and(|s| s.len() == 36));
    assert_eq!(got, expect);
    // The sim's own record says one Relay registered.
    let summary: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/api/0/sentry-load/upstream/", sim.addr()))
        .bearer_auth("token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary["registered"], 1, "{summary}");
    assert_eq!(summary["mode"], "managed");
    assert_eq!(summary["global_config_requests"], 1);
}

/// Stands for the random id the script registers with.
const RELAY_ID_OF_SCRIPT: &str = "the script's relay id";
