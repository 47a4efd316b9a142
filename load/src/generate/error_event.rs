//! Server-side error events: a Python web application's exceptions with stack traces; the
//! fingerprint (and so the issue) comes from the per-event values.

use super::PerEvent;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sentry::protocol::{
    ClientSdkInfo, Event, Exception, Frame, Level, Map, Stacktrace, User, Values,
};
use sentry_load_common::{RUN_TAG, SEQ_TAG};
use std::borrow::Cow;

const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "ValueError",
        "builtins",
        "invalid literal for int() with base 10: 'order-{n}'",
    ),
    ("KeyError", "builtins", "'customer_{n}'"),
    (
        "TimeoutError",
        "builtins",
        "upstream inventory service did not answer in 5.0s",
    ),
    (
        "IntegrityError",
        "django.db.utils",
        "duplicate key value violates unique constraint \"orders_order_ref_{n}\"",
    ),
    (
        "AttributeError",
        "builtins",
        "'NoneType' object has no attribute 'total'",
    ),
];

const FRAMES: &[(&str, &str, &str, bool)] = &[
    (
        "django/core/handlers/base.py",
        "django.core.handlers.base",
        "_get_response",
        false,
    ),
    (
        "django/views/generic/base.py",
        "django.views.generic.base",
        "dispatch",
        false,
    ),
    (
        "shop/views/checkout.py",
        "shop.views.checkout",
        "post",
        true,
    ),
    (
        "shop/services/orders.py",
        "shop.services.orders",
        "create_order",
        true,
    ),
    (
        "shop/services/pricing.py",
        "shop.services.pricing",
        "apply_discounts",
        true,
    ),
    ("shop/models/cart.py", "shop.models.cart", "total", true),
];

pub(super) fn build(rng: &mut ChaCha8Rng, ev: &PerEvent<'_>) -> Event<'static> {
    let (ty, module, template) = EXCEPTIONS[rng.random_range(0..EXCEPTIONS.len())];
    let n: u32 = rng.random_range(1..100_000);
    let depth = rng.random_range(3..=FRAMES.len());
    let frames = FRAMES[..depth]
        .iter()
        .map(|(file, module, function, in_app)| Frame {
            filename: Some((*file).into()),
            abs_path: Some(format!("/srv/app/{file}")),
            module: Some((*module).into()),
            function: Some((*function).into()),
            lineno: Some(rng.random_range(10..400)),
            in_app: Some(*in_app),
            ..Default::default()
        })
        .collect();
    let mut tags = Map::new();
    tags.insert(RUN_TAG.into(), ev.run_id.to_owned());
    tags.insert(SEQ_TAG.into(), ev.seq.to_owned());
    tags.insert("sentry_load.issue".into(), ev.issue.to_owned());
    Event {
        event_id: ev.event_id,
        level: Level::Error,
        fingerprint: Cow::Owned(vec![format!("sentry-load-issue-{}", ev.issue).into()]),
        logger: Some("django.request".into()),
        platform: "python".into(),
        timestamp: ev.timestamp,
        server_name: Some(format!("web-{}", rng.random_range(1..=8)).into()),
        release: Some("shop@4.2.0".into()),
        environment: Some("load-test".into()),
        transaction: Some("/checkout/".into()),
        user: Some(User {
            id: Some(format!("user-{}", rng.random_range(1..50_000))),
            ..Default::default()
        }),
        exception: Values {
            values: vec![Exception {
                ty: ty.into(),
                value: Some(template.replace("{n}", &n.to_string())),
                module: Some(module.into()),
                stacktrace: Some(Stacktrace {
                    frames,
                    ..Default::default()
                }),
                ..Default::default()
            }],
        },
        tags,
        sdk: Some(Cow::Owned(ClientSdkInfo {
            name: "sentry-load".into(),
            version: sentry_load_common::TOOL_VERSION.into(),
            integrations: vec![],
            packages: vec![],
        })),
        ..Default::default()
    }
}
