//! The polling loop: intake of accepted sends, one poll per interval, stop when all are seen
//! or the straggler deadline after the last send passes.

use crate::outcome::VerifyOutcome;
use crate::source::{Explained, Lookup, Source};
use crate::tracker::{EventTable, Tracker, WINDOW_SLACK_SECS};
use sentry_load_common::clock::now_unix_micros;
use sentry_load_common::journal::JournalRecord;
use sentry_load_common::sentry_outcome::{OutcomeBearing, bearing};
use sentry_load_common::{Dataset, EventKind};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, error::TryRecvError};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior, interval};
use uuid::Uuid;

/// How long outcomes are given to arrive after the last event was seen.
const OUTCOMES_SETTLE: Duration = Duration::from_secs(2);

/// How verification runs.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// Time between polls.
    pub poll_interval: Duration,
    /// How long after the intake closes stragglers are waited for.
    pub deadline: Duration,
    /// Whether the intake is live (first-seen times then measure latency).
    pub live: bool,
}

/// Polls one source for the events it is given.
pub struct Verifier {
    source: Box<dyn Source>,
    opts: VerifyOptions,
    tracker: Tracker,
    /// Once the flag is up (the run was interrupted), stragglers are waited for at most this
    /// long after the intake closed.
    cut_short: Option<(watch::Receiver<bool>, Duration)>,
}

impl Verifier {
    /// A verifier reading `source`.
    pub fn new(source: Box<dyn Source>, opts: VerifyOptions) -> Verifier {
        Verifier {
            source,
            opts,
            tracker: Tracker::default(),
            cut_short: None,
        }
    }

    /// Waits for stragglers at most `wait` after the intake closed once `interrupted` turns
    /// true (the operator stopped the run: what was sent is read back without the full
    /// deadline).
    pub fn cut_short_by(mut self, interrupted: watch::Receiver<bool>, wait: Duration) -> Verifier {
        self.cut_short = Some((interrupted, wait));
        self
    }

    /// The straggler deadline as it stands.
    fn deadline(&self) -> Duration {
        match &self.cut_short {
            Some((flag, wait)) if *flag.borrow() => self.opts.deadline.min(*wait),
            _ => self.opts.deadline,
        }
    }

    /// Tracks an accepted send before [`Verifier::run`] starts: how a journal read after the
    /// fact is loaded without queueing every record in a channel.
    pub fn track(&mut self, r: &JournalRecord) {
        self.tracker.track(r);
    }

    /// Runs until every event from `intake` is seen after the intake closed, or until the
    /// deadline after it closed. `on_seen` is told the kinds and intended send times (Unix µs)
    /// of the events each lookup newly saw.
    pub async fn run(
        mut self,
        mut intake: UnboundedReceiver<JournalRecord>,
        on_seen: impl Fn(&[(EventKind, u64)]) + Send,
    ) -> VerifyOutcome {
        let mut tracker = std::mem::take(&mut self.tracker);
        let mut closed_at: Option<Instant> = None;
        let mut tick = interval(self.opts.poll_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let (mut polls, mut queries, mut failed) = (0u64, 0u64, 0u64);
        let mut last_error = None;
        let mut newly_seen = Vec::new();
        loop {
            tick.tick().await;
            loop {
                match intake.try_recv() {
                    Ok(r) => tracker.track(&r),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        closed_at.get_or_insert_with(Instant::now);
                        break;
                    }
                }
            }
            if closed_at.is_some() && tracker.is_done() {
                break;
            }
            if closed_at.is_some_and(|c| c.elapsed() >= self.deadline()) {
                break;
            }
            polls += 1;
            tracker.begin_poll();
            while let Some(batch) = tracker.next_batch(self.source.batch_size()) {
                queries += 1;
                let lookup = Lookup {
                    project_id: batch.project_id,
                    dataset: batch.dataset,
                    from_secs: batch.from_secs,
                    to_secs: batch.to_secs,
                    ids: &batch.ids,
                };
                match self.source.lookup(lookup).await {
                    Ok(rows) => {
                        newly_seen.clear();
                        tracker.mark_seen(&batch, &rows, now_unix_micros(), &mut newly_seen);
                        on_seen(&newly_seen);
                    }
                    Err(e) => {
                        failed += 1;
                        tracker.mark_failed(&batch);
                        last_error = Some(e.to_string());
                    }
                }
            }
            if closed_at.is_some() && tracker.is_done() {
                break;
            }
        }
        let tracked = tracker.tracked();
        let events = tracker.finish();
        // Outcomes travel apart from events (their own topic and consumer): one written at
        // the same moment as the last event may land a little later. When every event was
        // seen early, give them that time before asking, within the deadline.
        let asks = !events.missing.is_empty() || events.seen().any(|e| e.kind == EventKind::Native);
        if self.source.sees_outcomes()
            && asks
            && let Some(closed) = closed_at
        {
            let left = self.deadline().saturating_sub(closed.elapsed());
            tokio::time::sleep(left.min(OUTCOMES_SETTLE)).await;
        }
        let found = self.explain(&events, &mut queries, &mut last_error).await;
        VerifyOutcome {
            source: self.source.describe(),
            live: self.opts.live,
            poll_interval: self.opts.poll_interval,
            tracked,
            events,
            explained: found.explained,
            attachment_outcomes: found.attachments,
            outcomes_visible: self.source.sees_outcomes(),
            skipped: 0,
            polls,
            queries,
            failed_queries: failed,
            last_error,
        }
    }

    /// Asks the outcomes table why the missing events are missing, and what became of the
    /// attachments of the missing events and of the seen native crashes, in batches per
    /// project and time window. The window reaches past the deadline: an outcome is stamped
    /// when the event was dropped, which may be well after it was sent. An outcome explains a
    /// missing event only in the event's own data category: a crash's minidump outcome
    /// (`filtered:crash-report-limit`) carries the crash's event id but says nothing about
    /// the event.
    async fn explain(
        &self,
        events: &EventTable,
        queries: &mut u64,
        last_error: &mut Option<String>,
    ) -> FoundOutcomes {
        let mut found = FoundOutcomes::default();
        if !self.source.sees_outcomes() {
            return found;
        }
        let mut by_project: BTreeMap<u64, Vec<(u64, Uuid)>> = BTreeMap::new();
        let mut asked: HashMap<Uuid, (EventKind, bool)> = HashMap::new();
        let crashes = events
            .seen()
            .filter(|e| e.kind == EventKind::Native)
            .map(|e| (e.project_id, e.intended_micros, e.event_id, e.kind, false));
        let missing = events
            .missing
            .iter()
            .map(|m| (m.project_id, m.intended_micros, m.event_id, m.kind, true));
        for (project, intended, id, kind, is_missing) in missing.chain(crashes) {
            by_project.entry(project).or_default().push((intended, id));
            asked.insert(id, (kind, is_missing));
        }
        let slack = WINDOW_SLACK_SECS + self.opts.deadline.as_secs();
        let mut explained: HashMap<Uuid, Explained> = HashMap::new();
        for (project_id, mut ids) in by_project {
            ids.sort_unstable();
            for chunk in ids.chunks(self.source.batch_size().max(1)) {
                let ids: Vec<Uuid> = chunk.iter().map(|(_, id)| *id).collect();
                let lookup = Lookup {
                    project_id,
                    dataset: Dataset::Errors,
                    from_secs: (chunk[0].0 / 1_000_000).saturating_sub(WINDOW_SLACK_SECS),
                    to_secs: chunk[chunk.len() - 1].0 / 1_000_000 + slack,
                    ids: &ids,
                };
                *queries += 1;
                let rows = match self.source.outcomes(lookup).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        *last_error = Some(e.to_string());
                        continue;
                    }
                };
                for row in rows {
                    let Some(&(kind, is_missing)) = asked.get(&row.event_id) else {
                        continue;
                    };
                    match bearing(kind, row.category) {
                        OutcomeBearing::Event if is_missing => {
                            explained.entry(row.event_id).or_insert(row);
                        }
                        OutcomeBearing::Attachment => found.attachments.push(row),
                        OutcomeBearing::Event | OutcomeBearing::Other => {}
                    }
                }
            }
        }
        found.explained = explained.into_values().collect();
        found.explained.sort_unstable_by_key(|e| e.event_id);
        found
    }
}

/// What the outcomes table said, split by what each outcome is about.
#[derive(Default)]
struct FoundOutcomes {
    /// One outcome per missing event, in the event's own category.
    explained: Vec<Explained>,
    /// Outcomes of attachments (of missing events and of seen native crashes).
    attachments: Vec<Explained>,
}

#[cfg(test)]
#[path = "verifier_tests.rs"]
mod tests;
