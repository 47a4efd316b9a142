//! Splits an envelope into its items, tolerant where Relay is tolerant.
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

/// The envelope's header line (fields the sim uses).
#[derive(Debug, Default, Deserialize)]
pub struct EnvelopeHeader {
    /// The event id the envelope is about.
    pub event_id: Option<String>,
}

/// One item's header (fields the sim uses).
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
