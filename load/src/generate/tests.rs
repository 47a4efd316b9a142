use super::*;
use sentry_load_common::{RUN_TAG, SEQ_TAG};
use std::time::{Duration, UNIX_EPOCH};

fn all_kinds(issues: u32) -> Generator {
    Generator::new(
        RunId::parse("20261122-000000-abcdef").unwrap(),
        42,
        &RealismKnobs::defaults(issues),
        &EventKind::ALL,
    )
}

/// The envelope header, then each item's header and payload, read by the envelope framing
/// (`sentry_load_common::envelope`); every item carries its `length` and ends with a newline,
/// as the SDK writes them.
pub(crate) fn items(body: &[u8]) -> (serde_json::Value, Vec<(serde_json::Value, Vec<u8>)>) {
    let (_, parsed) = sentry_load_common::envelope::split(body).unwrap();
    let line =
        |from: usize| &body[from..from + body[from..].iter().position(|b| *b == b'\n').unwrap()];
    let header = serde_json::from_slice(line(0)).unwrap();
    let mut out = vec![];
    for item in parsed {
        let start = item.payload.as_ptr() as usize - body.as_ptr() as usize;
        let end = start + item.payload.len();
        assert_eq!(item.header.length, Some(item.payload.len()));
        assert_eq!(
            body.get(end),
            Some(&b'\n'),
            "the payload ends with a newline"
        );
        // The item header is the line before the payload.
        let header_start = body[..start - 1].iter().rposition(|b| *b == b'\n').unwrap() + 1;
        let item_header = serde_json::from_slice(&body[header_start..start - 1]).unwrap();
        out.push((item_header, item.payload.to_vec()));
    }
    (header, out)
}

fn event(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(&items(body).1[0].1).unwrap()
}

#[test]
fn every_kind_carries_run_seq_id_and_intended_time() {
    let at = UNIX_EPOCH + Duration::from_millis(1_795_359_339_250);
    let g = all_kinds(10);
    for kind in EventKind::ALL {
        let built = g.envelope(17, kind, at);
        let (header, items) = items(&built.body);
        let ev: serde_json::Value = serde_json::from_slice(&items[0].1).unwrap();
        let uuid = |v: &serde_json::Value| uuid::Uuid::parse_str(v.as_str().unwrap()).unwrap();
        assert_eq!(uuid(&header["event_id"]), built.event_id, "{kind}");
        assert_eq!(uuid(&ev["event_id"]), built.event_id, "{kind}");
        assert_eq!(ev["tags"][RUN_TAG], "20261122-000000-abcdef", "{kind}");
        assert_eq!(ev["tags"][SEQ_TAG], "17", "{kind}");
        let expected_type = if kind == EventKind::Transaction {
            "transaction"
        } else {
            "event"
        };
        assert_eq!(items[0].0["type"], expected_type);
        match kind {
            EventKind::Transaction => {
                // Finish time = intended time; the trace is the event's own.
                assert_eq!(ev["timestamp"], "2026-11-22T14:55:39.25Z");
                assert!(ev["start_timestamp"].as_f64().unwrap() < 1_795_359_339.25);
                let trace = ev["contexts"]["trace"]["trace_id"].as_str().unwrap();
                assert_eq!(trace, built.event_id.simple().to_string());
                let root = ev["contexts"]["trace"]["span_id"].as_str().unwrap();
                assert_eq!(root, &built.event_id.simple().to_string()[..16]);
                let children = ev["spans"].as_array().unwrap();
                assert!(children.iter().any(|s| s["parent_span_id"] == root));
                assert!(ev["spans"].as_array().unwrap().len() >= 5);
            }
            _ => assert_eq!(
                ev["timestamp"].as_f64().unwrap(),
                1_795_359_339.25,
                "{kind}"
            ),
        }
        if kind == EventKind::Native {
            assert_eq!(items.len(), 2);
            assert_eq!(items[1].0["attachment_type"], "event.minidump");
            assert_eq!(&items[1].1[..4], b"MDMP");
        } else {
            assert_eq!(items.len(), 1, "{kind}");
        }
    }
}

#[test]
fn same_seed_same_payload_except_sent_at() {
    let at = UNIX_EPOCH + Duration::from_secs(1_795_359_339);
    for kind in EventKind::ALL {
        let a = without_sent_at(&all_kinds(10).envelope(5, kind, at).body);
        let b = without_sent_at(&all_kinds(10).envelope(5, kind, at).body);
        assert_eq!(a, b, "{kind}");
        let c = all_kinds(10).envelope(6, kind, at).body;
        assert_ne!(event(&a)["event_id"], event(&c)["event_id"]);
    }
}

#[test]
fn groups_users_releases_and_environments_follow_the_knobs() {
    let text = "seed = 1\n[target]\nkind = \"embedded\"\n[traffic]\nrate = 1\nduration = \"1s\"\n\
        mix = { error = 1, transaction = 1 }\n\
        [traffic.error]\nissues = 4\nusers = 3\nreleases = 2\nenvironments = [\"production\", \"staging\"]\n\
        [traffic.transaction]\nnames = 5\n";
    let p = sentry_load_config::parse_profile("t.toml", text).unwrap();
    let g = Generator::for_traffic(RunId::parse("r").unwrap(), 1, p.traffic.get_ref());
    let set = |kind, field: &dyn Fn(&serde_json::Value) -> String| {
        (0..400)
            .map(|s| field(&event(&g.envelope(s, kind, UNIX_EPOCH).body)))
            .collect::<std::collections::HashSet<_>>()
    };
    assert_eq!(
        set(EventKind::Error, &|e| e["fingerprint"][0].to_string()).len(),
        4
    );
    assert_eq!(
        set(EventKind::Error, &|e| e["user"]["id"].to_string()).len(),
        3
    );
    let patch = |e: &serde_json::Value| {
        e["release"]
            .as_str()
            .unwrap()
            .rsplit('.')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(set(EventKind::Error, &patch).len(), 2);
    let envs = set(EventKind::Error, &|e| {
        e["environment"].as_str().unwrap().to_owned()
    });
    assert_eq!(envs, ["production".to_owned(), "staging".to_owned()].into());
    assert_eq!(
        set(EventKind::Transaction, &|e| e["transaction"].to_string()).len(),
        5
    );
}

#[test]
fn sizes_follow_the_profiles_distribution() {
    let text = "seed = 1\n[target]\nkind = \"embedded\"\n[traffic]\nrate = 1\nduration = \"1s\"\n\
        [traffic.error]\nsize = { p50 = \"16 KiB\", p99 = \"96 KiB\" }\n";
    let p = sentry_load_config::parse_profile("t.toml", text).unwrap();
    let g = Generator::for_traffic(RunId::parse("r").unwrap(), 1, p.traffic.get_ref());
    let mut sizes: Vec<usize> = (0..4000)
        .map(|s| g.envelope(s, EventKind::Error, UNIX_EPOCH).body.len())
        .collect();
    sizes.sort_unstable();
    let (p50, p99) = (sizes[2000] as f64, sizes[3960] as f64);
    assert!((p50 / 16384.0 - 1.0).abs() < 0.10, "p50 {p50}");
    assert!((p99 / 98304.0 - 1.0).abs() < 0.15, "p99 {p99}");
}

#[test]
fn gzipped_envelopes_decompress_to_the_plain_ones() {
    use std::io::Read;
    // With and without precompressed tails.
    for g in [all_kinds(10), all_kinds(10).precompressed()] {
        for kind in EventKind::ALL {
            for seq in 0..20 {
                let plain = g.envelope(seq, kind, UNIX_EPOCH).body;
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&g.envelope_gzip(seq, kind, UNIX_EPOCH).body[..])
                    .read_to_end(&mut out)
                    .unwrap();
                assert_eq!(
                    without_sent_at(&out),
                    without_sent_at(&plain),
                    "{kind} {seq}"
                );
            }
        }
    }
}

/// The envelope with `sent_at`'s value blanked, for comparisons.
fn without_sent_at(body: &[u8]) -> Vec<u8> {
    let end = body.iter().position(|b| *b == b'\n').unwrap();
    let mut h: serde_json::Value = serde_json::from_slice(&body[..end]).unwrap();
    assert!(h["sent_at"].is_string());
    h["sent_at"] = serde_json::Value::Null;
    let mut out = serde_json::to_vec(&h).unwrap();
    out.extend_from_slice(&body[end..]);
    out
}

#[test]
fn rendered_envelopes_equal_the_sdks_own_serialization() {
    let g = all_kinds(1000);
    for kind in EventKind::ALL {
        for seq in 0..200u64 {
            // Whole seconds, and microsecond fractions.
            let at =
                UNIX_EPOCH + Duration::from_micros(1_795_359_339_000_000 + seq * 1_001 * (seq % 2));
            let rendered = without_sent_at(&g.envelope(seq, kind, at).body);
            let direct = without_sent_at(&g.envelope_via_sdk(seq, kind, at, UNIX_EPOCH));
            if rendered != direct {
                let (r, d) = (
                    String::from_utf8_lossy(&rendered),
                    String::from_utf8_lossy(&direct),
                );
                let i = r
                    .bytes()
                    .zip(d.bytes())
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                panic!(
                    "{kind} seq {seq} differs at {i}: …{}… vs …{}…",
                    &r[i.saturating_sub(80)..(i + 80).min(r.len())],
                    &d[i.saturating_sub(80)..(i + 80).min(d.len())]
                );
            }
        }
    }
}

#[test]
fn every_event_time_is_a_hole() {
    // A template rendered at two times differs in every time: no marker time is left over.
    let g = all_kinds(10);
    for kind in EventKind::ALL {
        let body = g
            .envelope(3, kind, UNIX_EPOCH + Duration::from_secs(1_795_359_339))
            .body;
        let text = String::from_utf8_lossy(&items(&body).1[0].1).into_owned();
        assert!(!text.contains("12345678"), "{kind}: {text}");
        assert!(!text.contains("2009-02-1"), "{kind}: {text}");
        assert!(!text.contains("SLMARK"), "{kind}: {text}");
    }
}

#[test]
fn a_payload_whose_length_changes_digit_count_gets_the_right_item_header() {
    // 1,001 bytes with the sequence marker (9 bytes); 993 once the marker becomes "5".
    let filler = "x".repeat(1001 - r#"{"seq":"SLMARKSEQ","f":""}"#.len());
    let payload = format!(r#"{{"seq":"SLMARKSEQ","f":"{filler}"}}"#);
    assert_eq!(payload.len(), 1001);
    let envelope = format!(
        "{{\"event_id\":\"{}\",\"sent_at\":\"2026-11-22T00:00:00Z\"}}\n{{\"type\":\"event\",\"length\":1001}}\n{payload}\n",
        template::ID_MARKER.simple()
    );
    let t = Template::new(envelope.into_bytes()).unwrap();
    let fill = Fill {
        event_id: uuid::Uuid::nil(),
        timestamp_micros: 0,
        sent_at_micros: 0,
        seq: 5,
        issue: 0,
        user: 0,
        release: 0,
        environment: "production",
    };
    let (_, items) = items(&t.render(&fill));
    assert_eq!(items[0].0["length"], 993);
    assert_eq!(items[0].1.len(), 993);
    assert!(String::from_utf8_lossy(&items[0].1).starts_with(r#"{"seq":"5","#));
}

#[test]
fn variants_too_large_to_build_are_refused_before_they_are_built() {
    let profile = |sizes: &str| {
        let text = format!(
            "seed = 1\n[target]\nkind = \"embedded\"\n[traffic]\nrate = 1\nduration = \"1s\"\n\
             mix = {{ native = 1 }}\n[traffic.native]\nattachment_size = {sizes}\n"
        );
        sentry_load_config::parse_profile("t.toml", &text).unwrap()
    };
    let huge = profile("{ p50 = \"100 MB\", p99 = \"100 MB\" }");
    assert_eq!(
        Generator::template_bytes(huge.traffic.get_ref()),
        58 * 100_000_000
    );
    let e = Generator::check_template_budget(huge.traffic.get_ref()).unwrap_err();
    assert!(
        e.contains("traffic.native.attachment_size") && e.contains("5.4 GiB"),
        "{e}"
    );
    let usual = profile("{ p50 = \"64 KiB\", p99 = \"512 KiB\" }");
    assert!(Generator::check_template_budget(usual.traffic.get_ref()).is_ok());
    assert!(Generator::template_bytes(usual.traffic.get_ref()) < TEMPLATE_BUDGET / 20);
    // Without native crashes in the mix, no minidump is built whatever the size says.
    let mut none = huge.clone();
    let w = |v: f64| sentry_load_config::Weight::try_from(v).unwrap();
    none.traffic
        .get_mut()
        .mix
        .get_mut()
        .set(EventKind::Native, w(0.0));
    none.traffic
        .get_mut()
        .mix
        .get_mut()
        .set(EventKind::Error, w(1.0));
    assert_eq!(Generator::template_bytes(none.traffic.get_ref()), 0);
}
