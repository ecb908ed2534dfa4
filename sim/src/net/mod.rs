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
//!
//! Buffers are bounded ([`budget`], [`BufferLimits`]): a node's lines wait for the router
//! within 4 MiB, messages wait for a node's stdin within 8 MiB (beyond, the router drops
//! them and records a `stdin-backlog` fault; Maelstrom would queue them without limit),
//! and a client's inbox holds [`CLIENT_INBOX`] messages.

pub mod budget;
pub mod core;
pub mod envelope;
pub mod journal;
pub mod latency;
pub mod partition;
pub mod router;

use budget::ByteBudget;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How many undelivered messages a client's inbox holds; more are dropped (a correct node
/// sends a client one reply per request, so only a flood fills it).
pub const CLIENT_INBOX: usize = 1024;

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
        /// Where its deliveries go (bounded: see [`CLIENT_INBOX`]).
        inbox: SyncSender<Delivery>,
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

/// What kind of trouble a node caused (results.json `node_faults[].kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// A stdout line that is not valid UTF-8.
    NotUtf8,
    /// A stdout line that is not JSON (or is blank).
    NotJson,
    /// JSON that breaks the envelope schema.
    Schema,
    /// A message from or to an id that is not registered.
    UnknownId,
    /// More than one JSON value on one line.
    TwoValues,
    /// A line over the bench's length limit.
    LineTooLong,
    /// The node closed its stdout but kept running.
    StdoutClosed,
    /// The node stopped reading its stdin and its backlog filled up.
    StdinBacklog,
    /// A second reply to a client request that already had one.
    DuplicateReply,
    /// So many messages to a client that its inbox filled up.
    InboxFull,
    /// A process the node started survived the kill of its process group.
    LeftoverProcess,
}

impl FaultKind {
    /// The kebab-case name used in results.json and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::NotUtf8 => "not-utf8",
            FaultKind::NotJson => "not-json",
            FaultKind::Schema => "schema",
            FaultKind::UnknownId => "unknown-id",
            FaultKind::TwoValues => "two-values",
            FaultKind::LineTooLong => "line-too-long",
            FaultKind::StdoutClosed => "stdout-closed",
            FaultKind::StdinBacklog => "stdin-backlog",
            FaultKind::DuplicateReply => "duplicate-reply",
            FaultKind::InboxFull => "inbox-full",
            FaultKind::LeftoverProcess => "leftover-process",
        }
    }
}

/// How many bytes of an offending line a fault keeps.
const SHOWN_LINE_BYTES: usize = 1000;
/// How many faults of one kind per node are kept and printed; later ones are counted.
pub const FAULTS_KEPT_PER_KIND: u64 = 3;

/// A problem with a node's behaviour: its output (spec §1.6), its input, or its processes.
#[derive(Debug, Clone, Serialize)]
pub struct NodeFault {
    /// The node concerned.
    pub node: String,
    /// What kind of problem.
    pub kind: FaultKind,
    /// Nanoseconds since the test start.
    pub time: u64,
    /// The offending line, if any (truncated to 1000 bytes).
    pub line: String,
    /// What is wrong, in words.
    pub problem: String,
    /// True when the node's output is ignored from then on (as Maelstrom does).
    pub fatal: bool,
}

impl NodeFault {
    /// A non-fatal fault of `node`, timed when it is recorded.
    pub fn new(node: &str, kind: FaultKind, problem: impl Into<String>) -> NodeFault {
        NodeFault {
            node: node.to_string(),
            kind,
            time: 0,
            line: String::new(),
            problem: problem.into(),
            fatal: false,
        }
    }

    /// Attaches the offending line: its first 1000 bytes, control characters escaped so
    /// that garbage cannot upset a terminal.
    pub fn with_line(mut self, line: &str) -> NodeFault {
        let mut cut = line.len().min(SHOWN_LINE_BYTES);
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        self.line = line[..cut]
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect();
        if cut < line.len() {
            self.line.push('…');
        }
        self
    }

    /// Marks the fault fatal: the node's output is ignored from then on.
    pub fn fatal(mut self) -> NodeFault {
        self.fatal = true;
        self
    }

    /// Sets when it happened (nanoseconds since the test start), if not "now".
    pub fn at(mut self, time: u64) -> NodeFault {
        self.time = time;
        self
    }
}

/// Faults kept for the report, and how many of each kind each node caused.
#[derive(Debug, Default)]
struct FaultLog {
    kept: Vec<NodeFault>,
    counts: BTreeMap<(String, FaultKind), u64>,
}

/// Per-node byte ceilings of the bench's buffers (see [`budget`]).
#[derive(Debug, Clone, Copy)]
pub struct BufferLimits {
    /// A node's stdout lines waiting for the router.
    pub inbound: usize,
    /// Messages waiting to be written to a node's stdin.
    pub stdin_backlog: usize,
}

impl Default for BufferLimits {
    fn default() -> Self {
        BufferLimits {
            inbound: 4 << 20,
            stdin_backlog: 8 << 20,
        }
    }
}

/// State shared between the router, the node IO threads and the runner.
pub struct Shared {
    /// Test start, the origin of every timestamp.
    pub start: Instant,
    /// Per node: its stdout is dead (a fatal fault happened).
    pub dead: Vec<AtomicBool>,
    /// Per node: bytes of its stdout lines handed to the router and not yet handled.
    pub inbound: Vec<ByteBudget>,
    /// Per node: bytes of messages handed to its stdin writer and not yet written.
    pub stdin_backlog: Vec<ByteBudget>,
    /// Per node: when its stdout reached end-of-file (ns since start, plus one; 0: open).
    stdout_closed: Vec<AtomicU64>,
    faults: Mutex<FaultLog>,
}

impl Shared {
    /// Shared state for `node_count` nodes with the default buffer limits.
    pub fn new(start: Instant, node_count: usize) -> Shared {
        Shared::with_limits(start, node_count, BufferLimits::default())
    }

    /// Shared state for `node_count` nodes with the given buffer limits.
    pub fn with_limits(start: Instant, node_count: usize, limits: BufferLimits) -> Shared {
        Shared {
            start,
            dead: (0..node_count).map(|_| AtomicBool::new(false)).collect(),
            inbound: (0..node_count)
                .map(|_| ByteBudget::new(limits.inbound))
                .collect(),
            stdin_backlog: (0..node_count)
                .map(|_| ByteBudget::new(limits.stdin_backlog))
                .collect(),
            stdout_closed: (0..node_count).map(|_| AtomicU64::new(0)).collect(),
            faults: Mutex::new(FaultLog::default()),
        }
    }

    /// Nanoseconds since the test start.
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Records a fault of node `node_index`: kills the node's output if it is fatal, keeps
    /// and prints the first few of each kind per node, and counts them all.
    pub fn fault(&self, node_index: usize, mut f: NodeFault) {
        if f.time == 0 {
            f.time = self.now_ns();
        }
        if f.fatal {
            if let Some(d) = self.dead.get(node_index) {
                d.store(true, Ordering::SeqCst);
            }
        }
        let mut log = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let count = log.counts.entry((f.node.clone(), f.kind)).or_insert(0);
        *count += 1;
        let count = *count;
        if count > FAULTS_KEPT_PER_KIND {
            return;
        }
        let secs = f.time as f64 / 1e9;
        let line = if f.line.is_empty() {
            String::new()
        } else {
            format!("\n  line: {}", f.line)
        };
        if f.fatal {
            eprintln!(
                "\nglomers-sim: node {} wrote a bad line at {secs:.3} s: {}{line}\n  \
                 As Maelstrom does, everything {} writes from now on is ignored.",
                f.node, f.problem, f.node
            );
        } else {
            eprintln!(
                "\nglomers-sim: warning: node {} at {secs:.3} s: {}{line}",
                f.node, f.problem
            );
        }
        if count == FAULTS_KEPT_PER_KIND {
            eprintln!(
                "glomers-sim: further {} problems of {} are counted, not shown",
                f.kind.as_str(),
                f.node
            );
        }
        log.kept.push(f);
    }

    /// The faults kept so far (the first few of each kind per node).
    pub fn faults(&self) -> Vec<NodeFault> {
        self.faults
            .lock()
            .map(|l| l.kept.clone())
            .unwrap_or_default()
    }

    /// How many faults of each kind each node caused: node → kind → count.
    pub fn fault_counts(&self) -> FaultCounts {
        let mut out = FaultCounts::new();
        if let Ok(l) = self.faults.lock() {
            for ((node, kind), n) in &l.counts {
                out.entry(node.clone())
                    .or_default()
                    .insert(kind.as_str().to_string(), *n);
            }
        }
        out
    }

    /// True when node `i`'s output is dead.
    pub fn is_dead(&self, i: usize) -> bool {
        self.dead.get(i).is_some_and(|d| d.load(Ordering::Relaxed))
    }

    /// Notes that node `i`'s stdout reached end-of-file now.
    pub fn mark_stdout_closed(&self, i: usize) {
        if let Some(c) = self.stdout_closed.get(i) {
            let _ = c.compare_exchange(0, self.now_ns() + 1, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    /// When node `i`'s stdout reached end-of-file (ns since start), if it did.
    pub fn stdout_closed_at(&self, i: usize) -> Option<u64> {
        let at = self.stdout_closed.get(i)?.load(Ordering::SeqCst);
        (at > 0).then(|| at - 1)
    }

    /// Closes every budget, so no IO thread waits for a router that has stopped.
    pub fn close_budgets(&self) {
        for b in self.inbound.iter().chain(&self.stdin_backlog) {
            b.close();
        }
    }
}

/// Fault counts per node and kind, as in results.json's `node_fault_counts`.
pub type FaultCounts = BTreeMap<String, BTreeMap<String, u64>>;

/// A cheap, clonable handle for talking to the router.
#[derive(Clone)]
pub struct Net {
    /// Command channel.
    pub tx: Sender<RouterCmd>,
    /// Shared state.
    pub shared: Arc<Shared>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_faults_of_each_kind_are_kept_and_all_are_counted() {
        let shared = Shared::new(Instant::now(), 2);
        for _ in 0..5 {
            shared.fault(0, NodeFault::new("n0", FaultKind::DuplicateReply, "again"));
        }
        shared.fault(1, NodeFault::new("n1", FaultKind::NotJson, "bad").fatal());
        let kept = shared.faults();
        assert_eq!(kept.len(), FAULTS_KEPT_PER_KIND as usize + 1);
        let counts = shared.fault_counts();
        assert_eq!(counts["n0"]["duplicate-reply"], 5);
        assert_eq!(counts["n1"]["not-json"], 1);
        assert!(!shared.is_dead(0));
        assert!(shared.is_dead(1), "a fatal fault kills the output");
        assert!(kept.iter().all(|f| f.time > 0));
    }

    #[test]
    fn shown_lines_are_cut_and_control_characters_escaped() {
        let f = NodeFault::new("n0", FaultKind::NotJson, "x").with_line("a\u{1b}[2Jb\tc");
        assert_eq!(f.line, "a\\u{1b}[2Jb\\tc");
        let long = "é".repeat(600);
        let f = NodeFault::new("n0", FaultKind::NotJson, "x").with_line(&long);
        assert!(f.line.ends_with('…'));
        assert!(f.line.len() <= SHOWN_LINE_BYTES + '…'.len_utf8());
    }

    #[test]
    fn stdout_closure_is_noted_once() {
        let shared = Shared::new(Instant::now(), 1);
        assert_eq!(shared.stdout_closed_at(0), None);
        shared.mark_stdout_closed(0);
        let first = shared.stdout_closed_at(0);
        assert!(first.is_some());
        std::thread::sleep(std::time::Duration::from_millis(2));
        shared.mark_stdout_closed(0);
        assert_eq!(shared.stdout_closed_at(0), first);
        assert_eq!(shared.stdout_closed_at(5), None);
    }
}
