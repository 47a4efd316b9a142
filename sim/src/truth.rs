//! Ground truth: every decision the sim made about every event, in order.

use serde::Serialize;
use std::sync::Mutex;
use uuid::Uuid;

/// What the sim did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Ingest answered 200 and queued it.
    Accepted,
    /// A fault rule lost it after it was accepted.
    DroppedSilently,
    /// It was written to the store.
    Stored,
    /// The store kept failing and the batch holding it was given up.
    LostByStore,
}

/// One decision about one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TruthEntry {
    /// The event.
    pub event_id: Uuid,
    /// Its project.
    pub project_id: u64,
    /// What happened.
    pub decision: Decision,
    /// When, Unix microseconds.
    pub at_micros: u64,
}

/// The log of decisions, shared by ingest and the pipeline.
#[derive(Debug, Default)]
pub struct Truth {
    entries: Mutex<Vec<TruthEntry>>,
}

impl Truth {
    /// Records a decision.
    pub fn record(&self, event_id: Uuid, project_id: u64, decision: Decision) {
        let entry = TruthEntry {
            event_id,
            project_id,
            decision,
            at_micros: sentry_load_common::clock::now_unix_micros(),
        };
        self.lock().push(entry);
    }

    /// Every decision so far.
    pub fn entries(&self) -> Vec<TruthEntry> {
        self.lock().clone()
    }

    /// The ids of events that got `decision`, in order.
    pub fn ids_with(&self, decision: Decision) -> Vec<Uuid> {
        self.lock()
            .iter()
            .filter(|e| e.decision == decision)
            .map(|e| e.event_id)
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<TruthEntry>> {
        // A panic while holding the lock leaves a valid Vec; keep going with it.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
