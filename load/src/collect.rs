//! The one consumer of the result stream: writes every record to the journal (flushing at least
//! every `flush_every`, so a quiet stretch loses nothing to a crash), forwards accepted
//! events to the verifier and counts every record into the run's [`Recent`] seconds, when
//! the run has abort gates, and into its [`LiveMetrics`], when they are served.
//!
//! It runs on a blocking thread: writing and flushing the journal are file I/O, which on the
//! sender's worker thread would stall sends (a 200 ms flush at 50,000/s writes about 700 KB).
//! It drains whatever is queued, then sleeps [`POLL`] when the stream is empty, so senders
//! never have to wake it: on a busy stream it costs no wake-up or timer per record.

use crate::live_metrics::LiveMetrics;
use crate::recent::Recent;
use sentry_load_common::SendOutcome;
use sentry_load_common::journal::{JournalRecord, JournalWriter, WriteError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

/// How long the collector sleeps when the stream is empty.
pub const POLL: Duration = Duration::from_millis(2);

/// The journal could not be written.
pub type CollectError = WriteError;

/// Where the collector passes records on, besides the journal.
#[derive(Default)]
pub struct Onward {
    /// The verifier's intake of accepted events.
    pub accepted: Option<mpsc::UnboundedSender<JournalRecord>>,
    /// The recent seconds the abort gates read.
    pub recent: Option<Arc<Recent>>,
    /// The live metrics (`--metrics-listen`).
    pub metrics: Option<Arc<LiveMetrics>>,
}

/// Consumes `results` until every sender is gone; returns how many records were written.
/// The journal flushes at its own interval (set when it was created).
pub async fn collect(
    results: mpsc::Receiver<JournalRecord>,
    journal: JournalWriter,
    onward: Onward,
) -> Result<u64, CollectError> {
    let work = tokio::task::spawn_blocking(move || collect_blocking(results, journal, onward));
    match work.await {
        Ok(result) => result,
        // The collector panicked: surface it as the panic it was.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

fn collect_blocking(
    mut results: mpsc::Receiver<JournalRecord>,
    mut journal: JournalWriter,
    onward: Onward,
) -> Result<u64, CollectError> {
    let write = |record: JournalRecord, journal: &mut JournalWriter| {
        if let Some(recent) = &onward.recent {
            recent.note(&record);
        }
        if let Some(metrics) = &onward.metrics {
            metrics.note(&record);
        }
        if record.outcome == SendOutcome::Accepted
            && let Some(tx) = &onward.accepted
        {
            // The verifier ending early only means nobody tracks visibility.
            let _ = tx.send(record);
        }
        journal.append(&record)
    };
    loop {
        match results.try_recv() {
            Ok(record) => write(record, &mut journal)?,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                journal.flush_if_due()?;
                std::thread::sleep(POLL);
            }
        }
    }
    journal.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry_load_common::RunId;
    use sentry_load_common::journal::{JournalHeader, JournalReader};

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn every_record_is_journaled_and_accepted_ones_forwarded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.bin");
        let header = JournalHeader {
            run_id: RunId::parse("collect-test").unwrap(),
            seed: 0,
            profile: "t".into(),
            profile_hash: "0".into(),
            tool_version: "0".into(),
            started_at_micros: 0,
            targets: vec![],
        };
        let journal = JournalWriter::create(&path, &header, Duration::from_millis(10)).unwrap();
        let (tx, rx) = mpsc::channel(8);
        let (fwd, mut forwarded) = mpsc::unbounded_channel();
        let collector = tokio::spawn(collect(
            rx,
            journal,
            Onward {
                accepted: Some(fwd),
                recent: None,
                metrics: None,
            },
        ));
        for seq in 0..1000 {
            let outcome = if seq % 10 == 0 {
                SendOutcome::RateLimited
            } else {
                SendOutcome::Accepted
            };
            let record = JournalRecord {
                outcome,
                ..JournalRecord::fixture(seq)
            };
            tx.send(record).await.unwrap();
            if seq == 500 {
                // A quiet stretch: the timer-driven flush path runs.
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        }
        drop(tx);
        assert_eq!(collector.await.unwrap().unwrap(), 1000);
        let mut n = 0;
        while forwarded.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, 900);
        let mut reader = JournalReader::open(&path).unwrap();
        let mut seqs = vec![];
        while let Some(r) = reader.next_record().unwrap() {
            seqs.push(r.seq);
        }
        assert_eq!(seqs, (0..1000).collect::<Vec<_>>());
    }
}
