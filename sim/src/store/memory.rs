//! The in-memory store behind embedded runs: rows indexed by event id, issues by grouping
//! hash, queried by the read API.
//!
//! An event stored twice is seen twice until a merge, as in Snuba's tables: they are
//! `ReplacingMergeTree`s (`errors_local`: `ReplacingMergeTree(deleted)`, getsentry/snuba
//! `snuba/snuba_migrations/events/0011_rebuild_errors.py` at
//! 61009262d9a0b81ba952265a7f245e502674cef2) that keep one row per sorting key only once a
//! background merge has run, and a query without `FINAL` sees every copy until then (as
//! ClickHouse 18.16 here does too: two equal rows in one insert stay two rows until
//! `OPTIMIZE … FINAL`). The store merges a duplicate [`MemoryStore::merge_after`] after its
//! last copy was written.

use super::StoredRow;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Events and issues kept in memory.
#[derive(Debug)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
    merge_after: Duration,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::merging_after(DEFAULT_MERGE_AFTER)
    }
}

/// How long a duplicate stays visible by default: ClickHouse merges new parts within
/// seconds to minutes.
pub const DEFAULT_MERGE_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Inner {
    rows: Vec<StoredRow>,
    /// When the last copy of each id was written, for ids stored more than once.
    duplicated_at: HashMap<Uuid, Instant>,
    by_id: HashMap<Uuid, Vec<usize>>,
    groups: HashMap<(u64, Uuid), u64>,
    /// Processed events by id, for the event-details API (the first [`MAX_DETAILS`]).
    details: HashMap<Uuid, std::sync::Arc<serde_json::Value>>,
}

/// Processed events kept at most: enough for any fidelity sample, bounded for long runs.
const MAX_DETAILS: usize = 50_000;

/// A filter over stored rows, as the read API gets it.
#[derive(Debug, Default)]
pub struct RowFilter {
    /// Projects to include; empty for all.
    pub projects: Vec<u64>,
    /// Event time from, Unix seconds, inclusive.
    pub start: Option<u32>,
    /// Event time to, Unix seconds, inclusive.
    pub end: Option<u32>,
    /// Only these ids.
    pub ids: Option<Vec<Uuid>>,
    /// `(key, value)` tags every row must carry.
    pub tags: Vec<(String, String)>,
    /// Only rows of this dataset; `None` for all.
    pub dataset: Option<sentry_load_common::Dataset>,
}

impl MemoryStore {
    /// A store whose duplicates merge `merge_after` after their last copy.
    pub fn merging_after(merge_after: Duration) -> MemoryStore {
        MemoryStore {
            inner: RwLock::default(),
            merge_after,
        }
    }

    /// How long a duplicate stays visible.
    pub fn merge_after(&self) -> Duration {
        self.merge_after
    }

    /// Groups and stores a batch.
    pub fn write(&self, batch: &mut [StoredRow]) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        for row in batch.iter_mut() {
            // Transactions have no issue.
            if row.event.transaction.is_none() {
                let next = inner.groups.len() as u64 + 1;
                let key = (row.event.project_id, row.event.primary_hash);
                row.group_id = *inner.groups.entry(key).or_insert(next);
            }
            let idx = inner.rows.len();
            let copies = inner.by_id.entry(row.event.event_id).or_default();
            copies.push(idx);
            if copies.len() > 1 {
                inner
                    .duplicated_at
                    .insert(row.event.event_id, Instant::now());
            }
            if let Some(d) = row.event.details.take()
                && inner.details.len() < MAX_DETAILS
            {
                let mut d = (*d).clone();
                d["groupID"] = serde_json::json!(row.group_id.to_string());
                inner
                    .details
                    .insert(row.event.event_id, std::sync::Arc::new(d));
            }
            inner.rows.push(row.clone());
        }
    }

    /// The processed event of `event_id` in `project_id`, as the event-details API shows it.
    pub fn details(
        &self,
        project_id: u64,
        event_id: Uuid,
    ) -> Option<std::sync::Arc<serde_json::Value>> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let stored = inner.by_id.get(&event_id)?;
        if !stored
            .iter()
            .any(|&i| inner.rows[i].event.project_id == project_id)
        {
            return None;
        }
        inner.details.get(&event_id).cloned()
    }

    /// The project and processed event of `event_id`, in whichever project it was stored.
    pub fn details_by_id(
        &self,
        event_id: Uuid,
    ) -> Option<(u64, std::sync::Arc<serde_json::Value>)> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let first = *inner.by_id.get(&event_id)?.first()?;
        let project = inner.rows[first].event.project_id;
        Some((project, inner.details.get(&event_id)?.clone()))
    }

    /// Rows matching the filter, in storage order.
    pub fn find(&self, f: &RowFilter) -> Vec<StoredRow> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let keep = |r: &&StoredRow| {
            let e = &r.event;
            (f.projects.is_empty() || f.projects.contains(&e.project_id))
                && f.dataset.is_none_or(|d| d == e.dataset)
                && f.start.is_none_or(|s| e.timestamp >= s)
                && f.end.is_none_or(|t| e.timestamp <= t)
                && f.tags
                    .iter()
                    .all(|(k, v)| e.tags.iter().any(|(tk, tv)| tk == k && tv == v))
        };
        let merged = |id: &Uuid| {
            inner
                .duplicated_at
                .get(id)
                .is_some_and(|at| at.elapsed() >= self.merge_after)
        };
        match &f.ids {
            Some(ids) => {
                let mut idx: Vec<usize> = ids
                    .iter()
                    .filter_map(|id| {
                        let copies = inner.by_id.get(id)?;
                        // After a merge, one row is left: the last written.
                        Some(if merged(id) {
                            &copies[copies.len() - 1..]
                        } else {
                            &copies[..]
                        })
                    })
                    .flatten()
                    .copied()
                    .collect();
                idx.sort_unstable();
                idx.dedup();
                idx.iter()
                    .map(|&i| &inner.rows[i])
                    .filter(keep)
                    .cloned()
                    .collect()
            }
            None => inner
                .rows
                .iter()
                .enumerate()
                .filter(|(i, r)| {
                    let id = &r.event.event_id;
                    !merged(id) || inner.by_id[id].last() == Some(i)
                })
                .map(|(_, r)| r)
                .filter(keep)
                .cloned()
                .collect(),
        }
    }
}
