//! Regression tests for what the host's fuzzer (`host/tests/fuzz.rs`) found in Raft: a
//! follower that drained its held client requests into the reply to an append that had
//! no `msg_id` (so the reply, and the requests, went nowhere), and Raft messages from
//! non-members that were dropped without the error reply their `msg_id` asked for.

use std::time::Duration;

use glomers_runtime::testkit::TestNode;
use glomers_runtime::{Family, Seeds};
use serde_json::{json, Value};

use super::kv::LinKv;
use super::settings::Settings;
use super::Raft;

fn follower() -> TestNode {
    let family = Family::new(Raft::<LinKv>::new(Settings::default())).named("raft");
    let mut node = TestNode::seeded(vec![family], Seeds::fixed(3, 1));
    node.init("n0", &["n0", "n1", "n2"]);
    // n1 leads term 1: an empty append, answered.
    let out = node.deliver(append("n1", Some(1)));
    assert!(
        out.iter().any(|m| m["body"]["type"] == "raft_append_ok"),
        "{out:?}"
    );
    node
}

fn append(src: &str, msg_id: Option<u64>) -> Value {
    let mut body = json!({"type": "raft_append", "term": 1, "prev_index": 0, "prev_term": 0,
                          "commit": 0});
    if let Some(id) = msg_id {
        body["msg_id"] = json!(id);
    }
    json!({"src": src, "dest": "n0", "body": body})
}

fn answers_to(out: &[Value], client: &str) -> Vec<Value> {
    out.iter()
        .filter(|m| m["dest"] == client)
        .map(|m| m["body"].clone())
        .collect()
}

#[test]
fn an_append_without_msg_id_does_not_swallow_held_requests() {
    let mut node = follower();
    let out = node.request(
        "c1",
        json!({"type": "write", "key": 1, "value": 2, "msg_id": 7}),
    );
    assert!(
        answers_to(&out, "c1").is_empty(),
        "held for the leader: {out:?}"
    );
    // An append nobody can answer: the held request must stay held.
    let out = node.deliver(append("n1", None));
    assert!(out.is_empty(), "{out:?}");
    // The next append that can be answered carries it to the leader.
    let out = node.deliver(append("n1", Some(2)));
    let reply = out
        .iter()
        .find(|m| m["body"]["type"] == "raft_append_ok")
        .expect("the append is answered");
    assert_eq!(reply["body"]["fwd"][0]["client"], "c1", "{reply}");
    assert_eq!(reply["body"]["fwd"][0]["id"], 7, "{reply}");
}

#[test]
fn a_held_request_is_refused_when_no_answerable_append_comes() {
    let mut node = follower();
    node.request(
        "c1",
        json!({"type": "write", "key": 1, "value": 2, "msg_id": 7}),
    );
    node.deliver(append("n1", None));
    let out = node.advance(Duration::from_secs(2));
    let answers = answers_to(&out, "c1");
    assert_eq!(answers.len(), 1, "{out:?}");
    assert_eq!(answers[0]["code"], 11, "{answers:?}");
}

#[test]
fn raft_messages_from_non_members_get_an_error_reply() {
    let mut node = follower();
    for src in ["n0", "n9", "c3"] {
        let out = node.deliver(append(src, Some(5)));
        let answers = answers_to(&out, src);
        assert_eq!(answers.len(), 1, "{src}: {out:?}");
        assert_eq!(answers[0]["type"], "error", "{src}: {out:?}");
        assert_eq!(answers[0]["code"], 12, "{src}: {out:?}");
    }
}
