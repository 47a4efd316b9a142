//! Relay's rate-limit answers, and the back-off state an SDK keeps from them.
//!
//! `X-Sentry-Rate-Limits: 60:transaction:key, 2700:default;error;security:organization:quota`
//! — comma-separated limits of `retry_after:categories:scope[:reason_code[:namespaces]]`, where
//! `categories` is `;`-separated and empty means every category. It may come on any answer,
//! not only a 429. A 429 without it falls back to `Retry-After` (seconds) for every category.
//!
//! Read as Relay reads its own upstream's answers (getsentry/relay
//! `relay-server/src/utils/rate_limits.rs` `parse_rate_limits` at
//! b007c29f820fc9499047eddec1bf25b42e3c2d5e, `relay-quotas/src/rate_limit.rs` at
//! cba3a0d3800aee4c36cf0713b1c5c6b000b8c064):
//! - the delay is a float rounded up to whole seconds, negative or NaN is 0, and a delay
//!   that overflows the clock is no limit at all (`RetryAfter::from_secs`);
//! - the scope is `key`, `project` or `organization`, and an unknown one is taken as the
//!   most specific, the key (`RateLimitScope::for_quota`);
//! - limits of one scope and categories merge to the longest (`RateLimits::add`), so the
//!   state here is one expiry per scope instance and category: its size is fixed by the
//!   targets, not by what a peer sends.
//!
//! Only the categories of an envelope's event decide whether the harness sends it: errors are
//! `error` (`From<EventType> for DataCategory`, `relay-base-schema/src/data_category.rs` at
//! affba97d70a8017cc343c8df832639b1cd06ce5f), transactions `transaction`. An
//! attachment-only limit never holds an envelope back: Relay drops plain attachments and keeps
//! a minidump that creates the event (`EnvelopeLimiter::retain_item`, and it does not even
//! report attachment limits for such envelopes), so the harness sends and Relay decides.

use crate::target::Target;
use enum_map::{Enum, EnumMap};
use sentry_load_common::EventKind;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Retry-After assumed when a 429 says nothing usable.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The data categories of the harness's envelopes a limit can hold back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Category {
    /// Error events (and native crashes and JavaScript errors).
    Error,
    /// Transactions.
    Transaction,
}

impl Category {
    /// The category of an envelope of this kind's event.
    pub fn of(kind: EventKind) -> Category {
        match kind {
            EventKind::Error | EventKind::Javascript | EventKind::Native => Category::Error,
            EventKind::Transaction => Category::Transaction,
        }
    }

    fn from_name(name: &str) -> Option<Category> {
        match name {
            "error" => Some(Category::Error),
            "transaction" => Some(Category::Transaction),
            _ => None,
        }
    }
}

/// Whom a limit holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Scope {
    /// The DSN's key (also any scope Relay does not name).
    Key,
    /// The DSN's project.
    Project,
    /// The organization: every target of the run.
    Organization,
}

impl Scope {
    fn from_name(name: &str) -> Scope {
        match name {
            "project" => Scope::Project,
            "organization" => Scope::Organization,
            _ => Scope::Key,
        }
    }
}

/// What one answer announced: for each scope and category, the longest delay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    retry: EnumMap<Scope, EnumMap<Category, Option<Duration>>>,
}

impl Limits {
    /// No limit.
    pub fn none() -> Limits {
        Limits::default()
    }

    /// Whether the answer announced nothing that holds back a send.
    pub fn is_empty(&self) -> bool {
        self.retry.values().all(|c| c.values().all(Option::is_none))
    }

    /// The delay announced for `category` in `scope`.
    pub fn get(&self, scope: Scope, category: Category) -> Option<Duration> {
        self.retry[scope][category]
    }

    /// Adds a limit, keeping the longer delay where one is already there.
    pub fn add(&mut self, scope: Scope, categories: &[Category], retry_after: Duration) {
        for &c in categories {
            let slot = &mut self.retry[scope][c];
            *slot = Some(slot.map_or(retry_after, |d| d.max(retry_after)));
        }
    }
}

/// Every category (an empty category list).
const ALL: [Category; 2] = [Category::Error, Category::Transaction];

/// Relay's delay: a float, rounded up to whole seconds, negative and NaN as zero; `None` when
/// it is not a number.
fn parse_delay(text: &str) -> Option<Duration> {
    let secs: f64 = text.parse().ok()?;
    // `as` saturates: infinity and anything past u64 become u64::MAX seconds, which no clock
    // can add; [`BackOff::update`] then treats it as no limit, as Relay does.
    Some(Duration::from_secs(secs.max(0.0).ceil() as u64))
}

/// Parses `X-Sentry-Rate-Limits`; malformed entries are skipped.
pub fn parse_header(value: &str) -> Limits {
    let mut limits = Limits::none();
    for entry in value.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let mut parts = entry.split(':');
        let Some(retry_after) = parts.next().and_then(parse_delay) else {
            continue;
        };
        let names = parts.next().unwrap_or_default();
        let scope = Scope::from_name(parts.next().unwrap_or_default());
        if names.split(';').all(str::is_empty) {
            limits.add(scope, &ALL, retry_after);
            continue;
        }
        for category in names.split(';').filter_map(Category::from_name) {
            limits.add(scope, &[category], retry_after);
        }
    }
    limits
}

/// The limit a 429 without `X-Sentry-Rate-Limits` implies, from `Retry-After` (seconds): every
/// category of the key.
pub fn from_retry_after(value: Option<&str>) -> Limits {
    let retry_after = value
        .and_then(|v| parse_delay(v.trim()))
        .unwrap_or(DEFAULT_RETRY_AFTER);
    let mut limits = Limits::none();
    limits.add(Scope::Key, &ALL, retry_after);
    limits
}

/// The limits an answer announces: `X-Sentry-Rate-Limits` on any answer, and for a 429
/// without it, `Retry-After` for every category.
pub fn from_answer(status: u16, rate_limits: Option<&str>, retry_after: Option<&str>) -> Limits {
    let limits = rate_limits.map(parse_header).unwrap_or_default();
    if status == 429 && limits.is_empty() {
        return from_retry_after(retry_after);
    }
    limits
}

/// One expiry per category, as microseconds after the back-off's base (0: none yet).
type Expiries = EnumMap<Category, AtomicU64>;

/// Active back-off windows, shared by the scheduler and the requests: the latest expiry per
/// scope instance (each target's key, each project, the organization) and category. Updates
/// and checks are a few atomic operations; nothing grows.
#[derive(Debug)]
pub struct BackOff {
    base: Instant,
    by_key: Vec<Expiries>,
    /// The project slot of each target.
    project_of: Vec<usize>,
    by_project: Vec<Expiries>,
    organization: Expiries,
}

impl BackOff {
    /// Back-off state for these targets (indexed by [`Target::index`]), times counted from
    /// `base`.
    pub fn new(targets: &[std::sync::Arc<Target>], base: Instant) -> BackOff {
        let mut slots: HashMap<u64, usize> = HashMap::new();
        let mut project_of = vec![0; targets.len()];
        for t in targets {
            let next = slots.len();
            let slot = *slots.entry(t.project_id).or_insert(next);
            if let Some(p) = project_of.get_mut(usize::from(t.index)) {
                *p = slot;
            }
        }
        BackOff {
            base,
            by_key: (0..targets.len()).map(|_| Expiries::default()).collect(),
            project_of,
            by_project: (0..slots.len()).map(|_| Expiries::default()).collect(),
            organization: Expiries::default(),
        }
    }

    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_micros()).unwrap_or(u64::MAX)
    }

    fn scope(&self, scope: Scope, target: usize) -> Option<&Expiries> {
        match scope {
            Scope::Key => self.by_key.get(target),
            Scope::Project => self
                .project_of
                .get(target)
                .and_then(|&p| self.by_project.get(p)),
            Scope::Organization => Some(&self.organization),
        }
    }

    /// Records limits that target `target`'s answer announced at `now`. A delay the clock
    /// cannot add is no limit (Relay's `RetryAfter::from_secs`).
    pub fn update(&self, target: usize, limits: &Limits, now: Instant) {
        for (scope, categories) in limits.retry.iter() {
            let Some(expiries) = self.scope(scope, target) else {
                continue;
            };
            for (category, retry_after) in categories.iter() {
                if let Some(until) = retry_after.and_then(|d| now.checked_add(d)) {
                    expiries[category].fetch_max(self.micros(until), Ordering::Relaxed);
                }
            }
        }
    }

    /// Whether an envelope of `kind` to target `target` must not be sent at `now`.
    pub fn limited(&self, kind: EventKind, target: usize, now: Instant) -> bool {
        let category = Category::of(kind);
        let now = self.micros(now);
        [Scope::Key, Scope::Project, Scope::Organization]
            .into_iter()
            .filter_map(|s| self.scope(s, target))
            .any(|e| e[category].load(Ordering::Relaxed) > now)
    }
}

#[cfg(test)]
mod tests;
