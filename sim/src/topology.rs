//! Broadcast topologies (spec §5.3): grid, line, total and B-ary trees, built from the
//! node list in `init` order. The whole map is sent to every node.

use crate::plan::PlanError;
use serde_json::{Map, Value};

/// A topology shape from `--topology`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopologyKind {
    /// ceil(√N) columns; neighbours row+1, row−1, col+1, col−1.
    Grid,
    /// A chain; `{}` for fewer than 2 nodes.
    Line,
    /// Everyone lists everyone else.
    Total,
    /// Tiers of 1, B, B², …: parent first, then children.
    Tree(usize),
}

impl TopologyKind {
    /// Parses a `--topology` value.
    pub fn parse(s: &str) -> Result<TopologyKind, PlanError> {
        Ok(match s {
            "grid" => TopologyKind::Grid,
            "line" => TopologyKind::Line,
            "total" => TopologyKind::Total,
            "tree" | "tree2" => TopologyKind::Tree(2),
            "tree3" => TopologyKind::Tree(3),
            "tree4" => TopologyKind::Tree(4),
            other => {
                return Err(PlanError(format!(
                    "--topology {other:?}: expected grid, line, tree, tree2, tree3, tree4 or total"
                )))
            }
        })
    }
}

/// The neighbour map for `nodes` as an ordered list of (node, neighbours).
pub fn build(kind: TopologyKind, nodes: &[String]) -> Vec<(String, Vec<String>)> {
    let n = nodes.len();
    let name = |i: usize| nodes[i].clone();
    match kind {
        TopologyKind::Grid => {
            let side = (1..=n).find(|s| s * s >= n).unwrap_or(1);
            (0..n)
                .map(|k| {
                    let (row, col) = (k / side, k % side);
                    let mut nb = Vec::new();
                    let at = |r: usize, c: usize| {
                        let i = r * side + c;
                        (c < side && i < n).then_some(i)
                    };
                    if let Some(i) = at(row + 1, col) {
                        nb.push(name(i));
                    }
                    if row > 0 {
                        if let Some(i) = at(row - 1, col) {
                            nb.push(name(i));
                        }
                    }
                    if let Some(i) = at(row, col + 1) {
                        nb.push(name(i));
                    }
                    if col > 0 {
                        if let Some(i) = at(row, col - 1) {
                            nb.push(name(i));
                        }
                    }
                    (name(k), nb)
                })
                .collect()
        }
        TopologyKind::Line => {
            if n < 2 {
                return Vec::new();
            }
            (0..n)
                .map(|k| {
                    let mut nb = Vec::new();
                    if k > 0 {
                        nb.push(name(k - 1));
                    }
                    if k + 1 < n {
                        nb.push(name(k + 1));
                    }
                    (name(k), nb)
                })
                .collect()
        }
        TopologyKind::Total => (0..n)
            .map(|k| (name(k), (0..n).filter(|&j| j != k).map(name).collect()))
            .collect(),
        TopologyKind::Tree(b) => (0..n)
            .map(|k| {
                let mut nb = Vec::new();
                if k > 0 {
                    nb.push(name((k - 1) / b));
                }
                for c in (k * b + 1)..=(k * b + b) {
                    if c < n {
                        nb.push(name(c));
                    }
                }
                (name(k), nb)
            })
            .collect(),
    }
}

/// The topology as the JSON object sent in the `topology` message.
pub fn to_json(topology: &[(String, Vec<String>)]) -> Value {
    let mut m = Map::new();
    for (node, nb) in topology {
        m.insert(
            node.clone(),
            Value::Array(nb.iter().cloned().map(Value::String).collect()),
        );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    fn get<'a>(t: &'a [(String, Vec<String>)], k: &str) -> Vec<&'a str> {
        t.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.iter().map(String::as_str).collect())
            .unwrap_or_else(|| panic!("{k} missing"))
    }

    #[test]
    fn grid_neighbour_order_is_down_up_right_left() {
        let t = build(TopologyKind::Grid, &ids(25));
        assert_eq!(get(&t, "n0"), vec!["n5", "n1"]);
        assert_eq!(get(&t, "n12"), vec!["n17", "n7", "n13", "n11"]);
        assert_eq!(get(&t, "n24"), vec!["n19", "n23"]);
        assert_eq!(get(&t, "n4"), vec!["n9", "n3"]);
    }

    #[test]
    fn grid_partial_last_row() {
        // 5 nodes: side 3; rows [n0 n1 n2] [n3 n4].
        let t = build(TopologyKind::Grid, &ids(5));
        assert_eq!(get(&t, "n0"), vec!["n3", "n1"]);
        assert_eq!(get(&t, "n2"), vec!["n1"]);
        assert_eq!(get(&t, "n4"), vec!["n1", "n3"]);
    }

    #[test]
    fn grid_single_node_has_empty_list() {
        let t = build(TopologyKind::Grid, &ids(1));
        assert_eq!(to_json(&t), serde_json::json!({"n0": []}));
    }

    #[test]
    fn line_below_two_nodes_is_empty() {
        assert!(build(TopologyKind::Line, &ids(1)).is_empty());
        assert_eq!(
            to_json(&build(TopologyKind::Line, &ids(1))),
            serde_json::json!({})
        );
        let t = build(TopologyKind::Line, &ids(3));
        assert_eq!(get(&t, "n0"), vec!["n1"]);
        assert_eq!(get(&t, "n1"), vec!["n0", "n2"]);
        assert_eq!(get(&t, "n2"), vec!["n1"]);
    }

    #[test]
    fn trees_list_parent_then_children() {
        let t = build(TopologyKind::Tree(2), &ids(7));
        assert_eq!(get(&t, "n0"), vec!["n1", "n2"]);
        assert_eq!(get(&t, "n1"), vec!["n0", "n3", "n4"]);
        assert_eq!(get(&t, "n6"), vec!["n2"]);
        let t3 = build(TopologyKind::Tree(3), &ids(5));
        assert_eq!(get(&t3, "n0"), vec!["n1", "n2", "n3"]);
        assert_eq!(get(&t3, "n1"), vec!["n0", "n4"]);
        let t4 = build(TopologyKind::Tree(4), &ids(6));
        assert_eq!(get(&t4, "n0"), vec!["n1", "n2", "n3", "n4"]);
        assert_eq!(get(&t4, "n5"), vec!["n1"]);
    }

    #[test]
    fn total_lists_everyone_else() {
        let t = build(TopologyKind::Total, &ids(3));
        assert_eq!(get(&t, "n1"), vec!["n0", "n2"]);
        assert_eq!(TopologyKind::parse("tree"), Ok(TopologyKind::Tree(2)));
        assert!(TopologyKind::parse("ring").is_err());
    }
}
