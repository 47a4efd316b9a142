//! The fidelity check against the shape Sentry's event-details endpoint really returns
//! (`GET /api/0/projects/{org}/{project}/events/{event_id}/`, serialized by
//! `IssueEventSerializer`): the fixtures under `tests/fixtures/` are that shape for the events
//! the generator sends (see `tests/fixtures/README.md` for the sources each field was checked
//! against). A faithful event has no differences; each changed field is named; and a field
//! the checker reads that the real shape does not have shows up as a difference of a faithful
//! event.

use sentry_load_verify::fidelity::{Original, differences};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The differences `changed` has that `base` (the unchanged fixture) has not: what a change
/// to the stored event adds, whatever the checker says of the fixture itself.
fn introduced(
    sent: &Value,
    base: &Value,
    changed: &Value,
    resolve: Option<&Resolve>,
) -> Vec<String> {
    let before = differences(sent, base, resolve);
    differences(sent, changed, resolve)
        .into_iter()
        .filter(|d| !before.contains(d))
        .collect()
}

type Resolve = dyn Fn(u32, u32) -> Option<Original>;

fn entry_mut<'a>(stored: &'a mut Value, ty: &str) -> &'a mut Value {
    stored["entries"]
        .as_array_mut()
        .and_then(|e| e.iter_mut().find(|e| e["type"] == ty))
        .unwrap_or_else(|| panic!("no {ty} entry"))
}

fn tag_mut<'a>(stored: &'a mut Value, key: &str) -> &'a mut Value {
    stored["tags"]
        .as_array_mut()
        .and_then(|t| t.iter_mut().find(|t| t["key"] == key))
        .unwrap_or_else(|| panic!("no {key} tag"))
}

fn frames_mut(stored: &mut Value) -> &mut Vec<Value> {
    entry_mut(stored, "exception")["data"]["values"][0]["stacktrace"]["frames"]
        .as_array_mut()
        .expect("frames")
}

/// A Python error event as the generator's SDK serializes it (`load/src/generate/error_event.rs`).
fn sent_error() -> Value {
    let frame = |file: &str, module: &str, function: &str, lineno: u32, in_app: bool| {
        json!({
            "filename": file, "abs_path": format!("/srv/app/{file}"), "module": module,
            "function": function, "lineno": lineno, "in_app": in_app
        })
    };
    json!({
        "event_id": "0f3a5c2e9b7d4e61a8c4d2b1e6f70a93",
        "level": "error",
        "fingerprint": ["sentry-load-issue-3"],
        "logger": "django.request",
        "platform": "python",
        "timestamp": 1_735_732_800.125,
        "server_name": "python-web-4",
        "release": "shop@4.2.7",
        "environment": "production",
        "transaction": "/checkout/",
        "user": { "id": "user-42", "email": "user42@example.com", "ip_address": "10.3.7.21" },
        "request": {
            "url": "https://shop.example.com/checkout/",
            "method": "POST",
            "headers": {
                "Accept": "application/json",
                "Host": "shop.example.com",
                "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"
            }
        },
        "contexts": {
            "os": { "type": "os", "name": "Linux", "version": "6.1.0",
                    "kernel_version": "6.1.0-28-amd64" },
            "runtime": { "type": "runtime", "name": "CPython", "version": "3.12.7" }
        },
        "breadcrumbs": { "values": [
            { "timestamp": 1_735_732_798.906, "type": "http", "category": "http", "level": "info",
              "data": { "method": "GET", "status_code": 200,
                        "url": "http://inventory.internal/items/4242" } },
            { "timestamp": 1_735_732_799.512, "type": "query", "category": "query", "level": "info",
              "message": "SELECT id, total FROM orders WHERE customer_id = 4711 LIMIT 20" },
            { "timestamp": 1_735_732_799.833, "category": "django.request",
              "level": "info", "message": "handled request in 214 ms" }
        ] },
        "exception": { "values": [{
            "type": "KeyError",
            "value": "'customer_4711'",
            "module": "builtins",
            "stacktrace": { "frames": [
                frame("django/views/generic/base.py", "django.views.generic.base", "dispatch",
                      143, false),
                frame("shop/views/checkout.py", "shop.views.checkout", "post", 41, true),
                frame("shop/services/orders.py", "shop.services.orders", "create_order",
                      118, true),
                frame("shop/services/pricing.py", "shop.services.pricing", "apply_discounts",
                      77, true),
                frame("shop/models/cart.py", "shop.models.cart", "total", 203, true)
            ] }
        }] },
        "tags": {
            "route": "/checkout/",
            "sentry_load.issue": "3",
            "sentry_load.run": "r20250101-1a2b",
            "sentry_load.seq": "7"
        },
        "sdk": { "name": "sentry.python.django", "version": "2.19.2" }
    })
}

/// A transaction as the generator's SDK serializes it (`load/src/generate/transaction.rs`).
fn sent_transaction() -> Value {
    let trace = "5b8e2d1c4a3f4e7b9c0d1e2f3a4b5c6d";
    let span =
        |id: &str, parent: &str, op: &str, description: &str, start: f64, end: f64, data: Value| {
            let mut span = json!({
                "span_id": id, "trace_id": trace, "parent_span_id": parent, "op": op,
                "description": description, "start_timestamp": start, "timestamp": end,
                "status": "ok"
            });
            // The SDK leaves an empty `data` out.
            if data != json!({}) {
                span["data"] = data;
            }
            span
        };
    json!({
        "event_id": trace,
        "type": "transaction",
        "transaction": "POST /svc-3/api/orders/",
        "platform": "python",
        "release": "shop@4.2.7",
        "environment": "production",
        "server_name": "python-web-9",
        "user": { "id": "user-42", "email": "user42@example.com", "ip_address": "10.3.7.21" },
        "tags": {
            "http.method": "POST",
            "http.status_code": "200",
            "sentry_load.run": "r20250101-1a2b",
            "sentry_load.seq": "8"
        },
        "sdk": { "name": "sentry.python.django", "version": "2.19.2" },
        "timestamp": 1_735_732_800.125,
        "start_timestamp": 1_735_732_799.642_7,
        "contexts": {
            "trace": { "type": "trace", "span_id": "5b8e2d1c4a3f4e7b", "trace_id": trace,
                       "op": "http.server", "status": "ok" },
            "runtime": { "type": "runtime", "name": "CPython", "version": "3.12.7" }
        },
        "spans": [
            span("a1b2c3d4e5f60718", "5b8e2d1c4a3f4e7b", "middleware.handler",
                 "AuthenticationMiddleware", 1_735_732_799.659_8, 1_735_732_800.021_2, json!({})),
            span("0c1d2e3f40516273", "a1b2c3d4e5f60718", "db",
                 "SELECT id, status, total FROM orders WHERE customer_id = %s \
                  ORDER BY created_at DESC LIMIT 37",
                 1_735_732_799.704_3, 1_735_732_799.735_5, json!({ "db.system": "postgresql" })),
            span("9f8e7d6c5b4a3928", "a1b2c3d4e5f60718", "http.client",
                 "GET http://pricing.internal/v2/quotes/211",
                 1_735_732_799.824, 1_735_732_799.912_4,
                 json!({ "http.response.status_code": 200 }))
        ]
    })
}

const BUNDLE: &str = "https://shop.example.com/static/js/main.3f9c2a71.min.js";

/// A browser error as the generator's SDK serializes it (`load/src/generate/javascript.rs`):
/// frames in the minified bundle.
fn sent_javascript() -> Value {
    let frame = |function: &str, colno: u32| {
        json!({
            "function": function, "abs_path": BUNDLE,
            "filename": "/static/js/main.3f9c2a71.min.js", "lineno": 1, "colno": colno,
            "in_app": true
        })
    };
    json!({
        "event_id": "c4d2e1f0a9b84c7d8e6f5a4b3c2d1e0f",
        "level": "error",
        "fingerprint": ["sentry-load-js-12"],
        "platform": "javascript",
        "timestamp": 1_735_732_800.125,
        "release": "storefront@3.8.5",
        "environment": "production",
        "user": { "id": "user-17", "email": "user17@example.com", "ip_address": "10.88.1.200" },
        "request": {
            "url": "https://shop.example.com/cart",
            "headers": { "User-Agent": "Mozilla/5.0 (Windows) Chrome/131.0.0" }
        },
        "contexts": {
            "browser": { "type": "browser", "name": "Chrome", "version": "131.0.0" },
            "os": { "type": "os", "name": "Windows", "version": "10" }
        },
        "breadcrumbs": { "values": [
            { "timestamp": 1_735_732_792.74, "category": "navigation", "level": "info",
              "data": { "from": "/", "to": "/cart" } },
            { "timestamp": 1_735_732_796.318, "category": "ui.click", "level": "info",
              "message": "button.add-to-cart[data-sku=\"4821\"]" },
            { "timestamp": 1_735_732_799.204, "type": "http", "category": "fetch", "level": "info",
              "data": { "method": "GET", "status_code": 200, "url": "/api/products/1187" } }
        ] },
        "exception": { "values": [{
            "type": "TypeError",
            "value": "Cannot read properties of undefined (reading 'price')",
            "mechanism": { "type": "onerror", "handled": false },
            "stacktrace": { "frames": [frame("j", 1987), frame("k", 2104), frame("l", 2177)] }
        }] },
        "tags": {
            "sentry_load.issue": "12",
            "sentry_load.run": "r20250101-1a2b",
            "sentry_load.seq": "19"
        },
        "sdk": { "name": "sentry.javascript.browser", "version": "8.42.0" }
    })
}

/// Where the bundle's frames resolve to (what `Bundle::original_at` answers for this bundle).
fn original_of(line: u32, column: u32) -> Option<Original> {
    let at = |line: u32, function: &str| {
        Some(("src/store/cart.ts".to_owned(), line, function.to_owned()))
    };
    match (line, column) {
        (1, 1987) => at(16, "applyDiscount"),
        (1, 2104) => at(24, "validateCoupon"),
        (1, 2177) => at(30, "formatPrice"),
        _ => None,
    }
}

/// A native crash as the generator's SDK serializes it (`load/src/generate/native.rs`); its
/// minidump goes as an attachment.
fn sent_native() -> Value {
    let image = |name: &str, addr: &str, size: u64, id: &str, code_id: &str, debug_file: &str| {
        json!({
            "type": "symbolic", "name": name, "arch": "x86_64", "image_addr": addr,
            "image_size": size, "image_vmaddr": "0x0", "id": id, "code_id": code_id,
            "debug_file": debug_file
        })
    };
    json!({
        "event_id": "7e1f0d2c3b4a4958a7b6c5d4e3f2a1b0",
        "level": "fatal",
        "fingerprint": ["sentry-load-native-2"],
        "platform": "native",
        "timestamp": 1_735_732_800.125,
        "release": "acme-studio@2024.5.0",
        "environment": "production",
        "user": { "id": "user-5", "email": "user5@example.com", "ip_address": "10.20.4.77" },
        "contexts": {
            "os": { "type": "os", "name": "Windows", "version": "10.0.19045", "build": "19045" },
            "device": { "type": "device", "arch": "x86_64", "memory_size": 34_359_738_368_u64 }
        },
        "breadcrumbs": { "values": [
            { "timestamp": 1_735_732_797.011, "category": "app", "level": "info",
              "message": "loaded scene" },
            { "timestamp": 1_735_732_799.402, "category": "app", "level": "info",
              "message": "autosave" }
        ] },
        "exception": { "values": [{
            "type": "EXCEPTION_ACCESS_VIOLATION_READ",
            "value": "Fatal Error: EXCEPTION_ACCESS_VIOLATION_READ",
            "mechanism": { "type": "minidump", "handled": false, "synthetic": true }
        }] },
        "debug_meta": { "images": [
            image("C:\\Program Files\\Acme\\AcmeStudio.exe", "0x7ff610000000", 0x42_0000,
                  "3c8f1a2b-4d5e-4f60-8a1b-2c3d4e5f6071-1", "65A1B2C3420000",
                  "C:\\build\\AcmeStudio.pdb"),
            image("C:\\Program Files\\Acme\\acme_core.dll", "0x7ff610430000", 0x31_0000,
                  "9d0e1f2a-3b4c-4d5e-9f60-718293a4b5c6-1", "65A1B2C4310000",
                  "C:\\build\\acme_core.pdb"),
            image("C:\\Windows\\System32\\ntdll.dll", "0x7ff610750000", 0x1f_8000,
                  "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d-1", "5E3F2A111f8000", "ntdll.pdb")
        ] },
        "tags": {
            "sentry_load.issue": "2",
            "sentry_load.run": "r20250101-1a2b",
            "sentry_load.seq": "23"
        },
        "sdk": { "name": "sentry.native", "version": "0.7.17" }
    })
}

// (a) A faithful event and its event details: no differences.

#[test]
fn a_python_error_matches_its_event_details() {
    let d = differences(&sent_error(), &fixture("event_details_error.json"), None);
    assert!(d.is_empty(), "{d:#?}");
}

#[test]
fn a_transaction_matches_its_event_details() {
    let d = differences(
        &sent_transaction(),
        &fixture("event_details_transaction.json"),
        None,
    );
    assert!(d.is_empty(), "{d:#?}");
}

#[test]
fn a_javascript_error_resolved_through_its_sourcemap_matches_its_event_details() {
    let d = differences(
        &sent_javascript(),
        &fixture("event_details_javascript.json"),
        Some(&original_of),
    );
    assert!(d.is_empty(), "{d:#?}");
}

#[test]
fn a_native_crash_matches_its_event_details() {
    let d = differences(&sent_native(), &fixture("event_details_native.json"), None);
    assert!(d.is_empty(), "{d:#?}");
}

// (b) A change to the stored event is a difference naming the field.

#[test]
fn a_changed_frame_function_is_named() {
    let base = fixture("event_details_error.json");
    let mut s = base.clone();
    frames_mut(&mut s)[4]["function"] = json!("subtotal");
    let d = introduced(&sent_error(), &base, &s, None);
    assert_eq!(
        d,
        [
            "exception[0] frame 4: expected `total` `shop/models/cart.py`:203, \
          stored `subtotal` `shop/models/cart.py`:203"
        ]
    );
}

#[test]
fn a_changed_frame_line_or_file_is_named() {
    let base = fixture("event_details_error.json");
    let mut s = base.clone();
    frames_mut(&mut s)[1]["lineNo"] = json!(42);
    frames_mut(&mut s)[2]["filename"] = json!("shop/services/order.py");
    let d = introduced(&sent_error(), &base, &s, None);
    assert_eq!(d.len(), 2, "{d:#?}");
    assert!(d[0].starts_with("exception[0] frame 1: expected `post` `shop/views/checkout.py`:41"));
    assert!(d[0].ends_with(":42"), "{}", d[0]);
    assert!(d[1].starts_with("exception[0] frame 2: "), "{}", d[1]);
    assert!(
        d[1].contains("stored `create_order` `shop/services/order.py`:118"),
        "{}",
        d[1]
    );
}

#[test]
fn a_dropped_frame_is_named() {
    let base = fixture("event_details_error.json");
    let mut s = base.clone();
    frames_mut(&mut s).remove(0);
    let d = introduced(&sent_error(), &base, &s, None);
    assert_eq!(d, ["exception[0] frames: sent 5, stored 4"]);
}

#[test]
fn a_changed_tag_value_is_named() {
    let base = fixture("event_details_error.json");
    let mut s = base.clone();
    tag_mut(&mut s, "route")["value"] = json!("/cart/");
    tag_mut(&mut s, "sentry_load.seq")["value"] = json!("8");
    let d = introduced(&sent_error(), &base, &s, None);
    assert_eq!(
        d,
        [
            "tags.route: sent `/checkout/`, stored `/cart/`",
            "tags.sentry_load.seq: sent `7`, stored `8`"
        ]
    );
}

#[test]
fn level_and_environment_are_read_from_their_tags() {
    let base = fixture("event_details_error.json");
    let mut s = base.clone();
    tag_mut(&mut s, "level")["value"] = json!("warning");
    s["tags"]
        .as_array_mut()
        .unwrap()
        .retain(|t| t["key"] != "environment");
    let d = introduced(&sent_error(), &base, &s, None);
    assert_eq!(
        d,
        [
            "level: sent `error`, stored `warning`",
            "environment: sent `production`, stored <none>"
        ]
    );
}

#[test]
fn a_changed_exception_message_or_type_is_named() {
    let base = fixture("event_details_error.json");
    let mut s = base.clone();
    let exception = &mut entry_mut(&mut s, "exception")["data"]["values"][0];
    exception["value"] = json!("'customer_4712'");
    exception["type"] = json!("LookupError");
    let d = introduced(&sent_error(), &base, &s, None);
    assert_eq!(
        d,
        [
            "exception[0].type: sent \"KeyError\", stored \"LookupError\"",
            "exception[0].value: sent \"'customer_4711'\", stored \"'customer_4712'\""
        ]
    );
}

#[test]
fn a_missing_exception_is_named() {
    let base = fixture("event_details_error.json");
    let mut s = base.clone();
    s["entries"]
        .as_array_mut()
        .unwrap()
        .retain(|e| e["type"] != "exception");
    let d = introduced(&sent_error(), &base, &s, None);
    assert_eq!(d, ["exception values: sent 1, stored 0"]);
}

#[test]
fn a_changed_release_or_platform_is_named() {
    let base = fixture("event_details_error.json");
    let mut s = base.clone();
    s["release"]["version"] = json!("shop@4.2.8");
    s["platform"] = json!("other");
    let d = introduced(&sent_error(), &base, &s, None);
    assert_eq!(
        d,
        [
            "platform: sent `python`, stored `other`",
            "release: sent `shop@4.2.7`, stored `shop@4.2.8`"
        ]
    );
    // No release at all: the serializer's `release` is null.
    let mut s = base.clone();
    s["release"] = Value::Null;
    let d = introduced(&sent_error(), &base, &s, None);
    assert_eq!(d, ["release: sent `shop@4.2.7`, stored <none>"]);
}

#[test]
fn a_changed_trace_context_or_span_count_is_named() {
    let base = fixture("event_details_transaction.json");
    let mut s = base.clone();
    s["contexts"]["trace"]["op"] = json!("http.client");
    s["contexts"]["trace"]["trace_id"] = json!("00000000000000000000000000000000");
    entry_mut(&mut s, "spans")["data"]
        .as_array_mut()
        .unwrap()
        .pop();
    let d = introduced(&sent_transaction(), &base, &s, None);
    assert_eq!(
        d,
        [
            "contexts.trace.op: sent `http.server`, stored `http.client`",
            "contexts.trace.trace_id: sent `5b8e2d1c4a3f4e7b9c0d1e2f3a4b5c6d`, \
             stored `00000000000000000000000000000000`",
            "spans: sent 3, stored 2"
        ]
    );
}

#[test]
fn an_unresolved_javascript_frame_is_named() {
    let base = fixture("event_details_javascript.json");
    let mut s = base.clone();
    // Stored as sent: the minified frame, as `rawStacktrace` holds it.
    let raw =
        entry_mut(&mut s, "exception")["data"]["values"][0]["rawStacktrace"]["frames"][2].clone();
    frames_mut(&mut s)[2] = raw;
    let d = introduced(&sent_javascript(), &base, &s, Some(&original_of));
    assert_eq!(
        d,
        [
            "exception[0] frame 2: expected `formatPrice` `src/store/cart.ts`:30, \
          stored `l` `/static/js/main.3f9c2a71.min.js`:1"
        ]
    );
}

#[test]
fn a_native_crash_without_its_crashed_thread_or_a_module_is_named() {
    let base = fixture("event_details_native.json");
    let mut s = base.clone();
    entry_mut(&mut s, "threads")["data"]["values"][0]["crashed"] = json!(false);
    entry_mut(&mut s, "debugmeta")["data"]["images"]
        .as_array_mut()
        .unwrap()
        .pop();
    let d = introduced(&sent_native(), &base, &s, None);
    assert_eq!(
        d,
        [
            "debug images: sent 3 modules, stored 2 (1 differ)",
            "threads: stored 2 threads, 0 crashed (the minidump was not processed)"
        ]
    );
}

// (c) What the checker reads must be where event details has it.

#[test]
fn the_transaction_name_is_read_where_event_details_has_it() {
    // Event details has no top-level `transaction`: the name is the `transaction` tag (and a
    // transaction's `title`).
    for (sent, stored) in [
        (sent_error(), fixture("event_details_error.json")),
        (
            sent_transaction(),
            fixture("event_details_transaction.json"),
        ),
    ] {
        assert!(stored.get("transaction").is_none());
        let d = differences(&sent, &stored, None);
        let wrong: Vec<_> = d.iter().filter(|d| d.starts_with("transaction:")).collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}

#[test]
fn a_native_crash_is_compared_with_the_frames_its_minidump_gives() {
    // The sent exception has no stack trace; processing the minidump gives the exception the
    // crashed thread's frames.
    let stored = fixture("event_details_native.json");
    assert!(
        sent_native()["exception"]["values"][0]
            .get("stacktrace")
            .is_none()
    );
    let d = differences(&sent_native(), &stored, None);
    let wrong: Vec<_> = d.iter().filter(|d| d.contains("frames")).collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_fixtures_have_the_keys_the_checker_reads() {
    let has = |name: &str, pointers: &[&str]| {
        let v = fixture(name);
        for p in pointers {
            assert!(v.pointer(p).is_some(), "{name}: no {p}");
        }
    };
    let frame = "/entries/0/data/values/0/stacktrace/frames/0";
    has(
        "event_details_error.json",
        &[
            "/platform",
            "/release/version",
            "/tags/0/key",
            "/tags/0/value",
            "/entries/0/type",
            &format!("{frame}/function"),
            &format!("{frame}/filename"),
            &format!("{frame}/lineNo"),
        ],
    );
    has(
        "event_details_transaction.json",
        &[
            "/contexts/trace/op",
            "/contexts/trace/trace_id",
            "/entries/0/data/0/span_id",
        ],
    );
    has(
        "event_details_native.json",
        &[
            "/entries/1/data/values/0/crashed",
            "/entries/3/data/images/0/code_file",
        ],
    );
}
