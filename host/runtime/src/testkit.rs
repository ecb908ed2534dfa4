//! Test harnesses, used by the runtime's own tests and by handler families' unit tests:
//! - [`TestNode`]: a whole [`Node`] on a virtual clock, fed and read as JSON values;
//! - [`Sandbox`]: a [`Ctx`] outside any node, to call a family's functions directly and
//!   read the effects they wrote as [`Effect`] values.

use std::time::Duration;

use serde_json::{json, Value};

use crate::ctx::{Command, Commands, Ctx, Env, NodeInfo, Seeds};
use crate::family::Family;
use crate::handler::Handler;
use crate::logging;
use crate::node::Node;
use crate::timers::TimerId;

/// The seeds test nodes get unless a test chooses others.
pub const TEST_SEEDS: Seeds = Seeds::fixed(7, 0x5eed);

/// A node under test: feed it JSON messages, move its clock, read what it sent.
pub struct TestNode {
    node: Node,
    now: Duration,
    transcript: Option<Vec<u8>>,
}

impl TestNode {
    /// A node with the given families installed, logging to stderr at warning level.
    pub fn new(families: Vec<Family>) -> TestNode {
        TestNode::seeded(families, TEST_SEEDS)
    }

    /// A node with the given families and seeds.
    pub fn seeded(families: Vec<Family>, seeds: Seeds) -> TestNode {
        let node = match Node::new(families, logging::stderr_logger("warning"), seeds) {
            Ok(n) => n,
            Err(e) => panic!("test node cannot route its families: {e}"),
        };
        TestNode::from_node(node)
    }

    /// Wraps a node built elsewhere (e.g. by the registry from a config).
    pub fn from_node(node: Node) -> TestNode {
        TestNode {
            node,
            now: Duration::ZERO,
            transcript: None,
        }
    }

    /// Keeps a copy of every byte the node writes from now on (see
    /// [`TestNode::transcript`]), to compare runs byte for byte.
    pub fn recording(mut self) -> TestNode {
        self.transcript = Some(Vec::new());
        self
    }

    /// Everything the node wrote since [`TestNode::recording`], exactly as written.
    pub fn transcript(&self) -> &[u8] {
        self.transcript.as_deref().unwrap_or_default()
    }

    /// A node with one handler family, named `family` in logs.
    pub fn with<H: Handler>(family: &'static str, handler: H) -> TestNode {
        TestNode::new(vec![Family::new(handler).named(family)])
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
        if let Some(t) = &mut self.transcript {
            t.extend_from_slice(self.node.output());
        }
        let values = lines_as_json(self.node.output());
        self.node.clear_output();
        values
    }
}

fn lines_as_json(out: &[u8]) -> Vec<Value> {
    out.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(line_as_json)
        .collect()
}

fn line_as_json(line: &[u8]) -> Value {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    match serde_json::from_slice::<Value>(line) {
        Ok(v) => v,
        Err(e) => panic!(
            "node wrote a line that is not JSON ({e}): {:?}",
            String::from_utf8_lossy(line)
        ),
    }
}

/// An effect as a test reads it: messages as JSON (`dest` and the whole `body`).
#[derive(Debug, PartialEq)]
pub enum Effect<T, R> {
    /// A message expecting no reply.
    Send {
        /// Destination.
        dest: String,
        /// Body, as written.
        body: Value,
    },
    /// A reply (its body has `in_reply_to`).
    Reply {
        /// Destination.
        dest: String,
        /// Body, as written.
        body: Value,
    },
    /// A request (its body has `msg_id`).
    Rpc {
        /// Destination.
        dest: String,
        /// Body, as written.
        body: Value,
        /// Reply timeout.
        timeout: Duration,
        /// What it is for.
        purpose: R,
    },
    /// A timer.
    SetTimer {
        /// Delay of the first firing.
        after: Duration,
        /// Period, for intervals.
        period: Option<Duration>,
        /// What it is for.
        timer: T,
    },
    /// A cancelled timer.
    CancelTimer {
        /// The timer.
        id: TimerId,
    },
}

impl<T, R> Effect<T, R> {
    /// The destination and body of a message effect.
    pub fn message(&self) -> Option<(&str, &Value)> {
        match self {
            Effect::Send { dest, body }
            | Effect::Reply { dest, body }
            | Effect::Rpc { dest, body, .. } => Some((dest, body)),
            _ => None,
        }
    }
}

/// The effects of one family, as [`Sandbox::call`] returns them.
pub type Effects<H> = Vec<Effect<<H as Handler>::Timer, <H as Handler>::Rpc>>;

/// A [`Ctx`] outside any node, for unit tests of a family's state machines: call
/// functions that take a `Ctx` through [`Sandbox::call`] and read what they wrote.
pub struct Sandbox<H: Handler> {
    env: Env,
    out: Vec<u8>,
    commands: Commands<H>,
}

impl<H: Handler> Sandbox<H> {
    /// A sandbox for node `id` among `ids`, at time zero, with the test seeds.
    pub fn new(id: &str, ids: &[&str]) -> Sandbox<H> {
        let mut env = Env::new(logging::stderr_logger("warning"), TEST_SEEDS);
        env.info = Some(NodeInfo {
            id: id.to_string(),
            node_ids: ids.iter().map(|s| s.to_string()).collect(),
        });
        Sandbox {
            env,
            out: Vec::new(),
            commands: Vec::new(),
        }
    }

    /// Sets the clock.
    pub fn set_now(&mut self, now: Duration) {
        self.env.now = now;
    }

    /// The clock.
    pub fn now(&self) -> Duration {
        self.env.now
    }

    /// Runs `f` with a context and returns its result and the effects it wrote, in order.
    pub fn call<T>(&mut self, f: impl FnOnce(&mut Ctx<H>) -> T) -> (T, Effects<H>) {
        let result = f(&mut Ctx::new(
            &mut self.env,
            &mut self.out,
            &mut self.commands,
        ));
        let effects = self
            .commands
            .drain(..)
            .map(|c| {
                let message = |line: &std::ops::Range<usize>| {
                    let v = line_as_json(&self.out[line.clone()]);
                    let dest = v["dest"].as_str().unwrap_or_default().to_string();
                    (dest, v["body"].clone())
                };
                match c {
                    Command::Send { line } => {
                        let (dest, body) = message(&line);
                        Effect::Send { dest, body }
                    }
                    Command::Reply { line } => {
                        let (dest, body) = message(&line);
                        Effect::Reply { dest, body }
                    }
                    Command::Rpc {
                        line,
                        timeout,
                        purpose,
                        ..
                    } => {
                        let (dest, body) = message(&line);
                        Effect::Rpc {
                            dest,
                            body,
                            timeout,
                            purpose,
                        }
                    }
                    Command::SetTimer {
                        after,
                        period,
                        timer,
                        ..
                    } => Effect::SetTimer {
                        after,
                        period,
                        timer,
                    },
                    Command::CancelTimer { id } => Effect::CancelTimer { id },
                }
            })
            .collect();
        self.out.clear();
        (result, effects)
    }

    /// Runs `f` and returns only the messages it wrote, as (destination, body).
    pub fn messages(&mut self, f: impl FnOnce(&mut Ctx<H>)) -> Vec<(String, Value)> {
        let ((), effects) = self.call(f);
        effects
            .iter()
            .filter_map(|e| e.message().map(|(d, b)| (d.to_string(), b.clone())))
            .collect()
    }
}
