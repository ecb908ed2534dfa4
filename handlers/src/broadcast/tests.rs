//! Tests of the broadcast family on one node: the client protocol, settings, a leaf's and
//! a hub's batches, and refusals. Clusters (the challenges, overlays, batching in rounds,
//! repairs, routing around a cut-off hub) are tested on the deterministic driver in
//! `handlers/tests/broadcast.rs`.

use std::time::Duration;

use glomers_runtime::config::Config;
use glomers_runtime::testkit::TestNode;
use serde_json::{json, Value};

use super::layout::Layout;
use super::settings::{Batching, Settings};
use super::Broadcast;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn node(settings: Settings) -> TestNode {
    TestNode::with("broadcast", Broadcast::new(settings))
}

fn settings(text: &str) -> Settings {
    let config = Config::parse("test.toml", &format!("[broadcast]\n{text}")).unwrap();
    let mut section = config.section("broadcast");
    let s = Settings::from_section(&mut section).unwrap();
    section.finish().unwrap();
    s
}

/// The node-to-node messages in `out` (not the replies to clients).
fn gossip(out: Vec<Value>) -> Vec<Value> {
    out.into_iter()
        .filter(|m| m["dest"].as_str().is_some_and(|d| d.starts_with('n')))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The client protocol on one node (3a).

#[test]
fn single_node_acks_reads_and_answers_topology() {
    let mut n = node(Settings::default());
    n.init("n0", &["n0"]);
    let out = n.request(
        "c1",
        json!({"type": "topology", "msg_id": 1, "topology": {"n0": []}}),
    );
    assert_eq!(
        out,
        vec![json!({"src": "n0", "dest": "c1", "body": {"type": "topology_ok", "in_reply_to": 1}})]
    );
    let out = n.request("c1", json!({"type": "read", "msg_id": 2}));
    assert_eq!(out[0]["body"]["messages"], json!([]));
    for (i, v) in [5, 3, 4, 1000, 3].into_iter().enumerate() {
        let out = n.request(
            "c2",
            json!({"type": "broadcast", "msg_id": 10 + i, "message": v}),
        );
        assert_eq!(
            out,
            vec![
                json!({"src": "n0", "dest": "c2", "body": {"type": "broadcast_ok", "in_reply_to": 10 + i}})
            ],
            "a lone node sends nothing but the reply"
        );
    }
    let out = n.request("c1", json!({"type": "read", "msg_id": 3}));
    assert_eq!(
        out[0]["body"],
        json!({"type": "read_ok", "in_reply_to": 3, "messages": [3, 4, 5, 1000]})
    );
    assert!(n.advance(ms(10_000)).is_empty(), "no gossip without peers");
}

#[test]
fn malformed_broadcast_is_rejected_with_code_12() {
    let mut n = node(Settings::default());
    n.init("n0", &["n0", "n1"]);
    for bad in [json!("x"), json!(-1), json!(1.5), Value::Null] {
        let out = n.request(
            "c1",
            json!({"type": "broadcast", "msg_id": 1, "message": bad}),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["body"]["type"], "error");
        assert_eq!(out[0]["body"]["code"], 12);
    }
    let out = n.request("c1", json!({"type": "read", "msg_id": 2}));
    assert_eq!(out[0]["body"]["messages"], json!([]));
}

#[test]
fn gossip_from_non_nodes_is_ignored_and_never_answered() {
    let mut n = node(Settings::default());
    n.init("n1", &["n0", "n1"]);
    for src in ["c4", "lin-kv", "n9"] {
        let out = n.deliver(json!({"src": src, "dest": "n1", "body": {
            "type": "bcast_gossip", "v": [7], "have": [7], "reply": true}}));
        assert!(out.is_empty(), "{src}: {out:?}");
    }
    let out = n.request("c1", json!({"type": "read", "msg_id": 2}));
    assert_eq!(out[0]["body"]["messages"], json!([]));
}

// ---------------------------------------------------------------------------------------
// Settings.

#[test]
fn settings_defaults_and_overrides() {
    assert_eq!(settings(""), Settings::default());
    let s = settings(
        "topology = \"tree\"\nfanout = 3\norigin_batch_ms = 5\nrelay_batch_ms = 7\n\
         anti_entropy_ms = 0\nretry_after_ms = 9\nrepair_grace_ms = 11\nacks = true\n",
    );
    assert_eq!(s.layout, Layout::Tree { fanout: 3 });
    assert_eq!((s.origin_batch, s.relay_batch), (ms(5), ms(7)));
    assert_eq!(s.anti_entropy, None);
    assert_eq!((s.retry_after, s.repair_grace), (ms(9), ms(11)));
    assert!(s.acks);
    assert_eq!(s.failover, Some(ms(500)));
    let s = settings(
        "batching = \"rounds\"\nround_ms = 900\nround_slack_ms = 12\nround_markers = false\n\
         failover_ms = 0",
    );
    assert_eq!(
        s.batching,
        Batching::Rounds {
            period: ms(900),
            slack: ms(12),
            markers: false
        }
    );
    assert_eq!(s.failover, None);
}

#[test]
fn settings_reject_bad_values() {
    for bad in [
        "topology = \"ring\"",
        "fanout = 0",
        "relay_batch_ms = -1",
        "retry_after_ms = 0",
        "acks = 1",
        "batching = \"lockstep\"",
        "round_ms = 100\nround_slack_ms = 100",
        "round_ms = 0",
    ] {
        let config = Config::parse("t.toml", &format!("[broadcast]\n{bad}\n")).unwrap();
        let mut section = config.section("broadcast");
        assert!(
            Settings::from_section(&mut section).is_err(),
            "{bad} should be rejected"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Batches.

#[test]
fn a_leaf_holds_its_values_for_origin_batch_ms_and_stamps_the_batch() {
    let s = settings("topology = \"star\"\norigin_batch_ms = 100\nrelay_batch_ms = 0");
    let mut leaf = node(s);
    leaf.init("n1", &["n0", "n1", "n2"]);
    let mut sent = Vec::new();
    for (i, (value, wait)) in [(10, 30), (11, 30), (13, 39)].into_iter().enumerate() {
        let out = leaf.request(
            "c1",
            json!({"type": "broadcast", "msg_id": i, "message": value}),
        );
        sent.extend(gossip(out));
        sent.extend(gossip(leaf.advance(ms(wait))));
    }
    assert!(
        sent.is_empty(),
        "held until 100 ms after the first value: {sent:?}"
    );
    let out = gossip(leaf.advance(ms(1)));
    assert_eq!(
        out,
        vec![json!({"src": "n1", "dest": "n0", "body": {
            "type": "bcast_gossip", "v": [[10, 11], 13], "at": 100}})],
        "one batch, to the hub, stamped with the leaf's clock to ask for an answer"
    );
}

#[test]
fn a_hub_relays_a_batch_to_the_other_leaves_and_confirms_it_to_its_origin() {
    let s = settings("topology = \"star\"\norigin_batch_ms = 100\nrelay_batch_ms = 0");
    let mut hub = node(s);
    hub.init("n0", &["n0", "n1", "n2"]);
    hub.advance(ms(200));
    let mut out = hub.deliver(json!({"src": "n1", "dest": "n0", "body": {
        "type": "bcast_gossip", "v": [[10, 11], 13], "at": 100}}));
    out.extend(hub.advance(ms(1)));
    let out = gossip(out);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(
        out[0],
        json!({"src": "n0", "dest": "n1", "body": {"type": "bcast_gossip", "got": [[10, 11], 13]}})
    );
    assert_eq!(out[1]["dest"], "n2");
    assert_eq!(out[1]["body"]["v"], json!([[10, 11], 13]));
}

#[test]
fn in_rounds_a_batch_after_the_hubs_round_is_answered_at_once_and_forwarded_next_round() {
    let s = settings(
        "topology = \"star\"\nbatching = \"rounds\"\nround_ms = 1000\nround_slack_ms = 30\n\
         round_markers = false",
    );
    let mut hub = node(s);
    hub.init("n0", &["n0", "n1", "n2"]);
    hub.advance(ms(1050));
    let out = gossip(hub.deliver(json!({"src": "n1", "dest": "n0", "body": {
        "type": "bcast_gossip", "v": [10], "at": 1000}})));
    assert_eq!(out.len(), 1, "{out:?}");
    let answer = &out[0]["body"];
    assert_eq!(out[0]["dest"], "n1");
    assert!(
        answer.get("next").is_some() && answer.get("v").is_none(),
        "{answer}"
    );
    assert_eq!(answer["got"], json!([10]));
    // 10 goes to n2 with the hub's next round, at 2000 ms.
    assert!(gossip(hub.advance(ms(949))).is_empty());
    let out = gossip(hub.advance(ms(1)));
    let to_n2: Vec<&Value> = out.iter().filter(|m| m["dest"] == "n2").collect();
    assert_eq!(to_n2.len(), 1, "{out:?}");
    assert_eq!(to_n2[0]["body"]["v"], json!([10]));
}

// Fuzzer finding: a gossip delta given as one huge range (`[[0, 10^12]]`, a few bytes)
// made the node learn it value by value until memory ran out.
#[test]
fn a_gossip_delta_too_large_to_learn_is_refused() {
    let mut n = node(settings("topology = \"total\""));
    n.init("n0", &["n0", "n1"]);
    let out = n.deliver(json!({"src": "n1", "dest": "n0",
        "body": {"type": "bcast_gossip", "msg_id": 3, "v": [[0, 1_000_000_000_000u64]]}}));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["body"]["code"], 12);
    let out = n.deliver(json!({"src": "n1", "dest": "n0",
        "body": {"type": "bcast_gossip", "v": [[0, 18446744073709551615u64]]}}));
    assert!(out.is_empty(), "{out:?}");
    let out = n.request("c1", json!({"type": "read", "msg_id": 4}));
    assert_eq!(out[0]["body"]["messages"], json!([]));
    // A large but plausible delta is still learned.
    n.deliver(json!({"src": "n1", "dest": "n0",
        "body": {"type": "bcast_gossip", "v": [[0, super::MAX_VALUES_PER_GOSSIP - 1]]}}));
    let out = n.request("c1", json!({"type": "read", "msg_id": 5}));
    assert_eq!(
        out[0]["body"]["messages"].as_array().map(Vec::len),
        Some(super::MAX_VALUES_PER_GOSSIP as usize)
    );
}
