//! The txn family on the deterministic driver: challenges 6a–6c (the scorecard's
//! commands and presets, 1 s instead of 20 at the same rate) on fixed seeds, judged by
//! the bench's rw-register checker at each row's consistency model (read-uncommitted or
//! read-committed) with total availability; replication's message budget; and
//! convergence: once a write has had time to reach a node, that node never again reads
//! a value the write superseded, through partitions, duplicated and reordered messages,
//! and across a partition only a relay can bridge.

mod common;

use std::time::Duration;

use common::*;
use glomers_sim::faults::{FaultKind, FaultMode};
use glomers_simkit::history::{Op, OpType};
use serde_json::Value;

/// Row `id` shortened to 1 s (a thousand transactions), with partitions about every
/// quarter second when the row has the nemesis.
fn txn_row(id: &str, seed: u64) -> Case {
    let mut case = lasting(challenge(id, seed), 1);
    if challenge_has_nemesis(id) {
        case.args.nemesis_interval = 0.25;
        case = with_partitions(case);
    }
    case
}

/// 6a (one node, read-uncommitted), 6b (read-uncommitted, with and without partitions)
/// and 6c (read-committed, partitions) are valid, every transaction answered ok.
#[test]
fn challenges_6a_to_6c_are_valid_with_total_availability() {
    let rows: Vec<(&str, u64)> = ["6a", "6b/1", "6b/2", "6c"]
        .into_iter()
        .flat_map(|id| SEEDS.map(move |seed| (id, seed)))
        .collect();
    let cases: Vec<Case> = rows.iter().map(|&(id, seed)| txn_row(id, seed)).collect();
    for ((id, seed), out) in rows.into_iter().zip(run_parallel(&cases)) {
        out.assert_valid();
        assert_eq!(
            out.ok_fraction(),
            1.0,
            "{id} seed {seed}: total availability"
        );
    }
}

/// 6c on 5 nodes, with partitions.
#[test]
fn read_committed_on_five_nodes_through_partitions() {
    let mut case = case(
        "-w txn-rw-register --node-count 5 --concurrency 2n --time-limit 1 --rate 1000 \
         --consistency-models read-committed --availability total --nemesis-interval 0.25",
        "txn",
        1,
    );
    case = with_partitions(case);
    run_valid(&case);
}

/// Replication is batched: at most one message per peer per round (`sync_interval_ms`,
/// 100 ms), whatever the rate: on 2 nodes at 1000 transactions a second, under 0.05
/// messages per transaction.
#[test]
fn replication_sends_one_message_per_peer_per_round() {
    let out = run_valid(&lasting(challenge("6b/1", 1), 2));
    let rounds = (out.run.virtual_time.as_millis() / 100) as usize + 1;
    let sent = out.gossip_since(Duration::ZERO).count();
    assert!(sent <= 2 * rounds, "{sent} messages in {rounds} rounds");
    assert!(out.msgs_per_op() < 0.05, "{:.3} msgs/op", out.msgs_per_op());
}

// ---------------------------------------------------------------------------------------
// Convergence.

/// A committed write as clients saw it: a transaction's last write to a key.
#[derive(Debug)]
struct Write {
    /// The transaction's position among the history's invocations.
    txn: usize,
    key: Value,
    value: Value,
    node: String,
    invoked: Duration,
    completed: Duration,
}

/// A read of a key another transaction wrote (not the reader's own earlier write).
#[derive(Debug)]
struct Read {
    /// The transaction's position among the history's invocations.
    txn: usize,
    key: Value,
    value: Value,
    node: String,
    invoked: Duration,
}

/// The writes and external reads of every ok transaction.
fn writes_and_reads(out: &Outcome) -> (Vec<Write>, Vec<Read>) {
    let (mut writes, mut reads) = (Vec::new(), Vec::new());
    for (txn, (invoke, done)) in out.operations().into_iter().enumerate() {
        let Some(done) = done.filter(|d| d.kind == OpType::Ok) else {
            continue;
        };
        let node = invoke.node.clone().unwrap_or_default();
        let at = |op: &Op| Duration::from_nanos(op.time);
        let mut own: Vec<(Value, Value)> = Vec::new();
        for mop in done.value.as_array().into_iter().flatten() {
            let (f, key, value) = (&mop[0], mop[1].clone(), mop[2].clone());
            if f == "w" {
                own.retain(|(k, _)| *k != key);
                own.push((key, value));
            } else if !own.iter().any(|(k, _)| *k == key) {
                reads.push(Read {
                    txn,
                    key,
                    value,
                    node: node.clone(),
                    invoked: at(invoke),
                });
            }
        }
        for (key, value) in own {
            writes.push(Write {
                txn,
                key,
                value,
                node: node.clone(),
                invoked: at(invoke),
                completed: at(done),
            });
        }
    }
    (writes, reads)
}

/// Time for a write to reach every other node when nothing blocks it: a replication
/// round is 100 ms; five of them.
const SPREAD: Duration = Duration::from_millis(500);

/// Time for a write to reach every other node after a partition or a pause ends: a peer
/// that was silent is probed only every `quiet_peer_backoff_ms` (1 s), and then a round.
const CATCH_UP: Duration = Duration::from_millis(1500);

/// When a write completed at `completed` has surely reached every node: `SPREAD` after
/// it, unless a window of `blocked` (times since the test start) overlaps that, in which
/// case `CATCH_UP` after the last such window ends.
fn surely_everywhere(completed: Duration, blocked: &[(Duration, Duration)]) -> Duration {
    let mut ready = completed + SPREAD;
    for &(from, until) in blocked {
        if from < ready && until > completed {
            ready = ready.max(until + CATCH_UP);
        }
    }
    ready
}

/// Checks convergence on the run: a read never returns a value superseded by a write
/// that had surely reached the reader's node. Write `b` supersedes `w` (same key) when
/// `w` had surely reached `b`'s node before `b` was invoked: `b` then carries a greater
/// Lamport stamp and wins everywhere. The initial null is superseded by every write.
/// Returns how many reads a superseding write constrained.
fn assert_converges(out: &Outcome, blocked: &[(Duration, Duration)]) -> usize {
    let (writes, reads) = writes_and_reads(out);
    let reached = |w: &Write, node: &str, at: Duration| {
        if w.node == node {
            w.completed <= at
        } else {
            surely_everywhere(w.completed, blocked) <= at
        }
    };
    let mut constrained = 0;
    for r in &reads {
        let same_key = writes.iter().filter(|w| w.key == r.key);
        let source = writes.iter().find(|w| w.key == r.key && w.value == r.value);
        let mut superseders = same_key.filter(|b| reached(b, &r.node, r.invoked));
        let stale = match source {
            None if r.value.is_null() => superseders.next(),
            None => panic!(
                "{} read {:?}={}, which nobody wrote",
                r.node, r.key, r.value
            ),
            Some(v) => superseders.find(|b| !std::ptr::eq(*b, v) && reached(v, &b.node, b.invoked)),
        };
        if let Some(b) = stale {
            panic!(
                "{}: {r:?} is stale: {b:?} had reached {} and supersedes it",
                describe(&out.case),
                r.node
            );
        }
        constrained += usize::from(
            writes
                .iter()
                .any(|b| b.key == r.key && b.value != r.value && reached(b, &r.node, r.invoked)),
        );
    }
    constrained
}

/// Checks atomic visibility on replicas: a transaction that read one of `t`'s writes
/// sees every other key `t` wrote at `t`'s value or a newer one, never a value `t`'s
/// write superseded (nor null). Returns how many such pairs of reads it checked.
fn assert_atomic_visibility(out: &Outcome, blocked: &[(Duration, Duration)]) -> usize {
    let (writes, reads) = writes_and_reads(out);
    let writer =
        |key: &Value, value: &Value| writes.iter().find(|w| w.key == *key && w.value == *value);
    let mut checked = 0;
    for r in &reads {
        let Some(t) = writer(&r.key, &r.value) else {
            continue;
        };
        let others = reads.iter().filter(|o| o.txn == r.txn && o.key != r.key);
        for other in others {
            let Some(newer) = writes.iter().find(|w| w.txn == t.txn && w.key == other.key) else {
                continue;
            };
            checked += 1;
            if other.value == newer.value {
                continue;
            }
            let fractured = match writer(&other.key, &other.value) {
                None => other.value.is_null(),
                Some(older) => {
                    older.node == newer.node && older.completed <= newer.invoked
                        || surely_everywhere(older.completed, blocked) <= newer.invoked
                }
            };
            assert!(
                !fractured,
                "{}: a transaction on {} read {:?}={} of {t:?} but {:?}={}, older than {newer:?}",
                describe(&out.case),
                r.node,
                r.key,
                r.value,
                other.key,
                other.value
            );
        }
    }
    checked
}

/// The windows (since the test start) in which partitions or pauses of `out`'s case
/// were active: writes may not spread then.
fn blocking_windows(out: &Outcome) -> Vec<(Duration, Duration)> {
    out.case
        .faults
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                FaultKind::Partition { .. } | FaultKind::Pause { .. }
            )
        })
        .map(|f| {
            let until = f.end.unwrap_or(secs(out.case.args.time_limit));
            (out.since_start(f.start), out.since_start(until))
        })
        .collect()
}

/// A convergence scenario: the txn preset at read-committed on `nodes` nodes, 100
/// transactions a second over 10 keys that are never retired, for 7 s. With that many
/// keys a node often reads a key it has not written for a while, which is what lets a
/// missing write show.
fn convergence_case(nodes: usize, seed: u64) -> Case {
    case(
        &format!(
            "-w txn-rw-register --node-count {nodes} --concurrency 2n --time-limit 7 --rate 100 \
             --consistency-models read-committed --availability total --key-count 10 \
             --max-writes-per-key 100000"
        ),
        "txn",
        seed,
    )
}

/// Runs `case` (valid), then checks convergence outside partitions (on more than
/// `min_constrained` reads) and atomic visibility (on more than 20 pairs of reads).
fn converges_atomically(case: &Case, seed: u64, min_constrained: usize) {
    let out = run_valid(case);
    let blocked = blocking_windows(&out);
    let constrained = assert_converges(&out, &blocked);
    let atomic = assert_atomic_visibility(&out, &blocked);
    assert!(atomic > 20, "seed {seed}: {atomic} pairs of reads checked");
    assert!(
        constrained > min_constrained,
        "seed {seed}: {constrained} reads constrained"
    );
}

/// Two nodes split from 2 s to 5 s: each side's writes reach the other after the heal,
/// and every replica then agrees.
#[test]
fn writes_made_during_a_partition_reach_everyone_after_it_heals() {
    for seed in SEEDS {
        let nodes = node_ids(2);
        let case = with_fault(
            convergence_case(2, seed),
            split(&["n0"], &nodes, secs(2), Some(secs(5))),
        );
        converges_atomically(&case, seed, 200);
    }
}

/// n1 stops processing from 2 s to 5 s while n0 goes on writing alone; once n1 resumes
/// it catches up at once: its first reads already see n0's writes of the pause (that
/// check only holds if n1 really merges them, since n1 has not rewritten the keys yet).
#[test]
fn a_paused_node_catches_up_when_it_resumes() {
    for seed in SEEDS {
        let mut case = convergence_case(2, seed);
        case.args.availability = None;
        let case = with_fault(
            case,
            glomers_sim::faults::Fault {
                start: secs(2),
                end: Some(secs(5)),
                kind: FaultKind::Pause { node: "n1".into() },
            },
        );
        converges_atomically(&case, seed, 200);
    }
}

/// Five nodes through random partitions, duplicated messages and reordering (uniform
/// latency): read-committed, and convergent once each partition heals.
#[test]
fn five_nodes_converge_through_partitions_duplicates_and_reordering() {
    for seed in SEEDS {
        let mut case = convergence_case(5, seed);
        case.args.latency = 20;
        case.args.latency_dist = "uniform".into();
        case.args.nemesis_interval = 1.0;
        let case = with_drawn(
            with_drawn(case, FaultMode::PartitionRandom),
            FaultMode::Duplicate,
        );
        converges_atomically(&case, seed, 50);
    }
}

/// n0 and n2 never hear each other, but both hear n1: n1 relays their writes, so the
/// partition delays nothing (it counts as no blocked window at all).
#[test]
fn relaying_carries_writes_across_a_non_transitive_partition() {
    for seed in SEEDS {
        let case = with_fault(
            convergence_case(3, seed),
            cut_links(&[("n0", "n2"), ("n2", "n0")], secs(0), None),
        );
        let out = run_valid(&case);
        let constrained = assert_converges(&out, &[]);
        let atomic = assert_atomic_visibility(&out, &[]);
        assert!(atomic > 20, "seed {seed}: {atomic} pairs of reads checked");
        assert!(
            constrained > 200,
            "seed {seed}: {constrained} reads constrained"
        );
    }
}

/// The convergence check can fail: on a cluster that does not replicate (one round a
/// minute) it finds a stale read.
#[test]
fn the_convergence_check_catches_a_cluster_that_does_not_replicate() {
    let case = with_override(convergence_case(2, 1), "txn", "sync_interval_ms", "60000");
    let out = run_valid(&case);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_converges(&out, &[]);
    }));
    assert!(
        caught.is_err(),
        "the check missed a cluster that never replicates"
    );
}
