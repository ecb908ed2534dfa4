//! A harness for driving a [`Node`] in tests with a virtual clock and JSON values, used by
//! the runtime's own tests and by handler families' unit tests.

use std::time::Duration;

use serde_json::{json, Value};

use crate::handler::Handler;
use crate::logging;
use crate::node::{Installed, Node};

/// A node under test: feed it JSON messages, move its clock, read what it sent.
pub struct TestNode {
    node: Node,
    now: Duration,
}

impl TestNode {
    /// A node with the given families installed, logging to stderr at warning level.
    pub fn new(handlers: Vec<Installed>) -> TestNode {
        let node = match Node::new(handlers, logging::stderr_logger("warning")) {
            Ok(n) => n,
            Err(e) => panic!("test node has conflicting handlers: {e}"),
        };
        TestNode {
            node,
            now: Duration::ZERO,
        }
    }

    /// A node with one handler family answering `types`.
    pub fn with(
        family: &'static str,
        types: &'static [&'static str],
        handler: impl Handler + 'static,
    ) -> TestNode {
        TestNode::new(vec![Installed {
            family,
            message_types: types,
            handler: Box::new(handler),
        }])
    }

    /// Sends `init` for `id` among `ids` and returns the node's output (the init_ok and
    /// whatever handlers sent on init).
    pub fn init(&mut self, id: &str, ids: &[&str]) -> Vec<Value> {
        self.deliver(json!({"src": "c0", "dest": id, "body": {
            "type": "init", "msg_id": 1, "node_id": id, "node_ids": ids}}))
    }

    /// Delivers one message (a full envelope) and returns everything the node wrote.
    pub fn deliver(&mut self, msg: Value) -> Vec<Value> {
        self.deliver_raw(msg.to_string().as_bytes())
    }

    /// Delivers a request from `src` with `body` (to this node) and returns the output.
    pub fn request(&mut self, src: &str, body: Value) -> Vec<Value> {
        let dest = self.node.info().map(|i| i.id.clone()).unwrap_or_default();
        self.deliver(json!({"src": src, "dest": dest, "body": body}))
    }

    /// Delivers raw bytes as one line and returns the output.
    pub fn deliver_raw(&mut self, line: &[u8]) -> Vec<Value> {
        self.node.handle_line(self.now, line);
        self.take()
    }

    /// Moves the clock forward by `by`, firing what is due, and returns the output.
    pub fn advance(&mut self, by: Duration) -> Vec<Value> {
        let target = self.now + by;
        // Fire deadlines one at a time, at their own time, so handlers see exact clocks.
        while let Some(at) = self.node.next_deadline() {
            if at > target {
                break;
            }
            self.now = self.now.max(at);
            self.node.handle_timeout(self.now);
        }
        self.now = target;
        self.node.handle_timeout(self.now);
        self.take()
    }

    /// The virtual time.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The wrapped node.
    pub fn node(&mut self) -> &mut Node {
        &mut self.node
    }

    fn take(&mut self) -> Vec<Value> {
        let out = self.node.output();
        let values = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| match serde_json::from_slice::<Value>(l) {
                Ok(v) => v,
                Err(e) => panic!(
                    "node wrote a line that is not JSON ({e}): {:?}",
                    String::from_utf8_lossy(l)
                ),
            })
            .collect();
        self.node.clear_output();
        values
    }
}
