//! Pre-serialized envelopes with holes for the per-event fields.
//!
//! A variant's envelope is serialized once by the Sentry SDK, with marker values in the fields
//! that differ per event. The markers are then found in the bytes and the envelope is split
//! into literal pieces and holes. Rendering an event writes the pieces and fills the holes —
//! no serde on the send path — and recomputes the first item's `length`; later items (a
//! minidump attachment) are copied as they are. A test proves that a rendered envelope equals
//! the SDK's own serialization of the same event, byte for byte.
//!
//! Times are holes relative to the event time: a builder given the marker time
//! [`TIMESTAMP_MARKER_SECS`] writes every other time (a span's start, a breadcrumb) as an
//! offset from it, and the split finds each `"timestamp"` / `"start_timestamp"` value near the
//! marker — as a float or as an RFC 3339 string, the two forms the SDK writes — and keeps its
//! offset.

use sentry_load_common::envelope;
use std::io::Write;
use std::ops::Range;
use uuid::Uuid;

/// The event id marker (both its hyphenated and simple forms are holes).
pub const ID_MARKER: Uuid = Uuid::from_u128(0x5e1d_0a1d_cafe_4bad_8bad_f00d_dead_beef);
/// The event timestamp marker: `1234567890.125` in the serialized event.
pub const TIMESTAMP_MARKER_SECS: f64 = 1_234_567_890.125;
/// The sequence-number marker (a tag value).
pub const SEQ_MARKER: &str = "SLMARKSEQ";
/// The issue-number marker (fingerprint and tag; the name index of a transaction).
pub const ISSUE_MARKER: &str = "SLMARKISSUE";
/// The user-number marker.
pub const USER_MARKER: &str = "SLMARKUSER";
/// The release-number marker.
pub const RELEASE_MARKER: &str = "SLMARKREL";
/// The environment marker.
pub const ENVIRONMENT_MARKER: &str = "SLMARKENV";

/// What fills a hole.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hole {
    IdHyphenated,
    IdSimple,
    /// The first 16 hex digits of the event id: a transaction's root span id.
    SpanId,
    SentAt,
    /// The event time plus an offset in microseconds, as seconds (a JSON number).
    TsFloat(i64),
    /// The event time plus an offset in microseconds, as an RFC 3339 string's contents.
    TsRfc3339(i64),
    Seq,
    Issue,
    User,
    Release,
    Environment,
}

#[derive(Debug, Clone)]
enum Piece {
    Literal(Range<usize>),
    Hole(Hole),
}

/// The per-event values.
#[derive(Debug, Clone, Copy)]
pub struct Fill<'a> {
    /// The event id.
    pub event_id: Uuid,
    /// The event timestamp, Unix microseconds.
    pub timestamp_micros: u64,
    /// `sent_at`, Unix microseconds.
    pub sent_at_micros: u64,
    /// The sequence number.
    pub seq: u64,
    /// The issue number.
    pub issue: u32,
    /// The user number.
    pub user: u32,
    /// The release number.
    pub release: u32,
    /// The environment.
    pub environment: &'a str,
}

/// One variant, ready to render.
#[derive(Debug, Clone)]
pub struct Template {
    bytes: Vec<u8>,
    header: Vec<Piece>,
    item_type: String,
    payload: Vec<Piece>,
    /// Everything after the first item's last hole: the rest of its payload, and the later
    /// items. The same for every event.
    tail: std::ops::Range<usize>,
    /// How much of `tail` belongs to the first item's payload.
    tail_in_payload: usize,
    /// The first item's payload length as serialized with the markers: the length a rendered
    /// payload has, give or take a few bytes.
    payload_len: usize,
    /// The tail compressed once, for gzip runs (see [`Template::precompress`]).
    tail_gz: Option<super::compress::CompressedTail>,
    approx_len: usize,
}

/// Tails from this size on are compressed once, at template time.
const PRECOMPRESS_TAIL: usize = 4096;

/// The envelope did not have the shape a template needs.
#[derive(Debug, thiserror::Error)]
#[error("cannot make a template: {0}")]
pub struct TemplateError(String);

impl Template {
    /// Splits an SDK-serialized one-item envelope holding the markers into pieces and holes.
    pub fn new(serialized: Vec<u8>) -> Result<Template, TemplateError> {
        let err = |m: &str| TemplateError(m.to_owned());
        let (item_type, payload) = {
            let (_, items) =
                envelope::split(&serialized).map_err(|e| TemplateError(e.to_string()))?;
            let item = items.first().ok_or_else(|| err("no item"))?;
            if item.header.length.is_none() {
                return Err(err("item without length"));
            }
            let start = item.payload.as_ptr() as usize - serialized.as_ptr() as usize;
            (
                item.header.ty.as_str().to_owned(),
                start..start + item.payload.len(),
            )
        };
        // The envelope header is the first line (`split` found it).
        let header_end = serialized
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| err("no envelope header line"))?;
        let header = split(&serialized, 0..header_end, true);
        let mut payload_pieces = split(&serialized, payload.clone(), false);
        // The payload's last literal piece joins the tail: unchanging bytes, compressed once.
        let tail_start = match payload_pieces.last() {
            Some(Piece::Literal(r)) if payload_pieces.len() > 1 => {
                let start = r.start;
                payload_pieces.pop();
                start
            }
            _ => payload.end,
        };
        let approx_len = serialized.len();
        let tail = tail_start..serialized.len();
        Ok(Template {
            tail,
            tail_in_payload: payload.end - tail_start,
            payload_len: payload.len(),
            tail_gz: None,
            bytes: serialized,
            header,
            item_type,
            payload: payload_pieces,
            approx_len,
        })
    }

    /// Compresses the unchanging tail once, when it is large enough to be worth keeping a
    /// second copy (for runs that send gzip).
    pub fn precompress(&mut self) {
        if self.tail_gz.is_none() && self.tail.len() >= PRECOMPRESS_TAIL {
            self.tail_gz = Some(super::compress::CompressedTail::new(
                &self.bytes[self.tail.clone()],
            ));
        }
    }

    /// Renders one envelope.
    pub fn render(&self, fill: &Fill) -> Vec<u8> {
        let mut out = Vec::new();
        self.render_into(fill, &mut out);
        out
    }

    /// Renders one envelope into `out`, replacing what it held (a sender reuses one buffer).
    pub fn render_into(&self, fill: &Fill, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.approx_len + 64);
        self.write_head(fill, out);
        out.extend_from_slice(&self.bytes[self.tail.clone()]);
    }

    /// Renders one envelope, gzip-compressed.
    pub fn render_gzip(&self, fill: &Fill) -> Vec<u8> {
        let mut head = Vec::with_capacity(self.approx_len + 64);
        self.write_head(fill, &mut head);
        match &self.tail_gz {
            Some(tail) => super::compress::gzip_with_tail(&head, tail),
            None => {
                head.extend_from_slice(&self.bytes[self.tail.clone()]);
                super::compress::gzip(&head)
            }
        }
    }

    /// Appends the envelope header, the first item's header and its payload: all that
    /// changes.
    fn write_head(&self, fill: &Fill, out: &mut Vec<u8>) {
        // The event time itself can fill many holes: format it once.
        let mut ts_buf = [0u8; 40];
        let ts_len = {
            let mut cursor = std::io::Cursor::new(&mut ts_buf[..]);
            write_timestamp(fill.timestamp_micros, &mut cursor);
            cursor.position() as usize
        };
        let timestamp = &ts_buf[..ts_len];
        self.write(&self.header, fill, timestamp, out);
        out.push(b'\n');
        // The item header holds the payload's length, known only once the payload is written:
        // write the payload after a header sized for the template's own length, then put the
        // real length in place. Lengths rarely change their digit count between events; when
        // one does, the payload moves once.
        let header_at = out.len();
        let _ = writeln!(
            out,
            "{{\"type\":\"{}\",\"length\":{}}}",
            self.item_type, self.payload_len
        );
        let payload_at = out.len();
        self.write(&self.payload, fill, timestamp, out);
        let length = out.len() - payload_at + self.tail_in_payload;
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(length).as_bytes();
        let n = digits.len();
        let guessed = payload_at - header_at - self.item_type.len() - 22;
        if n == guessed {
            let at = payload_at - 2 - n;
            out[at..payload_at - 2].copy_from_slice(digits);
        } else {
            let header = format!("{{\"type\":\"{}\",\"length\":{length}}}\n", self.item_type);
            out.splice(header_at..payload_at, header.into_bytes());
        }
    }

    fn write(&self, pieces: &[Piece], fill: &Fill, timestamp: &[u8], out: &mut Vec<u8>) {
        for p in pieces {
            match p {
                Piece::Literal(r) => out.extend_from_slice(&self.bytes[r.clone()]),
                Piece::Hole(Hole::TsFloat(0)) => out.extend_from_slice(timestamp),
                Piece::Hole(h) => fill_hole(h, fill, out),
            }
        }
    }

    /// How many holes of each kind the payload has (for tests).
    #[cfg(test)]
    pub fn holes(&self) -> usize {
        self.header
            .iter()
            .chain(&self.payload)
            .filter(|p| matches!(p, Piece::Hole(_)))
            .count()
    }
}

fn shifted(micros: u64, offset: i64) -> u64 {
    micros.saturating_add_signed(offset)
}

fn fill_hole(h: &Hole, f: &Fill, out: &mut Vec<u8>) {
    let mut buf = [0u8; 40];
    match h {
        Hole::IdHyphenated => {
            out.extend_from_slice(f.event_id.hyphenated().encode_lower(&mut buf).as_bytes())
        }
        Hole::IdSimple => {
            out.extend_from_slice(f.event_id.simple().encode_lower(&mut buf).as_bytes())
        }
        Hole::SpanId => {
            out.extend_from_slice(&f.event_id.simple().encode_lower(&mut buf).as_bytes()[..16])
        }
        Hole::SentAt => {
            let t = sentry_load_common::clock::from_unix_micros(f.sent_at_micros);
            let _ = write!(out, "{}", humantime::format_rfc3339_micros(t));
        }
        Hole::TsFloat(offset) => write_timestamp(shifted(f.timestamp_micros, *offset), out),
        Hole::TsRfc3339(offset) => write_rfc3339(shifted(f.timestamp_micros, *offset), out),
        Hole::Seq => out.extend_from_slice(itoa::Buffer::new().format(f.seq).as_bytes()),
        Hole::Issue => out.extend_from_slice(itoa::Buffer::new().format(f.issue).as_bytes()),
        Hole::User => out.extend_from_slice(itoa::Buffer::new().format(f.user).as_bytes()),
        Hole::Release => out.extend_from_slice(itoa::Buffer::new().format(f.release).as_bytes()),
        Hole::Environment => out.extend_from_slice(f.environment.as_bytes()),
    }
}

/// An event time as the SDK writes it: whole seconds as an integer, else `as_secs_f64` as JSON.
fn write_timestamp(micros: u64, out: &mut impl Write) {
    let d = std::time::Duration::from_micros(micros);
    // Writing into a buffer large enough for any f64 cannot fail.
    if d.subsec_nanos() == 0 {
        let _ = write!(out, "{}", d.as_secs());
    } else {
        let _ = serde_json::to_writer(&mut *out, &d.as_secs_f64());
    }
}

/// An RFC 3339 time as the SDK writes it (the `time` crate's format): UTC, `Z`, and the
/// fraction of a second with its trailing zeros left off (none when whole).
fn write_rfc3339(micros: u64, out: &mut Vec<u8>) {
    let t = sentry_load_common::clock::from_unix_micros(micros);
    let start = out.len();
    // "YYYY-MM-DDTHH:MM:SS.ffffffZ"; writing into a Vec cannot fail.
    let _ = write!(out, "{}", humantime::format_rfc3339_micros(t));
    out.pop(); // the `Z`
    while out.len() > start && out[out.len() - 1] == b'0' {
        out.pop();
    }
    if out[out.len() - 1] == b'.' {
        out.pop();
    }
    out.push(b'Z');
}

/// Times within this distance of the marker are holes.
const TIME_WINDOW_MICROS: i64 = 100_000 * 1_000_000;

/// The holes for the times written near the marker: every value of a `"timestamp"` or
/// `"start_timestamp"` key, as a number or an RFC 3339 string.
fn time_holes(bytes: &[u8], range: &Range<usize>, found: &mut Vec<(usize, usize, Hole)>) {
    let marker_micros = (TIMESTAMP_MARKER_SECS * 1e6).round() as i64;
    for key in [&b"\"timestamp\":"[..], &b"\"start_timestamp\":"[..]] {
        let mut at = range.start;
        while let Some(i) = find(&bytes[at..range.end], key) {
            let start = at + i + key.len();
            at = start;
            if bytes.get(start) == Some(&b'"') {
                let Some(len) = bytes[start + 1..range.end].iter().position(|b| *b == b'"') else {
                    continue;
                };
                let text = String::from_utf8_lossy(&bytes[start + 1..start + 1 + len]);
                let Ok(t) = humantime::parse_rfc3339(&text) else {
                    continue;
                };
                let offset = sentry_load_common::clock::to_unix_micros(t) as i64 - marker_micros;
                if offset.abs() <= TIME_WINDOW_MICROS {
                    found.push((start + 1, len, Hole::TsRfc3339(offset)));
                }
            } else {
                let len = bytes[start..range.end]
                    .iter()
                    .position(|b| !(b.is_ascii_digit() || *b == b'.' || *b == b'e' || *b == b'-'))
                    .unwrap_or(range.end - start);
                let text = String::from_utf8_lossy(&bytes[start..start + len]);
                let Ok(secs) = text.parse::<f64>() else {
                    continue;
                };
                let offset = (secs * 1e6).round() as i64 - marker_micros;
                if offset.abs() <= TIME_WINDOW_MICROS {
                    found.push((start, len, Hole::TsFloat(offset)));
                }
            }
        }
    }
}

/// Splits `bytes[range]` at every marker; in the envelope header, `sent_at`'s value is a hole.
fn split(bytes: &[u8], range: Range<usize>, header: bool) -> Vec<Piece> {
    let hyphen = ID_MARKER.hyphenated().to_string();
    let simple = ID_MARKER.simple().to_string();
    // The full id comes before its 16-digit prefix: where both match, the full id wins.
    let markers: [(&[u8], Hole); 8] = [
        (hyphen.as_bytes(), Hole::IdHyphenated),
        (simple.as_bytes(), Hole::IdSimple),
        (&simple.as_bytes()[..16], Hole::SpanId),
        (SEQ_MARKER.as_bytes(), Hole::Seq),
        (ISSUE_MARKER.as_bytes(), Hole::Issue),
        (USER_MARKER.as_bytes(), Hole::User),
        (RELEASE_MARKER.as_bytes(), Hole::Release),
        (ENVIRONMENT_MARKER.as_bytes(), Hole::Environment),
    ];
    let mut found: Vec<(usize, usize, Hole)> = Vec::new();
    for (m, hole) in markers {
        let mut at = range.start;
        while let Some(i) = find(&bytes[at..range.end], m) {
            found.push((at + i, m.len(), hole.clone()));
            at += i + m.len();
        }
    }
    if !header {
        time_holes(bytes, &range, &mut found);
    }
    if header {
        let key = b"\"sent_at\":\"";
        if let Some(i) = find(&bytes[range.clone()], key) {
            let start = range.start + i + key.len();
            if let Some(end) = bytes[start..range.end].iter().position(|b| *b == b'"') {
                found.push((start, end, Hole::SentAt));
            }
        }
    }
    found.sort_by_key(|(at, _, _)| *at);
    let mut pieces = Vec::new();
    let mut cursor = range.start;
    for (at, len, hole) in found {
        if at < cursor {
            continue;
        }
        if at > cursor {
            pieces.push(Piece::Literal(cursor..at));
        }
        pieces.push(Piece::Hole(hole));
        cursor = at + len;
    }
    if cursor < range.end {
        pieces.push(Piece::Literal(cursor..range.end));
    }
    pieces
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
