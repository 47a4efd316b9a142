//! The fidelity check: a stored event (as Sentry's event-details API shows it) compared field
//! by field with the event that was sent. What must survive ingestion: platform, level,
//! release, environment, every tag, the exceptions and their frames — and what processing
//! must add: JavaScript frames resolved to their original file, line and function, a native
//! crash's exception, modules and threads read from its minidump.

use serde_json::Value;

/// Where a minified JavaScript frame must resolve to: file, 1-based line, function.
pub type Original = (String, u32, String);

/// What differs between the sent event and the stored one, one line per field; empty when
/// the stored event is faithful. `original_of(line, column)` gives a JavaScript frame's
/// expected resolution (`None` for other kinds).
pub fn differences(
    sent: &Value,
    stored: &Value,
    original_of: Option<&dyn Fn(u32, u32) -> Option<Original>>,
) -> Vec<String> {
    let mut d = Vec::new();
    let text = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let mut same = |field: &str, want: Option<String>, got: Option<String>| {
        if want.is_some() && want != got {
            d.push(format!(
                "{field}: sent {}, stored {}",
                shown(want.as_deref()),
                shown(got.as_deref())
            ));
        }
    };
    let tag = |k: &str| stored_tag(stored, k);
    same(
        "platform",
        text(sent, "/platform"),
        text(stored, "/platform"),
    );
    same("level", text(sent, "/level"), tag("level"));
    same(
        "environment",
        text(sent, "/environment"),
        tag("environment"),
    );
    same(
        "release",
        text(sent, "/release"),
        text(stored, "/release/version"),
    );
    if let Some(Value::Object(tags)) = sent.get("tags") {
        for (k, v) in tags {
            same(&format!("tags.{k}"), v.as_str().map(str::to_owned), tag(k));
        }
    }
    if let Some(name) = text(sent, "/transaction") {
        // Event details has no top-level `transaction`: the name is the `transaction` tag
        // (getsentry/sentry `src/sentry/event_manager.py` at
        // 55d5792c39e764d1459c92e7c0480a4cf11a7875, lines 743–744; the serializer,
        // `src/sentry/api/serializers/models/event.py`, writes no such key).
        same("transaction", Some(name), tag("transaction"));
        same(
            "contexts.trace.op",
            text(sent, "/contexts/trace/op"),
            text(stored, "/contexts/trace/op"),
        );
        same(
            "contexts.trace.trace_id",
            text(sent, "/contexts/trace/trace_id"),
            text(stored, "/contexts/trace/trace_id"),
        );
        let spans = |v: Option<&Value>| v.and_then(Value::as_array).map_or(0, Vec::len);
        let (want, got) = (
            spans(sent.get("spans")),
            spans(entry(stored, "spans").map(|e| &e["data"])),
        );
        if want != got {
            d.push(format!("spans: sent {want}, stored {got}"));
        }
    }
    exceptions(sent, stored, original_of, &mut d);
    native(sent, stored, &mut d);
    d
}

fn exceptions(
    sent: &Value,
    stored: &Value,
    original_of: Option<&dyn Fn(u32, u32) -> Option<Original>>,
    d: &mut Vec<String>,
) {
    let Some(sent_ex) = sent.pointer("/exception/values").and_then(Value::as_array) else {
        return;
    };
    let stored_ex = array(entry(stored, "exception").and_then(|e| e.pointer("/data/values")));
    if counts_differ(d, "exception values", sent_ex, stored_ex) {
        return;
    }
    for (i, (s, t)) in sent_ex.iter().zip(stored_ex).enumerate() {
        for field in ["type", "value"] {
            if s.get(field) != t.get(field) {
                d.push(format!(
                    "exception[{i}].{field}: sent {}, stored {}",
                    s.get(field).unwrap_or(&Value::Null),
                    t.get(field).unwrap_or(&Value::Null)
                ));
            }
        }
        let (sf, tf) = (
            array(s.pointer("/stacktrace/frames")),
            array(t.pointer("/stacktrace/frames")),
        );
        // An exception sent without frames (a native crash's) gets them from processing:
        // Sentry gives it the crashed thread's stack from the minidump (getsentry/sentry
        // `src/sentry/lang/native/processing.py` at 55d5792c39e764d1459c92e7c0480a4cf11a7875,
        // lines 262–275); the threads check below tells whether the dump was processed.
        if sf.is_empty() {
            continue;
        }
        if counts_differ(d, &format!("exception[{i}] frames"), sf, tf) {
            continue;
        }
        for (j, (f, g)) in sf.iter().zip(tf).enumerate() {
            let expected = match original_of {
                Some(resolve) => {
                    let at = |k: &str| f.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
                    match resolve(at("lineno"), at("colno")) {
                        Some((file, line, function)) => {
                            (Some(function), Some(file), Some(u64::from(line)))
                        }
                        None => {
                            d.push(format!("frame {j}: the sent frame is not in the bundle"));
                            continue;
                        }
                    }
                }
                None => (
                    f.get("function").and_then(Value::as_str).map(str::to_owned),
                    f.get("filename").and_then(Value::as_str).map(str::to_owned),
                    f.get("lineno").and_then(Value::as_u64),
                ),
            };
            let got = (
                g.get("function").and_then(Value::as_str).map(str::to_owned),
                g.get("filename").and_then(Value::as_str).map(str::to_owned),
                g.get("lineNo").and_then(Value::as_u64),
            );
            if expected != got {
                d.push(format!(
                    "exception[{i}] frame {j}: expected {} {}:{}, stored {} {}:{}",
                    shown(expected.0.as_deref()),
                    shown(expected.1.as_deref()),
                    expected.2.unwrap_or(0),
                    shown(got.0.as_deref()),
                    shown(got.1.as_deref()),
                    got.2.unwrap_or(0)
                ));
            }
        }
    }
}

/// A native crash: the stored modules are the sent `debug_meta` images (read from the
/// minidump), and the stored threads include exactly one crashed thread.
fn native(sent: &Value, stored: &Value, d: &mut Vec<String>) {
    if sent.get("platform").and_then(Value::as_str) != Some("native") {
        return;
    }
    let names = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|i| {
                // Symbolic images name their file `name`, newer ones `code_file`.
                i.get("code_file")
                    .or_else(|| i.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect()
    };
    let want = names(sent.pointer("/debug_meta/images"));
    let got = names(entry(stored, "debugmeta").and_then(|e| e.pointer("/data/images")));
    if want != got {
        d.push(format!(
            "debug images: sent {} modules, stored {} ({} differ)",
            want.len(),
            got.len(),
            want.iter().zip(&got).filter(|(a, b)| a != b).count() + want.len().abs_diff(got.len())
        ));
    }
    let threads = array(entry(stored, "threads").and_then(|e| e.pointer("/data/values")));
    let crashed = threads.iter().filter(|t| t["crashed"] == true).count();
    if threads.is_empty() || crashed != 1 {
        d.push(format!(
            "threads: stored {} threads, {crashed} crashed (the minidump was not processed)",
            threads.len()
        ));
    }
}

/// The array at `v`, empty when there is none.
fn array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Notes that `sent` and `stored` have different lengths; returns whether they do.
fn counts_differ(d: &mut Vec<String>, what: &str, sent: &[Value], stored: &[Value]) -> bool {
    if sent.len() != stored.len() {
        d.push(format!(
            "{what}: sent {}, stored {}",
            sent.len(),
            stored.len()
        ));
    }
    sent.len() != stored.len()
}

fn entry<'a>(stored: &'a Value, ty: &str) -> Option<&'a Value> {
    stored
        .get("entries")?
        .as_array()?
        .iter()
        .find(|e| e.get("type").and_then(Value::as_str) == Some(ty))
}

fn stored_tag(stored: &Value, key: &str) -> Option<String> {
    stored
        .get("tags")?
        .as_array()?
        .iter()
        .find(|t| t.get("key").and_then(Value::as_str) == Some(key))
        .and_then(|t| t.get("value").and_then(Value::as_str))
        .map(str::to_owned)
}

fn shown(v: Option<&str>) -> String {
    v.map_or("<none>".to_owned(), |s| format!("`{s}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sent() -> Value {
        json!({
            "platform": "python", "level": "error", "environment": "production",
            "release": "api@1.2.3", "tags": { "sentry_load.seq": "7" },
            "exception": { "values": [{ "type": "KeyError", "value": "'user'",
                "stacktrace": { "frames": [
                    { "function": "handle", "filename": "app/views.py", "lineno": 40 }
                ] } }] }
        })
    }

    fn stored() -> Value {
        json!({
            "platform": "python", "release": { "version": "api@1.2.3" },
            "tags": [
                { "key": "sentry_load.seq", "value": "7" },
                { "key": "level", "value": "error" },
                { "key": "environment", "value": "production" }
            ],
            "entries": [{ "type": "exception", "data": { "values": [{
                "type": "KeyError", "value": "'user'",
                "stacktrace": { "frames": [
                    { "function": "handle", "filename": "app/views.py", "lineNo": 40 }
                ] } }] } }]
        })
    }

    #[test]
    fn a_faithful_event_has_no_differences_and_each_change_is_named() {
        assert!(differences(&sent(), &stored(), None).is_empty());
        let mut s = stored();
        s["release"] = Value::Null;
        s["tags"][0]["value"] = json!("8");
        s["entries"][0]["data"]["values"][0]["stacktrace"]["frames"][0]["lineNo"] = json!(41);
        let d = differences(&sent(), &s, None);
        assert_eq!(d.len(), 3, "{d:?}");
        assert_eq!(d[0], "release: sent `api@1.2.3`, stored <none>");
        assert_eq!(d[1], "tags.sentry_load.seq: sent `7`, stored `8`");
        assert!(d[2].starts_with("exception[0] frame 0: expected `handle` `app/views.py`:40"));
    }

    #[test]
    fn javascript_frames_must_be_resolved_to_their_originals() {
        let original =
            |_: u32, col: u32| Some(("src/cart.ts".to_owned(), col, "checkout".to_owned()));
        let mut sent = sent();
        sent["exception"]["values"][0]["stacktrace"]["frames"][0] =
            json!({ "function": "a", "filename": "/static/js/main.js", "lineno": 1, "colno": 40 });
        // Stored as sent: not resolved.
        let d = differences(&sent, &stored(), Some(&original));
        assert_eq!(d.len(), 1, "{d:?}");
        let mut s = stored();
        s["entries"][0]["data"]["values"][0]["stacktrace"]["frames"][0] =
            json!({ "function": "checkout", "filename": "src/cart.ts", "lineNo": 40 });
        assert!(differences(&sent, &s, Some(&original)).is_empty());
    }
}
