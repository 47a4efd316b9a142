//! The terminal summary of a report.

use crate::model::Report;
use sentry_load_common::{Percent, SendOutcome};
use std::fmt::Write;

/// A few lines an operator reads first.
pub fn render_summary(r: &Report) -> String {
    let mut s = String::new();
    let v = &r.visibility;
    let _ = writeln!(
        s,
        "run {} · profile {} · target {}",
        r.run.id, r.run.profile, r.run.target
    );
    if let Some((how, why)) = r.run.stopped() {
        let _ = writeln!(s, "{} {why}", how.to_uppercase());
    }
    for n in &r.run.notes {
        let _ = writeln!(s, "note     {n}");
    }
    for d in &r.disruptions {
        let _ = writeln!(s, "disrupt  {}", d.sentence());
    }
    let _ = writeln!(
        s,
        "sent     {} of {} planned · {:.1}/s of {:.1}/s ({}) · accepted {}",
        r.sending.started,
        r.schedule.planned,
        r.sending.achieved_rate,
        r.schedule.target_rate,
        Percent::of(r.sending.achieved_rate_ratio),
        r.sending.count(SendOutcome::Accepted),
    );
    if let Some(l) = &r.sending.lateness_us {
        let _ = writeln!(
            s,
            "late     {} sends over {} ms · p50 {} µs · p99 {} µs · max {} µs behind schedule",
            r.sending.late, r.sending.late_after_ms, l.p50, l.p99, l.max
        );
    }
    let _ = writeln!(
        s,
        "visible  {} of {} accepted · missing {} · unverified {} · duplicated {} · via {}",
        v.seen, v.tracked, v.missing, v.unverified, v.duplicated, v.source
    );
    match &v.latency_ms {
        Some(p) => {
            let _ = writeln!(
                s,
                "latency  p50 {} ms · p95 {} ms · p99 {} ms · max {} ms (intended send → visible; resolution {} ms)",
                p.p50, p.p95, p.p99, p.max, v.poll_interval_ms
            );
        }
        None if v.polls == 0 && v.seen == 0 && !v.live => {
            let _ = writeln!(s, "latency  not measured ({})", v.source);
        }
        None if !v.live => {
            let _ = writeln!(
                s,
                "latency  not measured (verified after the run, not live)"
            );
        }
        None => {}
    }
    if r.kinds.len() > 1 {
        for (kind, k) in &r.kinds {
            let p99 = k
                .latency_ms
                .map_or(String::new(), |p| format!(" · p99 {} ms", p.p99));
            let _ = writeln!(
                s,
                "kind     {kind}: visible {} of {} accepted{p99} · silent {} · loss {}",
                k.seen,
                k.accepted,
                k.silent,
                Percent::of(k.loss_ratio)
            );
        }
    }
    if let Some(f) = &r.fidelity {
        let (sampled, passed, unavailable, throttled) =
            f.kinds.values().fold((0, 0, 0, 0), |a, k| {
                (
                    a.0 + k.sampled,
                    a.1 + k.passed,
                    a.2 + k.unavailable,
                    a.3 + k.throttled,
                )
            });
        let _ = writeln!(
            s,
            "fidelity {passed} of {sampled} sampled events stored as sent · {} differ · {unavailable} unavailable · {throttled} throttled",
            f.failed()
        );
    }
    for st in &v.stages {
        let _ = writeln!(
            s,
            "stage    {}: p50 {} s · p99 {} s ({})",
            st.stage, st.seconds.p50, st.seconds.p99, st.resolution
        );
    }
    for (kind, why) in &v.stages_unavailable {
        let _ = writeln!(s, "stage    {kind}: {why}");
    }
    if let Some(offset) = v.clock_offset_secs
        && offset.abs() >= 2
    {
        let _ = writeln!(
            s,
            "clock    the target's clock looks {} s {} the harness's (median `received` − \
             intended send): stages that mix the two clocks are shifted by that much",
            offset.abs(),
            if offset < 0 { "behind" } else { "ahead of" }
        );
    }
    let refused: u64 = r.loss.refused.values().sum();
    let _ = writeln!(
        s,
        "loss     silent {} · refused {} · backed off {} · transport errors {} · harness dropped {} (not Sentry's) · ratio {}",
        r.loss.silent,
        refused,
        r.loss.backed_off,
        r.loss.transport_errors,
        r.loss.harness_dropped,
        Percent::of(r.loss.loss_ratio)
    );
    if r.loss.unsupported > 0 {
        let _ = writeln!(
            s,
            "unsent   {} events not sent: the target's protocol cannot carry their kind (no transactions before Sentry 10)",
            r.loss.unsupported
        );
    }
    if let Some(why) = &r.loss.outcome_unknown_why {
        let _ = writeln!(
            s,
            "unknown  {} accepted events missing, outcome unknown: {why}",
            r.loss.outcome_unknown
        );
    }
    if !r.loss.explained.is_empty() {
        let reasons: Vec<String> = r
            .loss
            .explained
            .iter()
            .map(|(label, n)| format!("{label} {n}"))
            .collect();
        let _ = writeln!(
            s,
            "explained accepted but dropped, with an outcome saying why: {}",
            reasons.join(" · ")
        );
    }
    if !r.loss.attachment_outcomes.is_empty() {
        let outcomes: Vec<String> = r
            .loss
            .attachment_outcomes
            .iter()
            .map(|(label, n)| format!("{label} {n}"))
            .collect();
        let _ = writeln!(
            s,
            "attachments outcomes of events' attachments (they explain no event): {}",
            outcomes.join(" · ")
        );
    }
    if let Some(i) = &r.issues {
        match &i.error {
            Some(e) => {
                let _ = writeln!(s, "issues   not checked: {e}");
            }
            None => {
                let _ = writeln!(
                    s,
                    "issues   {} of {} found in Postgres",
                    i.found, i.expected
                );
                for c in &i.crash_reports {
                    let mark = if c.as_set { "" } else { " (NOT as set)" };
                    let _ = writeln!(s, "crashes  project {}: {}{mark}", c.project_id, c.verdict);
                }
            }
        }
    }
    if let Some(e) = &v.last_error {
        let _ = writeln!(
            s,
            "errors   {} failed read-back queries; last: {e}",
            v.failed_queries
        );
    }
    for v in &r.verdicts {
        let _ = writeln!(s, "verdict  {v}");
    }
    for g in &r.gates {
        let mark = if g.passed { "pass" } else { "FAIL" };
        let bound = if g.gate.starts_with("min_") {
            "≥"
        } else {
            "≤"
        };
        let _ = writeln!(
            s,
            "gate     {mark} {} {bound} {}: {}",
            g.gate, g.threshold, g.measured
        );
    }
    s
}
