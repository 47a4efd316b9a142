//! The over-time charts of one run in `report.html`: rates (planned, sent, accepted, visible,
//! each refusal status on its own line, backed-off sends) and visibility latency, drawn on one
//! shared time axis over the schedule's stage boundaries, the moment the run was stopped, and
//! the stretches where the target refused or failed sends.
//!
//! A send-side line ends where the schedule ended: after it nothing was planned or sent, and a
//! line falling to 0 there would draw a collapse that never happened. The last bucket of the
//! schedule is divided by the part of it the schedule covered, not by its whole width.

use crate::charts::{Decor, PALETTE, Series, XAxis, decorated_line_chart};
use crate::html::{latency_columns, timeline_series};
use crate::model::{Report, TimelinePoint};
use plotters::style::RGBColor;

/// The rates chart and the latency chart, on the same time axis.
pub fn charts(r: &Report) -> Vec<String> {
    let decor = decor(r);
    let t = &r.timeline;
    let latency = timeline_series(&t.points, t.bucket_secs, &latency_columns(), "", 0, false);
    [
        decorated_line_chart(
            "Envelopes per second",
            XAxis::Seconds,
            "per second",
            &rates(r),
            &decor,
        ),
        decorated_line_chart(
            "Visibility latency of the events sent in each interval",
            XAxis::Seconds,
            "ms",
            &latency,
            &decor,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Lines a probe chart draws at most (the largest first).
const PROBE_LINES: usize = 8;

/// One chart per probe and unit, on the same time axis and marks as the load's, titled
/// "probe: unit".
pub fn probe_charts(r: &Report) -> Vec<(String, String)> {
    let Some(p) = &r.probes else {
        return Vec::new();
    };
    let decor = decor(r);
    let mut out = Vec::new();
    for track in &p.tracks {
        let mut units: Vec<&str> = track.series.iter().map(|s| s.unit.as_str()).collect();
        units.dedup();
        units.sort_unstable();
        units.dedup();
        for unit in units {
            let mut series: Vec<&crate::probes::ProbeSeries> =
                track.series.iter().filter(|s| s.unit == unit).collect();
            let peak =
                |s: &crate::probes::ProbeSeries| s.points.iter().map(|p| p.1).fold(0f64, f64::max);
            series.sort_by(|a, b| peak(b).total_cmp(&peak(a)));
            series.truncate(PROBE_LINES);
            let lines: Vec<Series> = series
                .iter()
                .enumerate()
                .map(|(i, s)| Series {
                    label: s.name.clone(),
                    color: PALETTE[i % PALETTE.len()],
                    dashed: false,
                    points: s.points.clone(),
                })
                .collect();
            let title = format!("{}: {unit}", track.name);
            if let Some(svg) = decorated_line_chart(&title, XAxis::Seconds, unit, &lines, &decor) {
                out.push((title, svg));
            }
        }
    }
    out
}

/// Where sending ended: the schedule's end, or the moment the run was stopped.
fn send_end(r: &Report) -> f64 {
    r.schedule.duration_secs.max(0.0)
}

/// A send-side count per second: each bucket up to the end of sending, divided by the part of
/// it sending covered, drawn at that part's middle.
fn sending_line(
    r: &Report,
    label: String,
    color: RGBColor,
    count: impl Fn(&TimelinePoint) -> u64,
) -> Series {
    let bucket = r.timeline.bucket_secs.max(1) as f64;
    let end = send_end(r);
    let points = r
        .timeline
        .points
        .iter()
        .filter(|p| (p.t as f64) < end)
        .map(|p| {
            let width = bucket.min(end - p.t as f64).max(1e-3);
            (p.t as f64 + width / 2.0, count(p) as f64 / width)
        })
        .collect();
    Series {
        label,
        color,
        dashed: false,
        points,
    }
}

/// Every rate line: planned, sent, accepted, visible, then one per refusal status and the
/// backed-off sends, where the run had any.
fn rates(r: &Report) -> Vec<Series> {
    let bucket = r.timeline.bucket_secs.max(1) as f64;
    let mut out = vec![
        sending_line(r, "planned".into(), PALETTE[0], |p| p.planned),
        sending_line(r, "sent".into(), PALETTE[1], |p| p.sent),
        sending_line(r, "accepted".into(), PALETTE[2], |p| p.accepted),
    ];
    out.push(Series {
        label: "visible".into(),
        color: PALETTE[5],
        dashed: false,
        points: r
            .timeline
            .points
            .iter()
            .map(|p| (p.t as f64 + bucket / 2.0, p.visible as f64 / bucket))
            .collect(),
    });
    let mut statuses: Vec<&String> = r
        .timeline
        .points
        .iter()
        .flat_map(|p| p.refused_by_status.keys())
        .collect();
    statuses.sort();
    statuses.dedup();
    for (i, status) in statuses.into_iter().enumerate() {
        let color = STATUS_COLORS[i % STATUS_COLORS.len()];
        out.push(sending_line(r, format!("refused {status}"), color, |p| {
            p.refused_by_status.get(status).copied().unwrap_or(0)
        }));
    }
    if r.timeline.points.iter().any(|p| p.backed_off > 0) {
        out.push(Series {
            dashed: true,
            ..sending_line(r, "backed off".into(), PALETTE[7], |p| p.backed_off)
        });
    }
    out.retain(|s| s.points.iter().any(|p| p.1 > 0.0));
    out
}

/// Colours of the refusal lines, apart from the four above.
const STATUS_COLORS: [RGBColor; 4] = [PALETTE[3], PALETTE[4], PALETTE[6], PALETTE[7]];

/// The marks both charts share.
fn decor(r: &Report) -> Decor {
    let bucket = r.timeline.bucket_secs.max(1) as f64;
    let timeline_end = r
        .timeline
        .points
        .last()
        .map_or(0.0, |p| p.t as f64 + bucket);
    let gray = RGBColor(110, 110, 110);
    let mut lines: Vec<(f64, String, RGBColor)> = r
        .schedule
        .stages
        .iter()
        .skip(1)
        .filter(|s| s.start_secs < send_end(r))
        .map(|s| (s.start_secs, format!("{:.0}/s", s.from_rate), gray))
        .collect();
    if let Some((how, _)) = r.run.stopped() {
        lines.push((send_end(r), how.into(), RGBColor(214, 39, 40)));
    }
    // Each disruption's command, from its start to its end.
    for d in &r.disruptions {
        lines.push((d.mark.start_secs, d.mark.name.clone(), PALETTE[2]));
        lines.push((d.mark.end_secs, "↳ done".into(), PALETTE[2]));
    }
    Decor {
        x_max: Some(timeline_end.max(send_end(r))),
        lines,
        bands: trouble(&r.timeline.points, bucket),
    }
}

/// Stretches of buckets where sends were refused or failed (transport errors, not the
/// harness's own drops or back-offs), merged when they touch.
fn trouble(points: &[TimelinePoint], bucket: f64) -> Vec<(f64, f64, String)> {
    let mut bands: Vec<(f64, f64, String)> = Vec::new();
    for p in points {
        let refused: u64 = p.refused_by_status.values().sum();
        if refused.max(p.refused) == 0 && p.failed.saturating_sub(p.backed_off) == 0 {
            continue;
        }
        let (from, to) = (p.t as f64, p.t as f64 + bucket);
        match bands.last_mut() {
            Some(last) if (last.1 - from).abs() < 1e-9 => last.1 = to,
            _ => bands.push((from, to, "refused or failed".into())),
        }
    }
    bands
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StageMark;

    fn report() -> Report {
        serde_json::from_str(include_str!("../tests/fixtures/report.json")).unwrap()
    }

    fn point(t: u64, planned: u64, refused: &[(&str, u64)]) -> TimelinePoint {
        TimelinePoint {
            t,
            planned,
            sent: planned,
            accepted: planned - refused.iter().map(|r| r.1).sum::<u64>(),
            refused: refused.iter().map(|r| r.1).sum(),
            refused_by_status: refused.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            ..TimelinePoint::default()
        }
    }

    #[test]
    fn each_refusal_status_has_its_line_and_sending_lines_end_with_sending() {
        let mut r = report();
        r.schedule.duration_secs = 3.5;
        r.timeline.bucket_secs = 1;
        r.timeline.points = vec![
            point(0, 100, &[]),
            point(1, 100, &[("429", 30), ("503", 5)]),
            point(2, 100, &[("429", 10)]),
            // Half a bucket of schedule: 50 planned in 0.5 s is 100/s, not 50/s.
            point(3, 50, &[]),
            // Only stragglers became visible after the schedule.
            TimelinePoint {
                t: 4,
                visible: 20,
                ..TimelinePoint::default()
            },
        ];
        let lines = rates(&r);
        let labels: Vec<&str> = lines.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "planned",
                "sent",
                "accepted",
                "visible",
                "refused 429",
                "refused 503"
            ]
        );
        let planned = &lines[0].points;
        assert_eq!(planned.len(), 4, "no point after the schedule: {planned:?}");
        assert_eq!(planned[3], (3.25, 100.0));
        assert_eq!(lines[4].points[1], (1.5, 30.0));
        // The stragglers' line goes on past the schedule.
        assert_eq!(lines[3].points.last(), Some(&(4.5, 20.0)));
        let bands = trouble(&r.timeline.points, 1.0);
        assert_eq!(bands, [(1.0, 3.0, "refused or failed".to_owned())]);
    }

    #[test]
    fn stage_boundaries_and_the_stop_are_marked_on_one_time_axis() {
        let mut r = report();
        r.schedule.duration_secs = 25.0;
        r.schedule.stages = vec![
            StageMark {
                start_secs: 0.0,
                end_secs: 10.0,
                from_rate: 100.0,
                to_rate: 100.0,
            },
            StageMark {
                start_secs: 10.0,
                end_secs: 40.0,
                from_rate: 400.0,
                to_rate: 400.0,
            },
        ];
        r.run.interrupted = Some("by the abort gate …".into());
        r.run.aborted_by = Some("abort.max_failed_ratio".into());
        let d = decor(&r);
        let marks: Vec<(f64, &str)> = d.lines.iter().map(|l| (l.0, l.1.as_str())).collect();
        assert_eq!(marks, [(10.0, "400/s"), (25.0, "aborted")]);
        let charts = charts(&r);
        assert_eq!(charts.len(), 2);
        for svg in &charts {
            assert!(svg.contains("400/s") && svg.contains("aborted"));
        }
    }
}
