//! Tests of the txn family through its message interface on one node: replies, merges of
//! replication messages, replication rounds. Clusters (read-committed under partitions,
//! convergence, relaying, atomic visibility on replicas) are tested on the deterministic
//! driver in `handlers/tests/txn.rs`.

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
