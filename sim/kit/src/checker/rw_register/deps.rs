//! The dependency graph of a txn-rw-register history, built the way Elle does with
//! Maelstrom's options: wr edges from unique written values, and ww/rw edges from the
//! only version orders that can be inferred soundly: `null` precedes every value, and
//! within one transaction a read of `v1` followed by a write of `v2` to the same key
//! gives `v1 < v2`.

use std::collections::HashMap;

use super::parse::Txn;
use crate::checker::cycles::graph::{Csr, GraphBuilder, Rel};
use crate::checker::cycles::order::{add_process_edges, add_realtime_edges, Span};
use crate::checker::cycles::report::ExplainEdge;
use crate::checker::cycles::scc::tarjan;
use crate::checker::cycles::txn::{Atom, Atoms};
use crate::history::History;

/// A version order edge `key: v1 < v2` inferred from transaction `by`.
pub type VersionEdge = (Atom, Atom, Atom);

/// The graph plus what was learnt building it.
pub struct Deps {
    /// The transaction dependency graph (node `i` is `txns[i]`).
    pub graph: Csr,
    /// Write-follows-read version edges in use, with the transaction that showed them.
    pub versions: HashMap<VersionEdge, usize>,
    /// Keys whose inferred version order is cyclic: `(key, values in the cycle)`.
    /// When there are any, the write-follows-read order is not used at all.
    pub cyclic: Vec<(Atom, Vec<Atom>, Vec<usize>)>,
    /// Values read by some transaction but written by several: `(key, value, writers)`.
    pub ambiguous: Vec<(Atom, Atom, Vec<usize>)>,
}

/// Builds the dependency graph; `order` adds real-time or process edges.
pub fn build(history: &History, txns: &[Txn], order: Option<Rel>) -> Deps {
    let mut writers: HashMap<(Atom, Atom), Vec<u32>> = HashMap::new();
    let mut readers: HashMap<(Atom, Option<Atom>), Vec<u32>> = HashMap::new();
    let mut key_writers: HashMap<Atom, Vec<u32>> = HashMap::new();
    for (i, t) in txns.iter().enumerate().filter(|(_, t)| t.ok()) {
        for &(k, v, _) in &t.ext_writes {
            writers.entry((k, v)).or_default().push(i as u32);
            key_writers.entry(k).or_default().push(i as u32);
        }
        for &(k, v, _) in &t.ext_reads {
            readers.entry((k, v)).or_default().push(i as u32);
        }
    }
    let mut g = GraphBuilder::new(txns.len());
    let mut ambiguous: Vec<(Atom, Atom, Vec<usize>)> = Vec::new();

    // wr: the unique writer of a value precedes its readers. Values nobody wrote
    // (or that only indeterminate transactions wrote) give no edge.
    for (&(k, v), rs) in &readers {
        let Some(v) = v else { continue };
        match writers.get(&(k, v)).map(Vec::as_slice) {
            None | Some([]) => {}
            Some([w]) => {
                for &r in rs {
                    g.add(*w as usize, r as usize, Rel::Wr);
                }
            }
            Some(ws) => ambiguous.push((k, v, ws.iter().map(|&w| w as usize).collect())),
        }
    }
    ambiguous.sort_by_key(|(_, _, ws)| ws.first().copied());

    // rw from the initial state: whoever read null precedes every writer of the key.
    for (&(k, v), rs) in &readers {
        if v.is_some() {
            continue;
        }
        for &w in key_writers.get(&k).map(Vec::as_slice).unwrap_or(&[]) {
            for &r in rs {
                g.add(r as usize, w as usize, Rel::Rw);
            }
        }
    }

    // Write-follows-read version edges.
    let mut versions: HashMap<VersionEdge, usize> = HashMap::new();
    for (i, t) in txns.iter().enumerate().filter(|(_, t)| t.ok()) {
        for &(k, v, _) in &t.ext_reads {
            let (Some(v1), Some(v2)) = (v, t.ext_write(k)) else {
                continue;
            };
            if v1 != v2 {
                versions.entry((k, v1, v2)).or_insert(i);
            }
        }
    }
    let cyclic = cyclic_versions(&versions);
    if cyclic.is_empty() {
        for &(k, v1, v2) in versions.keys() {
            let w2 = writers.get(&(k, v2)).map(Vec::as_slice).unwrap_or(&[]);
            for &a in writers.get(&(k, v1)).map(Vec::as_slice).unwrap_or(&[]) {
                for &b in w2 {
                    g.add(a as usize, b as usize, Rel::Ww);
                }
            }
            for &a in readers
                .get(&(k, Some(v1)))
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                for &b in w2 {
                    g.add(a as usize, b as usize, Rel::Rw);
                }
            }
        }
    } else {
        versions.clear();
    }

    if let Some(rel) = order {
        let spans: Vec<Span> = txns.iter().map(|t| t.op.span(history)).collect();
        match rel {
            Rel::Process => add_process_edges(&mut g, &spans),
            _ => add_realtime_edges(&mut g, &spans),
        }
    }
    Deps {
        graph: g.build(),
        versions,
        cyclic,
        ambiguous,
    }
}

/// Cycles in the per-key version graphs: `(key, values, transactions showing them)`.
fn cyclic_versions(versions: &HashMap<VersionEdge, usize>) -> Vec<(Atom, Vec<Atom>, Vec<usize>)> {
    let mut by_key: HashMap<Atom, Vec<(Atom, Atom, usize)>> = HashMap::new();
    for (&(k, a, b), &t) in versions {
        by_key.entry(k).or_default().push((a, b, t));
    }
    let mut out = Vec::new();
    for (k, edges) in by_key {
        let mut values: Vec<Atom> = edges.iter().flat_map(|e| [e.0, e.1]).collect();
        values.sort_unstable();
        values.dedup();
        let id = |v: Atom| values.binary_search(&v).unwrap_or(0);
        let mut g = GraphBuilder::new(values.len());
        for &(a, b, _) in &edges {
            g.add(id(a), id(b), Rel::Ww);
        }
        for comp in tarjan(&g.build()).nontrivial() {
            let vs: Vec<Atom> = comp.iter().map(|&i| values[i as usize]).collect();
            let mut ts: Vec<usize> = edges
                .iter()
                .filter(|e| vs.contains(&e.0) && vs.contains(&e.1))
                .map(|e| e.2)
                .collect();
            ts.sort_unstable();
            ts.dedup();
            out.push((k, vs, ts));
        }
    }
    out.sort();
    out
}

/// Justifies ww, wr and rw edges between two transactions, for cycle stories.
pub struct Explainer<'a> {
    /// The transactions.
    pub txns: &'a [Txn],
    /// Key and value names.
    pub atoms: &'a Atoms,
    /// Version edges in use.
    pub versions: &'a HashMap<VersionEdge, usize>,
}

impl Explainer<'_> {
    fn because(&self, k: Atom, v1: Atom, v2: Atom, bn: &str, b: usize) -> String {
        let show = |a| self.atoms.show(a);
        match self.versions.get(&(k, v1, v2)) {
            Some(&t) if t == b => {
                format!("{bn} itself read {} before writing {}", show(v1), show(v2))
            }
            Some(&t) => format!(
                "op {} read {} and then wrote {}",
                self.txns[t].op.index(),
                show(v1),
                show(v2)
            ),
            None => "of the inferred version order".to_string(),
        }
    }
}

impl ExplainEdge for Explainer<'_> {
    fn explain(&self, a: usize, b: usize, rel: Rel, an: &str, bn: &str) -> String {
        let (ta, tb) = (&self.txns[a], &self.txns[b]);
        let show = |x| self.atoms.show(x);
        match rel {
            Rel::Wr => {
                for &(k, v, _) in &ta.ext_writes {
                    if tb.ext_read(k) == Some(Some(v)) {
                        return format!(
                            "{an} wrote key {} = {} and {bn} read that value",
                            show(k),
                            show(v)
                        );
                    }
                }
            }
            Rel::Ww => {
                for &(k, v1, _) in &ta.ext_writes {
                    let Some(v2) = tb.ext_write(k) else { continue };
                    if self.versions.contains_key(&(k, v1, v2)) {
                        return format!(
                            "{an} wrote key {} = {} and {bn} wrote {}, a later version ({} comes first because {})",
                            show(k),
                            show(v1),
                            show(v2),
                            show(v1),
                            self.because(k, v1, v2, bn, b)
                        );
                    }
                }
            }
            Rel::Rw => {
                for &(k, r, _) in &ta.ext_reads {
                    let Some(v2) = tb.ext_write(k) else { continue };
                    match r {
                        None => {
                            return format!(
                                "{an} read key {} = null, the initial state, so it ran before {bn}'s write of {}",
                                show(k),
                                show(v2)
                            )
                        }
                        Some(v1) if self.versions.contains_key(&(k, v1, v2)) => {
                            return format!(
                                "{an} read key {} = {}, but {bn} wrote {}, a later version ({} comes first because {}), so {an} ran before that write",
                                show(k),
                                show(v1),
                                show(v2),
                                show(v1),
                                self.because(k, v1, v2, bn, b)
                            )
                        }
                        Some(_) => {}
                    }
                }
            }
            Rel::Process | Rel::Realtime => {}
        }
        format!("{an} precedes {bn} ({rel})")
    }
}
