//! Whether two runs can be put side by side figure for figure: the same seed (so the same
//! events), the same schedule and the same mix. `compare` and the baseline gates still compute
//! across runs that differ, and say how they differ.

use crate::model::Report;
use std::collections::BTreeSet;

/// A kind's share of the sends may differ this much (absolute) before the mixes differ: a
/// Poisson schedule or a shard draws kinds at random.
const MIX_TOLERANCE: f64 = 0.02;

/// How `other` differs from `reference` in what makes runs comparable; empty when it does not.
pub fn differences(reference: &Report, other: &Report) -> Vec<String> {
    let mut out = Vec::new();
    if reference.run.seed != other.run.seed {
        out.push(format!(
            "seed {} vs {} (different events)",
            other.run.seed, reference.run.seed
        ));
    }
    let (a, b) = (&reference.schedule, &other.schedule);
    let differs = |x: f64, y: f64| (x - y).abs() > 1e-3 * x.abs().max(y.abs()).max(1.0);
    if a.planned != b.planned
        || differs(a.target_rate, b.target_rate)
        || differs(a.duration_secs, b.duration_secs)
    {
        out.push(format!(
            "schedule {} over {:.0} s at {:.1}/s vs {} over {:.0} s at {:.1}/s",
            b.planned, b.duration_secs, b.target_rate, a.planned, a.duration_secs, a.target_rate
        ));
    }
    let kinds: BTreeSet<&String> = reference.kinds.keys().chain(other.kinds.keys()).collect();
    let share = |r: &Report, k: &str| {
        let total: u64 = r.kinds.values().map(|s| s.records).sum();
        r.kinds
            .get(k)
            .map_or(0.0, |s| s.records as f64 / total.max(1) as f64)
    };
    let mixed = kinds
        .iter()
        .any(|k| (share(reference, k) - share(other, k)).abs() > MIX_TOLERANCE);
    if mixed {
        let shown = |r: &Report| {
            kinds
                .iter()
                .map(|k| format!("{k} {}", sentry_load_common::Percent::of(share(r, k))))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push(format!("mix {} vs {}", shown(other), shown(reference)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(seed: u64, planned: u64, kinds: &[(&str, u64)]) -> Report {
        let mut r: Report = serde_json::from_str(include_str!("../tests/fixtures/report.json"))
            .expect("the fixture report parses");
        r.run.seed = seed;
        r.schedule.planned = planned;
        r.kinds.clear();
        for (k, n) in kinds {
            r.kinds.insert(
                (*k).to_owned(),
                crate::model::KindSection {
                    records: *n,
                    ..Default::default()
                },
            );
        }
        r
    }

    #[test]
    fn the_same_seed_schedule_and_mix_are_comparable() {
        let a = report(7, 600, &[("error", 300), ("transaction", 300)]);
        let b = report(7, 600, &[("error", 305), ("transaction", 295)]);
        assert!(differences(&a, &b).is_empty(), "{:?}", differences(&a, &b));
    }

    #[test]
    fn a_different_seed_schedule_or_mix_is_named() {
        let a = report(7, 600, &[("error", 300), ("transaction", 300)]);
        let b = report(8, 900, &[("error", 900)]);
        let d = differences(&a, &b);
        assert_eq!(d.len(), 3, "{d:?}");
        assert_eq!(d[0], "seed 8 vs 7 (different events)");
        assert!(d[1].starts_with("schedule 900 over"), "{}", d[1]);
        assert_eq!(
            d[2],
            "mix error 100.0 %, transaction 0 % vs error 50.0 %, transaction 50.0 %"
        );
    }
}
