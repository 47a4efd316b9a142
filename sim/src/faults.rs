//! Faults the sim injects on purpose. This first cut has one: losing accepted events silently,
//! after ingest answered 200 — the worst kind of loss, the one the harness exists to catch.

use std::collections::HashSet;
use uuid::Uuid;

/// Which accepted events to lose without a trace in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DropRule {
    /// Lose nothing.
    #[default]
    None,
    /// Lose the events whose `sentry_load.seq` tag is in the set.
    Seqs(HashSet<u64>),
    /// Lose the events with these ids.
    EventIds(HashSet<Uuid>),
    /// Lose every n-th accepted event (the n-th, 2n-th, …), counted in arrival order.
    EveryNth(u64),
}

impl DropRule {
    /// Whether the `nth` accepted event (1-based) with this id and sequence tag is lost.
    pub fn drops(&self, nth: u64, event_id: Uuid, seq: Option<u64>) -> bool {
        match self {
            DropRule::None => false,
            DropRule::Seqs(seqs) => seq.is_some_and(|s| seqs.contains(&s)),
            DropRule::EventIds(ids) => ids.contains(&event_id),
            DropRule::EveryNth(n) => *n > 0 && nth.is_multiple_of(*n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_pick_the_intended_events() {
        let id = Uuid::from_u128(5);
        assert!(!DropRule::None.drops(1, id, Some(1)));
        let seqs = DropRule::Seqs([3, 4].into());
        assert!(
            seqs.drops(1, id, Some(3)) && !seqs.drops(1, id, Some(5)) && !seqs.drops(1, id, None)
        );
        assert!(DropRule::EventIds([id].into()).drops(9, id, None));
        let every = DropRule::EveryNth(3);
        let dropped: Vec<u64> = (1..=9).filter(|n| every.drops(*n, id, None)).collect();
        assert_eq!(dropped, vec![3, 6, 9]);
    }
}
