//! What a handler acts through: [`Ctx`] reads the node's identity, clock, randomness and
//! nonce, and writes effects as [`Command`] values into an output the runtime owns.
//!
//! Message bodies are serialized by the runtime when the command is written (so a body
//! may borrow the handler's state), straight into the node's output buffer; the command
//! records where its line is. Timers and RPCs are registered by the runtime from the
//! commands once the handler call returns.

use std::ops::Range;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;
use slog::{debug, Logger};

use crate::error::Error;
use crate::handler::{Handler, Sender, Waiter};
use crate::message::{write_message, ErrorBody};
use crate::timers::TimerId;

/// Who this node is, learned from `init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// This node's id, e.g. "n0".
    pub id: String,
    /// Every node of the cluster in Maelstrom's order, this one included.
    pub node_ids: Vec<String>,
}

/// The inputs a node gets besides its messages and clock: the seed of its random number
/// generator and a per-process nonce (distinct for every process of one node id, e.g.
/// across restarts). The host draws them at start; tests and simulations choose them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeds {
    /// Seed of [`Ctx::rng`].
    pub rng: u64,
    /// [`Ctx::nonce`].
    pub nonce: u64,
}

impl Seeds {
    /// Fixed seeds, for tests and deterministic runs.
    pub const fn fixed(rng: u64, nonce: u64) -> Seeds {
        Seeds { rng, nonce }
    }
}

/// The node's random number generator (ChaCha8, seeded from [`Seeds::rng`]): the same
/// seed gives the same numbers on every platform. Use it through `rand::Rng`.
#[derive(Debug, Clone)]
pub struct NodeRng(ChaCha8Rng);

impl NodeRng {
    /// A generator seeded with `seed`.
    pub fn seeded(seed: u64) -> NodeRng {
        NodeRng(ChaCha8Rng::seed_from_u64(seed))
    }
}

impl RngCore for NodeRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
}

/// The node state handlers may read, and the counters effects draw ids from.
pub(crate) struct Env {
    pub(crate) info: Option<NodeInfo>,
    pub(crate) now: Duration,
    pub(crate) log: Logger,
    pub(crate) rng: NodeRng,
    pub(crate) nonce: u64,
    pub(crate) next_msg_id: u64,
    pub(crate) next_timer_id: u64,
}

impl Env {
    pub(crate) fn new(log: Logger, seeds: Seeds) -> Env {
        Env {
            info: None,
            now: Duration::ZERO,
            log,
            rng: NodeRng::seeded(seeds.rng),
            nonce: seeds.nonce,
            next_msg_id: 1,
            next_timer_id: 0,
        }
    }

    pub(crate) fn own_id(&self) -> &str {
        self.info.as_ref().map_or("", |i| i.id.as_str())
    }
}

/// One effect a handler wrote. Message commands point at their line in the output.
#[derive(Debug)]
pub enum Command<T, R> {
    /// A message expecting no reply.
    Send {
        /// Its line (with newline) in the output buffer.
        line: Range<usize>,
    },
    /// A reply to a request.
    Reply {
        /// Its line (with newline) in the output buffer.
        line: Range<usize>,
    },
    /// A request whose reply or timeout comes back with `purpose`.
    Rpc {
        /// Its line (with newline) in the output buffer.
        line: Range<usize>,
        /// The msg_id it was sent with.
        msg_id: u64,
        /// How long to wait for the reply.
        timeout: Duration,
        /// What it is for.
        purpose: R,
    },
    /// A timer, firing `after` from now and then every `period` if given.
    SetTimer {
        /// Its id, for cancelling.
        id: TimerId,
        /// Delay of the first firing.
        after: Duration,
        /// Period of the following ones.
        period: Option<Duration>,
        /// What it is for.
        timer: T,
    },
    /// Cancels a timer (harmless if it already fired).
    CancelTimer {
        /// The timer.
        id: TimerId,
    },
}

/// The commands of one handler family, as its context records them.
pub type Commands<H> = Vec<Command<<H as Handler>::Timer, <H as Handler>::Rpc>>;

/// What a handler uses to act: reply, send, call, set timers, and read the node's
/// identity, clock, randomness and nonce.
pub struct Ctx<'c, H: Handler> {
    env: &'c mut Env,
    out: &'c mut Vec<u8>,
    commands: &'c mut Commands<H>,
}

impl<'c, H: Handler> Ctx<'c, H> {
    pub(crate) fn new(
        env: &'c mut Env,
        out: &'c mut Vec<u8>,
        commands: &'c mut Commands<H>,
    ) -> Self {
        Ctx { env, out, commands }
    }

    /// This node's id. Empty only before `init`, when no handler is called.
    pub fn node_id(&self) -> &str {
        self.env.own_id()
    }

    /// All node ids of the cluster, this one included, in Maelstrom's order.
    pub fn node_ids(&self) -> &[String] {
        self.env
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

    /// Time since the node started (virtual in tests and simulations).
    pub fn now(&self) -> Duration {
        self.env.now
    }

    /// The node's random number generator.
    pub fn rng(&mut self) -> &mut NodeRng {
        &mut self.env.rng
    }

    /// A number distinct for every process of this node id (e.g. across restarts): what
    /// makes ids and stamps unique without reading the wall clock.
    pub fn nonce(&self) -> u64 {
        self.env.nonce
    }

    /// The node's logger (stderr).
    pub fn log(&self) -> &Logger {
        &self.env.log
    }

    /// Replies to `to` with `body` (an object with `type` and the reply's fields). Does
    /// nothing if the message had no `msg_id`.
    pub fn reply<B: Serialize>(&mut self, to: &Sender, body: &B) {
        if let Some(id) = to.msg_id() {
            let line = self.write(to.id(), None, Some(id), body);
            self.commands.push(Command::Reply { line });
        }
    }

    /// Replies to `to` with a Maelstrom error.
    pub fn reply_error(&mut self, to: &Sender, err: &Error) {
        self.reply(to, &ErrorBody::new(err));
    }

    /// Answers a deferred request with `body` (nothing if it had no `msg_id`).
    pub fn answer<B: Serialize>(&mut self, waiter: Waiter, body: &B) {
        if let Some(id) = waiter.msg_id {
            let line = self.write(&waiter.dest, None, Some(id), body);
            self.commands.push(Command::Reply { line });
        }
    }

    /// Answers a deferred request with a Maelstrom error.
    pub fn answer_error(&mut self, waiter: Waiter, err: &Error) {
        self.answer(waiter, &ErrorBody::new(err));
    }

    /// Sends `body` to `dest` expecting no reply (no `msg_id`).
    pub fn send<B: Serialize>(&mut self, dest: &str, body: &B) {
        let line = self.write(dest, None, None, body);
        self.commands.push(Command::Send { line });
    }

    /// Sends a request to `dest` with a fresh `msg_id`. Its reply, or a timeout after
    /// `timeout`, reaches [`Handler::on_rpc`] exactly once, with `purpose`. Returns the
    /// msg_id used.
    pub fn rpc<B: Serialize>(
        &mut self,
        dest: &str,
        body: &B,
        timeout: Duration,
        purpose: H::Rpc,
    ) -> u64 {
        let msg_id = self.env.next_msg_id;
        self.env.next_msg_id += 1;
        let line = self.write(dest, Some(msg_id), None, body);
        self.commands.push(Command::Rpc {
            line,
            msg_id,
            timeout,
            purpose,
        });
        msg_id
    }

    /// Fires [`Handler::on_timer`] with `timer` once, `after` from now.
    pub fn set_timer(&mut self, after: Duration, timer: H::Timer) -> TimerId {
        self.timer(after, None, timer)
    }

    /// Fires [`Handler::on_timer`] with `timer` every `period`, first one period from now.
    pub fn set_interval(&mut self, period: Duration, timer: H::Timer) -> TimerId {
        self.timer(period, Some(period), timer)
    }

    /// Cancels a timer (harmless if it already fired or was cancelled).
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.commands.push(Command::CancelTimer { id });
    }

    fn timer(&mut self, after: Duration, period: Option<Duration>, timer: H::Timer) -> TimerId {
        let id = TimerId(self.env.next_timer_id);
        self.env.next_timer_id += 1;
        self.commands.push(Command::SetTimer {
            id,
            after,
            period,
            timer,
        });
        id
    }

    /// Appends one line; a body that cannot be serialized is a bug in the family, so it
    /// panics, and the runtime contains the panic like any other.
    fn write<B: Serialize>(
        &mut self,
        dest: &str,
        msg_id: Option<u64>,
        in_reply_to: Option<u64>,
        body: &B,
    ) -> Range<usize> {
        let start = self.out.len();
        if let Err(e) = write_message(self.out, self.env.own_id(), dest, msg_id, in_reply_to, body)
        {
            debug!(self.env.log, "unserializable body"; "dest" => dest);
            panic!("could not serialize a message body for {dest}: {e}");
        }
        start..self.out.len()
    }
}
