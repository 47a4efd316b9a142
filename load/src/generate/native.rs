//! Native crashes as sentry-native sends them: a fatal `native` event with os and device
//! contexts, breadcrumbs, the loaded modules as `debug_meta` images, and the minidump as an
//! `event.minidump` attachment. The images and the minidump come from one [`Crash`], so their
//! addresses, sizes and debug ids match.

use super::PerEvent;
use super::minidump::Crash;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sentry::protocol::{
    Attachment, AttachmentType, Breadcrumb, Context, DebugImage, DebugMeta, DeviceContext, Event,
    Exception, Level, Map, Mechanism, OsContext, SymbolicDebugImage, Values,
};
use sentry_load_common::{RUN_TAG, SEQ_TAG};
use sentry_load_config::KindRealism;
use std::borrow::Cow;

/// The event and its minidump, about `dump_bytes` long.
pub(super) fn build(
    rng: &mut ChaCha8Rng,
    ev: &PerEvent<'_>,
    r: &KindRealism,
    dump_bytes: usize,
) -> (Event<'static>, Attachment) {
    let depth = rng.random_range(r.stack_depth.min..=r.stack_depth.max) as usize;
    let crash = Crash::draw(rng, dump_bytes, depth);
    let dump = crash.write(rng);
    (event(rng, ev, r, &crash), minidump_attachment(dump))
}

/// The attachment item, as sentry-native names it.
fn minidump_attachment(buffer: Vec<u8>) -> Attachment {
    Attachment {
        buffer,
        filename: "minidump.dmp".into(),
        content_type: Some("application/octet-stream".into()),
        ty: Some(AttachmentType::Minidump),
    }
}

/// The `debug_meta` images of a crash.
pub fn images(crash: &Crash) -> Vec<DebugImage> {
    crash
        .modules
        .iter()
        .map(|m| {
            DebugImage::Symbolic(SymbolicDebugImage {
                name: m.code_file.clone(),
                arch: Some("x86_64".into()),
                image_addr: m.base.into(),
                image_size: u64::from(m.size),
                image_vmaddr: 0.into(),
                id: m.debug_id().parse().unwrap_or_default(),
                code_id: Some(sentry::types::CodeId::new(m.code_id())),
                debug_file: Some(m.debug_file.clone()),
            })
        })
        .collect()
}

fn event(
    rng: &mut ChaCha8Rng,
    ev: &PerEvent<'_>,
    r: &KindRealism,
    crash: &Crash,
) -> Event<'static> {
    let mut tags = Map::new();
    tags.insert(RUN_TAG.into(), ev.run_id.to_owned());
    tags.insert(SEQ_TAG.into(), ev.seq.to_owned());
    tags.insert("sentry_load.issue".into(), ev.issue.to_owned());
    let mut contexts = Map::new();
    contexts.insert(
        "os".into(),
        Context::Os(Box::new(OsContext {
            name: Some("Windows".into()),
            version: Some("10.0.19045".into()),
            build: Some("19045".into()),
            ..Default::default()
        })),
    );
    contexts.insert(
        "device".into(),
        Context::Device(Box::new(DeviceContext {
            arch: Some("x86_64".into()),
            memory_size: Some(rng.random_range(8..=64) << 30),
            ..Default::default()
        })),
    );
    let crumbs = rng.random_range(r.breadcrumbs.min..=r.breadcrumbs.max);
    let breadcrumbs = (0..crumbs)
        .map(|i| Breadcrumb {
            timestamp: ev.before(u64::from(crumbs - i) * rng.random_range(50_000..2_000_000)),
            category: Some("app".into()),
            message: Some(
                [
                    "opened project",
                    "loaded scene",
                    "render pass",
                    "autosave",
                    "import asset",
                ][rng.random_range(0..5)]
                .into(),
            ),
            level: Level::Info,
            ..Default::default()
        })
        .collect();
    Event {
        event_id: ev.event_id,
        level: Level::Fatal,
        fingerprint: Cow::Owned(vec![format!("sentry-load-native-{}", ev.issue).into()]),
        platform: "native".into(),
        timestamp: ev.timestamp,
        release: Some(format!("acme-studio@2024.{}.0", ev.release).into()),
        environment: Some(ev.environment.to_owned().into()),
        user: Some(super::error_event::user(rng, ev)),
        contexts,
        breadcrumbs: Values {
            values: breadcrumbs,
        },
        exception: Values {
            values: vec![Exception {
                ty: crash.reason.name.into(),
                value: Some(format!("Fatal Error: {}", crash.reason.name)),
                mechanism: Some(Mechanism {
                    ty: "minidump".into(),
                    handled: Some(false),
                    synthetic: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        },
        debug_meta: Cow::Owned(DebugMeta {
            images: images(crash),
            ..Default::default()
        }),
        tags,
        sdk: Some(super::sdk("sentry.native", "0.7.17")),
        ..Default::default()
    }
}
