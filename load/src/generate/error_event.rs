//! Server-side error events: an exception with its stack trace from one of the
//! [`PLATFORMS`](super::platforms::PLATFORMS), with breadcrumbs, os and runtime contexts, the
//! request, the user, and the fingerprint (and so the issue) from the per-event values.
//! Breadcrumb count and stack depth follow the profile's `[traffic.error]` knobs.

use super::PerEvent;
use super::platforms::{PLATFORMS, Platform};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sentry::protocol::{
    Breadcrumb, Context, Event, Exception, Frame, IpAddress, Level, Map, OsContext, Request,
    RuntimeContext, Stacktrace, User, Values,
};
use sentry_load_common::{RUN_TAG, SEQ_TAG};
use sentry_load_config::{CountRange, KindRealism};
use serde_json::json;
use std::borrow::Cow;

pub(super) fn build(rng: &mut ChaCha8Rng, ev: &PerEvent<'_>, r: &KindRealism) -> Event<'static> {
    let p = &PLATFORMS[rng.random_range(0..PLATFORMS.len())];
    let (ty, module, template) = p.exceptions[rng.random_range(0..p.exceptions.len())];
    let n: u32 = rng.random_range(1..100_000);
    let route = p.routes[rng.random_range(0..p.routes.len())];
    let level = match rng.random_range(0..20) {
        0 => Level::Fatal,
        1 | 2 => Level::Warning,
        _ => Level::Error,
    };
    let mut tags = Map::new();
    tags.insert(RUN_TAG.into(), ev.run_id.to_owned());
    tags.insert(SEQ_TAG.into(), ev.seq.to_owned());
    tags.insert("sentry_load.issue".into(), ev.issue.to_owned());
    tags.insert("route".into(), route.to_owned());
    Event {
        event_id: ev.event_id,
        level,
        fingerprint: Cow::Owned(vec![format!("sentry-load-issue-{}", ev.issue).into()]),
        logger: Some(p.logger.into()),
        platform: p.name.into(),
        timestamp: ev.timestamp,
        server_name: Some(format!("{}-web-{}", p.name, rng.random_range(1..=12)).into()),
        release: Some(format!("{}{}", p.release, ev.release).into()),
        environment: Some(ev.environment.to_owned().into()),
        transaction: Some(route.into()),
        user: Some(user(rng, ev)),
        request: Some(request(rng, route)),
        contexts: contexts(p),
        breadcrumbs: breadcrumbs(rng, p, ev, r.breadcrumbs),
        exception: Values {
            values: vec![Exception {
                ty: ty.into(),
                value: Some(template.replace("{n}", &n.to_string())),
                module: (!module.is_empty()).then(|| module.into()),
                stacktrace: Some(Stacktrace {
                    frames: frames(rng, p, r.stack_depth),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        },
        tags,
        sdk: Some(super::sdk(p.sdk.0, p.sdk.1)),
        ..Default::default()
    }
}

/// `depth` frames: the platform's own, outermost first; deeper stacks repeat its framework
/// (not in-app) frames above them, as middleware chains do.
fn frames(rng: &mut ChaCha8Rng, p: &Platform, depth: CountRange) -> Vec<Frame> {
    let depth = rng.random_range(depth.min..=depth.max).max(1) as usize;
    let own = depth.min(p.frames.len());
    let framework: Vec<_> = p.frames.iter().filter(|f| !f.3).collect();
    let outer = (0..depth - own).map(|i| framework[i % framework.len().max(1)]);
    outer
        .chain(&p.frames[p.frames.len() - own..])
        .map(|(file, module, function, in_app)| Frame {
            filename: Some((*file).into()),
            abs_path: Some(if file.starts_with('/') {
                (*file).into()
            } else {
                format!("/srv/app/{file}")
            }),
            module: (!module.is_empty()).then(|| (*module).into()),
            function: Some((*function).into()),
            lineno: Some(rng.random_range(10..600)),
            colno: (p.name == "node").then(|| rng.random_range(5..80)),
            in_app: Some(*in_app),
            ..Default::default()
        })
        .collect()
}

/// The user is the event's user number; the IP address is the variant's.
pub(super) fn user(rng: &mut ChaCha8Rng, ev: &PerEvent<'_>) -> User {
    let id = ev.user;
    User {
        id: Some(format!("user-{id}")),
        email: Some(format!("user{id}@example.com")),
        ip_address: Some(IpAddress::Exact(
            [
                10,
                rng.random_range(0..=255),
                rng.random_range(0..=255),
                rng.random_range(1..255),
            ]
            .into(),
        )),
        ..Default::default()
    }
}

fn request(rng: &mut ChaCha8Rng, route: &str) -> Request {
    let method = if rng.random_bool(0.6) { "POST" } else { "GET" };
    let mut headers = Map::new();
    headers.insert("Accept".into(), "application/json".into());
    headers.insert(
        "User-Agent".into(),
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36".into(),
    );
    headers.insert("Host".into(), "shop.example.com".into());
    let path = route
        .replace("{id}", "42")
        .replace(":id", "42")
        .replace(":slug", "garden");
    Request {
        url: format!("https://shop.example.com{path}").parse().ok(),
        method: Some(method.into()),
        query_string: (method == "GET").then(|| format!("page={}", rng.random_range(1..20))),
        headers,
        ..Default::default()
    }
}

fn contexts(p: &Platform) -> Map<String, Context> {
    let mut c = Map::new();
    c.insert(
        "os".into(),
        Context::Os(Box::new(OsContext {
            name: Some("Linux".into()),
            version: Some("6.1.0".into()),
            kernel_version: Some("6.1.0-28-amd64".into()),
            ..Default::default()
        })),
    );
    c.insert(
        "runtime".into(),
        Context::Runtime(Box::new(RuntimeContext {
            name: Some(p.runtime.0.into()),
            version: Some(p.runtime.1.into()),
            ..Default::default()
        })),
    );
    c
}

/// Breadcrumbs lead up to the event: each is a few hundred milliseconds before the next, the
/// last one at most a second before the event.
fn breadcrumbs(
    rng: &mut ChaCha8Rng,
    p: &Platform,
    ev: &PerEvent<'_>,
    count: CountRange,
) -> Values<Breadcrumb> {
    let count = rng.random_range(count.min..=count.max);
    let mut before = 0u64;
    let mut gaps: Vec<u64> = (0..count)
        .map(|_| {
            before += rng.random_range(1_000..900_000);
            before
        })
        .collect();
    gaps.reverse();
    let values = (0..count)
        .map(|i| {
            let at = ev.before(gaps[i as usize]);
            let crumb = |ty: &str, category: &str| Breadcrumb {
                timestamp: at,
                ty: ty.into(),
                category: Some(category.into()),
                level: Level::Info,
                ..Default::default()
            };
            match i % 3 {
                0 => {
                    let mut b = crumb("http", "http");
                    b.data.insert("method".into(), json!("GET"));
                    b.data.insert(
                        "url".into(),
                        json!(format!(
                            "http://inventory.internal/items/{}",
                            rng.random_range(1..10_000)
                        )),
                    );
                    b.data.insert("status_code".into(), json!(200));
                    b
                }
                1 => {
                    let mut b = crumb("query", "query");
                    b.message = Some(format!(
                        "SELECT id, total FROM orders WHERE customer_id = {} LIMIT 20",
                        rng.random_range(1..50_000)
                    ));
                    b
                }
                _ => {
                    let mut b = crumb("default", p.logger);
                    b.message = Some(format!(
                        "handled request in {} ms",
                        rng.random_range(2..900)
                    ));
                    b
                }
            }
        })
        .collect();
    Values { values }
}
