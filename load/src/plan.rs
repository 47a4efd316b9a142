//! The one schedule type every profile and CLI override compiles to: phases of constant rate,
//! walked as absolute offsets from time zero (`offset_i = phase_start + i / rate`).

use sentry_load_common::EventKind;
use std::time::Duration;

/// A stretch of the schedule at one rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// Envelopes per second.
    pub rate: f64,
    /// How long the phase lasts.
    pub duration: Duration,
    /// What the phase sends.
    pub kind: EventKind,
}

/// One planned send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Sequence number, from 0, over the whole run.
    pub seq: u64,
    /// When it is due, from the run's time zero.
    pub offset: Duration,
    /// What it sends.
    pub kind: EventKind,
}

/// The whole schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    phases: Vec<Phase>,
}

impl Plan {
    /// A plan of the given phases, run one after another.
    pub fn new(phases: Vec<Phase>) -> Plan {
        Plan { phases }
    }

    /// The phases.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// How long the schedule runs.
    pub fn duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// How many sends it plans.
    pub fn total(&self) -> u64 {
        self.phases.iter().map(phase_count).sum()
    }

    /// The mean planned rate over the whole schedule.
    pub fn mean_rate(&self) -> f64 {
        let secs = self.duration().as_secs_f64();
        if secs > 0.0 {
            self.total() as f64 / secs
        } else {
            0.0
        }
    }

    /// Every planned send, in order.
    pub fn arrivals(&self) -> impl Iterator<Item = Arrival> + '_ {
        let mut seq = 0u64;
        let mut start = Duration::ZERO;
        self.phases.iter().flat_map(move |p| {
            let phase_start = start;
            start += p.duration;
            let first = seq;
            let n = phase_count(p);
            seq += n;
            (0..n).map(move |i| Arrival {
                seq: first + i,
                offset: phase_start + Duration::from_secs_f64(i as f64 / p.rate),
                kind: p.kind,
            })
        })
    }
}

fn phase_count(p: &Phase) -> u64 {
    // Rounded so that 3 s at 1/3 per second plans exactly 1, not 0.9999.
    (p.rate * p.duration.as_secs_f64() + 1e-9).floor() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_offsets_are_absolute_and_complete() {
        let plan = Plan::new(vec![Phase {
            rate: 1000.0,
            duration: Duration::from_secs(60),
            kind: EventKind::Error,
        }]);
        assert_eq!(plan.total(), 60_000);
        let all: Vec<_> = plan.arrivals().collect();
        assert_eq!(all.len(), 60_000);
        assert_eq!(all[0].offset, Duration::ZERO);
        // No drift: the last offset is exactly (n-1)/rate, not a sum of rounded intervals.
        assert_eq!(
            all[59_999].offset,
            Duration::from_secs_f64(59_999.0 / 1000.0)
        );
        assert!(all.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    }

    #[test]
    fn phases_follow_each_other() {
        let plan = Plan::new(vec![
            Phase {
                rate: 10.0,
                duration: Duration::from_secs(1),
                kind: EventKind::Error,
            },
            Phase {
                rate: 2.0,
                duration: Duration::from_secs(2),
                kind: EventKind::Error,
            },
        ]);
        let offsets: Vec<f64> = plan.arrivals().map(|a| a.offset.as_secs_f64()).collect();
        assert_eq!(offsets.len(), 14);
        assert!((offsets[10] - 1.0).abs() < 1e-9);
        assert!((offsets[13] - 2.5).abs() < 1e-9);
        assert!((plan.mean_rate() - 14.0 / 3.0).abs() < 1e-9);
    }
}
