//! The sans-IO node core: it owns the node id, the msg_id counter, pending RPCs, timers
//! and the output, and dispatches messages to handler families. Input is a line of bytes
//! or "the time is now T"; output is bytes to write to stdout and the next deadline. The
//! IO loop ([`crate::io_loop`]) drives it with the wall clock; tests and simulations drive
//! it with a virtual one. Given the same seeds, lines and clock, a node writes the same
//! bytes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use slog::{debug, error, info, warn, Logger};

use crate::ctx::{Env, NodeInfo, Seeds};
use crate::error::Error;
use crate::family::{CallEnd, Family};
use crate::handler::RpcOutcome;
use crate::message::{parse_line, write_error_reply, write_message, Message, ParseError, ReplyTo};
use crate::timers::Timers;

/// Messages held before `init`; beyond this, requests are answered with code 11.
pub const MAX_HELD_BEFORE_INIT: usize = 10_000;

/// Output buffer capacity a node keeps once its output was written: after a huge reply
/// (a 16 MB echo) the buffer is shrunk back to its starting size rather than kept.
const OUTPUT_KEEP: usize = 1 << 20;
/// The output buffer's starting capacity.
const OUTPUT_START: usize = 64 * 1024;

/// Why a set of families cannot be installed in one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// Two families answer the same message type.
    Conflict {
        /// The contested message type.
        message_type: String,
        /// The family that claimed it first.
        first: &'static str,
        /// The family that claimed it again.
        second: &'static str,
    },
    /// A family claims `init`, which the node answers itself.
    ClaimsInit {
        /// The family.
        family: &'static str,
    },
    /// A family's message types cannot be derived from its message enum.
    Underivable {
        /// The family.
        family: &'static str,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteError::Conflict {
                message_type,
                first,
                second,
            } => write!(
                f,
                "handler families `{first}` and `{second}` both answer message type \
                 `{message_type}`; enable only one of them"
            ),
            RouteError::ClaimsInit { family } => write!(
                f,
                "handler family `{family}` claims `init`, which the node answers itself"
            ),
            RouteError::Underivable { family, reason } => {
                write!(f, "handler family `{family}` cannot be routed: {reason}")
            }
        }
    }
}

impl std::error::Error for RouteError {}

/// The parts of the node a family's call may touch: identity, clock, randomness and
/// counters ([`Env`]), the output buffer, and the deadline tables.
pub(crate) struct Kernel {
    pub(crate) env: Env,
    pub(crate) out: Vec<u8>,
    pub(crate) timers: Timers,
    /// Pending RPCs: msg_id → index of the family that sent it.
    pending: HashMap<u64, usize>,
    rpc_deadlines: BinaryHeap<Reverse<(Duration, u64)>>,
}

impl Kernel {
    /// Registers an RPC sent with `msg_id` by family `family`, timing out at `deadline`.
    pub(crate) fn expect_reply(&mut self, msg_id: u64, deadline: Duration, family: usize) {
        self.pending.insert(msg_id, family);
        self.rpc_deadlines.push(Reverse((deadline, msg_id)));
    }

    fn write<B: Serialize>(&mut self, dest: &str, in_reply_to: Option<u64>, body: &B) {
        let src = self.env.own_id().to_string();
        if let Err(e) = write_message(&mut self.out, &src, dest, None, in_reply_to, body) {
            error!(self.env.log, "could not serialize a message to {dest}: {e}");
        }
    }

    fn write_error(&mut self, src: &str, dest: &str, in_reply_to: u64, err: &Error) {
        self.write_error_to(src, dest, &ReplyTo::Id(in_reply_to), err);
    }

    fn write_error_to(&mut self, src: &str, dest: &str, to: &ReplyTo, err: &Error) {
        let src = match &self.env.info {
            Some(i) => i.id.clone(),
            None => src.to_string(),
        };
        // An error body always serializes.
        let _ = write_error_reply(&mut self.out, &src, dest, to, err);
    }
}

/// Sizes of a node's bookkeeping at one moment (see [`Node::bookkeeping`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bookkeeping {
    /// RPCs waiting for a reply or a timeout.
    pub pending_rpcs: usize,
    /// Queued RPC deadlines, answered ones not yet discarded included.
    pub rpc_deadlines: usize,
    /// Live timers.
    pub timers: usize,
    /// Timer queue entries, cancelled ones not yet discarded included.
    pub timer_queue: usize,
    /// Messages held until `init` arrives.
    pub held_before_init: usize,
}

/// The node: the kernel plus the installed handler families and the routing table.
pub struct Node {
    kernel: Kernel,
    families: Vec<Family>,
    routes: HashMap<&'static str, usize>,
    held: Vec<Vec<u8>>,
}

#[derive(Deserialize)]
struct InitBody {
    node_id: String,
    node_ids: Vec<String>,
}

#[derive(Serialize)]
struct InitOk {
    #[serde(rename = "type")]
    msg_type: &'static str,
}

impl Node {
    /// Builds a node from families, with `seeds` for its randomness and nonce. Fails if
    /// two families claim one message type, a family claims `init`, or a family's types
    /// cannot be derived.
    pub fn new(families: Vec<Family>, log: Logger, seeds: Seeds) -> Result<Node, RouteError> {
        let mut routes: HashMap<&'static str, usize> = HashMap::new();
        for (idx, f) in families.iter().enumerate() {
            let types = f
                .message_types()
                .map_err(|reason| RouteError::Underivable {
                    family: f.name(),
                    reason: reason.to_string(),
                })?;
            for t in types {
                if *t == "init" {
                    return Err(RouteError::ClaimsInit { family: f.name() });
                }
                if let Some(prev) = routes.insert(t, idx) {
                    return Err(RouteError::Conflict {
                        message_type: t.to_string(),
                        first: families[prev].name(),
                        second: f.name(),
                    });
                }
            }
        }
        Ok(Node {
            kernel: Kernel {
                env: Env::new(log, seeds),
                out: Vec::with_capacity(OUTPUT_START),
                timers: Timers::default(),
                pending: HashMap::new(),
                rpc_deadlines: BinaryHeap::new(),
            },
            families,
            routes,
            held: Vec::new(),
        })
    }

    /// Identity from `init`, once it arrived.
    pub fn info(&self) -> Option<&NodeInfo> {
        self.kernel.env.info.as_ref()
    }

    /// Bytes waiting to go to stdout: whole lines, one message each.
    pub fn output(&self) -> &[u8] {
        &self.kernel.out
    }

    /// Forgets the output after it was written.
    pub fn clear_output(&mut self) {
        self.kernel.out.clear();
        if self.kernel.out.capacity() > OUTPUT_KEEP {
            self.kernel.out.shrink_to(OUTPUT_START);
        }
    }

    /// Number of RPCs still waiting for a reply or a timeout.
    pub fn pending_rpcs(&self) -> usize {
        self.kernel.pending.len()
    }

    /// Sizes of the node's own bookkeeping, for leak checks in long runs (the IO loop logs
    /// them at debug level).
    pub fn bookkeeping(&self) -> Bookkeeping {
        Bookkeeping {
            pending_rpcs: self.kernel.pending.len(),
            rpc_deadlines: self.kernel.rpc_deadlines.len(),
            timers: self.kernel.timers.len(),
            timer_queue: self.kernel.timers.queued(),
            held_before_init: self.held.len(),
        }
    }

    /// Number of live timers (periodic ones included).
    pub fn live_timers(&self) -> usize {
        self.kernel.timers.len()
    }

    /// The next time [`Node::handle_timeout`] has work: a timer or an RPC deadline.
    pub fn next_deadline(&mut self) -> Option<Duration> {
        let k = &mut self.kernel;
        while let Some(Reverse((_, id))) = k.rpc_deadlines.peek() {
            if k.pending.contains_key(id) {
                break;
            }
            k.rpc_deadlines.pop();
        }
        let rpc = k.rpc_deadlines.peek().map(|Reverse((at, _))| *at);
        match (k.timers.next_deadline(), rpc) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Advances the clock to `now` and fires every timer and RPC timeout due by then.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.advance(now);
        let now = self.kernel.env.now;
        while let Some(Reverse((at, msg_id))) = self.kernel.rpc_deadlines.peek().copied() {
            if at > now {
                break;
            }
            self.kernel.rpc_deadlines.pop();
            if let Some(idx) = self.kernel.pending.remove(&msg_id) {
                let end = self.families[idx].slot.rpc_ended(
                    &mut self.kernel,
                    idx,
                    msg_id,
                    RpcOutcome::Timeout,
                );
                self.log_end(idx, "rpc timeout", end);
            }
        }
        while let Some(fired) = self.kernel.timers.pop_due(now) {
            let idx = fired.family;
            let end = self.families[idx].slot.timer(&mut self.kernel, idx, fired);
            self.log_end(idx, "timer", end);
        }
    }

    fn advance(&mut self, now: Duration) {
        self.kernel.env.now = self.kernel.env.now.max(now);
    }

    /// Advances the clock to `now` and handles one input line (without its newline).
    pub fn handle_line(&mut self, now: Duration, line: &[u8]) {
        self.advance(now);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            warn!(self.kernel.env.log, "ignoring a blank input line");
            return;
        }
        let msg = match parse_line(line) {
            Ok(msg) => msg,
            Err(ParseError::Envelope(reason)) => {
                warn!(self.kernel.env.log, "dropping input line: {reason}"; "line" => preview(line));
                return;
            }
            Err(ParseError::Body {
                src,
                dest,
                answer,
                reason,
            }) => {
                warn!(self.kernel.env.log, "malformed message from {src}: {reason}"; "line" => preview(line));
                if let Some(to) = answer {
                    self.kernel
                        .write_error_to(&dest, &src, &to, &Error::malformed(reason));
                }
                return;
            }
        };
        if msg.msg_type == "init" && msg.in_reply_to.is_none() {
            self.handle_init(&msg);
            return;
        }
        if self.kernel.env.info.is_none() {
            self.hold(&msg, line);
            return;
        }
        if let Some(reply_to) = msg.in_reply_to {
            match self.kernel.pending.remove(&reply_to) {
                Some(idx) => {
                    let end = self.families[idx].slot.rpc_ended(
                        &mut self.kernel,
                        idx,
                        reply_to,
                        RpcOutcome::Reply(&msg),
                    );
                    self.log_end(idx, "rpc reply", end);
                }
                None => {
                    debug!(self.kernel.env.log, "dropping reply to an unknown or expired request";
                    "src" => msg.src.as_ref(), "in_reply_to" => reply_to, "type" => msg.msg_type.as_ref())
                }
            }
            return;
        }
        let Some(&idx) = self.routes.get(msg.msg_type.as_ref()) else {
            let err = Error::not_supported(format!(
                "no enabled handler answers `{}` (enabled: {})",
                msg.msg_type,
                self.family_names().join(", ")
            ));
            warn!(self.kernel.env.log, "{}", err.text; "src" => msg.src.as_ref());
            if let Some(id) = msg.msg_id {
                self.kernel.write_error(&msg.dest, &msg.src, id, &err);
            }
            return;
        };
        let end = self.families[idx].slot.message(&mut self.kernel, idx, &msg);
        let family = self.families[idx].name();
        let err = match end {
            CallEnd::Done => return,
            CallEnd::Failed(err) => {
                // A definite error (the request did not happen) is part of normal
                // service, like a failed cas; the others deserve a warning.
                if err.code.is_definite() {
                    debug!(
                        self.kernel.env.log,
                        "{family} answered {} with {err}", msg.msg_type
                    );
                } else {
                    warn!(
                        self.kernel.env.log,
                        "{family} answered {} with {err}", msg.msg_type
                    );
                }
                err
            }
            CallEnd::Panicked(what) => {
                error!(self.kernel.env.log, "handler {family} panicked on `{}`: {what}; the node keeps serving", msg.msg_type;
                    "line" => preview(line));
                Error::crash(format!("handler {family} crashed: {what}"))
            }
        };
        if let Some(id) = msg.msg_id {
            self.kernel.write_error(&msg.dest, &msg.src, id, &err);
        }
    }

    fn family_names(&self) -> Vec<&'static str> {
        self.families.iter().map(Family::name).collect()
    }

    fn hold(&mut self, msg: &Message, line: &[u8]) {
        if self.held.len() < MAX_HELD_BEFORE_INIT {
            debug!(self.kernel.env.log, "holding a message until init"; "src" => msg.src.as_ref(), "type" => msg.msg_type.as_ref());
            self.held.push(line.to_vec());
        } else {
            warn!(self.kernel.env.log, "too many messages before init; refusing one"; "src" => msg.src.as_ref());
            if let Some(id) = msg.msg_id {
                self.kernel.write_error(
                    &msg.dest,
                    &msg.src,
                    id,
                    &Error::unavailable("node has not received init yet"),
                );
            }
        }
    }

    fn handle_init(&mut self, msg: &Message) {
        let body: InitBody = match msg.parse() {
            Ok(b) => b,
            Err(err) => {
                warn!(self.kernel.env.log, "bad init: {}", err.text);
                if let Some(id) = msg.msg_id {
                    self.kernel.write_error(&msg.dest, &msg.src, id, &err);
                }
                return;
            }
        };
        let first = self.kernel.env.info.is_none();
        if !first {
            warn!(self.kernel.env.log, "second init received; answering it but keeping the first identity";
                "node_id" => &body.node_id);
        } else {
            info!(self.kernel.env.log, "init"; "node_id" => &body.node_id, "nodes" => body.node_ids.len());
            self.kernel.env.info = Some(NodeInfo {
                id: body.node_id,
                node_ids: body.node_ids,
            });
        }
        // Like any reply, init_ok goes only to an init that asked with a msg_id.
        if let Some(id) = msg.msg_id {
            let src = msg.src.to_string();
            self.kernel.write(
                &src,
                Some(id),
                &InitOk {
                    msg_type: "init_ok",
                },
            );
        }
        if first {
            for idx in 0..self.families.len() {
                let end = self.families[idx].slot.init(&mut self.kernel, idx);
                self.log_end(idx, "init", end);
            }
            let now = self.kernel.env.now;
            for line in std::mem::take(&mut self.held) {
                self.handle_line(now, &line);
            }
        }
    }

    fn log_end(&self, idx: usize, what: &str, end: CallEnd) {
        let family = self.families[idx].name();
        match end {
            CallEnd::Done => {}
            CallEnd::Failed(e) => warn!(self.kernel.env.log, "{family} failed in {what}: {e}"),
            CallEnd::Panicked(p) => {
                error!(
                    self.kernel.env.log,
                    "{family} panicked in {what}: {p}; the node keeps serving"
                )
            }
        }
    }
}

/// The start of a line, lossily decoded, for log messages.
fn preview(line: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&line[..line.len().min(MAX)]);
    if line.len() > MAX {
        format!("{text}…")
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests;
