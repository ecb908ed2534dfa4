//! The trait every handler family implements, and the values it is handed.
//!
//! A family declares three types and four callbacks:
//! - `Msg<'a>`: the messages it answers, as a serde enum. Routing is derived from its
//!   variants: each variant's (renamed) name is a message `type` routed to this family.
//! - `Timer`: what its timers are for; [`Ctx::set_timer`] takes one and
//!   [`Handler::on_timer`] gets it back.
//! - `Rpc`: what its requests are for; [`Ctx::rpc`] takes one and [`Handler::on_rpc`]
//!   gets it back with the reply or the timeout, exactly once.
//!
//! The runtime keeps the tables from message ids and timer ids to these values, so a
//! family never numbers anything itself. Families with no timers or RPCs use [`Never`].

use serde::Deserialize;

use crate::ctx::Ctx;
use crate::error::Result;
use crate::message::Message;

/// A node-side handler family: its message enum, its timer and RPC purposes, and what it
/// does on each input. Handlers are sans-IO: they never block, sleep, spawn threads or
/// read clocks; they act only through the [`Ctx`] they are given, and get time,
/// randomness and a per-process nonce from it.
///
/// # The message enum
/// Both of serde's enum representations work:
/// - `#[serde(tag = "type", rename_all = "snake_case")]` (internally tagged), the natural
///   declaration of a Maelstrom body;
/// - the default (externally tagged) representation with `rename_all = "snake_case"`:
///   the runtime hands serde the variant name it already read from `type`, and the body
///   as the variant's content. Use it when a field borrows raw JSON (`&RawValue`), which
///   serde cannot buffer for internally tagged enums, or on hot paths (it parses once).
///
/// Do not use `deny_unknown_fields` on variants (bodies also carry `type` and `msg_id`),
/// nor a catch-all `#[serde(other)]` variant (routing needs every type named).
pub trait Handler: Sized + 'static {
    /// The messages this family answers, borrowing from the input line for `'a`.
    type Msg<'a>: Deserialize<'a>;
    /// What this family's timers are for. Periodic timers hand back a clone each time.
    type Timer: Clone + 'static;
    /// What this family's RPCs are for.
    type Rpc: 'static;

    /// Called once, after `init` (node id and peers are known).
    fn on_init(&mut self, _ctx: &mut Ctx<Self>) -> Result<()> {
        Ok(())
    }

    /// A message of one of this family's types, from `from`. Returning an error sends the
    /// sender a Maelstrom error reply (if it gave a `msg_id`); effects written before the
    /// error still take place.
    fn on_message<'a>(
        &mut self,
        ctx: &mut Ctx<Self>,
        from: Sender<'a>,
        msg: Self::Msg<'a>,
    ) -> Result<()>;

    /// The end of an RPC started with [`Ctx::rpc`]: its purpose and how it ended.
    fn on_rpc(&mut self, _ctx: &mut Ctx<Self>, _rpc: Self::Rpc, _end: RpcOutcome) -> Result<()> {
        Ok(())
    }

    /// A timer set with [`Ctx::set_timer`] or [`Ctx::set_interval`] fired.
    fn on_timer(&mut self, _ctx: &mut Ctx<Self>, _timer: Self::Timer) -> Result<()> {
        Ok(())
    }
}

/// The `Timer` or `Rpc` type of a family that has none: it has no values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Never {}

/// Who sent a message, and the `msg_id` to answer it with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sender<'a> {
    src: &'a str,
    msg_id: Option<u64>,
}

impl<'a> Sender<'a> {
    /// The sender `src` of a message with `msg_id`.
    pub fn new(src: &'a str, msg_id: Option<u64>) -> Sender<'a> {
        Sender { src, msg_id }
    }

    /// The sender's id: a node (`n3`), a client (`c7`) or a service (`lin-kv`).
    pub fn id(&self) -> &'a str {
        self.src
    }

    /// The message's `msg_id`, when the sender expects a reply.
    pub fn msg_id(&self) -> Option<u64> {
        self.msg_id
    }

    /// A [`Waiter`] to answer this message later, after the current call returned.
    pub fn defer(&self) -> Waiter {
        Waiter {
            dest: self.src.to_string(),
            msg_id: self.msg_id,
        }
    }
}

/// A request to answer later (once a service confirmed a write, say). Keep it in the
/// handler's state and hand it to [`Ctx::answer`] or [`Ctx::answer_error`], which consume
/// it: a waiter answers at most once.
#[derive(Debug, PartialEq, Eq)]
pub struct Waiter {
    pub(crate) dest: String,
    pub(crate) msg_id: Option<u64>,
}

impl Waiter {
    /// Who asked.
    pub fn dest(&self) -> &str {
        &self.dest
    }

    /// The request's `msg_id` (`None`: the requester expects no reply).
    pub fn msg_id(&self) -> Option<u64> {
        self.msg_id
    }
}

/// How an RPC ended. Each RPC ends exactly once.
#[derive(Debug)]
pub enum RpcOutcome<'a> {
    /// A reply arrived in time (it may be an error reply: see [`Message::error`]).
    Reply(&'a Message<'a>),
    /// No reply before the deadline. A reply arriving later is dropped by the runtime.
    Timeout,
}
