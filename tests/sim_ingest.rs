//! The sim's ingest endpoints as a client sees them: `/store/` with a zstd body, `/minidump/`
//! with a multipart dump, a refused non-minidump, ground truth for each, and both events
//! served processed by the event-details API.

mod support;

use sentry_load_sim::{Decision, SimConfig};
use support::{head_only, status_of};

const KEY: &str = "0123456789abcdef0123456789abcdef";
const ENVELOPE: &str = "/api/1/envelope/";

async fn sim() -> sentry_load_sim::SimHandle {
    let mut config = SimConfig::in_memory(1, KEY, "token");
    config.batch_interval = std::time::Duration::from_millis(20);
    sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
}

fn auth() -> String {
    format!("Sentry sentry_version=7, sentry_client=test/1, sentry_key={KEY}")
}

#[tokio::test]
async fn store_takes_a_zstd_event_and_minidump_takes_a_multipart_dump() {
    let sim = sim().await;
    let client = reqwest::Client::new();
    let event = serde_json::json!({
        "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
        "timestamp": 1_795_359_339.0,
        "platform": "python",
        "message": "hello",
    });
    let body = zstd::encode_all(&serde_json::to_vec(&event).unwrap()[..], 3).unwrap();
    let resp = client
        .post(format!("http://{}/api/1/store/", sim.addr()))
        .header("x-sentry-auth", auth())
        .header("content-encoding", "zstd")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["id"], "9ec79c33ec9942ab8353589fcb2e04dc");

    let dump = [b"MDMP".to_vec(), vec![0u8; 1000]].concat();
    let native =
        serde_json::json!({"event_id": "11111111111111111111111111111111", "platform": "native"});
    let form = reqwest::multipart::Form::new()
        .part(
            "upload_file_minidump",
            reqwest::multipart::Part::bytes(dump).file_name("crash.dmp"),
        )
        .text("sentry", native.to_string());
    let resp = client
        .post(format!(
            "http://{}/api/1/minidump/?sentry_key={KEY}",
            sim.addr()
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.text().await.unwrap(),
        "11111111-1111-1111-1111-111111111111"
    );

    let form = reqwest::multipart::Form::new().part(
        "upload_file_minidump",
        reqwest::multipart::Part::bytes(b"not a dump".to_vec()),
    );
    let resp = client
        .post(format!(
            "http://{}/api/1/minidump/?sentry_key={KEY}",
            sim.addr()
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["detail"], "invalid minidump");

    // Both are processed and served like envelope events: the store event as sent, the
    // minidump event with what reading its (truncated) dump found.
    let details = |id: &'static str| {
        let client = client.clone();
        let url = format!("http://{}/api/0/projects/sentry/1/events/{id}/", sim.addr());
        async move {
            for _ in 0..100 {
                let resp = client.get(&url).bearer_auth("token").send().await.unwrap();
                if resp.status() == 200 {
                    return resp.json::<serde_json::Value>().await.unwrap();
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            panic!("{url} never answered");
        }
    };
    let stored = details("9ec79c33ec9942ab8353589fcb2e04dc").await;
    assert_eq!(stored["message"], "hello");
    let crash = details("11111111111111111111111111111111").await;
    let errors = crash["errors"].to_string();
    assert!(errors.contains("minidump"), "{crash}");

    let truth = sim.truth().clone();
    sim.stop().await.unwrap();
    assert_eq!(truth.ids_with(Decision::Stored).len(), 2);
}

/// The answers Relay gives that the harness must classify: a malformed key 400, no auth 401,
/// an unknown key 200 while its config is fetched and 403 after, an event over 1 MiB and a
/// body over nginx's 100 MiB 413.
#[tokio::test]
async fn keys_and_sizes_are_answered_as_relay_and_nginx_answer_them() {
    let mut config = SimConfig::in_memory(1, KEY, "token");
    config.config_fetch = std::time::Duration::from_millis(200);
    let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/1/envelope/", sim.addr());
    let envelope = |payload: &str| {
        format!(
            "{{}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
            payload.len()
        )
    };
    let small = envelope(r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","message":"x"}"#);
    let post = |key: Option<&str>, body: Vec<u8>| {
        let mut req = client.post(&url).body(body);
        if let Some(k) = key {
            req = req.header(
                "x-sentry-auth",
                format!("Sentry sentry_version=7, sentry_key={k}"),
            );
        }
        req.send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(post(Some("not-a-key"), small.clone().into()).await.unwrap()),
        400
    );
    assert_eq!(status(post(None, small.clone().into()).await.unwrap()), 401);
    let unknown = "ffffffffffffffffffffffffffffffff";
    assert_eq!(
        status(post(Some(unknown), small.clone().into()).await.unwrap()),
        200,
        "Relay cannot tell before the config arrives"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let resp = post(Some(unknown), small.clone().into()).await.unwrap();
    assert_eq!(resp.status(), 403);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "event submission rejected with_reason: ProjectId"
    );
    let big = envelope(&format!(
        r#"{{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","message":"{}"}}"#,
        "x".repeat(1024 * 1024)
    ));
    let resp = post(Some(KEY), big.into()).await.unwrap();
    assert_eq!(resp.status(), 413);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("envelope exceeded size limits for type 'event'"),
        "{body}"
    );
    let huge = vec![b' '; 100 * 1024 * 1024 + 1];
    assert_eq!(status(post(Some(KEY), huge).await.unwrap()), 413);
    let truth = sim.truth().entries();
    assert_eq!(
        truth
            .iter()
            .filter(|e| e.decision == Decision::InvalidKey)
            .count(),
        1
    );
    sim.stop().await.unwrap();
}

/// A request without a key is refused from its head, before a byte of its body is read; a
/// keyed one holds room for its body, and once the sim holds as many bodies as it may, the
/// next is answered 503 at once; the room comes back when those requests end.
#[tokio::test]
async fn bodies_are_read_only_after_the_key_and_only_while_there_is_room() {
    let sim = sim().await;
    let body_limit = sentry_load_sim::BODY_LIMIT;
    let mut keyless = head_only(sim.addr(), ENVELOPE, None, 90 << 20).await;
    let status = status_of(&mut keyless).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 401 Unauthorized"));

    let room = sentry_load_sim::BUFFERED_BODIES_LIMIT / body_limit;
    let mut held = Vec::new();
    for _ in 0..room {
        held.push(head_only(sim.addr(), ENVELOPE, Some(&auth()), body_limit).await);
    }
    // Each of those is waiting for its body now, with its room held.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut one_more = head_only(sim.addr(), ENVELOPE, Some(&auth()), body_limit).await;
    let status = status_of(&mut one_more).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 503 Service Unavailable"));

    drop(held);
    let envelope = format!(
        "{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dd\"}}\n{{\"type\":\"event\"}}\n\
         {{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dd\",\"timestamp\":{},\"platform\":\"python\"}}\n",
        sentry_load_common::clock::now_unix_micros() as f64 / 1e6
    );
    let client = reqwest::Client::new();
    let mut answered = 0;
    for _ in 0..50 {
        let resp = client
            .post(format!("http://{}/api/1/envelope/", sim.addr()))
            .header("x-sentry-auth", auth())
            .body(envelope.clone())
            .send()
            .await
            .unwrap();
        answered = resp.status().as_u16();
        if answered == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(answered, 200, "the room came back");
    sim.stop().await.unwrap();
}

/// An envelope bomb (a few hundred KB of zstd that unpacks to the envelope limit) is decoded
/// off the runtime: on a runtime of one thread, a small request sent while the bomb is being
/// decoded is answered first.
#[tokio::test]
async fn an_envelope_bomb_stalls_no_other_request() {
    let sim = sim().await;
    let bomb = zstd::encode_all(&vec![b' '; 200 << 20][..], 19).unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/1/envelope/", sim.addr());
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let bombed = {
        let (client, url, order) = (client.clone(), url.clone(), order.clone());
        tokio::spawn(async move {
            let resp = client
                .post(url)
                .header("x-sentry-auth", auth())
                .header("content-encoding", "zstd")
                .body(bomb)
                .send()
                .await
                .unwrap();
            order.lock().unwrap().push("bomb");
            resp.status().as_u16()
        })
    };
    // Let the bomb arrive and its decoding start.
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let envelope = format!(
        "{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04de\"}}\n{{\"type\":\"event\"}}\n\
         {{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04de\",\"timestamp\":{},\"platform\":\"python\"}}\n",
        sentry_load_common::clock::now_unix_micros() as f64 / 1e6
    );
    let resp = client
        .post(&url)
        .header("x-sentry-auth", auth())
        .body(envelope)
        .send()
        .await
        .unwrap();
    order.lock().unwrap().push("small");
    assert_eq!(resp.status(), 200);
    assert_eq!(bombed.await.unwrap(), 400, "the bomb is no envelope");
    assert_eq!(*order.lock().unwrap(), ["small", "bomb"]);
    sim.stop().await.unwrap();
}

/// Fault windows read from the first ingest request: a sim that waited for its run still
/// plays the whole script to it; read from the start, the window has passed.
#[tokio::test]
async fn fault_windows_count_from_the_first_request_when_asked() {
    let faults = "[[fault]]\nkind = \"unavailable\"\nfrom = \"0s\"\nuntil = \"1s\"\n";
    let mut statuses = Vec::new();
    for origin in [
        sentry_load_sim::script::ScriptOrigin::FirstRequest,
        sentry_load_sim::script::ScriptOrigin::Start,
    ] {
        let mut config = SimConfig::in_memory(1, KEY, "token");
        config.faults = sentry_load_sim::script::FaultScript::parse("f.toml", faults).unwrap();
        config.faults_from = origin;
        let sim = sentry_load_sim::start(config, ([127, 0, 0, 1], 0).into())
            .await
            .unwrap();
        // The sim waits for its run longer than the window lasts.
        tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
        let envelope = format!(
            "{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04df\"}}\n{{\"type\":\"event\"}}\n\
             {{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04df\",\"timestamp\":{},\"platform\":\"python\"}}\n",
            sentry_load_common::clock::now_unix_micros() as f64 / 1e6
        );
        let status = reqwest::Client::new()
            .post(format!("http://{}/api/1/envelope/", sim.addr()))
            .header("x-sentry-auth", auth())
            .body(envelope)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        statuses.push(status);
        sim.stop().await.unwrap();
    }
    assert_eq!(statuses, [503, 200]);
}
