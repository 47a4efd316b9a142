//! Realism knobs per event kind: `[traffic.error]`, `[traffic.transaction]`, `[traffic.native]`
//! and `[traffic.javascript]`. They shape what the generator builds (the stage after the plan):
//! how many issues, releases, environments and users the traffic spreads over, how deep stacks
//! and how long breadcrumb trails and span trees are, and how large payloads and minidumps are.
//!
//! ```toml
//! [traffic.error]
//! issues = 200                              # distinct fingerprints
//! releases = 3
//! environments = ["production", "staging"]
//! users = 5000
//! breadcrumbs = { min = 3, max = 30 }
//! stack_depth = { min = 5, max = 40 }
//! size = { p50 = "6 KiB", p99 = "60 KiB" }  # envelope bytes, log-normal
//! [traffic.transaction]
//! names = 300                               # transaction-name cardinality
//! spans = { min = 10, max = 200 }
//! [traffic.native]
//! attachment_size = { p50 = "128 KiB", p99 = "1 MiB" }
//! ```
//!
//! Every key is optional; [`KindRealism`] holds the resolved values, defaults filled in.

use bytesize::ByteSize;
use sentry_load_common::EventKind;
use serde::Deserialize;
use std::num::NonZeroU32;
use toml::Spanned;

/// `{ min = 3, max = 15 }`: each variant draws a count from `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountRange {
    /// The smallest count.
    pub min: u32,
    /// The largest count.
    pub max: u32,
}

impl CountRange {
    const fn new(min: u32, max: u32) -> CountRange {
        CountRange { min, max }
    }
}

/// `{ p50 = "6 KiB", p99 = "60 KiB" }`: a log-normal size distribution given by its median and
/// 99th percentile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeDist {
    /// The median size.
    pub p50: ByteSize,
    /// The 99th-percentile size.
    pub p99: ByteSize,
}

/// `[traffic.error]` and `[traffic.javascript]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventKnobs {
    /// Distinct issues (fingerprints); default: `traffic.issues`.
    pub issues: Option<NonZeroU32>,
    /// Distinct releases.
    pub releases: Option<NonZeroU32>,
    /// Environments, spread evenly.
    pub environments: Option<Spanned<Vec<String>>>,
    /// Distinct users.
    pub users: Option<NonZeroU32>,
    /// Breadcrumbs per event.
    pub breadcrumbs: Option<Spanned<CountRange>>,
    /// Frames per stack trace.
    pub stack_depth: Option<Spanned<CountRange>>,
    /// Envelope size.
    pub size: Option<Spanned<SizeDist>>,
}

/// `[traffic.native]`: the event knobs plus the minidump's size.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NativeKnobs {
    /// Distinct issues (crash signatures); default: `traffic.issues`.
    pub issues: Option<NonZeroU32>,
    /// Distinct releases.
    pub releases: Option<NonZeroU32>,
    /// Environments, spread evenly.
    pub environments: Option<Spanned<Vec<String>>>,
    /// Distinct users.
    pub users: Option<NonZeroU32>,
    /// Breadcrumbs per event.
    pub breadcrumbs: Option<Spanned<CountRange>>,
    /// Frames on the crashing thread's stack.
    pub stack_depth: Option<Spanned<CountRange>>,
    /// Envelope size, without the minidump.
    pub size: Option<Spanned<SizeDist>>,
    /// Minidump size.
    pub attachment_size: Option<Spanned<SizeDist>>,
}

/// `[traffic.transaction]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionKnobs {
    /// Distinct transaction names.
    pub names: Option<NonZeroU32>,
    /// Distinct releases.
    pub releases: Option<NonZeroU32>,
    /// Environments, spread evenly.
    pub environments: Option<Spanned<Vec<String>>>,
    /// Distinct users.
    pub users: Option<NonZeroU32>,
    /// Spans per transaction.
    pub spans: Option<Spanned<CountRange>>,
}

/// The resolved knobs of one kind, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct KindRealism {
    /// Distinct groups: fingerprints for the error kinds, names for transactions.
    pub groups: u32,
    /// Distinct releases.
    pub releases: u32,
    /// Environments.
    pub environments: Vec<String>,
    /// Distinct users.
    pub users: u32,
    /// Breadcrumbs per event.
    pub breadcrumbs: CountRange,
    /// Frames per stack trace.
    pub stack_depth: CountRange,
    /// Spans per transaction.
    pub spans: CountRange,
    /// Envelope size, when the profile asks for one.
    pub size: Option<SizeDist>,
    /// Minidump size.
    pub attachment_size: SizeDist,
}

/// The knobs of every kind, as the profile wrote them.
#[derive(Debug, Clone, Default)]
pub struct RealismKnobs<'a> {
    pub(crate) issues: u32,
    pub(crate) error: Option<&'a EventKnobs>,
    pub(crate) javascript: Option<&'a EventKnobs>,
    pub(crate) native: Option<&'a NativeKnobs>,
    pub(crate) transaction: Option<&'a TransactionKnobs>,
}

impl RealismKnobs<'static> {
    /// Every kind at its defaults, spread over `issues` issues.
    pub fn defaults(issues: u32) -> Self {
        RealismKnobs {
            issues,
            ..Default::default()
        }
    }
}

impl RealismKnobs<'_> {
    /// The resolved knobs of `kind`.
    pub fn of(&self, kind: EventKind) -> KindRealism {
        let mut r = KindRealism::default_for(kind, self.issues);
        let envs = |e: &Option<Spanned<Vec<String>>>| e.as_ref().map(|e| e.get_ref().clone());
        let range = |r: &Option<Spanned<CountRange>>| r.as_ref().map(|r| *r.get_ref());
        let size = |s: &Option<Spanned<SizeDist>>| s.as_ref().map(|s| *s.get_ref());
        let event = match kind {
            EventKind::Error => self.error,
            EventKind::Javascript => self.javascript,
            _ => None,
        };
        if let Some(k) = event {
            set(&mut r.groups, k.issues.map(NonZeroU32::get));
            set(&mut r.releases, k.releases.map(NonZeroU32::get));
            set(&mut r.environments, envs(&k.environments));
            set(&mut r.users, k.users.map(NonZeroU32::get));
            set(&mut r.breadcrumbs, range(&k.breadcrumbs));
            set(&mut r.stack_depth, range(&k.stack_depth));
            r.size = size(&k.size);
        }
        if let (EventKind::Native, Some(k)) = (kind, self.native) {
            set(&mut r.groups, k.issues.map(NonZeroU32::get));
            set(&mut r.releases, k.releases.map(NonZeroU32::get));
            set(&mut r.environments, envs(&k.environments));
            set(&mut r.users, k.users.map(NonZeroU32::get));
            set(&mut r.breadcrumbs, range(&k.breadcrumbs));
            set(&mut r.stack_depth, range(&k.stack_depth));
            r.size = size(&k.size);
            set(&mut r.attachment_size, size(&k.attachment_size));
        }
        if let (EventKind::Transaction, Some(k)) = (kind, self.transaction) {
            set(&mut r.groups, k.names.map(NonZeroU32::get));
            set(&mut r.releases, k.releases.map(NonZeroU32::get));
            set(&mut r.environments, envs(&k.environments));
            set(&mut r.users, k.users.map(NonZeroU32::get));
            set(&mut r.spans, range(&k.spans));
        }
        r
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

impl KindRealism {
    /// What a kind looks like when its table is absent. `issues` is `traffic.issues`.
    pub fn default_for(kind: EventKind, issues: u32) -> KindRealism {
        let (stack_depth, groups) = match kind {
            EventKind::Error => (CountRange::new(3, 12), issues),
            EventKind::Javascript => (CountRange::new(4, 12), issues),
            EventKind::Native => (CountRange::new(4, 24), issues),
            EventKind::Transaction => (CountRange::new(0, 0), 50),
        };
        KindRealism {
            groups: groups.max(1),
            releases: 3,
            environments: vec!["production".into()],
            users: 10_000,
            breadcrumbs: CountRange::new(3, 15),
            stack_depth,
            spans: CountRange::new(5, 60),
            size: None,
            attachment_size: SizeDist {
                p50: ByteSize::kib(96),
                p99: ByteSize::kib(768),
            },
        }
    }
}

/// The largest values the knobs take: what Relay and the SDKs accept without trimming.
pub(crate) mod limits {
    /// SDKs keep at most 100 breadcrumbs.
    pub const BREADCRUMBS: u32 = 100;
    /// Relay keeps at most 250 frames per stack trace.
    pub const STACK_DEPTH: u32 = 250;
    /// SDKs send at most 1,000 spans per transaction.
    pub const SPANS: u32 = 1000;
    /// Events grow to their size with log lines in `extra`, which Relay keeps up to 256 KiB.
    pub const EVENT_BYTES: u64 = 256 << 10;
    /// nginx's body limit in self-hosted Sentry (100 MB) bounds a minidump.
    pub const ATTACHMENT_BYTES: u64 = 100_000_000;
    /// Relay's environment name limit.
    pub const ENVIRONMENT_CHARS: usize = 64;
}

/// Why a knob's value is refused, if it is: `(key, message)` relative to the kind's table.
pub(crate) fn check_range(
    key: &str,
    r: &CountRange,
    floor: u32,
    limit: u32,
) -> Result<(), (String, String)> {
    if r.min > r.max || r.min < floor || r.max > limit {
        return Err((
            key.to_owned(),
            format!(
                "{{ min = {}, max = {} }}: expected {floor} <= min <= max <= {limit}",
                r.min, r.max
            ),
        ));
    }
    Ok(())
}

pub(crate) fn check_size(key: &str, s: &SizeDist, limit: u64) -> Result<(), (String, String)> {
    let (p50, p99) = (s.p50.as_u64(), s.p99.as_u64());
    if p50 == 0 || p50 > p99 || p99 > limit {
        return Err((
            key.to_owned(),
            format!(
                "{{ p50 = \"{}\", p99 = \"{}\" }}: expected 0 < p50 <= p99 <= {}",
                s.p50,
                s.p99,
                ByteSize::b(limit)
            ),
        ));
    }
    Ok(())
}

pub(crate) fn check_environments(names: &[String]) -> Result<(), String> {
    if names.is_empty() {
        return Err("an empty list: name at least one environment".into());
    }
    for n in names {
        let bad = n.is_empty()
            || n.chars().count() > limits::ENVIRONMENT_CHARS
            || n == "."
            || n == ".."
            || n.eq_ignore_ascii_case("none")
            || n.chars().any(|c| c == '/' || c.is_control());
        if bad {
            return Err(format!(
                "environment `{n}`: expected 1 to {} characters, no `/` or control \
                 characters, not `.`, `..` or `None` (Relay's rules)",
                limits::ENVIRONMENT_CHARS
            ));
        }
    }
    Ok(())
}

/// A refused knob: where, which key, why.
pub(crate) type Refusal = (std::ops::Range<usize>, String, String);

/// Checks every kind's knobs against Relay's and the SDKs' limits.
pub(crate) fn check(t: &crate::TrafficConfig) -> Result<(), Refusal> {
    let at = |table: &str, span: std::ops::Range<usize>| {
        let table = table.to_owned();
        move |(key, message): (String, String)| (span, format!("traffic.{table}.{key}"), message)
    };
    let envs = |table: &str, e: &Option<Spanned<Vec<String>>>| -> Result<(), Refusal> {
        match e {
            Some(e) => check_environments(e.get_ref())
                .map_err(|m| (e.span(), format!("traffic.{table}.environments"), m)),
            None => Ok(()),
        }
    };
    let range = |table: &str, key: &str, r: &Option<Spanned<CountRange>>, floor, limit| match r {
        Some(r) => check_range(key, r.get_ref(), floor, limit).map_err(at(table, r.span())),
        None => Ok(()),
    };
    let size = |table: &str, key: &str, s: &Option<Spanned<SizeDist>>, limit| match s {
        Some(s) => check_size(key, s.get_ref(), limit).map_err(at(table, s.span())),
        None => Ok(()),
    };
    for (table, k) in [("error", &t.error), ("javascript", &t.javascript)] {
        envs(table, &k.environments)?;
        range(table, "breadcrumbs", &k.breadcrumbs, 0, limits::BREADCRUMBS)?;
        range(table, "stack_depth", &k.stack_depth, 1, limits::STACK_DEPTH)?;
        size(table, "size", &k.size, limits::EVENT_BYTES)?;
    }
    let n = &t.native;
    envs("native", &n.environments)?;
    range(
        "native",
        "breadcrumbs",
        &n.breadcrumbs,
        0,
        limits::BREADCRUMBS,
    )?;
    range(
        "native",
        "stack_depth",
        &n.stack_depth,
        1,
        limits::STACK_DEPTH,
    )?;
    size("native", "size", &n.size, limits::EVENT_BYTES)?;
    size(
        "native",
        "attachment_size",
        &n.attachment_size,
        limits::ATTACHMENT_BYTES,
    )?;
    let x = &t.transaction;
    envs("transaction", &x.environments)?;
    range("transaction", "spans", &x.spans, 0, limits::SPANS)?;
    Ok(())
}
