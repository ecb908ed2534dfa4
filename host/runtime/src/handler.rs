//! The trait every handler family implements, and what it is handed back for its RPCs.

use crate::error::Result;
use crate::message::Message;
use crate::node::Ctx;

/// How an RPC this handler sent ended. Each RPC ends exactly once.
#[derive(Debug)]
pub enum RpcOutcome<'a> {
    /// A reply arrived in time (it may be an error reply: see [`Message::error`]).
    Reply(&'a Message<'a>),
    /// No reply before the deadline. A reply arriving later is dropped by the core.
    Timeout,
}

/// A handler family's node-side logic. Handlers are sans-IO: they never block, sleep or
/// spawn threads; they act only through the [`Ctx`] they are given.
pub trait Handler {
    /// Called once, after this node received `init` (node id and peers are known).
    fn on_init(&mut self, _ctx: &mut Ctx) -> Result<()> {
        Ok(())
    }

    /// A message of one of the types this family registered. Returning an error sends
    /// the requester a Maelstrom error reply (if it had a `msg_id`).
    fn on_message(&mut self, ctx: &mut Ctx, msg: &Message) -> Result<()>;

    /// The end of an RPC started with [`Ctx::rpc`], with the token given then.
    fn on_rpc(&mut self, _ctx: &mut Ctx, _token: u64, _outcome: RpcOutcome) -> Result<()> {
        Ok(())
    }

    /// A timer set with [`Ctx::set_timer`] or [`Ctx::set_interval`] fired.
    fn on_timer(&mut self, _ctx: &mut Ctx, _token: u64) -> Result<()> {
        Ok(())
    }
}
