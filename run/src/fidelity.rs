//! The fidelity stage of read-back: a sample of seen events per kind is fetched through the
//! Sentry web API's event details and compared with the same events regenerated from the run's
//! seed (the generator is deterministic), through [`sentry_load_verify::fidelity`].

use crate::error::Failure;
use sentry_load_common::EventKind;
use sentry_load_config::{SentryApiConfig, VerifyConfig};
use sentry_load_engine::Generator;
use sentry_load_reports::{FidelityFailure, FidelitySection};
use sentry_load_verify::source::{EventFetch, SentryApiSource};
use sentry_load_verify::{SeenEvent, VerifyOutcome, fidelity};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

/// Failures listed in the report, at most.
const FAILURES_LISTED: usize = 100;

/// What the fidelity stage needs.
pub struct Fidelity<'a> {
    /// Where stored events are fetched.
    pub api: SentryApiSource,
    /// The run's generator (same run id and seed).
    pub generator: &'a Generator,
    /// Events per kind.
    pub per_kind: usize,
}

impl<'a> Fidelity<'a> {
    /// The fidelity stage of a leg read back per `verify`, fetching from `api`; `None` when
    /// the profile samples no event (`fidelity_sample = 0`).
    pub fn sample(
        api: &SentryApiConfig,
        generator: &'a Generator,
        verify: &VerifyConfig,
    ) -> Result<Option<Fidelity<'a>>, Failure> {
        if verify.fidelity_sample == 0 {
            return Ok(None);
        }
        Ok(Some(Fidelity {
            api: SentryApiSource::new(api).map_err(Failure::usage)?,
            generator,
            per_kind: verify.fidelity_sample as usize,
        }))
    }
}

/// Samples, fetches and compares.
pub async fn check(f: &Fidelity<'_>, outcome: &VerifyOutcome) -> FidelitySection {
    let mut samples: BTreeMap<EventKind, Vec<SeenEvent>> = BTreeMap::new();
    for e in outcome.seen() {
        let s = samples.entry(e.kind).or_default();
        if s.len() < f.per_kind {
            s.push(e);
        }
    }
    let mut section = FidelitySection {
        source: f.api.describe(),
        ..FidelitySection::default()
    };
    let bundle = f.generator.bundle();
    let original = |line: u32, col: u32| {
        bundle
            .original_at(line, col)
            .map(|o| (o.source.clone(), o.line, o.function.clone()))
    };
    for (kind, events) in samples {
        let counts = section.kinds.entry(kind.as_str().to_owned()).or_default();
        for e in events {
            counts.sampled += 1;
            let sent = sent_event(f.generator, &e);
            let stored = match f.api.event(e.project_id, e.event_id).await {
                Ok(EventFetch::Found(stored)) => stored,
                // Throttled: not looked at, never a difference.
                Ok(EventFetch::Throttled) => {
                    counts.throttled += 1;
                    continue;
                }
                Ok(EventFetch::NotFound) | Err(_) => {
                    counts.unavailable += 1;
                    continue;
                }
            };
            let Some(sent) = sent else {
                counts.unavailable += 1;
                continue;
            };
            let resolve: Option<&dyn Fn(u32, u32) -> Option<fidelity::Original>> =
                (kind == EventKind::Javascript).then_some(&original);
            let differences = fidelity::differences(&sent, &stored, resolve);
            if differences.is_empty() {
                counts.passed += 1;
            } else {
                counts.failed += 1;
                if section.failures.len() < FAILURES_LISTED {
                    section.failures.push(FidelityFailure {
                        seq: e.seq,
                        event_id: e.event_id.simple().to_string(),
                        kind: kind.as_str().to_owned(),
                        differences,
                    });
                }
            }
        }
    }
    section
}

/// The event (or transaction) item of the envelope that was sent for `e`, as JSON.
fn sent_event(generator: &Generator, e: &SeenEvent) -> Option<Value> {
    let intended = UNIX_EPOCH + Duration::from_micros(e.intended_micros);
    let built = generator.envelope(e.seq, e.kind, intended);
    let payload = sentry_load_common::envelope::event_payload(&built.body)?;
    serde_json::from_slice(payload).ok()
}
