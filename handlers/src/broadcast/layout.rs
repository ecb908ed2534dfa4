//! Who gossips with whom: the overlay a node uses, computed from the configured layout,
//! the node list from `init` and (for [`Layout::Maelstrom`]) the `topology` message.
//!
//! A node either *relays* (it forwards values learned from one neighbour to the others:
//! the hub of a star, inner tree nodes, grid nodes) or only *originates* (it sends just
//! the values its clients gave it: star and tree leaves, every node of [`Layout::Total`]).
//! The two kinds batch with separate intervals.

use std::collections::HashMap;

/// The configured overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The neighbours Maelstrom sends in `topology` (until it arrives: like `Total`).
    Maelstrom,
    /// The first node of `init`'s list is a hub linked to every other node.
    Star,
    /// A tree in `init` order: node i's children are fanout·i+1 ..= fanout·i+fanout.
    Tree {
        /// Children per node (at least 1).
        fanout: usize,
    },
    /// Every node sends its own values straight to every other node; nobody relays.
    Total,
    /// Maelstrom's grid: side ⌈√N⌉, node k at row k / side, column k % side.
    Grid,
}

impl Layout {
    /// The names accepted in config, in the order the docs list them.
    pub const NAMES: &'static [&'static str] = &["maelstrom", "star", "tree", "total", "grid"];

    /// The layout called `name` (one of [`Layout::NAMES`]), with `fanout` for trees.
    pub fn from_name(name: &str, fanout: usize) -> Option<Layout> {
        match name {
            "maelstrom" => Some(Layout::Maelstrom),
            "star" => Some(Layout::Star),
            "tree" => Some(Layout::Tree { fanout }),
            "total" => Some(Layout::Total),
            "grid" => Some(Layout::Grid),
            _ => None,
        }
    }
}

/// One node's place in the overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Indices (into the `init` node list) of the nodes this one gossips with.
    pub neighbours: Vec<usize>,
    /// True if the node forwards values learned from peers; false if it only sends the
    /// values its own clients gave it.
    pub relays: bool,
}

impl Plan {
    /// The plan for node `me` of `count` nodes. `topology` is Maelstrom's neighbour list
    /// for this node (already mapped to indices), used only by [`Layout::Maelstrom`].
    pub fn new(layout: Layout, me: usize, count: usize, topology: Option<&[usize]>) -> Plan {
        let all_others = || (0..count).filter(|&i| i != me).collect::<Vec<_>>();
        let neighbours = match layout {
            Layout::Maelstrom => match topology {
                Some(list) => list.to_vec(),
                None => {
                    return Plan {
                        neighbours: all_others(),
                        relays: false,
                    }
                }
            },
            Layout::Total => {
                return Plan {
                    neighbours: all_others(),
                    relays: false,
                }
            }
            Layout::Star => tree_neighbours(me, count, count.saturating_sub(1).max(1)),
            Layout::Tree { fanout } => tree_neighbours(me, count, fanout.max(1)),
            Layout::Grid => grid_neighbours(me, count),
        };
        let relays = neighbours.len() > 1;
        Plan { neighbours, relays }
    }
}

fn tree_neighbours(me: usize, count: usize, fanout: usize) -> Vec<usize> {
    let mut out = Vec::new();
    if me > 0 {
        out.push((me - 1) / fanout);
    }
    let first = me.saturating_mul(fanout).saturating_add(1);
    out.extend((first..first.saturating_add(fanout)).take_while(|&c| c < count));
    out
}

fn grid_neighbours(me: usize, count: usize) -> Vec<usize> {
    let mut side = 1;
    while side * side < count {
        side += 1;
    }
    let (row, col) = (me / side, me % side);
    let mut out = Vec::with_capacity(4);
    let mut add = |r: usize, c: usize| {
        let k = r * side + c;
        if c < side && k < count {
            out.push(k);
        }
    };
    add(row + 1, col);
    if row > 0 {
        add(row - 1, col);
    }
    add(row, col + 1);
    if col > 0 {
        add(row, col - 1);
    }
    out
}

/// Maps Maelstrom's `topology` entry for `me` to node indices, dropping unknown ids and
/// `me` itself (so gossip never goes to an id that is not a node). `None` if the map has
/// no entry for `me`.
pub fn topology_indices(
    topology: &HashMap<String, Vec<String>>,
    me: &str,
    node_ids: &[String],
) -> Option<Vec<usize>> {
    let listed = topology.get(me)?;
    let mut out = Vec::with_capacity(listed.len());
    for id in listed {
        if let Some(i) = node_ids.iter().position(|n| n == id) {
            if node_ids[i] != me && !out.contains(&i) {
                out.push(i);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symmetric(layout: Layout, count: usize) {
        for a in 0..count {
            let plan = Plan::new(layout, a, count, None);
            for &b in &plan.neighbours {
                assert_ne!(a, b);
                assert!(b < count);
                assert!(
                    Plan::new(layout, b, count, None).neighbours.contains(&a),
                    "{layout:?}: {a} lists {b} but not the other way round"
                );
            }
        }
    }

    fn connected(layout: Layout, count: usize) -> bool {
        let mut seen = vec![false; count];
        let mut stack = vec![0];
        seen[0] = true;
        while let Some(a) = stack.pop() {
            for b in Plan::new(layout, a, count, None).neighbours {
                if !seen[b] {
                    seen[b] = true;
                    stack.push(b);
                }
            }
        }
        seen.iter().all(|s| *s)
    }

    #[test]
    fn star_has_one_hub_that_relays() {
        let hub = Plan::new(Layout::Star, 0, 25, None);
        assert_eq!(hub.neighbours, (1..25).collect::<Vec<_>>());
        assert!(hub.relays);
        let leaf = Plan::new(Layout::Star, 7, 25, None);
        assert_eq!(leaf.neighbours, vec![0]);
        assert!(!leaf.relays);
    }

    #[test]
    fn tree_follows_heap_order() {
        let p = Plan::new(Layout::Tree { fanout: 4 }, 1, 25, None);
        assert_eq!(p.neighbours, vec![0, 5, 6, 7, 8]);
        let p = Plan::new(Layout::Tree { fanout: 4 }, 5, 25, None);
        assert_eq!(p.neighbours, vec![1, 21, 22, 23, 24]);
        let p = Plan::new(Layout::Tree { fanout: 4 }, 24, 25, None);
        assert_eq!(p.neighbours, vec![5]);
        assert!(!p.relays);
    }

    #[test]
    fn grid_matches_maelstrom() {
        // 5x5: node 6 is at row 1, col 1.
        assert_eq!(
            Plan::new(Layout::Grid, 6, 25, None).neighbours,
            vec![11, 1, 7, 5]
        );
        // 5 nodes: side 3; node 4 at row 1, col 1; below it would be 7 (absent).
        assert_eq!(Plan::new(Layout::Grid, 4, 5, None).neighbours, vec![1, 3]);
    }

    #[test]
    fn every_layout_is_symmetric_and_connected() {
        for count in [1, 2, 3, 5, 12, 25] {
            for layout in [
                Layout::Star,
                Layout::Tree { fanout: 1 },
                Layout::Tree { fanout: 3 },
                Layout::Total,
                Layout::Grid,
            ] {
                symmetric(layout, count);
                assert!(connected(layout, count), "{layout:?} with {count} nodes");
            }
        }
    }

    #[test]
    fn total_and_unknown_topology_never_relay() {
        let p = Plan::new(Layout::Total, 2, 5, None);
        assert_eq!(p.neighbours, vec![0, 1, 3, 4]);
        assert!(!p.relays);
        assert_eq!(Plan::new(Layout::Maelstrom, 2, 5, None), p);
        let given = Plan::new(Layout::Maelstrom, 2, 5, Some(&[1, 3]));
        assert_eq!(given.neighbours, vec![1, 3]);
        assert!(given.relays);
    }

    #[test]
    fn topology_drops_unknown_ids_and_self() {
        let ids: Vec<String> = ["n0", "n1", "n2"].iter().map(|s| s.to_string()).collect();
        let mut topo = HashMap::new();
        topo.insert(
            "n1".to_string(),
            vec![
                "n0".into(),
                "n1".into(),
                "c3".into(),
                "n2".into(),
                "n0".into(),
            ],
        );
        assert_eq!(topology_indices(&topo, "n1", &ids), Some(vec![0, 2]));
        assert_eq!(topology_indices(&topo, "n0", &ids), None);
    }
}
