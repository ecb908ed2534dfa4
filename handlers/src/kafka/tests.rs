//! One node of each kafka mode: the client protocol, replicated mode's Lamport offsets
//! and watermark, lin-kv mode against the bench's own lin-kv state machine
//! ([`ServedNode`]) with lost replies, and refusals of absurd peer messages (fuzzer
//! findings). Clusters (5a–5c under the workload's checker, partitions, dense offsets,
//! commits spreading, quiet when idle) are tested on the deterministic driver in
//! `handlers/tests/kafka.rs`.

use std::time::Duration;

use glomers_runtime::testkit::TestNode;
use serde_json::{json, Value};

use super::*;
use crate::served_node::ServedNode;

fn settings(mode: Mode) -> Settings {
    Settings {
        mode,
        ..Settings::default()
    }
}

fn node(mode: Mode, id: &str, ids: &[&str]) -> TestNode {
    let mut n = TestNode::with("kafka", Kafka::new(settings(mode)));
    n.init(id, ids);
    n
}

/// The body of `node`'s answer to the client request `body`.
fn ask(node: &mut TestNode, body: Value) -> Value {
    let out = node.request("c1", body);
    let reply = out
        .iter()
        .find(|m| m["dest"] == "c1")
        .expect("answered at once");
    reply["body"].clone()
}

#[test]
fn replicated_offsets_are_lamport_stamps_and_polls_wait_for_the_watermark() {
    let mut n0 = node(Mode::Replicated, "n0", &["n0", "n1"]);
    let sent = ask(
        &mut n0,
        json!({"type": "send", "msg_id": 1, "key": "k", "msg": 1}),
    );
    // Clock 1, 2 nodes, index 0.
    assert_eq!(sent["offset"], 2);
    // Until n1 promises never to stamp below it, n1 might still store offset 1.
    let polled = ask(
        &mut n0,
        json!({"type": "poll", "msg_id": 2, "offsets": {"k": 0}}),
    );
    assert_eq!(polled["msgs"], json!({}));
    // n0's batch to n1 carries the message; n1's acknowledgement carries its clock.
    let batch = n0.advance(Duration::from_millis(100));
    assert_eq!(batch.len(), 1, "{batch:?}");
    assert_eq!(batch[0]["body"]["type"], "kafka_repl");
    let mut n1 = node(Mode::Replicated, "n1", &["n0", "n1"]);
    let ack = n1.deliver(batch[0].clone());
    assert_eq!(ack[0]["body"]["type"], "kafka_repl_ok", "{ack:?}");
    n0.deliver(ack[0].clone());
    for n in [&mut n0, &mut n1] {
        let polled = ask(n, json!({"type": "poll", "msg_id": 3, "offsets": {"k": 0}}));
        assert_eq!(polled["msgs"], json!({"k": [[2, 1]]}));
    }
    // n1 heard clock 1, so its next stamp is 2: offset 2 × 2 + 1.
    let sent = ask(
        &mut n1,
        json!({"type": "send", "msg_id": 4, "key": "k", "msg": 2}),
    );
    assert_eq!(sent["offset"], 5);
}

#[test]
fn commits_only_grow() {
    let mut n = node(Mode::Replicated, "n0", &["n0"]);
    let ok = ask(
        &mut n,
        json!({"type": "commit_offsets", "msg_id": 1, "offsets": {"a": 5, "b": 2}}),
    );
    assert_eq!(ok, json!({"type": "commit_offsets_ok", "in_reply_to": 1}));
    ask(
        &mut n,
        json!({"type": "commit_offsets", "msg_id": 2, "offsets": {"a": 3}}),
    );
    let listed = ask(
        &mut n,
        json!({"type": "list_committed_offsets", "msg_id": 3, "keys": ["a", "b", "zz"]}),
    );
    assert_eq!(
        listed,
        json!({"type": "list_committed_offsets_ok", "in_reply_to": 3, "offsets": {"a": 5, "b": 2}})
    );
}

#[test]
fn non_integer_messages_are_stored_verbatim() {
    let mut n = node(Mode::Replicated, "n0", &["n0"]);
    let sent = ask(
        &mut n,
        json!({"type": "send", "msg_id": 1, "key": "k", "msg": {"x": [1, "y"]}}),
    );
    let polled = ask(
        &mut n,
        json!({"type": "poll", "msg_id": 2, "offsets": {"k": 0}}),
    );
    assert_eq!(
        polled["msgs"],
        json!({"k": [[sent["offset"], {"x": [1, "y"]}]]})
    );
}

#[test]
fn malformed_requests_get_code_12() {
    let mut n = node(Mode::Replicated, "n0", &["n0"]);
    let r = ask(
        &mut n,
        json!({"type": "send", "msg_id": 1, "key": 5, "msg": 1}),
    );
    assert_eq!(r["code"], 12);
    let r = ask(&mut n, json!({"type": "poll", "msg_id": 2}));
    assert_eq!(r["code"], 12);
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

/// One lin-kv mode node alone, answered by lin-kv.
fn lin_kv_node() -> ServedNode {
    let n = TestNode::with("kafka", Kafka::new(settings(Mode::LinKv)));
    ServedNode::new(n, "n0", &["n0"], "lin-kv")
}

#[test]
fn lin_kv_sends_claim_consecutive_offsets() {
    let mut w = lin_kv_node();
    let a = w.request(json!({"type": "send", "key": "k", "msg": 7}));
    let b = w.request(json!({"type": "send", "key": "k", "msg": 8}));
    w.run(Duration::from_millis(100));
    assert_eq!(w.reply(a).unwrap()["offset"], 0);
    assert_eq!(w.reply(b).unwrap()["offset"], 1);
}

#[test]
fn lin_kv_lost_claim_reply_is_settled_by_reading_the_slot() {
    let mut w = lin_kv_node();
    let mut lost = false;
    w.lose = Box::new(move |m| {
        let first_cas_ok = !lost && m["src"] == "lin-kv" && m["body"]["type"] == "cas_ok";
        lost |= first_cas_ok;
        first_cas_ok
    });
    let a = w.request(json!({"type": "send", "key": "k", "msg": 7}));
    w.run(Duration::from_millis(1500));
    assert_eq!(
        w.reply(a),
        Some(&json!({"type": "send_ok", "offset": 0, "in_reply_to": a}))
    );
    let b = w.request(json!({"type": "send", "key": "k", "msg": 8}));
    w.run(Duration::from_millis(100));
    assert_eq!(w.reply(b).unwrap()["offset"], 1);
    let p = w.request(json!({"type": "poll", "offsets": {"k": 0}}));
    assert_eq!(w.reply(p).unwrap()["msgs"], json!({"k": [[0, 7], [1, 8]]}));
}

#[test]
fn lin_kv_unsettled_sends_get_an_indefinite_error_in_time() {
    let mut w = lin_kv_node();
    // The service never answers: every claim is in doubt.
    w.lose = Box::new(|m| m["src"] == "lin-kv");
    let a = w.request(json!({"type": "send", "key": "k", "msg": 7}));
    w.run(Duration::from_millis(4500));
    let r = w
        .reply(a)
        .expect("answered before the client's 5 s timeout");
    assert_eq!(r["type"], "error");
    assert_eq!(r["code"], 0, "indefinite: the claim may have landed");
}

// Fuzzer finding: a peer's batch or acknowledgement with clock u64::MAX raised this
// node's Lamport clock so far that its offsets saturated: two sends to one key got the
// same offset, and the second message was acknowledged but never stored.
#[test]
fn a_peer_clock_beyond_the_limit_is_refused_and_offsets_stay_unique() {
    let mut n = node(Mode::Replicated, "n0", &["n0", "n1"]);
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
    let mut n = node(Mode::LinKv, "n0", &["n0", "n1"]);
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
