//! Transaction dependency graphs with typed edges, stored as compressed adjacency
//! lists (CSR) so that 200,000-transaction histories stay cheap to walk.

use std::fmt;

/// One kind of ordering between two transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rel {
    /// Write-write: the second transaction overwrote (or appended after) the first's write.
    Ww,
    /// Write-read: the second transaction read the first's write.
    Wr,
    /// Read-write (anti-dependency): the first read a version the second overwrote.
    Rw,
    /// Process order: the same process ran the first, then the second.
    Process,
    /// Real-time order: the first completed before the second was invoked.
    Realtime,
}

impl Rel {
    /// Every relation, in the order explanations prefer them (data dependencies first).
    pub const ALL: [Rel; 5] = [Rel::Ww, Rel::Wr, Rel::Rw, Rel::Process, Rel::Realtime];

    /// The relation's bit in a [`RelSet`].
    pub const fn bit(self) -> u8 {
        match self {
            Rel::Ww => 1,
            Rel::Wr => 2,
            Rel::Rw => 4,
            Rel::Process => 8,
            Rel::Realtime => 16,
        }
    }

    /// Short name used in reports: "ww", "wr", "rw", "process", "realtime".
    pub const fn name(self) -> &'static str {
        match self {
            Rel::Ww => "ww",
            Rel::Wr => "wr",
            Rel::Rw => "rw",
            Rel::Process => "process",
            Rel::Realtime => "realtime",
        }
    }
}

impl fmt::Display for Rel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of relations (a bit mask).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RelSet(pub u8);

impl RelSet {
    /// No relation.
    pub const EMPTY: RelSet = RelSet(0);
    /// The three data dependencies: ww, wr and rw.
    pub const DATA: RelSet = RelSet(1 | 2 | 4);

    /// The set holding just `rel`.
    pub const fn of(rel: Rel) -> RelSet {
        RelSet(rel.bit())
    }

    /// The union of both sets.
    pub const fn union(self, other: RelSet) -> RelSet {
        RelSet(self.0 | other.0)
    }

    /// This set plus `rel`.
    pub const fn with(self, rel: Rel) -> RelSet {
        RelSet(self.0 | rel.bit())
    }

    /// The relations present in both sets.
    pub const fn intersect(self, other: RelSet) -> RelSet {
        RelSet(self.0 & other.0)
    }

    /// True if `rel` is in the set.
    pub const fn contains(self, rel: Rel) -> bool {
        self.0 & rel.bit() != 0
    }

    /// True if the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The first relation of the set in [`Rel::ALL`] order (data dependencies first).
    pub fn preferred(self) -> Option<Rel> {
        Rel::ALL.into_iter().find(|r| self.contains(*r))
    }

    /// The relations in the set, in [`Rel::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Rel> {
        Rel::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

/// Compressed adjacency lists: the out-edges of node `v` are
/// `targets[offsets[v]..offsets[v + 1]]`, each with its relation set in `rels`.
#[derive(Clone, Debug, Default)]
pub struct Csr {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    rels: Vec<RelSet>,
}

impl Csr {
    /// Builds adjacency lists over `n` nodes from `(from, to, rels)` edges. Parallel
    /// edges are merged (their relations united), self-edges dropped and edges whose
    /// relations are all outside `mask` skipped.
    pub fn from_edges(n: usize, edges: &mut [(u32, u32, RelSet)], mask: RelSet) -> Csr {
        edges.sort_unstable_by_key(|&(a, b, _)| (a, b));
        let mut offsets = vec![0u32; n + 1];
        let mut targets = Vec::with_capacity(edges.len());
        let mut rels: Vec<RelSet> = Vec::with_capacity(edges.len());
        let mut last: Option<(u32, u32)> = None;
        for &(a, b, r) in edges.iter() {
            let r = r.intersect(mask);
            if a == b || r.is_empty() {
                continue;
            }
            if last == Some((a, b)) {
                if let Some(prev) = rels.last_mut() {
                    *prev = prev.union(r);
                }
                continue;
            }
            last = Some((a, b));
            offsets[a as usize + 1] += 1;
            targets.push(b);
            rels.push(r);
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        Csr {
            offsets,
            targets,
            rels,
        }
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Number of (merged) edges.
    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// The out-edges of `v`: `(target, relations)` pairs.
    pub fn out(&self, v: u32) -> impl Iterator<Item = (u32, RelSet)> + '_ {
        let (s, e) = self.range(v);
        self.targets[s..e]
            .iter()
            .copied()
            .zip(self.rels[s..e].iter().copied())
    }

    /// The index range of `v`'s out-edges in the edge arrays.
    pub fn range(&self, v: u32) -> (usize, usize) {
        let v = v as usize;
        (self.offsets[v] as usize, self.offsets[v + 1] as usize)
    }

    /// The target and relations of edge number `i`.
    pub fn edge(&self, i: usize) -> (u32, RelSet) {
        (self.targets[i], self.rels[i])
    }

    /// The relations of the edge `a -> b`, empty if there is none.
    pub fn rels_between(&self, a: u32, b: u32) -> RelSet {
        let (s, e) = self.range(a);
        match self.targets[s..e].binary_search(&b) {
            Ok(i) => self.rels[s + i],
            Err(_) => RelSet::EMPTY,
        }
    }

    /// Every relation used by some edge.
    pub fn rels_used(&self) -> RelSet {
        self.rels.iter().fold(RelSet::EMPTY, |acc, r| acc.union(*r))
    }

    /// The subgraph induced by `nodes` (global ids, in any order) keeping only the
    /// relations in `mask`. Node `i` of the result is `nodes[i]`; `local` is a scratch
    /// vector of length `self.node_count()` filled with `u32::MAX`, left that way.
    pub fn induced(&self, nodes: &[u32], mask: RelSet, local: &mut [u32]) -> Csr {
        for (i, &v) in nodes.iter().enumerate() {
            local[v as usize] = i as u32;
        }
        let mut offsets = Vec::with_capacity(nodes.len() + 1);
        offsets.push(0u32);
        let mut targets = Vec::new();
        let mut rels = Vec::new();
        for &v in nodes {
            let mut out: Vec<(u32, RelSet)> = self
                .out(v)
                .filter_map(|(w, r)| {
                    let r = r.intersect(mask);
                    let lw = local[w as usize];
                    (lw != u32::MAX && !r.is_empty()).then_some((lw, r))
                })
                .collect();
            out.sort_unstable_by_key(|&(w, _)| w);
            for (w, r) in out {
                targets.push(w);
                rels.push(r);
            }
            offsets.push(targets.len() as u32);
        }
        for &v in nodes {
            local[v as usize] = u32::MAX;
        }
        Csr {
            offsets,
            targets,
            rels,
        }
    }

    /// The same graph restricted to the relations in `mask` (same node ids).
    pub fn masked(&self, mask: RelSet) -> Csr {
        let n = self.node_count();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        let mut targets = Vec::new();
        let mut rels = Vec::new();
        for v in 0..n as u32 {
            for (w, r) in self.out(v) {
                let r = r.intersect(mask);
                if !r.is_empty() {
                    targets.push(w);
                    rels.push(r);
                }
            }
            offsets.push(targets.len() as u32);
        }
        Csr {
            offsets,
            targets,
            rels,
        }
    }
}

/// Collects typed edges between transactions `0..n`, then freezes them into a [`Csr`].
#[derive(Clone, Debug, Default)]
pub struct GraphBuilder {
    n: usize,
    edges: Vec<(u32, u32, RelSet)>,
}

impl GraphBuilder {
    /// A builder for a graph over `n` transactions.
    pub fn new(n: usize) -> GraphBuilder {
        GraphBuilder {
            n,
            edges: Vec::new(),
        }
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.n
    }

    /// Adds the edge `from -> to` with relation `rel` (self-edges are dropped later).
    pub fn add(&mut self, from: usize, to: usize, rel: Rel) {
        if from != to {
            self.edges.push((from as u32, to as u32, RelSet::of(rel)));
        }
    }

    /// Freezes the edges into adjacency lists.
    pub fn build(mut self) -> Csr {
        Csr::from_edges(self.n, &mut self.edges, RelSet(u8::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_edges_merge_and_self_edges_vanish() {
        let mut b = GraphBuilder::new(3);
        b.add(0, 1, Rel::Ww);
        b.add(0, 1, Rel::Realtime);
        b.add(1, 1, Rel::Wr);
        b.add(1, 2, Rel::Rw);
        let g = b.build();
        assert_eq!(g.edge_count(), 2);
        let r = g.rels_between(0, 1);
        assert!(r.contains(Rel::Ww) && r.contains(Rel::Realtime) && !r.contains(Rel::Wr));
        assert!(g.rels_between(1, 1).is_empty());
        assert_eq!(g.rels_between(1, 2), RelSet::of(Rel::Rw));
        assert!(g.rels_between(2, 1).is_empty());
    }

    #[test]
    fn induced_subgraph_renumbers_and_masks() {
        let mut b = GraphBuilder::new(4);
        b.add(0, 1, Rel::Ww);
        b.add(1, 3, Rel::Rw);
        b.add(3, 0, Rel::Wr);
        b.add(2, 3, Rel::Ww);
        let g = b.build();
        let mut scratch = vec![u32::MAX; 4];
        let sub = g.induced(&[3, 0, 1], RelSet::of(Rel::Ww).with(Rel::Wr), &mut scratch);
        assert_eq!(sub.node_count(), 3);
        // 3 -> 0 is local 0 -> 1 (wr); 0 -> 1 is local 1 -> 2 (ww); 1 -> 3 (rw) is masked.
        assert_eq!(sub.rels_between(0, 1), RelSet::of(Rel::Wr));
        assert_eq!(sub.rels_between(1, 2), RelSet::of(Rel::Ww));
        assert!(sub.rels_between(2, 0).is_empty());
        assert!(scratch.iter().all(|&x| x == u32::MAX));
    }
}
