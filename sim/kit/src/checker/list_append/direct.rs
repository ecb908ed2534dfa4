//! List-append anomalies visible without cycle search: G1a, G1b, internal,
//! future-read, duplicate-elements, incompatible-order, lost-update, dirty-update.

use std::collections::HashMap;

use serde_json::json;

use super::order::Orders;
use super::parse::{parse_mops, show_list, Mop, Txn};
use crate::checker::cycles::models::Models;
use crate::checker::cycles::report::{meaning, verdict, Anomalies, Anomaly};
use crate::checker::cycles::txn::{describe, Atom, Atoms};
use crate::history::{History, OpType};

/// Closing words shared by every story.
fn close(kind: &str, models: &Models) -> String {
    format!("This is {}. {}", meaning(kind), verdict(kind, models))
}

/// Everything a direct check needs.
pub struct Ctx<'a> {
    /// The history.
    pub history: &'a History,
    /// Its transactions.
    pub txns: &'a [Txn],
    /// Key and value names.
    pub atoms: &'a Atoms,
    /// The chosen models.
    pub models: &'a Models,
    /// Version orders.
    pub orders: &'a Orders,
}

impl Ctx<'_> {
    fn show(&self, a: Atom) -> String {
        self.atoms.show(a)
    }

    fn list(&self, l: &[Atom]) -> String {
        show_list(l, self.atoms)
    }

    fn who(&self, t: usize) -> String {
        describe(self.history, &self.txns[t].op)
    }
}

/// Finds every direct anomaly.
pub fn find(cx: &Ctx, atoms: &mut Atoms, out: &mut Anomalies) {
    aborted_reads(cx, out);
    intermediate_reads(cx, atoms, out);
    internal(cx, out);
    future_reads(cx, out);
    duplicates(cx, out);
    incompatible(cx, out);
    lost_updates(cx, out);
}

/// Committed reads containing an element appended only by a failed transaction.
fn aborted_reads(cx: &Ctx, out: &mut Anomalies) {
    let mut failed: HashMap<(Atom, Atom), usize> = HashMap::new();
    for (i, t) in cx
        .txns
        .iter()
        .enumerate()
        .filter(|(_, t)| t.op.kind == OpType::Fail)
    {
        for m in &t.mops {
            if let Mop::Append(k, v) = m {
                failed.insert((*k, *v), i);
            }
        }
    }
    if failed.is_empty() {
        return;
    }
    for (i, t) in cx.txns.iter().enumerate().filter(|(_, t)| t.ok()) {
        for m in &t.mops {
            let Mop::Read(k, Some(list)) = m else {
                continue;
            };
            for e in list {
                let Some(&w) = failed.get(&(*k, *e)) else {
                    continue;
                };
                out.add(Anomaly {
                    kind: "G1a".into(),
                    explanation: format!(
                        "{} read key {} = {}, which contains {}. Only {} appended {}, and it failed: a definite error means it never took effect. {}",
                        cx.who(i),
                        cx.show(*k),
                        cx.list(list),
                        cx.show(*e),
                        cx.who(w),
                        cx.show(*e),
                        close("G1a", cx.models)
                    ),
                    ops: vec![cx.txns[w].op.index(), t.op.index()],
                    data: json!({ "key": cx.atoms.value(*k), "element": cx.atoms.value(*e), "writer": cx.txns[w].op.index(), "reader": t.op.index() }),
                });
            }
        }
    }
}

/// Committed reads ending in an element that its transaction followed with another
/// append to the same key. Indexed over every txn entry, invocations included.
fn intermediate_reads(cx: &Ctx, atoms: &mut Atoms, out: &mut Anomalies) {
    let mut intermediate: HashMap<(Atom, Atom), (usize, Atom)> = HashMap::new();
    for op in cx.history.ops.iter().filter(|o| o.f == "txn") {
        let Ok(mops) = parse_mops(&op.value, atoms) else {
            continue;
        };
        let mut last: HashMap<Atom, Atom> = HashMap::new();
        for m in mops {
            if let Mop::Append(k, v) = m {
                if let Some(prev) = last.insert(k, v) {
                    intermediate.insert((k, prev), (op.index, v));
                }
            }
        }
    }
    if intermediate.is_empty() {
        return;
    }
    for (i, t) in cx.txns.iter().enumerate().filter(|(_, t)| t.ok()) {
        for m in &t.mops {
            let Mop::Read(k, Some(list)) = m else {
                continue;
            };
            let Some(last) = list.last() else { continue };
            let Some(&(w, next)) = intermediate.get(&(*k, *last)) else {
                continue;
            };
            if w == t.op.index() {
                continue;
            }
            out.add(Anomaly {
                kind: "G1b".into(),
                explanation: format!(
                    "{} read key {} = {}, ending in {}. Op {w} appended {} and then {} to that key in one transaction, so a state ending in {} was never committed. {}",
                    cx.who(i),
                    cx.show(*k),
                    cx.list(list),
                    cx.show(*last),
                    cx.show(*last),
                    cx.show(next),
                    cx.show(*last),
                    close("G1b", cx.models)
                ),
                ops: vec![w, t.op.index()],
                data: json!({ "key": cx.atoms.value(*k), "element": cx.atoms.value(*last), "writer": w, "reader": t.op.index() }),
            });
        }
    }
}

/// What a transaction expects a key to hold, from its own earlier micro-ops.
enum Expect {
    /// Exactly this list (it read it).
    Exactly(Vec<Atom>),
    /// Some unknown prefix followed by these appends.
    EndsWith(Vec<Atom>),
}

/// Reads inconsistent with the transaction's own earlier reads and appends.
fn internal(cx: &Ctx, out: &mut Anomalies) {
    for (i, t) in cx.txns.iter().enumerate().filter(|(_, t)| t.ok()) {
        let mut state: HashMap<Atom, Expect> = HashMap::new();
        for (mi, m) in t.mops.iter().enumerate() {
            match m {
                Mop::Append(k, v) => match state
                    .entry(*k)
                    .or_insert_with(|| Expect::EndsWith(Vec::new()))
                {
                    Expect::Exactly(l) | Expect::EndsWith(l) => l.push(*v),
                },
                Mop::Read(k, read) => {
                    let got: &[Atom] = read.as_deref().unwrap_or(&[]);
                    let bad = match state.get(k) {
                        Some(Expect::Exactly(l)) => (l != got).then(|| cx.list(l)),
                        Some(Expect::EndsWith(l)) => {
                            (!got.ends_with(l)).then(|| format!("a list ending in {}", cx.list(l)))
                        }
                        None => None,
                    };
                    if let Some(expected) = bad {
                        out.add(Anomaly {
                            kind: "internal".into(),
                            explanation: format!(
                                "{}. Micro-op {mi} read key {} = {}, but after its own earlier micro-ops on that key the transaction should have seen {expected}. {}",
                                cx.who(i),
                                cx.show(*k),
                                cx.list(got),
                                close("internal", cx.models)
                            ),
                            ops: vec![t.op.index()],
                            data: json!({ "mop": mi, "key": cx.atoms.value(*k) }),
                        });
                        break;
                    }
                    state.insert(*k, Expect::Exactly(got.to_vec()));
                }
            }
        }
    }
}

/// A transaction that read an element it appends only later.
fn future_reads(cx: &Ctx, out: &mut Anomalies) {
    for (i, t) in cx.txns.iter().enumerate().filter(|(_, t)| t.ok()) {
        for (ai, m) in t.mops.iter().enumerate() {
            let Mop::Append(k, v) = m else { continue };
            let earlier = t.mops[..ai]
                .iter()
                .position(|r| matches!(r, Mop::Read(rk, Some(l)) if rk == k && l.contains(v)));
            if let Some(ri) = earlier {
                out.add(Anomaly {
                    kind: "future-read".into(),
                    explanation: format!(
                        "{}. Micro-op {ri} read key {} and saw {}, which the same transaction only appends later, at micro-op {ai}. {}",
                        cx.who(i),
                        cx.show(*k),
                        cx.show(*v),
                        close("future-read", cx.models)
                    ),
                    ops: vec![t.op.index()],
                    data: json!({ "key": cx.atoms.value(*k), "element": cx.atoms.value(*v) }),
                });
                break;
            }
        }
    }
}

/// Reads holding the same element twice.
fn duplicates(cx: &Ctx, out: &mut Anomalies) {
    for (i, t) in cx.txns.iter().enumerate().filter(|(_, t)| t.possible()) {
        for m in &t.mops {
            let Mop::Read(k, Some(list)) = m else {
                continue;
            };
            let mut counts: HashMap<Atom, usize> = HashMap::new();
            for e in list {
                *counts.entry(*e).or_default() += 1;
            }
            let mut dups: Vec<(Atom, usize)> = counts.into_iter().filter(|(_, c)| *c > 1).collect();
            if dups.is_empty() {
                continue;
            }
            dups.sort_unstable();
            let which: Vec<String> = dups
                .iter()
                .map(|(e, c)| format!("{} ({c} times)", cx.show(*e)))
                .collect();
            out.add(Anomaly {
                kind: "duplicate-elements".into(),
                explanation: format!(
                    "{} read key {} = {}, which holds {}; every element is appended once, so it may appear only once. {}",
                    cx.who(i),
                    cx.show(*k),
                    cx.list(list),
                    which.join(", "),
                    close("duplicate-elements", cx.models)
                ),
                ops: vec![t.op.index()],
                data: json!({ "key": cx.atoms.value(*k), "duplicates": dups.iter().map(|(e, c)| json!([cx.atoms.value(*e), c])).collect::<Vec<_>>() }),
            });
        }
    }
}

/// Reads of one key that are not prefixes of each other.
fn incompatible(cx: &Ctx, out: &mut Anomalies) {
    for inc in &cx.orders.incompatible {
        let side = |(l, t): &(Vec<Atom>, usize)| {
            let who = if *t == usize::MAX {
                "the only append".to_string()
            } else {
                cx.who(*t)
            };
            (cx.list(l), who, cx.txns.get(*t).map(|x| x.op.index()))
        };
        let (sl, sw, si) = side(&inc.shorter);
        let (ll, lw, li) = side(&inc.longer);
        out.add(Anomaly {
            kind: "incompatible-order".into(),
            explanation: format!(
                "Key {} was read as {sl} by {sw}, and as {ll} by {lw}. Appends only add to the end, so every read must be a prefix of every longer one; these two disagree on the order. {}",
                cx.show(inc.key),
                close("incompatible-order", cx.models)
            ),
            ops: si.into_iter().chain(li).collect(),
            data: json!({ "key": cx.atoms.value(inc.key) }),
        });
    }
}

/// Committed transactions that read the same state of a key and then appended to it.
fn lost_updates(cx: &Ctx, out: &mut Anomalies) {
    type Group = ((Atom, Option<Vec<Atom>>), Vec<usize>);
    let mut groups: HashMap<(Atom, Option<Vec<Atom>>), Vec<usize>> = HashMap::new();
    for (i, t) in cx.txns.iter().enumerate().filter(|(_, t)| t.ok()) {
        let mut first_read: HashMap<Atom, Option<Vec<Atom>>> = HashMap::new();
        let mut counted: Vec<Atom> = Vec::new();
        for m in &t.mops {
            match m {
                Mop::Read(k, v) => {
                    first_read.entry(*k).or_insert_with(|| v.clone());
                }
                Mop::Append(k, _) => {
                    if let Some(v) = first_read.get(k) {
                        if !counted.contains(k) {
                            counted.push(*k);
                            groups.entry((*k, v.clone())).or_default().push(i);
                        }
                    }
                }
            }
        }
    }
    let mut cases: Vec<Group> = groups.into_iter().filter(|(_, g)| g.len() >= 2).collect();
    cases.sort_by_key(|(_, g)| cx.txns[g[0]].op.index());
    for ((k, v), group) in cases {
        let list: Vec<String> = group.iter().map(|&i| cx.who(i)).collect();
        let read = v.as_deref().map_or("null".to_string(), |l| cx.list(l));
        out.add(Anomaly {
            kind: "lost-update".into(),
            explanation: format!(
                "{} transactions read key {} = {read} and then each appended to it: {}. Each update was made without seeing the others. {}",
                group.len(),
                cx.show(k),
                list.join("; "),
                close("lost-update", cx.models)
            ),
            ops: group.iter().map(|&i| cx.txns[i].op.index()).collect(),
            data: json!({ "key": cx.atoms.value(k) }),
        });
    }
}

/// Committed appends that came right after appends of failed transactions. Needs a
/// writer for every element read: elements nobody appended are returned instead
/// (`(key, element, reader)`), and make the analysis impossible.
pub fn dirty_updates(cx: &Ctx, out: &mut Anomalies) -> Vec<(Atom, Atom)> {
    let mut writer: HashMap<(Atom, Atom), usize> = HashMap::new();
    for (i, t) in cx.txns.iter().enumerate() {
        for m in &t.mops {
            if let Mop::Append(k, v) = m {
                writer.insert((*k, *v), i);
            }
        }
    }
    let mut phantoms = Vec::new();
    let mut keys: Vec<&Atom> = cx.orders.by_key.keys().collect();
    keys.sort_unstable();
    for k in keys {
        let order = &cx.orders.by_key[k];
        // The last transaction that mattered, and the elements since a failed one.
        let mut last_kind = OpType::Ok;
        let mut last: Option<usize> = None;
        let mut run: Vec<Atom> = Vec::new();
        for &v in &order.values {
            let Some(&t2) = writer.get(&(*k, v)) else {
                phantoms.push((*k, v));
                break;
            };
            run.push(v);
            let kind2 = cx.txns[t2].op.kind;
            match (last_kind, kind2) {
                (OpType::Fail, OpType::Ok) => {
                    let failed = last.map(|t| cx.who(t)).unwrap_or_default();
                    out.add(Anomaly {
                        kind: "dirty-update".into(),
                        explanation: format!(
                            "In the order of key {} the elements {} follow one another; {} failed, yet {} (which completed ok) appended {} right after its writes. {}",
                            cx.show(*k),
                            cx.list(&run),
                            failed,
                            cx.who(t2),
                            cx.show(v),
                            close("dirty-update", cx.models)
                        ),
                        ops: last.map(|t| cx.txns[t].op.index()).into_iter().chain([cx.txns[t2].op.index()]).collect(),
                        data: json!({ "key": cx.atoms.value(*k) }),
                    });
                    (last_kind, last, run) = (kind2, Some(t2), vec![v]);
                }
                (_, OpType::Info) => {}
                (OpType::Fail, OpType::Fail) => {}
                _ => (last_kind, last, run) = (kind2, Some(t2), vec![v]),
            }
        }
    }
    phantoms
}
