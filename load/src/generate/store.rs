//! Bodies for Sentry 9's endpoints, made from the envelope the generator renders (so the event
//! is the same bytes either way):
//!
//! - `/store/`: the event item's JSON alone. It must start with `{`: Sentry 9 takes any other
//!   first byte for base64 (getsentry/sentry `src/sentry/coreapi.py` at tag 9.1.2, blob
//!   cdc437134f9bf3a9110fb54ea3ed8559b7588bee, `decode_data`).
//! - `/minidump/`: `multipart/form-data` with the event JSON in the `sentry` field and the dump
//!   in `upload_file_minidump` (`src/sentry/web/api.py`, blob
//!   dc794956a8ecdece90648196a5df6d33bb6ce070, `MinidumpView`; Relay's minidump endpoint reads
//!   the same fields).
//!
//! ```text
//! --sentry-load-boundary\r\n
//! Content-Disposition: form-data; name="sentry"\r\n\r\n
//! {"event_id":"…",…}\r\n
//! --sentry-load-boundary\r\n
//! Content-Disposition: form-data; name="upload_file_minidump"; filename="crash.dmp"\r\n
//! Content-Type: application/octet-stream\r\n\r\n
//! MDMP…\r\n
//! --sentry-load-boundary--\r\n
//! ```

use sentry_load_common::envelope::{self, EnvelopeError, ItemType};

const BOUNDARY: &str = "sentry-load-2f6d4c0a9b1e47f5";
/// The `Content-Type` of a minidump body.
pub const MINIDUMP_CONTENT_TYPE: &str =
    "multipart/form-data; boundary=sentry-load-2f6d4c0a9b1e47f5";

/// Replaces the envelope in `buf` by the event JSON `/store/` takes.
pub fn store_body(buf: &mut Vec<u8>) -> Result<(), EnvelopeError> {
    let range = {
        let (_, items) = envelope::split(buf)?;
        let item = items
            .iter()
            .find(|i| i.header.ty == ItemType::Event)
            .ok_or(EnvelopeError::Unexpected("the envelope has no event item"))?;
        offset_in(buf, item.payload)
    };
    buf.truncate(range.end);
    buf.drain(..range.start);
    Ok(())
}

/// Replaces the envelope in `buf` by the multipart body `/minidump/` takes.
pub fn minidump_body(buf: &mut Vec<u8>) -> Result<(), EnvelopeError> {
    let (event, dump) = {
        let (_, items) = envelope::split(buf)?;
        let event = items
            .iter()
            .find(|i| i.header.ty == ItemType::Event)
            .ok_or(EnvelopeError::Unexpected("the envelope has no event item"))?;
        let dump = items
            .iter()
            .find(|i| i.is_minidump())
            .ok_or(EnvelopeError::Unexpected(
                "the envelope has no event.minidump attachment",
            ))?;
        (offset_in(buf, event.payload), offset_in(buf, dump.payload))
    };
    let mut out = Vec::with_capacity(buf.len() + 400);
    out.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"sentry\"\r\n\r\n")
            .as_bytes(),
    );
    out.extend_from_slice(&buf[event]);
    out.extend_from_slice(
        format!(
            "\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload_file_minidump\"; \
             filename=\"crash.dmp\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(&buf[dump]);
    out.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    *buf = out;
    Ok(())
}

/// Where `part` (a slice of `whole`) sits in `whole`.
fn offset_in(whole: &[u8], part: &[u8]) -> std::ops::Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_and_the_dump_come_out_of_the_envelope() {
        let envelope = b"{\"event_id\":\"e\"}\n{\"type\":\"event\",\"length\":9}\n{\"a\":\"b\"}\n\
{\"type\":\"attachment\",\"length\":6,\"attachment_type\":\"event.minidump\"}\nMDMP\n\n";
        let mut buf = envelope.to_vec();
        store_body(&mut buf).unwrap();
        assert_eq!(buf, b"{\"a\":\"b\"}");
        let mut buf = envelope.to_vec();
        minidump_body(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf);
        assert!(
            text.contains("name=\"sentry\"\r\n\r\n{\"a\":\"b\"}\r\n"),
            "{text}"
        );
        assert!(text.contains("filename=\"crash.dmp\""), "{text}");
        assert!(buf.windows(8).any(|w| w == b"MDMP\n\n\r\n"), "{text}");
        assert!(text.ends_with(&format!("--{BOUNDARY}--\r\n")));
        assert!(MINIDUMP_CONTENT_TYPE.ends_with(BOUNDARY));
        let mut no_event = b"{}\n".to_vec();
        assert!(store_body(&mut no_event).is_err());
    }
}
