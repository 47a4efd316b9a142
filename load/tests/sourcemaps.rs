//! Every JavaScript frame, resolved through the generated sourcemap with the `sourcemap` crate
//! (Sentry's own sourcemap library), lands on the intended original file, line, column and
//! function — and on the code the frame is about: the call to the next function, or the `new`
//! of the error the event reports.

use sentry_load_common::{EventKind, RunId};
use sentry_load_config::RealismKnobs;
use sentry_load_engine::Generator;
use sentry_load_engine::generate::js_bundle::Bundle;
use sourcemap::{SourceMap, SourceView};
use std::time::UNIX_EPOCH;

/// The original text at a resolved token, and the function enclosing it.
fn original_at<'a>(sm: &'a SourceMap, src: &str, line: u32, col: u32) -> (&'a str, String) {
    let idx = (0..sm.get_source_count())
        .find(|i| sm.get_source(*i) == Some(src))
        .unwrap();
    let text = sm.get_source_contents(idx).expect("sources are embedded");
    let lines: Vec<&str> = text.lines().collect();
    let at = &lines[line as usize][col as usize..];
    let function = lines[..=line as usize]
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("export function "))
        .and_then(|l| l.split('(').next())
        .unwrap()
        .to_owned();
    (at, function)
}

#[test]
fn every_chain_resolves_to_its_intended_originals() {
    for seed in [1u64, 42, 2026] {
        let bundle = Bundle::generate(seed);
        let sm = SourceMap::from_slice(&bundle.sourcemap).unwrap();
        assert_eq!(sm.get_debug_id(), Some(bundle.debug_id.into()));
        let view = SourceView::new(bundle.minified.as_str().into());
        for start in 0..bundle.functions() {
            let ((ty, _), frames) = bundle.chain(start, 8);
            for (k, f) in frames.iter().enumerate() {
                let token = sm.lookup_token(f.line - 1, f.column - 1).unwrap();
                // The frame is exactly at a mapped position, not merely after one.
                assert_eq!(
                    (token.get_dst_line(), token.get_dst_col()),
                    (f.line - 1, f.column - 1)
                );
                let o = &f.original;
                assert_eq!(token.get_source(), Some(o.source.as_str()));
                assert_eq!(
                    (token.get_src_line() + 1, token.get_src_col() + 1),
                    (o.line, o.column)
                );
                let (code, enclosing) =
                    original_at(&sm, &o.source, token.get_src_line(), token.get_src_col());
                assert_eq!(enclosing, o.function);
                if k + 1 == frames.len() {
                    assert!(code.starts_with(&format!("new {ty}(")), "{code}");
                } else {
                    let callee = &frames[k + 1].original.function;
                    assert!(code.starts_with(&format!("{callee}(")), "{code}");
                }
                // Sentry's own name guess from the minified source agrees.
                assert_eq!(
                    sm.get_original_function_name(
                        f.line - 1,
                        f.column - 1,
                        &f.minified_function,
                        &view
                    ),
                    Some(o.function.as_str()),
                    "frame {k} from {start}"
                );
            }
        }
    }
}

#[test]
fn every_frame_of_every_event_resolves_into_the_original_sources() {
    let g = Generator::new(
        RunId::parse("sourcemap-test").unwrap(),
        5,
        &RealismKnobs::defaults(50),
        &[EventKind::Javascript],
    );
    let bundle = g.bundle();
    let sm = SourceMap::from_slice(&bundle.sourcemap).unwrap();
    let view = SourceView::new(bundle.minified.as_str().into());
    for seq in 0..300 {
        let body = g.envelope(seq, EventKind::Javascript, UNIX_EPOCH).body;
        let payload = sentry_load_common::envelope::event_payload(&body).unwrap();
        let event: serde_json::Value = serde_json::from_slice(payload).unwrap();
        let exception = &event["exception"]["values"][0];
        let frames = exception["stacktrace"]["frames"].as_array().unwrap();
        for (k, f) in frames.iter().enumerate() {
            assert_eq!(f["abs_path"], bundle.url());
            let (line, col) = (
                f["lineno"].as_u64().unwrap() as u32,
                f["colno"].as_u64().unwrap() as u32,
            );
            let token = sm.lookup_token(line - 1, col - 1).unwrap();
            assert_eq!(
                (token.get_dst_line(), token.get_dst_col()),
                (line - 1, col - 1)
            );
            let (code, enclosing) = original_at(
                &sm,
                token.get_source().unwrap(),
                token.get_src_line(),
                token.get_src_col(),
            );
            let minified = f["function"].as_str().unwrap();
            assert_eq!(
                sm.get_original_function_name(line - 1, col - 1, minified, &view),
                Some(enclosing.as_str())
            );
            if k + 1 == frames.len() {
                let ty = exception["type"].as_str().unwrap();
                assert!(code.starts_with(&format!("new {ty}(")), "seq {seq}: {code}");
            } else {
                assert!(!code.starts_with("new "), "seq {seq}: {code}");
            }
        }
    }
}
