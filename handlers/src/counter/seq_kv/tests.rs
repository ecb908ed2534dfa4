//! One node of the seq-kv mode against the bench's own seq-kv state machine
//! ([`ServedNode`]), with single requests or replies lost on purpose: batching, acknowledgement, retries and recovery from lost messages. Exact
//! final reads on several nodes with stale reads and partitions, the message budget and
//! quiet when idle are tested on the deterministic driver in `handlers/tests/counter.rs`.

use super::*;
use crate::counter::SeqKvSettings;
use crate::served_node::ServedNode;
use glomers_runtime::testkit::TestNode;
use serde_json::{json, Value};

fn node(settings: SeqKvSettings) -> TestNode {
    TestNode::with("counter", SeqKvCounter::new(settings))
}

/// Node n0 of `[n0, n1]` with seq-kv answering it.
fn served(settings: SeqKvSettings) -> ServedNode {
    ServedNode::new(node(settings), "n0", &["n0", "n1"], "seq-kv")
}

fn add(w: &mut ServedNode, delta: i64) -> u64 {
    w.request(json!({"type": "add", "delta": delta}))
}

fn read(w: &mut ServedNode) -> i64 {
    let id = w.request(json!({"type": "read"}));
    let reply = w.reply(id).expect("reads are answered at once").clone();
    assert_eq!(reply["type"], "read_ok");
    assert_eq!(
        reply.as_object().unwrap().len(),
        3,
        "type, value, in_reply_to only"
    );
    reply["value"].as_i64().expect("integer value")
}

fn own_key(w: &mut ServedNode) -> Value {
    w.stored(&contribution_key("n0"))
}

#[test]
fn adds_are_batched_and_acknowledged_only_once_stored() {
    let mut w = served(SeqKvSettings::default());
    // The first add goes out at once, alone, and is acknowledged once its cas is stored;
    // the next ones wait for flush_ms (100 ms) and share the next batch.
    let a = add(&mut w, 3);
    assert_eq!(
        w.reply(a),
        Some(&json!({"type": "add_ok", "in_reply_to": a}))
    );
    let b = add(&mut w, 4);
    let c = add(&mut w, 5);
    assert!(
        w.reply(b).is_none(),
        "no add_ok before seq-kv stored the add"
    );
    assert_eq!(own_key(&mut w), json!([3, 0]));
    w.run(Duration::from_millis(80));
    assert!(w.reply(b).is_none(), "at most one batch per flush_ms");
    w.run(Duration::from_millis(20));
    assert_eq!(w.reply(b).unwrap()["type"], "add_ok");
    assert_eq!(w.reply(c).unwrap()["type"], "add_ok");
    assert_eq!(w.service_msgs, 4, "two batches, one cas each");
    assert_eq!(own_key(&mut w), json!([12, 0]));
    assert_eq!(read(&mut w), 12);
}

#[test]
fn zero_deltas_are_acknowledged_without_any_message() {
    let mut w = served(SeqKvSettings::default());
    let a = add(&mut w, 0);
    assert_eq!(w.reply(a).unwrap()["type"], "add_ok");
    w.run(Duration::from_millis(300));
    assert_eq!(w.service_msgs, 0);
}

#[test]
fn a_lost_cas_reply_is_resolved_without_double_counting() {
    let mut w = served(SeqKvSettings::default());
    let mut lost = false;
    w.lose = Box::new(move |m| {
        let first_cas_ok = !lost && m["src"] == "seq-kv" && m["body"]["type"] == "cas_ok";
        lost |= first_cas_ok;
        first_cas_ok
    });
    let a = add(&mut w, 4);
    assert!(w.reply(a).is_none());
    w.run(Duration::from_secs(3));
    assert_eq!(w.reply(a).unwrap()["type"], "add_ok");
    assert_eq!(own_key(&mut w), json!([4, 0]));
    let b = add(&mut w, 1);
    w.run(Duration::from_millis(200));
    assert_eq!(w.reply(b).unwrap()["type"], "add_ok");
    assert_eq!(read(&mut w), 5);
    assert_eq!(own_key(&mut w), json!([5, 0]));
}

#[test]
fn a_lost_cas_request_is_retried() {
    let mut w = served(SeqKvSettings::default());
    let mut lost = false;
    w.lose = Box::new(move |m| {
        let first_cas = !lost && m["dest"] == "seq-kv" && m["body"]["type"] == "cas";
        lost |= first_cas;
        first_cas
    });
    let a = add(&mut w, 4);
    w.run(Duration::from_secs(3));
    assert_eq!(w.reply(a).unwrap()["type"], "add_ok");
    assert_eq!(own_key(&mut w), json!([4, 0]));
}

#[test]
fn a_node_that_forgot_everything_continues_from_seq_kv() {
    let mut w = served(SeqKvSettings::default());
    add(&mut w, 3);
    w.run(Duration::from_secs(1));
    // n1's contribution, written by n1 itself.
    let n1 = json!({"type": "write", "key": contribution_key("n1"), "value": [2, 0], "msg_id": 9});
    w.service_request("n1", n1);
    // Restarted with empty state, n0 finds its 3 in seq-kv.
    w.restart(node(SeqKvSettings::default()), &["n0", "n1"]);
    let a = add(&mut w, 10);
    w.run(Duration::from_secs(3));
    assert_eq!(w.reply(a).unwrap()["type"], "add_ok");
    assert_eq!(own_key(&mut w), json!([13, 0]));
    assert_eq!(read(&mut w), 15);
}

#[test]
fn acknowledged_on_receipt_adds_share_one_cas_per_flush_and_are_read_at_once() {
    let settings = SeqKvSettings {
        add_ack: AddAck::Received,
        ..SeqKvSettings::default()
    };
    let mut w = served(settings);
    let a = add(&mut w, 3);
    assert_eq!(w.reply(a).unwrap()["type"], "add_ok", "answered on receipt");
    let more: Vec<u64> = (0..5).map(|_| add(&mut w, 1)).collect();
    assert!(more.iter().all(|&id| w.reply(id).is_some()));
    // Its own acknowledged adds count in this node's reads before they are stored.
    assert_eq!(read(&mut w), 8);
    // The first add went out at once; the five others share the next batch.
    assert_eq!(own_key(&mut w), json!([3, 0]));
    w.run(Duration::from_millis(100));
    assert_eq!(own_key(&mut w), json!([8, 0]));
    assert_eq!(w.service_msgs, 4, "two batches, one cas each");
    assert_eq!(read(&mut w), 8);
}
