//! Live progress, read from [`LiveStats`] four times a second: an `indicatif` bar for people,
//! one JSON line a second on stderr for CI logs, or nothing.
//!
//! ```text
//! {"elapsed_s":12.0,"target_rate":1000.0,"achieved_rate":999.0,"planned":60000,"finished":11990,"in_flight":3,"accepted":11990,"rate_limited":0,"failed":0,"harness_dropped":0,"seen":11200}
//! ```

use crate::plan::Plan;
use crate::stats::LiveStats;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sentry_load_common::SendOutcome;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on stderr (hidden when stderr is not a terminal).
    Bar,
    /// One JSON object a second on stderr.
    Json,
    /// Nothing.
    Quiet,
}

/// A running progress display.
pub struct Progress {
    bar: ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Snapshot {
    at: Option<Instant>,
    finished: u64,
}

impl Progress {
    /// Starts showing `stats` against `plan`.
    pub fn start(stats: Arc<LiveStats>, plan: &Plan, mode: ProgressMode) -> Progress {
        let target = match mode {
            ProgressMode::Bar => ProgressDrawTarget::stderr_with_hz(4),
            ProgressMode::Json | ProgressMode::Quiet => ProgressDrawTarget::hidden(),
        };
        Progress::start_on(stats, plan, mode, target)
    }

    /// [`Progress::start`], drawing the bar on `target`.
    fn start_on(
        stats: Arc<LiveStats>,
        plan: &Plan,
        mode: ProgressMode,
        target: ProgressDrawTarget,
    ) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(plan.total()), target);
        bar.set_style(
            // `wide_msg` is cut to the terminal's width: a line that wrapped would be redrawn
            // over the lines above it.
            ProgressStyle::with_template("{elapsed_precise} [{bar:20}] {pos}/{len} · {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let (shown, plan) = (bar.clone(), plan.clone());
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut last = Snapshot::default();
            let mut ticks = 0u64;
            loop {
                tick.tick().await;
                ticks += 1;
                let now = Instant::now();
                let finished = stats.finished();
                let elapsed = now - started;
                // Achieved rate over the last second or so, not since the start.
                let since = last
                    .at
                    .map_or(elapsed, |t| now - t)
                    .as_secs_f64()
                    .max(0.001);
                let achieved = finished.saturating_sub(last.finished) as f64 / since;
                if ticks.is_multiple_of(4) || last.at.is_none() {
                    last = Snapshot {
                        at: Some(now),
                        finished,
                    };
                }
                let target_rate = plan.rate_at(elapsed);
                // Counters are read one at a time while sends finish: saturate, never wrap.
                let failed = finished
                    .saturating_sub(stats.count(SendOutcome::Accepted))
                    .saturating_sub(stats.count(SendOutcome::RateLimited))
                    .saturating_sub(stats.count(SendOutcome::HarnessDropped))
                    .saturating_sub(stats.count(SendOutcome::BackedOff));
                match mode {
                    ProgressMode::Bar => {
                        shown.set_position(finished);
                        shown.set_message(format!(
                            "{achieved:.0}/s of {target_rate:.0}/s · in flight {} · accepted {} · limited {} · failed {} · dropped {} · seen {}",
                            stats.in_flight(),
                            stats.count(SendOutcome::Accepted),
                            stats.count(SendOutcome::RateLimited) + stats.count(SendOutcome::BackedOff),
                            failed,
                            stats.count(SendOutcome::HarnessDropped),
                            stats.seen(),
                        ));
                    }
                    ProgressMode::Json if ticks.is_multiple_of(4) => {
                        let line = serde_json::json!({
                            "elapsed_s": (elapsed.as_secs_f64() * 10.0).round() / 10.0,
                            "target_rate": target_rate,
                            "achieved_rate": (achieved * 10.0).round() / 10.0,
                            "planned": plan.total(),
                            "finished": finished,
                            "in_flight": stats.in_flight(),
                            "accepted": stats.count(SendOutcome::Accepted),
                            "rate_limited": stats.count(SendOutcome::RateLimited),
                            "backed_off": stats.count(SendOutcome::BackedOff),
                            "failed": failed,
                            "harness_dropped": stats.count(SendOutcome::HarnessDropped),
                            "seen": stats.seen(),
                        });
                        eprintln!("{line}");
                    }
                    ProgressMode::Json | ProgressMode::Quiet => {}
                }
            }
        });
        Progress { bar, task }
    }

    /// Prints a line above the bar (plainly when the bar is hidden or gone).
    pub fn println(&self, line: &str) {
        if self.bar.is_hidden() || self.bar.is_finished() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Sending is over: a bar is cleared and stops drawing, so that what follows (the wait
    /// for stragglers, the summaries on standard output) is not drawn over, and a schedule's
    /// rate of 0 after its end is never shown against the last sends. JSON lines go on
    /// (their `seen` counts the stragglers).
    pub fn sending_done(&self) {
        if !self.bar.is_hidden() {
            self.task.abort();
            self.bar.finish_and_clear();
        }
    }

    /// Stops and clears the display.
    pub fn finish(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Phase;
    use indicatif::InMemoryTerm;

    #[tokio::test]
    async fn the_bar_fits_its_terminal_and_is_gone_once_sending_is_done() {
        let term = InMemoryTerm::new(10, 80);
        let stats = Arc::new(LiveStats::default());
        for _ in 0..12_345 {
            stats.record(SendOutcome::Accepted);
        }
        stats.add_seen(12_000);
        let plan = Plan::new(vec![Phase::hold(1000.0, Duration::from_secs(60))]);
        let progress = Progress::start_on(
            stats,
            &plan,
            ProgressMode::Bar,
            ProgressDrawTarget::term_like(Box::new(term.clone())),
        );
        progress.println("run r1: 60000 events");
        // The task draws every quarter second: wait for its first drawing (10 s at most).
        for _ in 0..200 {
            if term.contents().contains("/s of") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let shown = term.contents();
        let bar: Vec<&str> = shown.lines().filter(|l| l.contains("/60000")).collect();
        assert_eq!(bar.len(), 1, "one line, not wrapped: {shown:?}");
        // The counts start the line; what does not fit is cut, not wrapped.
        assert!(bar[0].contains("12345/60000 · "), "{shown:?}");
        assert!(bar[0].contains("/s of 1000/s"), "{shown:?}");
        assert!(shown.lines().all(|l| l.chars().count() <= 80), "{shown:?}");

        progress.sending_done();
        progress.println("sent 60000 envelopes; waiting up to 5m for stragglers");
        // Past the next quarter-second tick: nothing draws the bar again.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let after = term.contents();
        assert!(!after.contains("/60000"), "the bar is gone: {after:?}");
        progress.finish();
    }
}
