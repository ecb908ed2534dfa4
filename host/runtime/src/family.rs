//! A handler family as a node holds it: the handler, the purposes of its pending RPCs and
//! timers (keyed by msg_id and timer id, so no family keeps such a table), and the code
//! that runs one callback and then registers the timers and RPCs it asked for.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::ctx::{Command, Commands, Ctx};
use crate::error::{Error, Result};
use crate::handler::{Handler, RpcOutcome, Sender};
use crate::message::Message;
use crate::node::Kernel;
use crate::routing;
use crate::timers::{Fired, TimerId};

/// A handler family ready to install in a node: what a family's `build` function returns
/// ([`crate::HandlerSpec`]). The message types it answers are derived from the handler's
/// message enum.
pub struct Family {
    name: &'static str,
    types: std::result::Result<&'static [&'static str], String>,
    pub(crate) slot: Box<dyn Slot>,
}

impl Family {
    /// Wraps `handler`; its message types come from [`Handler::Msg`].
    pub fn new<H: Handler>(handler: H) -> Family {
        Family {
            name: "unnamed",
            types: routing::message_types::<H::Msg<'static>>(),
            slot: Box::new(Installed {
                handler,
                commands: Vec::new(),
                rpcs: HashMap::new(),
                timers: HashMap::new(),
            }),
        }
    }

    /// The same family under `name` (used in logs and error messages).
    pub fn named(mut self, name: &'static str) -> Family {
        self.name = name;
        self
    }

    /// The family's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The message types routed to this family, or why they could not be derived.
    pub fn message_types(&self) -> std::result::Result<&'static [&'static str], &str> {
        match &self.types {
            Ok(types) => Ok(types),
            Err(e) => Err(e.as_str()),
        }
    }
}

/// How a handler call ended.
pub(crate) enum CallEnd {
    Done,
    Failed(Error),
    Panicked(String),
}

/// A family with its handler type erased, as the node calls it. `me` is the family's
/// index in the node, under which its timers and RPCs are registered.
pub(crate) trait Slot {
    fn init(&mut self, k: &mut Kernel, me: usize) -> CallEnd;
    fn message(&mut self, k: &mut Kernel, me: usize, msg: &Message) -> CallEnd;
    fn rpc_ended(&mut self, k: &mut Kernel, me: usize, msg_id: u64, end: RpcOutcome) -> CallEnd;
    fn timer(&mut self, k: &mut Kernel, me: usize, fired: Fired) -> CallEnd;
}

struct Installed<H: Handler> {
    handler: H,
    commands: Commands<H>,
    rpcs: HashMap<u64, H::Rpc>,
    timers: HashMap<TimerId, H::Timer>,
}

impl<H: Handler> Installed<H> {
    fn call<F>(&mut self, k: &mut Kernel, me: usize, f: F) -> CallEnd
    where
        F: FnOnce(&mut H, &mut Ctx<H>) -> Result<()>,
    {
        let handler = &mut self.handler;
        let mut ctx = Ctx::new(&mut k.env, &mut k.out, &mut self.commands);
        let result = catch_unwind(AssertUnwindSafe(|| f(handler, &mut ctx)));
        self.apply(k, me);
        match result {
            Ok(Ok(())) => CallEnd::Done,
            Ok(Err(e)) => CallEnd::Failed(e),
            Err(payload) => CallEnd::Panicked(panic_text(payload.as_ref())),
        }
    }

    /// Registers the timers and RPCs the call asked for, in the order it asked.
    fn apply(&mut self, k: &mut Kernel, me: usize) {
        let now = k.env.now;
        for command in self.commands.drain(..) {
            match command {
                Command::Send { .. } | Command::Reply { .. } => {}
                Command::Rpc {
                    msg_id,
                    timeout,
                    purpose,
                    ..
                } => {
                    self.rpcs.insert(msg_id, purpose);
                    k.expect_reply(msg_id, now + timeout, me);
                }
                Command::SetTimer {
                    id,
                    after,
                    period,
                    timer,
                } => {
                    self.timers.insert(id, timer);
                    k.timers.schedule(id, now + after, period, me);
                }
                Command::CancelTimer { id } => {
                    self.timers.remove(&id);
                    k.timers.cancel(id);
                }
            }
        }
    }
}

impl<H: Handler> Slot for Installed<H> {
    fn init(&mut self, k: &mut Kernel, me: usize) -> CallEnd {
        self.call(k, me, |h, ctx| h.on_init(ctx))
    }

    fn message(&mut self, k: &mut Kernel, me: usize, msg: &Message) -> CallEnd {
        let from = Sender::new(&msg.src, msg.msg_id);
        self.call(k, me, |h, ctx| {
            let body = routing::decode::<H::Msg<'_>>(&msg.msg_type, msg.body)
                .map_err(|e| Error::malformed(format!("bad `{}` body: {e}", msg.msg_type)))?;
            h.on_message(ctx, from, body)
        })
    }

    fn rpc_ended(&mut self, k: &mut Kernel, me: usize, msg_id: u64, end: RpcOutcome) -> CallEnd {
        match self.rpcs.remove(&msg_id) {
            Some(purpose) => self.call(k, me, |h, ctx| h.on_rpc(ctx, purpose, end)),
            None => CallEnd::Done,
        }
    }

    fn timer(&mut self, k: &mut Kernel, me: usize, fired: Fired) -> CallEnd {
        let timer = if fired.periodic {
            self.timers.get(&fired.id).cloned()
        } else {
            self.timers.remove(&fired.id)
        };
        match timer {
            Some(timer) => self.call(k, me, |h, ctx| h.on_timer(ctx, timer)),
            None => CallEnd::Done,
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
