//! Reads the fields the sim stores out of an event payload, tolerating the shapes SDKs send
//! (tags as an object or as `[key, value]` pairs; timestamps as numbers or RFC 3339 strings).

use sentry_load_common::envelope::ItemType;
use sentry_load_common::{Dataset, SEQ_TAG, fnv1a};
use serde_json::Value;
use uuid::Uuid;

/// One stack frame, as stored in `errors_local.exception_frames`.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Source file.
    pub filename: Option<String>,
    /// Function name.
    pub function: Option<String>,
    /// Line number.
    pub lineno: Option<u32>,
    /// Whether the frame is the application's own code.
    pub in_app: Option<bool>,
}

/// What a transaction adds, as `transactions_local` stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionFields {
    /// The transaction name.
    pub name: String,
    /// The root span's op (`contexts.trace.op`).
    pub op: String,
    /// The trace id.
    pub trace_id: Uuid,
    /// The root span id.
    pub span_id: u64,
    /// Start, Unix milliseconds.
    pub start_ms: u64,
    /// Finish, Unix milliseconds.
    pub finish_ms: u64,
    /// Spans in the tree.
    pub spans: usize,
}

/// An accepted event, as it travels through the sim's pipeline.
#[derive(Debug, Clone)]
pub struct IngestedEvent {
    /// Where it is stored.
    pub dataset: Dataset,
    /// The transaction's own fields, for transactions.
    pub transaction: Option<TransactionFields>,
    /// Sizes of the minidumps that came with it (and are still with it: a quota or the
    /// crash-report setting may remove them).
    pub minidumps: Vec<usize>,
    /// Whether it came with a minidump: a native crash.
    pub native: bool,
    /// When ingest took it (the pipeline's worker model starts service no earlier).
    pub accepted_at: std::time::Instant,
    /// When its key's project config is there and Relay can process it.
    pub ready_at: std::time::Instant,
    /// Whether the config says the key is valid for the project; if not, Relay drops the
    /// event with `invalid:project_id` once the config has arrived.
    pub key_valid: bool,
    /// The public key it was sent with (its quota).
    pub key: std::sync::Arc<str>,
    /// Whether its quota was already counted at the endpoint (Sentry 9 counts there).
    pub quota_counted: bool,
    /// The project it was sent to.
    pub project_id: u64,
    /// Its id.
    pub event_id: Uuid,
    /// Event time, Unix seconds.
    pub timestamp: u32,
    /// When ingest received it, Unix seconds (Relay's `received`).
    pub received: u32,
    /// `python`, `javascript`, `native`, …
    pub platform: String,
    /// The log message, or empty.
    pub message: String,
    /// `Type: value` of the last exception, or the message.
    pub title: String,
    /// `fatal`, `error`, `warning`, `info` or `debug`.
    pub level: String,
    /// The release, if set.
    pub release: Option<String>,
    /// The environment, if set.
    pub environment: Option<String>,
    /// Tags in the order sent.
    pub tags: Vec<(String, String)>,
    /// `(type, value)` per exception in the chain.
    pub exceptions: Vec<(String, String)>,
    /// Frames of every exception's stack trace, outermost first.
    pub frames: Vec<Frame>,
    /// The grouping hash (Sentry's `primary_hash`).
    pub primary_hash: Uuid,
    /// The `sentry_load.seq` tag, if the event carries one.
    pub seq: Option<u64>,
    /// The processed event as the event-details API shows it (kept by the in-memory store).
    pub details: Option<std::sync::Arc<Value>>,
}

impl IngestedEvent {
    /// The quota category the event counts in.
    pub fn quota_category(&self) -> crate::script::QuotaCategory {
        if self.transaction.is_some() {
            crate::script::QuotaCategory::Transaction
        } else {
            crate::script::QuotaCategory::Error
        }
    }

    /// Sentry's numeric log level, as `sentry_groupedmessage.level` stores it.
    pub fn level_number(&self) -> i32 {
        match self.level.as_str() {
            "fatal" => 50,
            "warning" => 30,
            "info" => 20,
            "debug" => 10,
            _ => 40,
        }
    }
}

/// An item's payload as JSON.
pub fn parse_json(payload: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(payload).map_err(|e| format!("invalid event: {e}"))
}

/// Parses an item of type `item_type` (an event or a transaction), already parsed as JSON;
/// `fallback_id` is the envelope header's event id.
pub fn parse_value(
    item_type: &ItemType,
    v: &Value,
    project_id: u64,
    fallback_id: Option<&str>,
    received: u32,
) -> Result<IngestedEvent, String> {
    let obj = v.as_object().ok_or("invalid event: not a JSON object")?;
    let id_text = obj
        .get("event_id")
        .and_then(Value::as_str)
        .or(fallback_id)
        .ok_or("invalid event: no event_id in the event or the envelope header")?;
    let event_id = Uuid::parse_str(id_text).map_err(|_| format!("invalid event_id `{id_text}`"))?;
    let timestamp = obj
        .get("timestamp")
        .and_then(timestamp_secs)
        .unwrap_or(received);
    let tags = tags(obj.get("tags"));
    let seq = tags
        .iter()
        .find(|(k, _)| k == SEQ_TAG)
        .and_then(|(_, v)| v.parse().ok());
    let message = obj
        .get("logentry")
        .and_then(|l| l.get("formatted").or_else(|| l.get("message")))
        .or_else(|| obj.get("message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let (exceptions, frames) = exceptions(obj.get("exception"));
    let title = match exceptions.last() {
        Some((ty, value)) if value.is_empty() => ty.clone(),
        Some((ty, value)) => format!("{ty}: {value}"),
        None if message.is_empty() => "<unlabeled event>".into(),
        None => message.clone(),
    };
    let fingerprint: Vec<String> = obj
        .get("fingerprint")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let primary_hash = grouping_hash(&fingerprint, &exceptions, &frames, &message);
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    let transaction = if *item_type == ItemType::Transaction {
        Some(transaction_fields(obj, event_id)?)
    } else {
        None
    };
    Ok(IngestedEvent {
        dataset: if transaction.is_some() {
            Dataset::Transactions
        } else {
            Dataset::Errors
        },
        transaction,
        minidumps: Vec::new(),
        native: false,
        accepted_at: std::time::Instant::now(),
        ready_at: std::time::Instant::now(),
        key_valid: true,
        key: std::sync::Arc::from(""),
        quota_counted: false,
        project_id,
        event_id,
        timestamp,
        received,
        platform: text("platform").unwrap_or_else(|| "other".into()),
        message,
        title,
        level: text("level").unwrap_or_else(|| "error".into()),
        release: text("release"),
        environment: text("environment"),
        tags,
        exceptions,
        frames,
        primary_hash,
        seq,
        details: None,
    })
}

fn transaction_fields(
    obj: &serde_json::Map<String, Value>,
    event_id: Uuid,
) -> Result<TransactionFields, String> {
    let millis = |k: &str| {
        obj.get(k)
            .and_then(timestamp_micros)
            .map(|m| m / 1000)
            .ok_or_else(|| format!("invalid transaction: no `{k}`"))
    };
    let trace = obj.get("contexts").and_then(|c| c.get("trace"));
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    let trace_id = trace
        .and_then(|t| t.get("trace_id"))
        .and_then(Value::as_str)
        .and_then(|t| Uuid::parse_str(t).ok())
        .unwrap_or(event_id);
    let span_id = trace
        .and_then(|t| t.get("span_id"))
        .and_then(Value::as_str)
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .unwrap_or_default();
    Ok(TransactionFields {
        name: text(obj.get("transaction")),
        op: text(trace.and_then(|t| t.get("op"))),
        trace_id,
        span_id,
        start_ms: millis("start_timestamp")?,
        finish_ms: millis("timestamp")?,
        spans: obj
            .get("spans")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
    })
}

fn timestamp_micros(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_f64().map(|f| (f * 1e6).round() as u64),
        Value::String(s) => humantime::parse_rfc3339_weak(s.trim_end_matches('Z'))
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_micros() as u64),
        _ => None,
    }
}

fn timestamp_secs(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_f64().map(|f| f as u32),
        Value::String(s) => humantime::parse_rfc3339_weak(s.trim_end_matches('Z'))
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as u32),
        _ => None,
    }
}

fn tags(v: Option<&Value>) -> Vec<(String, String)> {
    let as_text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match v {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), as_text(v))).collect(),
        Some(Value::Array(pairs)) => pairs
            .iter()
            .filter_map(|p| {
                let p = p.as_array()?;
                Some((p.first()?.as_str()?.to_owned(), as_text(p.get(1)?)))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn exceptions(v: Option<&Value>) -> (Vec<(String, String)>, Vec<Frame>) {
    let values = match v {
        Some(Value::Object(m)) => m.get("values").and_then(Value::as_array),
        Some(Value::Array(a)) => Some(a),
        _ => None,
    };
    let mut excs = Vec::new();
    let mut frames = Vec::new();
    for e in values.into_iter().flatten() {
        let s = |k: &str| {
            e.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        excs.push((s("type"), s("value")));
        let list = e
            .get("stacktrace")
            .and_then(|st| st.get("frames"))
            .and_then(Value::as_array);
        for f in list.into_iter().flatten() {
            let s = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_owned);
            frames.push(Frame {
                filename: s("filename").or_else(|| s("abs_path")),
                function: s("function"),
                lineno: f.get("lineno").and_then(Value::as_u64).map(|n| n as u32),
                in_app: f.get("in_app").and_then(Value::as_bool),
            });
        }
    }
    (excs, frames)
}

/// Groups like Sentry does in outline: by fingerprint when given, else by exception type and
/// in-app frames, else by message.
fn grouping_hash(
    fingerprint: &[String],
    excs: &[(String, String)],
    frames: &[Frame],
    message: &str,
) -> Uuid {
    let mut basis = String::new();
    let custom = fingerprint
        .iter()
        .any(|f| f != "{{ default }}" && f != "{{default}}");
    if custom {
        basis.push_str("fp:");
        basis.push_str(&fingerprint.join("\u{1f}"));
    } else if let Some((ty, _)) = excs.last() {
        basis.push_str("exc:");
        basis.push_str(ty);
        for f in frames.iter().filter(|f| f.in_app != Some(false)) {
            basis.push('\u{1f}');
            basis.push_str(f.function.as_deref().unwrap_or("?"));
        }
    } else {
        basis.push_str("msg:");
        basis.push_str(message);
    }
    let hi = fnv1a(basis.as_bytes());
    let lo = fnv1a(format!("{basis}\u{0}").as_bytes());
    Uuid::from_u64_pair(hi, lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_item(
        item_type: &str,
        payload: &[u8],
        project_id: u64,
        fallback_id: Option<&str>,
        received: u32,
    ) -> Result<IngestedEvent, String> {
        parse_value(
            &ItemType::from(item_type.to_owned()),
            &parse_json(payload)?,
            project_id,
            fallback_id,
            received,
        )
    }

    const EVENT: &str = r#"{
        "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
        "timestamp": 1795359339.25,
        "platform": "python", "level": "warning", "release": "r1",
        "tags": {"sentry_load.run": "x", "sentry_load.seq": "17"},
        "fingerprint": ["issue-3"],
        "exception": {"values": [{"type": "KeyError", "value": "'user'",
            "stacktrace": {"frames": [{"filename": "app.py", "function": "view", "lineno": 12, "in_app": true}]}}]}
    }"#;

    #[test]
    fn reads_the_stored_fields() {
        let e = parse_item("event", EVENT.as_bytes(), 3, None, 1_795_359_340).unwrap();
        assert_eq!(
            e.event_id.simple().to_string(),
            "9ec79c33ec9942ab8353589fcb2e04dc"
        );
        assert_eq!(e.timestamp, 1_795_359_339);
        assert_eq!(e.seq, Some(17));
        assert_eq!(e.title, "KeyError: 'user'");
        assert_eq!(e.level_number(), 30);
        assert_eq!(e.frames[0].lineno, Some(12));
        assert_eq!(e.release.as_deref(), Some("r1"));
    }

    #[test]
    fn fingerprints_decide_the_group() {
        let a = parse_item("event", EVENT.as_bytes(), 3, None, 0).unwrap();
        let other = EVENT.replace("issue-3", "issue-4");
        let b = parse_item("event", other.as_bytes(), 3, None, 0).unwrap();
        let same = EVENT.replace("KeyError", "ValueError");
        let c = parse_item("event", same.as_bytes(), 3, None, 0).unwrap();
        assert_ne!(a.primary_hash, b.primary_hash);
        assert_eq!(a.primary_hash, c.primary_hash);
    }

    #[test]
    fn tolerates_pairs_string_times_and_header_ids() {
        let ev =
            r#"{"timestamp": "2026-11-22T14:55:39.000Z", "tags": [["a", "b"]], "message": "m"}"#;
        let e = parse_item(
            "event",
            ev.as_bytes(),
            1,
            Some("9ec79c33ec9942ab8353589fcb2e04dc"),
            0,
        )
        .unwrap();
        assert_eq!(e.tags, vec![("a".to_string(), "b".to_string())]);
        assert_eq!(e.timestamp, 1_795_359_339);
        assert_eq!(e.title, "m");
        assert!(parse_item("event", b"{}", 1, None, 0).is_err());
        assert!(
            parse_item(
                "event",
                b"[1]",
                1,
                Some("9ec79c33ec9942ab8353589fcb2e04dc"),
                0
            )
            .is_err()
        );
    }
}
