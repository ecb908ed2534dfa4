//! The sans-IO node core: it owns the node id, the msg_id counter, pending RPCs, timers
//! and the outbox, and dispatches messages to handlers. Input is a line of bytes or "the
//! time is now T"; output is bytes to write to stdout and the next deadline. The IO loop
//! ([`crate::io_loop`]) drives it with the wall clock; tests drive it with a virtual one.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use slog::{debug, error, info, warn, Logger};

use crate::error::{Error, Result};
use crate::handler::{Handler, RpcOutcome};
use crate::message::{parse_line, write_message, ErrorBody, Message, ParseError};
use crate::timers::{TimerId, Timers};

/// Messages held before `init`; beyond this, requests are answered with code 11.
pub const MAX_HELD_BEFORE_INIT: usize = 10_000;

/// Who this node is, learned from `init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// This node's id, e.g. "n0".
    pub id: String,
    /// Every node of the cluster in Maelstrom's order, this one included.
    pub node_ids: Vec<String>,
}

/// A handler family as installed in a node: its name, the types it answers, its state.
pub struct Installed {
    /// Family name, e.g. "echo".
    pub family: &'static str,
    /// Message types routed to it.
    pub message_types: &'static [&'static str],
    /// The handler itself.
    pub handler: Box<dyn Handler>,
}

/// Two installed families answer the same message type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConflict {
    /// The contested message type.
    pub message_type: String,
    /// The family that claimed it first.
    pub first: &'static str,
    /// The family that claimed it again.
    pub second: &'static str,
}

impl std::fmt::Display for RouteConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "handler families `{}` and `{}` both answer message type `{}`; enable only one of them",
            self.first, self.second, self.message_type
        )
    }
}

impl std::error::Error for RouteConflict {}

struct Pending {
    handler: usize,
    token: u64,
}

/// The parts of the node a handler may touch through [`Ctx`].
struct Core {
    info: Option<NodeInfo>,
    next_msg_id: u64,
    now: Duration,
    out: Vec<u8>,
    timers: Timers,
    pending: HashMap<u64, Pending>,
    rpc_deadlines: BinaryHeap<Reverse<(Duration, u64)>>,
    log: Logger,
}

impl Core {
    fn own_id<'a>(&'a self, fallback: &'a str) -> &'a str {
        self.info.as_ref().map_or(fallback, |i| i.id.as_str())
    }

    fn write<B: Serialize>(
        &mut self,
        dest: &str,
        msg_id: Option<u64>,
        in_reply_to: Option<u64>,
        body: &B,
    ) -> Result<()> {
        let src = self.info.as_ref().map_or("", |i| i.id.as_str());
        write_message(&mut self.out, src, dest, msg_id, in_reply_to, body)
            .map_err(|e| Error::crash(format!("could not serialize a message to {dest}: {e}")))
    }

    fn write_error(&mut self, src: &str, dest: &str, in_reply_to: u64, err: &Error) {
        let src = self.own_id(src).to_string();
        // An error body always serializes.
        let _ = write_message(
            &mut self.out,
            &src,
            dest,
            None,
            Some(in_reply_to),
            &ErrorBody::new(err),
        );
    }
}

/// What a handler uses to act: reply, send, call, set timers, read the node's identity.
pub struct Ctx<'a> {
    core: &'a mut Core,
    handler: usize,
}

impl Ctx<'_> {
    /// This node's id. Empty only if called before `init`, which the core never does.
    pub fn node_id(&self) -> &str {
        self.core.info.as_ref().map_or("", |i| i.id.as_str())
    }

    /// All node ids of the cluster, this one included, in Maelstrom's order.
    pub fn node_ids(&self) -> &[String] {
        self.core
            .info
            .as_ref()
            .map_or(&[], |i| i.node_ids.as_slice())
    }

    /// The other nodes of the cluster.
    pub fn peers(&self) -> impl Iterator<Item = &str> {
        let me = self.node_id();
        self.node_ids()
            .iter()
            .map(String::as_str)
            .filter(move |n| *n != me)
    }

    /// Time since the node started (virtual in tests).
    pub fn now(&self) -> Duration {
        self.core.now
    }

    /// The node's logger (stderr).
    pub fn log(&self) -> &Logger {
        &self.core.log
    }

    /// Replies to `to` with `body` (an object with `type` and the reply's fields).
    pub fn reply<B: Serialize>(&mut self, to: &Message, body: &B) -> Result<()> {
        let dest = to.src.to_string();
        self.core.write(&dest, None, to.msg_id, body)
    }

    /// Sends `body` to `dest` expecting no reply (no `msg_id`).
    pub fn send<B: Serialize>(&mut self, dest: &str, body: &B) -> Result<()> {
        self.core.write(dest, None, None, body)
    }

    /// Sends a request to `dest` with a fresh `msg_id`. Its reply, or a timeout after
    /// `timeout`, reaches this handler's [`Handler::on_rpc`] exactly once, with `token`.
    /// Returns the msg_id used.
    pub fn rpc<B: Serialize>(
        &mut self,
        dest: &str,
        body: &B,
        timeout: Duration,
        token: u64,
    ) -> Result<u64> {
        let msg_id = self.core.next_msg_id;
        self.core.write(dest, Some(msg_id), None, body)?;
        self.core.next_msg_id += 1;
        self.core.pending.insert(
            msg_id,
            Pending {
                handler: self.handler,
                token,
            },
        );
        self.core
            .rpc_deadlines
            .push(Reverse((self.core.now + timeout, msg_id)));
        Ok(msg_id)
    }

    /// Fires [`Handler::on_timer`] with `token` once, `after` from now.
    pub fn set_timer(&mut self, after: Duration, token: u64) -> TimerId {
        self.core
            .timers
            .schedule(self.core.now + after, None, self.handler, token)
    }

    /// Fires [`Handler::on_timer`] with `token` every `period`, first one period from now.
    pub fn set_interval(&mut self, period: Duration, token: u64) -> TimerId {
        self.core
            .timers
            .schedule(self.core.now + period, Some(period), self.handler, token)
    }

    /// Cancels a timer (harmless if it already fired).
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.core.timers.cancel(id);
    }
}

/// A request to answer later, after the handler call that received it has returned
/// (e.g. once a service confirmed a write). Keep it in the handler's state and call
/// [`Waiter::answer`] or [`Waiter::fail`] when the outcome is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiter {
    /// The requester's id.
    pub dest: String,
    /// The request's msg_id (`None`: the requester expects no reply).
    pub msg_id: Option<u64>,
}

impl Waiter {
    /// The requester of `msg`.
    pub fn of(msg: &Message) -> Waiter {
        Waiter {
            dest: msg.src.to_string(),
            msg_id: msg.msg_id,
        }
    }

    /// Sends `body` as the reply to the request (nothing if it had no msg_id).
    pub fn answer<B: Serialize>(&self, ctx: &mut Ctx, body: &B) -> Result<()> {
        match self.msg_id {
            Some(id) => ctx.core.write(&self.dest, None, Some(id), body),
            None => Ok(()),
        }
    }

    /// Sends an error reply to the request (nothing if it had no msg_id).
    pub fn fail(&self, ctx: &mut Ctx, err: &Error) -> Result<()> {
        self.answer(ctx, &ErrorBody::new(err))
    }
}

/// How a handler call ended.
enum CallEnd {
    Done,
    Failed(Error),
    Panicked(String),
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

/// The node: core state plus the installed handler families and the routing table.
pub struct Node {
    core: Core,
    handlers: Vec<Installed>,
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
    /// Builds a node from installed families; fails if two claim one message type (or a
    /// family claims `init`, which the core answers itself).
    pub fn new(handlers: Vec<Installed>, log: Logger) -> std::result::Result<Node, RouteConflict> {
        let mut routes: HashMap<&'static str, usize> = HashMap::new();
        for (idx, h) in handlers.iter().enumerate() {
            for t in h.message_types {
                if *t == "init" {
                    return Err(RouteConflict {
                        message_type: "init".into(),
                        first: "core",
                        second: h.family,
                    });
                }
                if let Some(prev) = routes.insert(t, idx) {
                    return Err(RouteConflict {
                        message_type: t.to_string(),
                        first: handlers[prev].family,
                        second: h.family,
                    });
                }
            }
        }
        Ok(Node {
            core: Core {
                info: None,
                next_msg_id: 1,
                now: Duration::ZERO,
                out: Vec::with_capacity(64 * 1024),
                timers: Timers::default(),
                pending: HashMap::new(),
                rpc_deadlines: BinaryHeap::new(),
                log,
            },
            handlers,
            routes,
            held: Vec::new(),
        })
    }

    /// Identity from `init`, once it arrived.
    pub fn info(&self) -> Option<&NodeInfo> {
        self.core.info.as_ref()
    }

    /// Bytes waiting to go to stdout: whole lines, one message each.
    pub fn output(&self) -> &[u8] {
        &self.core.out
    }

    /// Forgets the output after it was written.
    pub fn clear_output(&mut self) {
        self.core.out.clear();
    }

    /// Number of RPCs still waiting for a reply or a timeout.
    pub fn pending_rpcs(&self) -> usize {
        self.core.pending.len()
    }

    /// Sizes of the node's own bookkeeping, for leak checks in long runs (the IO loop logs
    /// them at debug level).
    pub fn bookkeeping(&self) -> Bookkeeping {
        Bookkeeping {
            pending_rpcs: self.core.pending.len(),
            rpc_deadlines: self.core.rpc_deadlines.len(),
            timers: self.core.timers.len(),
            timer_queue: self.core.timers.queued(),
            held_before_init: self.held.len(),
        }
    }

    /// The next time [`Node::handle_timeout`] has work: a timer or an RPC deadline.
    pub fn next_deadline(&mut self) -> Option<Duration> {
        while let Some(Reverse((_, id))) = self.core.rpc_deadlines.peek() {
            if self.core.pending.contains_key(id) {
                break;
            }
            self.core.rpc_deadlines.pop();
        }
        let rpc = self.core.rpc_deadlines.peek().map(|Reverse((at, _))| *at);
        match (self.core.timers.next_deadline(), rpc) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Advances the clock to `now` and fires every timer and RPC timeout due by then.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.core.now = self.core.now.max(now);
        let now = self.core.now;
        while let Some(Reverse((at, msg_id))) = self.core.rpc_deadlines.peek().copied() {
            if at > now {
                break;
            }
            self.core.rpc_deadlines.pop();
            if let Some(p) = self.core.pending.remove(&msg_id) {
                let end = self.call(p.handler, |h, ctx| {
                    h.on_rpc(ctx, p.token, RpcOutcome::Timeout)
                });
                self.log_end(p.handler, "rpc timeout", end);
            }
        }
        while let Some(fired) = self.core.timers.pop_due(now) {
            let end = self.call(fired.handler, |h, ctx| h.on_timer(ctx, fired.token));
            self.log_end(fired.handler, "timer", end);
        }
    }

    /// Advances the clock to `now` and handles one input line (without its newline).
    pub fn handle_line(&mut self, now: Duration, line: &[u8]) {
        self.core.now = self.core.now.max(now);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            warn!(self.core.log, "ignoring a blank input line");
            return;
        }
        let msg = match parse_line(line) {
            Ok(msg) => msg,
            Err(ParseError::Envelope(reason)) => {
                warn!(self.core.log, "dropping input line: {reason}"; "line" => preview(line));
                return;
            }
            Err(ParseError::Body {
                src,
                dest,
                msg_id,
                reason,
            }) => {
                warn!(self.core.log, "malformed message from {src}: {reason}"; "line" => preview(line));
                if let Some(id) = msg_id {
                    self.core
                        .write_error(&dest, &src, id, &Error::malformed(reason));
                }
                return;
            }
        };
        if msg.msg_type == "init" && msg.in_reply_to.is_none() {
            self.handle_init(&msg);
            return;
        }
        if self.core.info.is_none() {
            self.hold(&msg, line);
            return;
        }
        if let Some(reply_to) = msg.in_reply_to {
            match self.core.pending.remove(&reply_to) {
                Some(p) => {
                    let end = self.call(p.handler, |h, ctx| {
                        h.on_rpc(ctx, p.token, RpcOutcome::Reply(&msg))
                    });
                    self.log_end(p.handler, "rpc reply", end);
                }
                None => debug!(self.core.log, "dropping reply to an unknown or expired request";
                    "src" => msg.src.as_ref(), "in_reply_to" => reply_to, "type" => msg.msg_type.as_ref()),
            }
            return;
        }
        let Some(&idx) = self.routes.get(msg.msg_type.as_ref()) else {
            let err = Error::not_supported(format!(
                "no enabled handler answers `{}` (enabled: {})",
                msg.msg_type,
                self.families().join(", ")
            ));
            warn!(self.core.log, "{}", err.text; "src" => msg.src.as_ref());
            if let Some(id) = msg.msg_id {
                self.core.write_error(&msg.dest, &msg.src, id, &err);
            }
            return;
        };
        let end = self.call(idx, |h, ctx| h.on_message(ctx, &msg));
        let err = match end {
            CallEnd::Done => return,
            CallEnd::Failed(err) => {
                let family = self.handlers[idx].family;
                let level_is_warn = err.code.is_definite();
                if level_is_warn {
                    debug!(
                        self.core.log,
                        "{family} answered {} with {err}", msg.msg_type
                    );
                } else {
                    warn!(
                        self.core.log,
                        "{family} answered {} with {err}", msg.msg_type
                    );
                }
                err
            }
            CallEnd::Panicked(what) => {
                let family = self.handlers[idx].family;
                error!(self.core.log, "handler {family} panicked on `{}`: {what}; the node keeps serving", msg.msg_type;
                    "line" => preview(line));
                Error::crash(format!("handler {family} crashed: {what}"))
            }
        };
        if let Some(id) = msg.msg_id {
            self.core.write_error(&msg.dest, &msg.src, id, &err);
        }
    }

    fn families(&self) -> Vec<&'static str> {
        self.handlers.iter().map(|h| h.family).collect()
    }

    fn hold(&mut self, msg: &Message, line: &[u8]) {
        if self.held.len() < MAX_HELD_BEFORE_INIT {
            debug!(self.core.log, "holding a message until init"; "src" => msg.src.as_ref(), "type" => msg.msg_type.as_ref());
            self.held.push(line.to_vec());
        } else {
            warn!(self.core.log, "too many messages before init; refusing one"; "src" => msg.src.as_ref());
            if let Some(id) = msg.msg_id {
                self.core.write_error(
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
                warn!(self.core.log, "bad init: {}", err.text);
                if let Some(id) = msg.msg_id {
                    self.core.write_error(&msg.dest, &msg.src, id, &err);
                }
                return;
            }
        };
        let first = self.core.info.is_none();
        if !first {
            warn!(self.core.log, "second init received; answering it but keeping the first identity";
                "node_id" => &body.node_id);
        } else {
            info!(self.core.log, "init"; "node_id" => &body.node_id, "nodes" => body.node_ids.len());
            self.core.info = Some(NodeInfo {
                id: body.node_id,
                node_ids: body.node_ids,
            });
        }
        let src = msg.src.to_string();
        let _ = self.core.write(
            &src,
            None,
            msg.msg_id,
            &InitOk {
                msg_type: "init_ok",
            },
        );
        if first {
            for idx in 0..self.handlers.len() {
                let end = self.call(idx, |h, ctx| h.on_init(ctx));
                self.log_end(idx, "init", end);
            }
            let now = self.core.now;
            for line in std::mem::take(&mut self.held) {
                self.handle_line(now, &line);
            }
        }
    }

    fn call<F>(&mut self, idx: usize, f: F) -> CallEnd
    where
        F: FnOnce(&mut dyn Handler, &mut Ctx) -> Result<()>,
    {
        let slot = &mut self.handlers[idx];
        let mut ctx = Ctx {
            core: &mut self.core,
            handler: idx,
        };
        match catch_unwind(AssertUnwindSafe(|| f(slot.handler.as_mut(), &mut ctx))) {
            Ok(Ok(())) => CallEnd::Done,
            Ok(Err(e)) => CallEnd::Failed(e),
            Err(payload) => CallEnd::Panicked(panic_text(payload.as_ref())),
        }
    }

    fn log_end(&self, idx: usize, what: &str, end: CallEnd) {
        let family = self.handlers[idx].family;
        match end {
            CallEnd::Done => {}
            CallEnd::Failed(e) => warn!(self.core.log, "{family} failed in {what}: {e}"),
            CallEnd::Panicked(p) => {
                error!(
                    self.core.log,
                    "{family} panicked in {what}: {p}; the node keeps serving"
                )
            }
        }
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
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
