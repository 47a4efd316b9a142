//! Transactions: an `http.server` root with a span tree under it — middleware, database
//! queries, cache reads, outgoing HTTP calls and template rendering, nested the way web
//! frameworks nest them — with the trace context, status and the per-event name index.
//!
//! The trace id is the event id and the root span id its first half, so every transaction
//! starts its own trace and no two share a root span (Snuba's `transactions_local` is a
//! ReplacingMergeTree sorted by name and `span_id`: equal keys would merge away). The span count
//! follows `[traffic.transaction] spans`; the name's cardinality is `names`. (The `sentry`
//! crate's `Transaction` type has no `measurements`, which backend SDKs do not send either.)

use super::PerEvent;
use super::error_event::user;
use super::platforms::{PLATFORMS, Platform};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sentry::protocol::{
    Context, Map, Span, SpanId, SpanStatus, TraceContext, TraceId, Transaction,
};
use sentry_load_common::{RUN_TAG, SEQ_TAG};
use sentry_load_config::KindRealism;
use serde_json::json;
use std::time::SystemTime;

/// What a span does: op, description (`{n}` varies), whether it can have children.
const SPAN_KINDS: &[(&str, &str, bool)] = &[
    ("middleware.handler", "AuthenticationMiddleware", true),
    (
        "db",
        "SELECT id, status, total FROM orders WHERE customer_id = %s ORDER BY created_at DESC LIMIT {n}",
        false,
    ),
    (
        "db",
        "UPDATE inventory SET reserved = reserved + %s WHERE sku = %s",
        false,
    ),
    ("db.redis", "GET session:{n}", false),
    ("cache.get", "product:detail:{n}", false),
    (
        "http.client",
        "GET http://pricing.internal/v2/quotes/{n}",
        false,
    ),
    ("function", "services.orders.build_summary", true),
    ("template.render", "orders/summary.html", false),
    ("serialize", "OrderSerializer", false),
];

pub(super) fn build(
    rng: &mut ChaCha8Rng,
    ev: &PerEvent<'_>,
    r: &KindRealism,
) -> Transaction<'static> {
    let p: &Platform = &PLATFORMS[rng.random_range(0..PLATFORMS.len())];
    let route = p.routes[rng.random_range(0..p.routes.len())];
    let method = if rng.random_bool(0.5) { "GET" } else { "POST" };
    // Name index and route: `names` distinct names over the run.
    let name = format!("{method} /svc-{}{route}", ev.issue);
    let duration_us: u64 = rng.random_range(5_000..2_500_000);
    let start = ev.before(duration_us);
    let trace_id = TraceId::from(ev.event_id.into_bytes());
    let id = ev.event_id.into_bytes();
    let root = SpanId::from([id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]]);
    let count = rng.random_range(r.spans.min..=r.spans.max) as usize;
    let spans = span_tree(rng, ev, trace_id, root, duration_us, count);
    let failed = rng.random_range(0..20) == 0;
    let status = if failed {
        SpanStatus::InternalError
    } else {
        SpanStatus::Ok
    };
    let mut contexts = Map::new();
    contexts.insert(
        "trace".into(),
        Context::Trace(Box::new(TraceContext {
            span_id: root,
            trace_id,
            op: Some("http.server".into()),
            status: Some(status),
            ..Default::default()
        })),
    );
    contexts.insert(
        "runtime".into(),
        Context::Runtime(Box::new(sentry::protocol::RuntimeContext {
            name: Some(p.runtime.0.into()),
            version: Some(p.runtime.1.into()),
            ..Default::default()
        })),
    );
    let mut tags = Map::new();
    tags.insert(RUN_TAG.into(), ev.run_id.to_owned());
    tags.insert(SEQ_TAG.into(), ev.seq.to_owned());
    tags.insert("http.method".into(), method.into());
    tags.insert(
        "http.status_code".into(),
        if failed { "500" } else { "200" }.into(),
    );
    Transaction {
        event_id: ev.event_id,
        name: Some(name),
        release: Some(format!("{}{}", p.release, ev.release).into()),
        environment: Some(ev.environment.to_owned().into()),
        user: Some(user(rng, ev)),
        tags,
        sdk: Some(super::sdk(p.sdk.0, p.sdk.1)),
        platform: p.name.into(),
        timestamp: Some(ev.timestamp),
        start_timestamp: start,
        spans,
        contexts,
        server_name: Some(format!("{}-web-{}", p.name, rng.random_range(1..=12)).into()),
        ..Default::default()
    }
}

fn span_id(rng: &mut ChaCha8Rng) -> SpanId {
    SpanId::from(rng.random::<[u8; 8]>())
}

/// `count` spans inside `[start, end]` of a transaction lasting `duration_us`: children of
/// the root or of an open parent, each within its parent's time.
fn span_tree(
    rng: &mut ChaCha8Rng,
    ev: &PerEvent<'_>,
    trace_id: TraceId,
    root: SpanId,
    duration_us: u64,
    count: usize,
) -> Vec<Span> {
    // (span id, start offset from the transaction start, end offset) of spans that may nest.
    let mut parents: Vec<(SpanId, u64, u64)> = vec![(root, 0, duration_us)];
    let at = |offset: u64| -> SystemTime { ev.before(duration_us - offset.min(duration_us)) };
    let mut spans = Vec::with_capacity(count);
    for _ in 0..count {
        let (parent, from, to) = parents[rng.random_range(0..parents.len())];
        let (op, description, nests) = SPAN_KINDS[rng.random_range(0..SPAN_KINDS.len())];
        let window = to - from;
        let start = from + rng.random_range(0..=window / 2);
        let end = start + rng.random_range(0..=(to - start).max(1)).min(to - start);
        let id = span_id(rng);
        let mut data = Map::new();
        match op {
            "db" => {
                data.insert("db.system".into(), json!("postgresql"));
            }
            "http.client" => {
                data.insert("http.response.status_code".into(), json!(200));
            }
            _ => {}
        }
        spans.push(Span {
            span_id: id,
            trace_id,
            parent_span_id: Some(parent),
            op: Some(op.into()),
            description: Some(description.replace("{n}", &rng.random_range(1..500).to_string())),
            timestamp: Some(at(end)),
            start_timestamp: at(start),
            status: Some(SpanStatus::Ok),
            data,
            ..Default::default()
        });
        if nests && end > start {
            parents.push((id, start, end));
        }
    }
    spans
}
