//! Tests of the txn family through its message interface, on one node and on a small
//! in-test cluster with a virtual clock, partitions, duplication and reordering.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use glomers_runtime::testkit::TestNode;
use serde_json::{json, Value};

use super::*;

const TICK: Duration = Duration::from_millis(100);

fn settings() -> TxnSettings {
    TxnSettings {
        sync_interval: TICK,
        quiet_backoff: Duration::from_millis(1000),
    }
}

fn node(id: &str, ids: &[&str]) -> TestNode {
    let mut n = TestNode::with("txn", Txn::new(settings()));
    n.init(id, ids);
    n
}

// ---------------------------------------------------------------- single node (6a)

#[test]
fn reply_has_exactly_type_in_reply_to_and_txn() {
    let mut n = node("n0", &["n0"]);
    let out = n.request(
        "c4",
        json!({"type": "txn", "msg_id": 3, "txn": [["r", 1, null], ["w", 1, 6], ["r", 1, null]]}),
    );
    assert_eq!(
        out,
        vec![json!({"src": "n0", "dest": "c4", "body": {
            "type": "txn_ok", "in_reply_to": 3,
            "txn": [["r", 1, null], ["w", 1, 6], ["r", 1, 6]]}})]
    );
}

#[test]
fn later_transactions_see_earlier_ones_and_unwritten_keys_read_null() {
    let mut n = node("n0", &["n0"]);
    n.request(
        "c4",
        json!({"type": "txn", "msg_id": 1, "txn": [["w", 1, 1], ["w", 2, 1], ["w", 1, 2]]}),
    );
    let out = n.request(
        "c5",
        json!({"type": "txn", "msg_id": 1, "txn": [["r", 1, null], ["r", 2, null], ["r", 3, null]]}),
    );
    assert_eq!(
        out[0]["body"]["txn"],
        json!([["r", 1, 2], ["r", 2, 1], ["r", 3, null]])
    );
}

#[test]
fn empty_transaction_is_answered_with_an_empty_list() {
    let mut n = node("n0", &["n0"]);
    let out = n.request("c4", json!({"type": "txn", "msg_id": 9, "txn": []}));
    assert_eq!(
        out[0]["body"],
        json!({"type": "txn_ok", "in_reply_to": 9, "txn": []})
    );
}

#[test]
fn malformed_transaction_is_rejected_without_effect() {
    let mut n = node("n0", &["n0"]);
    let out = n.request(
        "c4",
        json!({"type": "txn", "msg_id": 2, "txn": [["w", 1, 5], ["cas", 1, 6]]}),
    );
    assert_eq!(out[0]["body"]["type"], "error");
    assert_eq!(out[0]["body"]["code"], 12);
    let out = n.request(
        "c4",
        json!({"type": "txn", "msg_id": 3, "txn": [["r", 1, null]]}),
    );
    assert_eq!(out[0]["body"]["txn"], json!([["r", 1, null]]));
}

#[test]
fn single_node_never_sends_anything_but_replies() {
    let mut n = node("n0", &["n0"]);
    n.request(
        "c4",
        json!({"type": "txn", "msg_id": 1, "txn": [["w", 1, 1]]}),
    );
    assert!(n.advance(Duration::from_secs(5)).is_empty());
}

// ---------------------------------------------------------------- replica merge

fn sync(src: &str, dest: &str, upto: u64, ack: u64, writes: Value) -> Value {
    json!({"src": src, "dest": dest, "body": {
        "type": "txn_sync", "upto": upto, "ack": ack, "writes": writes}})
}

fn read(n: &mut TestNode, keys: &[i64]) -> Vec<Value> {
    let ops: Vec<Value> = keys.iter().map(|k| json!(["r", k, null])).collect();
    let out = n.request("c9", json!({"type": "txn", "msg_id": 1, "txn": ops}));
    let reply = out
        .iter()
        .find(|m| m["dest"] == "c9")
        .expect("a reply to the client");
    reply["body"]["txn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op[2].clone())
        .collect()
}

#[test]
fn a_replicated_write_set_becomes_visible_in_one_step() {
    let mut n1 = node("n1", &["n0", "n1"]);
    assert_eq!(read(&mut n1, &[1, 2, 3]), vec![Value::Null; 3]);
    // One transaction of n0 (index 0) wrote keys 1, 2 and 3 at Lamport time 4.
    n1.deliver(sync(
        "n0",
        "n1",
        3,
        0,
        json!([[1, 10, 4, 0], [2, 20, 4, 0], [3, 30, 4, 0]]),
    ));
    assert_eq!(
        read(&mut n1, &[1, 2, 3]),
        vec![json!(10), json!(20), json!(30)]
    );
}

#[test]
fn merge_keeps_the_greater_stamp_whatever_the_arrival_order() {
    let older = json!([[1, 10, 4, 0], [2, 20, 4, 0]]);
    let newer = json!([[1, 11, 5, 0]]);
    let tie_low = json!([[2, 21, 6, 0]]);
    let tie_high = json!([[2, 22, 6, 2]]);
    let msgs = [older, newer, tie_low, tie_high];
    let orders: [[usize; 4]; 4] = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]];
    for order in orders {
        let mut n1 = node("n1", &["n0", "n1", "n2"]);
        for i in order {
            // Every message twice: duplicates change nothing.
            for _ in 0..2 {
                n1.deliver(sync("n0", "n1", 1, 0, msgs[i].clone()));
            }
        }
        assert_eq!(
            read(&mut n1, &[1, 2]),
            vec![json!(11), json!(22)],
            "order {order:?}"
        );
    }
}

#[test]
fn local_writes_win_over_everything_merged_before_them() {
    let mut n1 = node("n1", &["n0", "n1"]);
    n1.deliver(sync("n0", "n1", 1, 0, json!([[1, 10, 40, 0]])));
    n1.request(
        "c4",
        json!({"type": "txn", "msg_id": 1, "txn": [["w", 1, 99]]}),
    );
    assert_eq!(read(&mut n1, &[1]), vec![json!(99)]);
    // The node's own write carries Lamport 41 > 40 and it goes out that way.
    let out = n1.advance(TICK);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["dest"], "n0");
    assert_eq!(out[0]["body"]["writes"], json!([[1, 99, 41, 1]]));
    // And it acknowledges what n0 sent.
    assert_eq!(out[0]["body"]["ack"], 1);
}

#[test]
fn sync_from_a_stranger_is_ignored() {
    let mut n1 = node("n1", &["n0", "n1"]);
    n1.deliver(sync("n7", "n1", 1, 0, json!([[1, 10, 4, 0]])));
    assert_eq!(read(&mut n1, &[1]), vec![Value::Null]);
}

// ---------------------------------------------------------------- replication rounds

#[test]
fn rounds_resend_until_acknowledged_then_go_quiet() {
    let mut n0 = node("n0", &["n0", "n1"]);
    assert!(n0.advance(TICK * 5).is_empty(), "idle nodes send nothing");
    n0.request(
        "c4",
        json!({"type": "txn", "msg_id": 1, "txn": [["w", 1, 1], ["w", 2, 1]]}),
    );
    let first = n0.advance(TICK);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["body"]["writes"].as_array().unwrap().len(), 2);
    // Unacknowledged (lost): the same writes go again next round.
    let second = n0.advance(TICK);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["body"]["writes"], first[0]["body"]["writes"]);
    let upto = second[0]["body"]["upto"].as_u64().unwrap();
    // n1 acknowledges without writes of its own: nothing more to send.
    n0.deliver(sync("n1", "n0", 0, upto, json!([])));
    assert!(n0.advance(TICK * 5).is_empty());
    // A later transaction sends only the newer change.
    n0.request(
        "c4",
        json!({"type": "txn", "msg_id": 2, "txn": [["w", 2, 2]]}),
    );
    let third = n0.advance(TICK);
    assert_eq!(third[0]["body"]["writes"].as_array().unwrap().len(), 1);
    assert_eq!(third[0]["body"]["writes"][0][1], 2);
}

#[test]
fn peers_own_writes_are_not_echoed_back() {
    let mut n1 = node("n1", &["n0", "n1"]);
    n1.deliver(sync(
        "n0",
        "n1",
        2,
        0,
        json!([[1, 10, 4, 0], [2, 20, 4, 0]]),
    ));
    let out = n1.advance(TICK);
    // Only an acknowledgement goes back, once.
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["body"]["writes"], json!([]));
    assert_eq!(out[0]["body"]["ack"], 2);
    assert!(n1.advance(TICK * 5).is_empty());
}

#[test]
fn a_silent_peer_is_probed_at_the_backoff_period_not_every_round() {
    let mut n0 = node("n0", &["n0", "n1"]);
    n0.advance(Duration::from_secs(2));
    n0.request(
        "c4",
        json!({"type": "txn", "msg_id": 1, "txn": [["w", 1, 1]]}),
    );
    let mut sent = 0;
    for _ in 0..30 {
        sent += n0.advance(TICK).len();
    }
    // Three seconds of rounds, one probe per second instead of thirty messages.
    assert!((2..=4).contains(&sent), "sent {sent}");
    // Once the peer speaks again, rounds resume at full rate.
    n0.deliver(sync("n1", "n0", 0, 0, json!([])));
    let mut sent = 0;
    for _ in 0..5 {
        sent += n0.advance(TICK).len();
    }
    assert_eq!(sent, 5);
}

#[test]
fn config_keys_are_read_and_checked() {
    use glomers_runtime::config::Config;
    let ok = Config::parse(
        "t.toml",
        "[txn]\nsync_interval_ms = 50\nquiet_peer_backoff_ms = 500\n",
    )
    .unwrap();
    let mut s = ok.section("txn");
    assert!(build(&mut s).is_ok());
    assert!(s.finish().is_ok());
    let bad = Config::parse("t.toml", "[txn]\nsync_interval_ms = 0\n").unwrap();
    let err = build(&mut bad.section("txn")).err().unwrap();
    assert_eq!(err.key, "txn.sync_interval_ms");
    let typo = Config::parse("t.toml", "[txn]\nsync_intervall_ms = 5\n").unwrap();
    let mut s = typo.section("txn");
    assert!(build(&mut s).is_ok());
    assert!(s.finish().is_err());
}

// ---------------------------------------------------------------- in-test cluster

/// A deterministic pseudo-random source (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How the in-test network mistreats node-to-node messages.
#[derive(Clone, Copy, Default)]
struct Faults {
    duplicate: bool,
    reorder: bool,
}

/// Several txn nodes joined by a network the test controls.
struct Cluster {
    ids: Vec<String>,
    nodes: Vec<TestNode>,
    in_flight: Vec<Value>,
    /// (src, dest) pairs whose messages are dropped.
    cut: HashSet<(String, String)>,
    faults: Faults,
    rng: Rng,
    next_msg_id: u64,
    sent: usize,
}

/// One completed transaction as a client saw it.
#[derive(Clone, Debug)]
struct Done {
    node: usize,
    ops: Vec<Value>,
}

impl Cluster {
    fn new(count: usize, faults: Faults, seed: u64) -> Cluster {
        let ids: Vec<String> = (0..count).map(|i| format!("n{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let nodes = ids.iter().map(|id| node(id, &refs)).collect();
        Cluster {
            ids,
            nodes,
            in_flight: Vec::new(),
            cut: HashSet::new(),
            faults,
            rng: Rng(seed | 1),
            next_msg_id: 1,
            sent: 0,
        }
    }

    fn route(&mut self, out: Vec<Value>) -> Option<Value> {
        let mut reply = None;
        for m in out {
            if m["dest"].as_str().is_some_and(|d| d.starts_with('c')) {
                reply = Some(m);
            } else {
                self.sent += 1;
                self.in_flight.push(m);
            }
        }
        reply
    }

    fn txn(&mut self, node: usize, ops: Value) -> Done {
        self.next_msg_id += 1;
        let out = self.nodes[node].request(
            "c1",
            json!({"type": "txn", "msg_id": self.next_msg_id, "txn": ops}),
        );
        let reply = self.route(out).expect("every txn is answered at once");
        assert_eq!(reply["body"]["type"], "txn_ok", "{reply}");
        let ops = reply["body"]["txn"].as_array().unwrap().clone();
        Done { node, ops }
    }

    fn read_all(&mut self, node: usize, keys: &[i64]) -> Vec<Value> {
        let ops: Vec<Value> = keys.iter().map(|k| json!(["r", k, null])).collect();
        let done = self.txn(node, Value::Array(ops));
        done.ops.iter().map(|op| op[2].clone()).collect()
    }

    /// Delivers what is in flight (as the faults dictate), then moves every clock by `dt`.
    fn step(&mut self, dt: Duration) {
        let mut batch = std::mem::take(&mut self.in_flight);
        if self.faults.duplicate {
            let copies: Vec<Value> = batch.clone();
            batch.extend(copies);
        }
        if self.faults.reorder {
            for i in (1..batch.len()).rev() {
                let j = self.rng.below(i as u64 + 1) as usize;
                batch.swap(i, j);
            }
        }
        for m in batch {
            let (src, dest) = (
                m["src"].as_str().unwrap().to_string(),
                m["dest"].as_str().unwrap().to_string(),
            );
            if self.cut.contains(&(src, dest.clone())) {
                continue;
            }
            let idx = self.ids.iter().position(|i| *i == dest).unwrap();
            let out = self.nodes[idx].deliver(m);
            self.route(out);
        }
        for i in 0..self.nodes.len() {
            let out = self.nodes[i].advance(dt);
            self.route(out);
        }
    }

    /// Cuts every link between the two groups, both ways.
    fn partition(&mut self, a: &[usize], b: &[usize]) {
        for &x in a {
            for &y in b {
                self.cut.insert((self.ids[x].clone(), self.ids[y].clone()));
                self.cut.insert((self.ids[y].clone(), self.ids[x].clone()));
            }
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
    }
}

/// A random transaction over `keys` keys in the style of Elle's generator: 1–4 micro-ops,
/// reads and writes half and half, values unique per key.
fn random_txn(rng: &mut Rng, keys: u64, next_value: &mut HashMap<u64, u64>) -> Value {
    let len = 1 + rng.below(4);
    let ops: Vec<Value> = (0..len)
        .map(|_| {
            let k = rng.below(keys);
            if rng.below(2) == 0 {
                json!(["r", k, null])
            } else {
                let v = next_value.entry(k).or_insert(0);
                *v += 1;
                json!(["w", k, *v])
            }
        })
        .collect();
    Value::Array(ops)
}

/// Runs a random workload on `cluster` for `rounds` rounds of 10 ms, with `per_round`
/// transactions per round, calling `each_round` before each round.
fn workload(
    cluster: &mut Cluster,
    rng: &mut Rng,
    keys: u64,
    rounds: usize,
    per_round: usize,
    mut each_round: impl FnMut(&mut Cluster, usize),
) -> Vec<Done> {
    let mut next_value = HashMap::new();
    let mut history = Vec::new();
    for r in 0..rounds {
        each_round(cluster, r);
        for _ in 0..per_round {
            let node = rng.below(cluster.nodes.len() as u64) as usize;
            let ops = random_txn(rng, keys, &mut next_value);
            history.push(cluster.txn(node, ops));
        }
        cluster.step(Duration::from_millis(10));
    }
    history
}

/// Lets replication run for `secs` seconds with no client traffic.
fn settle(cluster: &mut Cluster, secs: u64) {
    for _ in 0..secs * 10 {
        cluster.step(TICK);
    }
}

fn all_replicas_agree(cluster: &mut Cluster, keys: u64) -> Vec<Value> {
    let keys: Vec<i64> = (0..keys as i64).collect();
    let first = cluster.read_all(0, &keys);
    for n in 1..cluster.nodes.len() {
        assert_eq!(cluster.read_all(n, &keys), first, "n{n} differs from n0");
    }
    first
}

/// Read-committed checks in the spirit of Elle's rw-register analysis: values are unique
/// per key, so every read names the transaction that wrote it.
/// - G1b: no read of another transaction's non-final write to a key;
/// - G1c: no cycle of write-read (reader saw writer's value) and write-write (a
///   transaction read a value and then overwrote it) dependencies.
///
/// Also returns how many distinct writer transactions reads observed, so tests can tell
/// the workload really exchanged data.
fn check_read_committed(history: &[Done]) -> usize {
    let mut final_writer: HashMap<(String, String), usize> = HashMap::new();
    let mut intermediate: HashMap<(String, String), usize> = HashMap::new();
    for (t, done) in history.iter().enumerate() {
        let mut last: BTreeMap<String, String> = BTreeMap::new();
        for op in &done.ops {
            if op[0] == "w" {
                let (k, v) = (op[1].to_string(), op[2].to_string());
                if let Some(prev) = last.insert(k.clone(), v) {
                    intermediate.insert((k, prev), t);
                }
            }
        }
        for (k, v) in last {
            assert!(
                final_writer.insert((k, v), t).is_none(),
                "values are unique"
            );
        }
    }
    let mut edges: Vec<HashSet<usize>> = vec![HashSet::new(); history.len()];
    let mut observed = HashSet::new();
    for (t, done) in history.iter().enumerate() {
        let mut own: HashMap<String, String> = HashMap::new();
        let mut read_before_write: HashMap<String, String> = HashMap::new();
        for op in &done.ops {
            let (k, v) = (op[1].to_string(), op[2].to_string());
            if op[0] == "w" {
                own.insert(k.clone(), v);
                if let Some(seen) = read_before_write.remove(&k) {
                    // ww: the writer of what we read precedes us.
                    if let Some(&w) = final_writer.get(&(k, seen)) {
                        if w != t {
                            edges[w].insert(t);
                        }
                    }
                }
                continue;
            }
            if own.get(&k) == Some(&v) {
                continue;
            }
            assert!(
                !own.contains_key(&k),
                "internal: T{t} read {k}={v} after its own write"
            );
            if op[2].is_null() {
                read_before_write.insert(k, v);
                continue;
            }
            if let Some(&w) = intermediate.get(&(k.clone(), v.clone())) {
                panic!(
                    "G1b: T{t} on n{} read {k}={v}, an intermediate write of T{w}",
                    done.node
                );
            }
            let w = *final_writer
                .get(&(k.clone(), v.clone()))
                .unwrap_or_else(|| panic!("T{t} read {k}={v}, which nobody wrote"));
            observed.insert(w);
            edges[w].insert(t);
            read_before_write.insert(k, v);
        }
    }
    // Cycle search: iterative DFS with colours.
    let mut colour = vec![0u8; history.len()];
    for start in 0..history.len() {
        if colour[start] != 0 {
            continue;
        }
        let mut stack = vec![(start, edges[start].iter().copied().collect::<Vec<_>>())];
        colour[start] = 1;
        while let Some((v, next)) = stack.last_mut() {
            match next.pop() {
                Some(w) if colour[w] == 1 => {
                    panic!("G1c: a dependency cycle through T{w} and T{v}")
                }
                Some(w) if colour[w] == 0 => {
                    colour[w] = 1;
                    let succ = edges[w].iter().copied().collect();
                    stack.push((w, succ));
                }
                Some(_) => {}
                None => {
                    colour[*v] = 2;
                    stack.pop();
                }
            }
        }
    }
    observed.len()
}

#[test]
fn the_read_committed_checker_in_these_tests_catches_what_it_should() {
    let t = |node: usize, ops: Value| Done {
        node,
        ops: ops.as_array().unwrap().clone(),
    };
    // Intermediate read.
    let g1b = vec![
        t(0, json!([["w", 1, 1], ["w", 1, 2]])),
        t(1, json!([["r", 1, 1]])),
    ];
    assert!(std::panic::catch_unwind(|| check_read_committed(&g1b)).is_err());
    // Circular information flow: each reads the other's write.
    let g1c = vec![
        t(0, json!([["w", 1, 1], ["r", 2, 1]])),
        t(1, json!([["w", 2, 1], ["r", 1, 1]])),
    ];
    assert!(std::panic::catch_unwind(|| check_read_committed(&g1c)).is_err());
    // A lost update is allowed.
    let lost = vec![
        t(0, json!([["w", 1, 1]])),
        t(0, json!([["r", 1, 1], ["w", 1, 2]])),
        t(1, json!([["r", 1, 1], ["w", 1, 3]])),
    ];
    assert_eq!(check_read_committed(&lost), 1);
}

#[test]
fn two_nodes_stay_read_committed_and_converge_through_partitions() {
    for seed in 1..=5 {
        let mut rng = Rng(seed * 7919);
        let mut c = Cluster::new(2, Faults::default(), seed);
        let history = workload(&mut c, &mut rng, 6, 600, 4, |c, r| match r % 200 {
            50 => c.partition(&[0], &[1]),
            150 => c.heal(),
            _ => {}
        });
        let observed = check_read_committed(&history);
        assert!(
            observed > 100,
            "seed {seed}: reads saw only {observed} writers"
        );
        settle(&mut c, 2);
        let values = all_replicas_agree(&mut c, 6);
        assert!(values.iter().any(|v| !v.is_null()));
    }
}

#[test]
fn five_nodes_with_duplication_reordering_and_partitions_converge() {
    let faults = Faults {
        duplicate: true,
        reorder: true,
    };
    for seed in 1..=3 {
        let mut rng = Rng(seed * 104_729);
        let mut c = Cluster::new(5, faults, seed);
        let history = workload(&mut c, &mut rng, 10, 800, 5, |c, r| match r {
            100 => c.partition(&[0, 1], &[2, 3, 4]),
            300 => c.heal(),
            // A ring: n0 reaches n1 and n4 only, and so on.
            400 => {
                c.partition(&[0], &[2, 3]);
                c.partition(&[1], &[3, 4]);
                c.partition(&[2], &[4]);
            }
            600 => c.heal(),
            700 => c.partition(&[3], &[0, 1, 2, 4]),
            _ => {}
        });
        check_read_committed(&history);
        c.heal();
        settle(&mut c, 3);
        all_replicas_agree(&mut c, 10);
    }
}

#[test]
fn a_write_that_read_another_nodes_value_wins_over_it_everywhere() {
    // n0 has run many transactions, so its Lamport clock is far ahead of n1's. n1 reads
    // n0's value of key 1 and overwrites it: that write causally follows and must win on
    // every replica, however busy n0 was.
    let mut c = Cluster::new(3, Faults::default(), 1);
    for v in 1..=50 {
        c.txn(0, json!([["w", 2, v]]));
    }
    c.txn(0, json!([["w", 1, 1]]));
    settle(&mut c, 1);
    let done = c.txn(1, json!([["r", 1, null], ["w", 1, 2]]));
    assert_eq!(done.ops[0][2], 1);
    settle(&mut c, 1);
    for n in 0..3 {
        assert_eq!(c.read_all(n, &[1]), vec![json!(2)], "n{n}");
    }
}

#[test]
fn writes_made_during_a_partition_reach_everyone_after_it_heals() {
    for faults in [
        Faults::default(),
        Faults {
            duplicate: true,
            reorder: true,
        },
    ] {
        let mut c = Cluster::new(4, faults, 11);
        c.partition(&[0, 1], &[2, 3]);
        // Each side writes its own keys, and a key both sides write (the higher stamp
        // wins everywhere: n2's, written after more local transactions).
        c.txn(0, json!([["w", 10, 1], ["w", 11, 1]]));
        c.txn(1, json!([["w", 12, 1], ["w", 50, 1]]));
        c.txn(2, json!([["w", 20, 1]]));
        c.txn(2, json!([["w", 21, 1], ["w", 50, 2]]));
        settle(&mut c, 5);
        assert_eq!(
            c.read_all(0, &[10, 20, 50]),
            vec![json!(1), Value::Null, json!(1)]
        );
        assert_eq!(
            c.read_all(3, &[10, 20, 50]),
            vec![Value::Null, json!(1), json!(2)]
        );
        c.heal();
        // Later traffic on other keys only: the partition-era writes must be resent.
        c.txn(3, json!([["w", 30, 1]]));
        settle(&mut c, 3);
        let keys = [10, 11, 12, 20, 21, 30, 50];
        for n in 0..4 {
            assert_eq!(
                c.read_all(n, &keys),
                vec![
                    json!(1),
                    json!(1),
                    json!(1),
                    json!(1),
                    json!(1),
                    json!(1),
                    json!(2)
                ],
                "n{n}"
            );
        }
    }
}

#[test]
fn relaying_carries_writes_across_a_non_transitive_partition() {
    let mut c = Cluster::new(3, Faults::default(), 1);
    // n0 and n2 cannot talk; both can talk to n1.
    c.partition(&[0], &[2]);
    c.txn(0, json!([["w", 1, 1], ["w", 2, 1]]));
    settle(&mut c, 1);
    assert_eq!(c.read_all(2, &[1, 2]), vec![json!(1), json!(1)]);
}

#[test]
fn replicas_show_each_transaction_whole_or_superseded() {
    // n0 writes transactions that each set every key of a group to the same value, n2
    // overwrites single keys of the group, and n1 reads the group all the time.
    // Whenever n1 sees a group value v from n0's writer on some key, every other key of
    // the group shows v or something newer than v (never an older group value).
    let faults = Faults {
        duplicate: true,
        reorder: true,
    };
    let mut c = Cluster::new(3, faults, 42);
    let mut rng = Rng(99);
    // n2's writes reach n1 only through n0, which must pass them on together with the
    // group writes they overwrite.
    let cut_n1_n2 = |c: &mut Cluster| c.partition(&[1], &[2]);
    cut_n1_n2(&mut c);
    let group: Vec<i64> = vec![0, 1, 2, 3];
    // Values: n0's group write number g is 1000 + g; n2's single writes are 2000 + n.
    let mut solo = 0;
    let mut checked = 0;
    for (round, group_no) in (0..600).zip(1..) {
        if round % 150 == 40 {
            c.partition(&[1], &[0]);
        }
        if round % 150 == 90 {
            c.heal();
            cut_n1_n2(&mut c);
        }
        let ops: Vec<Value> = group
            .iter()
            .map(|k| json!(["w", k, 1000 + group_no]))
            .collect();
        c.txn(0, Value::Array(ops));
        if rng.below(3) == 0 {
            // Busy work on another key moves n2's clock ahead of n0's, so its single
            // write wins over n0's latest group writes for a while.
            for _ in 0..20 {
                solo += 1;
                c.txn(2, json!([["w", 99, solo]]));
            }
            c.txn(2, json!([["w", rng.below(4), 2000 + solo]]));
        }
        let seen = c.read_all(1, &group);
        let group_values: Vec<i64> = seen
            .iter()
            .filter_map(Value::as_i64)
            .filter(|v| (1000..2000).contains(v))
            .collect();
        if let (Some(lo), Some(hi)) = (group_values.iter().min(), group_values.iter().max()) {
            assert_eq!(lo, hi, "round {round}: n1 saw a fractured group {seen:?}");
            checked += 1;
        }
        c.step(Duration::from_millis(if round % 3 == 0 { 100 } else { 10 }));
    }
    assert!(checked > 300, "only {checked} reads saw group writes");
}

#[test]
fn replication_is_batched_one_message_per_peer_per_round() {
    let mut c = Cluster::new(2, Faults::default(), 3);
    let mut rng = Rng(5);
    // 100 transactions per 100 ms round on two nodes for 5 s.
    let history = workload(&mut c, &mut rng, 10, 500, 10, |_, _| {});
    let txns = history.len();
    let per_op = c.sent as f64 / txns as f64;
    // At most one message per direction per round: 2 × 50 rounds for 5000 transactions.
    assert!(
        c.sent <= 2 * 51,
        "{} messages for {txns} transactions",
        c.sent
    );
    assert!(per_op < 0.05, "{per_op} messages per transaction");
}

// Fuzzer finding (in a build with overflow checks): a txn_sync write stamped with
// lamport u64::MAX left no greater stamp for the node's next transaction: its clock
// overflowed (a crash, error 13) or, in release builds, wrapped, and the node's own
// writes lost to the stale one.
#[test]
fn a_lamport_time_beyond_the_limit_is_refused() {
    let mut n = node("n0", &["n0", "n1"]);
    let out = n.deliver(
        json!({"src": "n1", "dest": "n0", "body": {"type": "txn_sync",
        "msg_id": 4, "upto": 1, "ack": 0, "writes": [[3, 99, u64::MAX, 1]]}}),
    );
    assert_eq!(out[0]["body"]["code"], 12, "{out:?}");
    n.request(
        "c1",
        json!({"type": "txn", "msg_id": 5, "txn": [["w", 3, 7]]}),
    );
    let out = n.request(
        "c1",
        json!({"type": "txn", "msg_id": 6, "txn": [["r", 3, null]]}),
    );
    assert_eq!(out[0]["body"]["txn"], json!([["r", 3, 7]]));
}
