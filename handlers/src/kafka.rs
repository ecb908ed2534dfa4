//! Challenges 5a–5c: a Kafka-style log service (`send`, `poll`, `commit_offsets`,
//! `list_committed_offsets`), in one of two modes chosen by `kafka.mode`.
//!
//! Both modes keep every message once, compactly ([`log`]), answer polls from the local
//! copy (the checker has no recency requirement, only "everything acknowledged is
//! pollable by the end"), and share a reliable replication link per peer ([`stream`]):
//! each node streams the messages *it* stored (and, in `replicated` mode, the offsets
//! committed through it) straight to every other node in batches every
//! `replicate_ms`, resent until acknowledged, so partitions only delay them.
//!
//! **`replicated` (5c, also fine for 5a): no service, no forwarding, no owner.** Offsets
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

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use glomers_runtime::{
    ConfigError, Ctx, Error, Handler, HandlerSpec, Message, Result, RpcOutcome, Section,
};

use self::linkv::LinKv;
use self::log::{KeyId, Logs, Msg};
use self::stream::{Event, InFlight, Link};
use self::wire::{
    CommitsOut, EntriesOut, ListOk, ListRequest, OffsetsRequest, PollOk, Repl, ReplIn, ReplOk,
    SendOk, SendRequest, COMMIT_OK,
};

pub mod linkv;
pub mod log;
pub mod stream;
pub mod wire;

#[cfg(test)]
mod tests;

/// Message types this family answers (client requests and its replication batches).
pub const MESSAGE_TYPES: &[&str] = &[
    "send",
    "poll",
    "commit_offsets",
    "list_committed_offsets",
    "kafka_repl",
];

/// Timer token: replication batches and claim retries.
const TICK_REPLICATE: u64 = 0;
/// Timer token: lin-kv gap filling.
const TICK_GAPS: u64 = 1;

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

/// What an RPC of this family is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    /// A replication batch to this peer.
    Repl(String),
    /// A lin-kv request.
    LinKv(linkv::Purpose),
}

/// State shared by both modes: the logs, the replication links, the clock.
pub struct Core {
    settings: Settings,
    logs: Logs,
    links: BTreeMap<String, Link>,
    clock: u64,
    nodes: u64,
    index: u64,
    rpcs: HashMap<u64, Purpose>,
    next_token: u64,
}

impl Core {
    fn new(settings: Settings) -> Core {
        Core {
            settings,
            logs: Logs::default(),
            links: BTreeMap::new(),
            clock: 0,
            nodes: 1,
            index: 0,
            rpcs: HashMap::new(),
            next_token: 1,
        }
    }

    fn token(&mut self, purpose: Purpose) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        self.rpcs.insert(t, purpose);
        t
    }

    /// Streams a message this node stored to every peer.
    fn record_entry(&mut self, key: KeyId, offset: u64) {
        for link in self.links.values_mut() {
            link.push(Event::Entry(key, offset));
        }
    }

    /// Offsets below this are complete on this node (`replicated` mode).
    fn watermark(&self) -> u64 {
        let promise = |clock: u64| clock.saturating_add(1).saturating_mul(self.nodes);
        self.links
            .values()
            .map(|l| l.promised_clock().map_or(0, promise))
            .fold(promise(self.clock), u64::min)
    }

    /// The visible end of `key`'s log: polls return offsets below it.
    fn visible_end(&self, key: KeyId, watermark: u64) -> u64 {
        match self.settings.mode {
            Mode::Replicated => watermark,
            Mode::LinKv => self.logs.key(key).log.contiguous_len(),
        }
    }

    fn on_poll(&self, ctx: &mut Ctx, msg: &Message) -> Result<()> {
        let req: OffsetsRequest = msg.parse()?;
        let watermark = self.watermark();
        let mut runs = Vec::new();
        for (name, from) in &req.offsets {
            let Some(key) = self.logs.id(name) else {
                continue;
            };
            let entry = self.logs.key(key);
            let run = entry.log.range(*from, self.visible_end(key, watermark));
            if !run.is_empty() {
                runs.push((entry.name.as_ref(), run));
            }
        }
        ctx.reply(msg, &PollOk::new(runs))
    }

    /// Sends a batch to every peer that needs one.
    fn replicate(&mut self, ctx: &mut Ctx) -> Result<()> {
        let peers: Vec<String> = self
            .links
            .iter()
            .filter(|(_, l)| l.wants_batch(self.clock))
            .map(|(p, _)| p.clone())
            .collect();
        for peer in peers {
            let token = self.token(Purpose::Repl(peer.clone()));
            let Some(link) = self.links.get(&peer) else {
                continue;
            };
            let (seq, events) = link.batch(self.settings.batch_max);
            let mut groups: Vec<(&str, Vec<(u64, &Msg)>)> = Vec::new();
            let mut group_of: HashMap<KeyId, usize> = HashMap::new();
            let mut commits = CommitsOut::new();
            let mut count = 0u64;
            for event in events {
                count += 1;
                match *event {
                    Event::Entry(key, offset) => {
                        let entry = self.logs.key(key);
                        let Some(m) = entry.log.get(offset) else {
                            continue;
                        };
                        let g = *group_of.entry(key).or_insert_with(|| {
                            groups.push((entry.name.as_ref(), Vec::new()));
                            groups.len() - 1
                        });
                        groups[g].1.push((offset, m));
                    }
                    Event::Commit(key, offset) => {
                        let c = commits.entry(self.logs.key(key).name.as_ref()).or_insert(0);
                        *c = (*c).max(offset);
                    }
                }
            }
            let body = Repl::new(
                seq,
                seq + count,
                link.end(),
                self.clock,
                EntriesOut(groups),
                commits,
            );
            ctx.rpc(&peer, &body, self.settings.replicate_timeout, token)?;
            let clock = self.clock;
            if let Some(link) = self.links.get_mut(&peer) {
                link.sent(InFlight { token, clock });
            }
        }
        Ok(())
    }

    /// A peer's batch: apply it, answer with how far its stream is applied.
    fn on_repl(&mut self, ctx: &mut Ctx, msg: &Message) -> Result<()> {
        let batch: ReplIn = msg.parse()?;
        let Some(link) = self.links.get_mut(msg.src.as_ref()) else {
            return Err(Error::malformed(format!(
                "kafka_repl from {}, which is not a peer of this node",
                msg.src
            )));
        };
        if link.receive(batch.seq, batch.upto) {
            for (name, run) in &batch.entries {
                let key = self.logs.intern(name);
                let log = &mut self.logs.key_mut(key).log;
                for (offset, raw) in run {
                    log.insert(*offset, Msg::from_raw(raw));
                }
            }
            for (name, offset) in &batch.commits {
                let key = self.logs.intern(name);
                self.logs.commit(key, *offset);
            }
        }
        self.clock = self.clock.max(batch.clock);
        let Some(link) = self.links.get_mut(msg.src.as_ref()) else {
            return Ok(());
        };
        link.promise(batch.end, batch.clock);
        link.told(self.clock);
        let ack = ReplOk::new(link.applied(), link.end(), self.clock);
        ctx.reply(msg, &ack)
    }

    fn on_repl_outcome(&mut self, peer: &str, token: u64, outcome: &RpcOutcome) -> Result<()> {
        let Some(link) = self.links.get_mut(peer) else {
            return Ok(());
        };
        let Some(sent) = link.in_flight().filter(|f| f.token == token) else {
            return Ok(());
        };
        match outcome {
            RpcOutcome::Reply(msg) if msg.msg_type == "kafka_repl_ok" => {
                let ack: ReplOk = msg.parse()?;
                link.acked(ack.applied, sent.clock);
                link.promise(ack.end, ack.clock);
                self.clock = self.clock.max(ack.clock);
            }
            _ => link.lost(),
        }
        Ok(())
    }

    /// `send` in replicated mode: tick the clock, store, acknowledge.
    fn send_replicated(&mut self, ctx: &mut Ctx, msg: &Message) -> Result<()> {
        let req: SendRequest = msg.parse()?;
        let key = self.logs.intern(&req.key);
        self.clock += 1;
        let offset = self
            .clock
            .saturating_mul(self.nodes)
            .saturating_add(self.index);
        self.logs
            .key_mut(key)
            .log
            .insert(offset, Msg::from_raw(req.msg));
        self.record_entry(key, offset);
        ctx.reply(msg, &SendOk::new(offset))
    }

    /// `commit_offsets` in replicated mode: keep the maximum, stream it.
    fn commit_replicated(&mut self, ctx: &mut Ctx, msg: &Message) -> Result<()> {
        let req: OffsetsRequest = msg.parse()?;
        for (name, offset) in &req.offsets {
            let key = self.logs.intern(name);
            if self.logs.commit(key, *offset) {
                for link in self.links.values_mut() {
                    link.push(Event::Commit(key, *offset));
                }
            }
        }
        ctx.reply(msg, &COMMIT_OK)
    }

    /// `list_committed_offsets` in replicated mode: what this node knows.
    fn list_replicated(&self, ctx: &mut Ctx, msg: &Message) -> Result<()> {
        let req: ListRequest = msg.parse()?;
        let offsets = req
            .keys
            .iter()
            .filter_map(|name| {
                let entry = self.logs.key(self.logs.id(name)?);
                Some((entry.name.as_ref(), entry.committed?))
            })
            .collect();
        ctx.reply(msg, &ListOk::new(offsets))
    }
}

/// The kafka family's handler.
pub struct Kafka {
    core: Core,
    linkv: Option<LinKv>,
}

impl Kafka {
    /// A handler with `settings`; `epoch` makes lin-kv claim stamps unique per process.
    pub fn new(settings: Settings, epoch: u64) -> Kafka {
        Kafka {
            linkv: (settings.mode == Mode::LinKv).then(|| LinKv::new(settings.kv_timeout, epoch)),
            core: Core::new(settings),
        }
    }

    /// Number of keys and of messages this node holds.
    pub fn sizes(&self) -> (usize, usize) {
        (self.core.logs.key_count(), self.core.logs.message_count())
    }
}

impl Handler for Kafka {
    fn on_init(&mut self, ctx: &mut Ctx) -> Result<()> {
        let me = ctx.node_id().to_string();
        self.core.nodes = ctx.node_ids().len().max(1) as u64;
        self.core.index = ctx.node_ids().iter().position(|n| *n == me).unwrap_or(0) as u64;
        self.core.links = ctx
            .peers()
            .map(|p| (p.to_string(), Link::default()))
            .collect();
        ctx.set_interval(self.core.settings.replicate_every, TICK_REPLICATE);
        if self.linkv.is_some() {
            ctx.set_interval(self.core.settings.gap_fill_every, TICK_GAPS);
        }
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx, msg: &Message) -> Result<()> {
        let core = &mut self.core;
        match (msg.msg_type.as_ref(), self.linkv.as_mut()) {
            ("poll", _) => core.on_poll(ctx, msg),
            ("kafka_repl", _) => core.on_repl(ctx, msg),
            ("send", None) => core.send_replicated(ctx, msg),
            ("send", Some(l)) => l.on_send(core, ctx, msg),
            ("commit_offsets", None) => core.commit_replicated(ctx, msg),
            ("commit_offsets", Some(l)) => l.on_commit(core, ctx, msg),
            ("list_committed_offsets", None) => core.list_replicated(ctx, msg),
            ("list_committed_offsets", Some(l)) => l.on_list(core, ctx, msg),
            (other, _) => Err(Error::not_supported(format!(
                "the kafka family does not handle `{other}`"
            ))),
        }
    }

    fn on_rpc(&mut self, ctx: &mut Ctx, token: u64, outcome: RpcOutcome) -> Result<()> {
        let Some(purpose) = self.core.rpcs.remove(&token) else {
            return Ok(());
        };
        match (purpose, self.linkv.as_mut()) {
            (Purpose::Repl(peer), _) => self.core.on_repl_outcome(&peer, token, &outcome),
            (Purpose::LinKv(p), Some(l)) => l.on_outcome(&mut self.core, ctx, p, &outcome),
            (Purpose::LinKv(_), None) => Ok(()),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx, token: u64) -> Result<()> {
        match (token, self.linkv.as_mut()) {
            (TICK_REPLICATE, linkv) => {
                if let Some(l) = linkv {
                    l.on_tick(&mut self.core, ctx)?;
                }
                self.core.replicate(ctx)
            }
            (TICK_GAPS, Some(l)) => l.fill_gaps(&mut self.core, ctx),
            _ => Ok(()),
        }
    }
}

/// Nanoseconds since the Unix epoch at start-up: makes claim stamps unique per process.
fn process_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or_default()
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

fn build(s: &mut Section) -> std::result::Result<Box<dyn Handler>, ConfigError> {
    let settings = Settings::from_section(s)?;
    Ok(Box::new(Kafka::new(settings, process_epoch())))
}

glomers_runtime::inventory::submit! {
    HandlerSpec {
        family: "kafka",
        summary: "challenges 5a-5c: Kafka-style logs (Lamport offsets, or lin-kv)",
        message_types: MESSAGE_TYPES,
        build,
    }
}
