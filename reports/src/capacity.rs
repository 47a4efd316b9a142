//! The capacity search's result (`sentry-load capacity`): one row per step — a whole run at one
//! rate, read from that run's [`Report`] — and what they add up to: the highest rate of the
//! mix that held, the lowest that broke and on which gates, per kind. The run library drives
//! the steps and puts this section into the report of the search's folder; `report.md`,
//! `report.html` and `compare` show it from here.

use crate::charts::{Decor, PALETTE, Series, XAxis, decorated_line_chart};
use crate::model::{Report, TimelinePoint};
use crate::tables::Table;
use sentry_load_common::Percent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CapacityEnd {
    /// A step broke, and the bracket around the knee is within the resolution.
    Broke,
    /// Every step held, up to `max_rate`.
    HeldToMax,
    /// `max_steps` were taken before the bracket was narrow enough (or before one broke).
    OutOfSteps,
    /// Even the lowest rate tried broke.
    NeverHeld,
    /// An operator stopped the search.
    Interrupted,
}

/// One step of the search.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CapacityStep {
    /// The run id of the step (its folder is `steps/<run id>/`).
    pub run_id: String,
    /// Offered rate, envelopes per second.
    pub offered_rate: f64,
    /// Achieved send rate.
    pub achieved_rate: f64,
    /// Events that became visible, per second of the step's schedule.
    pub visible_rate: f64,
    /// p99 visibility over every kind, milliseconds.
    pub p99_ms: Option<u64>,
    /// `(offered − visible) / offered`.
    pub loss_ratio: f64,
    /// Accepted events lost with no outcome saying why.
    pub silent: u64,
    /// Refused sends, of those started.
    pub refused_ratio: f64,
    /// How fast visibility latency grew over the step, seconds per second of sending: the
    /// slope of the p99 latency of each second's events (p99: one kind's backlog shows in a
    /// mix). A deployment that keeps up holds it near 0; one over capacity by a fraction x
    /// builds a backlog that grows it by x.
    pub latency_growth: Option<f64>,
    /// Whether every gate passed, and the latency did not grow past the search's limit.
    pub held: bool,
    /// The gates that failed, as `gate (measured, limit threshold)`.
    pub failed: Vec<String>,
    /// Each kind's figures at this step.
    pub kinds: BTreeMap<String, StepKind>,
}

/// One kind at one step.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepKind {
    /// The kind's share of the offered rate, envelopes per second.
    pub offered_rate: f64,
    /// The kind's p99 visibility, milliseconds.
    pub p99_ms: Option<u64>,
    /// The kind's loss ratio.
    pub loss_ratio: f64,
    /// How fast the kind's p99 visibility latency grew, seconds per second of sending.
    #[serde(default)]
    pub latency_growth: Option<f64>,
    /// Whether a gate of this kind (`kind.<kind>.…`) failed, or its latency grew past the
    /// search's limit.
    pub broke: bool,
}

/// One kind's result over the search.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KindCapacity {
    /// The kind's share at the highest step that held, envelopes per second.
    pub sustainable_rate: Option<f64>,
    /// The kind's share at the lowest step where a gate of the kind failed.
    pub broke_at: Option<f64>,
    /// The kind's p99 at the highest step that held, milliseconds.
    pub p99_ms: Option<u64>,
}

/// `capacity` in the search's report.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CapacitySection {
    /// The highest offered rate that held, envelopes per second of the mix.
    pub sustainable_rate: Option<f64>,
    /// The lowest offered rate that broke.
    pub broke_at: Option<f64>,
    /// The gates that failed at `broke_at`.
    pub broke_on: Vec<String>,
    /// How the search ended.
    pub ended: CapacityEnd,
    /// How long each step sent, seconds.
    pub hold_secs: f64,
    /// The bracket width the bisection stops at, relative to the rate that held.
    pub resolution: f64,
    /// The steps, in the order they ran.
    pub steps: Vec<CapacityStep>,
    /// Each kind's share of the result.
    pub kinds: BTreeMap<String, KindCapacity>,
    /// The result in one sentence.
    pub summary: String,
}

impl CapacityStep {
    /// The row of a step that offered `offered_rate` and reported `r`; it broke when a gate
    /// failed or its latency grew faster than `max_growth` (`capacity.max_latency_growth`).
    pub fn of(offered_rate: f64, r: &Report, max_growth: f64) -> CapacityStep {
        let offered = r.sending.records.max(1) as f64;
        let total: u64 = r.kinds.values().map(|k| k.records).sum::<u64>().max(1);
        let mut failed: Vec<String> = r
            .gates
            .iter()
            .filter(|g| !g.passed)
            .map(|g| format!("{} ({}, limit {})", g.gate, g.measured, g.threshold))
            .collect();
        let kinds: BTreeMap<String, StepKind> = r
            .kinds
            .iter()
            .map(|(name, k)| {
                let prefix = format!("kind.{name}.");
                let growth = latency_growth(r, |p| p.latency_p99_ms_by_kind.get(name).copied());
                let grew = growth.is_some_and(|g| g > max_growth);
                if let Some(g) = growth.filter(|_| grew) {
                    failed.push(format!(
                        "kind.{name}.capacity.max_latency_growth ({name} visibility latency \
                         grew {g:.3} s per s of sending: a backlog, limit {max_growth})"
                    ));
                }
                let step = StepKind {
                    offered_rate: offered_rate * k.records as f64 / total as f64,
                    p99_ms: k.latency_ms.as_ref().map(|p| p.p99),
                    loss_ratio: k.loss_ratio,
                    latency_growth: growth,
                    broke: grew
                        || r.gates
                            .iter()
                            .any(|g| !g.passed && g.gate.starts_with(&prefix)),
                };
                (name.clone(), step)
            })
            .collect();
        let refused: u64 = r.loss.refused.values().sum();
        let latency_growth = latency_growth(r, |p| p.latency_p99_ms);
        // A report without each kind's timeline is judged on every kind's together.
        if let Some(g) = latency_growth.filter(|g| *g > max_growth)
            && kinds.values().all(|k| k.latency_growth.is_none())
        {
            failed.push(format!(
                "capacity.max_latency_growth (visibility latency grew {g:.3} s per s of \
                 sending: a backlog, limit {max_growth})"
            ));
        }
        CapacityStep {
            run_id: r.run.id.clone(),
            offered_rate,
            achieved_rate: r.sending.achieved_rate,
            visible_rate: r.visibility.seen as f64 / r.schedule.duration_secs.max(1e-9),
            p99_ms: r.visibility.latency_ms.as_ref().map(|p| p.p99),
            loss_ratio: 1.0 - (r.visibility.seen.min(r.sending.records) as f64 / offered),
            silent: r.loss.silent,
            refused_ratio: refused as f64 / r.sending.started.max(1) as f64,
            latency_growth,
            held: failed.is_empty(),
            failed,
            kinds,
        }
    }
}

impl CapacitySection {
    /// The result of `steps` (in the order they ran), ended as `ended`.
    pub fn of(
        steps: Vec<CapacityStep>,
        ended: CapacityEnd,
        hold_secs: f64,
        resolution: f64,
    ) -> CapacitySection {
        let best = steps
            .iter()
            .filter(|s| s.held)
            .max_by(|a, b| a.offered_rate.total_cmp(&b.offered_rate));
        let worst = steps
            .iter()
            .filter(|s| !s.held && best.is_none_or(|b| s.offered_rate > b.offered_rate))
            .min_by(|a, b| a.offered_rate.total_cmp(&b.offered_rate));
        let mut kinds = BTreeMap::new();
        for s in &steps {
            for name in s.kinds.keys() {
                kinds.entry(name.clone()).or_insert_with(|| {
                    let held = best.and_then(|b| b.kinds.get(name));
                    KindCapacity {
                        sustainable_rate: held.map(|k| k.offered_rate),
                        broke_at: steps
                            .iter()
                            .filter_map(|s| s.kinds.get(name).filter(|k| k.broke))
                            .map(|k| k.offered_rate)
                            .min_by(f64::total_cmp),
                        p99_ms: held.and_then(|k| k.p99_ms),
                    }
                });
            }
        }
        let mut section = CapacitySection {
            sustainable_rate: best.map(|s| s.offered_rate),
            broke_at: worst.map(|s| s.offered_rate),
            broke_on: worst.map(|s| s.failed.clone()).unwrap_or_default(),
            ended,
            hold_secs,
            resolution,
            kinds,
            summary: String::new(),
            steps,
        };
        section.summary = section.sentence();
        section
    }

    /// The step that held at the highest rate.
    pub fn sustained(&self) -> Option<&CapacityStep> {
        self.steps
            .iter()
            .filter(|s| s.held)
            .max_by(|a, b| a.offered_rate.total_cmp(&b.offered_rate))
    }

    /// "sustainable: N envelopes/s of this mix (p99 X s, loss 0); broke at M/s on <gate>".
    fn sentence(&self) -> String {
        let held = self.sustained().map(|s| {
            let p99 = s
                .p99_ms
                .map_or("p99 —".to_owned(), |ms| format!("p99 {}", seconds(ms)));
            format!(
                "{} envelopes/s of this mix ({p99}, loss {})",
                rate(s.offered_rate),
                Percent::of(s.loss_ratio)
            )
        });
        let broke = self.broke_at.map(|at| {
            format!(
                "broke at {}/s on {}",
                rate(at),
                if self.broke_on.is_empty() {
                    "no gate (interrupted)".to_owned()
                } else {
                    self.broke_on.join("; ")
                }
            )
        });
        match (self.ended, held, broke) {
            (CapacityEnd::HeldToMax, Some(h), _) => {
                format!("sustainable: at least {h}; no step up to max_rate broke")
            }
            (CapacityEnd::NeverHeld, _, Some(b)) | (_, None, Some(b)) => {
                format!("not sustainable at any rate tried: {b}")
            }
            (CapacityEnd::Interrupted, h, b) => format!(
                "interrupted after {} steps; {}{}",
                self.steps.len(),
                h.map_or("nothing held yet".to_owned(), |h| format!(
                    "held so far: {h}"
                )),
                b.map_or(String::new(), |b| format!("; {b}"))
            ),
            (CapacityEnd::OutOfSteps, Some(h), b) => format!(
                "sustainable: {h}; {} (out of steps before the bracket was within {})",
                b.unwrap_or_else(|| "nothing broke yet".to_owned()),
                Percent::of(self.resolution)
            ),
            (_, Some(h), Some(b)) => format!("sustainable: {h}; {b}"),
            (_, Some(h), None) => format!("sustainable: {h}"),
            (_, None, None) => "no step ran".to_owned(),
        }
    }

    /// One line per kind: its share at the sustainable rate, and where a gate of its own broke.
    pub fn kind_lines(&self) -> Vec<String> {
        self.kinds
            .iter()
            .map(|(name, k)| {
                let held = k.sustainable_rate.map_or("—".to_owned(), |r| {
                    let p99 = k
                        .p99_ms
                        .map_or("p99 —".to_owned(), |ms| format!("p99 {}", seconds(ms)));
                    format!("{}/s held ({p99})", rate(r))
                });
                let broke = k.broke_at.map_or_else(
                    || "never broke on its own".to_owned(),
                    |r| {
                        format!(
                            "broke on its own (its gate or its backlog) at {}/s",
                            rate(r)
                        )
                    },
                );
                format!("{name}: {held}; {broke}")
            })
            .collect()
    }

    /// The step table, in rate order.
    pub fn table(&self) -> Table {
        let mut steps: Vec<(usize, &CapacityStep)> = self.steps.iter().enumerate().collect();
        steps.sort_by(|a, b| a.1.offered_rate.total_cmp(&b.1.offered_rate));
        let rows = steps
            .into_iter()
            .map(|(i, s)| {
                vec![
                    (i + 1).to_string(),
                    rate(s.offered_rate),
                    rate(s.achieved_rate),
                    rate(s.visible_rate),
                    s.p99_ms.map_or("—".to_owned(), |ms| ms.to_string()),
                    Percent::of(s.loss_ratio).to_string(),
                    s.silent.to_string(),
                    Percent::of(s.refused_ratio).to_string(),
                    s.latency_growth.map_or("—".to_owned(), |g| {
                        // No "-0.000": a flat slope reads as one.
                        format!("{:+.3}", if g.abs() < 0.0005 { 0.0 } else { g })
                    }),
                    if s.held { "held" } else { "broke" }.to_owned(),
                    s.failed.join("; "),
                ]
            })
            .collect();
        Table {
            headers: &[
                "step",
                "offered /s",
                "achieved /s",
                "visible /s",
                "p99 ms",
                "loss",
                "silent",
                "refused",
                "latency growth s/s",
                "verdict",
                "failed gates",
            ],
            rows,
        }
    }

    /// The charts: p99 visibility per kind against the offered rate, and the achieved and
    /// visible rates against it (the knee is where visible stops following offered).
    pub fn charts(&self) -> Vec<String> {
        let mut steps: Vec<&CapacityStep> = self.steps.iter().collect();
        steps.sort_by(|a, b| a.offered_rate.total_cmp(&b.offered_rate));
        let mut decor = Decor::default();
        if let Some(r) = self.sustainable_rate {
            decor
                .lines
                .push((r, format!("held {}/s", rate(r)), PALETTE[1]));
        }
        if let Some(r) = self.broke_at {
            decor
                .lines
                .push((r, format!("broke {}/s", rate(r)), PALETTE[3]));
        }
        let mut latency = vec![Series {
            label: "p99, every kind".into(),
            color: PALETTE[0],
            dashed: false,
            points: steps
                .iter()
                .filter_map(|s| Some((s.offered_rate, s.p99_ms? as f64 / 1000.0)))
                .collect(),
        }];
        for (i, name) in self.kinds.keys().enumerate() {
            latency.push(Series {
                label: format!("p99, {name}"),
                color: PALETTE[(i + 2) % PALETTE.len()],
                dashed: true,
                points: steps
                    .iter()
                    .filter_map(|s| {
                        let k = s.kinds.get(name)?;
                        Some((s.offered_rate, k.p99_ms? as f64 / 1000.0))
                    })
                    .collect(),
            });
        }
        let figures: [(&str, _, StepFigure); 3] = [
            ("offered", PALETTE[7], |s| s.offered_rate),
            ("achieved", PALETTE[0], |s| s.achieved_rate),
            ("visible", PALETTE[1], |s| s.visible_rate),
        ];
        let rates = figures
            .into_iter()
            .map(|(label, color, f)| Series {
                label: label.into(),
                color,
                dashed: label == "offered",
                points: steps.iter().map(|s| (s.offered_rate, f(s))).collect(),
            })
            .collect::<Vec<_>>();
        [
            decorated_line_chart(
                "p99 visibility by offered rate",
                XAxis::Rate,
                "seconds",
                &latency,
                &decor,
            ),
            decorated_line_chart(
                "Achieved and visible rate by offered rate",
                XAxis::Rate,
                "envelopes per second",
                &rates,
                &decor,
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// The least-squares slope of each bucket's p99 latency (per `p99_of`) against its time, over the
/// buckets inside the schedule after the first (its senders' warm-up), seconds per second;
/// `None` with fewer than three such buckets.
fn latency_growth(r: &Report, p99_of: impl Fn(&TimelinePoint) -> Option<u64>) -> Option<f64> {
    let bucket = r.timeline.bucket_secs.max(1) as f64;
    let points: Vec<(f64, f64)> = r
        .timeline
        .points
        .iter()
        .skip(1)
        .filter(|p| (p.t as f64 + bucket) <= r.schedule.duration_secs + 1e-9)
        .filter_map(|p| Some((p.t as f64 + bucket / 2.0, p99_of(p)? as f64 / 1000.0)))
        .collect();
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(xy, xx), p| {
        (xy + (p.0 - mx) * (p.1 - my), xx + (p.0 - mx) * (p.0 - mx))
    });
    (sxx > 0.0).then(|| sxy / sxx)
}

/// One figure of a step, drawn against its offered rate.
type StepFigure = fn(&CapacityStep) -> f64;

/// A rate as the tables show it: three significant digits, no more than one decimal.
pub fn rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    }
}

fn seconds(ms: u64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(rate: f64, held: bool, native_broke: bool) -> CapacityStep {
        let kind = |share: f64, broke: bool| StepKind {
            offered_rate: rate * share,
            p99_ms: Some(if held { 300 } else { 12_000 }),
            loss_ratio: 0.0,
            latency_growth: None,
            broke,
        };
        CapacityStep {
            run_id: format!("s-{rate}"),
            offered_rate: rate,
            achieved_rate: rate,
            visible_rate: rate,
            p99_ms: Some(if held { 300 } else { 12_000 }),
            loss_ratio: 0.0,
            silent: 0,
            refused_ratio: 0.0,
            latency_growth: Some(0.0),
            held,
            failed: if held {
                vec![]
            } else {
                vec!["kind.native.max_p99_visibility (12 s, limit 5s)".into()]
            },
            kinds: [
                ("error".to_owned(), kind(0.4, false)),
                ("native".to_owned(), kind(0.6, native_broke)),
            ]
            .into(),
        }
    }

    #[test]
    fn the_result_is_the_highest_step_held_and_the_lowest_broken_above_it() {
        let steps = vec![
            step(50.0, true, false),
            step(100.0, true, false),
            step(200.0, false, true),
            step(150.0, false, true),
            step(125.0, true, false),
        ];
        let c = CapacitySection::of(steps, CapacityEnd::Broke, 10.0, 0.25);
        assert_eq!(c.sustainable_rate, Some(125.0));
        assert_eq!(c.broke_at, Some(150.0));
        assert_eq!(
            c.summary,
            "sustainable: 125 envelopes/s of this mix (p99 0.30 s, loss 0 %); broke at 150/s \
             on kind.native.max_p99_visibility (12 s, limit 5s)"
        );
        assert_eq!(c.kinds["native"].sustainable_rate, Some(75.0));
        assert_eq!(c.kinds["native"].broke_at, Some(90.0));
        assert_eq!(c.kinds["error"].broke_at, None);
        assert_eq!(c.table().rows.len(), 5);
        // In rate order.
        assert_eq!(c.table().rows[2][1], "125");
        assert!(c.kind_lines()[1].starts_with("native: 75.0/s held"));
        assert_eq!(c.charts().len(), 2);
    }

    /// A report from the fixture with a timeline of `secs` one-second buckets where the
    /// native p99 grows by `native_growth` s/s and the errors' stays flat.
    fn timeline_report(secs: u64, native_growth: f64) -> Report {
        let mut r: Report =
            serde_json::from_str(include_str!("../tests/fixtures/report.json")).unwrap();
        r.schedule.duration_secs = secs as f64;
        r.timeline.bucket_secs = 1;
        r.timeline.points = (0..secs + 5)
            .map(|t| {
                let native = 200 + (native_growth * 1000.0 * t as f64) as u64;
                TimelinePoint {
                    t,
                    latency_p99_ms: Some(native),
                    latency_p99_ms_by_kind: [
                        ("error".to_owned(), 150 + (t % 2) * 20),
                        ("native".to_owned(), native),
                    ]
                    .into(),
                    ..TimelinePoint::default()
                }
            })
            .collect();
        r.gates.iter_mut().for_each(|g| g.passed = true);
        r.passed = true;
        r
    }

    #[test]
    fn a_kind_whose_latency_grows_breaks_the_step_and_is_named() {
        let r = timeline_report(10, 0.1);
        let s = CapacityStep::of(100.0, &r, 0.02);
        assert!(!s.held);
        assert_eq!(s.failed.len(), 1, "{:?}", s.failed);
        assert!(s.failed[0].starts_with("kind.native.capacity.max_latency_growth"));
        let growth = s.kinds.get("native").and_then(|k| k.latency_growth);
        assert!((growth.unwrap() - 0.1).abs() < 0.002, "{growth:?}");
        // The buckets after the schedule (stragglers) are not fitted.
        let flat = CapacityStep::of(100.0, &timeline_report(10, 0.0), 0.02);
        assert!(flat.held, "{:?}", flat.failed);
        assert!(flat.latency_growth.unwrap().abs() < 1e-9);
        // Too short to fit: not judged.
        assert_eq!(
            CapacityStep::of(1.0, &timeline_report(3, 0.5), 0.02).latency_growth,
            None
        );
    }

    #[test]
    fn a_search_where_nothing_held_says_so() {
        let c = CapacitySection::of(
            vec![step(10.0, false, true), step(5.0, false, true)],
            CapacityEnd::NeverHeld,
            10.0,
            0.05,
        );
        assert_eq!(c.sustainable_rate, None);
        assert_eq!(c.broke_at, Some(5.0));
        assert!(
            c.summary
                .starts_with("not sustainable at any rate tried: broke at 5.00/s")
        );
        let c = CapacitySection::of(
            vec![step(10.0, true, false)],
            CapacityEnd::HeldToMax,
            1.0,
            0.05,
        );
        assert!(
            c.summary
                .starts_with("sustainable: at least 10.0 envelopes/s"),
            "{}",
            c.summary
        );
    }
}
