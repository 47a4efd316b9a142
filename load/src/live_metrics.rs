//! Live metrics of a run in progress, in the Prometheus / OpenMetrics text format
//! (`run --metrics-listen ADDR` serves them): the collector counts every record into them,
//! the verifier every sighting, and a once-a-second refresh sets the gauges. The exposition is
//! the `prometheus-client` crate's, the one maintained under the Prometheus organisation.
//!
//! | metric | type | what |
//! |---|---|---|
//! | `sentry_load_offered_rate` | gauge | the schedule's rate now, envelopes/s |
//! | `sentry_load_achieved_rate` | gauge | sends finished per second, over the last 5 s |
//! | `sentry_load_in_flight` | gauge | requests in flight |
//! | `sentry_load_sends_total{outcome}` | counter | finished sends by outcome (`accepted`, `rate_limited`, …) |
//! | `sentry_load_refused_total{status}` | counter | refusals by HTTP status |
//! | `sentry_load_accepted_total{kind}` | counter | accepted events by kind |
//! | `sentry_load_visible_total{kind}` | counter | events the verifier has seen, by kind |
//! | `sentry_load_visibility_seconds{kind}` | histogram | intended send → first seen |
//! | `sentry_load_not_yet_visible` | gauge | accepted, not (yet) seen |
//! | `sentry_load_overdue` | gauge | accepted more than `[verify] deadline` ago and not seen: the live sign of silent loss |
//! | `sentry_load_planned` | gauge | sends the schedule plans in all |

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sentry_load_common::journal::JournalRecord;
use sentry_load_common::{EventKind, SendOutcome};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Label sets: `(name, value)` pairs.
type Labels = Vec<(&'static str, String)>;

/// Upper bounds of the visibility histogram's buckets, seconds.
const VISIBILITY_BUCKETS: [f64; 14] = [
    0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];
/// The window of `sentry_load_achieved_rate`, seconds.
const ACHIEVED_WINDOW: usize = 5;

/// The run's metrics, and the per-second counts behind `sentry_load_overdue`.
pub struct LiveMetrics {
    registry: Registry,
    start_unix_micros: u64,
    deadline: Duration,
    offered_rate: Gauge<f64, AtomicU64>,
    achieved_rate: Gauge<f64, AtomicU64>,
    in_flight: Gauge,
    sends: Family<Labels, Counter>,
    refused: Family<Labels, Counter>,
    accepted: Family<Labels, Counter>,
    visible: Family<Labels, Counter>,
    visibility: Family<Labels, Histogram>,
    not_yet_visible: Gauge,
    overdue: Gauge,
    /// Each outcome's and kind's series, made at the start (every series is served from the
    /// first scrape, at 0) so that counting one takes no lookup: by position in
    /// `SendOutcome::ALL` and in `EventKind::ALL`.
    sends_of: Vec<Counter>,
    accepted_of: Vec<Counter>,
    visible_of: Vec<Counter>,
    visibility_of: Vec<Histogram>,
    /// `[accepted, seen]` per second of intended send time, and the finished-send totals of
    /// the last seconds (for the achieved rate).
    seconds: Mutex<Seconds>,
}

#[derive(Default)]
struct Seconds {
    by_intended: Vec<[u64; 2]>,
    finished: std::collections::VecDeque<u64>,
    accepted: u64,
    seen: u64,
}

/// The most seconds of per-second counts kept: 31 days (16 bytes a second).
const MAX_SECONDS: usize = 31 * 86_400;

impl LiveMetrics {
    /// Metrics of a run whose time zero is `start_unix_micros`, planning `planned` sends,
    /// whose events count as overdue `deadline` after their intended send.
    pub fn new(start_unix_micros: u64, planned: u64, deadline: Duration) -> LiveMetrics {
        let mut registry = Registry::with_prefix("sentry_load");
        let m = LiveMetrics {
            start_unix_micros,
            deadline,
            offered_rate: Gauge::default(),
            achieved_rate: Gauge::default(),
            in_flight: Gauge::default(),
            sends: Family::default(),
            refused: Family::default(),
            accepted: Family::default(),
            visible: Family::default(),
            visibility: Family::new_with_constructor(|| Histogram::new(VISIBILITY_BUCKETS)),
            not_yet_visible: Gauge::default(),
            overdue: Gauge::default(),
            seconds: Mutex::new(Seconds::default()),
            registry: Registry::default(),
            sends_of: Vec::new(),
            accepted_of: Vec::new(),
            visible_of: Vec::new(),
            visibility_of: Vec::new(),
        };
        let sends_of = SendOutcome::ALL
            .iter()
            .map(|o| {
                m.sends
                    .get_or_create(&vec![("outcome", o.as_str().to_owned())])
                    .clone()
            })
            .collect();
        let by_kind = |f: &Family<Labels, Counter>| -> Vec<Counter> {
            EventKind::ALL
                .iter()
                .map(|k| f.get_or_create(&kind(*k)).clone())
                .collect()
        };
        let (accepted_of, visible_of) = (by_kind(&m.accepted), by_kind(&m.visible));
        let visibility_of = EventKind::ALL
            .iter()
            .map(|k| m.visibility.get_or_create(&kind(*k)).clone())
            .collect();
        let planned_gauge: Gauge = Gauge::default();
        planned_gauge.set(i64::try_from(planned).unwrap_or(i64::MAX));
        registry.register(
            "offered_rate",
            "The schedule's rate now, envelopes per second",
            m.offered_rate.clone(),
        );
        registry.register(
            "achieved_rate",
            "Sends finished per second over the last 5 s",
            m.achieved_rate.clone(),
        );
        registry.register("in_flight", "Requests in flight", m.in_flight.clone());
        registry.register("sends", "Finished sends by outcome", m.sends.clone());
        registry.register("refused", "Refused sends by HTTP status", m.refused.clone());
        registry.register("accepted", "Accepted events by kind", m.accepted.clone());
        registry.register(
            "visible",
            "Events the verifier has seen, by kind",
            m.visible.clone(),
        );
        registry.register(
            "visibility_seconds",
            "Intended send to first seen, seconds, by kind",
            m.visibility.clone(),
        );
        registry.register(
            "not_yet_visible",
            "Accepted events not seen yet",
            m.not_yet_visible.clone(),
        );
        registry.register(
            "overdue",
            "Accepted events not seen a [verify] deadline after their intended send",
            m.overdue.clone(),
        );
        registry.register("planned", "Sends the schedule plans", planned_gauge);
        LiveMetrics {
            registry,
            sends_of,
            accepted_of,
            visible_of,
            visibility_of,
            ..m
        }
    }

    /// Counts one journal record (the collector calls this for every record).
    pub fn note(&self, r: &JournalRecord) {
        if let Some(i) = SendOutcome::ALL.iter().position(|o| *o == r.outcome) {
            self.sends_of[i].inc();
        }
        if r.outcome == SendOutcome::Accepted {
            self.accepted_of[kind_index(r.kind)].inc();
            if let Ok(mut s) = self.seconds.lock() {
                s.accepted += 1;
                if let Some(slot) = s.slot(self.second_of(r.intended_micros)) {
                    slot[0] += 1;
                }
            }
        } else if r.outcome.is_refusal() {
            self.refused
                .get_or_create(&vec![("status", r.status.to_string())])
                .inc();
        }
    }

    /// Counts events the verifier first saw at `now_unix_micros`: their kinds and intended
    /// send times.
    pub fn note_seen(&self, seen: &[(EventKind, u64)], now_unix_micros: u64) {
        for &(k, intended) in seen {
            self.visible_of[kind_index(k)].inc();
            let secs = now_unix_micros.saturating_sub(intended) as f64 / 1e6;
            self.visibility_of[kind_index(k)].observe(secs);
        }
        if let Ok(mut s) = self.seconds.lock() {
            s.seen += seen.len() as u64;
            for &(_, intended) in seen {
                if let Some(slot) = s.slot(self.second_of(intended)) {
                    slot[1] += 1;
                }
            }
        }
    }

    /// Sets the gauges: the schedule's rate now, requests in flight, sends finished so far,
    /// and the time now (for what is overdue). Called once a second.
    pub fn refresh(&self, offered: f64, in_flight: u64, finished: u64, now_unix_micros: u64) {
        self.offered_rate.set(offered);
        self.in_flight
            .set(i64::try_from(in_flight).unwrap_or(i64::MAX));
        let Ok(mut s) = self.seconds.lock() else {
            return;
        };
        s.finished.push_back(finished);
        if s.finished.len() > ACHIEVED_WINDOW + 1 {
            s.finished.pop_front();
        }
        if let (Some(first), Some(last)) = (s.finished.front(), s.finished.back())
            && s.finished.len() > 1
        {
            let secs = (s.finished.len() - 1) as f64;
            self.achieved_rate
                .set(last.saturating_sub(*first) as f64 / secs);
        }
        self.not_yet_visible
            .set(i64::try_from(s.accepted.saturating_sub(s.seen)).unwrap_or(i64::MAX));
        let due = now_unix_micros.saturating_sub(self.deadline.as_micros() as u64);
        let overdue: u64 = match self.second_of(due).checked_sub(1) {
            // Whole seconds that ended before `due`.
            Some(last) => s
                .by_intended
                .iter()
                .take(last.saturating_add(1))
                .map(|[a, seen]| a.saturating_sub(*seen))
                .sum(),
            None => 0,
        };
        self.overdue.set(i64::try_from(overdue).unwrap_or(i64::MAX));
    }

    /// The exposition, OpenMetrics text (which Prometheus reads).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// The second of `micros` since time zero (0 before it).
    fn second_of(&self, micros: u64) -> usize {
        (micros.saturating_sub(self.start_unix_micros) / 1_000_000) as usize
    }
}

impl Seconds {
    /// The counts of `second`, grown to it (`None` past [`MAX_SECONDS`]).
    fn slot(&mut self, second: usize) -> Option<&mut [u64; 2]> {
        if second >= MAX_SECONDS {
            return None;
        }
        if self.by_intended.len() <= second {
            self.by_intended.resize(second + 1, [0, 0]);
        }
        self.by_intended.get_mut(second)
    }
}

/// `k`'s position in `EventKind::ALL`.
fn kind_index(k: EventKind) -> usize {
    EventKind::ALL.iter().position(|x| *x == k).unwrap_or(0)
}

fn kind(k: EventKind) -> Labels {
    vec![("kind", k.as_str().to_owned())]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: SendOutcome, status: u16, intended_micros: u64) -> JournalRecord {
        JournalRecord {
            outcome,
            status,
            intended_micros,
            kind: EventKind::Error,
            ..JournalRecord::fixture(1)
        }
    }

    #[test]
    fn counts_render_as_openmetrics() {
        let m = LiveMetrics::new(0, 10, Duration::from_secs(5));
        m.note(&record(SendOutcome::Accepted, 200, 0));
        m.note(&record(SendOutcome::Accepted, 200, 1_500_000));
        m.note(&record(SendOutcome::RateLimited, 429, 0));
        m.note_seen(&[(EventKind::Error, 0)], 700_000);
        m.refresh(100.0, 3, 3, 2_000_000);
        let text = m.render();
        for line in [
            "sentry_load_sends_total{outcome=\"accepted\"} 2",
            "sentry_load_refused_total{status=\"429\"} 1",
            "sentry_load_accepted_total{kind=\"error\"} 2",
            "sentry_load_visible_total{kind=\"error\"} 1",
            "sentry_load_visibility_seconds_bucket{le=\"1.0\",kind=\"error\"} 1",
            "sentry_load_offered_rate 100.0",
            "sentry_load_in_flight 3",
            "sentry_load_not_yet_visible 1",
            "sentry_load_planned 10",
            "# EOF",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    #[test]
    fn an_accepted_event_is_overdue_a_deadline_after_its_second_ends() {
        let m = LiveMetrics::new(0, 10, Duration::from_secs(5));
        m.note(&record(SendOutcome::Accepted, 200, 200_000));
        m.note(&record(SendOutcome::Accepted, 200, 300_000));
        m.note_seen(&[(EventKind::Error, 300_000)], 900_000);
        let overdue = |now: u64| {
            m.refresh(0.0, 0, 0, now);
            let text = m.render();
            text.lines()
                .find_map(|l| l.strip_prefix("sentry_load_overdue "))
                .unwrap()
                .to_owned()
        };
        assert_eq!(overdue(5_900_000), "0");
        assert_eq!(overdue(6_000_000), "1");
        // Absurd times fall outside the kept seconds, never panic.
        m.note(&record(SendOutcome::Accepted, 200, u64::MAX));
        m.note_seen(&[(EventKind::Error, u64::MAX)], 0);
        assert_eq!(overdue(u64::MAX), "1");
    }
}
