//! For unit tests of families that use a Maelstrom service: one node under test whose
//! requests to the service are answered at once by the bench's own state machine for it
//! (`glomers_simkit::service`), with chosen requests or replies lost on purpose. Messages
//! to other nodes go nowhere: clusters are tested on the deterministic driver
//! (`handlers/tests/`).

use std::time::Duration;

use glomers_runtime::testkit::TestNode;
use glomers_simkit::service::{new_service, Service};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};

/// Time the node's clock moves per step of [`ServedNode::run`].
const STEP: Duration = Duration::from_millis(10);

/// Decides whether a message between the node and the service is lost.
pub type Loss = Box<dyn FnMut(&Value) -> bool>;

/// A node and the service it talks to.
pub struct ServedNode {
    /// The node under test.
    pub node: TestNode,
    id: String,
    service_id: &'static str,
    service: Box<dyn Service>,
    rng: StdRng,
    /// Messages between the node and the service so far, lost ones included.
    pub service_msgs: usize,
    /// The node's replies to clients, in order.
    pub replies: Vec<Value>,
    /// Which messages to or from the service are lost (none by default).
    pub lose: Loss,
    next_msg_id: u64,
}

impl ServedNode {
    /// `node`, initialised as `id` of `ids`, answered by the service `service_id`
    /// (`seq-kv`, `lin-kv`, `lww-kv` or `lin-tso`).
    pub fn new(mut node: TestNode, id: &str, ids: &[&str], service_id: &'static str) -> Self {
        node.init(id, ids);
        ServedNode {
            node,
            id: id.to_string(),
            service_id,
            service: new_service(service_id).expect("a Maelstrom service"),
            rng: StdRng::seed_from_u64(1),
            service_msgs: 0,
            replies: Vec::new(),
            lose: Box::new(|_| false),
            next_msg_id: 1,
        }
    }

    /// Replaces the node with `node`, initialised the same way, as after a restart that
    /// lost its memory; the service keeps its data.
    pub fn restart(&mut self, mut node: TestNode, ids: &[&str]) {
        node.init(&self.id, ids);
        self.node = node;
    }

    /// Routes what the node wrote: requests to the service are answered (unless lost),
    /// replies to clients are kept, anything else is dropped.
    pub fn route(&mut self, out: Vec<Value>) {
        for msg in out {
            if msg["dest"].as_str().is_some_and(|d| d.starts_with('c')) {
                self.replies.push(msg["body"].clone());
                continue;
            }
            if msg["dest"] != self.service_id {
                continue;
            }
            self.service_msgs += 1;
            if (self.lose)(&msg) {
                continue;
            }
            let answer = self.service.handle(&self.id, &msg["body"], &mut self.rng);
            let Some(reply) = answer else {
                continue;
            };
            self.service_msgs += 1;
            let back = json!({"src": self.service_id, "dest": self.id, "body": reply});
            if !(self.lose)(&back) {
                let out = self.node.deliver(back);
                self.route(out);
            }
        }
    }

    /// Sends the client request `body` (its msg_id filled in); returns the msg_id.
    pub fn request(&mut self, mut body: Value) -> u64 {
        let id = self.next_msg_id;
        self.next_msg_id += 1;
        body["msg_id"] = json!(id);
        let out = self.node.request("c1", body);
        self.route(out);
        id
    }

    /// The reply to request `id`, if one came.
    pub fn reply(&self, id: u64) -> Option<&Value> {
        self.replies.iter().find(|r| r["in_reply_to"] == json!(id))
    }

    /// Moves the node's clock by `d` in 10 ms steps, answering its service requests.
    pub fn run(&mut self, d: Duration) {
        let mut left = d;
        while !left.is_zero() {
            let out = self.node.advance(STEP.min(left));
            self.route(out);
            left = left.saturating_sub(STEP);
        }
    }

    /// A request to the service from another source (`n1` writing its own key, say);
    /// returns the service's reply.
    pub fn service_request(&mut self, src: &str, body: Value) -> Option<Value> {
        self.service.handle(src, &body, &mut self.rng)
    }

    /// What the service holds for `key` now, as a source sees it right after a state
    /// change of its own (which brings even seq-kv to its newest state).
    pub fn stored(&mut self, key: &str) -> Value {
        let inspector = "test-inspector";
        let pin = json!({"type": "write", "key": "test-inspector-pin", "value": 1, "msg_id": 1});
        self.service_request(inspector, pin);
        let read = json!({"type": "read", "key": key, "msg_id": 2});
        let reply = self
            .service_request(inspector, read)
            .expect("reads are answered");
        reply["value"].clone()
    }
}
