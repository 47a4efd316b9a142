//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, nothing fetched)
//! with the run's figures as tables and charts — rates over time, latency over time, each
//! kind's latency distribution and the loss breakdown. Also the page frame `compare.html`
//! shares.

use crate::charts::{PALETTE, Series, XAxis, bar_chart, line_chart};
use crate::histogram::{Percentiles, percentile_curve};
use crate::model::{Report, TimelinePoint};
use crate::tables;
use sentry_load_common::{Percent, SendOutcome};
use std::fmt::Write;

/// The report as an HTML page.
pub fn render_html(r: &Report) -> String {
    let mut b = String::new();
    let verdict = if r.passed { "passed" } else { "failed" };
    let _ = write!(
        b,
        "<h1>Run <code>{}</code> <span class=\"badge {verdict}\">{verdict}</span></h1>",
        esc(&r.run.id)
    );
    let _ = write!(
        b,
        "<p class=\"meta\">profile <code>{}</code> · seed {} · target <code>{}</code> · \
         started {} · read back from {} · sentry-load {}</p>",
        esc(&r.run.profile),
        r.run.seed,
        esc(&r.run.target),
        esc(&r.run.started_at),
        esc(&r.visibility.source),
        esc(&r.tool_version)
    );
    if let Some((how, why)) = r.run.stopped() {
        let _ = write!(b, "<p class=\"stopped\"><b>Run {how}</b> {}</p>", esc(why));
    }
    for n in &r.run.notes {
        let _ = write!(b, "<p class=\"meta\">note: {}</p>", esc(n));
    }
    if let Some(c) = &r.capacity {
        capacity(&mut b, c);
    }
    tiles(&mut b, r);
    gates(&mut b, r);
    sending(&mut b, r);
    disruptions(&mut b, r);
    b.push_str("<h2>Over time</h2>");
    for svg in crate::over_time::charts(r) {
        figure(&mut b, &svg);
    }
    probes(&mut b, r);
    relay_upstream(&mut b, r);
    b.push_str("<h2>By kind</h2>");
    table(&mut b, &tables::kinds(r));
    if let Some(svg) = kind_latency_chart(r) {
        figure(&mut b, &svg);
    }
    b.push_str("<h2>Loss</h2>");
    match bar_chart(
        "Events that did not become visible, by cause",
        &loss_bars(r),
    ) {
        Some(svg) => figure(&mut b, &svg),
        None => b.push_str("<p>Every offered event became visible.</p>"),
    }
    loss_details(&mut b, r);
    stages(&mut b, r);
    postgres(&mut b, r);
    fidelity(&mut b, r);
    page(&format!("sentry-load {}", r.run.id), &b)
}

/// A complete page around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>{body}</body></html>\n",
        esc(title)
    )
}

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:960px;\
color:#222;padding:0 12px}h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px \
solid #ddd}code{font-size:13px;background:#f4f4f4;padding:1px 4px;border-radius:3px}\
.meta{color:#555}.badge{font-size:14px;padding:2px 10px;border-radius:10px;color:#fff}\
.passed{background:#2ca02c}.failed{background:#d62728}table{border-collapse:collapse;\
margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}\
th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}\
.tiles{display:flex;flex-wrap:wrap;gap:10px}.tile{border:1px solid #ddd;border-radius:6px;\
padding:8px 12px;min-width:120px}.tile b{display:block;font-size:20px}\
figure{margin:10px 0}svg{max-width:100%;height:auto}tr.fail td{color:#b00}\
.stopped{border-left:4px solid #d62728;padding:4px 10px;background:#fdf0f0}";

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Appends a chart.
pub fn figure(b: &mut String, svg: &str) {
    let _ = write!(b, "<figure>{svg}</figure>");
}

fn tiles(b: &mut String, r: &Report) {
    let lat = |f: fn(&Percentiles) -> u64| {
        r.visibility
            .latency_ms
            .as_ref()
            .map_or("—".to_owned(), |p| format!("{} ms", f(p)))
    };
    let tiles = [
        ("sent", format!("{}", r.sending.started)),
        (
            "achieved rate",
            format!(
                "{:.1}/s ({})",
                r.sending.achieved_rate,
                Percent::of(r.sending.achieved_rate_ratio)
            ),
        ),
        (
            "accepted",
            format!("{}", r.sending.count(SendOutcome::Accepted)),
        ),
        ("visible", format!("{}", r.visibility.seen)),
        ("loss ratio", Percent::of(r.loss.loss_ratio).to_string()),
        (
            "silent loss",
            if r.loss.outcome_unknown > 0 {
                format!("unknown ({} missing)", r.loss.outcome_unknown)
            } else {
                format!("{}", r.loss.silent)
            },
        ),
        ("p50 visible", lat(|p| p.p50)),
        ("p99 visible", lat(|p| p.p99)),
    ];
    b.push_str("<div class=\"tiles\">");
    for (name, value) in tiles {
        let _ = write!(b, "<div class=\"tile\">{name}<b>{}</b></div>", esc(&value));
    }
    b.push_str("</div>");
}

fn gates(b: &mut String, r: &Report) {
    if !r.verdicts.is_empty() {
        b.push_str("<h2>Verdicts</h2><ul>");
        for v in &r.verdicts {
            let _ = write!(b, "<li>{}</li>", esc(v));
        }
        b.push_str("</ul>");
    }
    b.push_str("<h2>Gates</h2>");
    if r.gates.is_empty() {
        b.push_str("<p>The profile sets no gates.</p>");
        return;
    }
    b.push_str("<table><tr><th>gate</th><th>threshold</th><th>measured</th><th></th></tr>");
    for g in &r.gates {
        let _ = write!(
            b,
            "<tr class=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if g.passed { "pass" } else { "fail" },
            esc(&g.gate),
            esc(&g.threshold),
            esc(&g.measured),
            if g.passed { "pass" } else { "FAIL" }
        );
    }
    b.push_str("</table>");
    if let Some(base) = &r.baseline {
        let _ = write!(
            b,
            "<p>Baseline: run <code>{}</code> ({}).</p>",
            esc(&base.run_id),
            esc(&base.path)
        );
    }
}

/// A timeline column: its label, and how to read it from a point.
pub type Column = (&'static str, fn(&TimelinePoint) -> Option<f64>);

/// Per-second rates from a timeline, one series per column.
pub fn timeline_series(
    points: &[TimelinePoint],
    bucket_secs: u64,
    columns: &[Column],
    label_prefix: &str,
    first_color: usize,
    dashed: bool,
) -> Vec<Series> {
    let per = bucket_secs.max(1) as f64;
    columns
        .iter()
        .enumerate()
        .map(|(i, (label, pick))| Series {
            label: format!("{label_prefix}{label}"),
            color: PALETTE[(first_color + i) % PALETTE.len()],
            dashed,
            points: points
                .iter()
                .filter_map(|p| Some((p.t as f64 + per / 2.0, pick(p)?)))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

/// The rate columns: planned, sent, accepted, visible, refused — per second.
pub fn rate_columns() -> Vec<Column> {
    vec![
        ("planned", |p| Some(p.planned as f64)),
        ("sent", |p| Some(p.sent as f64)),
        ("accepted", |p| Some(p.accepted as f64)),
        ("visible", |p| Some(p.visible as f64)),
        ("refused", |p| Some(p.refused as f64)),
    ]
}

/// The latency columns: p50, p95, p99 of the events meant for each bucket.
pub fn latency_columns() -> Vec<Column> {
    vec![
        ("p50", |p| p.latency_p50_ms.map(|v| v as f64)),
        ("p95", |p| p.latency_p95_ms.map(|v| v as f64)),
        ("p99", |p| p.latency_p99_ms.map(|v| v as f64)),
    ]
}

/// Counts per bucket divided by the bucket width.
pub fn per_second(mut series: Vec<Series>, bucket_secs: u64) -> Vec<Series> {
    for s in &mut series {
        for p in &mut s.points {
            p.1 /= bucket_secs.max(1) as f64;
        }
    }
    series
}

fn kind_latency_chart(r: &Report) -> Option<String> {
    let series: Vec<Series> = r
        .kinds
        .iter()
        .enumerate()
        .filter_map(|(i, (kind, k))| {
            Some(Series {
                label: kind.clone(),
                color: PALETTE[i % PALETTE.len()],
                dashed: false,
                points: percentile_curve(k.latency_histogram.as_deref()?)?,
            })
        })
        .collect();
    line_chart(
        "Visibility latency by kind",
        XAxis::Percentile,
        "ms",
        &series,
    )
}

/// What was sent and how it ended, as report.md shows it: outcomes, statuses, timing, bytes.
fn sending(b: &mut String, r: &Report) {
    b.push_str("<h2>Sending</h2>");
    for t in [tables::outcomes(r), tables::statuses(r), tables::timing(r)] {
        if !t.rows.is_empty() {
            table(b, &t);
        }
    }
    let sd = &r.sending;
    let _ = write!(
        b,
        "<p>{} bytes sent · {} sends started more than {} ms behind schedule.</p>",
        sd.bytes, sd.late, sd.late_after_ms
    );
}

/// The capacity search: its result, per kind, the step table and its charts.
fn capacity(b: &mut String, c: &crate::capacity::CapacitySection) {
    let _ = write!(
        b,
        "<h2>Capacity</h2><p class=\"stopped\"><b>{}</b></p><ul>",
        esc(&c.summary)
    );
    for line in c.kind_lines() {
        let _ = write!(b, "<li>{}</li>", esc(&line));
    }
    let _ = write!(
        b,
        "</ul><p class=\"meta\">Each step held its rate for {} s and was read back until \
         visible; the figures below the step table are those of the highest step that held.</p>",
        c.hold_secs
    );
    table(b, &c.table());
    for svg in c.charts() {
        figure(b, &svg);
    }
}

/// Relay and the sim behind it: what Relay answered 200 and never forwarded.
fn relay_upstream(b: &mut String, r: &Report) {
    let Some(u) = &r.relay_upstream else {
        return;
    };
    b.push_str("<h2>Relay and its upstream</h2>");
    let _ = write!(
        b,
        "<p>{} (upstream {}, {} mode).</p>",
        esc(&u.sentence),
        esc(&u.upstream),
        esc(&u.mode)
    );
    if u.error.is_some() {
        return;
    }
    table(b, &crate::relay_upstream::arrivals_table(u));
    if !u.lost.is_empty() {
        b.push_str("<p>Lost in Relay, the first by sequence number:</p><ul>");
        for e in &u.lost {
            let _ = write!(
                b,
                "<li>seq {} ({}) <code>{}</code></li>",
                e.seq,
                esc(&e.kind),
                esc(&e.event_id)
            );
        }
        b.push_str("</ul>");
    }
    table(b, &crate::relay_upstream::relay_table(u));
}

/// The pipeline probes: which series moved first, each probe's state, its charts on the run's
/// time axis.
fn probes(b: &mut String, r: &Report) {
    let Some(p) = &r.probes else {
        return;
    };
    b.push_str("<h2>Pipeline probes</h2>");
    match (&p.trigger, p.moves.is_empty()) {
        (Some(t), false) => {
            let _ = write!(
                b,
                "<p>Moved before {} (at {:.0} s):</p><ul>",
                esc(&t.what),
                t.at_secs
            );
            for m in &p.moves {
                let _ = write!(b, "<li>{}</li>", esc(&m.sentence));
            }
            b.push_str("</ul>");
        }
        (Some(t), true) => {
            let _ = write!(
                b,
                "<p>No probe moved before {} (at {:.0} s).</p>",
                esc(&t.what),
                t.at_secs
            );
        }
        (None, _) => b.push_str("<p>No trouble on the timeline to explain.</p>"),
    }
    table(b, &crate::probes::table(p));
    for (title, svg) in crate::over_time::probe_charts(r) {
        let _ = write!(b, "<h3>{}</h3>", esc(&title));
        figure(b, &svg);
    }
}

/// The disruptions and the spans around them.
fn disruptions(b: &mut String, r: &Report) {
    if r.disruptions.is_empty() {
        return;
    }
    b.push_str("<h2>Disruptions</h2><ul>");
    for d in &r.disruptions {
        let _ = write!(b, "<li>{}</li>", esc(&d.sentence()));
    }
    b.push_str("</ul>");
    table(b, &crate::disruptions::table(&r.disruptions));
}

/// An HTML table.
fn table(b: &mut String, t: &tables::Table) {
    b.push_str("<table><tr>");
    for h in t.headers {
        let _ = write!(b, "<th>{}</th>", esc(h));
    }
    b.push_str("</tr>");
    for row in &t.rows {
        b.push_str("<tr>");
        for cell in row {
            let _ = write!(b, "<td>{}</td>", esc(cell));
        }
        b.push_str("</tr>");
    }
    b.push_str("</table>");
}

/// The loss causes, as bar-chart rows.
pub fn loss_bars(r: &Report) -> Vec<(String, u64)> {
    let l = &r.loss;
    let mut bars = vec![("silent (accepted, vanished)".to_owned(), l.silent)];
    if l.outcome_unknown > 0 {
        bars.push(("missing, outcome unknown".to_owned(), l.outcome_unknown));
    }
    bars.extend(
        l.explained
            .iter()
            .map(|(k, n)| (format!("outcome {k}"), *n)),
    );
    bars.extend(l.refused.iter().map(|(k, n)| (format!("refused: {k}"), *n)));
    bars.push(("transport error".into(), l.transport_errors));
    bars.push(("backed off (429)".into(), l.backed_off));
    bars.push(("unverified (lookup failed)".into(), r.visibility.unverified));
    bars.push(("harness dropped (not Sentry's)".into(), l.harness_dropped));
    if l.unsupported > 0 {
        bars.push(("not sent: kind unsupported by target".into(), l.unsupported));
    }
    bars
}

fn loss_details(b: &mut String, r: &Report) {
    let l = &r.loss;
    if let Some(why) = &l.outcome_unknown_why {
        let _ = write!(b, "<p>Outcome unknown: {}.</p>", esc(why));
    }
    if !l.attachment_outcomes.is_empty() {
        b.push_str(
            "<p>Attachment outcomes (about an event's attachment, not the event: they explain \
             no loss):</p><table><tr><th>outcome</th><th>attachments</th></tr>",
        );
        for (label, n) in &l.attachment_outcomes {
            let _ = write!(
                b,
                "<tr><td><code>{}</code></td><td>{n}</td></tr>",
                esc(label)
            );
        }
        b.push_str("</table>");
    }
    if l.missing_events.is_empty() {
        return;
    }
    let unexplained = if l.outcome_unknown > 0 {
        "unknown: the source sees no outcomes"
    } else {
        "none: silent"
    };
    let _ = write!(
        b,
        "<p>{} accepted events never became visible (first 50 listed):</p>\
         <table><tr><th>seq</th><th>event id</th><th>project</th><th>outcome</th></tr>",
        r.visibility.missing
    );
    for m in l.missing_events.iter().take(50) {
        let _ = write!(
            b,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            m.seq,
            esc(&m.event_id),
            m.project_id,
            esc(m.outcome.as_deref().unwrap_or(unexplained))
        );
    }
    b.push_str("</table>");
}

fn stages(b: &mut String, r: &Report) {
    if r.visibility.stages.is_empty() && r.visibility.stages_unavailable.is_empty() {
        return;
    }
    b.push_str("<h2>Stages</h2>");
    for (kind, why) in &r.visibility.stages_unavailable {
        let _ = write!(b, "<p>{}: {}.</p>", esc(kind), esc(why));
    }
    if r.visibility.stages.is_empty() {
        return;
    }
    b.push_str(
        "<table><tr><th>stage</th><th>resolution</th><th>p50</th><th>p95</th>\
         <th>p99</th><th>max</th></tr>",
    );
    for s in &r.visibility.stages {
        let p = &s.seconds;
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{} s</td><td>{} s</td><td>{} s</td><td>{} s</td></tr>",
            esc(&s.stage),
            esc(&s.resolution),
            p.p50,
            p.p95,
            p.p99,
            p.max
        );
    }
    b.push_str("</table>");
}

fn postgres(b: &mut String, r: &Report) {
    let Some(i) = &r.issues else { return };
    b.push_str("<h2>Postgres</h2>");
    match &i.error {
        Some(e) => {
            let _ = write!(b, "<p>Not checked: {}</p>", esc(e));
        }
        None => {
            let _ = write!(
                b,
                "<p>{} of {} issues the seen events were grouped into exist in \
                 <code>sentry_groupedmessage</code>.</p>",
                i.found, i.expected
            );
            for c in &i.crash_reports {
                let mark = if c.as_set { "" } else { " <b>Not as set.</b>" };
                let _ = write!(
                    b,
                    "<p>Crash reports of project {} (minidumps in \
                     <code>sentry_eventattachment</code>): {}.{mark}</p>",
                    c.project_id,
                    esc(&c.verdict)
                );
            }
        }
    }
}

fn fidelity(b: &mut String, r: &Report) {
    let Some(f) = &r.fidelity else { return };
    let _ = write!(
        b,
        "<h2>Fidelity</h2><p>Stored events fetched from {} and compared with what was sent.</p>",
        esc(&f.source)
    );
    table(b, &tables::fidelity(r));
    for fail in f.failures.iter().take(20) {
        let _ = write!(
            b,
            "<p>seq {} <code>{}</code> ({}):</p><ul>",
            fail.seq,
            esc(&fail.event_id),
            esc(&fail.kind)
        );
        for d in &fail.differences {
            let _ = write!(b, "<li>{}</li>", esc(d));
        }
        b.push_str("</ul>");
    }
}
