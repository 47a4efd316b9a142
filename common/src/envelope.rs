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

/// An item's type, as far as the harness and the sim tell them apart (Relay's `ItemType`,
/// getsentry/relay `relay-server/src/envelope/item.rs` at
/// 00cf54e4710bbe3d6ca428fd87e4c78febd7c278, which keeps any other name as `Unknown`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum ItemType {
    /// `event`: an error event (data category `error`).
    Event,
    /// `transaction` (data category `transaction`).
    Transaction,
    /// `attachment`; its `attachment_type` says which (a minidump is `event.minidump`).
    Attachment,
    /// Any other type, by its name.
    Other(String),
}

impl From<String> for ItemType {
    fn from(name: String) -> ItemType {
        match name.as_str() {
            "event" => ItemType::Event,
            "transaction" => ItemType::Transaction,
            "attachment" => ItemType::Attachment,
            _ => ItemType::Other(name),
        }
    }
}

impl ItemType {
    /// The type's name in an item header.
    pub fn as_str(&self) -> &str {
        match self {
            ItemType::Event => "event",
            ItemType::Transaction => "transaction",
            ItemType::Attachment => "attachment",
            ItemType::Other(name) => name,
        }
    }

    /// An event or a transaction: the item Snuba stores a row for.
    pub fn is_event(&self) -> bool {
        matches!(self, ItemType::Event | ItemType::Transaction)
    }
}

/// Why an envelope could not be read or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The first line is not a JSON object.
    #[error("invalid envelope header: {0}")]
    Header(String),
    /// An item header is not a JSON object with a `type`.
    #[error("invalid item header: {0}")]
    ItemHeader(String),
    /// An item's `length` runs past the end of the body.
    #[error("item of type `{ty}` claims {claimed} bytes, {remaining} remain")]
    Truncated {
        /// The item's type.
        ty: String,
        /// Its `length`.
        claimed: usize,
        /// The bytes left.
        remaining: usize,
    },
    /// The envelope lacks what the operation needs, or frames it otherwise.
    #[error("{0}")]
    Unexpected(&'static str),
}

/// The attachment type of a minidump: `AttachmentType::Minidump` of the Sentry SDK this
/// project builds envelopes with (sentry-types 0.49.5, `src/protocol/attachment.rs`), which
/// Relay's `AttachmentType` reads the same way.
pub const MINIDUMP: &str = "event.minidump";

/// One item's header (fields the readers use).
#[derive(Debug, Deserialize)]
pub struct ItemHeader {
    /// `event`, `transaction`, `attachment`, …
    #[serde(rename = "type")]
    pub ty: ItemType,
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
pub fn split(body: &[u8]) -> Result<(EnvelopeHeader, Vec<Item<'_>>), EnvelopeError> {
    let (first, mut rest) = next_line(body);
    let header: EnvelopeHeader =
        serde_json::from_slice(first).map_err(|e| EnvelopeError::Header(e.to_string()))?;
    let mut items = Vec::new();
    while !rest.is_empty() {
        let (line, after) = next_line(rest);
        if line.iter().all(u8::is_ascii_whitespace) {
            rest = after;
            continue;
        }
        let header: ItemHeader =
            serde_json::from_slice(line).map_err(|e| EnvelopeError::ItemHeader(e.to_string()))?;
        let (payload, after) = match header.length {
            Some(len) => {
                if after.len() < len {
                    return Err(EnvelopeError::Truncated {
                        ty: header.ty.as_str().to_owned(),
                        claimed: len,
                        remaining: after.len(),
                    });
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

impl Item<'_> {
    /// Whether this is a minidump attachment.
    pub fn is_minidump(&self) -> bool {
        self.header.ty == ItemType::Attachment
            && self.header.attachment_type.as_deref() == Some(MINIDUMP)
    }
}

/// The payload of the envelope's event or transaction item, if it has one and is well framed.
pub fn event_payload(body: &[u8]) -> Option<&[u8]> {
    let (_, items) = split(body).ok()?;
    items
        .into_iter()
        .find(|i| i.header.ty.is_event())
        .map(|i| i.payload)
}

/// The bytes of the envelope's minidump attachment, if it has one and is well framed.
pub fn minidump(body: &[u8]) -> Option<&[u8]> {
    let (_, items) = split(body).ok()?;
    items
        .into_iter()
        .find(|i| i.is_minidump())
        .map(|i| i.payload)
}

/// `envelope` with `fields` (`"key":value` pairs, comma-separated JSON) added at the end of
/// its first item's payload, a JSON object, and the item's `length` raised to match; every
/// other byte is kept. The error says what in the envelope is not as expected.
pub fn with_first_item_fields(envelope: &[u8], fields: &str) -> Result<Vec<u8>, EnvelopeError> {
    let unexpected = EnvelopeError::Unexpected;
    let header_end = envelope
        .iter()
        .position(|&c| c == b'\n')
        .ok_or(unexpected("no envelope header line"))?;
    let item_start = header_end + 1;
    let item_end = item_start
        + envelope[item_start..]
            .iter()
            .position(|&c| c == b'\n')
            .ok_or(unexpected("no item header line"))?;
    let item_header: ItemHeader = serde_json::from_slice(&envelope[item_start..item_end])
        .map_err(|e| EnvelopeError::ItemHeader(e.to_string()))?;
    let len = item_header
        .length
        .ok_or(unexpected("the first item has no length"))?;
    let payload = item_end + 1..item_end + 1 + len;
    if payload.end > envelope.len() || envelope[payload.end - 1] != b'}' {
        return Err(unexpected(
            "the first item's payload is not a JSON object of its length",
        ));
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
        .map_err(|_| unexpected("the item header is not UTF-8"))?;
    let old = format!("\"length\":{len}");
    if !header.contains(&old) {
        return Err(unexpected(
            "the item header's length is not written as `\"length\":N`",
        ));
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
    fn item_types_are_typed_and_the_minidump_is_found_by_its_attachment_type() {
        let body = b"{}\n{\"type\":\"transaction\",\"length\":2}\n{}\n\
{\"type\":\"attachment\",\"length\":1,\"attachment_type\":\"event.attachment\"}\nA\n\
{\"type\":\"attachment\",\"length\":4,\"attachment_type\":\"event.minidump\"}\nMDMP\n\
{\"type\":\"log\",\"length\":0}\n\n";
        let (_, items) = split(body).unwrap();
        let types: Vec<_> = items.iter().map(|i| i.header.ty.clone()).collect();
        assert_eq!(
            types,
            [
                ItemType::Transaction,
                ItemType::Attachment,
                ItemType::Attachment,
                ItemType::Other("log".into())
            ]
        );
        assert_eq!(event_payload(body), Some(&b"{}"[..]));
        assert_eq!(minidump(body), Some(&b"MDMP"[..]));
        assert_eq!(
            minidump(b"{}\n{\"type\":\"event\",\"length\":2}\n{}\n"),
            None
        );
        assert_eq!(
            event_payload(b"{}\n{\"type\":\"event\",\"length\":9}\n{}\n"),
            None
        );
    }

    #[test]
    fn malformed_envelopes_say_why() {
        assert!(
            split(b"not json\n")
                .unwrap_err()
                .to_string()
                .contains("envelope header")
        );
        let short = b"{}\n{\"type\":\"event\",\"length\":100}\n{}\n";
        assert_eq!(
            split(short).unwrap_err(),
            EnvelopeError::Truncated {
                ty: "event".into(),
                claimed: 100,
                remaining: 3
            }
        );
    }
}
