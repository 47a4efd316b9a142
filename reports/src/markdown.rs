//! `report.md`: the report as Markdown, for a pull request, a wiki page or a chat message —
//! the same figures as `report.json` and the terminal summary, as tables.

use crate::histogram::Percentiles;
use crate::model::Report;
use crate::tables;
use sentry_load_common::Percent;
use std::fmt::Write;

/// The report as Markdown.
pub fn render_markdown(r: &Report) -> String {
    let mut s = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(
        s,
        "# sentry-load run `{}` — {}\n",
        r.run.id,
        if r.passed { "passed" } else { "FAILED" }
    );
    if let Some((how, why)) = r.run.stopped() {
        let _ = writeln!(s, "**Run {how}:** {why}\n");
    }
    for n in &r.run.notes {
        let _ = writeln!(s, "**Note:** {n}\n");
    }
    if let Some(c) = &r.capacity {
        capacity(&mut s, c);
    }
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| profile | `{}` (seed {}) |", r.run.profile, r.run.seed);
    let _ = writeln!(s, "| target | `{}` |", r.run.target);
    let _ = writeln!(s, "| started | {} |", r.run.started_at);
    let _ = writeln!(s, "| read back from | {} |", r.visibility.source);
    let _ = writeln!(
        s,
        "| tool | sentry-load {} (report schema {}) |\n",
        r.tool_version, r.schema_version
    );

    disruptions(&mut s, r);
    probes(&mut s, r);
    relay_upstream(&mut s, r);
    let sd = &r.sending;
    let _ = writeln!(s, "## Sending\n");
    let _ = writeln!(
        s,
        "| planned | target rate | achieved rate | achieved / target | late (> {} ms) | bytes sent |",
        sd.late_after_ms
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    let _ = writeln!(
        s,
        "| {} | {:.1}/s | {:.1}/s | {} | {} | {} |\n",
        r.schedule.planned,
        r.schedule.target_rate,
        sd.achieved_rate,
        Percent::of(sd.achieved_rate_ratio),
        sd.late,
        sd.bytes
    );
    for t in [tables::outcomes(r), tables::statuses(r), tables::timing(r)] {
        if !t.rows.is_empty() {
            table(&mut s, &t);
            s.push('\n');
        }
    }

    let v = &r.visibility;
    let _ = writeln!(s, "## Visibility\n");
    let _ = writeln!(
        s,
        "| tracked | seen | missing | unverified | duplicated | poll interval |\n|---|---|---|---|---|---|"
    );
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} ms |\n",
        v.tracked, v.seen, v.missing, v.unverified, v.duplicated, v.poll_interval_ms
    );
    match &v.latency_ms {
        Some(p) => percentile_table(
            &mut s,
            "latency",
            &[("intended send → visible (ms)", Some(p))],
        ),
        None => {
            let _ = writeln!(
                s,
                "Latency not measured: verified after the run, not live.\n"
            );
        }
    }
    if !v.stages.is_empty() {
        let _ = writeln!(
            s,
            "| stage (s) | p50 | p99 | max | resolution |\n|---|---|---|---|---|"
        );
        for st in &v.stages {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                st.stage, st.seconds.p50, st.seconds.p99, st.seconds.max, st.resolution
            );
        }
        s.push('\n');
    }
    for (kind, why) in &v.stages_unavailable {
        let _ = writeln!(s, "Stages of {kind}: {why}.\n");
    }
    if let Some(offset) = v.clock_offset_secs.filter(|o| o.abs() >= 2) {
        let _ = writeln!(
            s,
            "The target's clock looks {} s {} the harness's: stages that mix the two clocks are shifted by that much.\n",
            offset.abs(),
            if offset < 0 { "behind" } else { "ahead of" }
        );
    }

    kinds(&mut s, r);

    let l = &r.loss;
    let _ = writeln!(s, "## Loss\n");
    let _ = writeln!(s, "| cause | events |\n|---|---|");
    let _ = writeln!(
        s,
        "| accepted, never visible, no outcome (silent) | {} |",
        l.silent
    );
    if l.outcome_unknown > 0 {
        let _ = writeln!(
            s,
            "| accepted, never visible, outcome unknown (the source sees no outcomes) | {} |",
            l.outcome_unknown
        );
    }
    for (reason, n) in &l.explained {
        let _ = writeln!(s, "| accepted, then dropped: `{reason}` | {n} |");
    }
    for (class, n) in l.refused.iter().filter(|(_, n)| **n > 0) {
        let _ = writeln!(s, "| refused at send: {class} | {n} |");
    }
    let _ = writeln!(s, "| transport errors | {} |", l.transport_errors);
    let _ = writeln!(s, "| backed off (429 policy) | {} |", l.backed_off);
    let _ = writeln!(
        s,
        "| dropped by the harness (not Sentry's) | {} |",
        l.harness_dropped
    );
    if l.unsupported > 0 {
        let _ = writeln!(
            s,
            "| not sent: the target's protocol cannot carry the kind | {} |",
            l.unsupported
        );
    }
    let _ = writeln!(s, "\nLoss ratio {}.\n", Percent::of(l.loss_ratio));
    if let Some(why) = &l.outcome_unknown_why {
        let _ = writeln!(s, "Outcome unknown: {why}.\n");
    }
    if !l.attachment_outcomes.is_empty() {
        let _ = writeln!(
            s,
            "Attachment outcomes (about an event's attachment, not the event: they explain no loss):\n\n| outcome | attachments |\n|---|---|"
        );
        for (label, n) in &l.attachment_outcomes {
            let _ = writeln!(s, "| `{label}` | {n} |");
        }
        let _ = writeln!(s);
    }

    if let Some(i) = &r.issues {
        let _ = writeln!(s, "## Issues\n");
        match &i.error {
            Some(e) => {
                let _ = writeln!(s, "Not checked: {e}\n");
            }
            None => {
                let _ = writeln!(s, "{} of {} found in Postgres.\n", i.found, i.expected);
                for c in &i.crash_reports {
                    let mark = if c.as_set { "" } else { " **Not as set.**" };
                    let _ = writeln!(
                        s,
                        "Crash reports of project {}: {}.{mark}\n",
                        c.project_id, c.verdict
                    );
                }
            }
        }
    }

    fidelity(&mut s, r);

    if !r.verdicts.is_empty() {
        let _ = writeln!(s, "## Verdicts\n");
        for v in &r.verdicts {
            let _ = writeln!(s, "- {v}");
        }
        let _ = writeln!(s);
    }

    if !r.gates.is_empty() {
        let _ = writeln!(s, "## Gates\n");
        let _ = writeln!(
            s,
            "| gate | threshold | measured | result |\n|---|---|---|---|"
        );
        for g in &r.gates {
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} |",
                g.gate,
                g.threshold,
                g.measured,
                if g.passed { "pass" } else { "**FAIL**" }
            );
        }
    }
    if let Some(b) = &r.baseline {
        let _ = writeln!(s, "\nBaseline: run `{}` ({}).", b.run_id, b.path);
    }
    s
}

fn kinds(s: &mut String, r: &Report) {
    if r.kinds.is_empty() {
        return;
    }
    let _ = writeln!(s, "## By kind\n");
    table(s, &tables::kinds(r));
    s.push('\n');
}

fn fidelity(s: &mut String, r: &Report) {
    let Some(f) = &r.fidelity else { return };
    let _ = writeln!(
        s,
        "## Fidelity\n\nStored events fetched from {} and compared with what was sent.\n",
        f.source
    );
    table(s, &tables::fidelity(r));
    s.push('\n');
    for fail in &f.failures {
        let _ = writeln!(
            s,
            "- seq {} `{}` ({}): {}",
            fail.seq,
            fail.event_id,
            fail.kind,
            fail.differences.join("; ")
        );
    }
    if !f.failures.is_empty() {
        s.push('\n');
    }
}

/// The capacity search: its result, per kind, and the step table.
fn capacity(s: &mut String, c: &crate::capacity::CapacitySection) {
    let _ = writeln!(s, "## Capacity\n\n**{}**\n", c.summary);
    for line in c.kind_lines() {
        let _ = writeln!(s, "- {line}");
    }
    let _ = writeln!(
        s,
        "\nEach step held its rate for {} s and was read back until visible.\n",
        c.hold_secs
    );
    table(s, &c.table());
    s.push('\n');
}

/// The pipeline probes, and which moved first.
fn probes(s: &mut String, r: &Report) {
    let Some(p) = &r.probes else {
        return;
    };
    let _ = writeln!(s, "## Pipeline probes\n");
    if let Some(t) = &p.trigger {
        let _ = writeln!(s, "Trouble began at {:.0} s: {}.\n", t.at_secs, t.what);
        for m in &p.moves {
            let _ = writeln!(s, "- {}", m.sentence);
        }
        if !p.moves.is_empty() {
            let _ = writeln!(s);
        }
    }
    table(s, &crate::probes::table(p));
}

/// Relay and the sim behind it: what Relay answered 200 and never forwarded.
fn relay_upstream(s: &mut String, r: &Report) {
    let Some(u) = &r.relay_upstream else {
        return;
    };
    let _ = writeln!(
        s,
        "## Relay and its upstream
"
    );
    let _ = writeln!(
        s,
        "{} (upstream {}, {} mode).
",
        u.sentence, u.upstream, u.mode
    );
    if u.error.is_some() {
        return;
    }
    table(s, &crate::relay_upstream::arrivals_table(u));
    s.push('\n');
    if !u.lost.is_empty() {
        let _ = writeln!(s, "Lost in Relay, the first by sequence number:\n");
        for e in &u.lost {
            let _ = writeln!(s, "- seq {} ({}) `{}`", e.seq, e.kind, e.event_id);
        }
        s.push('\n');
    }
    table(s, &crate::relay_upstream::relay_table(u));
    s.push('\n');
}

/// The disruptions and the spans around them.
fn disruptions(s: &mut String, r: &Report) {
    if r.disruptions.is_empty() {
        return;
    }
    let _ = writeln!(s, "## Disruptions\n");
    table(s, &crate::disruptions::table(&r.disruptions));
    s.push('\n');
}

/// A Markdown table.
fn table(s: &mut String, t: &tables::Table) {
    let _ = writeln!(s, "| {} |", t.headers.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(t.headers.len()));
    for row in &t.rows {
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
}

fn percentile_table(s: &mut String, what: &str, rows: &[(&str, Option<&Percentiles>)]) {
    let rows: Vec<_> = rows.iter().filter_map(|(n, p)| Some((n, (*p)?))).collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "| {what} | p50 | p90 | p95 | p99 | max |\n|---|---|---|---|---|---|"
    );
    for (name, p) in rows {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} |",
            p.p50, p.p90, p.p95, p.p99, p.max
        );
    }
    s.push('\n');
}
