//! SVG charts for `report.html` and `compare.html`, drawn with plotters' SVG backend: line
//! charts over time, latency percentile curves, and a bar chart of loss causes. Each chart is
//! one self-contained `<svg>` string.

use plotters::prelude::*;

/// Chart size in pixels.
const SIZE: (u32, u32) = (920, 330);

/// Line colours, in order.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(214, 39, 40),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
    RGBColor(140, 86, 75),
    RGBColor(127, 127, 127),
];

/// One line.
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Colour.
    pub color: RGBColor,
    /// Drawn dashed (a second run in an overlay).
    pub dashed: bool,
    /// Points, in x order.
    pub points: Vec<(f64, f64)>,
}

/// How the x axis of a line chart is labelled.
#[derive(Clone, Copy)]
pub enum XAxis {
    /// Seconds since time zero.
    Seconds,
    /// Percentiles, spaced as −log10(1 − q): 0, 90, 99, 99.9 … evenly apart.
    Percentile,
    /// Offered envelopes per second (a capacity search's steps).
    Rate,
}

/// What is drawn behind a chart's lines, on its time axis.
#[derive(Debug, Clone, Default)]
pub struct Decor {
    /// The x axis ends here at least: charts of one run share their time axis.
    pub x_max: Option<f64>,
    /// Vertical lines, with a short label at the top: stage boundaries, the moment a run
    /// was stopped.
    pub lines: Vec<(f64, String, RGBColor)>,
    /// Shaded stretches, `(from, to)`, with a label: where the target refused or failed.
    pub bands: Vec<(f64, f64, String)>,
}

/// Width of the legend column, right of the plot: the legend never covers a line.
const LEGEND_WIDTH: u32 = 170;

/// A line chart; `None` when nothing could be drawn (no points).
pub fn line_chart(title: &str, x: XAxis, y_desc: &str, series: &[Series]) -> Option<String> {
    decorated_line_chart(title, x, y_desc, series, &Decor::default())
}

/// A line chart over `decor`'s marks, its legend in a column of its own.
pub fn decorated_line_chart(
    title: &str,
    x: XAxis,
    y_desc: &str,
    series: &[Series],
    decor: &Decor,
) -> Option<String> {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x_max, mut y_max) = (decor.x_max.unwrap_or(0.0), 0f64);
    let mut any = false;
    for &(px, py) in all {
        x_max = x_max.max(px);
        y_max = y_max.max(py);
        any = true;
    }
    if !any {
        return None;
    }
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    // Room above the highest point for the marks' labels.
    let y_max = if y_max > 0.0 { y_max * 1.15 } else { 1.0 };
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(38)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        let x_desc = match x {
            XAxis::Seconds => "seconds since time zero",
            XAxis::Percentile => "percentile",
            XAxis::Rate => "offered envelopes per second",
        };
        let x_labels = match x {
            XAxis::Seconds | XAxis::Rate => 10,
            // One label per decade: p0, p90, p99, p99.9, p99.99.
            XAxis::Percentile => x_max.ceil() as usize + 1,
        };
        chart
            .configure_mesh()
            .x_labels(x_labels)
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&|v| match x {
                XAxis::Seconds if (v - v.round()).abs() < 1e-6 => format!("{v:.0}"),
                XAxis::Seconds => format!("{v:.1}"),
                XAxis::Rate => compact(*v),
                XAxis::Percentile => percentile_label(*v),
            })
            .y_label_formatter(&|v| compact(*v))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()?;
        let band_color = RGBColor(214, 39, 40);
        for (from, to, label) in &decor.bands {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(*from, 0.0), (*to, y_max)],
                band_color.mix(0.08).filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                label.clone(),
                (*from, y_max * 0.93),
                ("sans-serif", 11).into_font().color(&band_color),
            )))?;
        }
        for (at, label, color) in &decor.lines {
            chart.draw_series(DashedLineSeries::new(
                [(*at, 0.0), (*at, y_max)],
                4,
                4,
                color.mix(0.7).stroke_width(1),
            ))?;
            chart.draw_series(std::iter::once(Text::new(
                label.clone(),
                (*at, y_max * 0.99),
                ("sans-serif", 11).into_font().color(color),
            )))?;
        }
        for s in series {
            let style = ShapeStyle::from(&s.color).stroke_width(2);
            if s.dashed {
                chart.draw_series(DashedLineSeries::new(s.points.iter().copied(), 6, 4, style))?;
            } else {
                chart.draw_series(LineSeries::new(s.points.iter().copied(), style))?;
            }
        }
        // The legend, beside the plot.
        for (i, s) in series.iter().enumerate() {
            let y = 48 + 20 * i as i32;
            let style = ShapeStyle::from(&s.color).stroke_width(2);
            if s.dashed {
                legend.draw(&PathElement::new(vec![(4, y), (10, y)], style))?;
                legend.draw(&PathElement::new(vec![(14, y), (20, y)], style))?;
            } else {
                legend.draw(&PathElement::new(vec![(4, y), (20, y)], style))?;
            }
            legend.draw(&Text::new(
                s.label.clone(),
                (26, y - 7),
                ("sans-serif", 13).into_font(),
            ))?;
        }
        root.present()?;
        Ok(())
    })()
    .is_ok();
    drawn.then_some(svg)
}

/// A horizontal bar chart of named counts (zero counts are left out); `None` when every
/// count is zero.
pub fn bar_chart(title: &str, bars: &[(String, u64)]) -> Option<String> {
    let bars: Vec<&(String, u64)> = bars.iter().filter(|(_, n)| *n > 0).collect();
    if bars.is_empty() {
        return None;
    }
    let max = bars.iter().map(|(_, n)| *n).max().unwrap_or(1) as f64;
    let height = 70 + 34 * bars.len() as u32;
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(10)
            .build_cartesian_2d(0f64..max * 1.35, 0f64..bars.len() as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_label_formatter(&|v| compact(*v))
            .light_line_style(RGBColor(238, 238, 238))
            .draw()?;
        for (i, (name, n)) in bars.iter().enumerate() {
            let top = bars.len() as f64 - i as f64;
            let color = PALETTE[(i + 3) % PALETTE.len()];
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, top - 0.2), (*n as f64, top - 0.8)],
                color.filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("{name}: {n}"),
                (*n as f64 + max * 0.01, top - 0.35),
                ("sans-serif", 13),
            )))?;
        }
        root.present()?;
        Ok(())
    })()
    .is_ok();
    drawn.then_some(svg)
}

/// The x position of quantile `q` on a percentile axis.
pub fn percentile_x(q: f64) -> f64 {
    -(1.0 - q.min(0.99999)).log10()
}

fn percentile_label(x: f64) -> String {
    let q = 1.0 - 10f64.powf(-x);
    let pct = q * 100.0;
    if pct < 99.0 {
        format!("p{pct:.0}")
    } else {
        format!(
            "p{}",
            format!("{pct:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
        )
    }
}

/// 1234 → "1.2k", 2500000 → "2.5M".
fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_their_labels_and_empty_input_draws_nothing() {
        let s = Series {
            label: "sent <per s>".into(),
            color: PALETTE[0],
            dashed: false,
            points: vec![(0.0, 10.0), (1.0, 12.0), (2.0, 9.0)],
        };
        let svg = line_chart("Rates", XAxis::Seconds, "per second", &[s]).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.contains("sent &lt;per s&gt;"));
        assert!(svg.contains("<polyline") || svg.contains("<path"));
        assert!(line_chart("Empty", XAxis::Seconds, "", &[]).is_none());
        let bars = bar_chart("Loss", &[("silent".into(), 3), ("zero".into(), 0)]).unwrap();
        assert!(bars.contains("silent: 3") && !bars.contains("zero"));
        assert!(bar_chart("Loss", &[("zero".into(), 0)]).is_none());
    }

    #[test]
    fn percentile_axis_labels() {
        assert_eq!(percentile_label(percentile_x(0.5)), "p50");
        assert_eq!(percentile_label(percentile_x(0.99)), "p99");
        assert_eq!(percentile_label(percentile_x(0.999)), "p99.9");
        assert_eq!(compact(1500.0), "1.5k");
    }
}
