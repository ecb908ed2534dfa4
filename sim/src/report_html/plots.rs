//! The charts, drawn with `plotters` into SVG text: raw latencies, latency quantiles,
//! throughput, and the stable-latency distribution of set workloads. Partition intervals
//! are shaded on every time chart. Legends are written as HTML beside each chart
//! ([`legend_html`]), so they never cover data.
//!
//! Big runs are sampled: the raw-latency chart draws at most [`MAX_RAW_POINTS`] points
//! (every failed and indeterminate operation first, then every k-th ok one) and says so.

use super::html::{esc, put};
use super::model::{Model, OpSpan, Outcome, Partition};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// The most points the raw-latency chart draws.
pub const MAX_RAW_POINTS: usize = 4000;

/// Width of every chart, in SVG pixels (the page scales them to its width).
const WIDTH: u32 = 1000;

/// Colour of the partition shading.
const PARTITION: RGBColor = RGBColor(225, 87, 89);

/// Outcome colours, shared with the page's CSS.
const OK: RGBColor = RGBColor(78, 121, 167);
const FAIL: RGBColor = RGBColor(214, 39, 40);
const INFO: RGBColor = RGBColor(242, 142, 43);
const OPEN: RGBColor = RGBColor(120, 120, 120);
const GRID: RGBColor = RGBColor(232, 232, 232);

/// Colours for series told apart by name (operation names).
const PALETTE: [RGBColor; 8] = [
    RGBColor(78, 121, 167),
    RGBColor(89, 161, 79),
    RGBColor(176, 122, 161),
    RGBColor(156, 117, 95),
    RGBColor(118, 183, 178),
    RGBColor(237, 201, 72),
    RGBColor(255, 157, 167),
    RGBColor(186, 176, 172),
];

/// What a legend entry looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Swatch {
    /// A line.
    Line,
    /// The marker of the k-th operation name (circle, triangle, cross, square).
    Marker(usize),
    /// A shaded band (partitions).
    Band,
}

/// One legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendItem {
    /// What the series is.
    pub label: String,
    /// Its colour.
    pub color: RGBColor,
    /// Its look.
    pub swatch: Swatch,
}

/// One chart, ready to embed.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Heading above the chart.
    pub title: String,
    /// The SVG document.
    pub svg: String,
    /// How many data marks (points, line vertices) it drew.
    pub marks: usize,
    /// What each colour and marker means.
    pub legend: Vec<LegendItem>,
    /// A sentence under the chart (sampling, what is shown).
    pub note: String,
}

/// Points of a chart series, in data coordinates.
type Points = Vec<(f64, f64)>;

/// The chart type every function here draws on.
type Chart2d<'c, 'b, Y> = ChartContext<'c, SVGBackend<'b>, Cartesian2d<RangedCoordf64, Y>>;

fn outcome_color(o: Outcome) -> RGBColor {
    match o {
        Outcome::Ok => OK,
        Outcome::Fail => FAIL,
        Outcome::Info => INFO,
        Outcome::Open => OPEN,
    }
}

fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// The legend of a chart as HTML: a small inline SVG swatch and a label per entry.
pub fn legend_html(items: &[LegendItem]) -> String {
    let mut s = String::from("<ul class=\"legend\">");
    for it in items {
        let c = hex(it.color);
        let swatch = match it.swatch {
            Swatch::Line => format!("<line x1=\"1\" y1=\"6\" x2=\"17\" y2=\"6\" stroke=\"{c}\" stroke-width=\"2.5\"/>"),
            Swatch::Band => format!("<rect x=\"1\" y=\"1\" width=\"16\" height=\"10\" fill=\"{c}\" fill-opacity=\"0.25\"/>"),
            Swatch::Marker(k) => match k % 4 {
                0 => format!("<circle cx=\"9\" cy=\"6\" r=\"3.5\" fill=\"{c}\"/>"),
                1 => format!("<path d=\"M9,1.5L13.5,10H4.5z\" fill=\"{c}\"/>"),
                2 => format!("<path d=\"M5,2L13,10M13,2L5,10\" stroke=\"{c}\" stroke-width=\"1.6\"/>"),
                _ => format!("<rect x=\"5.5\" y=\"2.5\" width=\"7\" height=\"7\" fill=\"{c}\"/>"),
            },
        };
        put(
            &mut s,
            format_args!(
                "<li><svg width=\"18\" height=\"12\" aria-hidden=\"true\">{swatch}</svg>{}</li>",
                esc(&it.label)
            ),
        );
    }
    s.push_str("</ul>");
    s
}

/// Draws into an SVG string of `WIDTH` × `height`.
fn svg_of(
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Draws `$points` on `$chart` with the marker of the `$k`-th operation name (circle,
/// triangle, cross, square) in `$color`. (A macro: each marker is its own element type.)
macro_rules! draw_markers {
    ($chart:expr, $k:expr, $points:expr, $color:expr) => {{
        let fill = $color.mix(0.75).filled();
        let line = $color.stroke_width(1);
        let pts = $points.iter().cloned();
        match $k % 4 {
            0 => $chart.draw_series(pts.map(|p| Circle::new(p, 2, fill))),
            1 => $chart.draw_series(pts.map(|p| TriangleMarker::new(p, 3, fill))),
            2 => $chart.draw_series(pts.map(|p| Cross::new(p, 3, line))),
            _ => $chart.draw_series(
                pts.map(|p| EmptyElement::at(p) + Rectangle::new([(-2, -2), (2, 2)], fill)),
            ),
        }
        .map(|_| ())
        .map_err(err)
    }};
}

/// A number for an axis label: at most three significant digits, no trailing zeros.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    let text = if a == 0.0 {
        "0".to_string()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        let digits = (2 - a.log10().floor() as i32).clamp(2, 6) as usize;
        format!("{v:.digits$}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Seconds for the time axis.
fn s(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// A round bucket width giving about `buckets` buckets over `span` seconds.
pub fn bucket_width(span: f64, buckets: f64) -> f64 {
    const STEPS: [f64; 12] = [
        0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0,
    ];
    let raw = span / buckets;
    STEPS
        .iter()
        .copied()
        .find(|w| *w >= raw)
        .unwrap_or(raw.ceil())
}

/// Jepsen's quantile: the sorted sample at index min(n − 1, floor(n·q)).
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let i = ((n as f64 * q).floor() as usize).min(n - 1);
    Some(sorted[i])
}

/// A log-scale range from whole decades around the data, so the axis always has at least
/// two labelled powers of ten.
pub fn decades(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::MAX, 0.01f64);
    for v in values {
        lo = lo.min(v.max(0.001));
        hi = hi.max(v);
    }
    if lo > hi {
        lo = hi;
    }
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
    // A hair beyond the decades, so rounding never drops their labels.
    (lo * 0.999, hi * 1.001)
}

/// Picks which operations the raw chart draws: all that did not end ok, then every k-th
/// ok one, at most `cap` in all. Returns the chosen ones and the stride used for ok.
pub fn sample_ops<'m, 'a>(ops: &'m [OpSpan<'a>], cap: usize) -> (Vec<&'m OpSpan<'a>>, usize) {
    let done: Vec<&OpSpan<'_>> = ops.iter().filter(|o| o.completion.is_some()).collect();
    let (ok, other): (Vec<&OpSpan<'_>>, Vec<&OpSpan<'_>>) =
        done.into_iter().partition(|o| o.outcome == Outcome::Ok);
    let mut chosen: Vec<&OpSpan<'_>> = other.into_iter().take(cap).collect();
    let room = cap - chosen.len();
    let stride = if room == 0 {
        0
    } else {
        ok.len().div_ceil(room).max(1)
    };
    if stride > 0 {
        chosen.extend(ok.iter().step_by(stride).copied());
    }
    chosen.sort_by_key(|o| o.start());
    (chosen, stride)
}

/// Shades partitions between `y0` and `y1`.
fn shade<Y>(
    chart: &mut Chart2d<'_, '_, Y>,
    partitions: &[Partition],
    y0: Y::ValueType,
    y1: Y::ValueType,
) -> Result<(), String>
where
    Y: Ranged,
    Y::ValueType: Clone + 'static,
{
    chart
        .draw_series(partitions.iter().map(|p| {
            Rectangle::new(
                [(s(p.start), y0.clone()), (s(p.end), y1.clone())],
                PARTITION.mix(0.12).filled(),
            )
        }))
        .map(|_| ())
        .map_err(err)
}

fn partition_legend(model: &Model<'_>, legend: &mut Vec<LegendItem>) {
    if !model.partitions.is_empty() {
        legend.push(LegendItem {
            label: "partition".into(),
            color: PARTITION,
            swatch: Swatch::Band,
        });
    }
}

/// Latency of every operation (or a sample) against its invocation time, log scale;
/// colour by outcome, marker by operation name.
pub fn latency_raw(model: &Model<'_>) -> Option<Chart> {
    let (chosen, stride) = sample_ops(&model.ops, MAX_RAW_POINTS);
    if chosen.is_empty() {
        return None;
    }
    let names = model.op_names();
    let lat = |o: &OpSpan<'_>| o.latency_ms().unwrap_or(0.0).max(0.001);
    let (y_min, y_max) = decades(chosen.iter().map(|o| lat(o)));
    let x_max = s(model.end).max(0.001);
    let mut series: BTreeMap<(usize, Outcome), Vec<(f64, f64)>> = BTreeMap::new();
    for o in &chosen {
        let k = names.iter().position(|n| *n == o.invoke.f).unwrap_or(0);
        series
            .entry((k, o.outcome))
            .or_default()
            .push((s(o.start()), lat(o)));
    }
    let svg = svg_of(340, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..x_max, (y_min..y_max).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("invocation time since the test start (s)")
            .y_desc("latency (ms, log scale)")
            .y_label_formatter(&|v| short_number(*v))
            .x_label_formatter(&|v| short_number(*v))
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .draw()
            .map_err(err)?;
        shade(&mut chart, &model.partitions, y_min, y_max)?;
        for ((k, outcome), points) in &series {
            draw_markers!(chart, *k, points, outcome_color(*outcome))?;
        }
        Ok(())
    })
    .ok()?;
    let mut legend: Vec<LegendItem> = series
        .keys()
        .map(|(k, outcome)| LegendItem {
            label: format!(
                "{} {}",
                names.get(*k).copied().unwrap_or("?"),
                outcome.word()
            ),
            color: outcome_color(*outcome),
            swatch: Swatch::Marker(*k),
        })
        .collect();
    partition_legend(model, &mut legend);
    let completed = model.ops.iter().filter(|o| o.completion.is_some()).count();
    let note = if chosen.len() < completed {
        format!(
            "Showing {} of {} completed operations: every failed or indeterminate one, and \
             one in {} of the ok ones.",
            chosen.len(),
            completed,
            stride
        )
    } else {
        format!("Every completed operation ({completed}).")
    };
    Some(Chart {
        title: "Latency, raw".into(),
        svg,
        marks: chosen.len(),
        legend,
        note,
    })
}

/// The quantiles drawn per time bucket, with their colours.
const QUANTILE_LINES: [(f64, &str, RGBColor); 4] = [
    (0.5, "median", RGBColor(78, 121, 167)),
    (0.95, "0.95", RGBColor(242, 142, 43)),
    (0.99, "0.99", RGBColor(214, 39, 40)),
    (1.0, "max", RGBColor(60, 60, 60)),
];

/// Latency quantiles (0.5, 0.95, 0.99, max) per time bucket, one chart per operation
/// name, over every completed operation.
pub fn latency_quantiles(model: &Model<'_>) -> Vec<Chart> {
    let x_max = s(model.end).max(0.001);
    let width = bucket_width(x_max, 60.0);
    let mut charts = Vec::new();
    for name in model.op_names() {
        let mut buckets: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        for o in model.ops.iter().filter(|o| o.invoke.f == name) {
            if let Some(l) = o.latency_ms() {
                let b = (s(o.start()) / width).floor() as u64;
                buckets.entry(b).or_default().push(l.max(0.001));
            }
        }
        if buckets.is_empty() {
            continue;
        }
        let mut lines: Vec<Vec<(f64, f64)>> = vec![Vec::new(); QUANTILE_LINES.len()];
        for (b, sample) in &mut buckets {
            sample.sort_by(f64::total_cmp);
            let x = (*b as f64 + 0.5) * width;
            for (line, (q, _, _)) in lines.iter_mut().zip(QUANTILE_LINES) {
                if let Some(v) = quantile(sample, q) {
                    line.push((x, v));
                }
            }
        }
        let (y_min, y_max) = decades(lines.iter().flatten().map(|p| p.1));
        let marks = lines.iter().map(Vec::len).sum();
        let Ok(svg) = svg_of(240, |root| {
            let mut chart = ChartBuilder::on(root)
                .margin(12)
                .x_label_area_size(34)
                .y_label_area_size(64)
                .build_cartesian_2d(0f64..x_max, (y_min..y_max).log_scale())
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("invocation time since the test start (s)")
                .y_desc("latency (ms, log scale)")
                .y_label_formatter(&|v| short_number(*v))
                .x_label_formatter(&|v| short_number(*v))
                .light_line_style(WHITE)
                .bold_line_style(GRID)
                .draw()
                .map_err(err)?;
            shade(&mut chart, &model.partitions, y_min, y_max)?;
            for (line, (_, _, color)) in lines.iter().zip(QUANTILE_LINES) {
                chart
                    .draw_series(LineSeries::new(line.iter().copied(), color.stroke_width(2)))
                    .map_err(err)?;
                if line.len() == 1 {
                    chart
                        .draw_series(line.iter().map(|p| Circle::new(*p, 3, color.filled())))
                        .map_err(err)?;
                }
            }
            Ok(())
        }) else {
            continue;
        };
        let mut legend: Vec<LegendItem> = QUANTILE_LINES
            .iter()
            .map(|(_, label, color)| LegendItem {
                label: (*label).into(),
                color: *color,
                swatch: Swatch::Line,
            })
            .collect();
        partition_legend(model, &mut legend);
        charts.push(Chart {
            title: format!("Latency quantiles: {name}"),
            svg,
            marks,
            legend,
            note: format!(
                "Quantiles of the latency of every completed {name} operation (all outcomes), \
                 per {width} s of invocation time."
            ),
        });
    }
    charts
}

/// Completions per second over time, one line per operation name and outcome.
pub fn throughput(model: &Model<'_>) -> Option<Chart> {
    let x_max = s(model.end).max(0.001);
    let width = bucket_width(x_max, 60.0);
    let names = model.op_names();
    let mut series: BTreeMap<(usize, Outcome), BTreeMap<u64, f64>> = BTreeMap::new();
    for o in &model.ops {
        let Some(end) = o.end() else { continue };
        let k = names.iter().position(|n| *n == o.invoke.f).unwrap_or(0);
        let b = (s(end) / width).floor() as u64;
        *series
            .entry((k, o.outcome))
            .or_default()
            .entry(b)
            .or_default() += 1.0 / width;
    }
    if series.is_empty() {
        return None;
    }
    let buckets = (x_max / width).ceil().max(1.0) as u64;
    // Every bucket gets a point, so a quiet second shows as zero, not as a straight line.
    let lines: Vec<((usize, Outcome), Points)> = series
        .into_iter()
        .map(|(key, per)| {
            let pts = (0..buckets)
                .map(|b| {
                    (
                        (b as f64 + 0.5) * width,
                        per.get(&b).copied().unwrap_or(0.0),
                    )
                })
                .collect();
            (key, pts)
        })
        .collect();
    let y_max = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|x| x.1))
        .fold(1.0, f64::max)
        * 1.15;
    let color_of = |k: usize, outcome: Outcome| match outcome {
        Outcome::Ok => PALETTE[k % PALETTE.len()],
        other => outcome_color(other),
    };
    let svg = svg_of(280, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("completion time since the test start (s)")
            .y_desc("completions per second")
            .y_label_formatter(&|v| short_number(*v))
            .x_label_formatter(&|v| short_number(*v))
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .draw()
            .map_err(err)?;
        shade(&mut chart, &model.partitions, 0.0, y_max)?;
        for ((k, outcome), pts) in &lines {
            let color = color_of(*k, *outcome);
            let ok = *outcome == Outcome::Ok;
            chart
                .draw_series(LineSeries::new(
                    pts.iter().copied(),
                    color.stroke_width(if ok { 2 } else { 1 }),
                ))
                .map_err(err)?;
            if !ok {
                let nonzero: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.1 > 0.0).collect();
                draw_markers!(chart, *k, nonzero, color)?;
            }
        }
        Ok(())
    })
    .ok()?;
    let mut legend: Vec<LegendItem> = lines
        .iter()
        .map(|((k, outcome), _)| LegendItem {
            label: format!(
                "{} {}",
                names.get(*k).copied().unwrap_or("?"),
                outcome.word()
            ),
            color: color_of(*k, *outcome),
            swatch: if *outcome == Outcome::Ok {
                Swatch::Line
            } else {
                Swatch::Marker(*k)
            },
        })
        .collect();
    partition_legend(model, &mut legend);
    Some(Chart {
        title: "Throughput".into(),
        svg,
        marks: lines.iter().map(|(_, p)| p.len()).sum(),
        legend,
        note: format!(
            "Completed operations per second by name and outcome, counted per {width} s of \
             completion time."
        ),
    })
}

/// The stable-latency distribution of a set workload (broadcast, g-set): latency at each
/// quantile of the elements, from the checker's fields.
pub fn stable_latency(points: &[(f64, f64)], lost: &[(f64, f64)]) -> Option<Chart> {
    if points.is_empty() && lost.is_empty() {
        return None;
    }
    let y_max = points.iter().chain(lost).map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let series = [(points, "stable", OK), (lost, "lost", FAIL)];
    let svg = svg_of(260, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..1f64, 0f64..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("quantile of the elements")
            .y_desc("ms until every read had it")
            .y_label_formatter(&|v| short_number(*v))
            .x_label_formatter(&|v| short_number(*v))
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .draw()
            .map_err(err)?;
        for (pts, _, color) in series {
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(err)?;
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(err)?;
        }
        Ok(())
    })
    .ok()?;
    let legend = series
        .iter()
        .filter(|(pts, _, _)| !pts.is_empty())
        .map(|(_, label, color)| LegendItem {
            label: (*label).into(),
            color: *color,
            swatch: Swatch::Line,
        })
        .collect();
    Some(Chart {
        title: "Stable latency distribution".into(),
        svg,
        marks: points.len() + lost.len(),
        legend,
        note: "For each element, the time from when it became known (acknowledged or first \
               read) until no later read missed it, as the checker computes it; the curve \
               gives that latency at each quantile of the elements (lost: until the last read \
               that had it)."
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_round_numbers() {
        assert_eq!(bucket_width(30.0, 60.0), 0.5);
        assert_eq!(bucket_width(3.0, 60.0), 0.1);
        assert_eq!(bucket_width(600.0, 60.0), 10.0);
        assert_eq!(bucket_width(100_000.0, 60.0), 1667.0);
    }

    #[test]
    fn log_ranges_span_whole_decades() {
        let near = |(a, b): (f64, f64), (x, y): (f64, f64)| {
            (a / x - 1.0).abs() < 0.01 && (b / y - 1.0).abs() < 0.01 && a <= x && b >= y
        };
        assert!(near(decades([0.15, 1.7].into_iter()), (0.1, 10.0)));
        assert!(near(decades([250.0, 300.0].into_iter()), (100.0, 1000.0)));
        assert!(near(decades([1.0].into_iter()), (1.0, 10.0)));
    }

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(2.0), "2");
        assert_eq!(short_number(2.5), "2.5");
        assert_eq!(short_number(12.26), "12.3");
        assert_eq!(short_number(1500.0), "1500");
        assert_eq!(short_number(0.05), "0.05");
        assert_eq!(short_number(0.0123), "0.0123");
    }

    #[test]
    fn quantiles_follow_jepsen() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn legends_draw_one_swatch_per_entry() {
        let html = legend_html(&[
            LegendItem {
                label: "read ok".into(),
                color: OK,
                swatch: Swatch::Marker(1),
            },
            LegendItem {
                label: "partition <1>".into(),
                color: PARTITION,
                swatch: Swatch::Band,
            },
        ]);
        assert_eq!(html.matches("<li>").count(), 2);
        assert!(html.contains("#4e79a7"));
        assert!(html.contains("partition &lt;1&gt;"));
    }
}
