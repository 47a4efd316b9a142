//! The progress display: an `indicatif` bar over the planned sends, with achieved rate,
//! requests in flight, accepted / limited / failed counts and events seen so far.

use crate::stats::LiveStats;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sentry_load_common::SendOutcome;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running progress display; hidden when stderr is not a terminal or when quiet.
pub struct Progress {
    bar: ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// Starts drawing `stats` against `planned` sends at `target_rate`.
    pub fn start(stats: Arc<LiveStats>, planned: u64, target_rate: f64, quiet: bool) -> Progress {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr_with_hz(4)
        };
        let bar = ProgressBar::with_draw_target(Some(planned), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} sent · {msg} · eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        let shown = bar.clone();
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let finished = stats.finished();
                let secs = started.elapsed().as_secs_f64().max(0.001);
                let failed = finished
                    - stats.count(SendOutcome::Accepted)
                    - stats.count(SendOutcome::RateLimited);
                shown.set_position(finished);
                shown.set_message(format!(
                    "{:.0}/{target_rate:.0} per s · in flight {} · accepted {} · limited {} · failed {} · seen {}",
                    finished as f64 / secs,
                    stats.in_flight(),
                    stats.count(SendOutcome::Accepted),
                    stats.count(SendOutcome::RateLimited),
                    failed,
                    stats.seen(),
                ));
            }
        });
        Progress { bar, task }
    }

    /// Prints a line above the bar (plainly when the bar is hidden).
    pub fn println(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Stops drawing and clears the bar.
    pub fn finish(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}
