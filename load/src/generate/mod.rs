//! Envelope generators: one per event kind, built with the Sentry SDK's protocol types and
//! serialized exactly as the SDK serializes envelopes. This is the stage after the plan
//! (`plan ─▶ generate ─▶ send`).
//!
//! Each kind has a set of variants drawn from the profile's seed: a *shape* (platform,
//! exception, stack, span tree, minidump) times a *size class* (a stratum of the profile's size
//! distribution). A variant is serialized once, with marker values where events differ, and
//! becomes a [`template::Template`]; each send fills in the event id, times, `sent_at`,
//! sequence number, issue, user, release and environment — so payloads stay unique per event
//! while the send path does no serde work. Every choice is a function of `(seed, seq)` alone:
//! the issue picks the shape (an issue keeps one platform and stack), the size class is drawn
//! per event.
//!
//! ```text
//! {"event_id":"…","sent_at":"2026-11-22T14:55:39.123456Z"}
//! {"type":"event","length":1096}
//! {"event_id":"…","fingerprint":["sentry-load-issue-7"],…,"tags":{"sentry_load.run":"…","sentry_load.seq":"17",…},…}
//! ```

pub mod artifacts;
mod compress;
mod error_event;
pub mod javascript;
pub mod js_bundle;
pub mod minidump;
mod native;
mod padding;
mod platforms;
pub mod store;
pub mod template;
mod transaction;

pub use compress::gzip;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sentry::Envelope;
use sentry::protocol::{Attachment, ClientSdkInfo, EnvelopeHeaders, Event, Transaction};
use sentry_load_common::{EventKind, RunId, clock, event_id_for};
use sentry_load_config::{CountRange, KindRealism, RealismKnobs, TrafficConfig};
use std::time::{Duration, SystemTime};
use template::{Fill, Template};
use uuid::Uuid;

/// What differs per event: the values a builder puts in, or the markers of a template.
#[derive(Debug, Clone, Copy)]
pub struct PerEvent<'a> {
    /// The run id (the `sentry_load.run` tag).
    pub run_id: &'a str,
    /// The event id.
    pub event_id: Uuid,
    /// The event time.
    pub timestamp: SystemTime,
    /// The sequence number, as text.
    pub seq: &'a str,
    /// The issue number (a transaction's name index), as text.
    pub issue: &'a str,
    /// The user number, as text.
    pub user: &'a str,
    /// The release number, as text.
    pub release: &'a str,
    /// The environment.
    pub environment: &'a str,
}

impl PerEvent<'_> {
    /// A time `micros` before the event time.
    pub(crate) fn before(&self, micros: u64) -> SystemTime {
        self.timestamp - Duration::from_micros(micros)
    }
}

/// What one variant is asked to be.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VariantSpec {
    /// Which shape (platform, stack, span tree, crash) of the kind.
    pub shape: u64,
    /// The size stratum's quantile, when the kind has a size distribution.
    pub quantile: Option<f64>,
    /// The event payload's size to pad up to, if the profile gives a size distribution.
    pub event_bytes: Option<usize>,
    /// The attachment's size (native crashes).
    pub attachment_bytes: usize,
}

/// What a builder returns.
pub(crate) enum Payload {
    /// An error event, with its attachments.
    Event(Box<Event<'static>>, Vec<Attachment>),
    /// A transaction.
    Transaction(Box<Transaction<'static>>),
}

/// One kind's variants.
#[derive(Debug, Clone)]
struct KindTemplates {
    realism: KindRealism,
    shapes: u64,
    classes: u64,
    variants: Vec<Template>,
}

/// Builds the envelopes of one run.
#[derive(Debug, Clone)]
pub struct Generator {
    run_id: RunId,
    run_digest: u64,
    seed: u64,
    kinds: [Option<KindTemplates>; 4],
    bundle: js_bundle::Bundle,
}

/// One envelope, ready to send.
#[derive(Debug, Clone)]
pub struct Built {
    /// The event id it carries.
    pub event_id: Uuid,
    /// The bytes, uncompressed.
    pub body: Vec<u8>,
}

/// The per-event draws.
struct Draws {
    seq: u64,
    issue: u32,
    shape: u64,
    class: u64,
    user: u32,
    release: u32,
    environment: usize,
}

impl Generator {
    /// A generator for run `run_id`, drawing from `seed`, for `kinds` shaped by `realism`.
    pub fn new(run_id: RunId, seed: u64, realism: &RealismKnobs<'_>, kinds: &[EventKind]) -> Self {
        let bundle = js_bundle::Bundle::generate(seed);
        let markers = PerEvent {
            run_id: run_id.as_str(),
            event_id: template::ID_MARKER,
            timestamp: SystemTime::UNIX_EPOCH
                + Duration::from_secs_f64(template::TIMESTAMP_MARKER_SECS),
            seq: template::SEQ_MARKER,
            issue: template::ISSUE_MARKER,
            user: template::USER_MARKER,
            release: template::RELEASE_MARKER,
            environment: template::ENVIRONMENT_MARKER,
        };
        let mut all: [Option<KindTemplates>; 4] = Default::default();
        for &kind in kinds {
            let r = realism.of(kind);
            let (shapes, classes) = layout(kind, &r);
            let variants = (0..shapes * classes)
                .map(|v| {
                    let spec = spec_of(kind, &r, v, classes);
                    let payload = build(&bundle, seed, kind, &r, spec, &markers);
                    // Every builder's output has the shape a template needs.
                    Template::new(serialize(
                        payload,
                        SystemTime::UNIX_EPOCH,
                        images(kind, &bundle),
                    ))
                    .expect("an SDK-serialized envelope is a valid template")
                })
                .collect();
            all[slot(kind)] = Some(KindTemplates {
                realism: r,
                shapes,
                classes,
                variants,
            });
        }
        Generator {
            run_digest: run_id.digest(),
            run_id,
            seed,
            kinds: all,
            bundle,
        }
    }

    /// What the variants of a traffic's mix would take in memory, built before time zero:
    /// their minidumps (each native variant its own, at its size class's middle) dominate,
    /// everything else is tens of kilobytes per variant. A run refuses a traffic whose
    /// variants exceed [`TEMPLATE_BUDGET`] rather than build them.
    pub fn template_bytes(traffic: &TrafficConfig) -> u64 {
        if !traffic.mix.get_ref().sends(EventKind::Native) {
            return 0;
        }
        let r = traffic.realism().of(EventKind::Native);
        let (shapes, classes) = layout(EventKind::Native, &r);
        (0..shapes * classes)
            .map(|v| spec_of(EventKind::Native, &r, v, classes).attachment_bytes as u64)
            .sum()
    }

    /// [`Generator::template_bytes`] checked against [`TEMPLATE_BUDGET`]: why the traffic's
    /// variants are too large to build, naming the knob, when they are.
    pub fn check_template_budget(traffic: &TrafficConfig) -> Result<(), String> {
        let bytes = Generator::template_bytes(traffic);
        if bytes <= TEMPLATE_BUDGET {
            return Ok(());
        }
        let r = traffic.realism().of(EventKind::Native);
        let (shapes, classes) = layout(EventKind::Native, &r);
        Err(format!(
            "traffic.native.attachment_size = {{ p50 = \"{}\", p99 = \"{}\" }}: the native \
             variants ({shapes} crashes × {classes} size classes, each its own minidump, built \
             before the run starts) would take {} of memory, more than {}; lower p50 and p99",
            r.attachment_size.p50,
            r.attachment_size.p99,
            bytesize::ByteSize::b(bytes),
            bytesize::ByteSize::b(TEMPLATE_BUDGET),
        ))
    }

    /// A generator for the kinds `traffic`'s mix gives weight, shaped by its knobs.
    pub fn for_traffic(run_id: RunId, seed: u64, traffic: &TrafficConfig) -> Self {
        let mix = traffic.mix.get_ref();
        let kinds: Vec<EventKind> = EventKind::ALL
            .into_iter()
            .filter(|k| mix.sends(*k))
            .collect();
        Generator::new(run_id, seed, &traffic.realism(), &kinds)
    }

    /// Compresses every template's unchanging tail once, for runs that send gzip: then
    /// [`Generator::envelope_gzip`] compresses only what changes per event. Costs a second,
    /// compressed copy of the large tails (minidumps, padding).
    pub fn precompressed(mut self) -> Self {
        for k in self.kinds.iter_mut().flatten() {
            for t in &mut k.variants {
                t.precompress();
            }
        }
        self
    }

    /// The event id of sequence number `seq` in this run.
    pub fn event_id(&self, seq: u64) -> Uuid {
        event_id_for(self.run_digest, seq)
    }

    /// The JavaScript bundle the run's browser errors point into.
    pub fn bundle(&self) -> &js_bundle::Bundle {
        &self.bundle
    }

    /// The resolved realism knobs of `kind`, if the generator builds it.
    pub fn realism(&self, kind: EventKind) -> Option<&KindRealism> {
        self.kinds[slot(kind)].as_ref().map(|k| &k.realism)
    }

    /// The issue (or transaction name) sequence number `seq` belongs to, if `kind` is built.
    pub fn issue_of(&self, seq: u64, kind: EventKind) -> Option<u32> {
        let k = self.kinds[slot(kind)].as_ref()?;
        Some(self.draws(seq, k).issue)
    }

    fn draws(&self, seq: u64, k: &KindTemplates) -> Draws {
        let r = &k.realism;
        let draw = |salt: u64, n: u64| mix(self.seed ^ salt, seq) % n.max(1);
        let issue = draw(0x1550_e5ee_d000_0001, u64::from(r.groups)) as u32;
        Draws {
            seq,
            issue,
            shape: u64::from(issue) % k.shapes,
            class: if k.classes == 1 {
                0
            } else {
                let u = mix(self.seed ^ 0x512e_c1a5_5000_0002, seq) as f64 / 2f64.powi(64);
                padding::stratum_of(u)
            },
            user: draw(0x05e2_0000_0000_0003, u64::from(r.users)) as u32 + 1,
            release: draw(0x2e1e_a5e0_0000_0004, u64::from(r.releases)) as u32,
            environment: draw(0xe4f1_2000_0000_0005, r.environments.len() as u64) as usize,
        }
    }

    /// The envelope for sequence number `seq`, of `kind`, timestamped `intended`.
    ///
    /// # Panics
    /// If the generator was not made for `kind` (the plan only draws the mix's kinds, and the
    /// generator is made for exactly those).
    pub fn envelope(&self, seq: u64, kind: EventKind, intended: SystemTime) -> Built {
        let (k, d, event_id) = self.prepare(seq, kind);
        let fill = self.fill(&k.realism, &d, event_id, intended);
        let body = k.variants[(d.shape * k.classes + d.class) as usize].render(&fill);
        Built { event_id, body }
    }

    /// [`Generator::envelope`]'s bytes, written into `out` (replacing what it held): the
    /// sender's path, reusing one buffer per worker.
    pub fn envelope_into(
        &self,
        seq: u64,
        kind: EventKind,
        intended: SystemTime,
        out: &mut Vec<u8>,
    ) {
        let (k, d, event_id) = self.prepare(seq, kind);
        let fill = self.fill(&k.realism, &d, event_id, intended);
        k.variants[(d.shape * k.classes + d.class) as usize].render_into(&fill, out);
    }

    fn prepare(&self, seq: u64, kind: EventKind) -> (&KindTemplates, Draws, Uuid) {
        let k = self.kinds[slot(kind)]
            .as_ref()
            .unwrap_or_else(|| panic!("the generator builds no `{kind}` envelopes"));
        let mut d = self.draws(seq, k);
        d.seq = seq;
        (k, d, self.event_id(seq))
    }

    fn fill<'a>(
        &self,
        r: &'a KindRealism,
        d: &Draws,
        event_id: Uuid,
        intended: SystemTime,
    ) -> Fill<'a> {
        Fill {
            event_id,
            timestamp_micros: clock::to_unix_micros(intended),
            sent_at_micros: clock::now_unix_micros(),
            seq: d.seq,
            issue: d.issue,
            user: d.user,
            release: d.release,
            environment: &r.environments[d.environment],
        }
    }

    /// The envelope for `seq`, gzip-compressed as `Content-Encoding: gzip` sends it. Equal to
    /// `gzip(envelope(…).body)` once decompressed; cheaper, as a template's unchanging tail
    /// (a minidump) is compressed only once.
    pub fn envelope_gzip(&self, seq: u64, kind: EventKind, intended: SystemTime) -> Built {
        let (k, d, event_id) = self.prepare(seq, kind);
        let fill = self.fill(&k.realism, &d, event_id, intended);
        let body = k.variants[(d.shape * k.classes + d.class) as usize].render_gzip(&fill);
        Built { event_id, body }
    }

    /// The same envelope built and serialized by the SDK directly, without templates: what
    /// [`Generator::envelope`] must equal (but for `sent_at`).
    pub fn envelope_via_sdk(
        &self,
        seq: u64,
        kind: EventKind,
        intended: SystemTime,
        sent_at: SystemTime,
    ) -> Vec<u8> {
        let k = self.kinds[slot(kind)]
            .as_ref()
            .unwrap_or_else(|| panic!("the generator builds no `{kind}` envelopes"));
        let d = self.draws(seq, k);
        let texts = [seq, d.issue.into(), d.user.into(), d.release.into()].map(|n| n.to_string());
        let values = PerEvent {
            run_id: self.run_id.as_str(),
            event_id: self.event_id(seq),
            timestamp: intended,
            seq: &texts[0],
            issue: &texts[1],
            user: &texts[2],
            release: &texts[3],
            environment: &k.realism.environments[d.environment],
        };
        let spec = spec_of(kind, &k.realism, d.shape * k.classes + d.class, k.classes);
        serialize(
            build(&self.bundle, self.seed, kind, &k.realism, spec, &values),
            sent_at,
            images(kind, &self.bundle),
        )
    }
}

fn slot(kind: EventKind) -> usize {
    usize::from(kind.code() - 1)
}

/// The most memory the variants of a run may take (see [`Generator::template_bytes`]).
pub const TEMPLATE_BUDGET: u64 = 1 << 30;

/// Shapes and size classes per kind.
fn layout(kind: EventKind, r: &KindRealism) -> (u64, u64) {
    let sized = r.size.is_some();
    match kind {
        EventKind::Error if sized => (16, padding::strata()),
        EventKind::Error => (32, 1),
        EventKind::Javascript if sized => (8, padding::strata()),
        EventKind::Javascript => (16, 1),
        EventKind::Transaction => (32, 1),
        // The minidump's size always follows a distribution. Minidumps are large: two shapes,
        // each stratum its own crash (see `build`), keep variety up and memory down.
        EventKind::Native => (2, padding::strata()),
    }
}

/// Variant `v`'s shape and, for class `v % classes`, the sizes at the middle of its stratum.
fn spec_of(kind: EventKind, r: &KindRealism, v: u64, classes: u64) -> VariantSpec {
    let q = if classes == 1 {
        0.5
    } else {
        padding::stratum_middle(v % classes)
    };
    VariantSpec {
        shape: v / classes,
        quantile: (classes > 1).then_some(q),
        event_bytes: r.size.map(|s| padding::quantile(&s, q) as usize),
        attachment_bytes: match kind {
            EventKind::Native => padding::quantile(&r.attachment_size, q) as usize,
            _ => 0,
        },
    }
}

fn build(
    bundle: &js_bundle::Bundle,
    seed: u64,
    kind: EventKind,
    r: &KindRealism,
    spec: VariantSpec,
    ev: &PerEvent<'_>,
) -> Payload {
    // Native variants are each their own crash; other kinds keep one shape across strata.
    let rng = &mut match (kind, spec.quantile) {
        (EventKind::Native, Some(q)) => variant_rng(seed, kind, spec.shape ^ q.to_bits()),
        _ => variant_rng(seed, kind, spec.shape),
    };
    // A sized variant takes breadcrumbs and frames at its stratum's point of their ranges:
    // small events are small because they carry little, large ones carry much, then padding
    // makes up the rest.
    let scaled;
    let r = match (spec.quantile, spec.event_bytes) {
        (Some(q), Some(_)) => {
            let at = |c: CountRange| {
                let n = c.min + ((c.max - c.min) as f64 * q).round() as u32;
                CountRange { min: n, max: n }
            };
            scaled = KindRealism {
                breadcrumbs: at(r.breadcrumbs),
                stack_depth: at(r.stack_depth),
                ..r.clone()
            };
            &scaled
        }
        _ => r,
    };
    let payload = match kind {
        EventKind::Error => Payload::Event(Box::new(error_event::build(rng, ev, r)), vec![]),
        EventKind::Transaction => Payload::Transaction(Box::new(transaction::build(rng, ev, r))),
        EventKind::Native => {
            let (event, dump) = native::build(rng, ev, r, spec.attachment_bytes);
            Payload::Event(Box::new(event), vec![dump])
        }
        EventKind::Javascript => {
            Payload::Event(Box::new(javascript::build(rng, ev, r, bundle)), vec![])
        }
    };
    match (payload, spec.event_bytes) {
        (Payload::Event(mut event, attachments), Some(target)) => {
            padding::pad_event(&mut event, target);
            Payload::Event(event, attachments)
        }
        (payload, _) => payload,
    }
}

/// The `sdk` of an event, as the SDK named `name` at `version` reports itself.
pub(crate) fn sdk(name: &str, version: &str) -> std::borrow::Cow<'static, ClientSdkInfo> {
    std::borrow::Cow::Owned(ClientSdkInfo {
        name: name.into(),
        version: version.into(),
        integrations: vec![],
        packages: vec![],
    })
}

fn variant_rng(seed: u64, kind: EventKind, variant: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(seed ^ u64::from(kind.code()) << 56, variant))
}

pub(crate) use sentry_load_common::hash::mix;

/// The `debug_meta` a kind's events carry beyond what the SDK's types express: a JavaScript
/// error names its bundle's debug id with a `sourcemap` image whose `code_file` is the
/// minified file's URL, as the JavaScript SDK does for bundles built with debug ids. Sentry
/// then finds the sourcemap by debug id, whatever the release (getsentry/sentry
/// `src/sentry/lang/javascript/processing.py` at 0042e02db2775a6eb80c51f121680b4807293ff6,
/// `is_sourcemap_image`: `type == "sourcemap"`, a `debug_id` and a `code_file`;
/// getsentry/symbolicator `crates/symbolicator-js/src/lookup.rs` at
/// 87e6456fe8072f6bcfa61b87c1633958b8d96dfa keys modules by `code_file`, matched against a
/// frame's `abs_path`).
fn images(kind: EventKind, bundle: &js_bundle::Bundle) -> Option<String> {
    (kind == EventKind::Javascript).then(|| {
        let image = serde_json::json!({"images": [{
            "type": "sourcemap",
            "code_file": bundle.url(),
            "debug_id": bundle.debug_id.hyphenated().to_string(),
        }]});
        format!("\"debug_meta\":{image}")
    })
}

/// Serializes one payload as an SDK envelope, with `fields` added to its event (see
/// [`images`]).
fn serialize(payload: Payload, sent_at: SystemTime, fields: Option<String>) -> Vec<u8> {
    let event_id = match &payload {
        Payload::Event(e, _) => e.event_id,
        Payload::Transaction(t) => t.event_id,
    };
    let mut envelope = Envelope::new().with_headers(
        EnvelopeHeaders::new()
            .with_event_id(event_id)
            .with_sent_at(sent_at),
    );
    match payload {
        Payload::Event(event, attachments) => {
            envelope.add_item(*event);
            for a in attachments {
                envelope.add_item(a);
            }
        }
        Payload::Transaction(t) => envelope.add_item(*t),
    }
    let mut body = Vec::with_capacity(4096);
    // Writing into a Vec cannot fail; serde_json cannot fail on these types.
    let _ = envelope.to_writer(&mut body);
    match fields {
        // The SDK writes `{"type":"event","length":N}` and a JSON object: the splice holds.
        Some(f) => sentry_load_common::envelope::with_first_item_fields(&body, &f)
            .expect("the SDK's envelope has a first item with a length and a JSON object"),
        None => body,
    }
}

#[cfg(test)]
mod tests;
