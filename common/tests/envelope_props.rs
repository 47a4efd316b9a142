//! Property tests of the envelope framing: any bytes are read without a panic, and any
//! envelope written by the framing rules (with or without `length`, payloads holding
//! newlines) reads back item for item.

use proptest::prelude::*;
use sentry_load_common::envelope::{ItemType, split};

/// An item: its type name, whether its header carries `length`, its payload.
fn item() -> impl Strategy<Value = (String, bool, Vec<u8>)> {
    let ty = prop_oneof![
        Just("event".to_owned()),
        Just("transaction".to_owned()),
        Just("attachment".to_owned()),
        "[a-z_]{1,12}",
    ];
    (
        ty,
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        // Without `length` the payload runs to the next newline: it holds none, and is not
        // blank (a blank line between items is skipped).
        .prop_map(|(ty, with_length, mut payload)| {
            if !with_length {
                payload.retain(|b| *b != b'\n');
                if payload.iter().all(u8::is_ascii_whitespace) {
                    payload = b"{}".to_vec();
                }
            }
            (ty, with_length, payload)
        })
}

/// Cases per property: 4,096 in the test suite; `SENTRY_LOAD_PROPTEST_CASES` for a longer run.
fn cases() -> u32 {
    std::env::var("SENTRY_LOAD_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn any_bytes_are_read_without_a_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = split(&body);
    }

    #[test]
    fn any_header_line_then_noise_is_read_without_a_panic(
        noise in proptest::collection::vec(any::<u8>(), 0..256),
        length in 0usize..1000,
    ) {
        let mut body = format!("{{}}\n{{\"type\":\"attachment\",\"length\":{length}}}\n").into_bytes();
        body.extend(noise);
        let _ = split(&body);
    }

    #[test]
    fn written_envelopes_read_back_item_for_item(items in proptest::collection::vec(item(), 0..8)) {
        let mut body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n".to_vec();
        for (ty, with_length, payload) in &items {
            let header = if *with_length {
                format!("{{\"type\":\"{ty}\",\"length\":{}}}\n", payload.len())
            } else {
                format!("{{\"type\":\"{ty}\"}}\n")
            };
            body.extend(header.as_bytes());
            body.extend(payload);
            body.push(b'\n');
        }
        let (header, read) = split(&body).unwrap();
        prop_assert_eq!(header.event_id.as_deref(), Some("9ec79c33ec9942ab8353589fcb2e04dc"));
        prop_assert_eq!(read.len(), items.len());
        for (got, (ty, _, payload)) in read.iter().zip(&items) {
            prop_assert_eq!(got.header.ty.as_str(), ty.as_str());
            prop_assert_eq!(got.header.ty.clone(), ItemType::from(ty.clone()));
            prop_assert_eq!(got.payload, payload.as_slice());
        }
    }
}
