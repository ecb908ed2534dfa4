//! Partition shapes of the `partition` nemesis (spec §3.4) and the "grudge" they produce:
//! for each receiver, the set of sources whose messages it drops.
//!
//! Deviation: for more than 5 nodes Jepsen builds `majorities-ring` stochastically; we use
//! the ring construction for every N (shuffled nodes, each sees the majority-sized window
//! around itself), which has the same defining property: every node reaches a majority
//! and no two nodes see exactly the same one (for N ≥ 3).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Receiver → sources it ignores.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// The four partition specs Jepsen picks from uniformly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Isolate one random node.
    One,
    /// Split floor(N/2) nodes from the rest.
    Majority,
    /// Split floor((N−1)/3) nodes from the rest (a no-op for N ≤ 3).
    MinorityThird,
    /// Each node sees its own majority.
    MajoritiesRing,
}

impl Shape {
    /// All shapes, in the order the nemesis draws from.
    pub const ALL: [Shape; 4] = [
        Shape::One,
        Shape::Majority,
        Shape::MinorityThird,
        Shape::MajoritiesRing,
    ];

    /// Jepsen's name for the shape.
    pub fn name(self) -> &'static str {
        match self {
            Shape::One => "one",
            Shape::Majority => "majority",
            Shape::MinorityThird => "minority-third",
            Shape::MajoritiesRing => "majorities-ring",
        }
    }

    /// A uniformly random shape.
    pub fn random(rng: &mut StdRng) -> Shape {
        Shape::ALL[rng.random_range(0..Shape::ALL.len())]
    }
}

/// Each node of a component ignores every node outside it.
pub fn grudge_from_components(components: &[Vec<String>]) -> Grudge {
    let mut g = Grudge::new();
    for (i, comp) in components.iter().enumerate() {
        for node in comp {
            let others: BTreeSet<String> = components
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .flat_map(|(_, c)| c.iter().cloned())
                .collect();
            if !others.is_empty() {
                g.insert(node.clone(), others);
            }
        }
    }
    g
}

/// Builds the grudge for `shape` over `nodes`.
pub fn grudge(shape: Shape, nodes: &[String], rng: &mut StdRng) -> Grudge {
    let mut shuffled = nodes.to_vec();
    shuffled.shuffle(rng);
    let n = shuffled.len();
    match shape {
        Shape::One => {
            let rest = shuffled.split_off(1.min(n));
            grudge_from_components(&[shuffled, rest])
        }
        Shape::Majority => {
            let rest = shuffled.split_off(n / 2);
            grudge_from_components(&[shuffled, rest])
        }
        Shape::MinorityThird => {
            let k = n.saturating_sub(1) / 3;
            let rest = shuffled.split_off(k);
            grudge_from_components(&[shuffled, rest])
        }
        Shape::MajoritiesRing => {
            let m = n / 2 + 1;
            let back = (m - 1) / 2;
            let mut g = Grudge::new();
            for i in 0..n {
                let window: BTreeSet<&String> =
                    (0..m).map(|d| &shuffled[(i + n - back + d) % n]).collect();
                let ignored: BTreeSet<String> = shuffled
                    .iter()
                    .filter(|x| !window.contains(x))
                    .cloned()
                    .collect();
                if !ignored.is_empty() {
                    g.insert(shuffled[i].clone(), ignored);
                }
            }
            g
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    fn reach(g: &Grudge, node: &str, nodes: &[String]) -> BTreeSet<String> {
        let ignored = g.get(node).cloned().unwrap_or_default();
        nodes
            .iter()
            .filter(|x| !ignored.contains(*x))
            .cloned()
            .collect()
    }

    #[test]
    fn one_isolates_a_single_node() {
        let mut rng = StdRng::seed_from_u64(1);
        let nodes = ids(5);
        let g = grudge(Shape::One, &nodes, &mut rng);
        let isolated: Vec<_> = nodes.iter().filter(|n| g[*n].len() == 4).collect();
        assert_eq!(isolated.len(), 1);
        for n in &nodes {
            if n != isolated[0] {
                assert_eq!(g[n], BTreeSet::from([isolated[0].clone()]));
            }
        }
    }

    #[test]
    fn majority_splits_floor_half() {
        let mut rng = StdRng::seed_from_u64(2);
        let nodes = ids(5);
        let g = grudge(Shape::Majority, &nodes, &mut rng);
        let mut sizes: Vec<usize> = nodes.iter().map(|n| g[n].len()).collect();
        sizes.sort();
        // 2 nodes ignore 3, 3 nodes ignore 2.
        assert_eq!(sizes, vec![2, 2, 2, 3, 3]);
    }

    #[test]
    fn minority_third_sizes() {
        let mut rng = StdRng::seed_from_u64(3);
        assert!(grudge(Shape::MinorityThird, &ids(3), &mut rng).is_empty());
        let g5 = grudge(Shape::MinorityThird, &ids(5), &mut rng);
        assert_eq!(g5.values().filter(|s| s.len() == 4).count(), 1);
        let g25 = grudge(Shape::MinorityThird, &ids(25), &mut rng);
        assert_eq!(g25.values().filter(|s| s.len() == 17).count(), 8);
        assert_eq!(g25.values().filter(|s| s.len() == 8).count(), 17);
    }

    #[test]
    fn majorities_ring_gives_distinct_majorities() {
        for n in [3usize, 4, 5, 7, 25] {
            let mut rng = StdRng::seed_from_u64(n as u64);
            let nodes = ids(n);
            let g = grudge(Shape::MajoritiesRing, &nodes, &mut rng);
            let views: Vec<BTreeSet<String>> = nodes.iter().map(|x| reach(&g, x, &nodes)).collect();
            for (i, v) in views.iter().enumerate() {
                assert_eq!(v.len(), n / 2 + 1, "n={n}");
                assert!(v.contains(&nodes[i]));
            }
            let distinct: BTreeSet<_> = views.iter().collect();
            assert_eq!(distinct.len(), n, "n={n}");
        }
        let mut rng = StdRng::seed_from_u64(9);
        assert!(grudge(Shape::MajoritiesRing, &ids(2), &mut rng).is_empty());
    }

    #[test]
    fn single_node_shapes_cut_nothing() {
        let mut rng = StdRng::seed_from_u64(4);
        for s in Shape::ALL {
            assert!(grudge(s, &ids(1), &mut rng).is_empty(), "{}", s.name());
        }
    }
}
