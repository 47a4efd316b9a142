//! `[capacity]`: how `sentry-load capacity` searches for the highest rate of the profile's mix a
//! deployment sustains. Each step is a whole run at one constant rate, held for `hold` and read
//! back until visibility settles, judged by the profile's `[gates]` (and stopped early by
//! `[gates.abort]`). The rate grows by `factor` from `start_rate` until a step fails, then is
//! bisected between the last step that held and the first that broke until the two are within
//! `resolution` of each other.
//!
//! ```toml
//! [capacity]
//! start_rate = 50      # envelopes/s of the first step
//! factor = 2           # each step before the first failure: the last rate × factor
//! hold = "30s"         # each step sends this long (then reads back until visible)
//! resolution = 0.05    # bisect until the bracket is within 5 % of the rate that held
//! max_rate = 5000      # never offer more than this (the search then reports "held to")
//! max_steps = 16       # at most this many steps in all
//! rest = "5s"          # pause between steps, for the deployment to drain what is left
//! require = 800        # the command fails (exit 1) when less than this is sustainable
//! max_latency_growth = 0.02  # a step whose visibility latency grows faster than this
//!                            # (seconds per second of sending) is building a backlog: broke
//! ```
//!
//! The latency gates alone would let a step over capacity pass while its backlog is still
//! short: over capacity by a fraction x, each second's events wait x seconds longer than the
//! last's, so a hold of H seconds ends with about x·H of backlog. `max_latency_growth` judges
//! the slope instead, so the knee found does not depend on the hold: it is where the
//! deployment stops keeping up, to within the limit.

use crate::values::Rate;
use serde::Deserialize;
use std::time::Duration;

/// The longest hold of one step.
pub const MAX_HOLD: Duration = Duration::from_secs(3600);
/// The most steps one search may take.
pub const MAX_STEPS: u32 = 64;

/// `[capacity]`, checked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "CapacityTable")]
pub struct CapacityConfig {
    /// The first step's rate, envelopes per second.
    pub start_rate: f64,
    /// The growth of the rate from one step to the next until a step fails (above 1).
    pub factor: f64,
    /// How long each step sends.
    pub hold: Duration,
    /// The bisection stops when `(broke − held) / held` is at most this.
    pub resolution: f64,
    /// The highest rate offered.
    pub max_rate: Option<f64>,
    /// The most steps taken.
    pub max_steps: u32,
    /// The pause between one step's read-back and the next step's first send.
    pub rest: Duration,
    /// The least sustainable rate that passes the search's own gate (`capacity.require`).
    pub require: Option<f64>,
    /// The fastest growth of visibility latency a step may show and hold, seconds per second.
    pub max_latency_growth: f64,
}

impl Default for CapacityConfig {
    fn default() -> CapacityConfig {
        CapacityConfig {
            start_rate: DEFAULT_START_RATE,
            factor: DEFAULT_FACTOR,
            hold: DEFAULT_HOLD,
            resolution: DEFAULT_RESOLUTION,
            max_rate: None,
            max_steps: DEFAULT_MAX_STEPS,
            rest: Duration::ZERO,
            require: None,
            max_latency_growth: DEFAULT_MAX_LATENCY_GROWTH,
        }
    }
}

const DEFAULT_START_RATE: f64 = 10.0;
const DEFAULT_FACTOR: f64 = 2.0;
const DEFAULT_HOLD: Duration = Duration::from_secs(30);
const DEFAULT_RESOLUTION: f64 = 0.05;
const DEFAULT_MAX_STEPS: u32 = 16;
const DEFAULT_MAX_LATENCY_GROWTH: f64 = 0.02;

/// `[capacity]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CapacityTable {
    start_rate: Option<Rate>,
    factor: Option<f64>,
    #[serde(default, with = "humantime_serde")]
    hold: Option<Duration>,
    resolution: Option<f64>,
    max_rate: Option<Rate>,
    max_steps: Option<u32>,
    #[serde(default, with = "humantime_serde")]
    rest: Option<Duration>,
    require: Option<Rate>,
    max_latency_growth: Option<f64>,
}

use crate::values::shown_duration as shown;

impl TryFrom<CapacityTable> for CapacityConfig {
    type Error = String;

    fn try_from(t: CapacityTable) -> Result<CapacityConfig, String> {
        let d = CapacityConfig::default();
        let start_rate = t.start_rate.map_or(d.start_rate, Rate::per_second);
        let factor = t.factor.unwrap_or(d.factor);
        if !(factor > 1.0 && factor <= 10.0) {
            return Err(format!(
                "`factor` = {factor}: expected above 1 and at most 10 (the rate grows by it \
                 from one step to the next)"
            ));
        }
        let hold = t.hold.unwrap_or(d.hold);
        if hold < Duration::from_secs(1) || hold > MAX_HOLD {
            return Err(format!(
                "`hold` = {}: expected from 1s to {}",
                shown(hold),
                shown(MAX_HOLD)
            ));
        }
        let resolution = t.resolution.unwrap_or(d.resolution);
        if !(0.001..=0.5).contains(&resolution) {
            return Err(format!(
                "`resolution` = {resolution}: expected from 0.001 to 0.5 (the bracket's width \
                 relative to the rate that held)"
            ));
        }
        let max_rate = t.max_rate.map(Rate::per_second);
        if let Some(m) = max_rate
            && m < start_rate
        {
            return Err(format!(
                "`max_rate` = {m} is below `start_rate` = {start_rate}"
            ));
        }
        let max_steps = t.max_steps.unwrap_or(d.max_steps);
        if !(2..=MAX_STEPS).contains(&max_steps) {
            return Err(format!(
                "`max_steps` = {max_steps}: expected from 2 to {MAX_STEPS}"
            ));
        }
        let rest = t.rest.unwrap_or(d.rest);
        if rest > MAX_HOLD {
            return Err(format!(
                "`rest` = {}: expected at most {}",
                shown(rest),
                shown(MAX_HOLD)
            ));
        }
        let max_latency_growth = t.max_latency_growth.unwrap_or(d.max_latency_growth);
        if !(0.001..=1.0).contains(&max_latency_growth) {
            return Err(format!(
                "`max_latency_growth` = {max_latency_growth}: expected from 0.001 to 1 (seconds \
                 of visibility latency gained per second of sending)"
            ));
        }
        Ok(CapacityConfig {
            start_rate,
            factor,
            hold,
            resolution,
            max_rate,
            max_steps,
            rest,
            require: t.require.map(Rate::per_second),
            max_latency_growth,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CapacityConfig, String> {
        toml::from_str::<CapacityConfig>(text).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn an_empty_table_takes_the_defaults() {
        assert_eq!(parse("").unwrap(), CapacityConfig::default());
    }

    #[test]
    fn every_key_is_read() {
        let c = parse(
            "start_rate = 50\nfactor = 1.5\nhold = \"10s\"\nresolution = 0.1\n\
             max_rate = 900\nmax_steps = 9\nrest = \"2s\"\nrequire = 300",
        )
        .unwrap();
        assert_eq!(c.start_rate, 50.0);
        assert_eq!(c.factor, 1.5);
        assert_eq!(c.hold, Duration::from_secs(10));
        assert_eq!(c.resolution, 0.1);
        assert_eq!(c.max_rate, Some(900.0));
        assert_eq!(c.max_steps, 9);
        assert_eq!(c.rest, Duration::from_secs(2));
        assert_eq!(c.require, Some(300.0));
    }

    #[test]
    fn absurd_values_are_refused_with_their_key() {
        for (text, key) in [
            ("factor = 1", "factor"),
            ("factor = nan", "factor"),
            ("factor = inf", "factor"),
            ("factor = 11", "factor"),
            ("hold = \"0s\"", "hold"),
            ("hold = \"2h\"", "hold"),
            ("resolution = 0", "resolution"),
            ("resolution = 0.9", "resolution"),
            ("resolution = nan", "resolution"),
            ("start_rate = 100\nmax_rate = 50", "max_rate"),
            ("max_steps = 1", "max_steps"),
            ("max_steps = 1000", "max_steps"),
            ("rest = \"3h\"", "rest"),
            ("max_latency_growth = 0", "max_latency_growth"),
            ("max_latency_growth = nan", "max_latency_growth"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
        for text in ["start_rate = 0", "start_rate = -1", "require = 1e30"] {
            assert!(parse(text).unwrap_err().contains("invalid rate"), "{text}");
        }
        assert!(parse("steps = 3").unwrap_err().contains("steps"));
    }
}
