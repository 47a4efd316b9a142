//! The sim as a Relay's upstream (`sim --relay-upstream`): what Relay answered 200 and never
//! forwarded is counted exactly, and a managed Relay's registration and config fetches are
//! answered in a form Relay's own code (PyPI `sentry-relay`) signs, verifies and reads.

mod support;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use sentry_load_sim::{SimConfig, UpstreamMode};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use support::{only_report, sentry_load, shown};

const KEY: &str = "0123456789abcdef0123456789abcdef";
const RELAY_ID: &str = "4a9c1d2e-7b3f-4c5d-8e6f-0a1b2c3d4e5f";

async fn upstream_sim(mode: UpstreamMode, faults: &str) -> sentry_load_sim::SimHandle {
    let mut config = SimConfig::in_memory(1, KEY, "token");
    config.batch_interval = std::time::Duration::from_millis(50);
    config.relay_upstream = Some(mode);
    config.faults = sentry_load_sim::script::FaultScript::parse("faults.toml", faults).unwrap();
    sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
}

/// The sim's `GET /api/0/sentry-load/upstream/`.
async fn upstream_summary(sim: &sentry_load_sim::SimHandle) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("http://{}/api/0/sentry-load/upstream/", sim.addr()))
        .bearer_auth("token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A stand-in for a Relay whose ground truth the test holds: it answers every envelope 200 at
/// once, then forwards it zstd-compressed with its Relay id, once, and keeps every answer the
/// upstream gave — except every seventh envelope, which it loses; the thirteenth of each
/// thirteen it garbles (the upstream refuses it for good), and the eleventh it sends twice.
struct Forwarder {
    upstream: String,
    client: reqwest::Client,
    received: Mutex<u64>,
    answers: Mutex<BTreeMap<String, Vec<u16>>>,
}

fn event_id(body: &[u8]) -> String {
    let first = body.split(|b| *b == b'\n').next().unwrap_or_default();
    let head: serde_json::Value = serde_json::from_slice(first).unwrap_or_default();
    head["event_id"]
        .as_str()
        .unwrap_or_default()
        .replace('-', "")
}

async fn forward(f: &Forwarder, project: &str, auth: &str, body: &[u8]) -> u16 {
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
    resp.status().as_u16()
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
    f.answers.lock().unwrap().insert(id.clone(), vec![]);
    if n % 7 != 3 {
        let f = f.clone();
        let sent = if n % 13 == 0 {
            let head = body.split(|b| *b == b'\n').next().unwrap_or_default();
            [head, b"\n{\"type\":\"event\"}\n{not json\n"]
                .concat()
                .into()
        } else {
            body
        };
        let id = id.clone();
        tokio::spawn(async move {
            for _ in 0..if n == 11 { 2 } else { 1 } {
                let status = forward(&f, &project, &auth, &sent).await;
                f.answers.lock().unwrap().get_mut(&id).unwrap().push(status);
            }
        });
    }
    axum::Json(serde_json::json!({ "id": id }))
}

/// What the upstream's answers say of each envelope, as the report must count them.
#[derive(Debug, Default, PartialEq, Eq)]
struct Expected {
    delivered: u64,
    more_than_once: u64,
    refused_by_upstream: u64,
    lost_in_relay: u64,
    lost_after_retryable: u64,
    lost: BTreeSet<String>,
}

fn expected(answers: &BTreeMap<String, Vec<u16>>) -> Expected {
    let mut e = Expected::default();
    for (id, got) in answers {
        let taken = got.iter().filter(|s| **s == 200).count();
        match got.last() {
            _ if taken > 0 => {
                e.delivered += 1;
                e.more_than_once += u64::from(taken > 1);
            }
            Some(s) if !(502..=504).contains(s) => e.refused_by_upstream += 1,
            last => {
                e.lost_in_relay += 1;
                e.lost_after_retryable += u64::from(last.is_some());
                e.lost.insert(id.clone());
            }
        }
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_relay_answered_and_never_forwarded_are_counted_exactly() {
    // One envelope in five answered 503 from the first second on: Relay would retry those;
    // this one does not, so they are lost in it all the same.
    let sim = upstream_sim(
        UpstreamMode::Proxy,
        "[[fault]]\nkind = \"unavailable\"\nfraction = 0.2\nfrom = \"1s\"\nuntil = \"1h\"\n",
    )
    .await;
    let up = sim.addr();
    let forwarder = Arc::new(Forwarder {
        upstream: format!("http://{up}"),
        client: reqwest::Client::new(),
        received: Mutex::new(0),
        answers: Mutex::new(BTreeMap::new()),
    });
    // Relay's own outcomes, as it sends them with `emit_outcomes: as_client_reports`.
    let report = b"{}\n{\"type\":\"client_report\"}\n{\"timestamp\":1795000000,\
        \"discarded_events\":[{\"reason\":\"queue_overflow\",\"category\":\"error\",\"quantity\":5}]}\n";
    let auth = format!("Sentry sentry_key={KEY}, sentry_version=7");
    assert_eq!(forward(&forwarder, "1", &auth, report).await, 200);

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
    let (want, forwarded) = {
        let answers = forwarder.answers.lock().unwrap();
        let forwarded: usize = answers.values().map(Vec::len).sum();
        (expected(&answers), forwarded as u64)
    };
    assert_eq!(
        want.lost_in_relay - want.lost_after_retryable,
        20,
        "140 envelopes, every seventh never sent"
    );
    assert!(
        want.lost_after_retryable > 0 && want.refused_by_upstream > 0,
        "{want:?}"
    );
    let u = &r["relay_upstream"];
    assert_eq!(u["mode"], "proxy", "{u}");
    let t = &u["total"];
    assert_eq!(t["accepted"], 140, "{u}");
    assert_eq!(t["delivered"], want.delivered, "{u}");
    assert_eq!(t["more_than_once"], want.more_than_once, "{u}");
    assert_eq!(t["refused_by_upstream"], want.refused_by_upstream, "{u}");
    assert_eq!(t["lost_in_relay"], want.lost_in_relay, "{u}");
    assert_eq!(t["lost_after_retryable"], want.lost_after_retryable, "{u}");
    let listed: BTreeSet<String> = u["lost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(listed.is_subset(&want.lost), "the lost events, by id");
    assert_eq!(listed.len() as u64, want.lost_in_relay.min(20));
    assert_eq!(u["encodings"]["zstd"], forwarded + 1, "{u}");
    assert_eq!(u["relays"][0]["relay_id"], RELAY_ID, "{u}");
    assert_eq!(
        u["reported"][0],
        serde_json::json!({"kind": "discarded", "reason": "queue_overflow",
            "category": "error", "quantity": 5})
    );
    // The read API cannot see outcomes: the missing events' fate is unknown there; only the
    // upstream's record says Relay lost them.
    assert_eq!(
        r["loss"]["outcome_unknown"],
        want.lost_in_relay + want.refused_by_upstream,
        "{}",
        r["loss"]
    );
    let gate = r["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "max_lost_in_relay_ratio")
        .unwrap();
    assert_eq!(gate["passed"], false);
    assert!(
        gate["measured"].as_str().unwrap().contains(&format!(
            "{} of 140 envelopes Relay answered 200 were never delivered",
            want.lost_in_relay
        )),
        "{gate}"
    );
    let md = std::fs::read_to_string(folder.join("report.md")).unwrap();
    assert!(md.contains("## Relay and its upstream"), "{md}");
    assert!(
        md.contains(&format!(
            "Relay answered 200 to 140 envelopes: its upstream took {}, Relay lost {}",
            want.delivered, want.lost_in_relay
        )),
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

/// Preflight asks the upstream before any load is sent, and names what is wrong.
#[tokio::test]
async fn a_wrong_upstream_address_or_token_stops_the_run_before_it_sends() {
    let sim = upstream_sim(UpstreamMode::Proxy, "").await;
    let plain = sentry_load_sim::start(
        SimConfig::in_memory(1, KEY, "token"),
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let closed = support::free_port();
    for (upstream, token, code, says) in [
        (
            plain.addr().to_string(),
            "token",
            2,
            "not a sim standing as Relay's upstream",
        ),
        (
            sim.addr().to_string(),
            "wrong-token",
            2,
            "refused the token",
        ),
        (format!("127.0.0.1:{closed}"), "token", 3, "unreachable"),
    ] {
        let a = sim.addr();
        let profile = format!(
            "seed = 3\n[target]\nkind = \"relay\"\ndsn = \"http://{KEY}@{a}/1\"\n\
             [traffic]\nrate = 50\ncount = 10\n\
             [verify]\npoll_interval = \"100ms\"\ndeadline = \"2s\"\nfidelity_sample = 0\n\
             [verify.sentry_api]\nurl = \"http://{a}/\"\ntoken = \"token\"\n\
             [verify.relay_upstream]\nurl = \"http://{upstream}/\"\ntoken = \"{token}\"\n"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.toml"), &profile).unwrap();
        let out = sentry_load(dir.path(), &["run", "--profile", "p.toml"]).await;
        let text = shown(&out);
        assert_eq!(out.status.code(), Some(code), "{text}");
        assert!(text.contains(says), "{text}");
        assert!(!text.contains("wrong-token"), "no token in {text}");
    }
    let summary = upstream_summary(&sim).await;
    assert_eq!(summary["envelopes"], 0, "nothing was sent: {summary}");
}

#[tokio::test]
#[ignore = "needs the test services and tools: scripts/test.sh starts them and runs it"]
async fn a_managed_relay_registers_and_reads_its_configs_with_relays_own_code() {
    let python = std::env::var("SENTRY_LOAD_TEST_RELAY_PYTHON")
        .expect("needs SENTRY_LOAD_TEST_RELAY_PYTHON (run scripts/test.sh)");
    let sim = upstream_sim(UpstreamMode::Managed, "").await;
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
    let summary = upstream_summary(&sim).await;
    assert_eq!(summary["registered"], 1, "{summary}");
    assert_eq!(summary["mode"], "managed");
    assert_eq!(summary["global_config_requests"], 1);
}

/// Stands for the random id the script registers with.
const RELAY_ID_OF_SCRIPT: &str = "the script's relay id";
