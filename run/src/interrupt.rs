//! An operator stopping a run (Ctrl-C, or SIGTERM from a CI runner or `kill`), as k6 and
//! Locust do it: the first signal stops sending — no new send starts, the ones in flight
//! finish and are journaled — then what was sent is read back for at most
//! [`READ_BACK_AFTER_INTERRUPT`] and the report is written, marked interrupted, and the run
//! exits 130. A second signal exits at once (130), without a report.
//!
//! A crossed abort gate (`[gates.abort]`, see `abort.rs`) stops the run the same way; its
//! report names the gate, and the run exits 1 (a gate failed) instead of 130.

use crate::abort::Crossed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long what was sent is read back after an interrupt, at most (the profile's straggler
/// deadline when it is shorter).
pub const READ_BACK_AFTER_INTERRUPT: Duration = Duration::from_secs(30);

/// Why a run stopped before its schedule ended.
#[derive(Debug, Clone)]
pub enum Stop {
    /// An operator's signal: `SIGINT` or `SIGTERM`.
    Signal(&'static str),
    /// An abort gate was crossed (`[gates.abort]`): the gate as the report shows it, and the
    /// leg whose sends crossed it (`None` for the main leg).
    Gate(Crossed, Option<&'static str>),
}

/// Whether (and why) the run was told to stop.
#[derive(Clone)]
pub struct Interrupt {
    flag: watch::Receiver<bool>,
    sender: Arc<watch::Sender<bool>>,
    cause: Arc<Mutex<Option<(Stop, Instant)>>>,
}

impl Interrupt {
    /// Listens for SIGINT and SIGTERM from now on, for the rest of the process.
    pub fn listen() -> Interrupt {
        let interrupt = Interrupt::never();
        let stopper = interrupt.clone();
        tokio::spawn(async move {
            let first = next_signal().await;
            stopper.stop(Stop::Signal(first));
            eprintln!(
                "\n{first}: stopping — no new sends; those in flight finish, what was sent is \
                 read back for up to {} s, then the report is written (marked interrupted). \
                 Press Ctrl-C again to exit at once, without a report.",
                READ_BACK_AFTER_INTERRUPT.as_secs()
            );
            let again = next_signal().await;
            eprintln!("{again} again: exiting now, without a report");
            std::process::exit(130);
        });
        interrupt
    }

    /// An interrupt that comes only if [`Interrupt::stop`] is called (for runs driven by
    /// tests or other programs, and for the abort gates).
    pub fn never() -> Interrupt {
        let (tx, flag) = watch::channel(false);
        Interrupt {
            flag,
            sender: Arc::new(tx),
            cause: Arc::new(Mutex::new(None)),
        }
    }

    /// Tells the run to stop, for `why`. The first cause is the one kept: a Ctrl-C while an
    /// aborted run reads back does not make it an interrupted one.
    pub fn stop(&self, why: Stop) {
        if let Ok(mut cause) = self.cause.lock()
            && cause.is_none()
        {
            *cause = Some((why, Instant::now()));
        }
        self.sender.send_replace(true);
    }

    /// Resolves when the run is told to stop (never, if it is not).
    pub async fn happened(&self) {
        let mut flag = self.flag.clone();
        if flag.wait_for(|up| *up).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// The flag the verifier watches to shorten its wait.
    pub fn flag(&self) -> watch::Receiver<bool> {
        self.flag.clone()
    }

    /// Why the run was stopped and when, if it was.
    pub fn cause(&self) -> Option<(Stop, Instant)> {
        self.cause.lock().ok().and_then(|s| s.clone())
    }
}

/// The next SIGINT or SIGTERM.
async fn next_signal() -> &'static str {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match &mut term {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        () = terminated => "SIGTERM",
    }
}
