use super::*;
use sentry_load_common::{RUN_TAG, SEQ_TAG};
use std::time::{Duration, UNIX_EPOCH};

fn gen_() -> Generator {
    Generator::new(RunId::parse("20261122-000000-abcdef").unwrap(), 42, 10)
}

fn parse(body: &[u8]) -> (serde_json::Value, serde_json::Value) {
    let mut lines = body.split(|b| *b == b'\n');
    let header = serde_json::from_slice(lines.next().unwrap()).unwrap();
    let item: serde_json::Value = serde_json::from_slice(lines.next().unwrap()).unwrap();
    assert_eq!(item["type"], "event");
    let payload = lines.next().unwrap();
    assert_eq!(item["length"].as_u64().unwrap() as usize, payload.len());
    (header, serde_json::from_slice(payload).unwrap())
}

#[test]
fn error_envelopes_carry_run_seq_id_and_intended_time() {
    let at = UNIX_EPOCH + Duration::from_millis(1_795_359_339_250);
    let built = gen_().envelope(17, EventKind::Error, at);
    let (header, event) = parse(&built.body);
    let uuid = |v: &serde_json::Value| uuid::Uuid::parse_str(v.as_str().unwrap()).unwrap();
    assert_eq!(uuid(&header["event_id"]), built.event_id);
    assert_eq!(uuid(&event["event_id"]), built.event_id);
    assert_eq!(event["tags"][RUN_TAG], "20261122-000000-abcdef");
    assert_eq!(event["tags"][SEQ_TAG], "17");
    assert_eq!(event["timestamp"].as_f64().unwrap(), 1_795_359_339.25);
    // The SDK leaves out the default level, `error`; Relay fills it in.
    assert!(
        event.get("level").is_none_or(|l| l == "error"),
        "{}",
        event["level"]
    );
    let frames = event["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array()
        .unwrap();
    assert!(frames.len() >= 3);
}

#[test]
fn same_seed_same_payload_except_sent_at() {
    let at = UNIX_EPOCH + Duration::from_secs(1_795_359_339);
    let (_, a) = parse(&gen_().envelope(5, EventKind::Error, at).body);
    let (_, b) = parse(&gen_().envelope(5, EventKind::Error, at).body);
    assert_eq!(a, b);
    let (_, c) = parse(&gen_().envelope(6, EventKind::Error, at).body);
    assert_ne!(a["event_id"], c["event_id"]);
}

#[test]
fn fingerprints_spread_over_the_configured_issues() {
    let g = Generator::new(RunId::parse("r").unwrap(), 1, 4);
    let at = UNIX_EPOCH;
    let fps: std::collections::HashSet<String> = (0..400)
        .map(|s| parse(&g.envelope(s, EventKind::Error, at).body).1["fingerprint"][0].to_string())
        .collect();
    assert_eq!(fps.len(), 4);
}

#[test]
fn gzip_round_trips() {
    use std::io::Read;
    let body = gen_().envelope(1, EventKind::Error, UNIX_EPOCH).body;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gzip(&body)[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, body);
}

/// The envelope with `sent_at`'s value blanked, for comparisons.
fn without_sent_at(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(body.to_vec()).unwrap();
    let (header, rest) = text.split_once('\n').unwrap();
    let mut h: serde_json::Value = serde_json::from_str(header).unwrap();
    assert!(h["sent_at"].is_string(), "{header}");
    h["sent_at"] = serde_json::Value::Null;
    format!("{h}\n{rest}").into_bytes()
}

#[test]
fn rendered_envelopes_equal_the_sdks_own_serialization() {
    let g = Generator::new(RunId::parse("20261122-000000-abcdef").unwrap(), 42, 1000);
    for seq in 0..500u64 {
        // Whole seconds, and microsecond fractions.
        let at =
            UNIX_EPOCH + Duration::from_micros(1_795_359_339_000_000 + seq * 1_001 * (seq % 2));
        let rendered = g.envelope(seq, EventKind::Error, at).body;
        let direct = g.envelope_via_sdk(seq, EventKind::Error, at, UNIX_EPOCH);
        assert_eq!(
            String::from_utf8(without_sent_at(&rendered)).unwrap(),
            String::from_utf8(without_sent_at(&direct)).unwrap(),
            "seq {seq}"
        );
    }
}

#[test]
fn templates_have_a_hole_for_every_per_event_field() {
    let g = gen_();
    // Header: id, sent_at. Payload: id, fingerprint issue, timestamp, seq tag, issue tag —
    // and one timestamp per breadcrumb (3 to 15).
    for t in &g.errors {
        assert!((7 + 3..=7 + 15).contains(&t.holes()), "{}", t.holes());
    }
}
