//! Anomalies visible without a dependency graph: internal inconsistency, aborted
//! reads (G1a), intermediate reads (G1b) and lost updates.

use std::collections::HashMap;

use serde_json::json;

use super::parse::{parse_mops, Mop, Txn};
use crate::checker::cycles::models::Models;
use crate::checker::cycles::report::{meaning, verdict, Anomalies, Anomaly};
use crate::checker::cycles::txn::{describe, Atom, Atoms};
use crate::history::{History, OpType};

/// Finds every direct anomaly and adds it to `out`.
pub fn find(
    history: &History,
    txns: &[Txn],
    atoms: &mut Atoms,
    models: &Models,
    out: &mut Anomalies,
) {
    internal(history, txns, atoms, models, out);
    aborted_reads(history, txns, atoms, models, out);
    intermediate_reads(history, txns, atoms, models, out);
    lost_updates(history, txns, atoms, models, out);
}

/// Closing words shared by every story.
fn close(kind: &str, models: &Models) -> String {
    format!("This is {}. {}", meaning(kind), verdict(kind, models))
}

/// A read disagreeing with the transaction's own earlier read or write of the key.
fn internal(history: &History, txns: &[Txn], atoms: &Atoms, models: &Models, out: &mut Anomalies) {
    for t in txns.iter().filter(|t| t.ok()) {
        // key -> (expected value, mop index that set the expectation, was it a write)
        let mut state: HashMap<Atom, (Option<Atom>, usize, bool)> = HashMap::new();
        for (i, m) in t.mops.iter().enumerate() {
            match *m {
                Mop::Write(k, v) => {
                    state.insert(k, (Some(v), i, true));
                }
                Mop::Read(k, v) => match state.get(&k) {
                    Some(&(expected, at, by_write)) if expected != v => {
                        let how = if by_write { "wrote" } else { "read" };
                        out.add(Anomaly {
                            kind: "internal".into(),
                            explanation: format!(
                                "{}. Micro-op {} read key {} = {}, but micro-op {at} of the same transaction {how} {}, so it should have seen {}. {}",
                                describe(history, &t.op),
                                i,
                                atoms.show(k),
                                atoms.show_opt(v),
                                atoms.show_opt(expected),
                                atoms.show_opt(expected),
                                close("internal", models)
                            ),
                            ops: vec![t.op.index()],
                            data: json!({ "mop": i, "key": atoms.value(k), "read": v.map(|v| atoms.value(v)), "expected": expected.map(|e| atoms.value(e)) }),
                        });
                        break;
                    }
                    Some(_) => {}
                    None => {
                        state.insert(k, (v, i, false));
                    }
                },
            }
        }
    }
}

/// A committed read of a value only a failed transaction wrote.
fn aborted_reads(
    history: &History,
    txns: &[Txn],
    atoms: &Atoms,
    models: &Models,
    out: &mut Anomalies,
) {
    let mut failed: HashMap<(Atom, Atom), usize> = HashMap::new();
    for (i, t) in txns
        .iter()
        .enumerate()
        .filter(|(_, t)| t.op.kind == OpType::Fail)
    {
        for m in &t.mops {
            if let Mop::Write(k, v) = *m {
                failed.insert((k, v), i);
            }
        }
    }
    if failed.is_empty() {
        return;
    }
    for t in txns.iter().filter(|t| t.ok()) {
        for m in &t.mops {
            let Mop::Read(k, Some(v)) = *m else { continue };
            let Some(&w) = failed.get(&(k, v)) else {
                continue;
            };
            let writer = &txns[w];
            out.add(Anomaly {
                kind: "G1a".into(),
                explanation: format!(
                    "{} read key {} = {}. The only write of that value was by {}, which failed: a definite error means it never took effect, so nobody may see its writes. {}",
                    describe(history, &t.op),
                    atoms.show(k),
                    atoms.show(v),
                    describe(history, &writer.op),
                    close("G1a", models)
                ),
                ops: vec![writer.op.index(), t.op.index()],
                data: json!({ "key": atoms.value(k), "value": atoms.value(v), "writer": writer.op.index(), "reader": t.op.index() }),
            });
        }
    }
}

/// A committed read of a value its writer overwrote within the same transaction.
/// Like Elle, intermediate writes are indexed over every txn entry of the history,
/// invocations included.
fn intermediate_reads(
    history: &History,
    txns: &[Txn],
    atoms: &mut Atoms,
    models: &Models,
    out: &mut Anomalies,
) {
    // (key, value) -> (history index of the entry, value that overwrote it)
    let mut intermediate: HashMap<(Atom, Atom), (usize, Atom)> = HashMap::new();
    for op in history.ops.iter().filter(|o| o.f == "txn") {
        let Ok(mops) = parse_mops(&op.value, atoms) else {
            continue;
        };
        let mut last: HashMap<Atom, Atom> = HashMap::new();
        for m in mops {
            if let Mop::Write(k, v) = m {
                if let Some(prev) = last.insert(k, v) {
                    intermediate.insert((k, prev), (op.index, v));
                }
            }
        }
    }
    if intermediate.is_empty() {
        return;
    }
    for t in txns.iter().filter(|t| t.ok()) {
        for m in &t.mops {
            let Mop::Read(k, Some(v)) = *m else { continue };
            let Some(&(w, over)) = intermediate.get(&(k, v)) else {
                continue;
            };
            if w == t.op.index() {
                continue;
            }
            let writer = &history.ops[w];
            out.add(Anomaly {
                kind: "G1b".into(),
                explanation: format!(
                    "{} read key {} = {}. That value was written by op {} (process {}) and then overwritten with {} in the same transaction, so it was never a committed state. {}",
                    describe(history, &t.op),
                    atoms.show(k),
                    atoms.show(v),
                    w,
                    writer.process,
                    atoms.show(over),
                    close("G1b", models)
                ),
                ops: vec![w, t.op.index()],
                data: json!({ "key": atoms.value(k), "value": atoms.value(v), "writer": w, "reader": t.op.index() }),
            });
        }
    }
}

/// Committed transactions that read the same version of a key and then wrote it.
fn lost_updates(
    history: &History,
    txns: &[Txn],
    atoms: &Atoms,
    models: &Models,
    out: &mut Anomalies,
) {
    let mut groups: HashMap<(Atom, Option<Atom>), Vec<usize>> = HashMap::new();
    for (i, t) in txns.iter().enumerate().filter(|(_, t)| t.ok()) {
        let mut first_read: HashMap<Atom, Option<Atom>> = HashMap::new();
        let mut counted: Vec<Atom> = Vec::new();
        for m in &t.mops {
            match *m {
                Mop::Read(k, v) => {
                    first_read.entry(k).or_insert(v);
                }
                Mop::Write(k, _) => {
                    if let Some(&v) = first_read.get(&k) {
                        if !counted.contains(&k) {
                            counted.push(k);
                            groups.entry((k, v)).or_default().push(i);
                        }
                    }
                }
            }
        }
    }
    type Case = ((Atom, Option<Atom>), Vec<usize>);
    let mut cases: Vec<Case> = groups.into_iter().filter(|(_, g)| g.len() >= 2).collect();
    cases.sort_by_key(|(_, g)| txns[g[0]].op.index());
    for ((k, v), group) in cases {
        let list: Vec<String> = group
            .iter()
            .map(|&i| describe(history, &txns[i].op))
            .collect();
        out.add(Anomaly {
            kind: "lost-update".into(),
            explanation: format!(
                "{} transactions read key {} = {} and then each wrote a new value of it: {}. Whichever wrote last overwrote the others' updates without having seen them. {}",
                group.len(),
                atoms.show(k),
                atoms.show_opt(v),
                list.join("; "),
                close("lost-update", models)
            ),
            ops: group.iter().map(|&i| txns[i].op.index()).collect(),
            data: json!({ "key": atoms.value(k), "value": v.map(|v| atoms.value(v)) }),
        });
    }
}
