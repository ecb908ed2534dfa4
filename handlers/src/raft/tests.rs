//! Tests of the raft family on one node: a lone node serving at once, error codes for bad
//! requests, a request that reaches the log twice, and a leader whose two followers the
//! test plays by hand (the read index and the lease bound, exactly). Clusters (lin-kv
//! linearizable and both txn machines strict-serializable through partitions, leaders
//! cut off mid-write, pre-vote, backing off, rings and relays) are tested on the
//! deterministic driver in `handlers/tests/raft.rs`; `glomers-sim explore` runs as many
//! more seeds as wanted.

use std::time::Duration;

use glomers_runtime::testkit::TestNode;
use glomers_runtime::{Family, Seeds};
use serde_json::{json, Value};

use super::kv::LinKv;
use super::machine::Machine;
use super::settings::Settings;
use super::txn::RwRegister;
use super::Raft;

const STEP: Duration = Duration::from_millis(5);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn settings() -> Settings {
    Settings::default()
}

fn leased() -> Settings {
    Settings {
        read_lease: true,
        ..Settings::default()
    }
}

/// A cluster of one: `n0` leads at once.
fn lone<M: Machine>() -> TestNode {
    let family = Family::new(Raft::<M>::new(settings())).named("raft");
    let mut node = TestNode::seeded(vec![family], Seeds::fixed(6, 1));
    node.init("n0", &["n0"]);
    node
}

/// The replies to `client` in `out`.
fn to(client: &str, out: &[Value]) -> Vec<Value> {
    out.iter()
        .filter(|m| m["dest"] == client)
        .map(|m| m["body"].clone())
        .collect()
}

#[test]
fn a_lone_node_serves_at_once() {
    let mut n = lone::<RwRegister>();
    let t = json!({"type": "txn", "msg_id": 1, "txn": [["w", 1, 1], ["r", 1, null]]});
    let mut out = n.request("c1", t);
    out.extend(n.advance(ms(10)));
    let replies = to("c1", &out);
    assert_eq!(replies.len(), 1, "{out:?}");
    assert_eq!(replies[0]["txn"], json!([["w", 1, 1], ["r", 1, 1]]));
}

#[test]
fn maelstrom_error_codes_for_bad_requests() {
    let mut n = lone::<LinKv>();
    let mut ask = |body: Value| {
        let mut out = n.request("c1", body.clone());
        out.extend(n.advance(ms(100)));
        to("c1", &out)
            .pop()
            .unwrap_or_else(|| panic!("unanswered: {body}"))
    };
    let cas = |msg_id: u64| json!({"type": "cas", "msg_id": msg_id, "key": 5, "from": 1, "to": 2});
    assert_eq!(ask(cas(1))["code"], 20, "no such key");
    ask(json!({"type": "write", "msg_id": 2, "key": 5, "value": 3}));
    assert_eq!(ask(cas(3))["code"], 22, "from does not match");
    for (i, bad) in [
        json!({"type": "write", "key": 5}),
        json!({"type": "read"}),
        json!({"type": "cas", "key": 5, "from": 3}),
        json!({"type": "write", "value": 1}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut bad = bad;
        bad["msg_id"] = json!(10 + i);
        let r = ask(bad.clone());
        assert_eq!(r["code"], 12, "{bad} -> {r}");
    }
    let r = ask(json!({"type": "read", "msg_id": 20, "key": 5}));
    assert_eq!(r["value"], 3, "bad requests changed nothing");
}

#[test]
fn a_request_that_reaches_the_log_twice_applies_once() {
    let mut n = lone::<LinKv>();
    let mut out = n.request(
        "c1",
        json!({"type": "write", "msg_id": 1, "key": 0, "value": 1}),
    );
    out.extend(n.advance(ms(10)));
    assert_eq!(to("c1", &out)[0]["type"], "write_ok");
    // Two copies of one request (same client, same msg_id), as a duplicating network
    // would deliver them: applied once (a second cas from 1 would fail), answered once.
    let body = json!({"type": "cas", "key": 0, "from": 1, "to": 2, "msg_id": 500});
    let mut out = n.request("c7", body.clone());
    out.extend(n.request("c7", body));
    out.extend(n.advance(ms(500)));
    let replies = to("c7", &out);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["type"], "cas_ok");
}

fn is_type(t: &'static str) -> impl Fn(&Value) -> bool {
    move |m| m["body"]["type"] == t
}

/// A three-node cluster where only n0 is real: the test plays n1 and n2 by hand.
struct Puppets {
    node: TestNode,
}

impl Puppets {
    /// n0 elected leader of term 1, its first round acknowledged by both puppets.
    fn leading() -> Puppets {
        Puppets::leading_with(settings())
    }

    fn leading_with(config: Settings) -> Puppets {
        let family = Family::new(Raft::<LinKv>::new(config)).named("raft");
        let mut node = TestNode::seeded(vec![family], Seeds::fixed(9, 1));
        node.init("n0", &["n0", "n1", "n2"]);
        let mut p = Puppets { node };
        // Grant the pre-vote, then the vote; the new leader's round follows at once.
        let mut out = p.until(|m| m["body"]["type"] == "raft_vote");
        for _ in 0..2 {
            let asks: Vec<Value> = out.drain(..).filter(is_type("raft_vote")).collect();
            assert_eq!(asks.len(), 2, "{asks:?}");
            for ask in asks {
                out.extend(
                    p.node
                        .deliver(json!({"src": ask["dest"], "dest": "n0", "body": {
                    "type": "raft_vote_ok", "in_reply_to": ask["body"]["msg_id"],
                    "term": 0, "granted": true}})),
                );
            }
        }
        let appends: Vec<Value> = out.into_iter().filter(is_type("raft_append")).collect();
        assert_eq!(appends.len(), 2);
        p.ack_all(&appends);
        p
    }

    /// The appends in `out`, or else the next ones n0 sends.
    fn appends(&mut self, out: Vec<Value>) -> Vec<Value> {
        let now: Vec<Value> = out.into_iter().filter(is_type("raft_append")).collect();
        if now.is_empty() {
            self.until(is_type("raft_append"))
        } else {
            now
        }
    }

    /// Advances the clock until n0 sends messages matching `pick` (at most 3 s).
    fn until(&mut self, pick: impl Fn(&Value) -> bool) -> Vec<Value> {
        for _ in 0..600 {
            let out: Vec<Value> = self.node.advance(STEP).into_iter().filter(&pick).collect();
            if !out.is_empty() {
                return out;
            }
        }
        panic!("n0 never sent the expected messages");
    }

    /// Acknowledges `appends` as stored, in n0's term.
    fn ack_all(&mut self, appends: &[Value]) -> Vec<Value> {
        let mut out = Vec::new();
        for a in appends {
            let b = &a["body"];
            let index = b["prev_index"].as_u64().unwrap()
                + b["entries"].as_array().map_or(0, |e| e.len() as u64);
            out.extend(
                self.node
                    .deliver(json!({"src": a["dest"], "dest": "n0", "body": {
                "type": "raft_append_ok", "in_reply_to": b["msg_id"], "term": b["term"],
                "success": true, "index": index}})),
            );
        }
        out
    }

    fn client(&mut self, body: Value) -> Vec<Value> {
        self.node.request("c1", body)
    }

    /// Everything n0 sends the client while the clock advances 2 s.
    fn answers_within_two_seconds(&mut self) -> Vec<Value> {
        let mut answers = Vec::new();
        for _ in 0..400 {
            answers.extend(
                self.node
                    .advance(STEP)
                    .into_iter()
                    .filter(|m| m["dest"] == "c1"),
            );
        }
        answers
    }
}

#[test]
fn a_read_waits_for_a_majority_to_answer_a_round_sent_after_it() {
    let mut p = Puppets::leading();
    let out = p.client(json!({"type": "write", "key": 1, "value": "old", "msg_id": 1}));
    let appends = p.appends(out);
    let out = p.ack_all(&appends);
    assert!(
        out.iter().any(|m| m["body"]["type"] == "write_ok"),
        "{out:?}"
    );
    // A round goes out; then a read arrives. Answers to that earlier round prove nothing
    // about leadership at the time of the read.
    let before = p.until(is_type("raft_append"));
    let out = p.client(json!({"type": "read", "key": 1, "msg_id": 2}));
    assert!(out.is_empty(), "{out:?}");
    let out = p.ack_all(&before);
    assert!(
        out.iter().all(|m| m["dest"] != "c1"),
        "served too early: {out:?}"
    );
    // One puppet answers the next round: with n0 that is a majority.
    let after = p.until(is_type("raft_append"));
    let out = p.ack_all(&after[..1]);
    let read: Vec<&Value> = out.iter().filter(|m| m["dest"] == "c1").collect();
    assert_eq!(read.len(), 1, "{out:?}");
    assert_eq!(
        read[0]["body"],
        json!({"type": "read_ok", "value": "old", "in_reply_to": 2})
    );
}

#[test]
fn a_leader_that_hears_from_no_majority_refuses_its_reads() {
    let mut p = Puppets::leading();
    let out = p.client(json!({"type": "write", "key": 1, "value": "old", "msg_id": 1}));
    let appends = p.appends(out);
    p.ack_all(&appends);
    // Silence: meanwhile, elsewhere, a new leader may have overwritten the key.
    p.client(json!({"type": "read", "key": 1, "msg_id": 2}));
    let answers = p.answers_within_two_seconds();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0]["body"]["code"], 11, "{answers:?}");
}

#[test]
fn a_lease_answers_reads_for_three_quarters_of_an_election_timeout_only() {
    let mut p = Puppets::leading_with(leased());
    let out = p.client(json!({"type": "write", "key": 1, "value": "v", "msg_id": 1}));
    let appends = p.appends(out);
    let acked_at = p.node.now();
    p.ack_all(&appends);
    // Within 300 ms of that acknowledged round (< 375 ms): answered at once.
    p.node.advance(ms(300));
    let out = p.client(json!({"type": "read", "key": 1, "msg_id": 2}));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["body"]["value"], "v");
    // Past 375 ms without another acknowledgement: no answer from the lease.
    let wait = ms(380).saturating_sub(p.node.now() - acked_at);
    p.node.advance(wait);
    let out = p.client(json!({"type": "read", "key": 1, "msg_id": 3}));
    assert!(
        out.iter().all(|m| m["dest"] != "c1"),
        "served past the lease: {out:?}"
    );
    let answers = p.answers_within_two_seconds();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0]["body"]["code"], 11);
}
