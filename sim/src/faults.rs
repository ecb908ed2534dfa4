//! Fault schedules, IO-free: a test's faults as explicit windows (when each starts, when it
//! ends, what it does), drawn from a seed or read from a replay file, and played back as
//! timed events by either driver.
//!
//! Modes (`--faults` of `explore`):
//! - `partition`: Maelstrom's partition nemesis (spec §3.4), draw for draw: alternating
//!   start and stop from about t = 0, gaps uniform in [0, 2 × interval), a random shape
//!   (one, majority, minority-third, majorities-ring) per start;
//! - `partition-random` (not in Maelstrom): random halves, a majority/minority split,
//!   one node isolated, or a bridge (two halves joined by one node that sees both), for
//!   random lengths at random times;
//! - `pause` (not in Maelstrom): a node stops processing (no input, no timers) for a
//!   while, then catches up on what queued for it;
//! - `duplicate` (not in Maelstrom): every message to a node is delivered twice for a
//!   while.
//!
//! A schedule is plain data, so the explorer can shrink it (drop faults, shorten them)
//! and write it to a replay file.

use crate::net::partition::{grudge, grudge_from_components, Grudge, Shape};
use crate::seed;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// A way of drawing faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultMode {
    /// Maelstrom's partition nemesis.
    Partition,
    /// Random partitions of four shapes at random times (beyond Maelstrom).
    PartitionRandom,
    /// A node stops processing for a while (beyond Maelstrom).
    Pause,
    /// Messages to a node arrive twice for a while (beyond Maelstrom).
    Duplicate,
}

impl FaultMode {
    /// Every mode, in `--help` order.
    pub const ALL: [FaultMode; 4] = [
        FaultMode::Partition,
        FaultMode::PartitionRandom,
        FaultMode::Pause,
        FaultMode::Duplicate,
    ];

    /// The mode's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FaultMode::Partition => "partition",
            FaultMode::PartitionRandom => "partition-random",
            FaultMode::Pause => "pause",
            FaultMode::Duplicate => "duplicate",
        }
    }

    /// True for the modes Maelstrom has.
    pub fn in_maelstrom(self) -> bool {
        self == FaultMode::Partition
    }

    /// Parses a comma-separated list of modes (`none` for no faults).
    pub fn parse_list(s: &str) -> Result<Vec<FaultMode>, String> {
        let mut modes = Vec::new();
        for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            if word == "none" {
                continue;
            }
            match FaultMode::ALL.iter().find(|m| m.name() == word) {
                Some(m) if !modes.contains(m) => modes.push(*m),
                Some(_) => {}
                None => {
                    let names: Vec<&str> = FaultMode::ALL.iter().map(|m| m.name()).collect();
                    return Err(format!(
                        "unknown fault mode {word:?}: choose from {}, or none",
                        names.join(", ")
                    ));
                }
            }
        }
        Ok(modes)
    }
}

/// What a fault does while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FaultKind {
    /// Receivers drop messages from the sources listed for them.
    Partition {
        /// The shape's name (`one`, `majority`, `halves`, `bridge`, ...).
        shape: String,
        /// Receiver → ignored sources.
        grudge: Grudge,
    },
    /// The node processes nothing.
    Pause {
        /// The node.
        node: String,
    },
    /// Every message to the node is delivered twice.
    Duplicate {
        /// The node.
        node: String,
    },
}

/// One fault: from `start` to `end` (or, without an end, until the nemesis stops at the
/// end of the main phase), times since the main phase started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// When it starts.
    #[serde(with = "millis")]
    pub start: Duration,
    /// When it ends, if before the nemesis stops.
    #[serde(with = "opt_millis", default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Duration>,
    /// What it does.
    #[serde(flatten)]
    pub kind: FaultKind,
}

impl Fault {
    /// The nodes it involves.
    pub fn nodes(&self) -> BTreeSet<&str> {
        match &self.kind {
            FaultKind::Partition { grudge, .. } => grudge
                .iter()
                .flat_map(|(r, s)| std::iter::once(r.as_str()).chain(s.iter().map(String::as_str)))
                .collect(),
            FaultKind::Pause { node } | FaultKind::Duplicate { node } => {
                BTreeSet::from([node.as_str()])
            }
        }
    }

    /// A one-line description, e.g. `partition majority 2.1 s – 9.4 s`.
    pub fn describe(&self) -> String {
        let what = match &self.kind {
            FaultKind::Partition { shape, grudge } => {
                format!("partition {shape} ({} receivers cut)", grudge.len())
            }
            FaultKind::Pause { node } => format!("pause {node}"),
            FaultKind::Duplicate { node } => format!("duplicate messages to {node}"),
        };
        let end = self.end.map_or("the heal".to_string(), |e| {
            format!("{:.1} s", e.as_secs_f64())
        });
        format!("{what} {:.1} s – {end}", self.start.as_secs_f64())
    }
}

/// A test's faults.
pub type FaultPlan = Vec<Fault>;

/// Draws the faults of `modes` for a main phase of `time_limit`, from `seed`'s fault
/// streams (one per mode, so adding a mode does not change the others).
pub fn draw(
    modes: &[FaultMode],
    nodes: &[String],
    interval: Duration,
    time_limit: Duration,
    seed: u64,
) -> FaultPlan {
    let mut plan = Vec::new();
    for mode in modes {
        match mode {
            FaultMode::Partition => {
                let mut rng = seed::rng(seed, "nemesis", 0);
                plan.extend(maelstrom_partitions(nodes, interval, time_limit, &mut rng));
            }
            other => {
                let mut rng = seed::rng(seed, other.name(), 0);
                plan.extend(random_windows(
                    *other, nodes, interval, time_limit, &mut rng,
                ));
            }
        }
    }
    plan.sort_by_key(|f| f.start);
    plan
}

/// Gap before the next nemesis operation: uniform in [0, 2 × interval).
pub fn next_gap(interval: Duration, rng: &mut StdRng) -> Duration {
    let max = 2.0 * interval.as_secs_f64();
    if max <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(rng.random_range(0.0..max))
}

/// Maelstrom's partition nemesis as windows: the same draws, in the same order, as the
/// nemesis makes when it runs.
pub fn maelstrom_partitions(
    nodes: &[String],
    interval: Duration,
    time_limit: Duration,
    rng: &mut StdRng,
) -> FaultPlan {
    let mut plan: FaultPlan = Vec::new();
    let mut next = Duration::ZERO;
    let mut open: Option<Fault> = None;
    while next < time_limit {
        match open.take() {
            Some(mut f) => {
                f.end = Some(next);
                plan.push(f);
            }
            None => {
                let shape = Shape::random(rng);
                let g = grudge(shape, nodes, rng);
                open = Some(Fault {
                    start: next,
                    end: None,
                    kind: FaultKind::Partition {
                        shape: shape.name().to_string(),
                        grudge: g,
                    },
                });
            }
        }
        next += next_gap(interval, rng);
    }
    plan.extend(open);
    plan
}

/// Random windows of a beyond-Maelstrom mode: gaps and lengths uniform in
/// [interval / 10, 2 × interval).
fn random_windows(
    mode: FaultMode,
    nodes: &[String],
    interval: Duration,
    time_limit: Duration,
    rng: &mut StdRng,
) -> FaultPlan {
    let mut plan = Vec::new();
    if nodes.is_empty() {
        return plan;
    }
    let span = |rng: &mut StdRng| {
        let lo = interval.as_secs_f64() / 10.0;
        let hi = (2.0 * interval.as_secs_f64()).max(lo + 0.001);
        Duration::from_secs_f64(rng.random_range(lo..hi))
    };
    let mut t = span(rng) / 2;
    while t < time_limit {
        let length = span(rng);
        let kind = match mode {
            FaultMode::Pause => FaultKind::Pause {
                node: pick(nodes, rng),
            },
            FaultMode::Duplicate => FaultKind::Duplicate {
                node: pick(nodes, rng),
            },
            _ => random_partition(nodes, rng),
        };
        let end = t + length;
        plan.push(Fault {
            start: t,
            end: (end < time_limit).then_some(end),
            kind,
        });
        t = end + span(rng);
    }
    plan
}

fn pick(nodes: &[String], rng: &mut StdRng) -> String {
    nodes[rng.random_range(0..nodes.len())].clone()
}

/// One of `partition-random`'s shapes.
fn random_partition(nodes: &[String], rng: &mut StdRng) -> FaultKind {
    let mut shuffled = nodes.to_vec();
    shuffled.shuffle(rng);
    let n = shuffled.len();
    let (shape, g) = match rng.random_range(0..4) {
        0 => {
            let rest = shuffled.split_off(n / 2);
            ("halves", grudge_from_components(&[shuffled, rest]))
        }
        1 => {
            let k = rng.random_range(1..=(n / 2).max(1)).min(n);
            let rest = shuffled.split_off(k);
            ("minority", grudge_from_components(&[shuffled, rest]))
        }
        2 => {
            let rest = shuffled.split_off(1.min(n));
            ("isolated", grudge_from_components(&[shuffled, rest]))
        }
        _ => ("bridge", bridge(&shuffled)),
    };
    FaultKind::Partition {
        shape: shape.to_string(),
        grudge: g,
    }
}

/// Two halves that cannot talk to each other, and one node (the first) that talks to both.
fn bridge(nodes: &[String]) -> Grudge {
    let Some((bridge, rest)) = nodes.split_first() else {
        return Grudge::new();
    };
    let (a, b) = rest.split_at(rest.len() / 2);
    let mut g = grudge_from_components(&[a.to_vec(), b.to_vec()]);
    g.remove(bridge);
    g
}

/// A change to apply at a time: fault `index` starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// When.
    pub at: Duration,
    /// Which fault.
    pub index: usize,
    /// True for its start, false for its end.
    pub start: bool,
}

/// The plan's starts and ends in time order (an end before a start at the same time).
pub fn edges(plan: &[Fault]) -> Vec<Edge> {
    let mut out: Vec<Edge> = Vec::new();
    for (index, f) in plan.iter().enumerate() {
        out.push(Edge {
            at: f.start,
            index,
            start: true,
        });
        if let Some(end) = f.end {
            out.push(Edge {
                at: end.max(f.start),
                index,
                start: false,
            });
        }
    }
    out.sort_by_key(|e| (e.at, e.start, e.index));
    out
}

/// What the active faults add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultState {
    /// The union of the active partitions.
    pub grudge: Grudge,
    /// Paused nodes.
    pub paused: BTreeSet<String>,
    /// Nodes whose messages arrive twice.
    pub duplicating: BTreeSet<String>,
}

impl FaultState {
    /// The state with the faults `active` of `plan` in effect.
    pub fn of(plan: &[Fault], active: &BTreeSet<usize>) -> FaultState {
        let mut s = FaultState::default();
        for &i in active {
            match &plan[i].kind {
                FaultKind::Partition { grudge, .. } => {
                    for (r, srcs) in grudge {
                        s.grudge
                            .entry(r.clone())
                            .or_default()
                            .extend(srcs.iter().cloned());
                    }
                }
                FaultKind::Pause { node } => {
                    s.paused.insert(node.clone());
                }
                FaultKind::Duplicate { node } => {
                    s.duplicating.insert(node.clone());
                }
            }
        }
        s
    }
}

/// The history's nemesis record of an edge: (`f`, value), as Maelstrom names partitions.
pub fn nemesis_record(fault: &Fault, start: bool) -> (String, Value) {
    match (&fault.kind, start) {
        (FaultKind::Partition { shape, grudge }, true) => (
            "start-partition".into(),
            json!({"shape": shape, "grudge": grudge}),
        ),
        (FaultKind::Partition { .. }, false) => ("stop-partition".into(), json!("network-healed")),
        (FaultKind::Pause { node }, s) => (
            if s { "start-pause" } else { "stop-pause" }.into(),
            json!({ "node": node }),
        ),
        (FaultKind::Duplicate { node }, s) => (
            if s {
                "start-duplicate"
            } else {
                "stop-duplicate"
            }
            .into(),
            json!({ "node": node }),
        ),
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

mod opt_millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_u64(d.as_millis() as u64),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|o| o.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn maelstrom_windows_alternate_from_zero_and_the_last_stays_open() {
        let plan = draw(
            &[FaultMode::Partition],
            &ids(5),
            Duration::from_secs(2),
            Duration::from_secs(20),
            7,
        );
        assert!(!plan.is_empty());
        assert_eq!(plan[0].start, Duration::ZERO);
        for w in plan.windows(2) {
            assert!(w[0].end.is_some_and(|e| e <= w[1].start), "{plan:?}");
        }
        assert!(plan
            .iter()
            .all(|f| matches!(f.kind, FaultKind::Partition { .. })));
        let again = draw(
            &[FaultMode::Partition],
            &ids(5),
            Duration::from_secs(2),
            Duration::from_secs(20),
            7,
        );
        assert_eq!(plan, again, "a seed gives one schedule");
    }

    #[test]
    fn random_modes_draw_their_own_shapes_and_nodes() {
        let nodes = ids(6);
        let plan = draw(
            &[
                FaultMode::PartitionRandom,
                FaultMode::Pause,
                FaultMode::Duplicate,
            ],
            &nodes,
            Duration::from_secs(3),
            Duration::from_secs(60),
            3,
        );
        let kinds: BTreeSet<&str> = plan
            .iter()
            .map(|f| match &f.kind {
                FaultKind::Partition { .. } => "partition",
                FaultKind::Pause { .. } => "pause",
                FaultKind::Duplicate { .. } => "duplicate",
            })
            .collect();
        assert_eq!(kinds.len(), 3, "{plan:?}");
        for f in &plan {
            assert!(f.start < Duration::from_secs(60));
            assert!(f.nodes().iter().all(|n| nodes.iter().any(|x| x == n)));
        }
    }

    #[test]
    fn a_bridge_node_talks_to_both_halves() {
        let g = bridge(&ids(5));
        assert!(!g.contains_key("n0"));
        assert!(g.values().all(|s| !s.contains("n0")));
        assert_eq!(
            g["n1"],
            BTreeSet::from(["n3".to_string(), "n4".to_string()])
        );
    }

    #[test]
    fn the_state_is_the_union_of_active_faults_and_plans_round_trip_as_json() {
        let plan = vec![
            Fault {
                start: Duration::ZERO,
                end: Some(Duration::from_secs(2)),
                kind: FaultKind::Partition {
                    shape: "one".into(),
                    grudge: [("n0".to_string(), ["n1".to_string()].into())].into(),
                },
            },
            Fault {
                start: Duration::from_secs(1),
                end: None,
                kind: FaultKind::Pause { node: "n2".into() },
            },
        ];
        let s = FaultState::of(&plan, &BTreeSet::from([0, 1]));
        assert_eq!(s.paused, BTreeSet::from(["n2".to_string()]));
        assert_eq!(s.grudge.len(), 1);
        let e = edges(&plan);
        assert_eq!(e.len(), 3);
        assert!(e[0].start && e[1].start && !e[2].start);
        let text = serde_json::to_string(&plan).unwrap();
        let back: FaultPlan = serde_json::from_str(&text).unwrap();
        assert_eq!(back, plan);
        assert!(text.contains(r#""kind":"pause""#), "{text}");
    }

    #[test]
    fn modes_parse_and_unknown_ones_say_what_exists() {
        assert_eq!(
            FaultMode::parse_list("partition-random, pause").unwrap(),
            vec![FaultMode::PartitionRandom, FaultMode::Pause]
        );
        assert!(FaultMode::parse_list("none").unwrap().is_empty());
        let err = FaultMode::parse_list("flood").unwrap_err();
        assert!(
            err.contains("partition, partition-random, pause, duplicate"),
            "{err}"
        );
    }
}
