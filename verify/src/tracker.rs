//! The table of accepted events being verified, and the batches to ask for them in.
//!
//! One fixed 48-byte entry per tracked event, stored in fixed-size chunks so the table never
//! holds spare capacity beyond its last chunk and never reallocates. A 1,000,000-event run
//! costs about 48 MB; batches are cut lazily, one query at a time, so a poll allocates only
//! the batch it is asking for.

use crate::outcome::{MissingEvent, SeenEvent};
use crate::source::Sighting;
use sentry_load_common::journal::JournalRecord;
use sentry_load_common::{Dataset, EventKind};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// Slack on each side of a batch's event-time window, for clock skew between the harness and
/// the target (Relay keeps the client's timestamp unless it is far off).
pub const WINDOW_SLACK_SECS: u64 = 120;

/// Entries per chunk (3 MiB: large enough that the allocator's per-allocation overhead is
/// negligible; pages of a chunk count only once they are written).
const CHUNK: usize = 1 << 16;
/// `seen_after_ms` of an entry not seen yet.
const NOT_SEEN: u32 = u32::MAX;
/// `state`: the last lookup that asked for the entry failed.
const LOOKUP_FAILED: u8 = 1;
/// `state`: already asked for in the current poll.
const ASKED: u8 = 2;
/// `state`: the rows the source returned for the entry, saturating at 63, in the upper bits.
const ROWS_SHIFT: u8 = 2;
const ROWS_MAX: u32 = 63;

/// One tracked event. Field order keeps it at 48 bytes.
#[derive(Debug, Clone, Copy)]
struct Entry {
    event_id: Uuid,
    seq: u64,
    intended_micros: u64,
    /// First seen, ms after the intended send time ([`NOT_SEEN`] until then).
    seen_after_ms: u32,
    /// Relay's `received`, Unix seconds; 0 when unknown.
    received: u32,
    /// `message_timestamp`, Unix seconds; 0 when unknown.
    message_timestamp: u32,
    /// Index into the tracker's projects.
    project: u16,
    kind: EventKind,
    /// [`LOOKUP_FAILED`], [`ASKED`], and the row count above [`ROWS_SHIFT`].
    state: u8,
}

const _: () = assert!(std::mem::size_of::<Entry>() == 48);

impl Entry {
    fn pending(&self) -> bool {
        self.seen_after_ms == NOT_SEEN
    }

    fn key(&self) -> (u16, Dataset) {
        (self.project, self.kind.dataset())
    }

    fn rows(&self) -> u32 {
        u32::from(self.state >> ROWS_SHIFT)
    }
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
    /// Their places in the table, in the order of `ids`.
    slots: Vec<usize>,
}

/// Tracked events, seen or pending.
#[derive(Debug, Default)]
pub struct Tracker {
    chunks: Vec<Vec<Entry>>,
    /// The projects entries point into.
    projects: Vec<u64>,
    len: usize,
    pending: usize,
    /// Every entry before this one is seen.
    first_pending: usize,
    /// Within a poll: every entry before this one is seen or already asked for.
    cursor: usize,
    /// Distinct issues of the seen events, per project.
    groups: BTreeMap<u64, BTreeSet<u64>>,
    /// The issue of each seen native crash (few per run): the crash-report check counts
    /// crashes per issue.
    crash_groups: HashMap<Uuid, u64>,
}

impl Tracker {
    /// Starts tracking an accepted send (one record per sequence number).
    pub fn track(&mut self, r: &JournalRecord) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let project = match self.projects.iter().position(|p| *p == r.project_id) {
            Some(i) => i,
            None => {
                self.projects.push(r.project_id);
                self.projects.len() - 1
            }
        };
        let project = u16::try_from(project).expect("a run sends to at most 65,536 projects");
        self.chunks.last_mut().expect("pushed above").push(Entry {
            event_id: r.event_id,
            seq: r.seq,
            intended_micros: r.intended_micros,
            seen_after_ms: NOT_SEEN,
            received: 0,
            message_timestamp: 0,
            project,
            kind: r.kind,
            state: 0,
        });
        self.len += 1;
        self.pending += 1;
    }

    fn at(&self, i: usize) -> &Entry {
        &self.chunks[i / CHUNK][i % CHUNK]
    }

    fn at_mut(&mut self, i: usize) -> &mut Entry {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.chunks.iter().flatten()
    }

    /// Whether nothing is pending.
    pub fn is_done(&self) -> bool {
        self.pending == 0
    }

    /// Starts a poll: every pending event is to be asked for once by [`Tracker::next_batch`].
    pub fn begin_poll(&mut self) {
        while self.first_pending < self.len && !self.at(self.first_pending).pending() {
            self.first_pending += 1;
        }
        for i in self.first_pending..self.len {
            self.at_mut(i).state &= !ASKED;
        }
        self.cursor = self.first_pending;
    }

    /// The next batch of at most `size` pending events of one project and dataset not yet
    /// asked for in this poll, in table (event-time) order; `None` when the poll is complete.
    pub fn next_batch(&mut self, size: usize) -> Option<Batch> {
        let unasked = |e: &Entry| e.pending() && e.state & ASKED == 0;
        let mut i = self.cursor;
        while i < self.len && !unasked(self.at(i)) {
            i += 1;
        }
        self.cursor = i;
        if i == self.len {
            return None;
        }
        let key = self.at(i).key();
        let (mut from, mut to) = (u64::MAX, 0);
        let (mut ids, mut slots) = (Vec::new(), Vec::new());
        while i < self.len && ids.len() < size.max(1) {
            let e = self.at_mut(i);
            if unasked(e) && e.key() == key {
                e.state |= ASKED;
                let secs = e.intended_micros / 1_000_000;
                (from, to) = (from.min(secs), to.max(secs));
                ids.push(e.event_id);
                slots.push(i);
            }
            i += 1;
        }
        Some(Batch {
            project_id: self.projects[usize::from(key.0)],
            dataset: key.1,
            from_secs: from.saturating_sub(WINDOW_SLACK_SECS),
            to_secs: to + WINDOW_SLACK_SECS + 1,
            ids,
            slots,
        })
    }

    /// Marks the batch's sightings as seen at `seen_micros`, and the batch's lookup as
    /// succeeded; returns how many events were newly seen, and appends their kinds and
    /// intended send times to `newly_seen`. Sightings of ids the batch did not ask for are ignored.
    pub fn mark_seen(
        &mut self,
        batch: &Batch,
        sightings: &[Sighting],
        seen_micros: u64,
        newly_seen: &mut Vec<(EventKind, u64)>,
    ) -> u64 {
        let mut rows: HashMap<Uuid, (u32, &Sighting)> = HashMap::new();
        for s in sightings {
            rows.entry(s.event_id).or_insert((0, s)).0 += 1;
        }
        let mut newly = 0;
        for (id, &slot) in batch.ids.iter().zip(&batch.slots) {
            let Some((count, s)) = rows.get(id) else {
                self.at_mut(slot).state &= !LOOKUP_FAILED;
                continue;
            };
            let e = self.at_mut(slot);
            if !e.pending() {
                continue;
            }
            newly_seen.push((e.kind, e.intended_micros));
            let after_ms = seen_micros.saturating_sub(e.intended_micros) / 1000;
            e.seen_after_ms = after_ms.min(u64::from(NOT_SEEN - 1)) as u32;
            e.received = s.received.unwrap_or(0);
            e.message_timestamp = s.message_timestamp.unwrap_or(0);
            e.state = ((*count).min(ROWS_MAX) as u8) << ROWS_SHIFT;
            let project = usize::from(e.project);
            let native = e.kind == EventKind::Native;
            newly += 1;
            if let Some(g) = s.group_id {
                if native {
                    self.crash_groups.insert(*id, g);
                }
                let project = self.projects[project];
                self.groups.entry(project).or_default().insert(g);
            }
        }
        self.pending -= newly as usize;
        newly
    }

    /// Records that the batch's lookup failed: its events stay pending, and count as
    /// unverified if it is the last word on them.
    pub fn mark_failed(&mut self, batch: &Batch) {
        for &slot in &batch.slots {
            self.at_mut(slot).state |= LOOKUP_FAILED;
        }
    }

    /// How many events were tracked.
    pub fn tracked(&self) -> u64 {
        self.len as u64
    }

    /// Ends tracking: the table of events, with the pending ones split into missing (the
    /// source answered for them) and unverified (their last lookup failed), by sequence
    /// number.
    pub fn finish(self) -> EventTable {
        let (mut missing, mut unverified) = (Vec::new(), Vec::new());
        for e in self.entries().filter(|e| e.pending()) {
            let m = MissingEvent {
                event_id: e.event_id,
                seq: e.seq,
                kind: e.kind,
                project_id: self.projects[usize::from(e.project)],
                intended_micros: e.intended_micros,
            };
            if e.state & LOOKUP_FAILED != 0 {
                unverified.push(m)
            } else {
                missing.push(m)
            }
        }
        missing.sort_unstable_by_key(|m| m.seq);
        unverified.sort_unstable_by_key(|m| m.seq);
        EventTable {
            seen: self.len - self.pending,
            tracker: self,
            missing,
            unverified,
        }
    }
}

/// What tracking ended with: every tracked event, seen or not.
#[derive(Debug, Default)]
pub struct EventTable {
    tracker: Tracker,
    seen: usize,
    /// Never seen although the source answered for them, by sequence number.
    pub missing: Vec<MissingEvent>,
    /// Never seen, and the last lookup failed, by sequence number.
    pub unverified: Vec<MissingEvent>,
}

impl EventTable {
    /// The seen events, in table order.
    pub fn seen(&self) -> impl Iterator<Item = SeenEvent> + '_ {
        self.tracker
            .entries()
            .filter(|e| !e.pending())
            .map(|e| SeenEvent {
                event_id: e.event_id,
                seq: e.seq,
                kind: e.kind,
                project_id: self.tracker.projects[usize::from(e.project)],
                intended_micros: e.intended_micros,
                seen_micros: e.intended_micros + u64::from(e.seen_after_ms) * 1000,
                received: (e.received != 0).then_some(e.received),
                message_timestamp: (e.message_timestamp != 0).then_some(e.message_timestamp),
                rows: e.rows(),
            })
    }

    /// How many were seen.
    pub fn seen_count(&self) -> usize {
        self.seen
    }

    /// Distinct issues the seen events were grouped into, per project.
    pub fn groups(&self) -> &BTreeMap<u64, BTreeSet<u64>> {
        &self.tracker.groups
    }

    /// The issue a seen native crash was grouped into, where the source said.
    pub fn crash_group(&self, event_id: Uuid) -> Option<u64> {
        self.tracker.crash_groups.get(&event_id).copied()
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

    fn all_batches(t: &mut Tracker, size: usize) -> Vec<Batch> {
        t.begin_poll();
        std::iter::from_fn(|| t.next_batch(size)).collect()
    }

    fn sighting(seq: u128) -> Sighting {
        Sighting {
            event_id: Uuid::from_u128(seq + 1),
            received: Some(11),
            message_timestamp: Some(12),
            group_id: Some(3),
        }
    }

    #[test]
    fn events_whose_last_lookup_failed_are_unverified_not_missing() {
        let mut t = Tracker::default();
        for s in 0..3 {
            t.track(&rec(s, 1, 10));
        }
        let b = all_batches(&mut t, 2);
        t.mark_failed(&b[0]);
        t.mark_failed(&b[1]);
        let b = all_batches(&mut t, 2);
        t.mark_seen(&b[0], &[], 1, &mut Vec::new());
        let table = t.finish();
        assert_eq!(
            table.missing.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(
            table.unverified.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [2]
        );
    }

    #[test]
    fn batches_split_by_project_and_size_with_narrow_windows() {
        let mut t = Tracker::default();
        for s in 0..5 {
            t.track(&rec(s, 1, 1000 + s));
        }
        t.track(&rec(9, 2, 5000));
        let b = all_batches(&mut t, 2);
        assert_eq!(b.len(), 4);
        assert_eq!((b[0].project_id, b[0].ids.len()), (1, 2));
        assert_eq!(b[0].from_secs, 1000 - WINDOW_SLACK_SECS);
        assert_eq!(b[0].to_secs, 1001 + WINDOW_SLACK_SECS + 1);
        assert_eq!(
            (b[3].project_id, b[3].from_secs),
            (2, 5000 - WINDOW_SLACK_SECS)
        );
        // The next poll asks for all of them again; none twice within a poll.
        assert_eq!(all_batches(&mut t, 100).len(), 2);
    }

    #[test]
    fn interleaved_projects_are_each_asked_once_per_poll() {
        let mut t = Tracker::default();
        for s in 0..100 {
            t.track(&rec(s, 1 + s % 3, 1000 + s));
        }
        let b = all_batches(&mut t, 7);
        let mut asked: Vec<Uuid> = b.iter().flat_map(|b| b.ids.clone()).collect();
        assert!(b.iter().all(|b| b.ids.len() <= 7));
        asked.sort();
        asked.dedup();
        assert_eq!(asked.len(), 100);
        assert_eq!(b.iter().map(|b| b.ids.len()).sum::<usize>(), 100);
    }

    #[test]
    fn seen_once_duplicates_counted_unknown_ignored() {
        let mut t = Tracker::default();
        t.track(&rec(0, 1, 10));
        t.track(&rec(1, 1, 10));
        let b = all_batches(&mut t, 10);
        assert_eq!(
            t.mark_seen(
                &b[0],
                &[sighting(0), sighting(0), sighting(7)],
                10_099_000,
                &mut Vec::new()
            ),
            1
        );
        assert_eq!(
            t.mark_seen(&b[0], &[sighting(0)], 10_100_000, &mut Vec::new()),
            0
        );
        // Tracked later, during a poll: asked for within the same poll.
        t.track(&rec(2, 1, 11));
        assert_eq!(t.next_batch(10).map(|b| b.ids.len()), Some(1));
        let table = t.finish();
        assert!(table.unverified.is_empty());
        let seen: Vec<SeenEvent> = table.seen().collect();
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].rows, seen[0].seen_micros), (2, 10_099_000));
        assert_eq!(
            table.missing.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(table.groups()[&1], BTreeSet::from([3]));
    }
}
