//! An operator stopping a run (Ctrl-C, or SIGTERM from a CI runner or `kill`), as k6 and
//! Locust do it: the first signal stops sending — no new send starts, the ones in flight
//! finish and are journaled — then what was sent is read back for at most
//! [`READ_BACK_AFTER_INTERRUPT`] and the report is written, marked interrupted, and the run
//! exits 130. A second signal exits at once (130), without a report.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long what was sent is read back after an interrupt, at most (the profile's straggler
/// deadline when it is shorter).
pub const READ_BACK_AFTER_INTERRUPT: Duration = Duration::from_secs(30);

/// Whether (and by which signal) the run was told to stop.
#[derive(Clone)]
pub struct Interrupt {
    flag: watch::Receiver<bool>,
    signal: Arc<Mutex<Option<(&'static str, Instant)>>>,
    /// Keeps the flag's sender alive for [`Interrupt::never`].
    _sender: Option<Arc<watch::Sender<bool>>>,
}

impl Interrupt {
    /// Listens for SIGINT and SIGTERM from now on, for the rest of the process.
    pub fn listen() -> Interrupt {
        let (tx, flag) = watch::channel(false);
        let signal = Arc::new(Mutex::new(None));
        let noted = signal.clone();
        tokio::spawn(async move {
            let first = next_signal().await;
            if let Ok(mut s) = noted.lock() {
                *s = Some((first, Instant::now()));
            }
            let _ = tx.send(true);
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
        Interrupt {
            flag,
            signal,
            _sender: None,
        }
    }

    /// An interrupt that never comes (for runs driven by tests or other programs).
    pub fn never() -> Interrupt {
        let (tx, flag) = watch::channel(false);
        Interrupt {
            flag,
            signal: Arc::new(Mutex::new(None)),
            _sender: Some(Arc::new(tx)),
        }
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

    /// The signal that stopped the run and when it came, if one did.
    pub fn signal(&self) -> Option<(&'static str, Instant)> {
        if !*self.flag.borrow() {
            return None;
        }
        self.signal.lock().ok().and_then(|s| *s)
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
