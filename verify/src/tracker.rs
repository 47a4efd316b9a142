//! The set of events still to be seen, and the batches to ask for them in.

use crate::outcome::{MissingEvent, SeenEvent};
use crate::source::Sighting;
use sentry_load_common::Dataset;
use sentry_load_common::journal::JournalRecord;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Slack on each side of a batch's event-time window, for clock skew between the harness and
/// the target (Relay keeps the client's timestamp unless it is far off).
pub const WINDOW_SLACK_SECS: u64 = 120;

#[derive(Debug, Clone, Copy)]
struct Pending {
    seq: u64,
    project_id: u64,
    dataset: Dataset,
    intended_micros: u64,
    /// Whether the last lookup that asked for it failed.
    lookup_failed: bool,
}

/// One query's worth of pending events.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Their project.
    pub project_id: u64,
    /// Where they are stored.
    pub dataset: Dataset,
    /// Earliest event time minus slack, Unix seconds.
    pub from_secs: u64,
    /// Latest event time plus slack, Unix seconds.
    pub to_secs: u64,
    /// Their ids.
    pub ids: Vec<Uuid>,
}

/// Pending and seen events.
#[derive(Debug, Default)]
pub struct Tracker {
    pending: HashMap<Uuid, Pending>,
    seen: Vec<SeenEvent>,
    tracked: u64,
}

impl Tracker {
    /// Starts tracking an accepted send.
    pub fn track(&mut self, r: &JournalRecord) {
        let fresh = self
            .pending
            .insert(
                r.event_id,
                Pending {
                    seq: r.seq,
                    project_id: r.project_id,
                    dataset: r.kind.dataset(),
                    intended_micros: r.intended_micros,
                    lookup_failed: false,
                },
            )
            .is_none();
        if fresh {
            self.tracked += 1;
        }
    }

    /// Whether nothing is pending.
    pub fn is_done(&self) -> bool {
        self.pending.is_empty()
    }

    /// The pending events in batches of at most `size`, per project and dataset, in
    /// event-time order so each batch's window is narrow.
    pub fn batches(&self, size: usize) -> Vec<Batch> {
        let mut by_project: BTreeMap<(u64, Dataset), Vec<(u64, Uuid)>> = BTreeMap::new();
        for (id, p) in &self.pending {
            by_project
                .entry((p.project_id, p.dataset))
                .or_default()
                .push((p.intended_micros, *id));
        }
        let mut out = Vec::new();
        for ((project_id, dataset), mut events) in by_project {
            events.sort_unstable();
            for chunk in events.chunks(size.max(1)) {
                let first = chunk[0].0 / 1_000_000;
                let last = chunk[chunk.len() - 1].0 / 1_000_000;
                out.push(Batch {
                    project_id,
                    dataset,
                    from_secs: first.saturating_sub(WINDOW_SLACK_SECS),
                    to_secs: last + WINDOW_SLACK_SECS + 1,
                    ids: chunk.iter().map(|(_, id)| *id).collect(),
                });
            }
        }
        out
    }

    /// Marks sightings as seen at `seen_micros`; returns how many events were newly seen.
    /// Sightings of ids not pending (already seen, or never sent) are ignored.
    pub fn mark_seen(&mut self, sightings: &[Sighting], seen_micros: u64) -> u64 {
        let mut rows: HashMap<Uuid, (u32, &Sighting)> = HashMap::new();
        for s in sightings {
            rows.entry(s.event_id).or_insert((0, s)).0 += 1;
        }
        let mut newly = 0;
        for (id, (count, s)) in rows {
            if let Some(p) = self.pending.remove(&id) {
                newly += 1;
                self.seen.push(SeenEvent {
                    event_id: id,
                    seq: p.seq,
                    project_id: p.project_id,
                    intended_micros: p.intended_micros,
                    seen_micros,
                    received: s.received,
                    message_timestamp: s.message_timestamp,
                    group_id: s.group_id,
                    rows: count,
                });
            }
        }
        newly
    }

    /// Records whether the lookup for these (still pending) ids failed.
    pub fn set_lookup_failed(&mut self, ids: &[Uuid], failed: bool) {
        for id in ids {
            if let Some(p) = self.pending.get_mut(id) {
                p.lookup_failed = failed;
            }
        }
    }

    /// How many events were tracked.
    pub fn tracked(&self) -> u64 {
        self.tracked
    }

    /// Ends tracking: the seen events; the pending ones the source answered for (missing);
    /// and the pending ones whose last lookup failed (unverified) — each by sequence number.
    pub fn finish(self) -> (Vec<SeenEvent>, Vec<MissingEvent>, Vec<MissingEvent>) {
        let (mut missing, mut unverified) = (Vec::new(), Vec::new());
        for (event_id, p) in self.pending {
            let m = MissingEvent {
                event_id,
                seq: p.seq,
                project_id: p.project_id,
                intended_micros: p.intended_micros,
            };
            if p.lookup_failed {
                unverified.push(m)
            } else {
                missing.push(m)
            }
        }
        missing.sort_unstable_by_key(|m| m.seq);
        unverified.sort_unstable_by_key(|m| m.seq);
        (self.seen, missing, unverified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An accepted send of `project_id`, meant for `secs` (Unix seconds).
    fn rec(seq: u64, project_id: u64, secs: u64) -> JournalRecord {
        JournalRecord {
            project_id,
            intended_micros: secs * 1_000_000,
            ..JournalRecord::fixture(seq)
        }
    }

    #[test]
    fn events_whose_last_lookup_failed_are_unverified_not_missing() {
        let mut t = Tracker::default();
        for s in 0..3 {
            t.track(&rec(s, 1, 10));
        }
        let ids = |seqs: &[u128]| {
            seqs.iter()
                .map(|s| Uuid::from_u128(s + 1))
                .collect::<Vec<_>>()
        };
        t.set_lookup_failed(&ids(&[0, 1]), true);
        t.set_lookup_failed(&ids(&[1]), false);
        let (_, missing, unverified) = t.finish();
        assert_eq!(missing.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(unverified.iter().map(|m| m.seq).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn batches_split_by_project_and_size_with_narrow_windows() {
        let mut t = Tracker::default();
        for s in 0..5 {
            t.track(&rec(s, 1, 1000 + s));
        }
        t.track(&rec(9, 2, 5000));
        let b = t.batches(2);
        assert_eq!(b.len(), 4);
        assert_eq!((b[0].project_id, b[0].ids.len()), (1, 2));
        assert_eq!(b[0].from_secs, 1000 - WINDOW_SLACK_SECS);
        assert_eq!(b[0].to_secs, 1001 + WINDOW_SLACK_SECS + 1);
        assert_eq!(
            (b[3].project_id, b[3].from_secs),
            (2, 5000 - WINDOW_SLACK_SECS)
        );
    }

    #[test]
    fn seen_once_duplicates_counted_unknown_ignored() {
        let mut t = Tracker::default();
        t.track(&rec(0, 1, 10));
        t.track(&rec(1, 1, 10));
        let s = |seq: u128| Sighting {
            event_id: Uuid::from_u128(seq + 1),
            received: Some(11),
            message_timestamp: Some(12),
            group_id: Some(3),
        };
        assert_eq!(t.mark_seen(&[s(0), s(0), s(7)], 99), 1);
        assert_eq!(t.mark_seen(&[s(0)], 100), 0);
        let (seen, missing, unverified) = t.finish();
        assert!(unverified.is_empty());
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].rows, seen[0].seen_micros), (2, 99));
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].seq, 1);
    }
}
