//! What both kafka modes share: this node's copy of the logs, its Lamport clock, and a
//! replication link per peer, with polls answered from the local copy.
//!
//! Each node streams the messages *it* stored (and, in `replicated` mode, the offsets
//! committed through it) to every peer in batches every `replicate_ms`, resent until
//! acknowledged. Every batch and acknowledgement carries its sender's clock with a
//! position of its stream: a promise used by the replicated mode's watermark (see the
//! family's module doc).

use std::collections::{BTreeMap, HashMap};

use glomers_runtime::{Ctx, Error, Message, Result, RpcOutcome, Sender};

use super::log::{KeyId, Logs, Msg};
use super::stream::{Event, InFlight, Link};
use super::wire::{CommitsOut, EntriesOut, OffsetsRequest, PollOk, Repl, ReplIn, ReplOk};
use super::{Kafka, KafkaRpc, Mode, Settings};

/// The largest Lamport clock taken from a peer. Far beyond any run (a clock ticks once
/// per send), and low enough that offsets `clock × nodes + index` cannot overflow for
/// clusters of up to 65,536 nodes: a larger clock in a batch or an acknowledgement is
/// refused, since it would make this node's offsets saturate and collide.
pub const MAX_CLOCK: u64 = 1 << 48;

/// The largest offset taken from a peer's batch: beyond any run, and far enough from
/// `u64::MAX` that the slot after it (lin-kv mode claims `last + 1`) still exists.
pub const MAX_OFFSET: u64 = 1 << 62;

fn check_offsets(batch: &ReplIn) -> Result<()> {
    let entries = batch.entries.values().flatten().map(|(offset, _)| *offset);
    let commits = batch.commits.values().copied();
    match entries.chain(commits).find(|o| *o > MAX_OFFSET) {
        Some(o) => Err(Error::malformed(format!(
            "kafka_repl carries offset {o}, beyond the largest accepted ({MAX_OFFSET})"
        ))),
        None => Ok(()),
    }
}

fn check_clock(clock: u64, what: &str) -> Result<()> {
    if clock > MAX_CLOCK {
        return Err(Error::malformed(format!(
            "{what} carries clock {clock}, beyond the largest accepted ({MAX_CLOCK})"
        )));
    }
    Ok(())
}

/// A node's logs, clock and replication links.
pub struct Replica {
    pub(crate) settings: Settings,
    pub(crate) logs: Logs,
    links: BTreeMap<String, Link>,
    pub(crate) clock: u64,
    pub(crate) nodes: u64,
    pub(crate) index: u64,
    next_batch: u64,
}

impl Replica {
    /// An empty replica; [`Replica::join`] sets the cluster up.
    pub fn new(settings: Settings) -> Replica {
        Replica {
            settings,
            logs: Logs::default(),
            links: BTreeMap::new(),
            clock: 0,
            nodes: 1,
            index: 0,
            next_batch: 1,
        }
    }

    /// Takes this node's place among `node_ids` (from `init`), with a link per peer.
    pub fn join(&mut self, me: &str, node_ids: &[String]) {
        self.nodes = node_ids.len().max(1) as u64;
        self.index = node_ids.iter().position(|n| n == me).unwrap_or(0) as u64;
        self.links = node_ids
            .iter()
            .filter(|n| n.as_str() != me)
            .map(|p| (p.clone(), Link::default()))
            .collect();
    }

    /// Streams a message this node stored to every peer.
    pub fn record_entry(&mut self, key: KeyId, offset: u64) {
        for link in self.links.values_mut() {
            link.push(Event::Entry(key, offset));
        }
    }

    /// Streams a committed offset to every peer.
    pub fn record_commit(&mut self, key: KeyId, offset: u64) {
        for link in self.links.values_mut() {
            link.push(Event::Commit(key, offset));
        }
    }

    /// Offsets below this are complete on this node (`replicated` mode).
    pub fn watermark(&self) -> u64 {
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

    /// `poll`: a contiguous run of each asked log from the asked offset.
    pub fn on_poll(&self, ctx: &mut Ctx<Kafka>, from: &Sender, req: &OffsetsRequest) {
        let watermark = self.watermark();
        let mut runs = Vec::new();
        for (name, from_offset) in &req.offsets {
            let Some(key) = self.logs.id(name) else {
                continue;
            };
            let entry = self.logs.key(key);
            let run = entry
                .log
                .range(*from_offset, self.visible_end(key, watermark));
            if !run.is_empty() {
                runs.push((entry.name.as_ref(), run));
            }
        }
        ctx.reply(from, &PollOk::new(runs));
    }

    /// Sends a batch to every peer that needs one.
    pub fn replicate(&mut self, ctx: &mut Ctx<Kafka>) {
        for (peer, link) in &mut self.links {
            if !link.wants_batch(self.clock) {
                continue;
            }
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
            let batch = self.next_batch;
            self.next_batch += 1;
            let purpose = KafkaRpc::Repl {
                peer: peer.clone(),
                batch,
            };
            ctx.rpc(peer, &body, self.settings.replicate_timeout, purpose);
            link.sent(InFlight {
                batch,
                clock: self.clock,
            });
        }
    }

    /// A peer's batch: apply it, answer with how far its stream is applied.
    pub fn on_repl(&mut self, ctx: &mut Ctx<Kafka>, from: &Sender, batch: ReplIn) -> Result<()> {
        let Some(link) = self.links.get_mut(from.id()) else {
            return Err(Error::malformed(format!(
                "kafka_repl from {}, which is not a peer of this node",
                from.id()
            )));
        };
        check_clock(batch.clock, "kafka_repl")?;
        check_offsets(&batch)?;
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
        link.promise(batch.end, batch.clock);
        link.told(self.clock);
        let ack = ReplOk::new(link.applied(), link.end(), self.clock);
        ctx.reply(from, &ack);
        Ok(())
    }

    /// The end of the batch numbered `batch` sent to `peer`.
    pub fn on_repl_outcome(&mut self, peer: &str, batch: u64, end: &RpcOutcome) -> Result<()> {
        let Some(link) = self.links.get_mut(peer) else {
            return Ok(());
        };
        let Some(sent) = link.in_flight().filter(|f| f.batch == batch) else {
            return Ok(());
        };
        match end {
            RpcOutcome::Reply(msg) if msg.msg_type == "kafka_repl_ok" => {
                let ack: ReplOk = Message::parse(msg)?;
                if let Err(e) = check_clock(ack.clock, "kafka_repl_ok") {
                    link.lost();
                    return Err(e);
                }
                link.acked(ack.applied, sent.clock);
                link.promise(ack.end, ack.clock);
                self.clock = self.clock.max(ack.clock);
            }
            _ => link.lost(),
        }
        Ok(())
    }
}
