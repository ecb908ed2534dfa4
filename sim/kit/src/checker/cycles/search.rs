//! Finding short example cycles of each anomaly class inside the strongly connected
//! components of a dependency graph.
//!
//! Classes (Adya's, as Elle names them for item histories):
//! - `G0`: only ww edges (write cycle);
//! - `G1c`: ww and wr edges, at least one wr (circular information flow);
//! - `G-single-item`: exactly one rw edge (read skew);
//! - `G-nonadjacent-item`: two or more rw edges, no two of them adjacent;
//! - `G2-item`: two or more rw edges, some of them adjacent (write skew);
//!
//! each also with a `-process` or `-realtime` variant when the cycle needs process or
//! real-time edges. Classes implied by a class already found in the same component
//! (e.g. `G0-realtime` when a plain `G0` exists) are not searched, as in Elle.
//!
//! Every search is exact unless the budget runs out: existence is first decided with
//! strongly connected components (and, for single-anti-dependency cycles, reachability
//! in the condensation), then a breadth-first search extracts the shortest cycle
//! through a few candidate edges.

use super::budget::Budget;
use super::graph::{Csr, Rel, RelSet};
use super::scc::tarjan;

/// How many start edges to try per class and component, keeping the shortest cycle.
const TRIES: usize = 8;
/// Largest condensation for which reachability is computed with bit sets.
const REACH_LIMIT: usize = 8192;
/// How many start edges the non-adjacent (product-state) search may try.
const NONADJACENT_TRIES: usize = 256;

/// The data-dependency shape of a cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Base {
    /// Only write-write edges.
    G0,
    /// Write-write and write-read edges, at least one write-read.
    G1c,
    /// Exactly one anti-dependency (rw) edge.
    GSingle,
    /// Two or more rw edges, none adjacent.
    GNonadjacent,
    /// Two or more rw edges, some adjacent.
    G2,
}

impl Base {
    /// Elle's name for the class.
    pub const fn name(self) -> &'static str {
        match self {
            Base::G0 => "G0",
            Base::G1c => "G1c",
            Base::GSingle => "G-single-item",
            Base::GNonadjacent => "G-nonadjacent-item",
            Base::G2 => "G2-item",
        }
    }
}

/// An anomaly class: a data-dependency shape plus the order edges (process or
/// real-time) it needs, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CycleClass {
    /// The shape of the data dependencies.
    pub base: Base,
    /// `Some(Rel::Process)` or `Some(Rel::Realtime)` if the cycle uses such edges.
    pub ext: Option<Rel>,
}

impl CycleClass {
    /// The class name, e.g. "G1c" or "G-single-item-realtime".
    pub fn name(&self) -> String {
        match self.ext {
            None => self.base.name().to_string(),
            Some(rel) => format!("{}-{}", self.base.name(), rel.name()),
        }
    }

    /// Classifies a cycle by the relations of its steps.
    pub fn of_steps(steps: &[Step]) -> CycleClass {
        let count = |r: Rel| steps.iter().filter(|s| s.rel == r).count();
        let rw = count(Rel::Rw);
        let base = if rw == 1 {
            Base::GSingle
        } else if rw >= 2 {
            let adjacent = (0..steps.len())
                .any(|i| steps[i].rel == Rel::Rw && steps[(i + 1) % steps.len()].rel == Rel::Rw);
            if adjacent {
                Base::G2
            } else {
                Base::GNonadjacent
            }
        } else if count(Rel::Wr) > 0 {
            Base::G1c
        } else {
            Base::G0
        };
        let ext = if count(Rel::Realtime) > 0 {
            Some(Rel::Realtime)
        } else if count(Rel::Process) > 0 {
            Some(Rel::Process)
        } else {
            None
        };
        CycleClass { base, ext }
    }
}

/// One edge of a cycle, with the relation that justifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The earlier transaction.
    pub from: u32,
    /// The later transaction.
    pub to: u32,
    /// Why `from` must precede `to`.
    pub rel: Rel,
}

/// A cycle found in the graph, closed: the last step ends where the first begins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    /// The class, as given by the steps' relations.
    pub class: CycleClass,
    /// The steps in order.
    pub steps: Vec<Step>,
}

/// A class whose search ran out of budget in one component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeout {
    /// The class searched for.
    pub class: CycleClass,
    /// Number of transactions in the component.
    pub scc_size: usize,
}

/// What to look for.
#[derive(Clone, Copy, Debug, Default)]
pub struct SearchOptions {
    /// The order relation whose variants to search (`Rel::Process` or `Rel::Realtime`).
    pub ext: Option<Rel>,
    /// Whether to look specifically for `G-nonadjacent-item` when a `G2-item` was
    /// found (only snapshot isolation tells them apart).
    pub nonadjacent_matters: bool,
}

/// The result of a search over a whole graph.
#[derive(Clone, Debug, Default)]
pub struct SearchOutcome {
    /// At most one cycle per class and strongly connected component.
    pub cycles: Vec<Cycle>,
    /// Searches that ran out of budget.
    pub timeouts: Vec<Timeout>,
    /// Number of strongly connected components with a cycle.
    pub scc_count: usize,
    /// Size of the largest such component.
    pub largest_scc: usize,
}

/// Searches every cyclic component of `g` for example cycles.
pub fn search(g: &Csr, opts: &SearchOptions, budget: &mut Budget) -> SearchOutcome {
    let comps = tarjan(g);
    let mut sccs = comps.nontrivial();
    sccs.sort_by_key(|c| c.len());
    let mut out = SearchOutcome {
        scc_count: sccs.len(),
        largest_scc: sccs.last().map_or(0, |c| c.len()),
        ..SearchOutcome::default()
    };
    let mut local = vec![u32::MAX; g.node_count()];
    for nodes in &sccs {
        let s = g.induced(nodes, RelSet(u8::MAX), &mut local);
        let mut scc = SccSearch::new(&s, budget);
        scc.run(opts);
        let global = |v: u32| nodes[v as usize];
        for (class, steps) in scc.cycles {
            out.cycles.push(Cycle {
                class,
                steps: steps
                    .into_iter()
                    .map(|st| Step {
                        from: global(st.from),
                        to: global(st.to),
                        rel: st.rel,
                    })
                    .collect(),
            });
        }
        for class in scc.timeouts {
            out.timeouts.push(Timeout {
                class,
                scc_size: nodes.len(),
            });
        }
    }
    out
}

/// Outcome of one class search in one component.
enum Found {
    Yes(Vec<Step>),
    No,
    OutOfBudget,
}

/// Search state for one strongly connected component (local node ids).
struct SccSearch<'a, 'b> {
    s: &'a Csr,
    budget: &'b mut Budget,
    bfs: Bfs,
    cycles: Vec<(CycleClass, Vec<Step>)>,
    timeouts: Vec<CycleClass>,
}

impl<'a, 'b> SccSearch<'a, 'b> {
    fn new(s: &'a Csr, budget: &'b mut Budget) -> Self {
        SccSearch {
            s,
            budget,
            bfs: Bfs::new(s.node_count()),
            cycles: Vec::new(),
            timeouts: Vec::new(),
        }
    }

    fn found(&self, base: Base, ext: Option<Rel>) -> bool {
        self.cycles
            .iter()
            .any(|(c, _)| c.base == base && c.ext == ext)
    }

    fn record(&mut self, found: Found, looking_for: CycleClass) {
        match found {
            Found::Yes(steps) => {
                let class = CycleClass::of_steps(&steps);
                if !self.found(class.base, class.ext) {
                    self.cycles.push((class, steps));
                }
            }
            Found::No => {}
            Found::OutOfBudget => self.timeouts.push(looking_for),
        }
    }

    fn run(&mut self, opts: &SearchOptions) {
        let ww = RelSet::of(Rel::Ww);
        let ww_wr = ww.with(Rel::Wr);
        let class = |base, ext| CycleClass { base, ext };

        let g0 = self.via_component(ww, Rel::Ww);
        self.record(g0, class(Base::G0, None));
        if !self.found(Base::G0, None) {
            let g1c = self.via_component(ww_wr, Rel::Wr);
            self.record(g1c, class(Base::G1c, None));
        }
        let single = self.single_rw(ww_wr);
        self.record(single, class(Base::GSingle, None));
        if !self.found(Base::GSingle, None) {
            let multi = self.multi_rw(RelSet::DATA);
            self.record(multi, class(Base::G2, None));
            if opts.nonadjacent_matters
                && self.found(Base::G2, None)
                && !self.found(Base::GNonadjacent, None)
            {
                let nonadjacent = self.nonadjacent();
                self.record(nonadjacent, class(Base::GNonadjacent, None));
            }
        }

        let Some(x) = opts.ext else { return };
        if !self.s.rels_used().contains(x) {
            return;
        }
        let some = Some(x);
        if !self.found(Base::G0, None) {
            let f = self.via_component(ww.with(x), Rel::Ww);
            self.record(f, class(Base::G0, some));
        }
        if !(self.found(Base::G0, None)
            || self.found(Base::G1c, None)
            || self.found(Base::G0, some))
        {
            let f = self.via_component(ww_wr.with(x), Rel::Wr);
            self.record(f, class(Base::G1c, some));
        }
        if !self.found(Base::GSingle, None) {
            let f = self.single_rw(ww_wr.with(x));
            self.record(f, class(Base::GSingle, some));
        }
        let any_multi = self.found(Base::G2, None) || self.found(Base::GNonadjacent, None);
        if !(self.found(Base::GSingle, None) || any_multi || self.found(Base::GSingle, some)) {
            let f = self.multi_rw(RelSet::DATA.with(x));
            self.record(f, class(Base::G2, some));
        }
    }

    /// Cycles over `allowed` edges that contain a `start` edge: exactly the `start`
    /// edges inside a strongly connected component of the `allowed` subgraph.
    fn via_component(&mut self, allowed: RelSet, start: Rel) -> Found {
        let sub = self.s.masked(allowed);
        let comps = tarjan(&sub);
        let comp = &comps.comp;
        let candidates: Vec<(u32, u32)> = (0..sub.node_count() as u32)
            .flat_map(|a| {
                sub.out(a)
                    .filter(move |(b, r)| {
                        r.contains(start) && comp[a as usize] == comp[*b as usize]
                    })
                    .map(move |(b, _)| (a, b))
            })
            .collect();
        self.shortest_closing(&sub, allowed, start, &candidates, Some(comp))
    }

    /// The shortest cycle found by closing a few of the `candidates` start edges
    /// `a -> b` with a path `b ..= a` in `sub` (inside `a`'s component of `comp`, if
    /// given). A two-edge cycle is looked for among all candidates first.
    fn shortest_closing(
        &mut self,
        sub: &Csr,
        allowed: RelSet,
        start: Rel,
        candidates: &[(u32, u32)],
        comp: Option<&[u32]>,
    ) -> Found {
        if let Some(&(a, b)) = candidates
            .iter()
            .find(|(a, b)| !sub.rels_between(*b, *a).is_empty())
        {
            return Found::Yes(close(a, b, start, &[b, a], sub, allowed));
        }
        let mut best: Option<Vec<Step>> = None;
        // Spread the tries over the candidates rather than taking the first few.
        let stride = (candidates.len() / TRIES).max(1);
        for &(a, b) in candidates.iter().step_by(stride).take(TRIES) {
            let within = comp.map(|c| (c, c[a as usize]));
            // Only paths shorter than the best cycle so far are worth finding.
            let limit = best.as_ref().map_or(u32::MAX, |c| c.len() as u32 - 2);
            match self
                .bfs
                .run_limited(sub, b, within, limit, self.budget, |v| v == a)
            {
                Err(OutOfBudget) => return best.map_or(Found::OutOfBudget, Found::Yes),
                Ok(Some(path)) => keep_shorter(&mut best, close(a, b, start, &path, sub, allowed)),
                Ok(None) => {}
            }
        }
        best.map_or(Found::No, Found::Yes)
    }

    /// Cycles made of one rw edge plus a path over `path_allowed` edges back to it.
    fn single_rw(&mut self, path_allowed: RelSet) -> Found {
        let sub = self.s.masked(path_allowed);
        let comps = tarjan(&sub);
        let comp = &comps.comp;
        let rw_edges: Vec<(u32, u32)> = (0..self.s.node_count() as u32)
            .flat_map(|a| {
                self.s
                    .out(a)
                    .filter(|(_, r)| r.contains(Rel::Rw))
                    .map(move |(b, _)| (a, b))
            })
            .collect();
        // Cheap case: both ends in one component of the path subgraph.
        let same: Vec<(u32, u32)> = rw_edges
            .iter()
            .copied()
            .filter(|(a, b)| comp[*a as usize] == comp[*b as usize])
            .collect();
        if !same.is_empty() {
            return self.shortest_closing(&sub, path_allowed, Rel::Rw, &same, Some(comp));
        }
        if comps.count() <= REACH_LIMIT {
            let reach = Reach::of(&sub, comp, comps.count());
            let closable: Vec<(u32, u32)> = rw_edges
                .iter()
                .copied()
                .filter(|(a, b)| reach.reaches(comp[*b as usize], comp[*a as usize]))
                .collect();
            if closable.is_empty() {
                return Found::No;
            }
            return self.shortest_closing(&sub, path_allowed, Rel::Rw, &closable, None);
        }
        // Too many components for bit sets: one search per distinct rw head.
        let mut by_head = rw_edges;
        by_head.sort_unstable_by_key(|&(a, b)| (b, a));
        let mut i = 0;
        while i < by_head.len() {
            let b = by_head[i].1;
            let j = i + by_head[i..].iter().take_while(|e| e.1 == b).count();
            let tails: Vec<u32> = by_head[i..j].iter().map(|e| e.0).collect();
            match self.bfs.run(&sub, b, None, self.budget, |v| {
                tails.binary_search(&v).is_ok()
            }) {
                Err(OutOfBudget) => return Found::OutOfBudget,
                Ok(Some(path)) => {
                    let a = *path.last().unwrap_or(&b);
                    return Found::Yes(close(a, b, Rel::Rw, &path, &sub, path_allowed));
                }
                Ok(None) => {}
            }
            i = j;
        }
        Found::No
    }

    /// Cycles with an rw edge over `allowed` edges; called once single-rw cycles are
    /// known to be absent, so every such cycle has two or more rw edges.
    fn multi_rw(&mut self, allowed: RelSet) -> Found {
        self.via_component(allowed, Rel::Rw)
    }

    /// A cycle with two or more rw edges, no two adjacent: a breadth-first search over
    /// (transaction, "seen a second rw", "last edge was rw") states.
    fn nonadjacent(&mut self) -> Found {
        let s = self.s.masked(RelSet::DATA);
        let n = s.node_count();
        let mut parent = vec![u32::MAX; n * 4];
        let mut label = vec![Rel::Ww; n * 4];
        let mut queue: Vec<u32> = Vec::new();
        let mut tries = 0;
        let mut all_tried = true;
        'edges: for a in 0..n as u32 {
            for (b, rels) in s.out(a) {
                if !rels.contains(Rel::Rw) {
                    continue;
                }
                if tries >= NONADJACENT_TRIES {
                    all_tried = false;
                    break 'edges;
                }
                tries += 1;
                parent.iter_mut().for_each(|p| *p = u32::MAX);
                queue.clear();
                let start = b * 4 + 1; // one rw so far, last edge rw
                parent[start as usize] = start;
                queue.push(start);
                let mut head = 0;
                let mut goal = None;
                while head < queue.len() {
                    let st = queue[head];
                    head += 1;
                    let (v, many, last_rw) = (st / 4, (st >> 1) & 1, st & 1);
                    if v == a && many == 1 && last_rw == 0 {
                        goal = Some(st);
                        break;
                    }
                    let (lo, hi) = s.range(v);
                    if !self.budget.spend(hi - lo + 1) {
                        return Found::OutOfBudget;
                    }
                    for i in lo..hi {
                        let (w, r) = s.edge(i);
                        let mut push = |next: u32, rel: Rel| {
                            if parent[next as usize] == u32::MAX {
                                parent[next as usize] = st;
                                label[next as usize] = rel;
                                queue.push(next);
                            }
                        };
                        if let Some(rel) =
                            r.intersect(RelSet::of(Rel::Ww).with(Rel::Wr)).preferred()
                        {
                            push(w * 4 + (many << 1), rel);
                        }
                        if r.contains(Rel::Rw) && last_rw == 0 {
                            push(w * 4 + 3, Rel::Rw);
                        }
                    }
                }
                let Some(mut st) = goal else { continue };
                let mut rev: Vec<Step> = Vec::new();
                while st != start {
                    let p = parent[st as usize];
                    rev.push(Step {
                        from: p / 4,
                        to: st / 4,
                        rel: label[st as usize],
                    });
                    st = p;
                }
                rev.push(Step {
                    from: a,
                    to: b,
                    rel: Rel::Rw,
                });
                rev.reverse();
                let mut seen: Vec<u32> = rev.iter().map(|s| s.from).collect();
                seen.sort_unstable();
                if seen.windows(2).all(|w| w[0] != w[1]) {
                    return Found::Yes(rev);
                }
                // A walk that repeats a transaction is not a cycle; try another edge.
                all_tried = false;
            }
        }
        if all_tried {
            Found::No
        } else {
            Found::OutOfBudget
        }
    }
}

/// Keeps the shorter of two candidate cycles.
fn keep_shorter(best: &mut Option<Vec<Step>>, candidate: Vec<Step>) {
    let shorter = match best {
        Some(b) => candidate.len() < b.len(),
        None => true,
    };
    if shorter {
        *best = Some(candidate);
    }
}

/// Turns the start edge `a -> b` plus a path `b ..= a` into cycle steps, labelling
/// path edges with their preferred relation among `allowed`.
fn close(a: u32, b: u32, start: Rel, path: &[u32], g: &Csr, allowed: RelSet) -> Vec<Step> {
    let mut steps = vec![Step {
        from: a,
        to: b,
        rel: start,
    }];
    for w in path.windows(2) {
        let rel = g
            .rels_between(w[0], w[1])
            .intersect(allowed)
            .preferred()
            .unwrap_or(start);
        steps.push(Step {
            from: w[0],
            to: w[1],
            rel,
        });
    }
    steps
}

/// Marker: the budget ran out.
struct OutOfBudget;

/// Reusable breadth-first search state.
struct Bfs {
    stamp: Vec<u32>,
    parent: Vec<u32>,
    depth: Vec<u32>,
    generation: u32,
    queue: Vec<u32>,
}

impl Bfs {
    fn new(n: usize) -> Bfs {
        Bfs {
            stamp: vec![0; n],
            parent: vec![0; n],
            depth: vec![0; n],
            generation: 0,
            queue: Vec::new(),
        }
    }

    /// Shortest path from `from` to the first node satisfying `is_target` (other than
    /// `from` itself), staying inside component `within` if given.
    fn run(
        &mut self,
        g: &Csr,
        from: u32,
        within: Option<(&[u32], u32)>,
        budget: &mut Budget,
        is_target: impl Fn(u32) -> bool,
    ) -> Result<Option<Vec<u32>>, OutOfBudget> {
        self.run_limited(g, from, within, u32::MAX, budget, is_target)
    }

    /// Like [`Bfs::run`], but only paths of at most `max_edges` edges count.
    fn run_limited(
        &mut self,
        g: &Csr,
        from: u32,
        within: Option<(&[u32], u32)>,
        max_edges: u32,
        budget: &mut Budget,
        is_target: impl Fn(u32) -> bool,
    ) -> Result<Option<Vec<u32>>, OutOfBudget> {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
        let generation = self.generation;
        self.queue.clear();
        self.queue.push(from);
        self.stamp[from as usize] = generation;
        self.parent[from as usize] = from;
        self.depth[from as usize] = 0;
        let mut head = 0;
        while head < self.queue.len() {
            let v = self.queue[head];
            head += 1;
            let d = self.depth[v as usize] + 1;
            if d > max_edges {
                break;
            }
            let (lo, hi) = g.range(v);
            if !budget.spend(hi - lo + 1) {
                return Err(OutOfBudget);
            }
            for i in lo..hi {
                let (w, _) = g.edge(i);
                if self.stamp[w as usize] == generation {
                    continue;
                }
                if let Some((comp, c)) = within {
                    if comp[w as usize] != c {
                        continue;
                    }
                }
                self.stamp[w as usize] = generation;
                self.parent[w as usize] = v;
                self.depth[w as usize] = d;
                if is_target(w) {
                    let mut path = vec![w];
                    let mut x = w;
                    while x != from {
                        x = self.parent[x as usize];
                        path.push(x);
                    }
                    path.reverse();
                    return Ok(Some(path));
                }
                self.queue.push(w);
            }
        }
        Ok(None)
    }
}

/// Reachability between the components of a condensation, as bit sets.
struct Reach {
    words: usize,
    bits: Vec<u64>,
}

impl Reach {
    /// Computes which components reach which; `comp` ids must be in reverse
    /// topological order (as [`tarjan`] returns them).
    fn of(g: &Csr, comp: &[u32], count: usize) -> Reach {
        let words = count.div_ceil(64);
        let mut bits = vec![0u64; words * count];
        let mut dag: Vec<(u32, u32)> = Vec::new();
        for v in 0..g.node_count() as u32 {
            let cv = comp[v as usize];
            for (w, _) in g.out(v) {
                let cw = comp[w as usize];
                if cv != cw {
                    dag.push((cv, cw));
                }
            }
        }
        dag.sort_unstable();
        dag.dedup();
        let mut k = 0;
        for c in 0..count {
            bits[c * words + c / 64] |= 1 << (c % 64);
            while k < dag.len() && dag[k].0 as usize == c {
                let d = dag[k].1 as usize;
                let (lower, upper) = bits.split_at_mut(c * words);
                let src = &lower[d * words..(d + 1) * words];
                for (dst, s) in upper[..words].iter_mut().zip(src) {
                    *dst |= *s;
                }
                k += 1;
            }
        }
        Reach { words, bits }
    }

    /// True if component `from` reaches component `to`.
    fn reaches(&self, from: u32, to: u32) -> bool {
        let (f, t) = (from as usize, to as usize);
        self.bits[f * self.words + t / 64] & (1 << (t % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::super::graph::GraphBuilder;
    use super::*;
    use std::time::Duration;

    fn graph(n: usize, edges: &[(usize, usize, Rel)]) -> Csr {
        let mut b = GraphBuilder::new(n);
        for &(x, y, r) in edges {
            b.add(x, y, r);
        }
        b.build()
    }

    fn names(g: &Csr, opts: SearchOptions) -> Vec<String> {
        let mut budget = Budget::new(Duration::from_secs(10));
        let out = search(g, &opts, &mut budget);
        for c in &out.cycles {
            // Every reported cycle is closed and uses edges that exist.
            for (i, s) in c.steps.iter().enumerate() {
                assert!(g.rels_between(s.from, s.to).contains(s.rel));
                assert_eq!(s.to, c.steps[(i + 1) % c.steps.len()].from);
            }
        }
        let mut v: Vec<String> = out.cycles.iter().map(|c| c.class.name()).collect();
        v.sort();
        v
    }

    #[test]
    fn classifies_each_shape() {
        use Rel::*;
        let opts = SearchOptions::default();
        assert_eq!(names(&graph(2, &[(0, 1, Ww), (1, 0, Ww)]), opts), ["G0"]);
        assert_eq!(names(&graph(2, &[(0, 1, Ww), (1, 0, Wr)]), opts), ["G1c"]);
        assert_eq!(
            names(&graph(2, &[(0, 1, Rw), (1, 0, Wr)]), opts),
            ["G-single-item"]
        );
        assert_eq!(
            names(&graph(2, &[(0, 1, Rw), (1, 0, Rw)]), opts),
            ["G2-item"]
        );
        assert_eq!(
            names(
                &graph(4, &[(0, 1, Rw), (1, 2, Wr), (2, 3, Rw), (3, 0, Ww)]),
                opts
            ),
            ["G-nonadjacent-item"]
        );
        // Acyclic: nothing.
        assert!(names(&graph(3, &[(0, 1, Rw), (1, 2, Wr), (0, 2, Ww)]), opts).is_empty());
    }

    #[test]
    fn realtime_variants_need_realtime_edges_and_the_option() {
        use Rel::*;
        let g = graph(2, &[(0, 1, Wr), (1, 0, Realtime)]);
        assert!(names(&g, SearchOptions::default()).is_empty());
        let rt = SearchOptions {
            ext: Some(Realtime),
            ..SearchOptions::default()
        };
        assert_eq!(names(&g, rt), ["G1c-realtime"]);
        let g = graph(3, &[(0, 1, Rw), (1, 2, Realtime), (2, 0, Wr)]);
        assert_eq!(names(&g, rt), ["G-single-item-realtime"]);
        // A plain G1c implies its realtime variant, which is then not reported.
        let g = graph(3, &[(0, 1, Wr), (1, 0, Ww), (1, 2, Realtime), (2, 0, Wr)]);
        assert_eq!(names(&g, rt), ["G1c"]);
    }

    #[test]
    fn single_rw_across_components_of_the_path_graph() {
        use Rel::*;
        // 0 -rw-> 1 -wr-> 2 -ww-> 0 is a G-single whose path crosses 3 components of
        // the ww|wr subgraph; 3 -rw-> 4 -rw-> 3 is a separate G2.
        let g = graph(
            5,
            &[(0, 1, Rw), (1, 2, Wr), (2, 0, Ww), (3, 4, Rw), (4, 3, Rw)],
        );
        assert_eq!(
            names(&g, SearchOptions::default()),
            ["G-single-item", "G2-item"]
        );
    }

    #[test]
    fn finds_the_short_cycle_in_a_big_component() {
        use Rel::*;
        let n = 5000;
        let mut edges: Vec<(usize, usize, Rel)> = (0..n - 1).map(|i| (i, i + 1, Wr)).collect();
        edges.push((n - 1, 0, Wr));
        // Short cuts: 4000 -> 3998 closes a 3-cycle, 10 -> 9 a 2-cycle.
        edges.push((4000, 3998, Ww));
        edges.push((10, 9, Ww));
        let g = graph(n, &edges);
        let mut budget = Budget::new(Duration::from_secs(10));
        let out = search(&g, &SearchOptions::default(), &mut budget);
        assert_eq!(out.largest_scc, n);
        let g1c = out
            .cycles
            .iter()
            .find(|c| c.class.base == Base::G1c)
            .map(|c| c.steps.len());
        assert_eq!(g1c, Some(2));
    }

    #[test]
    fn nonadjacent_search_when_it_matters() {
        use Rel::*;
        // Both an adjacent (0 -rw-> 1 -rw-> 0) and a non-adjacent cycle
        // (2 -rw-> 3 -wr-> 4 -rw-> 5 -ww-> 2) in one component (linked by 1 <-> 2).
        let g = graph(
            6,
            &[
                (0, 1, Rw),
                (1, 0, Rw),
                (2, 3, Rw),
                (3, 4, Wr),
                (4, 5, Rw),
                (5, 2, Ww),
                (1, 2, Ww),
                (2, 1, Ww),
            ],
        );
        let found = names(
            &g,
            SearchOptions {
                nonadjacent_matters: true,
                ..SearchOptions::default()
            },
        );
        assert!(
            found.contains(&"G-nonadjacent-item".to_string()),
            "{found:?}"
        );
    }

    #[test]
    fn exhausted_budget_reports_a_timeout() {
        use Rel::*;
        let g = graph(3, &[(0, 1, Ww), (1, 2, Ww), (2, 0, Ww)]);
        let mut budget = Budget::new(Duration::ZERO);
        while budget.spend(1) {}
        let out = search(&g, &SearchOptions::default(), &mut budget);
        assert!(out.cycles.is_empty());
        assert!(!out.timeouts.is_empty());
    }

    /// Which data classes some simple cycle of `g` can be labelled as, by brute
    /// force: (G0, G1c, G-single, two-or-more rw).
    fn brute(n: usize, edges: &[(usize, usize, RelSet)]) -> (bool, bool, bool, bool) {
        fn dfs(
            start: usize,
            v: usize,
            edges: &[(usize, usize, RelSet)],
            path: &mut Vec<RelSet>,
            seen: &mut Vec<bool>,
            out: &mut Vec<Vec<RelSet>>,
        ) {
            for &(_, b, r) in edges.iter().filter(|e| e.0 == v) {
                path.push(r);
                if b == start {
                    out.push(path.clone());
                } else if b > start && !seen[b] {
                    seen[b] = true;
                    dfs(start, b, edges, path, seen, out);
                    seen[b] = false;
                }
                path.pop();
            }
        }
        let mut cycles = Vec::new();
        for s in 0..n {
            let mut seen = vec![false; n];
            seen[s] = true;
            dfs(s, s, edges, &mut Vec::new(), &mut seen, &mut cycles);
        }
        let ww_wr = RelSet::of(Rel::Ww).with(Rel::Wr);
        let mut r = (false, false, false, false);
        for c in &cycles {
            r.0 |= c.iter().all(|e| e.contains(Rel::Ww));
            r.1 |= c.iter().all(|e| !e.intersect(ww_wr).is_empty())
                && c.iter().any(|e| e.contains(Rel::Wr));
            r.2 |= (0..c.len()).any(|i| {
                c[i].contains(Rel::Rw)
                    && (0..c.len()).all(|j| j == i || !c[j].intersect(ww_wr).is_empty())
            });
            r.3 |= c.iter().filter(|e| e.contains(Rel::Rw)).count() >= 2;
        }
        r
    }

    #[test]
    fn agrees_with_brute_force_on_random_small_graphs() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(11);
        let mut seen_classes = [0usize; 4];
        for _ in 0..3000 {
            let n = rng.random_range(2..=6);
            let mut edges: Vec<(usize, usize, RelSet)> = Vec::new();
            for a in 0..n {
                for b in 0..n {
                    if a != b && rng.random_bool(0.3) {
                        let r = RelSet(rng.random_range(1..8u8));
                        edges.push((a, b, r));
                    }
                }
            }
            let mut builder = GraphBuilder::new(n);
            for &(a, b, r) in &edges {
                for rel in r.iter() {
                    builder.add(a, b, rel);
                }
            }
            let g = builder.build();
            let mut budget = Budget::new(Duration::from_secs(10));
            let out = search(&g, &SearchOptions::default(), &mut budget);
            let found = |b: Base| out.cycles.iter().any(|c| c.class.base == b);
            let (g0, g1c, single, multi) = brute(n, &edges);
            let ctx = format!("{edges:?} -> {:?}", out.cycles);
            assert_eq!(found(Base::G0), g0, "G0 {ctx}");
            if !g0 {
                assert_eq!(found(Base::G1c), g1c, "G1c {ctx}");
            }
            assert_eq!(found(Base::GSingle), single, "G-single {ctx}");
            if !single {
                assert_eq!(
                    found(Base::G2) || found(Base::GNonadjacent),
                    multi,
                    "G2 {ctx}"
                );
            }
            for (i, b) in [g0, g1c, single, multi].into_iter().enumerate() {
                seen_classes[i] += usize::from(b);
            }
        }
        assert!(seen_classes.iter().all(|&c| c > 50), "{seen_classes:?}");
    }
}
