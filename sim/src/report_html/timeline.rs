//! The operation timeline: one row per process (per worker when there are too many
//! processes), time running right, a bar from each invocation to its completion coloured
//! by outcome. Consecutive ok operations closer than a pixel are merged into one bar that
//! says how many it holds, so a run of any size draws at most a few bars per pixel column;
//! failed and indeterminate operations always get their own bar, on top.

use super::html::{clip, esc, put, secs};
use super::model::{Model, OpSpan, Outcome};
use std::collections::BTreeMap;

/// More processes than this are grouped by worker (process mod concurrency).
pub const MAX_ROWS: usize = 64;

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 26.0;
const ROW: f64 = 14.0;

/// The timeline section's SVG, with how many bars it drew; `None` without operations.
pub struct Timeline {
    /// The SVG element.
    pub svg: String,
    /// Bars drawn.
    pub bars: usize,
    /// Operations shown.
    pub ops: usize,
    /// What the rows are, in words.
    pub note: String,
}

/// Draws the timeline; `concurrency` groups processes into workers when there are many.
pub fn render(model: &Model<'_>, concurrency: u64) -> Option<Timeline> {
    if model.ops.is_empty() {
        return None;
    }
    let processes: std::collections::BTreeSet<u64> =
        model.ops.iter().map(|o| o.invoke.process).collect();
    let by_worker = processes.len() > MAX_ROWS && concurrency > 0;
    let row_of = |o: &OpSpan<'_>| {
        if by_worker {
            o.invoke.process % concurrency
        } else {
            o.invoke.process
        }
    };
    let mut rows: BTreeMap<u64, Vec<&OpSpan<'_>>> = BTreeMap::new();
    for o in &model.ops {
        rows.entry(row_of(o)).or_default().push(o);
    }
    let plot = WIDTH - LEFT - RIGHT;
    let x = |t: u64| LEFT + t as f64 / model.end.max(1) as f64 * plot;
    let height = TOP + rows.len() as f64 * ROW + 30.0;
    let mut s = String::new();
    put(
        &mut s,
        format_args!(
            "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\">"
        ),
    );
    for p in &model.partitions {
        put(
            &mut s,
            format_args!(
                "<rect class=\"part\" x=\"{:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.0}\"><title>partition {} to {}: {}</title></rect>",
                x(p.start),
                (x(p.end) - x(p.start)).max(1.0),
                rows.len() as f64 * ROW,
                secs(p.start),
                secs(p.end),
                esc(&p.label)
            ),
        );
    }
    // Time axis: a tick per tenth of the run.
    let step = nice_step(model.end as f64 / 1e9 / 10.0);
    for k in 0.. {
        let t = k as f64 * step;
        if t > model.end as f64 / 1e9 + 1e-9 {
            break;
        }
        let xt = x((t * 1e9) as u64);
        put(
            &mut s,
            format_args!(
                "<line class=\"tick\" x1=\"{xt:.1}\" y1=\"{:.0}\" x2=\"{xt:.1}\" y2=\"{:.0}\"/><text class=\"tlbl\" x=\"{xt:.1}\" y=\"{:.0}\" text-anchor=\"middle\">{} s</text>",
                TOP - 4.0,
                TOP + rows.len() as f64 * ROW,
                TOP - 8.0,
                super::plots::short_number(t)
            ),
        );
    }
    let mut bars = 0;
    for (r, (key, ops)) in rows.iter().enumerate() {
        let y = TOP + r as f64 * ROW;
        let node = ops
            .first()
            .and_then(|o| o.invoke.node.as_deref())
            .unwrap_or("");
        let label = if by_worker {
            format!("worker {key} ({node})")
        } else {
            format!("p{key} ({node})")
        };
        put(
            &mut s,
            format_args!(
                "<text class=\"rowlbl\" x=\"{:.0}\" y=\"{:.1}\">{}</text>",
                LEFT - 6.0,
                y + ROW - 4.0,
                esc(&label)
            ),
        );
        // Merged ok bars first, then every other outcome on top.
        let mut merged: Option<Merged<'_, '_>> = None;
        let flush = |m: Option<Merged<'_, '_>>, s: &mut String, bars: &mut usize| {
            let Some(m) = m else { return };
            *bars += 1;
            let title = if m.count == 1 {
                describe(m.first)
            } else {
                format!(
                    "{} ok operations from {} to {}",
                    m.count,
                    secs(m.first.start()),
                    secs(m.last_end)
                )
            };
            put(
                s,
                format_args!(
                    "<rect class=\"op ok\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.0}\"><title>{}</title></rect>",
                    m.x0,
                    y + 1.0,
                    (m.x1 - m.x0).max(1.0),
                    ROW - 3.0,
                    esc(&title)
                ),
            );
        };
        for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
            let t1 = o.end().unwrap_or(model.end);
            let (x0, x1) = (x(o.start()), x(t1));
            merged = match merged {
                Some(m) if x0 <= m.x1 + 1.0 => Some(Merged {
                    x1: m.x1.max(x1),
                    count: m.count + 1,
                    last_end: t1,
                    ..m
                }),
                other => {
                    flush(other, &mut s, &mut bars);
                    Some(Merged {
                        x0,
                        x1,
                        count: 1,
                        first: o,
                        last_end: t1,
                    })
                }
            };
        }
        flush(merged, &mut s, &mut bars);
        for o in ops.iter().filter(|o| o.outcome != Outcome::Ok) {
            let (t0, t1) = (o.start(), o.end().unwrap_or(model.end));
            bars += 1;
            put(
                &mut s,
                format_args!(
                    "<rect class=\"op {}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.0}\" data-o=\"{}\"><title>{}</title></rect>",
                    o.outcome.word(),
                    x(t0),
                    y + 1.0,
                    (x(t1) - x(t0)).max(2.0),
                    ROW - 3.0,
                    o.invoke.index,
                    esc(&describe(o))
                ),
            );
        }
    }
    s.push_str("</svg>");
    let note = if by_worker {
        format!(
            "{} processes, grouped by worker (process mod {concurrency}); a worker gets a new \
             process after each indeterminate operation.",
            processes.len()
        )
    } else {
        "One row per process; a worker gets a new process after each indeterminate \
         operation."
            .to_string()
    };
    Some(Timeline {
        svg: s,
        bars,
        ops: model.ops.len(),
        note,
    })
}

/// Consecutive ok operations of a row drawn as one bar.
#[derive(Clone, Copy)]
struct Merged<'m, 'a> {
    x0: f64,
    x1: f64,
    count: usize,
    first: &'m OpSpan<'a>,
    last_end: u64,
}

/// `op #12 read info at 1.234 s, 5000.0 ms: value → error`.
fn describe(o: &OpSpan<'_>) -> String {
    let mut d = format!(
        "op #{} {} {} at {}",
        o.invoke.index,
        o.invoke.f,
        o.outcome.word(),
        secs(o.start())
    );
    if let Some(l) = o.latency_ms() {
        put(&mut d, format_args!(", {l:.1} ms"));
    }
    put(&mut d, format_args!(": {}", clip(o.invoke.value.get(), 80)));
    if let Some(c) = o.completion {
        put(&mut d, format_args!(" → {}", clip(c.value.get(), 80)));
        if let Some(e) = &c.error {
            put(&mut d, format_args!(", error {}", clip(e.get(), 80)));
        }
    }
    d
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::report_html::inputs::RunFiles;
    use crate::report_html::inputs::{test_op, HistoryOp};
    use glomers_simkit::history::OpType;

    fn op(index: usize, ms: u64, process: u64, kind: OpType) -> HistoryOp {
        let mut o = test_op(index, ms, process, kind, "read", serde_json::Value::Null);
        o.node = Some("n0".into());
        o
    }

    #[test]
    fn close_ok_operations_share_a_bar_and_failures_keep_theirs() {
        // Process 0: three ok reads within a few ms (under a pixel of a 10 s run), a failed
        // one, then an ok read far later. Process 1: one ok read.
        let mut history = Vec::new();
        for (k, (start, p, end)) in [
            (0, 0, OpType::Ok),
            (2, 0, OpType::Ok),
            (4, 0, OpType::Ok),
            (6, 0, OpType::Fail),
            (9000, 0, OpType::Ok),
            (10, 1, OpType::Ok),
        ]
        .into_iter()
        .enumerate()
        {
            history.push(op(2 * k, start, p, OpType::Invoke));
            history.push(op(2 * k + 1, start + 1, p, end));
        }
        history.sort_by_key(|o| o.time);
        let run = RunFiles {
            history,
            ..RunFiles::default()
        };
        let model = Model::new(&run);
        let t = render(&model, 0).unwrap();
        assert_eq!(t.ops, 6);
        // Process 0: the three close ok reads share a bar, the late one has its own, and
        // so has the failure; process 1: one bar.
        assert_eq!(t.svg.matches("class=\"op fail\"").count(), 1);
        assert!(t.svg.contains("3 ok operations from 0.000 s to 0.005 s"));
        assert_eq!(t.bars, 4);
        assert!(t.svg.contains(">p0 (n0)<") && t.svg.contains(">p1 (n0)<"));
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(12.0), 20.0);
        assert_eq!(nice_step(0.0), 1.0);
    }
}
