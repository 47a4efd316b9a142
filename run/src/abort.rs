//! The abort gates (`[gates.abort]`) while a leg sends: once a second, each rule is checked
//! over the leg's last `window` of [`Recent`] counts, and the first rule crossed stops the
//! run through its [`Interrupt`] — as k6's `abortOnFail` does — with the gate as the report
//! will show it (name, limit, figure and when).
//!
//! The rules and their windows:
//! - `max_failed_ratio`, `max_refused_ratio`: sends answered in the last `window` seconds.
//! - `max_unseen_ratio`: events accepted in the `window` seconds that ended `unseen_after`
//!   ago, still not seen by the live verifier — by then a visible event would have been.
//!
//! No rule is checked in the first `after`, nor over fewer than `min_sends` sends.

use crate::interrupt::{Interrupt, Stop};
use sentry_load_common::Percent;
use sentry_load_config::{AbortGates, Ratio};
use sentry_load_engine::{Counts, Recent, RunClock};
use sentry_load_reports::GateResult;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the rules are checked.
const EVERY: Duration = Duration::from_secs(1);

/// A crossed abort gate.
#[derive(Debug, Clone)]
pub struct Crossed {
    /// The gate as the report lists it, failed.
    pub gate: GateResult,
    /// Its figure, as a percentage.
    pub figure: String,
    /// What the figure is of: `41 of 340 sends answered in the 30 s before 95 s into the run
    /// failed, with a 5xx or no answer`.
    pub detail: String,
}

impl Crossed {
    fn new(name: &str, limit: f64, ratio: f64, detail: String) -> Crossed {
        let figure = Percent::of(ratio).to_string();
        Crossed {
            gate: GateResult {
                gate: format!("abort.{name}"),
                threshold: Percent::of(limit).to_string(),
                measured: format!("{figure} ({detail}); the run was stopped there"),
                passed: false,
            },
            figure,
            detail,
        }
    }

    /// How the stop reads after "by": `the abort gate abort.max_failed_ratio (12.0 % over
    /// its 5.0 % limit: …)`.
    pub fn by(&self) -> String {
        format!(
            "the abort gate {} ({} over its {} limit: {})",
            self.gate.gate, self.figure, self.gate.threshold, self.detail
        )
    }
}

/// Checks `gates` over `recent` until the run stops or the handle is aborted (when sending
/// ends).
pub fn watch(
    gates: AbortGates,
    recent: Arc<Recent>,
    clock: RunClock,
    interrupt: Interrupt,
    leg: Option<&'static str>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(clock.start + EVERY, EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if interrupt.cause().is_some() {
                return;
            }
            let elapsed = clock.start.elapsed();
            if elapsed < gates.after {
                continue;
            }
            if let Some(crossed) = check(&gates, &recent, elapsed.as_secs()) {
                interrupt.stop(Stop::Gate(crossed, leg));
                return;
            }
        }
    })
}

/// The first rule crossed at second `now` of the run, if one is.
pub fn check(gates: &AbortGates, recent: &Recent, now: u64) -> Option<Crossed> {
    let window = gates.window.as_secs();
    let answered = recent.sum(now.saturating_sub(window), now);
    type AnsweredRule = (
        &'static str,
        Option<Ratio>,
        fn(&Counts) -> u64,
        &'static str,
    );
    let answered_rules: [AnsweredRule; 2] = [
        (
            "max_failed_ratio",
            gates.max_failed_ratio,
            |c| c.failed,
            "failed, with a 5xx or no answer",
        ),
        (
            "max_refused_ratio",
            gates.max_refused_ratio,
            |c| c.refused,
            "were refused",
        ),
    ];
    for (name, max, pick, what) in answered_rules {
        let Some(limit) = max.map(Ratio::value) else {
            continue;
        };
        let part = pick(&answered);
        let ratio = part as f64 / answered.answered.max(1) as f64;
        if answered.answered >= gates.min_sends && ratio > limit {
            let detail = format!(
                "{part} of {} sends answered in the {window} s before {now} s into the run \
                 {what}",
                answered.answered
            );
            return Some(Crossed::new(name, limit, ratio, detail));
        }
    }
    let (max, after) = gates.max_unseen_ratio?;
    let after = after.as_secs();
    let end = now.checked_sub(after)?;
    let from = end.saturating_sub(window);
    let sent = recent.sum(from, end);
    let unseen = sent.accepted.saturating_sub(sent.seen);
    let ratio = unseen as f64 / sent.accepted.max(1) as f64;
    (sent.accepted >= gates.min_sends && ratio > max.value()).then(|| {
        let detail = format!(
            "{unseen} of {} events accepted from {from} s to {end} s into the run were still \
             not visible {after} s later, at {now} s",
            sent.accepted
        );
        Crossed::new("max_unseen_ratio", max.value(), ratio, detail)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry_load_common::SendOutcome;
    use sentry_load_common::journal::JournalRecord;

    const START: u64 = 1_700_000_000_000_000;

    fn gates(text: &str) -> AbortGates {
        toml::from_str(text).unwrap()
    }

    /// `n` sends a second from `from` to `to` (seconds), `bad` of each second's with `outcome`.
    fn send(r: &Recent, seconds: std::ops::Range<u64>, n: u64, bad: u64, outcome: SendOutcome) {
        for s in seconds {
            for i in 0..n {
                let at = START + s * 1_000_000 + i;
                r.note(&JournalRecord {
                    outcome: if i < bad {
                        outcome
                    } else {
                        SendOutcome::Accepted
                    },
                    intended_micros: at,
                    sent_micros: at,
                    done_micros: at,
                    ..JournalRecord::fixture(0)
                });
            }
        }
    }

    #[test]
    fn failures_over_the_limit_in_the_window_stop_the_run_and_older_ones_do_not() {
        let g = gates("max_failed_ratio = 0.05\nwindow = \"10s\"\nmin_sends = 50");
        let r = Recent::new(START, g.horizon());
        // 10 % failed in seconds 0–9, then none.
        send(&r, 0..10, 20, 2, SendOutcome::Unavailable);
        let crossed = check(&g, &r, 10).expect("10 % failed over 5 %").gate;
        assert_eq!(crossed.gate, "abort.max_failed_ratio");
        assert_eq!(crossed.threshold, "5.0 %");
        assert!(
            crossed.measured.starts_with(
                "10.0 % (20 of 200 sends answered in the 10 s before 10 s into the run"
            ),
            "{}",
            crossed.measured
        );
        send(&r, 10..20, 20, 0, SendOutcome::Unavailable);
        assert!(check(&g, &r, 20).is_none(), "the failures left the window");
        // Too few sends to judge.
        let r = Recent::new(START, g.horizon());
        send(&r, 0..10, 4, 4, SendOutcome::TransportError);
        assert!(check(&g, &r, 10).is_none());
    }

    #[test]
    fn refusals_have_their_own_rule() {
        let g = gates("max_refused_ratio = 0.5\nmax_failed_ratio = 0.5\nmin_sends = 10");
        let r = Recent::new(START, g.horizon());
        send(&r, 0..30, 10, 6, SendOutcome::RateLimited);
        let crossed = check(&g, &r, 30).unwrap().gate;
        assert_eq!(crossed.gate, "abort.max_refused_ratio");
        assert!(
            crossed.measured.contains("were refused"),
            "{}",
            crossed.measured
        );
    }

    #[test]
    fn accepted_events_not_seen_long_after_their_send_stop_the_run() {
        let g = gates("max_unseen_ratio = 0.01\nunseen_after = \"60s\"\nwindow = \"10s\"");
        let r = Recent::new(START, g.horizon());
        // The verifier sees everything from seconds 0–4 and 12 on, nothing of 5–11.
        let sent_and_seen = |seconds: std::ops::Range<u64>| {
            send(&r, seconds.clone(), 20, 0, SendOutcome::Accepted);
            let seen: Vec<u64> = seconds
                .filter(|s| !(5..12).contains(s))
                .flat_map(|s| (0..20).map(move |i| START + s * 1_000_000 + i))
                .collect();
            r.note_seen(seen);
        };
        sent_and_seen(0..71);
        // Not yet judged: nothing was sent 60 s before second 59.
        assert!(check(&g, &r, 59).is_none());
        // At 65 s, the window is seconds 0–4 (100 accepted, all seen)… and 5 unseen seconds
        // fall in it from 66 s on.
        assert!(check(&g, &r, 65).is_none());
        let crossed = check(&g, &r, 70).expect("100 of 200 unseen");
        assert!(
            crossed.by().starts_with(
                "the abort gate abort.max_unseen_ratio (50.0 % over its 1.0 % limit: 100 of 200"
            ),
            "{}",
            crossed.by()
        );
        let crossed = crossed.gate;
        assert_eq!(crossed.gate, "abort.max_unseen_ratio");
        assert!(
            crossed.measured.starts_with(
                "50.0 % (100 of 200 events accepted from 0 s to 10 s into the run were still \
                 not visible 60 s later, at 70 s); the run was stopped there"
            ),
            "{}",
            crossed.measured
        );
        sent_and_seen(71..83);
        assert!(
            check(&g, &r, 82).is_none(),
            "the unseen seconds left the window"
        );
    }
}
