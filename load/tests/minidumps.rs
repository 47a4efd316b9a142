//! Every generated minidump is read and stackwalked by rust-minidump's processor (the library
//! Sentry's symbolicator builds on) and yields the crash reason, crashing thread and modules the
//! generator intended — and the event sent with it names the same modules.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sentry_load_common::{EventKind, RunId};
use sentry_load_config::RealismKnobs;
use sentry_load_engine::Generator;
use sentry_load_engine::generate::minidump::Crash;
use serde_json::Value;
use std::time::{Duration, UNIX_EPOCH};

/// The processor's stable JSON output for a dump.
async fn process(bytes: &[u8]) -> Value {
    let dump = minidump::Minidump::read(bytes).expect("the processor reads the dump");
    let provider =
        minidump_unwind::Symbolizer::new(minidump_unwind::simple_symbol_supplier(vec![]));
    let state = minidump_processor::process_minidump(&dump, &provider)
        .await
        .expect("the processor processes the dump");
    let mut json = Vec::new();
    state.print_json(&mut json, false).unwrap();
    serde_json::from_slice(&json).unwrap()
}

fn hex(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[tokio::test]
async fn crashes_process_to_the_intended_reason_thread_and_modules() {
    for seed in 0..40u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let size = 20_000 + (seed as usize) * 9_000;
        let crash = Crash::draw(&mut rng, size, 4 + seed as usize % 20);
        let bytes = crash.write(&mut rng);
        let state = process(&bytes).await;
        let info = &state["crash_info"];
        assert_eq!(info["type"], crash.reason.name, "seed {seed}: {info}");
        if crash.reason.access.is_some() {
            assert_eq!(hex(&info["address"]), crash.address, "seed {seed}");
        }
        let crashing = info["crashing_thread"].as_u64().unwrap() as usize;
        assert_eq!(crashing, crash.crashing, "seed {seed}");
        let thread = &state["threads"][crashing];
        assert_eq!(
            thread["thread_id"].as_u64(),
            Some(u64::from(crash.threads[crash.crashing])),
            "seed {seed}"
        );
        // The crashing thread's first frame is at the instruction pointer, in the executable.
        let frames = thread["frames"].as_array().unwrap();
        assert_eq!(hex(&frames[0]["offset"]), crash.rip, "seed {seed}");
        assert_eq!(frames[0]["module"], "AcmeStudio.exe", "seed {seed}");
        // Stack scanning finds return addresses into the modules.
        assert!(frames.len() >= 2, "seed {seed}: {} frames", frames.len());
        let modules = state["modules"].as_array().unwrap();
        assert_eq!(modules.len(), crash.modules.len(), "seed {seed}");
        for (m, want) in modules.iter().zip(&crash.modules) {
            assert_eq!(hex(&m["base_addr"]), want.base);
            assert_eq!(hex(&m["end_addr"]) - want.base, u64::from(want.size));
            assert_eq!(m["filename"], want.code_file.rsplit('\\').next().unwrap());
            assert_eq!(m["debug_file"], want.debug_file);
            assert_eq!(
                m["debug_id"].as_str().unwrap().to_lowercase(),
                want.debug_id().replace('-', "").to_lowercase()
            );
            assert_eq!(
                m["code_id"].as_str().unwrap().to_lowercase(),
                want.code_id().to_lowercase()
            );
        }
        // Sizes come out near what was asked for.
        let ratio = bytes.len() as f64 / size as f64;
        assert!(
            (0.8..1.25).contains(&ratio),
            "seed {seed}: {} for {size}",
            bytes.len()
        );
    }
}

#[tokio::test]
async fn native_events_name_the_modules_of_their_minidump() {
    let g = Generator::new(
        RunId::parse("minidump-test").unwrap(),
        9,
        &RealismKnobs::defaults(10),
        &[EventKind::Native],
    );
    for seq in 0..60 {
        let at = UNIX_EPOCH + Duration::from_secs(1_795_359_339);
        let body = g.envelope(seq, EventKind::Native, at).body;
        let (event, dump) = split(&body);
        let state = process(&dump).await;
        assert_eq!(
            event["exception"]["values"][0]["type"], state["crash_info"]["type"],
            "seq {seq}"
        );
        let images = event["debug_meta"]["images"].as_array().unwrap();
        let modules = state["modules"].as_array().unwrap();
        assert_eq!(images.len(), modules.len());
        for (image, m) in images.iter().zip(modules) {
            assert_eq!(hex(&image["image_addr"]), hex(&m["base_addr"]));
            assert_eq!(
                image["image_size"].as_u64().unwrap(),
                hex(&m["end_addr"]) - hex(&m["base_addr"])
            );
            assert_eq!(
                // The SDK type writes `id`, which Relay reads as `debug_id`.
                image["id"]
                    .as_str()
                    .unwrap()
                    .replace('-', "")
                    .to_lowercase(),
                m["debug_id"].as_str().unwrap().to_lowercase()
            );
            assert_eq!(
                image["code_id"].as_str().unwrap().to_lowercase(),
                m["code_id"].as_str().unwrap().to_lowercase()
            );
        }
    }
}

/// The event and the minidump of a native envelope.
fn split(body: &[u8]) -> (Value, Vec<u8>) {
    let (_, items) = sentry_load_common::envelope::split(body).unwrap();
    assert!(items[1].is_minidump(), "{:?}", items[1].header);
    (
        serde_json::from_slice(items[0].payload).unwrap(),
        items[1].payload.to_vec(),
    )
}
