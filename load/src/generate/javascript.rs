//! Browser JavaScript errors: a `javascript` event as the browser SDK sends it, whose frames
//! point into the minified [`Bundle`](super::js_bundle::Bundle) — so Sentry must fetch the
//! sourcemap from the uploaded artifact bundle to show the original code. Browser, os and
//! device contexts, the page request and breadcrumbs (navigation, clicks, fetches) come with it.

use super::PerEvent;
use super::js_bundle::Bundle;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sentry::protocol::{
    Breadcrumb, BrowserContext, Context, Event, Exception, Frame, Level, Map, Mechanism, OsContext,
    Request, Stacktrace, Values,
};
use sentry_load_common::{RUN_TAG, SEQ_TAG};
use sentry_load_config::KindRealism;
use serde_json::json;
use std::borrow::Cow;

/// The release JavaScript events carry, up to its patch number (the event's release number).
pub const RELEASE_PREFIX: &str = "storefront@3.8.";

const BROWSERS: &[(&str, &str, &str, &str)] = &[
    ("Chrome", "131.0.0", "Windows", "10"),
    ("Chrome", "130.0.0", "Mac OS X", "10.15.7"),
    ("Firefox", "133.0", "Windows", "10"),
    ("Safari", "18.1", "Mac OS X", "10.15.7"),
    ("Edge", "131.0.0", "Windows", "10"),
    ("Chrome Mobile", "131.0.0", "Android", "14"),
];

pub(super) fn build(
    rng: &mut ChaCha8Rng,
    ev: &PerEvent<'_>,
    r: &KindRealism,
    bundle: &Bundle,
) -> Event<'static> {
    let depth = rng.random_range(r.stack_depth.min..=r.stack_depth.max) as usize;
    let start = rng.random_range(0..bundle.functions());
    let ((ty, message), chain) = bundle.chain(start, depth);
    let url = bundle.url();
    let frames = chain
        .iter()
        .map(|f| Frame {
            function: Some(f.minified_function.clone()),
            abs_path: Some(url.clone()),
            filename: Some(format!("/static/js/{}", bundle.file_name)),
            lineno: Some(u64::from(f.line)),
            colno: Some(u64::from(f.column)),
            in_app: Some(true),
            ..Default::default()
        })
        .collect();
    let (browser, version, os, os_version) = BROWSERS[rng.random_range(0..BROWSERS.len())];
    let mut contexts = Map::new();
    contexts.insert(
        "browser".into(),
        Context::Browser(Box::new(BrowserContext {
            name: Some(browser.into()),
            version: Some(version.into()),
            ..Default::default()
        })),
    );
    contexts.insert(
        "os".into(),
        Context::Os(Box::new(OsContext {
            name: Some(os.into()),
            version: Some(os_version.into()),
            ..Default::default()
        })),
    );
    let mut tags = Map::new();
    tags.insert(RUN_TAG.into(), ev.run_id.to_owned());
    tags.insert(SEQ_TAG.into(), ev.seq.to_owned());
    tags.insert("sentry_load.issue".into(), ev.issue.to_owned());
    let page = ["/", "/products", "/cart", "/checkout", "/account"][rng.random_range(0..5)];
    let mut headers = Map::new();
    headers.insert(
        "User-Agent".into(),
        format!("Mozilla/5.0 ({os}) {browser}/{version}"),
    );
    Event {
        event_id: ev.event_id,
        level: Level::Error,
        fingerprint: Cow::Owned(vec![format!("sentry-load-js-{}", ev.issue).into()]),
        platform: "javascript".into(),
        timestamp: ev.timestamp,
        release: Some(format!("{RELEASE_PREFIX}{}", ev.release).into()),
        environment: Some(ev.environment.to_owned().into()),
        user: Some(super::error_event::user(rng, ev)),
        request: Some(Request {
            url: format!("{}{page}", super::js_bundle::BUNDLE_ORIGIN)
                .parse()
                .ok(),
            headers,
            ..Default::default()
        }),
        contexts,
        breadcrumbs: breadcrumbs(rng, ev, r, page),
        exception: Values {
            values: vec![Exception {
                ty: ty.into(),
                value: Some(message.into()),
                mechanism: Some(Mechanism {
                    ty: "onerror".into(),
                    handled: Some(false),
                    ..Default::default()
                }),
                stacktrace: Some(Stacktrace {
                    frames,
                    ..Default::default()
                }),
                ..Default::default()
            }],
        },
        tags,
        sdk: Some(super::sdk("sentry.javascript.browser", "8.42.0")),
        ..Default::default()
    }
}

fn breadcrumbs(
    rng: &mut ChaCha8Rng,
    ev: &PerEvent<'_>,
    r: &KindRealism,
    page: &str,
) -> Values<Breadcrumb> {
    let count = rng.random_range(r.breadcrumbs.min..=r.breadcrumbs.max);
    let values = (0..count)
        .map(|i| {
            let at = ev.before(u64::from(count - i) * rng.random_range(100_000..3_000_000));
            let mut b = Breadcrumb {
                timestamp: at,
                level: Level::Info,
                ..Default::default()
            };
            match i % 3 {
                0 => {
                    b.category = Some("navigation".into());
                    b.data.insert("from".into(), json!("/"));
                    b.data.insert("to".into(), json!(page));
                }
                1 => {
                    b.category = Some("ui.click".into());
                    b.message = Some(format!(
                        "button.add-to-cart[data-sku=\"{}\"]",
                        rng.random_range(1000..9999)
                    ));
                }
                _ => {
                    b.ty = "http".into();
                    b.category = Some("fetch".into());
                    b.data.insert("method".into(), json!("GET"));
                    b.data.insert(
                        "url".into(),
                        json!(format!("/api/products/{}", rng.random_range(1..5000))),
                    );
                    b.data.insert("status_code".into(), json!(200));
                }
            }
            b
        })
        .collect();
    Values { values }
}
