//! Which rate the capacity search tries next, from what the steps so far said: grow by
//! `factor` from `start_rate` while steps hold (never past `max_rate`), walk down by it while
//! even the first step breaks, then bisect between the highest rate that held and the lowest
//! that broke until they are within `resolution` — at most `max_steps` in all. Pure: the
//! search in `capacity.rs` runs the steps.

use sentry_load_config::CapacityConfig;
use sentry_load_reports::CapacityEnd;

/// The lowest rate the search walks down to, relative to `start_rate`.
const FLOOR_OF_START: f64 = 1e-3;
/// Rates are rounded to this many significant digits: steps read as rates an operator writes.
const DIGITS: i32 = 3;

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Run a step at this rate.
    Step(f64),
    /// The search is over.
    Done(CapacityEnd),
}

/// The search's state: the bracket so far, and the steps taken.
#[derive(Debug, Clone)]
pub struct Search {
    config: CapacityConfig,
    held: Option<f64>,
    broke: Option<f64>,
    taken: u32,
}

impl Search {
    /// A search that has taken no step.
    pub fn new(config: CapacityConfig) -> Search {
        Search {
            config,
            held: None,
            broke: None,
            taken: 0,
        }
    }

    /// The next step, or the end.
    pub fn next(&self) -> Next {
        let c = &self.config;
        if let (Some(h), Some(b)) = (self.held, self.broke)
            && (b - h) / h <= c.resolution
        {
            return Next::Done(CapacityEnd::Broke);
        }
        if self.taken >= c.max_steps {
            return Next::Done(match self.held {
                None => CapacityEnd::NeverHeld,
                Some(_) => CapacityEnd::OutOfSteps,
            });
        }
        match (self.held, self.broke) {
            (None, None) => Next::Step(round(c.start_rate)),
            (Some(h), None) => match c.max_rate {
                Some(max) if h >= max => Next::Done(CapacityEnd::HeldToMax),
                Some(max) => Next::Step(round(h * c.factor).min(max)),
                None if h * c.factor > sentry_load_config::Rate::MAX => {
                    Next::Done(CapacityEnd::HeldToMax)
                }
                None => Next::Step(round(h * c.factor)),
            },
            (None, Some(b)) => {
                let r = round(b / c.factor);
                if r < c.start_rate * FLOOR_OF_START || r <= 0.0 {
                    Next::Done(CapacityEnd::NeverHeld)
                } else {
                    Next::Step(r)
                }
            }
            (Some(h), Some(b)) => {
                let mid = round((h + b) / 2.0);
                if mid <= h || mid >= b {
                    // The bracket is as narrow as the rounding allows.
                    Next::Done(CapacityEnd::Broke)
                } else {
                    Next::Step(mid)
                }
            }
        }
    }

    /// Records a step's result.
    pub fn record(&mut self, rate: f64, held: bool) {
        self.taken += 1;
        if held {
            self.held = Some(self.held.map_or(rate, |h| h.max(rate)));
            // A break below a rate that held was the deployment's noise: search above.
            if self.broke.is_some_and(|b| b <= rate) {
                self.broke = None;
            }
        } else {
            self.broke = Some(self.broke.map_or(rate, |b| b.min(rate)));
            if self.held.is_some_and(|h| h >= rate) {
                self.held = None;
            }
        }
    }
}

/// `r` to [`DIGITS`] significant digits.
fn round(r: f64) -> f64 {
    if r <= 0.0 || !r.is_finite() {
        return r;
    }
    let scale = 10f64.powi(DIGITS - 1 - r.log10().floor() as i32);
    (r * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config(start: f64, factor: f64, resolution: f64, max_steps: u32) -> CapacityConfig {
        CapacityConfig {
            start_rate: start,
            factor,
            resolution,
            max_steps,
            ..CapacityConfig::default()
        }
    }

    /// Runs the search against a deployment that holds every rate up to `capacity`.
    fn against(mut s: Search, capacity: f64) -> (Vec<f64>, CapacityEnd, Search) {
        let mut rates = Vec::new();
        loop {
            match s.next() {
                Next::Step(r) => {
                    rates.push(r);
                    s.record(r, r <= capacity);
                }
                Next::Done(end) => return (rates, end, s),
            }
        }
    }

    #[test]
    fn it_grows_then_bisects_to_the_resolution() {
        let (rates, end, s) = against(Search::new(config(50.0, 2.0, 0.05, 16)), 333.0);
        assert_eq!(end, CapacityEnd::Broke);
        assert_eq!(&rates[..4], &[50.0, 100.0, 200.0, 400.0]);
        assert_eq!(rates[4], 300.0);
        let (h, b) = (s.held.unwrap(), s.broke.unwrap());
        assert!(h <= 333.0 && 333.0 < b && (b - h) / h <= 0.05, "{h} {b}");
    }

    #[test]
    fn it_walks_down_when_the_first_step_breaks_and_stops_at_max_rate() {
        let (rates, end, s) = against(Search::new(config(100.0, 2.0, 0.1, 16)), 30.0);
        assert_eq!(end, CapacityEnd::Broke);
        assert_eq!(&rates[..3], &[100.0, 50.0, 25.0]);
        assert!(s.held.unwrap() <= 30.0);
        let mut c = config(100.0, 2.0, 0.1, 16);
        c.max_rate = Some(300.0);
        let (rates, end, _) = against(Search::new(c), 1e9);
        assert_eq!(rates, [100.0, 200.0, 300.0]);
        assert_eq!(end, CapacityEnd::HeldToMax);
        let (_, end, _) = against(Search::new(config(100.0, 2.0, 0.1, 16)), 0.0);
        assert_eq!(end, CapacityEnd::NeverHeld);
        let (rates, end, _) = against(Search::new(config(100.0, 2.0, 0.001, 5)), 333.0);
        assert_eq!((rates.len(), end), (5, CapacityEnd::OutOfSteps));
    }

    #[test]
    fn a_break_below_a_rate_that_held_is_searched_above() {
        let mut s = Search::new(config(100.0, 2.0, 0.05, 16));
        s.record(100.0, true);
        s.record(200.0, false);
        s.record(150.0, true);
        s.record(175.0, true);
        assert_eq!(s.next(), Next::Step(188.0));
        s.record(140.0, false);
        assert_eq!((s.held, s.broke), (None, Some(140.0)));
    }

    proptest! {
        /// Against any deployment with a knee, the search ends within its steps, and when it
        /// says it broke, the knee is inside a bracket as narrow as asked.
        #[test]
        fn the_bracket_holds_the_knee(
            capacity in 0.05f64..2e6,
            start in 0.5f64..5000.0,
            factor in 1.1f64..10.0,
            resolution in 0.001f64..0.5,
            max_steps in 2u32..64,
        ) {
            let (rates, end, s) = against(
                Search::new(config(start, factor, resolution, max_steps)),
                capacity,
            );
            prop_assert!(rates.len() as u32 <= max_steps);
            prop_assert!(rates.iter().all(|r| *r > 0.0 && r.is_finite()));
            if end == CapacityEnd::Broke {
                let (h, b) = (s.held.unwrap(), s.broke.unwrap());
                prop_assert!(h <= capacity && capacity < b);
                // Within the resolution, or as close as three significant digits allow.
                prop_assert!((b - h) / h <= resolution.max(0.021), "{} {}", h, b);
            }
        }
    }
}
