//! `[[disruption]]`: each operator command started at its time in the run (`sh -c`, output
//! discarded, `SENTRY_LOAD_RUN_ID` in its environment), killed at its timeout, and logged —
//! when it started, when and how it ended — for the report, which marks its window on the
//! charts and splits loss and latency by it (`sentry_load_reports::disruption_sections`). A
//! command the run's stop (Ctrl-C, an abort gate) comes before is not started; one still
//! running when the report is written is killed then, and marked so.
//!
//! A command may start a process that outlives it (`… &`, a restarted sim, a container): only
//! the shell is waited for and killed.

use crate::interrupt::Interrupt;
use sentry_load_config::Disruption;
use sentry_load_engine::RunClock;
use sentry_load_reports::DisruptionMark;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One command's state.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    at: Duration,
    window: Duration,
    started: Option<f64>,
    ended: Option<(f64, String)>,
}

/// The commands of a run, as they go.
pub struct Disruptions {
    entries: Arc<Mutex<Vec<Entry>>>,
    clock: RunClock,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Disruptions {
    fn drop(&mut self) {
        // Aborting a task drops its child, which kills the shell (`kill_on_drop`).
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Disruptions {
    /// Schedules `list` on `clock`; `stop` keeps the ones not yet due from starting.
    pub fn start(
        list: &[Disruption],
        clock: RunClock,
        run_id: &str,
        stop: Interrupt,
    ) -> Disruptions {
        let entries = Arc::new(Mutex::new(
            list.iter()
                .map(|d| Entry {
                    name: d.name.clone(),
                    at: d.at,
                    window: d.window,
                    started: None,
                    ended: None,
                })
                .collect::<Vec<_>>(),
        ));
        let tasks = list
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, d)| {
                let (entries, stop, run_id) = (entries.clone(), stop.clone(), run_id.to_owned());
                tokio::spawn(async move {
                    tokio::select! {
                        () = tokio::time::sleep_until(clock.start + d.at) => {}
                        () = stop.happened() => return,
                    }
                    let secs = || clock.start.elapsed().as_secs_f64();
                    let set = |f: &dyn Fn(&mut Entry)| {
                        if let Ok(mut e) = entries.lock() {
                            f(&mut e[i]);
                        }
                    };
                    let started = secs();
                    set(&|e| e.started = Some(started));
                    let ended = run(&d, &run_id).await;
                    let at = secs();
                    set(&|e| e.ended = Some((at, ended.clone())));
                })
            })
            .collect();
        Disruptions {
            entries,
            clock,
            tasks,
        }
    }

    /// What ran so far, for the run file: a command still running ends now, marked so; one
    /// not started is marked not run.
    pub fn marks(&self) -> Vec<DisruptionMark> {
        let now = self.clock.start.elapsed().as_secs_f64();
        let Ok(entries) = self.entries.lock() else {
            return Vec::new();
        };
        entries
            .iter()
            .map(|e| {
                let (start, end, ended) = match (&e.started, &e.ended) {
                    (Some(s), Some((end, how))) => (*s, *end, how.clone()),
                    (Some(s), None) => (
                        *s,
                        now,
                        "still running when the report was written (then killed)".into(),
                    ),
                    (None, _) => {
                        let at = e.at.as_secs_f64();
                        (at, at, "not run: the run stopped before its time".into())
                    }
                };
                DisruptionMark {
                    name: e.name.clone(),
                    start_secs: start,
                    end_secs: end.max(start),
                    window_secs: e.window.as_secs_f64(),
                    ended,
                }
            })
            .collect()
    }
}

/// Runs one command to its end or its timeout; how it ended.
async fn run(d: &Disruption, run_id: &str) -> String {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&d.command)
        .env("SENTRY_LOAD_RUN_ID", run_id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return format!("could not start: {e}"),
    };
    match tokio::time::timeout(d.timeout, child.wait()).await {
        Ok(Ok(status)) => match status.code() {
            Some(code) => format!("exit {code}"),
            None => "ended by a signal".into(),
        },
        Ok(Err(e)) => format!("could not be waited for: {e}"),
        Err(_) => {
            let _ = child.kill().await;
            format!(
                "killed after its {} timeout",
                humantime::format_duration(d.timeout)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disruption(name: &str, at_ms: u64, command: &str, timeout_ms: u64) -> Disruption {
        Disruption {
            name: name.into(),
            at: Duration::from_millis(at_ms),
            command: command.into(),
            timeout: Duration::from_millis(timeout_ms),
            window: Duration::from_secs(1),
        }
    }

    #[tokio::test]
    async fn commands_run_at_their_time_and_end_as_they_end() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let list = [
            disruption(
                "ok",
                100,
                &format!("echo $SENTRY_LOAD_RUN_ID > {}", marker.display()),
                5000,
            ),
            disruption("fails", 0, "exit 3", 5000),
            disruption("slow", 0, "sleep 30", 300),
            disruption("later", 60_000, "true", 1000),
        ];
        let clock = RunClock::starting_in(Duration::ZERO);
        let d = Disruptions::start(&list, clock, "run-7", Interrupt::never());
        tokio::time::sleep(Duration::from_millis(900)).await;
        let marks = d.marks();
        assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), "run-7");
        assert_eq!(marks[0].ended, "exit 0");
        assert!(marks[0].start_secs >= 0.1, "{marks:?}");
        assert_eq!(marks[1].ended, "exit 3");
        assert!(
            marks[2].ended.starts_with("killed after its 300ms"),
            "{marks:?}"
        );
        assert!(marks[2].end_secs - marks[2].start_secs >= 0.3);
        assert!(marks[3].ended.starts_with("not run"), "{marks:?}");
    }

    #[tokio::test]
    async fn a_stop_keeps_commands_not_yet_due_from_starting() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let stop = Interrupt::never();
        let list = [disruption(
            "late",
            300,
            &format!("touch {}", marker.display()),
            1000,
        )];
        let d = Disruptions::start(
            &list,
            RunClock::starting_in(Duration::ZERO),
            "r",
            stop.clone(),
        );
        stop.stop(crate::interrupt::Stop::Signal("SIGINT"));
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(!marker.exists());
        assert!(d.marks()[0].ended.starts_with("not run"));
    }
}
