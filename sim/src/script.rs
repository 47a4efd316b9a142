//! Faults scripted over time: a TOML file (`sentry-load sim --faults F`) or a [`FaultScript`]
//! built in a test. Each `[[fault]]` is active from `from` until `until` (relative to the sim's
//! start; both optional) and picks the events it hits by a hash of their event id, so a
//! `fraction` is exact in expectation and the same events are hit on every run.
//!
//! ```toml
//! [quota]                 # a per-key quota of `per_second` × `window` envelopes per window,
//! per_second = 200        # enforced late as Relay enforces it: the first envelopes over it
//! window = "1s"           # get 200 and a `rate_limited` outcome, then the cached limit
//!                         # answers 429 until the window ends
//! categories = ["attachment"]   # optional: only these categories (default all)
//!
//! [[fault]]
//! kind = "drop"           # lose accepted events silently
//! fraction = 0.01
//!
//! [[fault]]
//! kind = "discard"        # dropped after acceptance, with an outcome that says why
//! fraction = 0.02
//! outcome = "filtered"    # or "invalid"
//! reason = "release-version"
//!
//! [[fault]]
//! kind = "rate_limit"     # a 429 storm
//! from = "10s"
//! until = "20s"
//! retry_after = "2s"
//!
//! [[fault]]
//! kind = "unavailable"    # 503: Relay's queue is full
//! from = "30s"
//! until = "35s"
//! fraction = 0.5
//!
//! [[fault]]
//! kind = "reject"         # 403: rejected, as for a filtered or disabled project
//! fraction = 0.02
//!
//! [[fault]]
//! kind = "delay"          # processing time before the event is stored (per kind)
//! events = "native"
//! p50 = "2s"
//! p99 = "20s"
//!
//! [[fault]]
//! kind = "duplicate"      # store an event twice
//! fraction = 0.001
//!
//! [[fault]]
//! kind = "stall"          # the workers stop taking from the queue
//! from = "40s"
//! until = "45s"
//!
//! [[fault]]
//! kind = "restart"        # lose the queue, as Relay loses its memory buffer
//! from = "50s"
//!
//! [[fault]]
//! kind = "slow_inserts"   # each store write takes this much longer
//! by = "500ms"
//!
//! [[fault]]
//! kind = "clock_skew"     # the sim's clock (`received`, `message_timestamp`) is off
//! by = "-3s"
//! ```

use serde::Deserialize;
use std::time::Duration;
use uuid::Uuid;

/// Which events a fault applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventsOf {
    /// Every event.
    #[default]
    All,
    /// Errors stored in `errors_local` with no minidump and not from a browser.
    Error,
    /// Transactions.
    Transaction,
    /// Events with a minidump.
    Native,
    /// Browser JavaScript events.
    Javascript,
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Accepted events are lost without a trace.
    Drop {
        /// Share of events hit.
        fraction: f64,
    },
    /// Accepted events are dropped later with an outcome saying why (`filtered` by an inbound
    /// filter, or `invalid`), as Sentry's pipeline does: lost, but explained.
    Discard {
        /// Share of events hit.
        fraction: f64,
        /// `filtered` or `invalid`.
        outcome: DiscardOutcome,
        /// The outcome's reason, e.g. `release-version` or `invalid_transaction`.
        reason: String,
    },
    /// Accepted events are stored, but not as sent: the release is lost and the
    /// `sentry_load.issue` tag changes (what a fidelity check must catch).
    Mangle {
        /// Share of events hit.
        fraction: f64,
    },
    /// Ingest answers 429 with `Retry-After` and `X-Sentry-Rate-Limits`.
    RateLimit {
        /// Share of envelopes hit (default all).
        #[serde(default = "one")]
        fraction: f64,
        /// The `Retry-After` sent.
        #[serde(default = "one_second", with = "humantime_serde")]
        retry_after: Duration,
    },
    /// Ingest answers 403: the event is rejected (a filtered or disabled project).
    Reject {
        /// Share of envelopes hit (default all).
        #[serde(default = "one")]
        fraction: f64,
    },
    /// Ingest answers 503.
    Unavailable {
        /// Share of envelopes hit (default all).
        #[serde(default = "one")]
        fraction: f64,
    },
    /// Events wait before they are stored: a log-normal service time.
    Delay {
        /// Which events.
        #[serde(default)]
        events: EventsOf,
        /// Median.
        #[serde(with = "humantime_serde")]
        p50: Duration,
        /// 99th percentile.
        #[serde(with = "humantime_serde")]
        p99: Duration,
    },
    /// Events are stored twice.
    Duplicate {
        /// Share of events hit.
        fraction: f64,
    },
    /// The workers take nothing from the queue.
    Stall,
    /// Everything queued is lost, once, at `from`.
    Restart,
    /// Each store write takes longer.
    SlowInserts {
        /// How much longer.
        #[serde(with = "humantime_serde")]
        by: Duration,
    },
    /// The sim's clock is off by this much (signed, e.g. "-3s" is written "-3s").
    ClockSkew {
        /// The offset.
        by: SignedDuration,
    },
}

fn one() -> f64 {
    1.0
}

fn one_second() -> Duration {
    Duration::from_secs(1)
}

/// The outcome a discarded event gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscardOutcome {
    /// Outcome 1: an inbound filter dropped it.
    Filtered,
    /// Outcome 3: processing found it invalid.
    Invalid,
}

/// A duration that may be negative: `"-3s"` or `"250ms"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct SignedDuration {
    /// Microseconds, signed.
    pub micros: i64,
}

impl TryFrom<String> for SignedDuration {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let (sign, rest) = match s.strip_prefix('-') {
            Some(r) => (-1, r),
            None => (1, s.as_str()),
        };
        let d = humantime::parse_duration(rest.trim())
            .map_err(|e| format!("`{s}`: {e}; expected e.g. \"-3s\" or \"250ms\""))?;
        Ok(SignedDuration {
            micros: sign * d.as_micros() as i64,
        })
    }
}

/// One fault and when it is active. (Unknown keys are refused by [`Fault`], which receives
/// every key but `from` and `until`.)
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TimedFault {
    /// From this long after the start (default: the start).
    #[serde(default, with = "humantime_serde")]
    pub from: Option<Duration>,
    /// Until this long after the start (default: forever).
    #[serde(default, with = "humantime_serde")]
    pub until: Option<Duration>,
    /// What goes wrong.
    #[serde(flatten)]
    pub fault: Fault,
}

/// A per-key quota, counted in fixed windows aligned to Unix time as Relay's Redis quotas are
/// (getsentry/relay `relay-quotas/src/redis.rs`: the slot is `timestamp / window`), and
/// consumed when an envelope is processed (after the 200).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Envelopes per second: the window's limit is `per_second` × `window`.
    pub per_second: f64,
    /// The window (whole seconds, at least one).
    #[serde(default = "one_second", with = "humantime_serde")]
    pub window: Duration,
    /// The data categories it limits (`error`, `transaction`, `attachment`); empty or absent:
    /// all of them.
    #[serde(default)]
    pub categories: Vec<QuotaCategory>,
}

/// A data category a quota limits, by Relay's name for it in `X-Sentry-Rate-Limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuotaCategory {
    /// Error events (and native and JavaScript errors).
    Error,
    /// Transactions.
    Transaction,
    /// Attachments (a crash's minidump).
    Attachment,
}

impl QuotaCategory {
    /// Relay's name of the category.
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaCategory::Error => "error",
            QuotaCategory::Transaction => "transaction",
            QuotaCategory::Attachment => "attachment",
        }
    }

    /// The header's `;`-separated category list (empty: all).
    pub fn header_names(categories: &[QuotaCategory]) -> String {
        categories
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// The whole script.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultScript {
    /// The per-key quota, if any.
    pub quota: Option<Quota>,
    /// The faults.
    #[serde(default, rename = "fault")]
    pub faults: Vec<TimedFault>,
}

/// Time zero of a fault script's windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScriptOrigin {
    /// The sim's start.
    #[default]
    Start,
    /// The first ingest request: a standalone sim rehearses a run's faults from the run's
    /// first send, however long it waited for it.
    FirstRequest,
}

/// The clock a fault script's windows are read on.
#[derive(Debug)]
pub struct ScriptClock {
    origin: ScriptOrigin,
    started: std::time::Instant,
    first: std::sync::OnceLock<std::time::Instant>,
}

impl ScriptClock {
    /// A clock from `origin`, for a sim started at `started`.
    pub fn new(origin: ScriptOrigin, started: std::time::Instant) -> ScriptClock {
        ScriptClock {
            origin,
            started,
            first: std::sync::OnceLock::new(),
        }
    }

    /// An ingest request arrived at `now`: under [`ScriptOrigin::FirstRequest`], the first
    /// one is time zero.
    pub fn request(&self, now: std::time::Instant) {
        if self.origin == ScriptOrigin::FirstRequest {
            self.first.get_or_init(|| now);
        }
    }

    /// How far into the script `now` is (zero before time zero).
    pub fn at(&self, now: std::time::Instant) -> Duration {
        let zero = match self.origin {
            ScriptOrigin::Start => Some(self.started),
            ScriptOrigin::FirstRequest => self.first.get().copied(),
        };
        zero.map_or(Duration::ZERO, |z| now.saturating_duration_since(z))
    }
}

impl FaultScript {
    /// One line per fault: its window and what goes wrong, for the sim to print at start.
    pub fn schedule(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .quota
            .iter()
            .map(|q| format!("always: key quota {q:?}"))
            .collect();
        for f in &self.faults {
            let from = f.from.unwrap_or_default();
            let window = match f.until {
                Some(until) => format!(
                    "{} to {}",
                    humantime::format_duration(from),
                    humantime::format_duration(until)
                ),
                None => format!("from {} on", humantime::format_duration(from)),
            };
            lines.push(format!("{window}: {:?}", f.fault));
        }
        lines
    }

    /// Parses a script; errors name the file, line and key.
    pub fn parse(file: &str, text: &str) -> Result<FaultScript, String> {
        let script: FaultScript = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        for (i, f) in script.faults.iter().enumerate() {
            let at = |m: &str| format!("{file}: fault {} ({:?}): {m}", i + 1, f.fault);
            let fraction = match &f.fault {
                Fault::Drop { fraction }
                | Fault::Discard { fraction, .. }
                | Fault::Mangle { fraction }
                | Fault::RateLimit { fraction, .. }
                | Fault::Unavailable { fraction }
                | Fault::Reject { fraction }
                | Fault::Duplicate { fraction } => Some(*fraction),
                _ => None,
            };
            if let Some(x) = fraction
                && !(0.0..=1.0).contains(&x)
            {
                return Err(at(&format!("fraction {x}: expected 0 to 1")));
            }
            if let Fault::Delay { p50, p99, .. } = &f.fault
                && p50 > p99
            {
                return Err(at("p50 is above p99"));
            }
            if let (Some(a), Some(b)) = (f.from, f.until)
                && a >= b
            {
                return Err(at("`from` is not before `until`"));
            }
        }
        if let Some(q) = &script.quota
            && !(q.per_second > 0.0
                && q.per_second.is_finite()
                && q.window.as_secs() >= 1
                && q.window.subsec_nanos() == 0
                && q.per_second * q.window.as_secs_f64() >= 1.0)
        {
            return Err(format!(
                "{file}: quota: per_second must be > 0, window whole seconds (at least 1s), \
                 and per_second × window at least 1"
            ));
        }
        Ok(script)
    }

    /// A salt that tells this script's faults apart (their position), so two faults of one
    /// kind hit different events.
    pub fn salt_of(&self, fault: &Fault) -> u64 {
        let at = self
            .faults
            .iter()
            .position(|f| std::ptr::eq(&f.fault, fault));
        (at.unwrap_or(0) as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The faults active `since_start` after the start.
    pub fn active(&self, since_start: Duration) -> impl Iterator<Item = &Fault> {
        self.faults
            .iter()
            .filter(move |f| f.is_active(since_start))
            .map(|f| &f.fault)
    }
}

impl TimedFault {
    /// Whether the fault is active at `t` after the start.
    pub fn is_active(&self, t: Duration) -> bool {
        self.from.is_none_or(|f| t >= f) && self.until.is_none_or(|u| t < u)
    }
}

/// Whether an event falls in `fraction` for a fault: a stable hash of its id and the fault's
/// salt, so each fault hits its own share of events.
pub fn hits(event_id: Uuid, salt: u64, fraction: f64) -> bool {
    if fraction >= 1.0 {
        return true;
    }
    let z = sentry_load_common::hash::mix(sentry_load_common::fnv1a(&event_id.into_bytes()), salt);
    (z as f64 / 2f64.powi(64)) < fraction
}

/// A log-normal service time with the given p50 and p99, for a uniform draw `u` in (0, 1).
pub fn service_time(p50: Duration, p99: Duration, u: f64) -> Duration {
    let secs = sentry_load_common::lognormal::quantile(p50.as_secs_f64(), p99.as_secs_f64(), u);
    Duration::from_secs_f64(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_and_refuse_bad_values() {
        let s = FaultScript::parse(
            "f.toml",
            "[quota]\nper_second = 5\n[[fault]]\nkind = \"drop\"\nfraction = 0.1\nfrom = \"1s\"\nuntil = \"2s\"\n\
             [[fault]]\nkind = \"clock_skew\"\nby = \"-3s\"\n[[fault]]\nkind = \"delay\"\nevents = \"native\"\np50 = \"1s\"\np99 = \"5s\"\n",
        )
        .unwrap();
        assert_eq!(s.faults.len(), 3);
        assert_eq!(
            s.faults[1].fault,
            Fault::ClockSkew {
                by: SignedDuration { micros: -3_000_000 }
            }
        );
        assert_eq!(s.active(Duration::from_millis(1500)).count(), 3);
        assert_eq!(s.active(Duration::from_millis(2500)).count(), 2);
        let e =
            FaultScript::parse("f.toml", "[[fault]]\nkind = \"drop\"\nfraction = 2\n").unwrap_err();
        assert!(e.contains("f.toml") && e.contains("fraction 2"), "{e}");
        let e = FaultScript::parse("f.toml", "[[fault]]\nkind = \"melt\"\n").unwrap_err();
        assert!(e.contains("f.toml") && e.contains("melt"), "{e}");
    }

    #[test]
    fn fractions_hit_about_their_share_and_service_times_their_percentiles() {
        let n = 20_000u128;
        let hit = (0..n)
            .filter(|i| hits(Uuid::from_u128(i * 7919), 1, 0.1))
            .count();
        assert!((1800..2200).contains(&hit), "{hit}");
        let mut t: Vec<f64> = (0..n)
            .map(|i| {
                service_time(
                    Duration::from_millis(100),
                    Duration::from_millis(1000),
                    (i as f64 + 0.5) / n as f64,
                )
                .as_secs_f64()
            })
            .collect();
        t.sort_by(f64::total_cmp);
        let (p50, p99) = (t[10_000], t[19_800]);
        assert!((0.09..0.11).contains(&p50), "{p50}");
        assert!((0.85..1.15).contains(&p99), "{p99}");
    }
}
