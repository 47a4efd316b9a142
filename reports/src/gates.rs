//! The profile's gates, checked against a report (and a baseline report, for the relative
//! gates). A gate that cannot be measured fails, so a CI job never passes on a number it did
//! not get.

use crate::histogram::Percentiles;
use crate::model::{GateResult, Report};
use sentry_load_common::{Percent, SendOutcome};
use sentry_load_config::{GatesConfig, KindGates};
use std::time::Duration;

/// Every configured gate, checked.
pub fn evaluate_gates(r: &Report, g: &GatesConfig, baseline: Option<&Report>) -> Vec<GateResult> {
    let mut out = Vec::new();
    let offered =
        r.sending.records - r.loss.harness_dropped - r.loss.unsupported + r.loss.unjournaled;
    if let Some(max) = g.max_loss_ratio {
        let m = r.loss.loss_ratio;
        out.push(if offered == 0 {
            unmeasured(
                "max_loss_ratio",
                Percent::of(max.value()),
                "no event was offered to the target (every send was dropped by the harness or \
                 unsupported)",
            )
        } else {
            gate(
                "max_loss_ratio",
                Percent::of(max.value()),
                format!(
                    "{} ({} of {offered} offered events visible{})",
                    Percent::of(m),
                    r.visibility.seen,
                    if r.loss.unjournaled > 0 {
                        format!(
                            "; {} planned sends have no journal record",
                            r.loss.unjournaled
                        )
                    } else {
                        String::new()
                    }
                ),
                m <= max.value(),
            )
        });
    }
    if let Some(max) = g.max_silent_loss_ratio {
        let accepted = r.sending.count(SendOutcome::Accepted);
        let m = ratio(r.loss.silent, accepted);
        out.push(if r.loss.outcome_unknown > 0 {
            unmeasured(
                "max_silent_loss_ratio",
                Percent::of(max.value()),
                &format!(
                    "{} accepted events missing, outcome unknown: the source cannot see \
                     outcomes (add [verify.clickhouse])",
                    r.loss.outcome_unknown
                ),
            )
        } else if accepted == 0 {
            unmeasured(
                "max_silent_loss_ratio",
                Percent::of(max.value()),
                "no event was accepted, so none could vanish",
            )
        } else {
            gate(
                "max_silent_loss_ratio",
                Percent::of(max.value()),
                format!(
                    "{} ({} of {accepted} accepted events vanished)",
                    Percent::of(m),
                    r.loss.silent
                ),
                m <= max.value(),
            )
        });
    }
    if let Some(max) = g.max_lost_in_relay_ratio {
        out.push(
            match r.relay_upstream.as_ref().map(|u| (u, u.lost_ratio())) {
                Some((u, Some(_))) if u.untracked > 0 => unmeasured(
                    "max_lost_in_relay_ratio",
                    Percent::of(max.value()),
                    &format!(
                        "the upstream's record was full for {} events (restart the sim between \
                     long runs)",
                        u.untracked
                    ),
                ),
                Some((u, Some(m))) => gate(
                    "max_lost_in_relay_ratio",
                    Percent::of(max.value()),
                    format!(
                        "{} ({} of {} envelopes Relay answered 200 were never delivered to its upstream)",
                        Percent::of(m),
                        u.total.lost_in_relay,
                        u.total.accepted
                    ),
                    m <= max.value(),
                ),
                Some((u, None)) => unmeasured(
                    "max_lost_in_relay_ratio",
                    Percent::of(max.value()),
                    u.error
                        .as_deref()
                        .unwrap_or("Relay answered no envelope 200"),
                ),
                None => unmeasured(
                    "max_lost_in_relay_ratio",
                    Percent::of(max.value()),
                    "needs [verify.relay_upstream]: the sim behind Relay, which knows what it took",
                ),
            },
        );
    }
    if let Some(max) = g.max_rejected_ratio {
        let refused: u64 = r.loss.refused.values().sum();
        let m = ratio(refused, r.sending.started);
        out.push(if r.sending.started == 0 {
            unmeasured(
                "max_rejected_ratio",
                Percent::of(max.value()),
                "no send went out",
            )
        } else {
            gate(
                "max_rejected_ratio",
                Percent::of(max.value()),
                format!(
                    "{} ({refused} of {} sends refused)",
                    Percent::of(m),
                    r.sending.started
                ),
                m <= max.value(),
            )
        });
    }
    if let Some(min) = g.min_achieved_rate_ratio {
        let m = r.sending.achieved_rate_ratio;
        out.push(gate(
            "min_achieved_rate_ratio",
            Percent::of(min.value()),
            format!(
                "{} ({:.1} of {:.1} per s)",
                Percent::of(m),
                r.sending.achieved_rate,
                r.schedule.target_rate
            ),
            m >= min.value(),
        ));
    }
    let whole = KindGates {
        max_loss_ratio: None,
        max_p50_visibility: g.max_p50_visibility,
        max_p95_visibility: g.max_p95_visibility,
        max_p99_visibility: g.max_p99_visibility,
    };
    latency_gates(&mut out, "", &whole, r.visibility.latency_ms.as_ref(), r);
    for (kind, kg) in g.kind.iter() {
        let section = r.kinds.get(kind.as_str());
        let prefix = format!("kind.{kind}.");
        if let Some(max) = kg.max_loss_ratio {
            out.push(match section {
                Some(k) if k.started == 0 => unmeasured(
                    &format!("{prefix}max_loss_ratio"),
                    Percent::of(max.value()),
                    &format!(
                        "no {kind} event went out ({} planned, none sent)",
                        k.records
                    ),
                ),
                Some(k) => gate(
                    &format!("{prefix}max_loss_ratio"),
                    Percent::of(max.value()),
                    format!(
                        "{} ({} {kind} events visible)",
                        Percent::of(k.loss_ratio),
                        k.seen
                    ),
                    k.loss_ratio <= max.value(),
                ),
                None => unmeasured(
                    &format!("{prefix}max_loss_ratio"),
                    Percent::of(max.value()),
                    &format!("the run sent no {kind} events"),
                ),
            });
        }
        latency_gates(
            &mut out,
            &prefix,
            kg,
            section.and_then(|k| k.latency_ms.as_ref()),
            r,
        );
    }
    if let Some(max) = g.max_fidelity_failures {
        out.push(match &r.fidelity {
            Some(f) => {
                let checked: u64 = f.kinds.values().map(|k| k.passed + k.failed).sum();
                let m = f.failed();
                gate(
                    "max_fidelity_failures",
                    max,
                    format!("{m} of {checked} sampled events differ"),
                    m <= max && checked > 0,
                )
            }
            None => unmeasured(
                "max_fidelity_failures",
                max,
                "no fidelity check ran (it needs [verify.sentry_api])",
            ),
        });
    }
    baseline_gates(&mut out, r, g, baseline);
    out
}

fn baseline_gates(out: &mut Vec<GateResult>, r: &Report, g: &GatesConfig, b: Option<&Report>) {
    let bg = &g.baseline;
    if !bg.any() {
        return;
    }
    let Some(b) = b else {
        let of = Percent::of as fn(f64) -> Percent;
        for (name, set, shown) in [
            ("max_p50_regression", bg.max_p50_regression, of),
            ("max_p99_regression", bg.max_p99_regression, of),
            (
                "max_loss_ratio_increase",
                bg.max_loss_ratio_increase,
                Percent::points,
            ),
            ("max_achieved_rate_drop", bg.max_achieved_rate_drop, of),
        ] {
            if let Some(t) = set {
                out.push(unmeasured(
                    &format!("baseline.{name}"),
                    shown(t.value()),
                    "no baseline run given (--baseline runs/<id>)",
                ));
            }
        }
        return;
    };
    let pct = |p: fn(&Percentiles) -> u64| {
        let now = r.visibility.latency_ms.as_ref().map(p)?;
        let then = b.visibility.latency_ms.as_ref().map(p)?;
        Some((now, then, (now as f64 - then as f64) / (then.max(1) as f64)))
    };
    for (name, set, f) in [
        (
            "max_p50_regression",
            bg.max_p50_regression,
            (|p: &Percentiles| p.p50) as fn(&Percentiles) -> u64,
        ),
        ("max_p99_regression", bg.max_p99_regression, |p| p.p99),
    ] {
        let Some(max) = set else { continue };
        let name = format!("baseline.{name}");
        out.push(match pct(f) {
            Some((now, then, m)) => gate(
                &name,
                Percent::of(max.value()),
                format!(
                    "{} ({now} ms vs {then} ms in {})",
                    Percent::change(m),
                    b.run.id
                ),
                m <= max.value(),
            ),
            None => unmeasured(
                &name,
                Percent::of(max.value()),
                "latency missing in this run or the baseline",
            ),
        });
    }
    if let Some(max) = bg.max_loss_ratio_increase {
        let m = r.loss.loss_ratio - b.loss.loss_ratio;
        out.push(gate(
            "baseline.max_loss_ratio_increase",
            Percent::points(max.value()),
            format!(
                "{} ({} vs {} in {})",
                Percent::points(m),
                Percent::of(r.loss.loss_ratio),
                Percent::of(b.loss.loss_ratio),
                b.run.id
            ),
            m <= max.value(),
        ));
    }
    if let Some(max) = bg.max_achieved_rate_drop {
        let (now, then) = (r.sending.achieved_rate, b.sending.achieved_rate);
        let m = if then > 0.0 { (then - now) / then } else { 0.0 };
        out.push(gate(
            "baseline.max_achieved_rate_drop",
            Percent::of(max.value()),
            format!(
                "{} ({now:.1}/s vs {then:.1}/s in {})",
                // `+ 0.0`: no change is shown as 0, not -0.
                Percent::change(-m + 0.0),
                b.run.id
            ),
            m <= max.value(),
        ));
    }
}

/// The p50/p95/p99 gates of one table (`prefix` "" for the whole run, `kind.native.` …).
fn latency_gates(
    out: &mut Vec<GateResult>,
    prefix: &str,
    g: &KindGates,
    measured: Option<&Percentiles>,
    r: &Report,
) {
    type Check = (&'static str, Option<Duration>, fn(&Percentiles) -> u64);
    let checks: [Check; 3] = [
        ("max_p50_visibility", g.max_p50_visibility, |p| p.p50),
        ("max_p95_visibility", g.max_p95_visibility, |p| p.p95),
        ("max_p99_visibility", g.max_p99_visibility, |p| p.p99),
    ];
    for (name, max, pick) in checks {
        let Some(max) = max else { continue };
        let name = format!("{prefix}{name}");
        let threshold = format!("{} ms", max.as_millis());
        out.push(match measured {
            Some(p) => GateResult {
                gate: name,
                threshold,
                measured: format!(
                    "{} ms (poll interval {} ms)",
                    pick(p),
                    r.visibility.poll_interval_ms
                ),
                passed: u128::from(pick(p)) <= max.as_millis(),
            },
            None => GateResult {
                gate: name,
                threshold,
                measured: if r.visibility.live {
                    "not measured: no event became visible".into()
                } else {
                    "not measured: verification ran after the fact, not live".into()
                },
                passed: false,
            },
        });
    }
}

fn gate(
    name: &str,
    threshold: impl std::fmt::Display,
    measured: String,
    passed: bool,
) -> GateResult {
    GateResult {
        gate: name.to_owned(),
        threshold: threshold.to_string(),
        measured,
        passed,
    }
}

fn unmeasured(name: &str, threshold: impl std::fmt::Display, why: &str) -> GateResult {
    gate(name, threshold, format!("not measured: {why}"), false)
}

fn ratio(n: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

#[cfg(test)]
#[path = "gates_tests.rs"]
mod tests;
