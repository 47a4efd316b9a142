//! `sentry-load compare`: several runs side by side — the first is the reference, every other
//! column shows its value and the change against the reference — as Markdown (also printed)
//! and as an HTML page whose charts overlay the runs.

use crate::charts::{PALETTE, Series, XAxis, line_chart};
use crate::histogram::percentile_curve;
use crate::html::{Column, esc, figure, latency_columns, page, per_second, timeline_series};
use crate::model::Report;
use sentry_load_common::{Percent, SendOutcome};
use std::fmt::Write;

/// Reads one figure from a report, when it has it.
type Reader = Box<dyn Fn(&Report) -> Option<f64>>;

/// One compared figure: its name, and how to read it from a report.
struct Metric {
    name: String,
    value: Reader,
    form: Form,
}

/// How a figure is shown.
#[derive(Clone, Copy)]
enum Form {
    /// A number with this many digits after the point, and a unit.
    Number(usize, &'static str),
    /// A ratio: a percentage, its change in percentage points.
    Ratio,
}

impl Form {
    fn shown(self, v: f64) -> String {
        match self {
            Form::Number(digits, unit) => format!("{v:.digits$}{unit}"),
            Form::Ratio => Percent::of(v).to_string(),
        }
    }

    fn difference(self, delta: f64) -> String {
        match self {
            Form::Number(digits, _) => format!("{delta:+.digits$}"),
            Form::Ratio => Percent::points(delta).to_string(),
        }
    }
}

fn metrics(runs: &[Report]) -> Vec<Metric> {
    let m = |name: &str, digits, unit, f: fn(&Report) -> Option<f64>| Metric {
        name: name.to_owned(),
        value: Box::new(f),
        form: Form::Number(digits, unit),
    };
    // Capacity searches' results first, when any run is one.
    let mut out = if runs.iter().any(|r| r.capacity.is_some()) {
        vec![
            m("capacity: sustainable", 1, "/s", |r| {
                r.capacity.as_ref()?.sustainable_rate
            }),
            m("capacity: broke at", 1, "/s", |r| {
                r.capacity.as_ref()?.broke_at
            }),
        ]
    } else {
        Vec::new()
    };
    out.extend([
        m("target rate", 1, "/s", |r| Some(r.schedule.target_rate)),
        m("achieved rate", 1, "/s", |r| Some(r.sending.achieved_rate)),
        m("sent", 0, "", |r| Some(r.sending.started as f64)),
        m("accepted", 0, "", |r| {
            r.sending
                .outcomes
                .contains_key(SendOutcome::Accepted.as_str())
                .then(|| r.sending.count(SendOutcome::Accepted) as f64)
        }),
        m("refused", 0, "", |r| {
            Some(r.loss.refused.values().sum::<u64>() as f64)
        }),
        m("visible", 0, "", |r| Some(r.visibility.seen as f64)),
        Metric {
            name: "loss ratio".into(),
            value: Box::new(|r| Some(r.loss.loss_ratio)),
            form: Form::Ratio,
        },
        m("silent loss", 0, "", |r| Some(r.loss.silent as f64)),
        m("latency p50", 0, " ms", |r| {
            Some(r.visibility.latency_ms?.p50 as f64)
        }),
        m("latency p95", 0, " ms", |r| {
            Some(r.visibility.latency_ms?.p95 as f64)
        }),
        m("latency p99", 0, " ms", |r| {
            Some(r.visibility.latency_ms?.p99 as f64)
        }),
        m("latency max", 0, " ms", |r| {
            Some(r.visibility.latency_ms?.max as f64)
        }),
        m("send lateness p99", 0, " µs", |r| {
            Some(r.sending.lateness_us?.p99 as f64)
        }),
    ]);
    let mut kinds: Vec<String> = runs.iter().flat_map(|r| r.kinds.keys().cloned()).collect();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        let k = kind.clone();
        out.push(Metric {
            name: format!("{kind} latency p99"),
            value: Box::new(move |r| Some(r.kinds.get(&k)?.latency_ms?.p99 as f64)),
            form: Form::Number(0, " ms"),
        });
        let k = kind.clone();
        out.push(Metric {
            name: format!("{kind} loss ratio"),
            value: Box::new(move |r| Some(r.kinds.get(&k)?.loss_ratio)),
            form: Form::Ratio,
        });
    }
    out
}

/// Column headings: `A: <run id> (<profile>)`.
fn headings(runs: &[Report]) -> Vec<String> {
    runs.iter()
        .enumerate()
        .map(|(i, r)| format!("{}: {} ({})", letter(i), r.run.id, r.run.profile))
        .collect()
}

/// Each run (by index) that differs from the first in seed, schedule or mix, and how.
fn warnings(runs: &[Report]) -> Vec<(usize, String)> {
    let Some(reference) = runs.first() else {
        return Vec::new();
    };
    runs.iter()
        .enumerate()
        .skip(1)
        .filter_map(|(i, r)| {
            let d = crate::comparable::differences(reference, r);
            (!d.is_empty()).then(|| (i, d.join("; ")))
        })
        .collect()
}

fn letter(i: usize) -> char {
    (b'A' + (i % 26) as u8) as char
}

/// The cells of one row: the reference's value, then each run's value with its change.
fn cells(metric: &Metric, runs: &[Report]) -> Vec<String> {
    let base = (metric.value)(&runs[0]);
    runs.iter()
        .enumerate()
        .map(|(i, r)| {
            let Some(v) = (metric.value)(r) else {
                return "—".to_owned();
            };
            let shown = metric.form.shown(v);
            match base {
                Some(b) if i > 0 => {
                    let delta = v - b;
                    let rel = if b != 0.0 {
                        format!(", {}", Percent::change(delta / b))
                    } else {
                        String::new()
                    };
                    format!("{shown} ({}{rel})", metric.form.difference(delta))
                }
                _ => shown,
            }
        })
        .collect()
}

/// The comparison as Markdown.
pub fn compare_markdown(runs: &[Report]) -> String {
    let mut s = String::from("# sentry-load comparison\n\n");
    for (i, why) in warnings(runs) {
        let _ = writeln!(s, "> **{} is not comparable with A:** {why}\n", letter(i));
    }
    let heads = headings(runs);
    let _ = writeln!(s, "| | {} |", heads.join(" | "));
    let _ = writeln!(s, "|---|{}", "---|".repeat(runs.len()));
    for metric in metrics(runs) {
        let _ = writeln!(
            s,
            "| {} | {} |",
            metric.name,
            cells(&metric, runs).join(" | ")
        );
    }
    let verdicts: Vec<&str> = runs
        .iter()
        .map(|r| if r.passed { "passed" } else { "failed" })
        .collect();
    let _ = writeln!(s, "| gates | {} |", verdicts.join(" | "));
    s.push_str("\nChanges are against A; latency in ms from intended send to first seen.\n");
    s
}

/// The comparison as an HTML page with overlaid charts.
pub fn compare_html(runs: &[Report]) -> String {
    let mut b = String::from("<h1>sentry-load comparison</h1>");
    for (i, why) in warnings(runs) {
        let _ = write!(
            b,
            "<p class=\"warning\"><strong>{} is not comparable with A:</strong> {}</p>",
            letter(i),
            esc(&why)
        );
    }
    b.push_str("<table><tr><th></th>");
    for h in headings(runs) {
        let _ = write!(b, "<th>{}</th>", esc(&h));
    }
    b.push_str("</tr>");
    for metric in metrics(runs) {
        let _ = write!(b, "<tr><td>{}</td>", esc(&metric.name));
        for c in cells(&metric, runs) {
            let _ = write!(b, "<td>{}</td>", esc(&c));
        }
        b.push_str("</tr>");
    }
    b.push_str("</table><p>Changes are against A.</p>");
    let overlay = |column: Column, rate: bool| {
        runs.iter()
            .enumerate()
            .flat_map(|(i, r)| {
                let t = &r.timeline;
                let s = timeline_series(
                    &t.points,
                    t.bucket_secs,
                    &[column],
                    &format!("{} ", letter(i)),
                    i,
                    i > 0,
                );
                if rate {
                    per_second(s, t.bucket_secs)
                } else {
                    s
                }
            })
            .collect::<Vec<Series>>()
    };
    let visible: Column = ("visible/s", |p| Some(p.visible as f64));
    let accepted: Column = ("accepted/s", |p| Some(p.accepted as f64));
    let p99 = latency_columns()[2];
    let charts = [
        line_chart(
            "Accepted per second",
            XAxis::Seconds,
            "per second",
            &overlay(accepted, true),
        ),
        line_chart(
            "Visible per second",
            XAxis::Seconds,
            "per second",
            &overlay(visible, true),
        ),
        line_chart(
            "p99 visibility latency over time",
            XAxis::Seconds,
            "ms",
            &overlay(p99, false),
        ),
        line_chart(
            "Visibility latency distribution",
            XAxis::Percentile,
            "ms",
            &runs
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    Some(Series {
                        label: format!("{} {}", letter(i), r.run.id),
                        color: PALETTE[i % PALETTE.len()],
                        dashed: i > 0,
                        points: percentile_curve(r.visibility.latency_histogram.as_deref()?)?,
                    })
                })
                .collect::<Vec<_>>(),
        ),
    ];
    for svg in charts.into_iter().flatten() {
        figure(&mut b, &svg);
    }
    page("sentry-load comparison", &b)
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
