//! The outcomes consumer: every outcome ingest and the pipelines emit (Kafka `outcomes`) is
//! written to `outcomes_raw_local` in batches, like Snuba's outcomes consumer
//! (`snuba-outcomes-consumer` in getsentry/self-hosted `docker-compose.yml` at
//! 89a143f8e4d396a858cf6f462a832ae7da9fd2db). It runs until every sender is gone.

use crate::store::Store;
use crate::store::outcomes::Outcome;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};
use tokio::time::{Instant, sleep_until};

/// Rows per outcomes write at most.
const BATCH: usize = 5_000;

/// Writes outcomes as they come, at most `interval` after the first of a batch.
pub async fn run(
    store: Arc<Mutex<Store>>,
    mut rx: mpsc::UnboundedReceiver<Outcome>,
    interval: Duration,
) {
    let mut batch: Vec<Outcome> = Vec::new();
    let mut deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            o = rx.recv() => match o {
                Some(o) => {
                    batch.push(o);
                    deadline.get_or_insert_with(|| Instant::now() + interval);
                    if batch.len() >= BATCH {
                        write(&store, &mut batch).await;
                        deadline = None;
                    }
                }
                None => break,
            },
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                write(&store, &mut batch).await;
                deadline = None;
            }
        }
    }
    write(&store, &mut batch).await;
}

async fn write(store: &Mutex<Store>, batch: &mut Vec<Outcome>) {
    if batch.is_empty() {
        return;
    }
    if let Err(e) = store.lock().await.write_outcomes(batch).await {
        eprintln!("sim: writing {} outcomes failed: {e}", batch.len());
    }
    batch.clear();
}
