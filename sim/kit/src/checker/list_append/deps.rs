//! The list-append dependency graph: with the append order of each key known, ww,
//! wr and rw edges follow directly (Adya's definitions), over `ok` and indeterminate
//! transactions.

use std::collections::HashMap;

use super::order::Orders;
use super::parse::{show_list, Mop, Txn};
use crate::checker::cycles::graph::{Csr, GraphBuilder, Rel};
use crate::checker::cycles::order::{add_process_edges, add_realtime_edges, Span};
use crate::checker::cycles::report::ExplainEdge;
use crate::checker::cycles::txn::{Atom, Atoms};
use crate::history::{History, OpType};

/// Who appended each element and who saw each state, over possible transactions.
pub struct Index {
    /// `(key, element)` -> appending transaction.
    pub writer: HashMap<(Atom, Atom), usize>,
    /// `(key, last element or None for the empty state)` -> transactions that read it.
    pub readers: HashMap<(Atom, Option<Atom>), Vec<usize>>,
}

impl Index {
    /// Indexes `ok` and indeterminate transactions. Null reads of indeterminate
    /// transactions are not observations (the value is simply unknown).
    pub fn build(txns: &[Txn]) -> Index {
        let mut writer = HashMap::new();
        let mut readers: HashMap<(Atom, Option<Atom>), Vec<usize>> = HashMap::new();
        for (i, t) in txns.iter().enumerate().filter(|(_, t)| t.possible()) {
            for m in &t.mops {
                match m {
                    Mop::Append(k, v) => {
                        writer.insert((*k, *v), i);
                    }
                    Mop::Read(k, read) => {
                        if read.is_none() && t.op.kind == OpType::Info {
                            continue;
                        }
                        let last = read.as_ref().and_then(|l| l.last().copied());
                        readers.entry((*k, last)).or_default().push(i);
                    }
                }
            }
        }
        Index { writer, readers }
    }
}

/// Builds the dependency graph; `order` adds real-time or process edges.
pub fn build(
    history: &History,
    txns: &[Txn],
    orders: &Orders,
    index: &Index,
    order: Option<Rel>,
) -> Csr {
    let mut g = GraphBuilder::new(txns.len());
    for (t, txn) in txns.iter().enumerate().filter(|(_, t)| t.possible()) {
        for m in &txn.mops {
            match m {
                Mop::Append(k, v) => {
                    let prev = orders.previous(*k, *v);
                    if let Some(p) = prev {
                        if let Some(&w) = index.writer.get(&(*k, p)) {
                            g.add(w, t, Rel::Ww);
                        }
                    }
                    for &r in index
                        .readers
                        .get(&(*k, prev))
                        .map(Vec::as_slice)
                        .unwrap_or(&[])
                    {
                        g.add(r, t, Rel::Rw);
                    }
                }
                Mop::Read(k, Some(list)) => {
                    if let Some(&w) = list.last().and_then(|last| index.writer.get(&(*k, *last))) {
                        g.add(w, t, Rel::Wr);
                    }
                }
                Mop::Read(_, None) => {}
            }
        }
    }
    if let Some(rel) = order {
        let spans: Vec<Span> = txns.iter().map(|t| t.op.span(history)).collect();
        match rel {
            Rel::Process => add_process_edges(&mut g, &spans),
            _ => add_realtime_edges(&mut g, &spans),
        }
    }
    g.build()
}

/// Justifies ww, wr and rw edges for cycle stories.
pub struct Explainer<'a> {
    /// The transactions.
    pub txns: &'a [Txn],
    /// Key and element names.
    pub atoms: &'a Atoms,
    /// Version orders.
    pub orders: &'a Orders,
    /// Writers and readers.
    pub index: &'a Index,
}

impl Explainer<'_> {
    fn after(&self, k: Atom, v: Atom, prev: Option<Atom>) -> String {
        let show = |a| self.atoms.show(a);
        match (prev, self.orders.was_read(k, v)) {
            (None, _) => format!("{} is the first element of key {}", show(v), show(k)),
            (Some(p), true) => format!(
                "{} comes right after {} in the reads of key {}",
                show(v),
                show(p),
                show(k)
            ),
            (Some(p), false) => format!(
                "{} was never read, so it comes after {}, the last element read of key {}",
                show(v),
                show(p),
                show(k)
            ),
        }
    }
}

impl ExplainEdge for Explainer<'_> {
    fn explain(&self, a: usize, b: usize, rel: Rel, an: &str, bn: &str) -> String {
        let show = |x| self.atoms.show(x);
        let (ta, tb) = (&self.txns[a], &self.txns[b]);
        match rel {
            Rel::Ww => {
                for m in &tb.mops {
                    let Mop::Append(k, v) = m else { continue };
                    let Some(p) = self.orders.previous(*k, *v) else {
                        continue;
                    };
                    if self.index.writer.get(&(*k, p)) == Some(&a) {
                        return format!(
                            "{an} appended {} and {bn} appended {} to key {}, and {}",
                            show(p),
                            show(*v),
                            show(*k),
                            self.after(*k, *v, Some(p))
                        );
                    }
                }
            }
            Rel::Wr => {
                for m in &tb.mops {
                    let Mop::Read(k, Some(list)) = m else {
                        continue;
                    };
                    let Some(last) = list.last() else { continue };
                    if self.index.writer.get(&(*k, *last)) == Some(&a) {
                        return format!(
                            "{bn} read key {} = {}, whose last element {} was appended by {an}",
                            show(*k),
                            show_list(list, self.atoms),
                            show(*last)
                        );
                    }
                }
            }
            Rel::Rw => {
                for m in &tb.mops {
                    let Mop::Append(k, v) = m else { continue };
                    let prev = self.orders.previous(*k, *v);
                    let seen = ta.mops.iter().find_map(|r| match r {
                        Mop::Read(rk, l)
                            if rk == k && l.as_ref().and_then(|l| l.last().copied()) == prev =>
                        {
                            Some(
                                l.as_deref()
                                    .map_or("null".to_string(), |l| show_list(l, self.atoms)),
                            )
                        }
                        _ => None,
                    });
                    if let Some(list) = seen {
                        return format!(
                            "{an} read key {} = {}, which misses {bn}'s append of {} ({})",
                            show(*k),
                            list,
                            show(*v),
                            self.after(*k, *v, prev)
                        );
                    }
                }
            }
            Rel::Process | Rel::Realtime => {}
        }
        format!("{an} precedes {bn} ({rel})")
    }
}
