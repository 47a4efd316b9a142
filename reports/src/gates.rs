//! The profile's gates, checked against a report. A gate that cannot be measured fails, so a
//! CI job never passes on a number it did not get.

use crate::model::{GateResult, Report};
use sentry_load_config::GatesConfig;

/// Every configured gate, checked.
pub fn evaluate_gates(r: &Report, g: &GatesConfig) -> Vec<GateResult> {
    let mut out = Vec::new();
    if let Some(max) = g.max_loss_ratio {
        let m = r.loss.loss_ratio;
        out.push(GateResult {
            gate: "max_loss_ratio".into(),
            threshold: format!("{}", max.value()),
            measured: format!(
                "{m:.6} ({} of {} offered events visible)",
                r.visibility.seen,
                { r.sending.records - r.loss.harness_dropped }
            ),
            passed: m <= max.value(),
        });
    }
    if let Some(max) = g.max_p99_visibility {
        let threshold = format!("{} ms", max.as_millis());
        out.push(match &r.visibility.latency_ms {
            Some(p) => GateResult {
                gate: "max_p99_visibility".into(),
                threshold,
                measured: format!(
                    "{} ms (poll interval {} ms)",
                    p.p99, r.visibility.poll_interval_ms
                ),
                passed: u128::from(p.p99) <= max.as_millis(),
            },
            None => GateResult {
                gate: "max_p99_visibility".into(),
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
    if let Some(min) = g.min_achieved_rate_ratio {
        let m = r.sending.achieved_rate_ratio;
        out.push(GateResult {
            gate: "min_achieved_rate_ratio".into(),
            threshold: format!("{}", min.value()),
            measured: format!(
                "{m:.4} ({:.1} of {:.1} per s)",
                r.sending.achieved_rate, r.schedule.target_rate
            ),
            passed: m >= min.value(),
        });
    }
    out
}
