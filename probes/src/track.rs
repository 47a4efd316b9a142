//! One probe's samples gathered into its [`ProbeTrack`], in bounded memory: at most
//! [`MAX_SERIES`] series, each of at most [`MAX_POINTS`] points — when a series fills, each
//! pair of neighbours becomes one point at their mean time with the larger value, so a long
//! run's spikes stay on the chart.

use crate::sampler::Sampled;
use sentry_load_reports::{ProbeFailure, ProbeSeries, ProbeTrack};
use std::time::Duration;

/// Series a track keeps at most; later names are dropped.
pub const MAX_SERIES: usize = 64;
/// Points a series keeps at most.
pub const MAX_POINTS: usize = 2048;

/// A track being filled.
pub struct TrackBuilder {
    track: ProbeTrack,
}

impl TrackBuilder {
    /// An empty track.
    pub fn new(name: &str, kind: &str, target: &str, every: Duration) -> TrackBuilder {
        TrackBuilder {
            track: ProbeTrack {
                name: name.into(),
                kind: kind.into(),
                target: target.into(),
                every_secs: every.as_secs_f64(),
                samples: 0,
                failures: 0,
                first_failure: None,
                last_failure: None,
                series: Vec::new(),
            },
        }
    }

    /// Adds one sample taken `at` seconds after time zero.
    pub fn add(&mut self, at: f64, s: &Sampled) {
        let t = &mut self.track;
        t.samples += 1;
        if let Some(e) = &s.error {
            t.failures += 1;
            let f = ProbeFailure {
                at_secs: at,
                error: e.clone(),
            };
            if t.first_failure.is_none() {
                t.first_failure = Some(f.clone());
            }
            t.last_failure = Some(f);
        }
        for r in s.readings.iter().filter(|r| r.value.is_finite()) {
            let i = match t.series.iter().position(|x| x.name == r.name) {
                Some(i) => i,
                None if t.series.len() < MAX_SERIES => {
                    t.series.push(ProbeSeries {
                        name: r.name.clone(),
                        unit: r.unit.into(),
                        points: Vec::new(),
                    });
                    t.series.len() - 1
                }
                None => continue,
            };
            let points = &mut t.series[i].points;
            if points.len() >= MAX_POINTS {
                *points = points
                    .chunks(2)
                    .map(|c| match c {
                        [a, b] => ((a.0 + b.0) / 2.0, a.1.max(b.1)),
                        [a] => *a,
                        _ => unreachable!("chunks(2) yields one or two"),
                    })
                    .collect();
            }
            points.push((at, r.value));
        }
    }

    /// The track so far.
    pub fn track(&self) -> ProbeTrack {
        self.track.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::Reading;

    #[test]
    fn a_track_stays_bounded_and_keeps_its_peaks() {
        let mut b = TrackBuilder::new("p", "redis", "x", Duration::from_secs(1));
        for i in 0..10_000u32 {
            let readings = (0..100)
                .map(|s| Reading::new(format!("s{s}"), "n", if i == 7777 { 1e6 } else { 1.0 }))
                .collect();
            b.add(
                f64::from(i),
                &Sampled {
                    readings,
                    error: None,
                },
            );
        }
        let t = b.track();
        assert_eq!(t.series.len(), MAX_SERIES);
        assert!(t.series.iter().all(|s| s.points.len() <= MAX_POINTS));
        assert!(t.series[0].points.iter().any(|p| p.1 == 1e6));
        let times: Vec<f64> = t.series[0].points.iter().map(|p| p.0).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn failures_are_counted_with_the_first_and_last() {
        let mut b = TrackBuilder::new("p", "postgres", "x", Duration::from_secs(1));
        b.add(0.0, &Sampled::failed("refused".into()));
        b.add(
            1.0,
            &Sampled {
                readings: vec![Reading::new("a".into(), "n", 2.0)],
                error: None,
            },
        );
        b.add(2.0, &Sampled::failed("timeout".into()));
        let t = b.track();
        assert_eq!((t.samples, t.failures), (3, 2));
        assert_eq!(t.first_failure.unwrap().error, "refused");
        assert_eq!(t.last_failure.unwrap().error, "timeout");
        assert_eq!(t.series[0].points, [(1.0, 2.0)]);
    }
}
