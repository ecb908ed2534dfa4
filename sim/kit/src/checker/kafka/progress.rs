//! Whether consumers and producers move forward through the log: poll skips and
//! backward polls within a process, the same inside one poll, and producers whose
//! later sends land earlier. Indexes are ranks among known offsets, so sparse
//! offsets are fine; a message whose index is unknown never counts as a skip.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use super::errors::{Cx, KErr};
use super::parse::Kind;
use crate::checker::cycles::txn::Atom;
use crate::history::OpType;

/// Operation indexes per process, in invoke order.
fn by_process(cx: &Cx) -> BTreeMap<u64, Vec<usize>> {
    let mut out: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, op) in cx.ops.iter().enumerate() {
        out.entry(op.process).or_default().push(i);
    }
    out
}

/// Index difference between two messages of `key`, 1 when either is unknown.
fn delta(
    cx: &Cx,
    key: Atom,
    from: Option<Atom>,
    to: Option<Atom>,
) -> (i64, Option<usize>, Option<usize>) {
    let i = from.and_then(|m| cx.logs.index(key, m));
    let j = to.and_then(|m| cx.logs.index(key, m));
    match (i, j) {
        (Some(i), Some(j)) => (j as i64 - i as i64, Some(i), Some(j)),
        _ => (1, i, j),
    }
}

/// `(offset, message)` strictly between two indexes of a key's log.
fn skipped(cx: &Cx, key: Atom, i: usize, j: usize) -> Vec<(i64, Atom)> {
    (i + 1..j).filter_map(|x| cx.logs.at(key, x)).collect()
}

/// Skipped messages for prose: "6 (offset 5), 7 (offset 6)".
fn show_skipped(cx: &Cx, gap: &[(i64, Atom)]) -> String {
    let mut parts: Vec<String> = gap
        .iter()
        .take(8)
        .map(|(o, m)| format!("{} (offset {o})", cx.atoms.show(*m)))
        .collect();
    if gap.len() > 8 {
        parts.push(format!("… and {} more", gap.len() - 8));
    }
    parts.join(", ")
}

/// Poll skips and backward polls between consecutive polls of one process. Tracking
/// carries across assigns for keys that stay assigned and is dropped for the others.
pub fn poll_skips(cx: &Cx) -> Vec<KErr> {
    let mut out = Vec::new();
    for (process, ops) in by_process(cx) {
        let mut last: HashMap<Atom, usize> = HashMap::new();
        for &cur in &ops {
            let op = &cx.ops[cur];
            if op.completion.is_none() {
                continue;
            }
            match op.f {
                Kind::Assign if op.kind != OpType::Fail => {
                    last.retain(|k, _| op.assign.contains(k))
                }
                Kind::Poll => {
                    for (k, msgs) in &op.polls {
                        let Some(&prev) = last.get(k) else { continue };
                        let v = cx.ops[prev].polled(*k).and_then(|l| l.last()).map(|x| x.1);
                        let v2 = msgs.first().map(|x| x.1);
                        let (d, i, j) = delta(cx, *k, v, v2);
                        let (Some(v), Some(v2), Some(i), Some(j)) = (v, v2, i, j) else {
                            continue;
                        };
                        let before = format!(
                            "Process {process} polled key {} up to message {} in {}; its next poll of that key, {}, started at {}",
                            cx.key(*k),
                            cx.msg(*k, v),
                            cx.who(prev),
                            cx.who(cur),
                            cx.msg(*k, v2)
                        );
                        if d > 1 {
                            let gap = skipped(cx, *k, i, j);
                            out.push(KErr {
                                kind: "poll_skip",
                                explanation: format!(
                                    "{before}, skipping {} message(s) known to be in between: {}. A consumer must not skip messages of a key it stays assigned to.",
                                    gap.len(),
                                    show_skipped(cx, &gap)
                                ),
                                ops: vec![cx.entry(prev), op.entry],
                                data: json!({ "key": cx.json(*k), "delta": d, "skipped": gap.iter().map(|g| cx.json(g.1)).collect::<Vec<_>>(), "ops": [cx.entry(prev), op.entry] }),
                                severity: d,
                            });
                        } else if d < 1 {
                            out.push(KErr {
                                kind: "nonmonotonic_poll",
                                explanation: format!(
                                    "{before}, which is not after where it had got to (index {j} vs {i} in the key's log). Successive polls of a process must move forward.",
                                ),
                                ops: vec![cx.entry(prev), op.entry],
                                data: json!({ "key": cx.json(*k), "delta": d, "values": [cx.json(v), cx.json(v2)], "ops": [cx.entry(prev), op.entry] }),
                                severity: -d,
                            });
                        }
                    }
                    if op.kind == OpType::Ok {
                        for (k, _) in &op.polls {
                            last.insert(*k, cur);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// A polled message with the offset the poll gave it: "7 (offset 12)".
fn show_pair(cx: &Cx, m: Atom, offset: Option<i64>) -> String {
    match offset {
        Some(o) => format!("{} (offset {o})", cx.atoms.show(m)),
        None => cx.atoms.show(m),
    }
}

/// Skips and backward steps between consecutive messages of one key in one poll.
pub fn int_poll_skips(cx: &Cx) -> Vec<KErr> {
    let mut out = Vec::new();
    for (p, op) in cx.ops.iter().enumerate() {
        for (k, msgs) in &op.polls {
            let mut prev: Option<(Option<usize>, Atom, Option<i64>)> = None;
            for &(o, m) in msgs {
                let j = cx.logs.index(*k, m);
                if let Some((i, v, vo)) = prev {
                    if let (Some(i), Some(j)) = (i, j) {
                        let d = j as i64 - i as i64;
                        let pair = format!(
                            "{} polled key {} and got {} directly followed by {}",
                            cx.who(p),
                            cx.key(*k),
                            show_pair(cx, v, vo),
                            show_pair(cx, m, o)
                        );
                        if d > 1 {
                            let gap = skipped(cx, *k, i, j);
                            out.push(KErr {
                                kind: "int_poll_skip",
                                explanation: format!(
                                    "{pair}, leaving out {} message(s) known to be in between: {}. A poll must return consecutive messages of the log.{}",
                                    gap.len(),
                                    show_skipped(cx, &gap),
                                    cx.duplicate_note(*k, &[v, m])
                                ),
                                ops: vec![op.entry],
                                data: json!({ "key": cx.json(*k), "delta": d, "values": [cx.json(v), cx.json(m)], "skipped": gap.iter().map(|g| cx.json(g.1)).collect::<Vec<_>>(), "op": op.entry }),
                                severity: d,
                            });
                        } else if d < 1 {
                            out.push(KErr {
                                kind: "int_nonmonotonic_poll",
                                explanation: format!(
                                    "{pair}, which is not later in the log (index {j} after {i}). A poll must return messages in log order, each once.{}",
                                    cx.duplicate_note(*k, &[v, m])
                                ),
                                ops: vec![op.entry],
                                data: json!({ "key": cx.json(*k), "delta": d, "values": [cx.json(v), cx.json(m)], "op": op.entry }),
                                severity: -d,
                            });
                        }
                    }
                }
                prev = Some((j, m, o));
            }
        }
    }
    out
}

/// A process's later send to a key landing at or before its earlier one.
pub fn nonmonotonic_sends(cx: &Cx) -> Vec<KErr> {
    let mut out = Vec::new();
    for (process, ops) in by_process(cx) {
        let mut last: HashMap<Atom, usize> = HashMap::new();
        for &i in &ops {
            let op = &cx.ops[i];
            if !matches!(op.kind, OpType::Ok | OpType::Info) || op.completion.is_none() {
                continue;
            }
            match op.f {
                Kind::Assign => last.retain(|k, _| op.assign.contains(k)),
                Kind::Send => {
                    for &(k, m, _) in &op.sends {
                        if let Some(&prev) = last.get(&k) {
                            let v = cx.ops[prev].sent_to(k).last();
                            let (d, i2, j2) = delta(cx, k, v, Some(m));
                            if d < 1 {
                                if let (Some(v), Some(a), Some(b)) = (v, i2, j2) {
                                    out.push(KErr {
                                        kind: "nonmonotonic_send",
                                        explanation: format!(
                                            "Process {process} sent {} to key {} in {}, then sent {} in {}, which landed at or before it (index {b} vs {a} in the key's log). One producer's successive sends to a key must get increasing offsets.",
                                            cx.msg(k, v),
                                            cx.key(k),
                                            cx.who(prev),
                                            cx.msg(k, m),
                                            cx.who(i)
                                        ),
                                        ops: vec![cx.entry(prev), op.entry],
                                        data: json!({ "key": cx.json(k), "delta": d, "values": [cx.json(v), cx.json(m)], "ops": [cx.entry(prev), op.entry] }),
                                        severity: -d,
                                    });
                                }
                            }
                        }
                        last.insert(k, i);
                    }
                }
                _ => {}
            }
        }
    }
    out
}
