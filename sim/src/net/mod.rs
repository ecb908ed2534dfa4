//! The simulated network: one router thread owns every queue, the partition state, the
//! services and the statistics; node readers and clients talk to it through a channel.
//!
//! Message flow, as in Maelstrom (spec §3.1–3.3):
//! - every message gets a network id (from 0) and a deadline `now + latency` (0 ms when
//!   either end is a client);
//! - each destination has a queue ordered by deadline; its head is the message its
//!   "delivery thread" is waiting on. A message becomes head when the previous head is
//!   delivered, and only then is the partition checked (dequeue time): a dropped message
//!   has a `send` and a `drop` entry in the journal and no `recv`;
//! - a later message with an earlier deadline waits behind the head (Maelstrom's
//!   head-of-line blocking), so per-destination order is FIFO under constant latency;
//! - services answer on the router thread when a request is delivered; their replies go
//!   back through the network with latency and are never partitioned.

pub mod core;
pub mod envelope;
pub mod journal;
pub mod latency;
pub mod partition;
pub mod router;

use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Lines for a node's stdin, handed over in batches.
pub type StdinBatch = Vec<std::sync::Arc<str>>;

/// A message delivered to a client.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Network message id.
    pub id: u64,
    /// Sender id.
    pub src: String,
    /// Parsed body.
    pub body: Value,
}

/// Commands to the router.
pub enum RouterCmd {
    /// A line from node `node` that passed the envelope schema.
    FromNode {
        /// Index of the emitting node in the plan's node list.
        node: usize,
        /// The whole line (for reports) ...
        line: String,
        /// ... and its parsed envelope.
        msg: envelope::NodeMessage,
    },
    /// A message from a client.
    FromClient {
        /// Client id.
        src: String,
        /// Destination id.
        dest: String,
        /// Body (already carrying `msg_id`).
        body: Value,
    },
    /// Registers a client id with its inbox.
    Register {
        /// Client id.
        id: String,
        /// Where its deliveries go.
        inbox: Sender<Delivery>,
    },
    /// Unregisters a client id.
    Unregister {
        /// Client id.
        id: String,
    },
    /// Replaces the partition state (empty = healed).
    SetGrudge(partition::Grudge),
    /// Stops the router and returns its statistics.
    Stop(Sender<NetStats>),
}

/// Send/recv counts of one traffic group.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct GroupStats {
    /// Messages handed to the network.
    pub send_count: u64,
    /// Messages delivered.
    pub recv_count: u64,
    /// Distinct message ids (one per send).
    pub msg_count: u64,
}

/// Traffic statistics, split like Maelstrom's `:net` section.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NetStats {
    /// Everything.
    pub all: GroupStats,
    /// Messages with a client at either end.
    pub clients: GroupStats,
    /// Messages between servers (nodes and services).
    pub servers: GroupStats,
    /// Messages dropped by partitions.
    pub dropped: u64,
}

/// A problem with a node's output (spec §1.6).
#[derive(Debug, Clone, Serialize)]
pub struct NodeFault {
    /// The node whose stdout carried the line.
    pub node: String,
    /// Nanoseconds since the test start.
    pub time: u64,
    /// The line (truncated to 1000 bytes).
    pub line: String,
    /// What is wrong with it.
    pub problem: String,
    /// True when the node's output is ignored from then on (as Maelstrom does).
    pub fatal: bool,
}

/// State shared between the router, the node readers and the runner.
pub struct Shared {
    /// Test start, the origin of every timestamp.
    pub start: Instant,
    /// Per node: its stdout is dead (a fatal fault happened).
    pub dead: Vec<AtomicBool>,
    /// Every fault and warning about node output.
    pub faults: Mutex<Vec<NodeFault>>,
}

impl Shared {
    /// Nanoseconds since the test start.
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Records a fault, says it loudly on stderr, and kills the node's output if fatal.
    pub fn fault(&self, node_index: usize, node: &str, line: &str, problem: String, fatal: bool) {
        let time = self.now_ns();
        let mut shown = line.to_string();
        if shown.len() > 1000 {
            let mut cut = 1000;
            while !shown.is_char_boundary(cut) {
                cut -= 1;
            }
            shown.truncate(cut);
            shown.push('…');
        }
        if fatal {
            if let Some(d) = self.dead.get(node_index) {
                d.store(true, Ordering::SeqCst);
            }
            eprintln!(
                "\nglomers-sim: node {node} wrote a bad line at {:.3} s: {problem}\n  line: {shown}\n  \
                 As Maelstrom does, everything {node} writes from now on is ignored.",
                time as f64 / 1e9
            );
        } else {
            eprintln!(
                "\nglomers-sim: warning: node {node} at {:.3} s: {problem}\n  line: {shown}",
                time as f64 / 1e9
            );
        }
        if let Ok(mut f) = self.faults.lock() {
            f.push(NodeFault {
                node: node.to_string(),
                time,
                line: shown,
                problem,
                fatal,
            });
        }
    }

    /// True when node `i`'s output is dead.
    pub fn is_dead(&self, i: usize) -> bool {
        self.dead.get(i).is_some_and(|d| d.load(Ordering::Relaxed))
    }
}

/// A cheap, clonable handle for talking to the router.
#[derive(Clone)]
pub struct Net {
    /// Command channel.
    pub tx: Sender<RouterCmd>,
    /// Shared state.
    pub shared: Arc<Shared>,
}
