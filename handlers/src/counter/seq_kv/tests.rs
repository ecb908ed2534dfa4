//! One node of the seq-kv mode against the bench's own seq-kv state machine
//! (`glomers_simkit`), answered at once, with single requests or replies lost on
//! purpose: batching, acknowledgement, retries and recovery from lost messages. Exact
//! final reads on several nodes with stale reads and partitions, the message budget and
//! quiet when idle are tested on the deterministic driver in `handlers/tests/counter.rs`.

use super::*;
use crate::counter::SeqKvSettings;
use glomers_runtime::testkit::TestNode;
use glomers_simkit::service::kv::SeqKv;
use glomers_simkit::service::Service;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

const STEP: Duration = Duration::from_millis(10);

/// Decides whether a message between the node and seq-kv is lost.
type Loss = Box<dyn FnMut(&Value) -> bool>;

/// Node n0 of `[n0, n1]` and a seq-kv service that answers each request as soon as the
/// node sends it.
struct WithSeqKv {
    node: TestNode,
    kv: SeqKv,
    rng: StdRng,
    /// Messages between the node and seq-kv, lost ones included.
    service_msgs: usize,
    /// The node's replies to clients, in order.
    replies: Vec<Value>,
    lose: Loss,
    next_msg_id: u64,
}

impl WithSeqKv {
    fn new(settings: SeqKvSettings) -> WithSeqKv {
        let mut w = WithSeqKv {
            node: TestNode::with("counter", SeqKvCounter::new(settings)),
            kv: SeqKv::default(),
            rng: StdRng::seed_from_u64(1),
            service_msgs: 0,
            replies: Vec::new(),
            lose: Box::new(|_| false),
            next_msg_id: 1,
        };
        w.node.init("n0", &["n0", "n1"]);
        w
    }

    /// Replaces the node with a fresh one that remembers nothing (seq-kv keeps its data).
    fn restart(&mut self, settings: SeqKvSettings) {
        self.node = TestNode::with("counter", SeqKvCounter::new(settings));
        self.node.init("n0", &["n0", "n1"]);
    }

    /// Routes what the node wrote: requests to seq-kv are answered (unless lost), replies
    /// to clients are kept.
    fn route(&mut self, out: Vec<Value>) {
        for msg in out {
            if msg["dest"] != "seq-kv" {
                self.replies.push(msg["body"].clone());
                continue;
            }
            self.service_msgs += 1;
            if (self.lose)(&msg) {
                continue;
            }
            let Some(reply) = self.kv.handle("n0", &msg["body"], &mut self.rng) else {
                continue;
            };
            self.service_msgs += 1;
            let back = json!({"src": "seq-kv", "dest": "n0", "body": reply});
            if !(self.lose)(&back) {
                let out = self.node.deliver(back);
                self.route(out);
            }
        }
    }

    /// A client request; returns its msg_id.
    fn request(&mut self, body: Value) -> u64 {
        let id = self.next_msg_id;
        self.next_msg_id += 1;
        let mut body = body;
        body["msg_id"] = json!(id);
        let out = self.node.request("c1", body);
        self.route(out);
        id
    }

    fn add(&mut self, delta: i64) -> u64 {
        self.request(json!({"type": "add", "delta": delta}))
    }

    /// The reply to request `id`, if any.
    fn reply(&self, id: u64) -> Option<&Value> {
        self.replies.iter().find(|r| r["in_reply_to"] == json!(id))
    }

    fn read(&mut self) -> i64 {
        let id = self.request(json!({"type": "read"}));
        let reply = self.reply(id).expect("reads are answered at once").clone();
        assert_eq!(reply["type"], "read_ok");
        assert_eq!(reply.as_object().unwrap().len(), 3, "type, value, in_reply_to only");
        reply["value"].as_i64().expect("integer value")
    }

    fn run(&mut self, d: Duration) {
        let mut left = d;
        while !left.is_zero() {
            let out = self.node.advance(STEP);
            self.route(out);
            left = left.saturating_sub(STEP);
        }
    }

    /// What seq-kv holds for `key` now: read by a source that first changed the state,
    /// which pins it to the newest version.
    fn stored(&mut self, key: &str) -> Value {
        let inspector = "test-inspector";
        let pin = json!({"type": "write", "key": "inspector-pin", "value": 1, "msg_id": 1});
        self.kv.handle(inspector, &pin, &mut self.rng);
        let read = json!({"type": "read", "key": key, "msg_id": 2});
        let reply = self.kv.handle(inspector, &read, &mut self.rng).unwrap();
        reply["value"].clone()
    }

    fn own_key(&mut self) -> Value {
        self.stored(&contribution_key("n0"))
    }
}

#[test]
fn adds_are_batched_and_acknowledged_only_once_stored() {
    let mut w = WithSeqKv::new(SeqKvSettings::default());
    // The first add goes out at once, alone, and is acknowledged once its cas is stored;
    // the next ones wait for flush_ms (100 ms) and share the next batch.
    let a = w.add(3);
    assert_eq!(
        w.reply(a),
        Some(&json!({"type": "add_ok", "in_reply_to": a}))
    );
    let b = w.add(4);
    let c = w.add(5);
    assert!(w.reply(b).is_none(), "no add_ok before seq-kv stored the add");
    assert_eq!(w.own_key(), json!([3, 0]));
    w.run(Duration::from_millis(80));
    assert!(w.reply(b).is_none(), "at most one batch per flush_ms");
    w.run(Duration::from_millis(20));
    assert_eq!(w.reply(b).unwrap()["type"], "add_ok");
    assert_eq!(w.reply(c).unwrap()["type"], "add_ok");
    assert_eq!(w.service_msgs, 4, "two batches, one cas each");
    assert_eq!(w.own_key(), json!([12, 0]));
    assert_eq!(w.read(), 12);
}

#[test]
fn zero_deltas_are_acknowledged_without_any_message() {
    let mut w = WithSeqKv::new(SeqKvSettings::default());
    let a = w.add(0);
    assert_eq!(w.reply(a).unwrap()["type"], "add_ok");
    w.run(Duration::from_millis(300));
    assert_eq!(w.service_msgs, 0);
}

#[test]
fn a_lost_cas_reply_is_resolved_without_double_counting() {
    let mut w = WithSeqKv::new(SeqKvSettings::default());
    let mut lost = false;
    w.lose = Box::new(move |m| {
        let first_cas_ok = !lost && m["src"] == "seq-kv" && m["body"]["type"] == "cas_ok";
        lost |= first_cas_ok;
        first_cas_ok
    });
    let a = w.add(4);
    assert!(w.reply(a).is_none());
    w.run(Duration::from_secs(3));
    assert_eq!(w.reply(a).unwrap()["type"], "add_ok");
    assert_eq!(w.own_key(), json!([4, 0]));
    let b = w.add(1);
    w.run(Duration::from_millis(200));
    assert_eq!(w.reply(b).unwrap()["type"], "add_ok");
    assert_eq!(w.read(), 5);
    assert_eq!(w.own_key(), json!([5, 0]));
}

#[test]
fn a_lost_cas_request_is_retried() {
    let mut w = WithSeqKv::new(SeqKvSettings::default());
    let mut lost = false;
    w.lose = Box::new(move |m| {
        let first_cas = !lost && m["dest"] == "seq-kv" && m["body"]["type"] == "cas";
        lost |= first_cas;
        first_cas
    });
    let a = w.add(4);
    w.run(Duration::from_secs(3));
    assert_eq!(w.reply(a).unwrap()["type"], "add_ok");
    assert_eq!(w.own_key(), json!([4, 0]));
}

#[test]
fn a_node_that_forgot_everything_continues_from_seq_kv() {
    let mut w = WithSeqKv::new(SeqKvSettings::default());
    w.add(3);
    w.run(Duration::from_secs(1));
    // n1's contribution, written by n1 itself.
    let n1 = json!({"type": "write", "key": contribution_key("n1"), "value": [2, 0], "msg_id": 9});
    w.kv.handle("n1", &n1, &mut w.rng);
    // Restarted with empty state, n0 finds its 3 in seq-kv.
    w.restart(SeqKvSettings::default());
    let a = w.add(10);
    w.run(Duration::from_secs(3));
    assert_eq!(w.reply(a).unwrap()["type"], "add_ok");
    assert_eq!(w.own_key(), json!([13, 0]));
    assert_eq!(w.read(), 15);
}

#[test]
fn acknowledged_on_receipt_adds_share_one_cas_per_flush_and_are_read_at_once() {
    let settings = SeqKvSettings {
        add_ack: AddAck::Received,
        ..SeqKvSettings::default()
    };
    let mut w = WithSeqKv::new(settings);
    let a = w.add(3);
    assert_eq!(w.reply(a).unwrap()["type"], "add_ok", "answered on receipt");
    let more: Vec<u64> = (0..5).map(|_| w.add(1)).collect();
    assert!(more.iter().all(|&id| w.reply(id).is_some()));
    // Its own acknowledged adds count in this node's reads before they are stored.
    assert_eq!(w.read(), 8);
    // The first add went out at once; the five others share the next batch.
    assert_eq!(w.own_key(), json!([3, 0]));
    w.run(Duration::from_millis(100));
    assert_eq!(w.own_key(), json!([8, 0]));
    assert_eq!(w.service_msgs, 4, "two batches, one cas each");
    assert_eq!(w.read(), 8);
}
