//! The one schedule type every profile and CLI override compiles to.
//!
//! A plan is a piecewise-linear rate curve (segments that hold or ramp) plus an arrival
//! process. Its cumulative curve `N(t)` — the arrivals expected by time `t` — places every
//! arrival: uniform arrivals at `N(t) = 0, 1, 2, …`; Poisson arrivals at `N(t) = E₁, E₁+E₂, …`
//! with `Eᵢ ~ Exp(1)` (time-rescaling, so ramps work the same way). Offsets are absolute
//! (computed from time zero, never by adding intervals), so nothing drifts however long the
//! run, and the iterator is lazy, so memory is flat.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sentry_load_common::EventKind;
use sentry_load_config::{ArrivalProcess, KindMix, TrafficConfig};
use std::time::Duration;

/// Why a schedule cannot be made of a profile's `[traffic]` and the command line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// Neither the profile nor `--rate` gives a rate.
    #[error("the profile has no rate")]
    NoRate,
    /// `--rate` is not a rate.
    #[error("--rate {0}: expected events per second above 0 and at most {max}", max = sentry_load_config::Rate::MAX)]
    Rate(f64),
    /// The schedule would run longer than any run may.
    #[error("{0} is longer than the longest schedule a run takes ({max})", max = humantime::format_duration(sentry_load_config::MAX_SCHEDULE))]
    TooLong(String),
    /// Neither the profile nor `--duration` says how long (or how many).
    #[error("the profile has no duration or count")]
    NoDuration,
    /// `--rate` or `--duration` given for a staged profile.
    #[error(
        "--rate and --duration override a constant-rate profile; this one has [[traffic.stages]]"
    )]
    OverridesStages,
}

/// A stretch of the schedule whose rate moves linearly from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// How long it lasts.
    pub duration: Duration,
    /// Envelopes per second at its start.
    pub from: f64,
    /// Envelopes per second at its end.
    pub to: f64,
}

impl Phase {
    /// A constant rate.
    pub fn hold(rate: f64, duration: Duration) -> Phase {
        Phase {
            duration,
            from: rate,
            to: rate,
        }
    }

    /// Arrivals expected over the phase.
    pub fn expected(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.duration.as_secs_f64()
    }

    /// The time (seconds from the phase's start) by which `x` arrivals are expected.
    fn invert(&self, x: f64) -> f64 {
        let t_max = self.duration.as_secs_f64();
        if x <= 0.0 {
            return 0.0;
        }
        let slope = (self.to - self.from) / t_max;
        let t = if slope.abs() < 1e-12 {
            x / self.from
        } else {
            // Solves from·t + slope·t²/2 = x in the cancellation-free form.
            let (a, b) = (slope / 2.0, self.from);
            2.0 * x / (b + (b * b + 4.0 * a * x).max(0.0).sqrt())
        };
        t.clamp(0.0, t_max)
    }
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
    process: ArrivalProcess,
    /// Stop after this many arrivals (the `count` form); the last phase's rate then continues
    /// past its end if a Poisson process has not produced them all yet.
    limit: Option<u64>,
    kinds: Vec<(EventKind, f64)>,
    seed: u64,
    shard: Shard,
}

/// This process's share of a run that several processes generate together: the arrivals
/// whose sequence number is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based.
    pub index: u64,
    /// How many shards there are.
    pub count: u64,
}

impl Shard {
    /// The whole run.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `i/n` with `0 ≤ i < n`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("invalid shard `{s}`: expected i/n with 0 ≤ i < n, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index = i.trim().parse().map_err(|_| bad())?;
        let count = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether sequence number `seq` is this shard's.
    pub fn owns(self, seq: u64) -> bool {
        seq % self.count == self.index
    }

    /// How many of the sequence numbers `0..total` are this shard's.
    pub fn share_of(self, total: u64) -> u64 {
        if total > self.index {
            (total - self.index).div_ceil(self.count)
        } else {
            0
        }
    }
}

/// Command-line overrides of a constant-rate profile.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    /// `--rate`.
    pub rate: Option<f64>,
    /// `--duration`.
    pub duration: Option<Duration>,
    /// Hold `rate` for `duration` in place of the profile's `[[traffic.stages]]` (a capacity
    /// search's step); without it, overriding a staged profile is refused.
    pub instead_of_stages: bool,
}

impl Plan {
    /// A plan of phases, uniform arrivals, errors only (tests and simple uses).
    pub fn new(phases: Vec<Phase>) -> Plan {
        Plan {
            phases,
            process: ArrivalProcess::Uniform,
            limit: None,
            kinds: vec![(EventKind::Error, 1.0)],
            seed: 0,
            shard: Shard::WHOLE,
        }
    }

    /// Every arrival of `kind` (tests and simple uses).
    pub fn of_kind(mut self, kind: EventKind) -> Plan {
        self.kinds = vec![(kind, 1.0)];
        self
    }

    /// The shard of the run this plan sends.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// Keeps only `shard`'s arrivals.
    pub fn with_shard(mut self, shard: Shard) -> Plan {
        self.shard = shard;
        self
    }

    /// Compiles a profile's `[traffic]` with command-line overrides. Errors name the override
    /// that does not fit.
    pub fn from_traffic(t: &TrafficConfig, seed: u64, o: Overrides) -> Result<Plan, PlanError> {
        let mut limit = None;
        let phases = if t.stages.is_empty() || o.instead_of_stages {
            let rate = o
                .rate
                .or(t.rate.as_ref().map(|r| r.get_ref().per_second()))
                .ok_or(PlanError::NoRate)?;
            if sentry_load_config::Rate::try_from(rate).is_err() {
                return Err(PlanError::Rate(rate));
            }
            let max = sentry_load_config::MAX_SCHEDULE;
            let duration = match (o.duration, t.duration, t.count) {
                (Some(d), _, _) if d > max => {
                    return Err(PlanError::TooLong(format!(
                        "--duration {}",
                        humantime::format_duration(d)
                    )));
                }
                (Some(d), _, _) | (None, Some(d), _) => d,
                (None, None, Some(n)) => {
                    limit = Some(n.get());
                    Duration::try_from_secs_f64(n.get() as f64 / rate)
                        .ok()
                        .filter(|d| *d <= max)
                        .ok_or_else(|| PlanError::TooLong(format!("{n} events at {rate}/s")))?
                }
                (None, None, None) => return Err(PlanError::NoDuration),
            };
            if o.duration.is_some() {
                limit = None;
            }
            vec![Phase::hold(rate, duration)]
        } else {
            if o.rate.is_some() || o.duration.is_some() {
                return Err(PlanError::OverridesStages);
            }
            stages_to_phases(t)
        };
        let kinds = kind_weights(t.mix.get_ref());
        Ok(Plan {
            phases,
            process: t.arrivals,
            limit,
            kinds,
            seed,
            shard: Shard::WHOLE,
        })
    }

    /// The schedule's stretches, in order.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// How long the schedule runs (nominally, for the `count` form with Poisson arrivals).
    pub fn duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// Sends planned for this shard: exact for uniform arrivals, the expectation for Poisson
    /// ones.
    pub fn total(&self) -> u64 {
        self.shard.share_of(self.whole_total())
    }

    /// Sends planned for this shard, exactly: [`Plan::total`] for uniform arrivals; Poisson ones
    /// are counted by walking the schedule (tens of nanoseconds per arrival), so that a journal
    /// missing records can be told from a schedule that happened to draw fewer.
    pub fn exact_total(&self) -> u64 {
        match self.process {
            ArrivalProcess::Uniform => self.total(),
            ArrivalProcess::Poisson => self.arrivals().count() as u64,
        }
    }

    /// Sends planned over every shard.
    pub fn whole_total(&self) -> u64 {
        let expected: f64 = self.phases.iter().map(Phase::expected).sum();
        let n = match self.process {
            ArrivalProcess::Uniform => (expected - 1e-9).ceil().max(0.0) as u64,
            ArrivalProcess::Poisson => expected.round() as u64,
        };
        self.limit.map_or(n, |l| match self.process {
            ArrivalProcess::Uniform => n.min(l),
            ArrivalProcess::Poisson => l,
        })
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

    /// The rate the plan asks for at `t` from time zero.
    pub fn rate_at(&self, t: Duration) -> f64 {
        let mut start = Duration::ZERO;
        for p in &self.phases {
            if t < start + p.duration {
                let f = (t - start).as_secs_f64() / p.duration.as_secs_f64();
                return p.from + (p.to - p.from) * f;
            }
            start += p.duration;
        }
        0.0
    }

    /// The kind of sequence number `seq`: a weighted draw from the mix, seeded by the plan's
    /// seed and `seq`, so it does not depend on other arrivals.
    pub fn kind_of(&self, seq: u64) -> EventKind {
        if let [(only, _)] = self.kinds.as_slice() {
            return *only;
        }
        let total: f64 = self.kinds.iter().map(|(_, w)| w).sum();
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.seed ^ seq.wrapping_mul(0xd6e8_feb8_6659_fd93));
        let mut x = rng.random::<f64>() * total;
        for (k, w) in &self.kinds {
            if x < *w {
                return *k;
            }
            x -= w;
        }
        self.kinds.last().map_or(EventKind::Error, |(k, _)| *k)
    }

    /// Every planned send, in order, lazily.
    pub fn arrivals(&self) -> Arrivals<'_> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x005e_ed0f_a771_7a15);
        let first = match self.process {
            ArrivalProcess::Uniform => 0.0,
            ArrivalProcess::Poisson => exp1(&mut rng),
        };
        Arrivals {
            plan: self,
            rng,
            next_u: first,
            phase: 0,
            phase_u: 0.0,
            phase_t: 0.0,
            seq: 0,
        }
    }
}

/// The lazy iterator over a plan's arrivals.
pub struct Arrivals<'a> {
    plan: &'a Plan,
    rng: ChaCha8Rng,
    /// The next arrival's position on the cumulative curve.
    next_u: f64,
    phase: usize,
    /// Cumulative arrivals expected before the current phase.
    phase_u: f64,
    /// Seconds before the current phase.
    phase_t: f64,
    seq: u64,
}

impl Iterator for Arrivals<'_> {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        loop {
            let a = self.next_of_any_shard()?;
            if self.plan.shard.owns(a.seq) {
                return Some(a);
            }
        }
    }
}

impl Arrivals<'_> {
    fn next_of_any_shard(&mut self) -> Option<Arrival> {
        let plan = self.plan;
        if plan.limit.is_some_and(|l| self.seq >= l) {
            return None;
        }
        let u = self.next_u;
        let t = loop {
            match plan.phases.get(self.phase) {
                Some(p) => {
                    let n = p.expected();
                    if u < self.phase_u + n - 1e-9 {
                        break self.phase_t + p.invert(u - self.phase_u);
                    }
                    self.phase_u += n;
                    self.phase_t += p.duration.as_secs_f64();
                    self.phase += 1;
                }
                // Past the end: only the count form goes on, at the last phase's final rate.
                None => match (plan.limit, plan.phases.last()) {
                    (Some(_), Some(last)) if last.to > 0.0 => {
                        break self.phase_t + (u - self.phase_u) / last.to;
                    }
                    _ => return None,
                },
            }
        };
        self.next_u += match plan.process {
            ArrivalProcess::Uniform => 1.0,
            ArrivalProcess::Poisson => exp1(&mut self.rng),
        };
        let seq = self.seq;
        self.seq += 1;
        Some(Arrival {
            seq,
            offset: Duration::from_secs_f64(t),
            kind: plan.kind_of(seq),
        })
    }
}

/// A draw from Exp(1).
fn exp1(rng: &mut ChaCha8Rng) -> f64 {
    -(1.0 - rng.random::<f64>()).ln()
}

fn stages_to_phases(t: &TrafficConfig) -> Vec<Phase> {
    let mut phases = Vec::new();
    let mut previous = 0.0;
    for stage in &t.stages {
        let s = stage.get_ref();
        if let Some(spike) = &s.spike {
            let (base, peak) = (spike.base.per_second(), spike.peak.per_second());
            let at = spike
                .at
                .unwrap_or_else(|| s.duration.saturating_sub(spike.length) / 2);
            let after = s.duration.saturating_sub(at + spike.length);
            for (rate, d) in [(base, at), (peak, spike.length), (base, after)] {
                if !d.is_zero() {
                    phases.push(Phase::hold(rate, d));
                }
            }
            previous = base;
        } else if let Some(to) = s.ramp_to {
            let from = s.from.map_or(previous, |f| f.per_second());
            phases.push(Phase {
                duration: s.duration,
                from,
                to: to.per_second(),
            });
            previous = to.per_second();
        } else if let Some(h) = s.hold {
            phases.push(Phase::hold(h.per_second(), s.duration));
            previous = h.per_second();
        }
    }
    phases
}

fn kind_weights(mix: &KindMix) -> Vec<(EventKind, f64)> {
    mix.iter()
        .map(|(k, w)| (k, w.value()))
        .filter(|(_, w)| *w > 0.0)
        .collect()
}

#[cfg(test)]
mod tests;
