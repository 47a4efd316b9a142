//! The one consumer of the result stream: writes every record to the journal (flushing on a
//! timer, so a quiet stretch loses nothing to a crash) and forwards accepted events to the
//! verifier.

use sentry_load_common::SendOutcome;
use sentry_load_common::journal::{JournalRecord, JournalWriter, WriteError};
use std::time::Duration;
use tokio::sync::mpsc;

/// The journal could not be written.
pub type CollectError = WriteError;

/// Consumes `results` until every sender is gone; returns how many records were written.
pub async fn collect(
    mut results: mpsc::Receiver<JournalRecord>,
    mut journal: JournalWriter,
    accepted: Option<mpsc::UnboundedSender<JournalRecord>>,
    flush_every: Duration,
) -> Result<u64, CollectError> {
    let mut tick = tokio::time::interval(flush_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            next = results.recv() => match next {
                Some(record) => {
                    journal.append(&record)?;
                    if record.outcome == SendOutcome::Accepted
                        && let Some(tx) = &accepted
                    {
                        // The verifier ending early only means nobody tracks visibility.
                        let _ = tx.send(record);
                    }
                }
                None => break,
            },
            _ = tick.tick() => journal.flush_if_due()?,
        }
    }
    journal.finish()
}
