//! Strongly connected components by Tarjan's algorithm, written with an explicit
//! stack so that graphs of hundreds of thousands of nodes cannot overflow the call
//! stack.

use super::graph::Csr;

const UNVISITED: u32 = u32::MAX;

/// The strongly connected components of a graph.
#[derive(Clone, Debug)]
pub struct Components {
    /// Component id of every node. Ids are in reverse topological order of the
    /// condensation: every edge between two components goes from a higher id to a
    /// lower (or equal) one.
    pub comp: Vec<u32>,
    /// Number of nodes in each component.
    pub sizes: Vec<u32>,
}

impl Components {
    /// Number of components.
    pub fn count(&self) -> usize {
        self.sizes.len()
    }

    /// The nodes of every component with at least two nodes (a graph without
    /// self-edges has cycles only there), each list sorted.
    pub fn nontrivial(&self) -> Vec<Vec<u32>> {
        let mut slot = vec![u32::MAX; self.sizes.len()];
        let mut out: Vec<Vec<u32>> = Vec::new();
        for (c, &size) in self.sizes.iter().enumerate() {
            if size >= 2 {
                slot[c] = out.len() as u32;
                out.push(Vec::with_capacity(size as usize));
            }
        }
        for (v, &c) in self.comp.iter().enumerate() {
            let s = slot[c as usize];
            if s != u32::MAX {
                out[s as usize].push(v as u32);
            }
        }
        out
    }
}

/// Computes the strongly connected components of `g` (all of its edges).
pub fn tarjan(g: &Csr) -> Components {
    let n = g.node_count();
    let mut index = vec![UNVISITED; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![UNVISITED; n];
    let mut sizes: Vec<u32> = Vec::new();
    let mut stack: Vec<u32> = Vec::new();
    // Call frames: (node, position of the next out-edge to look at).
    let mut frames: Vec<(u32, usize)> = Vec::new();
    let mut next_index = 0u32;

    for root in 0..n as u32 {
        if index[root as usize] != UNVISITED {
            continue;
        }
        index[root as usize] = next_index;
        low[root as usize] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        frames.push((root, g.range(root).0));

        while let Some(frame) = frames.last_mut() {
            let v = frame.0;
            let end = g.range(v).1;
            if frame.1 < end {
                let (w, _) = g.edge(frame.1);
                frame.1 += 1;
                let wi = w as usize;
                if index[wi] == UNVISITED {
                    index[wi] = next_index;
                    low[wi] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[wi] = true;
                    frames.push((w, g.range(w).0));
                } else if on_stack[wi] {
                    low[v as usize] = low[v as usize].min(index[wi]);
                }
                continue;
            }
            // All edges of v done.
            frames.pop();
            let vi = v as usize;
            if low[vi] == index[vi] {
                let id = sizes.len() as u32;
                let mut size = 0u32;
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    comp[w as usize] = id;
                    size += 1;
                    if w == v {
                        break;
                    }
                }
                sizes.push(size);
            }
            if let Some(parent) = frames.last() {
                let p = parent.0 as usize;
                low[p] = low[p].min(low[vi]);
            }
        }
    }
    Components { comp, sizes }
}

#[cfg(test)]
mod tests {
    use super::super::graph::{GraphBuilder, Rel};
    use super::*;

    #[test]
    fn finds_components_in_reverse_topological_order() {
        // 0 <-> 1 -> 2 <-> 3, 4 alone
        let mut b = GraphBuilder::new(5);
        b.add(0, 1, Rel::Ww);
        b.add(1, 0, Rel::Wr);
        b.add(1, 2, Rel::Rw);
        b.add(2, 3, Rel::Ww);
        b.add(3, 2, Rel::Ww);
        let c = tarjan(&b.build());
        assert_eq!(c.count(), 3);
        assert_eq!(c.comp[0], c.comp[1]);
        assert_eq!(c.comp[2], c.comp[3]);
        assert!(c.comp[1] > c.comp[2], "edges go from higher to lower ids");
        let nt = c.nontrivial();
        assert_eq!(nt.len(), 2);
        assert!(nt.contains(&vec![0, 1]) && nt.contains(&vec![2, 3]));
    }

    #[test]
    fn a_long_chain_and_a_huge_cycle_do_not_overflow_the_stack() {
        let n = 300_000;
        let mut b = GraphBuilder::new(n);
        for i in 0..n - 1 {
            b.add(i, i + 1, Rel::Ww);
        }
        let chain = tarjan(&b.clone().build());
        assert_eq!(chain.count(), n);
        b.add(n - 1, 0, Rel::Rw);
        let ring = tarjan(&b.build());
        assert_eq!(ring.count(), 1);
        assert_eq!(ring.sizes[0] as usize, n);
    }
}
