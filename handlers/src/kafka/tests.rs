//! Multi-node tests of both kafka modes on the in-test cluster: clients modelled on
//! Maelstrom's kafka client, partitions, duplicated and reordered messages, lost
//! service replies, and a checker for the workload's rules.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use glomers_runtime::testkit::TestNode;
use serde_json::{json, Value};

use super::*;
use crate::test_cluster::{is_node_to_node, Fate, LinKv as FakeLinKv, Net, Rng};

const STEP: Duration = Duration::from_millis(10);

fn settings(mode: Mode) -> Settings {
    Settings {
        mode,
        ..Settings::default()
    }
}

fn cluster(n: usize, seed: u64, s: Settings) -> Net {
    Net::new(n, seed, move || TestNode::with("kafka", Kafka::new(s)))
        .with_service("lin-kv", FakeLinKv::default())
}

/// A log as the checker sees it: offset → msg.
type KeyLog = BTreeMap<u64, i64>;

/// One poll's result: key → (requested offset, returned pairs).
type PollResult = Vec<(String, u64, Vec<(u64, i64)>)>;

/// Clients and what they observed.
struct Workload {
    net: Net,
    /// Per process: its node and its next offset per key.
    procs: Vec<(String, BTreeMap<String, u64>)>,
    /// Acknowledged sends: (process, key, offset, msg).
    sends: Vec<(usize, String, u64, i64)>,
    /// Sends answered with an error: (key, msg, code).
    failed_sends: Vec<(String, i64, u64)>,
    polls: Vec<(usize, PollResult)>,
    next_msg: HashMap<String, i64>,
}

impl Workload {
    fn new(net: Net, procs_per_node: usize) -> Workload {
        let nodes: Vec<String> = net.nodes.keys().cloned().collect();
        let procs = (0..procs_per_node)
            .flat_map(|_| nodes.iter().map(|n| (n.clone(), BTreeMap::new())))
            .collect();
        Workload {
            net,
            procs,
            sends: Vec::new(),
            failed_sends: Vec::new(),
            polls: Vec::new(),
            next_msg: HashMap::new(),
        }
    }

    fn client(p: usize) -> String {
        format!("c{}", 100 + p)
    }

    /// Sends a fresh message to `key` from process `p`; returns the request id.
    fn send(&mut self, p: usize, key: &str) -> (u64, i64) {
        let m = self.next_msg.entry(key.to_string()).or_insert(0);
        *m += 1;
        let msg = *m;
        let node = self.procs[p].0.clone();
        let id = self.net.request(
            &Self::client(p),
            &node,
            json!({"type": "send", "key": key, "msg": msg}),
        );
        (id, msg)
    }

    fn collect_send(&mut self, p: usize, key: &str, id: u64, msg: i64) -> bool {
        match self.net.reply(id).cloned() {
            Some(r) if r["type"] == "send_ok" => {
                assert_eq!(
                    r.as_object().unwrap().len(),
                    3,
                    "only type, offset, in_reply_to"
                );
                let offset = r["offset"].as_u64().expect("integer offset");
                self.sends.push((p, key.to_string(), offset, msg));
                true
            }
            Some(r) => {
                let code = r["code"].as_u64().unwrap();
                self.failed_sends.push((key.to_string(), msg, code));
                true
            }
            None => false,
        }
    }

    /// Polls from process `p` with its whole offset map, like Maelstrom's client.
    fn poll(&mut self, p: usize) {
        let node = self.procs[p].0.clone();
        let offsets = self.procs[p].1.clone();
        let id = self.net.request(
            &Self::client(p),
            &node,
            json!({"type": "poll", "offsets": offsets}),
        );
        let reply = self
            .net
            .reply(id)
            .expect("polls are answered at once")
            .clone();
        assert_eq!(reply["type"], "poll_ok", "{reply}");
        assert_eq!(reply.as_object().unwrap().len(), 3);
        let mut result = Vec::new();
        for (key, pairs) in reply["msgs"].as_object().unwrap() {
            let pairs: Vec<(u64, i64)> = pairs
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_u64().unwrap(), p[1].as_i64().unwrap()))
                .collect();
            let requested = offsets.get(key).copied().unwrap_or(0);
            if let Some(last) = pairs.last() {
                self.procs[p].1.insert(key.clone(), last.0 + 1);
            }
            result.push((key.clone(), requested, pairs));
        }
        self.polls.push((p, result));
    }

    fn assign(&mut self, p: usize, key: &str) {
        self.procs[p].1.entry(key.to_string()).or_insert(0);
    }

    /// Runs a random workload for `ops` operations, `gap` apart.
    fn run_random(&mut self, ops: usize, keys: usize, gap: Duration, rng: &mut Rng) {
        let mut waiting: Vec<(usize, String, u64, i64)> = Vec::new();
        for _ in 0..ops {
            let p = rng.range(0, self.procs.len() as u64 - 1) as usize;
            let key = format!("{}", rng.range(0, keys as u64 - 1));
            if rng.chance(0.5) {
                let (id, msg) = self.send(p, &key);
                waiting.push((p, key, id, msg));
            } else {
                self.assign(p, &key);
                self.poll(p);
            }
            self.net.run(gap, STEP);
            waiting.retain(|(p, k, id, m)| !self.collect_send_clone(*p, k, *id, *m));
        }
        self.net.run(Duration::from_secs(5), STEP);
        waiting.retain(|(p, k, id, m)| !self.collect_send_clone(*p, k, *id, *m));
        assert!(waiting.is_empty(), "sends never answered: {waiting:?}");
    }

    fn collect_send_clone(&mut self, p: usize, key: &str, id: u64, msg: i64) -> bool {
        self.collect_send(p, key, id, msg)
    }

    /// Every node's full log (a poll of every key from 0).
    fn full_logs(&mut self) -> Vec<BTreeMap<String, KeyLog>> {
        let keys: Vec<String> = self.next_msg.keys().cloned().collect();
        let offsets: BTreeMap<&str, u64> = keys.iter().map(|k| (k.as_str(), 0)).collect();
        let nodes: Vec<String> = self.net.nodes.keys().cloned().collect();
        nodes
            .iter()
            .map(|n| {
                let id = self
                    .net
                    .request("c999", n, json!({"type": "poll", "offsets": offsets}));
                let reply = self.net.reply(id).unwrap().clone();
                reply["msgs"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, pairs)| {
                        let log = pairs
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| (p[0].as_u64().unwrap(), p[1].as_i64().unwrap()))
                            .collect();
                        (k.clone(), log)
                    })
                    .collect()
            })
            .collect()
    }

    /// Checks the workload's rules against the final logs; returns them.
    fn check(&mut self) -> BTreeMap<String, KeyLog> {
        let logs = self.full_logs();
        let final_log = logs[0].clone();
        for (i, l) in logs.iter().enumerate() {
            assert_eq!(l, &final_log, "node n{i} holds a different log");
        }
        // No lost or misplaced acknowledged message.
        for (_, key, offset, msg) in &self.sends {
            assert_eq!(
                final_log.get(key).and_then(|l| l.get(offset)),
                Some(msg),
                "acknowledged send {key}:{msg}@{offset} is not in the log"
            );
        }
        // No duplicates: msgs are unique per key.
        for (key, log) in &final_log {
            let mut seen = std::collections::HashSet::new();
            for m in log.values() {
                assert!(seen.insert(m), "{key}: message {m} stored twice");
            }
        }
        // No failed (definite-error) send is ever visible.
        for (key, msg, code) in &self.failed_sends {
            let definite = matches!(code, 1 | 10 | 11 | 12 | 14 | 20 | 21 | 22 | 30);
            if definite {
                assert!(
                    !final_log
                        .get(key)
                        .is_some_and(|l| l.values().any(|m| m == msg)),
                    "send {key}:{msg} failed with definite code {code} but is stored"
                );
            }
        }
        // Every poll: a contiguous run of the final log, from the first offset at or
        // after the requested one.
        for (p, result) in &self.polls {
            for (key, requested, pairs) in result {
                let log = &final_log[key];
                let expected: Vec<(u64, i64)> = log
                    .range(requested..)
                    .take(pairs.len())
                    .map(|(o, m)| (*o, *m))
                    .collect();
                assert_eq!(
                    pairs, &expected,
                    "process {p} polled {key} from {requested}: not a run of the final log"
                );
            }
        }
        // A process's sends to a key got increasing offsets.
        let mut last: HashMap<(usize, &str), u64> = HashMap::new();
        for (p, key, offset, _) in &self.sends {
            if let Some(prev) = last.insert((*p, key.as_str()), *offset) {
                assert!(*offset > prev, "process {p}: send to {key} went back");
            }
        }
        final_log
    }
}

fn partition_fate(seed: u64, period: u64) -> Box<dyn FnMut(&Value) -> Fate> {
    let mut rng = Rng::new(seed);
    let mut count = 0u64;
    let mut isolated: Option<String> = None;
    Box::new(move |m: &Value| {
        count += 1;
        if count.is_multiple_of(period) {
            isolated = if isolated.is_some() {
                None
            } else {
                Some(format!("n{}", rng.range(0, 2)))
            };
        }
        if is_node_to_node(m) {
            if let Some(n) = &isolated {
                if m["src"] == n.as_str() || m["dest"] == n.as_str() {
                    return Fate::Drop;
                }
            }
            if rng.chance(0.05) {
                return Fate::Duplicate;
            }
        }
        Fate::Deliver
    })
}

#[test]
fn single_node_log_is_contiguous_and_complete() {
    let mut w = Workload::new(cluster(1, 1, settings(Mode::Replicated)), 2);
    let mut rng = Rng::new(1);
    w.run_random(300, 4, Duration::from_millis(5), &mut rng);
    let log = w.check();
    assert_eq!(log.values().map(|l| l.len()).sum::<usize>(), w.sends.len());
}

#[test]
fn replicated_mode_is_valid_and_available_through_partitions() {
    for seed in 0..4 {
        let mut net = cluster(3, seed, settings(Mode::Replicated));
        net.reorder = true;
        net.fate = partition_fate(seed, 400);
        let mut w = Workload::new(net, 2);
        let mut rng = Rng::new(seed);
        w.run_random(600, 5, Duration::from_millis(10), &mut rng);
        assert!(w.failed_sends.is_empty(), "replicated sends never fail");
        w.net.fate = Box::new(|_| Fate::Deliver);
        w.net.run(Duration::from_secs(3), STEP);
        w.check();
        assert_eq!(w.net.service_msgs, 0, "no service in replicated mode");
    }
}

#[test]
fn replicated_offsets_are_lamport_stamps_and_polls_wait_for_the_watermark() {
    let mut net = cluster(2, 1, settings(Mode::Replicated));
    let a = net.request("c1", "n0", json!({"type": "send", "key": "k", "msg": 1}));
    let off = net.reply(a).unwrap()["offset"].as_u64().unwrap();
    // Clock 1, 2 nodes, index 0.
    assert_eq!(off, 2);
    // Before n1 has promised anything, n0 cannot show offset 2: n1 might still store 1.
    let p = net.request("c1", "n0", json!({"type": "poll", "offsets": {"k": 0}}));
    assert_eq!(net.reply(p).unwrap()["msgs"], json!({}));
    net.run(Duration::from_millis(200), STEP);
    for n in ["n0", "n1"] {
        let p = net.request("c1", n, json!({"type": "poll", "offsets": {"k": 0}}));
        assert_eq!(net.reply(p).unwrap()["msgs"], json!({"k": [[2, 1]]}), "{n}");
    }
    let b = net.request("c2", "n1", json!({"type": "send", "key": "k", "msg": 2}));
    // n1 heard clock 1, so its next stamp is 2: offset 2 × 2 + 1.
    assert_eq!(net.reply(b).unwrap()["offset"], 5);
}

#[test]
fn an_idle_cluster_stops_replicating() {
    let mut net = cluster(3, 2, settings(Mode::Replicated));
    for i in 0..20 {
        net.request(
            "c1",
            &format!("n{}", i % 3),
            json!({"type": "send", "key": "k", "msg": i}),
        );
        net.run(Duration::from_millis(20), STEP);
    }
    net.run(Duration::from_secs(1), STEP);
    let before = net.node_msgs;
    net.run(Duration::from_secs(5), STEP);
    assert_eq!(net.node_msgs, before);
}

#[test]
fn commits_spread_and_only_grow() {
    for mode in [Mode::Replicated, Mode::LinKv] {
        let mut net = cluster(2, 3, settings(mode));
        let c = net.request(
            "c1",
            "n0",
            json!({"type": "commit_offsets", "offsets": {"a": 5, "b": 2}}),
        );
        net.run(Duration::from_millis(200), STEP);
        assert_eq!(
            net.reply(c).unwrap(),
            &json!({"type": "commit_offsets_ok", "in_reply_to": c})
        );
        let c = net.request(
            "c2",
            "n1",
            json!({"type": "commit_offsets", "offsets": {"a": 3}}),
        );
        net.run(Duration::from_millis(200), STEP);
        assert_eq!(net.reply(c).unwrap()["type"], "commit_offsets_ok");
        for n in ["n0", "n1"] {
            let l = net.request(
                "c3",
                n,
                json!({"type": "list_committed_offsets", "keys": ["a", "b", "zz"]}),
            );
            net.run(Duration::from_millis(100), STEP);
            assert_eq!(
                net.reply(l).unwrap(),
                &json!({"type": "list_committed_offsets_ok", "in_reply_to": l,
                        "offsets": {"a": 5, "b": 2}}),
                "{mode:?} {n}"
            );
        }
    }
}

#[test]
fn lin_kv_mode_gives_dense_unique_offsets_under_cas_races() {
    for seed in 0..4 {
        let mut net = cluster(2, seed, settings(Mode::LinKv));
        net.reorder = true;
        let mut w = Workload::new(net, 2);
        let mut rng = Rng::new(seed);
        w.run_random(400, 3, Duration::from_millis(2), &mut rng);
        assert!(w.failed_sends.is_empty());
        let log = w.check();
        for (key, l) in &log {
            let offsets: Vec<u64> = l.keys().copied().collect();
            let dense: Vec<u64> = (0..l.len() as u64).collect();
            assert_eq!(offsets, dense, "{key}: lin-kv offsets are dense");
        }
    }
}

#[test]
fn lin_kv_mode_is_valid_through_partitions_and_lost_service_replies() {
    for seed in 0..4 {
        let mut net = cluster(3, seed, settings(Mode::LinKv));
        let mut partition = partition_fate(seed, 300);
        let mut rng = Rng::new(seed + 50);
        net.fate = Box::new(move |m| {
            // Lose a few lin-kv replies: their requests happened, the node can't know.
            if m["src"] == "lin-kv" && rng.chance(0.03) {
                return Fate::Drop;
            }
            partition(m)
        });
        let mut w = Workload::new(net, 2);
        let mut rng = Rng::new(seed);
        w.run_random(500, 4, Duration::from_millis(10), &mut rng);
        for (_, _, code) in &w.failed_sends {
            assert_eq!(*code, 0, "only indefinite errors");
        }
        w.net.fate = Box::new(|_| Fate::Deliver);
        w.net.run(Duration::from_secs(5), STEP);
        w.check();
    }
}

#[test]
fn lin_kv_gaps_are_filled_from_the_service_while_peers_are_unreachable() {
    let mut net = cluster(2, 9, settings(Mode::LinKv));
    net.fate = Box::new(|m| {
        if is_node_to_node(m) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    let a = net.request("c1", "n0", json!({"type": "send", "key": "k", "msg": 10}));
    net.run(Duration::from_millis(50), STEP);
    assert_eq!(net.reply(a).unwrap()["offset"], 0);
    // n1 does not know slot 0 is taken; its claim fails there and lands on 1.
    let b = net.request("c2", "n1", json!({"type": "send", "key": "k", "msg": 20}));
    net.run(Duration::from_millis(50), STEP);
    assert_eq!(net.reply(b).unwrap()["offset"], 1);
    let p = net.request("c2", "n1", json!({"type": "poll", "offsets": {"k": 0}}));
    assert_eq!(
        net.reply(p).unwrap()["msgs"],
        json!({}),
        "offset 0 is not known yet"
    );
    net.run(Duration::from_millis(2500), STEP);
    let p = net.request("c2", "n1", json!({"type": "poll", "offsets": {"k": 0}}));
    assert_eq!(
        net.reply(p).unwrap()["msgs"],
        json!({"k": [[0, 10], [1, 20]]})
    );
}

#[test]
fn lin_kv_lost_claim_reply_is_settled_by_reading_the_slot() {
    let mut net = cluster(1, 4, settings(Mode::LinKv));
    let mut dropped = false;
    net.fate = Box::new(move |m| {
        if !dropped && m["src"] == "lin-kv" && m["body"]["type"] == "cas_ok" {
            dropped = true;
            return Fate::Drop;
        }
        Fate::Deliver
    });
    let a = net.request("c1", "n0", json!({"type": "send", "key": "k", "msg": 7}));
    net.run(Duration::from_millis(1500), STEP);
    assert_eq!(
        net.reply(a).unwrap(),
        &json!({"type": "send_ok", "offset": 0, "in_reply_to": a})
    );
    let b = net.request("c1", "n0", json!({"type": "send", "key": "k", "msg": 8}));
    net.run(Duration::from_millis(100), STEP);
    assert_eq!(net.reply(b).unwrap()["offset"], 1);
    let p = net.request("c1", "n0", json!({"type": "poll", "offsets": {"k": 0}}));
    assert_eq!(
        net.reply(p).unwrap()["msgs"],
        json!({"k": [[0, 7], [1, 8]]})
    );
}

#[test]
fn lin_kv_unsettled_sends_get_an_indefinite_error_in_time() {
    let mut net = cluster(1, 5, settings(Mode::LinKv));
    // The service never answers: every claim is in doubt.
    net.fate = Box::new(|m| {
        if m["src"] == "lin-kv" {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    let a = net.request("c1", "n0", json!({"type": "send", "key": "k", "msg": 7}));
    net.run(Duration::from_millis(4500), STEP);
    let r = net
        .reply(a)
        .expect("answered before the client's 5 s timeout");
    assert_eq!(r["type"], "error");
    assert_eq!(r["code"], 0, "indefinite: the claim may have landed");
}

#[test]
fn non_integer_messages_are_stored_verbatim() {
    let mut net = cluster(1, 6, settings(Mode::Replicated));
    let a = net.request(
        "c1",
        "n0",
        json!({"type": "send", "key": "k", "msg": {"x": [1, "y"]}}),
    );
    let off = net.reply(a).unwrap()["offset"].clone();
    let p = net.request("c1", "n0", json!({"type": "poll", "offsets": {"k": 0}}));
    assert_eq!(
        net.reply(p).unwrap()["msgs"],
        json!({"k": [[off, {"x": [1, "y"]}]]})
    );
}

#[test]
fn malformed_requests_get_code_12() {
    let mut net = cluster(1, 7, settings(Mode::Replicated));
    let a = net.request("c1", "n0", json!({"type": "send", "key": 5, "msg": 1}));
    assert_eq!(net.reply(a).unwrap()["code"], 12);
    let p = net.request("c1", "n0", json!({"type": "poll"}));
    assert_eq!(net.reply(p).unwrap()["code"], 12);
}

#[test]
fn config_checks_the_reply_deadline() {
    let section = |text: &str| {
        glomers_runtime::config::Config::parse("t", text)
            .unwrap()
            .section("kafka")
    };
    assert!(build(&mut section("[kafka]\nmode = \"lin-kv\"")).is_ok());
    assert!(build(&mut section(
        "[kafka]\nsend_deadline_ms = 4000\nkv_timeout_ms = 1000"
    ))
    .is_err());
    assert!(build(&mut section("[kafka]\nmode = \"owner\"")).is_err());
}

/// Batches from n1 to n0 are lost while n1's acknowledgements still reach n0: n1's
/// promises in those acknowledgements must not count before n0 has n1's messages, or
/// n0 would show a prefix that later grows below its end.
#[test]
fn promises_wait_for_the_stream_they_cover() {
    for seed in 0..3 {
        let mut net = cluster(2, seed, settings(Mode::Replicated));
        net.fate = Box::new(|m| {
            if m["src"] == "n1" && m["dest"] == "n0" && m["body"]["type"] == "kafka_repl" {
                Fate::Drop
            } else {
                Fate::Deliver
            }
        });
        let mut w = Workload::new(net, 2);
        let mut rng = Rng::new(seed);
        w.run_random(300, 2, Duration::from_millis(20), &mut rng);
        w.net.fate = Box::new(|_| Fate::Deliver);
        w.net.run(Duration::from_secs(2), STEP);
        w.check();
    }
}

// Fuzzer finding: a peer's batch or acknowledgement with clock u64::MAX raised this
// node's Lamport clock so far that its offsets saturated: two sends to one key got the
// same offset, and the second message was acknowledged but never stored.
#[test]
fn a_peer_clock_beyond_the_limit_is_refused_and_offsets_stay_unique() {
    let mut n = TestNode::with("kafka", Kafka::new(settings(Mode::Replicated)));
    n.init("n0", &["n0", "n1"]);
    let huge = replica::MAX_CLOCK + 1;
    let out = n.deliver(
        json!({"src": "n1", "dest": "n0", "body": {"type": "kafka_repl",
        "msg_id": 7, "seq": 0, "upto": 0, "end": 0, "clock": huge, "entries": {}, "commits": {}}}),
    );
    assert_eq!(out[0]["body"]["code"], 12, "{out:?}");
    let send = |n: &mut TestNode, id: u64| {
        let out = n.request(
            "c1",
            json!({"type": "send", "msg_id": id, "key": "k", "msg": id}),
        );
        out[0]["body"]["offset"].as_u64().unwrap()
    };
    let first = send(&mut n, 1);
    // The batch carrying that send, acknowledged with an absurd clock.
    let batch = n.advance(Duration::from_millis(60));
    let batch_id = batch[0]["body"]["msg_id"].clone();
    n.deliver(
        json!({"src": "n1", "dest": "n0", "body": {"type": "kafka_repl_ok",
        "in_reply_to": batch_id, "applied": 1, "end": 0, "clock": u64::MAX}}),
    );
    let second = send(&mut n, 2);
    assert!(second > first, "{first} then {second}");
    assert!(second < replica::MAX_CLOCK * 2, "{second}");
}

// Fuzzer finding (in a build with overflow checks): in lin-kv mode a peer's batch with
// an entry at offset u64::MAX made the next claim compute `offset + 1` and overflow.
#[test]
fn a_peer_offset_beyond_the_limit_is_refused() {
    let mut n = TestNode::with("kafka", Kafka::new(settings(Mode::LinKv)));
    n.init("n0", &["n0", "n1"]);
    let out = n.deliver(
        json!({"src": "n1", "dest": "n0", "body": {"type": "kafka_repl",
        "msg_id": 7, "seq": 0, "upto": 1, "end": 1, "clock": 0,
        "entries": {"k": [[u64::MAX, 5]]}, "commits": {}}}),
    );
    assert_eq!(out[0]["body"]["code"], 12, "{out:?}");
    let out = n.request(
        "c1",
        json!({"type": "send", "msg_id": 1, "key": "k", "msg": 1}),
    );
    assert_eq!(out[0]["dest"], "lin-kv", "{out:?}");
    assert_eq!(out[0]["body"]["key"], "log/0/k");
}
