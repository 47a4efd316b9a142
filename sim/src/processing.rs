//! Event processing, as Sentry's pipeline does it before an event is shown: JavaScript frames
//! are resolved through the uploaded sourcemaps (the artifact bundles' source maps, found by
//! the debug id the event's `sourcemap` image gives the frame's file, or by URL among the
//! bundles bound to the event's release: see [`crate::artifacts`]), and a native crash's
//! exception, threads and modules are read from its minidump. The result is the event as Sentry's event-details API shows it
//! (`GET /api/0/projects/<org>/<project>/events/<id>/`), which the in-memory store keeps for
//! the harness's fidelity check.

use crate::artifacts::ArtifactState;
use serde_json::{Map, Value, json};

/// The processed event, API-shaped: `eventID`, `platform`, `message`, `title`, `tags`
/// (`[{key, value}]`, with `level`, `environment` and `release` among them), `release`
/// (`{version}`), `entries` (`exception`, `threads`, `debugmeta`, `spans`), and for
/// transactions `contexts.trace` (the name is the `transaction` tag). `errors` lists what
/// processing could not do.
pub fn process(
    event: &Value,
    project_id: u64,
    title: &str,
    minidump: Option<&[u8]>,
    artifacts: &ArtifactState,
) -> Value {
    let text = |k: &str| event.get(k).and_then(Value::as_str);
    let mut tags: Vec<Value> = Vec::new();
    if let Some(Value::Object(t)) = event.get("tags") {
        for (k, v) in t {
            if let Some(v) = v.as_str() {
                tags.push(json!({ "key": k, "value": v }));
            }
        }
    }
    // The transaction's name is a tag, as every one of these is (getsentry/sentry
    // `src/sentry/event_manager.py` at 55d5792c39e764d1459c92e7c0480a4cf11a7875, lines
    // 743–744); event details has no top-level `transaction`.
    for k in ["level", "environment", "release", "transaction"] {
        if let Some(v) = text(k) {
            tags.push(json!({ "key": k, "value": v }));
        }
    }
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    let mut exceptions: Vec<Value> = event
        .pointer("/exception/values")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if text("platform") == Some("javascript") {
        // `sourcemap` images: which debug id each minified file (`code_file`) has.
        let images: Vec<(&str, &str)> = event
            .pointer("/debug_meta/images")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|i| i.get("type").and_then(Value::as_str) == Some("sourcemap"))
            .filter_map(|i| Some((i.get("code_file")?.as_str()?, i.get("debug_id")?.as_str()?)))
            .collect();
        let event = Event {
            project_id,
            release: text("release"),
            images: &images,
        };
        for e in &mut exceptions {
            resolve_javascript(e, &event, artifacts, &mut errors);
        }
    }
    let mut debug_images = event
        .pointer("/debug_meta/images")
        .cloned()
        .unwrap_or(Value::Array(vec![]));
    if let Some(dump) = minidump {
        match read_minidump(dump) {
            Ok(m) => {
                if let Some(first) = exceptions.first_mut() {
                    first["type"] = json!(m.reason);
                }
                debug_images = json!(
                    m.modules
                        .iter()
                        .map(|name| json!({ "code_file": name }))
                        .collect::<Vec<_>>()
                );
                entries.push(json!({ "type": "threads", "data": { "values": m.threads } }));
            }
            Err(e) => errors.push(json!({ "type": "native_bad_dsym", "message": e })),
        }
    }
    let exceptions: Vec<Value> = exceptions.iter().map(api_exception).collect();
    if !exceptions.is_empty() {
        entries.push(json!({ "type": "exception", "data": { "values": exceptions } }));
    }
    if debug_images.as_array().is_some_and(|a| !a.is_empty()) {
        entries.push(json!({ "type": "debugmeta", "data": { "images": debug_images } }));
    }
    if let Some(spans) = event.get("spans") {
        entries.push(json!({ "type": "spans", "data": spans }));
    }
    let mut out = Map::new();
    out.insert("eventID".into(), json!(text("event_id")));
    out.insert("platform".into(), json!(text("platform")));
    out.insert("title".into(), json!(title));
    out.insert(
        "message".into(),
        json!(
            event
                .pointer("/logentry/formatted")
                .or_else(|| event.get("message"))
                .and_then(Value::as_str)
                .unwrap_or_default()
        ),
    );
    out.insert("tags".into(), Value::Array(tags));
    out.insert(
        "release".into(),
        text("release").map_or(Value::Null, |r| json!({ "version": r })),
    );
    out.insert("entries".into(), Value::Array(entries));
    if let Some(trace) = event.pointer("/contexts/trace") {
        out.insert("contexts".into(), json!({ "trace": trace }));
    }
    out.insert("errors".into(), Value::Array(errors));
    Value::Object(out)
}

/// An exception in the API's shape: frames with `function`, `filename`, `lineNo`, `colNo`,
/// `inApp`.
fn api_exception(e: &Value) -> Value {
    let frames: Vec<Value> = e
        .pointer("/stacktrace/frames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|f| {
            json!({
                "function": f.get("function"),
                "filename": f.get("filename"),
                "absPath": f.get("abs_path"),
                "lineNo": f.get("lineno"),
                "colNo": f.get("colno"),
                "inApp": f.get("in_app"),
            })
        })
        .collect();
    json!({
        "type": e.get("type"),
        "value": e.get("value"),
        "stacktrace": { "frames": frames },
    })
}

/// What a JavaScript event's sourcemap lookup goes by.
struct Event<'a> {
    project_id: u64,
    release: Option<&'a str>,
    /// `(code_file, debug_id)` of its `sourcemap` images.
    images: &'a [(&'a str, &'a str)],
}

/// Rewrites a JavaScript exception's frames to their original file, line, column and
/// enclosing function, through the sourcemap of their minified file.
fn resolve_javascript(
    e: &mut Value,
    event: &Event<'_>,
    artifacts: &ArtifactState,
    errors: &mut Vec<Value>,
) {
    let abs_path = e
        .pointer("/stacktrace/frames/0/abs_path")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let debug_id = event
        .images
        .iter()
        .find(|(file, _)| *file == abs_path)
        .map(|(_, id)| *id);
    let map = artifacts.sourcemap_for(event.project_id, event.release, debug_id, &abs_path);
    let Some(sm) = map else {
        errors.push(json!({
            "type": "js_no_source",
            "message": format!(
                "no sourcemap for {abs_path}: no bundle of the project has its debug id, and none \
                 bound to release {} has the file",
                event.release.unwrap_or("(none)")
            ),
        }));
        return;
    };
    let Some(frames) = e
        .pointer_mut("/stacktrace/frames")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for f in frames {
        let line = f.get("lineno").and_then(Value::as_u64).unwrap_or(0) as u32;
        let col = f.get("colno").and_then(Value::as_u64).unwrap_or(0) as u32;
        let Some(token) = sm.lookup_token(line.saturating_sub(1), col.saturating_sub(1)) else {
            errors.push(json!({ "type": "js_invalid_sourcemap_location", "message": format!("{line}:{col}") }));
            continue;
        };
        let (src_line, src_col) = (token.get_src_line(), token.get_src_col());
        let source = token.get_source().unwrap_or_default().to_owned();
        let enclosing = token
            .get_source_view()
            .and_then(|view| enclosing_function(view.source(), src_line));
        f["filename"] = json!(source);
        f["lineno"] = json!(src_line + 1);
        f["colno"] = json!(src_col + 1);
        if let Some(name) = enclosing {
            f["function"] = json!(name);
        }
    }
}

/// The function whose declaration is the nearest above `line` (0-based) in `source`: the
/// scope a frame is in, for the generated modules' `function name(` declarations.
fn enclosing_function(source: &str, line: u32) -> Option<String> {
    source
        .lines()
        .take(line as usize + 1)
        .filter_map(|l| {
            let at = l.find("function ")?;
            let name: String = l[at + "function ".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .last()
}

/// What a minidump says.
struct Dump {
    reason: String,
    modules: Vec<String>,
    threads: Vec<Value>,
}

fn read_minidump(bytes: &[u8]) -> Result<Dump, String> {
    use minidump::{
        Minidump, MinidumpException, MinidumpModuleList, MinidumpSystemInfo, MinidumpThreadList,
        Module,
    };
    let dump = Minidump::read(bytes).map_err(|e| format!("minidump: {e}"))?;
    let system = dump
        .get_stream::<MinidumpSystemInfo>()
        .map_err(|e| format!("minidump system info: {e}"))?;
    let exception = dump
        .get_stream::<MinidumpException>()
        .map_err(|e| format!("minidump exception: {e}"))?;
    let reason = exception
        .get_crash_reason(system.os, system.cpu)
        .to_string();
    let crashed = exception.get_crashing_thread_id();
    let modules = dump
        .get_stream::<MinidumpModuleList>()
        .map_err(|e| format!("minidump modules: {e}"))?
        .iter()
        .map(|m| m.code_file().into_owned())
        .collect();
    let threads = dump
        .get_stream::<MinidumpThreadList>()
        .map_err(|e| format!("minidump threads: {e}"))?
        .threads
        .iter()
        .map(|t| json!({ "id": t.raw.thread_id, "crashed": t.raw.thread_id == crashed }))
        .collect();
    Ok(Dump {
        reason,
        modules,
        threads,
    })
}
