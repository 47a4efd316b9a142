//! Envelope framing: splitting an envelope into its items, tolerant where Relay is tolerant
//! (the sim's ingest and the fidelity check read envelopes through here), and adding fields
//! to the first item's JSON payload with its `length` kept right (the generator adds what the
//! SDK's types cannot express).
//!
//! ```text
//! {"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","sent_at":"…"}\n
//! {"type":"event","length":41}\n
//! {"message":"hello","level":"error"}\n
//! {"type":"attachment","length":4,"filename":"a.dmp","attachment_type":"event.minidump"}\n
//! MDMP\n
//! ```
//!
//! An item header with `length` is followed by exactly that many bytes; without `length` the
//! payload runs to the next newline.

use serde::Deserialize;

/// The envelope's header line (fields the readers use).
#[derive(Debug, Default, Deserialize)]
pub struct EnvelopeHeader {
    /// The event id the envelope is about.
    pub event_id: Option<String>,
}

/// One item's header (fields the readers use).
#[derive(Debug, Deserialize)]
pub struct ItemHeader {
    /// `event`, `transaction`, `attachment`, …
    #[serde(rename = "type")]
    pub ty: String,
    /// Payload length in bytes.
    pub length: Option<usize>,
    /// For attachments: `event.attachment`, `event.minidump`, …
    pub attachment_type: Option<String>,
}

/// An item: its header and payload.
#[derive(Debug)]
pub struct Item<'a> {
    /// The item's header.
    pub header: ItemHeader,
    /// The payload bytes.
    pub payload: &'a [u8],
}

/// Splits `body` into header and items; the error says what is malformed.
pub fn split(body: &[u8]) -> Result<(EnvelopeHeader, Vec<Item<'_>>), String> {
    let (first, mut rest) = next_line(body);
    let header: EnvelopeHeader =
        serde_json::from_slice(first).map_err(|e| format!("invalid envelope header: {e}"))?;
    let mut items = Vec::new();
    while !rest.is_empty() {
        let (line, after) = next_line(rest);
        if line.iter().all(u8::is_ascii_whitespace) {
            rest = after;
            continue;
        }
        let header: ItemHeader =
            serde_json::from_slice(line).map_err(|e| format!("invalid item header: {e}"))?;
        let (payload, after) = match header.length {
            Some(len) => {
                if after.len() < len {
                    return Err(format!(
                        "item of type `{}` claims {len} bytes, {} remain",
                        header.ty,
                        after.len()
                    ));
                }
                let (p, mut a) = after.split_at(len);
                if a.first() == Some(&b'\n') {
                    a = &a[1..];
                }
                (p, a)
            }
            None => next_line(after),
        };
        items.push(Item { header, payload });
        rest = after;
    }
    Ok((header, items))
}

/// `envelope` with `fields` (`"key":value` pairs, comma-separated JSON) added at the end of
/// its first item's payload, a JSON object, and the item's `length` raised to match; every
/// other byte is kept. The error says what in the envelope is not as expected.
pub fn with_first_item_fields(envelope: &[u8], fields: &str) -> Result<Vec<u8>, String> {
    let header_end = envelope
        .iter()
        .position(|&c| c == b'\n')
        .ok_or("no envelope header line")?;
    let item_start = header_end + 1;
    let item_end = item_start
        + envelope[item_start..]
            .iter()
            .position(|&c| c == b'\n')
            .ok_or("no item header line")?;
    let item_header: ItemHeader = serde_json::from_slice(&envelope[item_start..item_end])
        .map_err(|e| format!("invalid item header: {e}"))?;
    let len = item_header.length.ok_or("the first item has no length")?;
    let payload = item_end + 1..item_end + 1 + len;
    if payload.end > envelope.len() || envelope[payload.end - 1] != b'}' {
        return Err("the first item's payload is not a JSON object of its length".into());
    }
    let closing = payload.end - 1;
    let separator = if envelope[payload.start..closing]
        .iter()
        .rev()
        .find(|c| !c.is_ascii_whitespace())
        == Some(&b'{')
    {
        ""
    } else {
        ","
    };
    let added = separator.len() + fields.len();
    let header = std::str::from_utf8(&envelope[item_start..item_end])
        .map_err(|_| "the item header is not UTF-8")?;
    let old = format!("\"length\":{len}");
    if !header.contains(&old) {
        return Err("the item header's length is not written as `\"length\":N`".into());
    }
    let header = header.replacen(&old, &format!("\"length\":{}", len + added), 1);
    let mut out = Vec::with_capacity(envelope.len() + added + 8);
    out.extend_from_slice(&envelope[..item_start]);
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&envelope[item_end..closing]);
    out.extend_from_slice(separator.as_bytes());
    out.extend_from_slice(fields.as_bytes());
    out.extend_from_slice(&envelope[closing..]);
    Ok(out)
}

fn next_line(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == b'\n') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_items_with_and_without_length() {
        let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
{\"type\":\"event\",\"length\":12}\n{\"a\":\"x\\ny\"}\n\n\
{\"type\":\"attachment\",\"length\":4}\nMD\nP\n\
{\"type\":\"client_report\"}\n{\"discarded_events\":[]}\n";
        let (h, items) = split(body).unwrap();
        assert_eq!(
            h.event_id.as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        let kinds: Vec<_> = items.iter().map(|i| i.header.ty.as_str()).collect();
        assert_eq!(kinds, ["event", "attachment", "client_report"]);
        assert_eq!(items[0].payload, b"{\"a\":\"x\\ny\"}");
        assert_eq!(items[1].payload, b"MD\nP");
        assert_eq!(items[2].payload, b"{\"discarded_events\":[]}");
    }

    #[test]
    fn fields_are_added_to_the_first_item_and_its_length_follows() {
        let body = b"{\"event_id\":\"x\"}\n{\"type\":\"event\",\"length\":9}\n{\"a\":\"b\"}\n\
{\"type\":\"attachment\",\"length\":2}\nMD\n";
        let out = with_first_item_fields(body, "\"c\":[1]").unwrap();
        let (_, items) = split(&out).unwrap();
        assert_eq!(items[0].payload, b"{\"a\":\"b\",\"c\":[1]}");
        assert_eq!(items[1].payload, b"MD");
        let empty = b"{}\n{\"type\":\"event\",\"length\":2}\n{}\n";
        let out = with_first_item_fields(empty, "\"c\":1").unwrap();
        assert_eq!(split(&out).unwrap().1[0].payload, b"{\"c\":1}");
        assert!(with_first_item_fields(b"{}\n{\"type\":\"event\"}\nx\n", "\"c\":1").is_err());
    }

    #[test]
    fn malformed_envelopes_say_why() {
        assert!(
            split(b"not json\n")
                .unwrap_err()
                .contains("envelope header")
        );
        let short = b"{}\n{\"type\":\"event\",\"length\":100}\n{}\n";
        assert!(split(short).unwrap_err().contains("claims 100 bytes"));
    }
}
