//! Ground truth: every decision the sim made about every event, in order — kept in memory for
//! tests, and written as JSON lines to a file as it happens when the sim is given one
//! (`sentry-load sim --truth FILE`), so a harness report can be checked against it.
//!
//! ```text
//! {"event_id":"9ec79c33-…","project_id":1,"decision":"accepted","at_micros":1795359339250123}
//! {"event_id":"9ec79c33-…","project_id":1,"decision":"stored","at_micros":1795359340001467}
//! ```

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
    /// Ingest answered 429 (a key quota or a scripted storm).
    RateLimited,
    /// Ingest answered 503 (the queue was full, or a scripted outage).
    Unavailable,
    /// Ingest answered 403 (a scripted rejection).
    Rejected,
    /// It was stored a second time (a scripted duplicate).
    Duplicated,
    /// It was in the queue when the sim restarted, and lost.
    LostInRestart,
    /// It was dropped after acceptance with an outcome saying why.
    Discarded,
    /// It was stored, but not as sent (a scripted mangle).
    Mangled,
    /// Ingest answered 200, then processing found the key over its quota: dropped with a
    /// `rate_limited` outcome (Relay enforces quotas late), and the limit was cached.
    RateLimitedLate,
    /// Ingest answered 200 while the key's project config was fetched, then the config said
    /// the key is unknown or disabled: dropped with `invalid:project_id`.
    InvalidKey,
    /// Its minidump was kept as an attachment (`sentry:store_crash_reports` allows it).
    CrashReportStored,
    /// Its minidump was not kept: `sentry:store_crash_reports` is off, or the issue's cap was
    /// reached (outcome `filtered:crash-report-limit`, category attachment).
    CrashReportFiltered,
    /// Its minidump was dropped by an attachment quota (outcome `rate_limited`, category
    /// attachment); the event went on.
    AttachmentRateLimited,
    /// Accepted onto a topic no consumer reads (a transaction on an errors-only install):
    /// never stored, and no outcome says so.
    NotConsumed,
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
    file: Mutex<Option<std::io::LineWriter<std::fs::File>>>,
}

impl Truth {
    /// A log that also writes to `path` (created or truncated), when given.
    pub fn open(path: Option<&std::path::Path>) -> std::io::Result<Truth> {
        let file = match path {
            Some(p) => Some(std::io::LineWriter::new(std::fs::File::create(p)?)),
            None => None,
        };
        Ok(Truth {
            entries: Mutex::default(),
            file: Mutex::new(file),
        })
    }

    /// Records a decision.
    pub fn record(&self, event_id: Uuid, project_id: u64, decision: Decision) {
        let entry = TruthEntry {
            event_id,
            project_id,
            decision,
            at_micros: sentry_load_common::clock::now_unix_micros(),
        };
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = file.as_mut()
            && let Ok(line) = serde_json::to_string(&entry)
        {
            use std::io::Write;
            // A full disk must not stop ingest; the in-memory log stays complete.
            let _ = writeln!(f, "{line}");
        }
        drop(file);
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
