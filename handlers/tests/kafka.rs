//! The kafka family on the deterministic driver: challenges 5a–5c (the scorecard's
//! commands and presets, 2 s instead of 20 at the same rate) on fixed seeds with and
//! without partitions, judged by the bench's kafka checker (Jepsen's analysis: lost and
//! unseen writes, duplicates, inconsistent offsets, poll skips, G1a...); 5c's targets;
//! both modes' offsets; commits; and quiet when idle.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use common::*;
use glomers_simkit::history::OpType;
use serde_json::Value;

/// Challenge row `id` shortened to 2 s, with partitions about every half second when
/// `partitions`.
fn kafka_row(id: &str, seed: u64, partitions: bool) -> Case {
    let mut case = lasting(challenge(id, seed), 2);
    if partitions {
        case.args.nemesis_interval = 0.5;
        case = with_partitions(case);
    }
    case
}

/// The fault-free rows 5a, 5b and 5c on each seed (computed once, shared by the tests
/// that read them).
fn fault_free_runs() -> &'static [(&'static str, u64, Outcome)] {
    static RUNS: OnceLock<Vec<(&'static str, u64, Outcome)>> = OnceLock::new();
    RUNS.get_or_init(|| {
        let rows: Vec<(&str, u64)> = ["5a", "5b", "5c"]
            .into_iter()
            .flat_map(|id| SEEDS.map(move |seed| (id, seed)))
            .collect();
        let cases: Vec<Case> = rows
            .iter()
            .map(|&(id, seed)| kafka_row(id, seed, false))
            .collect();
        rows.into_iter()
            .zip(run_parallel(&cases))
            .map(|((id, seed), out)| (id, seed, out))
            .collect()
    })
}

/// The fault-free run of row `id` with `seed`.
fn fault_free(id: &str, seed: u64) -> &'static Outcome {
    fault_free_runs()
        .iter()
        .find(|(i, s, _)| *i == id && *s == seed)
        .map(|(_, _, out)| out)
        .expect("a fault-free run of that row and seed")
}

/// The fraction of sends and polls that succeeded (the workload's `crash` operations,
/// which always end `info` and weigh heavily in a 2 s run, are left out).
fn sends_and_polls_ok(out: &Outcome) -> f64 {
    let (mut ok, mut all) = (0, 0);
    for (invoke, done) in out.operations() {
        if invoke.f == "send" || invoke.f == "poll" {
            all += 1;
            ok += usize::from(done.is_some_and(|d| d.kind == OpType::Ok));
        }
    }
    ok as f64 / all.max(1) as f64
}

/// 5a (one node), 5b (lin-kv mode) and 5c (replicated mode) are valid; 5c within its
/// targets: at most 1 server message per operation, at least 99.9 % of sends and polls
/// ok.
#[test]
fn challenges_5a_to_5c_are_valid_and_5c_meets_its_targets() {
    for (id, seed, out) in fault_free_runs() {
        out.assert_valid();
        if *id == "5c" {
            let ok = sends_and_polls_ok(out);
            assert!(
                out.msgs_per_op() <= 1.0 && ok >= 0.999,
                "5c seed {seed}: {:.3} msgs/op, {ok:.4} ok",
                out.msgs_per_op()
            );
        }
    }
}

/// Both multi-node modes stay valid through partitions and never refuse a send; a
/// replicated send is answered at once (a node accepts it alone), and the replicated
/// mode never touches a service.
#[test]
fn multi_node_kafka_is_valid_through_partitions() {
    let rows: Vec<(&str, u64)> = ["5b", "5c"]
        .into_iter()
        .flat_map(|id| SEEDS.map(move |seed| (id, seed)))
        .collect();
    let cases: Vec<Case> = rows
        .iter()
        .map(|&(id, seed)| kafka_row(id, seed, true))
        .collect();
    for ((id, seed), out) in rows.into_iter().zip(run_parallel(&cases)) {
        out.assert_valid();
        assert!(!out.case.faults.is_empty(), "{id} seed {seed}: partitions");
        // A send in doubt (lin-kv mode: a claim whose answer was lost) ends indefinite,
        // never with a definite error while it may have landed.
        let definite = out
            .ops()
            .iter()
            .filter(|o| o.f == "send" && o.kind == OpType::Fail)
            .count();
        assert_eq!(definite, 0, "{id} seed {seed}: sends refused");
        if id == "5c" {
            let unsure = out
                .ops()
                .iter()
                .filter(|o| o.f == "send" && o.kind == OpType::Info)
                .count();
            assert_eq!(
                unsure, 0,
                "seed {seed}: replicated sends are answered at once"
            );
            assert!(
                out.sent()
                    .all(|m| m.dest.starts_with('n') || m.dest.starts_with('c')),
                "seed {seed}: replicated mode uses no service"
            );
        }
    }
}

/// 5c's preset on 5 nodes with partitions, as in the README's table.
#[test]
fn replicated_mode_on_five_nodes_is_valid_through_partitions() {
    let mut case = case(
        "-w kafka --node-count 5 --concurrency 2n --time-limit 2 --rate 1000 --nemesis-interval 0.5",
        "kafka-5c",
        1,
    );
    case = with_partitions(case);
    run_valid(&case);
}

/// lin-kv mode claims offsets in lin-kv, so they are dense: the offsets polled from
/// each key are 0, 1, 2, ... without a gap; and without faults no send fails, however
/// the two nodes' claims race.
#[test]
fn lin_kv_mode_gives_dense_offsets() {
    let out = fault_free("5b", 1);
    let failed = out
        .ops()
        .iter()
        .filter(|o| o.f == "send" && o.kind != OpType::Invoke && o.kind != OpType::Ok)
        .count();
    assert_eq!(failed, 0, "sends that did not succeed");
    let mut offsets: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for poll in out.ok("poll") {
        for (key, pairs) in poll.value["msgs"].as_object().into_iter().flatten() {
            for pair in pairs.as_array().into_iter().flatten() {
                let offset = pair[0].as_u64().expect("integer offsets");
                offsets.entry(key.clone()).or_default().insert(offset);
            }
        }
    }
    assert!(!offsets.is_empty(), "polls returned messages");
    for (key, seen) in offsets {
        let dense: BTreeSet<u64> = (0..seen.len() as u64).collect();
        assert_eq!(seen, dense, "key {key}");
    }
}

/// lin-kv mode with the two nodes cut apart for the whole run: each fills the other's
/// claims in from lin-kv, and polls never skip them.
#[test]
fn lin_kv_mode_fills_gaps_from_the_service_while_peers_are_unreachable() {
    let case = kafka_row("5b", 2, false);
    let nodes = node_ids(2);
    let out = run_valid(&with_fault(case, split(&["n0"], &nodes, secs(0), None)));
    assert!(out
        .delivered()
        .all(|m| !m.between_nodes() || m.at >= out.main_end()));
}

/// The offsets each `list_committed_offsets_ok` reports, with when and by whom, and
/// each acknowledged commit.
type Commits = Vec<(std::time::Duration, String, BTreeMap<String, u64>)>;

fn offsets_of(body: &Value) -> BTreeMap<String, u64> {
    body["offsets"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
        .collect()
}

/// Commits only grow at every node, and spread: once a commit is acknowledged anywhere,
/// every node lists at least that offset for its key a second later.
#[test]
fn commits_spread_and_only_grow() {
    for id in ["5b", "5c"] {
        let out = fault_free(id, 3);
        let messages = out.messages_where(|_, wire| wire.contains("commit"));
        // Commit requests by msg_id per client, to pair them with their acknowledgement.
        let mut requested: BTreeMap<(String, u64), BTreeMap<String, u64>> = BTreeMap::new();
        let mut acknowledged: Commits = Vec::new();
        let mut listed: Commits = Vec::new();
        for m in messages
            .iter()
            .filter(|m| m.kind == glomers_sim::net::journal::EventKind::Send)
        {
            match m.kind_of_body() {
                "commit_offsets" => {
                    let id = m.body["msg_id"].as_u64().unwrap_or_default();
                    requested.insert((m.src.clone(), id), offsets_of(&m.body));
                }
                "commit_offsets_ok" => {
                    let id = m.body["in_reply_to"].as_u64().unwrap_or_default();
                    if let Some(o) = requested.remove(&(m.dest.clone(), id)) {
                        acknowledged.push((m.at, m.src.clone(), o));
                    }
                }
                "list_committed_offsets_ok" => {
                    listed.push((m.at, m.src.clone(), offsets_of(&m.body)));
                }
                _ => {}
            }
        }
        assert!(
            acknowledged.len() > 50 && listed.len() > 10,
            "{id}: {} commits acknowledged, {} lists",
            acknowledged.len(),
            listed.len()
        );
        let mut last: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (at, node, offsets) in &listed {
            for (key, &offset) in offsets {
                let before = last
                    .insert((node.clone(), key.clone()), offset)
                    .unwrap_or(0);
                assert!(
                    offset >= before,
                    "{id}: {node} listed {key} at {offset} after {before}"
                );
                let floor = acknowledged
                    .iter()
                    .filter(|(t, _, _)| *t + secs(1) <= *at)
                    .filter_map(|(_, _, o)| o.get(key))
                    .max()
                    .copied()
                    .unwrap_or(0);
                assert!(
                    offset >= floor,
                    "{id}: {node} listed {key} at {offset} at {at:?}, under the {floor} committed a second before"
                );
            }
        }
    }
}

/// Once clients stop sending, replication goes quiet: during the recovery (no client
/// traffic) nodes stop talking after a second.
#[test]
fn an_idle_cluster_stops_replicating() {
    let out = fault_free("5c", 1);
    let (from, until) = (out.main_end() + secs(1), out.main_end() + secs(9));
    let chatter: Vec<&Message> = out.gossip_since(from).filter(|m| m.at < until).collect();
    assert!(chatter.is_empty(), "{chatter:#?}");
}

/// Replicated offsets are Lamport stamps `L × N + i`: the answering node's index in the
/// low part, growing at each node, and above every offset the node had surely heard of:
/// a send invoked a second after another one was acknowledged gets a greater offset.
#[test]
fn replicated_offsets_are_lamport_stamps() {
    for seed in SEEDS {
        let out = fault_free("5c", seed);
        let mut sends: Vec<(std::time::Duration, std::time::Duration, usize, u64)> = Vec::new();
        for (invoke, done) in out.operations() {
            let Some(done) = done.filter(|d| d.kind == OpType::Ok && invoke.f == "send") else {
                continue;
            };
            let node = invoke.node.as_deref().unwrap_or_default();
            let index: usize = node.trim_start_matches('n').parse().expect("node ids nK");
            let offset = done.value["offset"].as_u64().expect("integer offsets");
            assert_eq!(
                offset % 2,
                index as u64,
                "seed {seed}: {offset} from {node}"
            );
            let at = |op: &glomers_simkit::history::Op| std::time::Duration::from_nanos(op.time);
            sends.push((at(invoke), at(done), index, offset));
        }
        assert!(sends.len() > 500, "seed {seed}: {} sends", sends.len());
        let mut last = [0u64; 2];
        for &(_, _, index, offset) in &sends {
            assert!(
                offset > last[index],
                "seed {seed}: n{index} went back to {offset}"
            );
            last[index] = offset;
        }
        let mut by_completion: Vec<(std::time::Duration, u64)> =
            sends.iter().map(|s| (s.1, s.3)).collect();
        by_completion.sort();
        let (mut heard, mut highest) = (0, 0);
        for &(invoked, _, index, offset) in &sends {
            while heard < by_completion.len() && by_completion[heard].0 + secs(1) <= invoked {
                highest = highest.max(by_completion[heard].1);
                heard += 1;
            }
            assert!(
                offset > highest,
                "seed {seed}: n{index} gave {offset}, not above {highest} acknowledged a second before"
            );
        }
    }
}
