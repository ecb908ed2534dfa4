//! Challenges 5a–5c: a Kafka-style log service (`send`, `poll`, `commit_offsets`,
//! `list_committed_offsets`), in one of two modes chosen by `kafka.mode`.
//!
//! Both modes keep every message once, compactly ([`log`]), answer polls from the local
//! copy (the checker has no recency requirement, only "everything acknowledged is
//! pollable by the end"), and share a node's [`replica`]: a reliable replication link
//! per peer ([`stream`]):
//! each node streams the messages *it* stored (and, in `replicated` mode, the offsets
//! committed through it) straight to every other node in batches every
//! `replicate_ms`, resent until acknowledged, so partitions only delay them.
//!
//! **`replicated` (5c, also fine for 5a, [`replicated`]): no service, no forwarding, no
//! owner.** Offsets
//! come from a Lamport clock: a node storing a message ticks its clock `L` and uses
//! offset `L × N + i` (`N` nodes, `i` its index in `init`'s list), unique without
//! coordination and above every offset it has seen, so one node's offsets per key
//! strictly increase (and a client always talks to the same node). A send is stored and
//! acknowledged at once, so sends stay available under any partition. Offsets of
//! different nodes interleave, so a poll may only show a prefix of a log that can no
//! longer grow below its end: every batch and acknowledgement carries its sender's
//! clock `C` with a position `end` of its stream, a promise that it stored nothing
//! else below `(C + 1) × N` (receivers raise their own clock to what they hear, as
//! Lamport clocks do). A node answers polls only up to the *watermark*, the smallest
//! promise over all nodes (its own is `(L + 1) × N`), so a message below it can never
//! appear later, and polls never skip. Offsets are sparse, which Maelstrom allows. A
//! partition stalls the watermark (polls show less, but stay valid and available); it
//! moves on as soon as the links catch up. Committed offsets are kept per node as a
//! maximum and streamed like messages; they are advisory in this workload.
//!
//! **`lin-kv` (5b): offsets and committed offsets through the service** (see [`linkv`]):
//! a message claims the next dense slot of its key in lin-kv with a create-only
//! compare-and-set, and commits raise a per-key value with a cas loop. Messages are
//! learned from the claimers' streams, and from lin-kv when a gap lasts.
//!
//! Cost in `replicated` mode: no message per operation, only about one batch and one
//! acknowledgement per peer per `replicate_ms` while clients are active, and nothing
//! once every node has heard every clock.

use std::time::Duration;

use glomers_runtime::{
    ConfigError, Ctx, Family, Handler, HandlerSpec, Result, RpcOutcome, Section, Sender,
};
use serde::Deserialize;

use self::linkv::LinKv;
use self::replica::Replica;
use self::wire::{ListRequest, OffsetsRequest, ReplIn, SendRequest};

pub mod linkv;
pub mod log;
pub mod replica;
pub mod replicated;
pub mod stream;
pub mod wire;

#[cfg(test)]
mod tests;

/// The messages this family answers: the client RPCs and its replication batches. The
/// enum is externally tagged so message values and batch entries are borrowed from the
/// input line as raw JSON.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaMsg<'a> {
    /// `send {key, msg}`.
    Send(#[serde(borrow)] SendRequest<'a>),
    /// `poll {offsets}`.
    Poll(#[serde(borrow)] OffsetsRequest<'a>),
    /// `commit_offsets {offsets}`.
    CommitOffsets(#[serde(borrow)] OffsetsRequest<'a>),
    /// `list_committed_offsets {keys}`.
    ListCommittedOffsets(#[serde(borrow)] ListRequest<'a>),
    /// A peer's replication batch.
    #[serde(rename = "kafka_repl")]
    Repl(#[serde(borrow)] ReplIn<'a>),
}

/// What a kafka timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KafkaTimer {
    /// Replication batches (and, in lin-kv mode, claim retries).
    Replicate,
    /// lin-kv mode: reading slots missing for too long.
    FillGaps,
}

/// What a kafka RPC is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KafkaRpc {
    /// A replication batch to `peer`, numbered `batch`.
    Repl {
        /// The peer.
        peer: String,
        /// The batch's number.
        batch: u64,
    },
    /// A lin-kv request.
    LinKv(linkv::Purpose),
}

/// Which design runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lamport offsets, no service (5c).
    Replicated,
    /// Offsets and commits in lin-kv (5b).
    LinKv,
}

/// The family's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The design.
    pub mode: Mode,
    /// Period of replication batches.
    pub replicate_every: Duration,
    /// How long a batch waits for its acknowledgement before it may be resent.
    pub replicate_timeout: Duration,
    /// Most events per batch.
    pub batch_max: usize,
    /// Timeout of one lin-kv request.
    pub kv_timeout: Duration,
    /// lin-kv mode: time after which an unsettled send or commit gets error 0.
    pub send_deadline: Duration,
    /// lin-kv mode: how long a gap must last before it is read from lin-kv.
    pub gap_fill_every: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::Replicated,
            replicate_every: Duration::from_millis(50),
            replicate_timeout: Duration::from_millis(500),
            batch_max: 4096,
            kv_timeout: Duration::from_millis(1000),
            send_deadline: Duration::from_millis(3000),
            gap_fill_every: Duration::from_millis(1000),
        }
    }
}

/// The kafka family's handler: the replica and, in lin-kv mode, the service state.
pub struct Kafka {
    replica: Replica,
    linkv: Option<LinKv>,
}

impl Kafka {
    /// A handler with `settings`.
    pub fn new(settings: Settings) -> Kafka {
        Kafka {
            linkv: (settings.mode == Mode::LinKv).then(|| LinKv::new(settings.kv_timeout)),
            replica: Replica::new(settings),
        }
    }

    /// Number of keys and of messages this node holds.
    pub fn sizes(&self) -> (usize, usize) {
        (
            self.replica.logs.key_count(),
            self.replica.logs.message_count(),
        )
    }
}

impl Handler for Kafka {
    type Msg<'a> = KafkaMsg<'a>;
    type Timer = KafkaTimer;
    type Rpc = KafkaRpc;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) -> Result<()> {
        let ids = ctx.node_ids().to_vec();
        self.replica.join(ctx.node_id(), &ids);
        ctx.set_interval(self.replica.settings.replicate_every, KafkaTimer::Replicate);
        if self.linkv.is_some() {
            ctx.set_interval(self.replica.settings.gap_fill_every, KafkaTimer::FillGaps);
        }
        Ok(())
    }

    fn on_message<'a>(
        &mut self,
        ctx: &mut Ctx<Self>,
        from: Sender<'a>,
        msg: KafkaMsg<'a>,
    ) -> Result<()> {
        let replica = &mut self.replica;
        match (msg, self.linkv.as_mut()) {
            (KafkaMsg::Poll(req), _) => replica.on_poll(ctx, &from, &req),
            (KafkaMsg::Repl(batch), _) => replica.on_repl(ctx, &from, batch)?,
            (KafkaMsg::Send(req), None) => replicated::on_send(replica, ctx, &from, req),
            (KafkaMsg::Send(req), Some(l)) => l.on_send(replica, ctx, &from, req),
            (KafkaMsg::CommitOffsets(req), None) => replicated::on_commit(replica, ctx, &from, req),
            (KafkaMsg::CommitOffsets(req), Some(l)) => l.on_commit(replica, ctx, &from, req),
            (KafkaMsg::ListCommittedOffsets(req), None) => {
                replicated::on_list(replica, ctx, &from, req)
            }
            (KafkaMsg::ListCommittedOffsets(req), Some(l)) => l.on_list(replica, ctx, &from, req),
        }
        Ok(())
    }

    fn on_rpc(&mut self, ctx: &mut Ctx<Self>, rpc: KafkaRpc, end: RpcOutcome) -> Result<()> {
        match (rpc, self.linkv.as_mut()) {
            (KafkaRpc::Repl { peer, batch }, _) => {
                self.replica.on_repl_outcome(&peer, batch, &end)?
            }
            (KafkaRpc::LinKv(p), Some(l)) => l.on_outcome(&mut self.replica, ctx, p, &end),
            (KafkaRpc::LinKv(_), None) => {}
        }
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, timer: KafkaTimer) -> Result<()> {
        match (timer, self.linkv.as_mut()) {
            (KafkaTimer::Replicate, linkv) => {
                if let Some(l) = linkv {
                    l.on_tick(&mut self.replica, ctx);
                }
                self.replica.replicate(ctx);
            }
            (KafkaTimer::FillGaps, Some(l)) => l.fill_gaps(&mut self.replica, ctx),
            (KafkaTimer::FillGaps, None) => {}
        }
        Ok(())
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl Settings {
    /// Reads and checks `[kafka]`; absent keys take the [`Default`] values.
    pub fn from_section(s: &mut Section) -> std::result::Result<Settings, ConfigError> {
        let d = Settings::default();
        let mode = match s
            .choice("mode", "replicated", &["replicated", "lin-kv"])?
            .as_str()
        {
            "lin-kv" => Mode::LinKv,
            _ => Mode::Replicated,
        };
        let settings = Settings {
            mode,
            replicate_every: s.millis("replicate_ms", ms(d.replicate_every), 1..=10_000)?,
            replicate_timeout: s.millis(
                "replicate_timeout_ms",
                ms(d.replicate_timeout),
                1..=60_000,
            )?,
            batch_max: s.u64("batch_max", d.batch_max as u64, 1..=1_000_000)? as usize,
            kv_timeout: s.millis("kv_timeout_ms", ms(d.kv_timeout), 1..=4000)?,
            send_deadline: s.millis("send_deadline_ms", ms(d.send_deadline), 1..=4000)?,
            gap_fill_every: s.millis("gap_fill_ms", ms(d.gap_fill_every), 1..=60_000)?,
        };
        if settings.kv_timeout + settings.send_deadline > Duration::from_millis(4500) {
            return Err(s.error(
                "send_deadline_ms",
                "send_deadline_ms + kv_timeout_ms must stay under 4500 so every reply reaches \
                 the client before its 5 s timeout",
            ));
        }
        Ok(settings)
    }
}

fn build(s: &mut Section) -> std::result::Result<Family, ConfigError> {
    let settings = Settings::from_section(s)?;
    Ok(Family::new(Kafka::new(settings)))
}

glomers_runtime::inventory::submit! {
    HandlerSpec {
        family: "kafka",
        summary: "challenges 5a-5c: Kafka-style logs (Lamport offsets, or lin-kv)",
        build,
    }
}
