//! The message diagram, as hand-written SVG: one vertical lane per node, client and
//! service, time running down, an arrow from each send to its delivery. Dropped messages
//! (partitions) are dashed red and end in a cross where they were discarded; messages still
//! in flight when the run stopped are dashed grey. Client lanes sit just left of the node
//! they talk to, and carry a bar per operation (invoke to completion, coloured by outcome).
//!
//! The run is cut into windows of equal length (2 s unless the run is very long), plus one
//! around the first failing operation; the page shows a few and lets the reader open any.
//! Each window draws at most a capped number of arrows, always including the messages the
//! findings name, and says how many it left out.

use super::html::{clip, esc, plural, put, script_json, secs};
use super::inputs::natural_cmp;
use super::model::{lane_kind, Fate, LaneKind, Message, Model, OpSpan};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Window length for runs up to [`MAX_TILES`] × 2 s.
pub const WINDOW_NS: u64 = 2_000_000_000;
/// The most windows a run is cut into (longer runs get longer windows).
pub const MAX_TILES: u64 = 60;
/// The most arrows one window draws (messages named by findings come on top).
pub const MAX_ARROWS_PER_WINDOW: usize = 500;
/// The most arrows all windows together draw, so big runs stay a few MB.
pub const MAX_ARROWS_TOTAL: usize = 12_000;
/// Bodies longer than this are cut in the page (messages.jsonl has them whole).
pub const MAX_BODY_CHARS: usize = 600;
/// Arrows get their body type written beside them when a window draws at most this many.
const MAX_LABELLED: usize = 150;

const TOP: f64 = 44.0;
const BOTTOM: f64 = 36.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 30.0;
const PLOT_HEIGHT: f64 = 1000.0;
const NODE_GAP: f64 = 46.0;
const CLIENT_GAP: f64 = 18.0;
/// Lanes are spread out until the diagram is about this wide.
const TARGET_WIDTH: f64 = 1080.0;

/// Why a window exists.
#[derive(Debug, Clone, PartialEq)]
pub enum WindowKind {
    /// One of the equal windows covering the run.
    Tile,
    /// The seconds around the first failing operation.
    Focus(String),
}

/// A time window of the diagram.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Element id on the page.
    pub id: String,
    /// Start (ns).
    pub start: u64,
    /// End (ns, exclusive).
    pub end: u64,
    /// Tile or focus.
    pub kind: WindowKind,
    /// Shown when the page opens.
    pub open: bool,
}

impl Window {
    /// `0.000 s – 2.000 s`, plus why for a focus window.
    pub fn label(&self) -> String {
        let range = format!(
            "{:.1}–{:.1} s",
            self.start as f64 / 1e9,
            self.end as f64 / 1e9
        );
        match &self.kind {
            WindowKind::Tile => range,
            WindowKind::Focus(why) => format!("{range}: {why}"),
        }
    }

    fn contains(&self, t: u64) -> bool {
        self.start <= t && t < self.end
    }
}

/// One rendered window.
#[derive(Debug, Clone)]
pub struct RenderedWindow {
    /// Which window.
    pub window: Window,
    /// The SVG element.
    pub svg: String,
    /// Arrows drawn.
    pub drawn: usize,
    /// Messages in the window.
    pub total: usize,
    /// What was left out, in words (empty when nothing was).
    pub note: String,
}

/// The whole diagram section's data.
#[derive(Debug, Clone, Default)]
pub struct Diagram {
    /// Windows in display order: focus first, then tiles in time order.
    pub windows: Vec<RenderedWindow>,
    /// JSON object, message id → [src, dest, sent ns, fate, fate ns, body], for every
    /// message drawn; safe to embed in a script element.
    pub bodies_json: String,
    /// For each message named by a finding: the window that draws it.
    pub window_of_message: HashMap<u64, String>,
    /// For each operation named by a finding (history index of its invoke): the window
    /// that shows it.
    pub window_of_op: HashMap<usize, String>,
}

/// Cuts the run into windows: equal tiles, plus a focus window starting half a second
/// before `focus` (if any). The first tile and the focus window are open.
pub fn windows(end: u64, focus: Option<(u64, String)>) -> Vec<Window> {
    let len = WINDOW_NS.max(end.div_ceil(MAX_TILES).div_ceil(1_000_000_000) * 1_000_000_000);
    let tiles = end.div_ceil(len).max(1);
    let mut out = Vec::new();
    let mut focus_tile = None;
    if let Some((t, why)) = focus {
        let start = t.saturating_sub(len / 4);
        if start % len == 0 {
            // The focus window would be one of the tiles: name that tile instead.
            focus_tile = Some((start / len, why));
        } else {
            out.push(Window {
                id: "wf".into(),
                start,
                end: start + len,
                kind: WindowKind::Focus(why),
                open: true,
            });
        }
    }
    for k in 0..tiles {
        let kind = match &focus_tile {
            Some((f, why)) if *f == k => WindowKind::Focus(why.clone()),
            _ => WindowKind::Tile,
        };
        out.push(Window {
            id: format!("w{k}"),
            start: k * len,
            end: (k + 1) * len,
            open: k == 0 || kind != WindowKind::Tile,
            kind,
        });
    }
    out
}

/// Whether a message is in flight during any part of the window.
fn overlaps(m: &Message<'_>, w: &Window, run_end: u64) -> bool {
    let last = m.ended().unwrap_or(run_end).max(m.sent);
    m.sent < w.end && last >= w.start
}

/// Chooses the arrows of a window: every pinned message, then every k-th exchange of the
/// others (a client's request with its replies counts as one, so pairs stay together), at
/// most about `cap` arrows in all (pinned ones may go over). Returns the chosen indexes
/// into `model.messages` and the stride.
pub fn choose_arrows(
    candidates: &[usize],
    pinned: &HashSet<u64>,
    model: &Model<'_>,
    cap: usize,
) -> (Vec<usize>, usize) {
    let (mut chosen, rest): (Vec<usize>, Vec<usize>) = candidates
        .iter()
        .partition(|&&k| pinned.contains(&model.messages[k].id));
    // Group the rest by exchange, in order of first appearance.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: HashMap<(&str, u64), usize> = HashMap::new();
    for k in rest {
        match model.exchange_of(k) {
            Some(key) => match group_of.get(&key) {
                Some(&g) => groups[g].push(k),
                None => {
                    group_of.insert(key, groups.len());
                    groups.push(vec![k]);
                }
            },
            None => groups.push(vec![k]),
        }
    }
    let total: usize = groups.iter().map(Vec::len).sum();
    let room = cap.saturating_sub(chosen.len());
    let stride = if total <= room {
        1
    } else if room == 0 {
        0
    } else {
        total.div_ceil(room).max(1)
    };
    if stride > 0 {
        chosen.extend(groups.iter().step_by(stride).flatten());
    }
    chosen.sort_unstable();
    (chosen, stride)
}

/// One lane of a window.
struct Lane {
    /// What the label says.
    label: String,
    /// Tooltip (the client ids of a shared client lane).
    title: String,
    /// Client, node or service.
    kind: LaneKind,
    /// Horizontal position.
    x: f64,
}

/// Lane positions of one window: clients just left of their node, nodes in plan order,
/// services at the right. With more than [`MAX_SEPARATE_LANES`] lanes, each node's
/// clients share one lane, and gaps shrink (down to 60 %) to keep the picture narrow.
struct Lanes {
    /// Every id's lane position (clients of a shared lane map to the same x).
    x: HashMap<String, f64>,
    lanes: Vec<Lane>,
    width: f64,
}

/// Above this many lanes, a node's clients share one lane.
const MAX_SEPARATE_LANES: usize = 40;

impl Lanes {
    fn new(model: &Model<'_>, arrows: &[&Message<'_>]) -> Lanes {
        let mut nodes: Vec<String> = model.nodes.clone();
        let mut clients_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut services: Vec<String> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for m in arrows {
            for (me, other) in [(m.src, m.dest), (m.dest, m.src)] {
                if !seen.insert(me) {
                    continue;
                }
                match lane_kind(me) {
                    LaneKind::Client => {
                        let home = if lane_kind(other) == LaneKind::Node {
                            other.to_string()
                        } else {
                            String::new()
                        };
                        clients_of.entry(home).or_default().push(me.to_string());
                    }
                    LaneKind::Service => services.push(me.to_string()),
                    LaneKind::Node => {
                        if !nodes.iter().any(|n| n == me) {
                            nodes.push(me.to_string());
                        }
                    }
                }
            }
        }
        services.sort();
        for cs in clients_of.values_mut() {
            cs.sort_by(|a, b| natural_cmp(a, b));
        }
        let separate: usize = clients_of.values().map(Vec::len).sum();
        let merge = nodes.len() + services.len() + separate > MAX_SEPARATE_LANES;
        // Client groups: one per client, or one per node when merged.
        let groups_of = |cs: &[String]| -> Vec<Vec<String>> {
            if merge {
                vec![cs.to_vec()]
            } else {
                cs.iter().map(|c| vec![c.clone()]).collect()
            }
        };
        let mut lanes: Vec<Lane> = Vec::new();
        let mut x_of: HashMap<String, f64> = HashMap::new();
        let mut x = LEFT;
        let mut place_clients =
            |group: Vec<String>, gap: f64, x: &mut f64, lanes: &mut Vec<Lane>| {
                *x += gap;
                for c in &group {
                    x_of.insert(c.clone(), *x);
                }
                let label = if group.len() == 1 {
                    group[0].clone()
                } else {
                    format!("{}c", group.len())
                };
                lanes.push(Lane {
                    label,
                    title: group.join(" "),
                    kind: LaneKind::Client,
                    x: *x,
                });
            };
        if let Some(homeless) = clients_of.get("") {
            for g in groups_of(homeless) {
                place_clients(g, CLIENT_GAP, &mut x, &mut lanes);
            }
        }
        let mut node_x = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            let mut first = true;
            if let Some(cs) = clients_of.get(n.as_str()) {
                for g in groups_of(cs) {
                    let gap = if first && i > 0 {
                        NODE_GAP - CLIENT_GAP
                    } else {
                        CLIENT_GAP
                    };
                    place_clients(g, gap, &mut x, &mut lanes);
                    first = false;
                }
            }
            let gap = match (first, i) {
                (true, 0) => CLIENT_GAP,
                (true, _) => NODE_GAP,
                (false, _) => CLIENT_GAP + 4.0,
            };
            x += gap;
            node_x.push((n.clone(), x));
            lanes.push(Lane {
                label: n.clone(),
                title: n.clone(),
                kind: LaneKind::Node,
                x,
            });
        }
        for sv in &services {
            x += NODE_GAP * 1.3;
            node_x.push((sv.clone(), x));
            lanes.push(Lane {
                label: sv.clone(),
                title: sv.clone(),
                kind: LaneKind::Service,
                x,
            });
        }
        let mut x_map: HashMap<String, f64> = node_x.into_iter().collect();
        x_map.extend(x_of);
        // Spread few lanes out, squeeze many (down to 60 % of the usual gaps).
        let stretch = (TARGET_WIDTH / (x - LEFT).max(1.0)).clamp(0.6, 3.0);
        let scale = |x: f64| LEFT + (x - LEFT) * stretch;
        for v in x_map.values_mut() {
            *v = scale(*v);
        }
        for lane in &mut lanes {
            lane.x = scale(lane.x);
        }
        Lanes {
            x: x_map,
            lanes,
            width: scale(x) + RIGHT + 20.0,
        }
    }
}

/// Time → y within a window.
struct Scale {
    start: u64,
    end: u64,
}

impl Scale {
    fn y(&self, t: u64) -> f64 {
        let span = (self.end - self.start).max(1) as f64;
        TOP + (t.saturating_sub(self.start) as f64 / span * PLOT_HEIGHT).min(PLOT_HEIGHT)
    }
}

/// Renders every window of the run.
pub fn render(
    model: &Model<'_>,
    wins: Vec<Window>,
    pinned: &HashSet<u64>,
    pinned_ops: &[usize],
) -> Diagram {
    let cap = (MAX_ARROWS_TOTAL / wins.len().max(1)).clamp(150, MAX_ARROWS_PER_WINDOW);
    let mut drawn_ids: Vec<usize> = Vec::new();
    let mut drawn_set: HashSet<usize> = HashSet::new();
    let mut diagram = Diagram::default();
    for w in wins {
        let candidates: Vec<usize> = model
            .messages
            .iter()
            .enumerate()
            .filter(|(_, m)| overlaps(m, &w, model.end))
            .map(|(k, _)| k)
            .collect();
        let (chosen, stride) = choose_arrows(&candidates, pinned, model, cap);
        for &k in &chosen {
            let id = model.messages[k].id;
            if pinned.contains(&id)
                && (w.contains(model.messages[k].sent)
                    || !diagram.window_of_message.contains_key(&id))
            {
                let prefer_focus = matches!(w.kind, WindowKind::Focus(_));
                let entry = diagram
                    .window_of_message
                    .entry(id)
                    .or_insert_with(|| w.id.clone());
                if prefer_focus {
                    *entry = w.id.clone();
                }
            }
            if drawn_set.insert(k) {
                drawn_ids.push(k);
            }
        }
        for &i in pinned_ops {
            if let Some(op) = model.op_of_index.get(&i).map(|&k| &model.ops[k]) {
                if w.contains(op.start()) {
                    let is_focus = matches!(w.kind, WindowKind::Focus(_));
                    let e = diagram
                        .window_of_op
                        .entry(op.invoke.index)
                        .or_insert_with(|| w.id.clone());
                    if is_focus {
                        *e = w.id.clone();
                    }
                }
            }
        }
        let note = if chosen.len() < candidates.len() {
            format!(
                "{} in this window; showing {} (one exchange in {}{}) to keep the page light.",
                plural(candidates.len(), "message"),
                chosen.len(),
                stride.max(1),
                if pinned.is_empty() {
                    ""
                } else {
                    ", plus every message the findings name"
                }
            )
        } else {
            String::new()
        };
        let svg = window_svg(model, &w, &chosen);
        diagram.windows.push(RenderedWindow {
            drawn: chosen.len(),
            total: candidates.len(),
            note,
            svg,
            window: w,
        });
    }
    drawn_ids.sort_unstable();
    diagram.bodies_json = bodies_json(model, &drawn_ids);
    diagram
}

/// The body table of the drawn messages.
fn bodies_json(model: &Model<'_>, drawn: &[usize]) -> String {
    let mut out = String::from("{");
    for (n, &k) in drawn.iter().enumerate() {
        let m = &model.messages[k];
        let (fate, at) = match m.fate {
            Fate::Delivered(t) => ("delivered", t.to_string()),
            Fate::Dropped(t) => ("dropped by a partition", t.to_string()),
            Fate::InFlight => ("still in flight when the run stopped", "null".into()),
        };
        let body = m
            .body
            .map(|b| clip(b.get(), MAX_BODY_CHARS))
            .unwrap_or_default();
        if n > 0 {
            out.push(',');
        }
        put(
            &mut out,
            format_args!(
                "\"{}\":[{},{},{},{},{},{}]",
                m.id,
                json_str(m.src),
                json_str(m.dest),
                m.sent,
                json_str(fate),
                at,
                json_str(&body)
            ),
        );
    }
    out.push('}');
    script_json(&out)
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Clips the segment (t0, x0) → (t1, x1) to the window; returns the clipped ends.
fn clip_segment(t0: u64, x0: f64, t1: u64, x1: f64, w: &Window) -> ((u64, f64), (u64, f64)) {
    let at = |t: u64| {
        if t1 == t0 {
            x1
        } else {
            x0 + (x1 - x0) * ((t as f64 - t0 as f64) / (t1 as f64 - t0 as f64))
        }
    };
    let a = if t0 < w.start {
        (w.start, at(w.start))
    } else {
        (t0, x0)
    };
    let b = if t1 >= w.end {
        (w.end, at(w.end))
    } else {
        (t1, x1)
    };
    (a, b)
}

fn window_svg(model: &Model<'_>, w: &Window, chosen: &[usize]) -> String {
    let arrows: Vec<&Message<'_>> = chosen.iter().map(|&k| &model.messages[k]).collect();
    let lanes = Lanes::new(model, &arrows);
    let scale = Scale {
        start: w.start,
        end: w.end,
    };
    let height = TOP + PLOT_HEIGHT + BOTTOM;
    let mut s = String::with_capacity(200 + arrows.len() * 90);
    put(
        &mut s,
        format_args!(
            "<svg class=\"diagram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {w:.0} {height:.0}\" data-start=\"{}\" data-end=\"{}\">",
            w.start,
            w.end,
            w = lanes.width,
        ),
    );
    s.push_str(MARKERS);
    // Partitions.
    for p in &model.partitions {
        if p.end <= w.start || p.start >= w.end {
            continue;
        }
        let (y0, y1) = (scale.y(p.start.max(w.start)), scale.y(p.end.min(w.end)));
        put(
            &mut s,
            format_args!(
                "<rect class=\"part\" x=\"{LEFT}\" y=\"{y0:.1}\" width=\"{:.0}\" height=\"{:.1}\"><title>partition {} to {}: {}</title></rect><text class=\"partlbl\" x=\"{:.0}\" y=\"{:.1}\">partition: {}</text>",
                lanes.width - LEFT - RIGHT,
                (y1 - y0).max(1.0),
                secs(p.start),
                secs(p.end),
                esc(&p.label),
                lanes.width - RIGHT,
                y0 + 12.0,
                esc(&clip(&p.label, 60)),
            ),
        );
    }
    // Time ticks every 100 ms (or a tenth of the window).
    let tick = ((w.end - w.start) / 20).max(1);
    let mut t = w.start.div_ceil(tick) * tick;
    while t <= w.end {
        let y = scale.y(t);
        put(
            &mut s,
            format_args!(
                "<line class=\"tick\" x1=\"{:.0}\" y1=\"{y:.1}\" x2=\"{:.0}\" y2=\"{y:.1}\"/><text class=\"tlbl\" x=\"{:.0}\" y=\"{:.1}\">{:.2} s</text>",
                LEFT - 4.0,
                lanes.width - RIGHT,
                LEFT - 8.0,
                y + 4.0,
                t as f64 / 1e9
            ),
        );
        t += tick;
    }
    // Lanes with labels at the top and the bottom.
    for lane in &lanes.lanes {
        let kind = match lane.kind {
            LaneKind::Client => "lc",
            LaneKind::Node => "ln",
            LaneKind::Service => "lv",
        };
        let x = lane.x;
        let (label, title) = (esc(&lane.label), esc(&lane.title));
        put(
            &mut s,
            format_args!(
                "<line class=\"lane {kind}\" x1=\"{x:.0}\" y1=\"{TOP}\" x2=\"{x:.0}\" y2=\"{:.0}\"/><text class=\"lanelbl {kind}\" x=\"{x:.0}\" y=\"{:.0}\"><title>{title}</title>{label}</text><text class=\"lanelbl {kind}\" x=\"{x:.0}\" y=\"{:.0}\"><title>{title}</title>{label}</text>",
                TOP + PLOT_HEIGHT,
                TOP - 10.0,
                TOP + PLOT_HEIGHT + 22.0,
            ),
        );
    }
    // Operations on client lanes, for the exchanges drawn.
    let mut ops_drawn: HashSet<usize> = HashSet::new();
    for m in &arrows {
        if lane_kind(m.src) != LaneKind::Client {
            continue;
        }
        let Some(op) = op_of_request(model, m) else {
            continue;
        };
        if !ops_drawn.insert(op.invoke.index) {
            continue;
        }
        let Some(&x) = lanes.x.get(m.src) else {
            continue;
        };
        let t1 = op.end().unwrap_or(model.end).min(w.end);
        let t0 = op.start().max(w.start);
        if t1 < t0 {
            continue;
        }
        let (y0, y1) = (scale.y(t0), scale.y(t1));
        put(
            &mut s,
            format_args!(
                "<rect class=\"op {}\" x=\"{:.0}\" y=\"{y0:.1}\" width=\"6\" height=\"{:.1}\" data-o=\"{}\"><title>op #{} {} {}: {}</title></rect>",
                op.outcome.word(),
                x - 3.0,
                (y1 - y0).max(2.0),
                op.invoke.index,
                op.invoke.index,
                esc(&op.invoke.f),
                op.outcome.word(),
                op.latency_ms().map(|l| format!("{l:.1} ms")).unwrap_or_else(|| "never completed".into())
            ),
        );
    }
    // Arrows.
    let label = arrows.len() <= MAX_LABELLED;
    for m in &arrows {
        let (Some(&x0), Some(&x1)) = (lanes.x.get(m.src), lanes.x.get(m.dest)) else {
            continue;
        };
        let (t1, fate) = match m.fate {
            Fate::Delivered(t) => (t, ""),
            Fate::Dropped(t) => (t, " d"),
            Fate::InFlight => (model.end.max(m.sent), " u"),
        };
        let ((ta, xa), (tb, xb)) = clip_segment(m.sent, x0, t1.max(m.sent), x1, w);
        let cut = tb == w.end && t1 >= w.end;
        let class = format!(
            "m {}{}{}",
            m.link().class(),
            fate,
            if cut { " x" } else { "" }
        );
        put(
            &mut s,
            format_args!(
                "<line class=\"{class}\" x1=\"{xa:.1}\" y1=\"{:.1}\" x2=\"{xb:.1}\" y2=\"{:.1}\" data-m=\"{}\"/>",
                scale.y(ta),
                scale.y(tb),
                m.id
            ),
        );
        if label && w.contains(m.sent) {
            if let Some(kind) = m.body_type() {
                // At the sending end: above the arrow when it goes right, below when it
                // goes left, so a request and its instant reply keep apart.
                let ya = scale.y(ta);
                let (lx, ly, anchor) = if xb >= xa {
                    (xa + 5.0, ya - 3.0, "start")
                } else {
                    (xa - 5.0, ya + 10.0, "end")
                };
                put(
                    &mut s,
                    format_args!(
                        "<text class=\"mlbl\" x=\"{lx:.0}\" y=\"{ly:.0}\" text-anchor=\"{anchor}\">{}</text>",
                        esc(&clip(&kind, 24))
                    ),
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// The operation a client request belongs to.
fn op_of_request<'m, 'a>(model: &'m Model<'a>, m: &Message<'a>) -> Option<&'m OpSpan<'a>> {
    #[derive(serde::Deserialize)]
    struct Id {
        msg_id: Option<u64>,
    }
    let msg_id = serde_json::from_str::<Id>(m.body?.get()).ok()?.msg_id?;
    let k = *model.op_of_request.get(&(m.src, msg_id))?;
    model.ops.get(k)
}

/// Arrow heads: one per link kind, a cross for drops.
const MARKERS: &str = "<defs>\
<marker id=\"ah-c\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#4e79a7\"/></marker>\
<marker id=\"ah-s\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#555\"/></marker>\
<marker id=\"ah-v\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#8e6bb0\"/></marker>\
<marker id=\"ah-d\" viewBox=\"0 0 10 10\" refX=\"5\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\"><path d=\"M1,1L9,9M9,1L1,9\" stroke=\"#d62728\" stroke-width=\"2\"/></marker>\
</defs>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_tile_the_run_and_the_focus_comes_first() {
        let w = windows(5_500_000_000, Some((3_000_000_000, "op #7 failed".into())));
        let got: Vec<(&str, u64, u64, bool)> = w
            .iter()
            .map(|w| (w.id.as_str(), w.start, w.end, w.open))
            .collect();
        assert_eq!(
            got,
            vec![
                ("wf", 2_500_000_000, 4_500_000_000, true),
                ("w0", 0, 2_000_000_000, true),
                ("w1", 2_000_000_000, 4_000_000_000, false),
                ("w2", 4_000_000_000, 6_000_000_000, false),
            ]
        );
        assert_eq!(w[0].label(), "2.5–4.5 s: op #7 failed");
    }

    #[test]
    fn a_focus_on_a_tile_names_that_tile() {
        let w = windows(3_000_000_000, Some((300_000_000, "op #0".into())));
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].id, "w0");
        assert_eq!(w[0].kind, WindowKind::Focus("op #0".into()));
        assert!(w[0].open && !w[1].open);
    }

    #[test]
    fn long_runs_get_longer_windows() {
        let w = windows(600_000_000_000, None);
        assert!(w.len() as u64 <= MAX_TILES);
        assert_eq!(w[0].end, 10_000_000_000);
    }

    #[test]
    fn clipping_keeps_the_part_inside_the_window() {
        let w = Window {
            id: "w1".into(),
            start: 100,
            end: 200,
            kind: WindowKind::Tile,
            open: false,
        };
        let ((ta, xa), (tb, xb)) = clip_segment(50, 0.0, 250, 200.0, &w);
        assert_eq!((ta, tb), (100, 200));
        assert!((xa - 50.0).abs() < 1e-9 && (xb - 150.0).abs() < 1e-9);
        assert_eq!(
            clip_segment(120, 0.0, 150, 10.0, &w),
            ((120, 0.0), (150, 10.0))
        );
    }
}
