//! What the log holds versus what was sent and polled: inconsistent offsets,
//! duplicates, lost writes, unseen messages, reads of failed sends (G1a) and reads
//! from the future (G1c-realtime).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::json;

use super::errors::{Cx, KErr};
use super::log::must_have_committed;
use super::parse::Kind;
use crate::checker::cycles::txn::Atom;
use crate::history::OpType;

/// Keys in a stable order.
fn sorted_keys<V>(m: &HashMap<Atom, V>) -> Vec<Atom> {
    let mut ks: Vec<Atom> = m.keys().copied().collect();
    ks.sort_unstable();
    ks
}

/// One offset holding two or more different messages.
pub fn inconsistent_offsets(cx: &Cx) -> Vec<KErr> {
    let mut out = Vec::new();
    for k in sorted_keys(&cx.logs.keys) {
        let log = &cx.logs.keys[&k];
        for (index, (&offset, msgs)) in log.offsets.iter().enumerate() {
            if msgs.len() < 2 {
                continue;
            }
            let seen: Vec<String> = msgs
                .iter()
                .map(|(m, e)| format!("{} (first shown by op {e})", cx.atoms.show(*m)))
                .collect();
            out.push(KErr {
                kind: "inconsistent_offsets",
                explanation: format!(
                    "Key {} offset {offset} holds {} different messages: {}. An offset must name exactly one message, for every client and node.",
                    cx.key(k),
                    msgs.len(),
                    seen.join(", ")
                ),
                ops: msgs.iter().map(|(_, e)| *e).collect(),
                data: json!({ "key": cx.json(k), "offset": offset, "index": index, "values": msgs.iter().map(|(m, _)| cx.json(*m)).collect::<Vec<_>>() }),
                severity: msgs.len() as i64,
            });
        }
    }
    out
}

/// One message stored at two or more offsets of a key.
pub fn duplicates(cx: &Cx) -> Vec<KErr> {
    let mut out = Vec::new();
    for k in sorted_keys(&cx.logs.keys) {
        let log = &cx.logs.keys[&k];
        let mut at: BTreeMap<Atom, Vec<(i64, usize)>> = BTreeMap::new();
        for (&offset, msgs) in &log.offsets {
            for &(m, e) in msgs {
                at.entry(m).or_default().push((offset, e));
            }
        }
        for (m, places) in at.into_iter().filter(|(_, p)| p.len() > 1) {
            let offsets: Vec<i64> = places.iter().map(|p| p.0).collect();
            out.push(KErr {
                kind: "duplicate",
                explanation: format!(
                    "Message {} of key {} is stored at {} offsets: {:?} (shown by ops {:?}). Each sent message must be stored once; a retried send that is appended twice causes this.",
                    cx.atoms.show(m),
                    cx.key(k),
                    places.len(),
                    offsets,
                    places.iter().map(|p| p.1).collect::<Vec<_>>()
                ),
                ops: places.iter().map(|p| p.1).collect(),
                data: json!({ "key": cx.json(k), "value": cx.json(m), "count": places.len(), "offsets": offsets }),
                severity: places.len() as i64,
            });
        }
    }
    out
}

/// Polls returning a message whose send failed.
pub fn aborted_reads(cx: &Cx) -> Vec<KErr> {
    let failed: HashMap<(Atom, Atom), usize> = cx
        .ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == OpType::Fail && o.f == Kind::Send)
        .flat_map(|(i, o)| o.sends.iter().map(move |(k, m, _)| ((*k, *m), i)))
        .collect();
    let mut out = Vec::new();
    if failed.is_empty() {
        return out;
    }
    for (r, op) in cx
        .ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == OpType::Ok && o.f == Kind::Poll)
    {
        for (k, msgs) in &op.polls {
            for &(o, m) in msgs {
                let Some(&w) = failed.get(&(*k, m)) else {
                    continue;
                };
                out.push(KErr {
                    kind: "G1a",
                    explanation: format!(
                        "{} polled message {} of key {}{}, but its send, {}, failed with a definite error, which promises the message was never stored.",
                        cx.who(r),
                        cx.atoms.show(m),
                        cx.key(*k),
                        o.map(|o| format!(" at offset {o}")).unwrap_or_default(),
                        cx.who(w)
                    ),
                    ops: vec![cx.entry(w), cx.entry(r)],
                    data: json!({ "key": cx.json(*k), "value": cx.json(m), "writer": cx.entry(w), "reader": cx.entry(r) }),
                    severity: 0,
                });
            }
        }
    }
    out
}

/// Polls returning a message whose send began only after the poll had finished.
/// With write-read and real-time edges only, this is exactly what makes Elle's
/// strict-serializable cycle check (G1c-realtime) fail on kafka histories.
pub fn future_reads(cx: &Cx) -> Vec<KErr> {
    let mut out = Vec::new();
    for (r, op) in cx
        .ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == OpType::Ok && o.f == Kind::Poll)
    {
        let Some(done) = op.completion else { continue };
        for (k, msgs) in &op.polls {
            for &(_, m) in msgs {
                let Some(&w) = cx.writer_of.get(&(*k, m)) else {
                    continue;
                };
                if w == r || cx.ops[w].invoke < done {
                    continue;
                }
                out.push(KErr {
                    kind: "G1c_realtime",
                    explanation: format!(
                        "{} polled message {} of key {}, but the only send of it, {}, was invoked after that poll had already completed: a poll cannot return a message that had not been sent yet. Elle reports this as a G1c-realtime cycle (strict-serializable).",
                        cx.who(r),
                        cx.atoms.show(m),
                        cx.key(*k),
                        cx.who(w)
                    ),
                    ops: vec![cx.entry(r), cx.entry(w)],
                    data: json!({ "key": cx.json(*k), "value": cx.json(m), "reader": cx.entry(r), "writer": cx.entry(w) }),
                    severity: 0,
                });
            }
        }
    }
    out
}

/// Acknowledged messages below the highest index some poll reached that no `ok`
/// poll ever returned. (Messages nobody sent are reported elsewhere.)
pub fn lost_writes(cx: &Cx) -> Vec<KErr> {
    let mut read_by_key: HashMap<Atom, HashSet<Atom>> = HashMap::new();
    for &(k, m) in cx.ok_reads {
        read_by_key.entry(k).or_default().insert(m);
    }
    let mut out = Vec::new();
    for k in sorted_keys(&read_by_key) {
        let read = &read_by_key[&k];
        let Some(log) = cx.logs.keys.get(&k) else {
            continue;
        };
        let Some(bound) = read
            .iter()
            .filter_map(|m| log.first_index.get(m).copied())
            .max()
        else {
            continue;
        };
        let by_last = log.last_index_values();
        for (index, msgs) in by_last.iter().enumerate().take(bound + 1) {
            for &m in msgs {
                if read.contains(&m) {
                    continue;
                }
                let Some(&w) = cx.writer_of.get(&(k, m)) else {
                    continue;
                };
                if !must_have_committed(&cx.ops[w], cx.ok_reads) {
                    continue;
                }
                let (bound_offset, bound_msg) = cx.logs.at(k, bound).unwrap_or((0, m));
                let witness = by_last[bound]
                    .iter()
                    .chain(std::iter::once(&bound_msg))
                    .find_map(|x| cx.first_reader.get(&(k, *x)).copied());
                let seen_by = witness
                    .map(|r| format!(", returned by {}", cx.who(r)))
                    .unwrap_or_default();
                out.push(KErr {
                    kind: "lost_write",
                    explanation: format!(
                        "Message {} of key {} (index {index} of the key's log) was acknowledged by {}, and polls reached index {bound} (message {} at offset {bound_offset}{seen_by}), yet no poll ever returned it. Every acknowledged message before a polled one must be pollable.",
                        cx.msg(k, m),
                        cx.key(k),
                        cx.who(w),
                        cx.atoms.show(bound_msg)
                    ),
                    ops: std::iter::once(cx.entry(w)).chain(witness.map(|r| cx.entry(r))).collect(),
                    data: json!({ "key": cx.json(k), "value": cx.json(m), "index": index, "max_read_index": bound, "writer": cx.entry(w), "max_read": witness.map(|r| cx.entry(r)) }),
                    severity: 0,
                });
            }
        }
    }
    out
}

/// Acknowledged messages that no `ok` poll returned by the end of the test, one
/// error per key.
pub fn unseen(cx: &Cx) -> Vec<KErr> {
    let mut by_key: BTreeMap<Atom, Vec<(Atom, usize)>> = BTreeMap::new();
    for (i, op) in cx
        .ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == OpType::Ok && o.f == Kind::Send)
    {
        for &(k, m, _) in &op.sends {
            if !cx.ok_reads.contains(&(k, m)) {
                by_key.entry(k).or_default().push((m, i));
            }
        }
    }
    by_key
        .into_iter()
        .map(|(k, msgs)| {
            let list: Vec<Atom> = msgs.iter().map(|x| x.0).collect();
            let (m0, w0) = msgs[0];
            let offset = cx.ops[w0].sends.iter().find(|s| s.1 == m0).and_then(|s| s.2);
            KErr {
                kind: "unseen",
                explanation: format!(
                    "{} acknowledged message(s) of key {} never appeared in any ok poll: {}. For example {} sent {}{} and got send_ok. Every acknowledged message must be pollable by the end of the test (the final phase polls every key from offset 0).",
                    list.len(),
                    cx.key(k),
                    list.iter().take(32).map(|m| cx.atoms.show(*m)).collect::<Vec<_>>().join(", "),
                    cx.who(w0),
                    cx.atoms.show(m0),
                    offset.map(|o| format!(" (offset {o})")).unwrap_or_default()
                ),
                ops: msgs.iter().take(8).map(|x| cx.entry(x.1)).collect(),
                data: json!({ "key": cx.json(k), "count": list.len(), "messages": list.iter().take(32).map(|m| cx.json(*m)).collect::<Vec<_>>() }),
                severity: list.len() as i64,
            }
        })
        .collect()
}
