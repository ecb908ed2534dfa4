//! End-to-end tests of the txn family (challenges 6a–6c) on real `glomers-host`
//! processes: the reply format on one node, and two nodes joined by a router in this test
//! that can cut the link between them, to see replication converge after a partition.
//! When the bench (`glomers-sim`) is built and knows txn-rw-register, the challenge
//! commands also run through it with short time limits; otherwise those tests print why
//! they were skipped.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A generous bound for a reply that should come at once (not a speed assertion).
const REPLY_WITHIN: Duration = Duration::from_secs(10);

/// Nodes running as child processes, with every line they write routed by `pump`.
struct Cluster {
    ids: Vec<String>,
    children: Vec<Child>,
    stdins: Vec<ChildStdin>,
    lines: Receiver<(usize, String)>,
    /// Replies to clients, by (client, in_reply_to).
    replies: HashMap<(String, u64), Value>,
    /// (from, to) node pairs whose messages are dropped.
    cut: HashSet<(usize, usize)>,
    next_msg_id: u64,
    node_messages: usize,
}

impl Cluster {
    fn start(count: usize, args: &[&str]) -> Cluster {
        let ids: Vec<String> = (0..count).map(|i| format!("n{i}")).collect();
        let (tx, lines) = mpsc::channel();
        let mut children = Vec::new();
        let mut stdins = Vec::new();
        for idx in 0..count {
            let mut child = common::host_command(args)
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn glomers-host");
            stdins.push(child.stdin.take().unwrap());
            let stdout = child.stdout.take().unwrap();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((idx, line)).is_err() {
                        break;
                    }
                }
            });
            children.push(child);
        }
        let mut cluster = Cluster {
            ids,
            children,
            stdins,
            lines,
            replies: HashMap::new(),
            cut: HashSet::new(),
            next_msg_id: 1,
            node_messages: 0,
        };
        for idx in 0..count {
            let init = json!({"src": format!("c{idx}"), "dest": cluster.ids[idx], "body": {
                "type": "init", "msg_id": 1, "node_id": cluster.ids[idx], "node_ids": cluster.ids}});
            cluster.write(idx, &init);
            let reply = cluster.await_reply(&format!("c{idx}"), 1);
            assert_eq!(reply["body"]["type"], "init_ok");
        }
        cluster
    }

    fn write(&mut self, idx: usize, msg: &Value) {
        let stdin = &mut self.stdins[idx];
        stdin.write_all(msg.to_string().as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Routes one line a node wrote.
    fn route(&mut self, from: usize, line: &str) {
        let msg: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("n{from} wrote a line that is not JSON ({e}): {line}"));
        let mut keys: Vec<&String> = msg.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["body", "dest", "src"], "{msg}");
        let dest = msg["dest"].as_str().unwrap().to_string();
        if let Some(to) = self.ids.iter().position(|i| *i == dest) {
            self.node_messages += 1;
            if !self.cut.contains(&(from, to)) {
                self.write(to, &msg);
            }
        } else {
            let in_reply_to = msg["body"]["in_reply_to"]
                .as_u64()
                .unwrap_or_else(|| panic!("a client message without in_reply_to: {msg}"));
            self.replies.insert((dest, in_reply_to), msg);
        }
    }

    /// Routes traffic until `deadline`.
    fn pump_until(&mut self, deadline: Instant) {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((from, line)) => self.route(from, &line),
                Err(RecvTimeoutError::Timeout) => return,
                Err(RecvTimeoutError::Disconnected) => panic!("every node exited"),
            }
        }
    }

    fn await_reply(&mut self, client: &str, msg_id: u64) -> Value {
        let deadline = Instant::now() + REPLY_WITHIN;
        loop {
            if let Some(reply) = self.replies.remove(&(client.to_string(), msg_id)) {
                return reply;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((from, line)) => self.route(from, &line),
                Err(e) => panic!("no reply from a node to {client} msg {msg_id}: {e:?}"),
            }
        }
    }

    /// Runs a transaction on node `idx` and returns the reply body.
    fn txn(&mut self, idx: usize, ops: Value) -> Value {
        self.next_msg_id += 1;
        let msg_id = self.next_msg_id;
        let client = format!("c{}", 10 + idx);
        let req = json!({"src": client, "dest": self.ids[idx],
            "body": {"type": "txn", "msg_id": msg_id, "txn": ops}});
        self.write(idx, &req);
        self.await_reply(&client, msg_id)["body"].clone()
    }

    fn read(&mut self, idx: usize, keys: &[u64]) -> Vec<Value> {
        let ops: Vec<Value> = keys.iter().map(|k| json!(["r", k, null])).collect();
        let body = self.txn(idx, Value::Array(ops));
        body["txn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|op| op[2].clone())
            .collect()
    }

    fn partition(&mut self, a: usize, b: usize) {
        self.cut.insert((a, b));
        self.cut.insert((b, a));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn single_node_answers_exactly_type_in_reply_to_and_txn() {
    for args in [&["txn.toml"][..], &[][..]] {
        let mut c = Cluster::start(1, args);
        let body = c.txn(
            0,
            json!([["r", 9, null], ["w", 9, 1], ["w", 9, 2], ["r", 9, null]]),
        );
        let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["in_reply_to", "txn", "type"], "{body} ({args:?})");
        assert_eq!(body["type"], "txn_ok");
        assert_eq!(
            body["txn"],
            json!([["r", 9, null], ["w", 9, 1], ["w", 9, 2], ["r", 9, 2]])
        );
        assert_eq!(c.read(0, &[9, 10]), vec![json!(2), Value::Null]);
        // One node has no peer: nothing but replies.
        c.pump_until(Instant::now() + Duration::from_millis(300));
        assert_eq!(c.node_messages, 0);
    }
}

#[test]
fn two_nodes_converge_after_a_partition_heals() {
    let mut c = Cluster::start(2, &["txn.toml"]);
    let keys: Vec<u64> = (0..8).collect();
    let mut written: HashMap<u64, HashSet<u64>> = HashMap::new();
    let mut next = 0;
    let mut batch = |c: &mut Cluster, txns: usize| {
        for i in 0..txns {
            let k = keys[i % keys.len()];
            next += 1;
            written.entry(k).or_default().insert(next);
            let node = i % 2;
            let body = c.txn(
                node,
                json!([["r", k, null], ["w", k, next], ["r", (k + 1) % 8, null]]),
            );
            // Every read sees null or a value some transaction wrote as its final write.
            for op in body["txn"].as_array().unwrap() {
                if op[0] == "r" && !op[2].is_null() {
                    let (rk, rv) = (op[1].as_u64().unwrap(), op[2].as_u64().unwrap());
                    assert!(written.get(&rk).is_some_and(|s| s.contains(&rv)), "{body}");
                }
            }
        }
    };
    batch(&mut c, 40);
    c.partition(0, 1);
    batch(&mut c, 40);
    // Each side wrote keys the other has not seen.
    c.txn(0, json!([["w", 100, 1]]));
    c.txn(1, json!([["w", 101, 1]]));
    c.pump_until(Instant::now() + Duration::from_millis(500));
    assert_eq!(c.read(1, &[100]), vec![Value::Null]);
    c.cut.clear();
    // Wait (bounded) until both replicas agree on every key.
    let all: Vec<u64> = (0..8).chain([100, 101]).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        c.pump_until(Instant::now() + Duration::from_millis(300));
        let (a, b) = (c.read(0, &all), c.read(1, &all));
        if a == b {
            assert_eq!(a[8..], [json!(1), json!(1)]);
            assert!(a[..8].iter().all(|v| !v.is_null()), "{a:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replicas still differ: {a:?} vs {b:?}"
        );
    }
    assert!(c.node_messages > 0);
}

// ---------------------------------------------------------------- through the bench

/// Runs one challenge command through the bench and checks that it is valid and every
/// transaction succeeded.
fn assert_valid_and_available(flags: &str) {
    let args: Vec<&str> = ["txn.toml"]
        .into_iter()
        .chain(flags.split_whitespace())
        .collect();
    // One bench run at a time: each runs several nodes at --rate 1000.
    let _one_at_a_time = common::one_bench_at_a_time();
    let run = common::run_bench(flags, &args, &[]);
    let results = run.results();
    assert_eq!(results["valid"], json!(true), "{flags}: {results:#}");
    assert_eq!(
        results["availability"]["ok_fraction"].as_f64(),
        Some(1.0),
        "{flags}: every transaction must succeed"
    );
    let per_op = &results["net"]["servers"]["msgs_per_op"];
    eprintln!("{flags}: servers msgs-per-op {per_op}");
    run.remove_store();
}

const COMMON: &str = "-w txn-rw-register --time-limit 5 --rate 1000";

#[test]
fn bench_6a_single_node() {
    assert_valid_and_available(&format!(
        "{COMMON} --node-count 1 --concurrency 2n --consistency-models read-uncommitted --availability total"
    ));
}

#[test]
fn bench_6b_read_uncommitted_with_partitions() {
    assert_valid_and_available(&format!(
        "{COMMON} --node-count 2 --concurrency 2n --consistency-models read-uncommitted --availability total --nemesis partition --nemesis-interval 1"
    ));
}

#[test]
fn bench_6c_read_committed_with_partitions() {
    assert_valid_and_available(&format!(
        "{COMMON} --node-count 2 --concurrency 2n --consistency-models read-committed --availability total --nemesis partition --nemesis-interval 1"
    ));
}
