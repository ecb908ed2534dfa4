//! The counter on Maelstrom's `seq-kv` service.
//!
//! **Where the counter lives.** Each node `n` owns one seq-kv key, `counter/<n>`, holding
//! its contribution `[increments, decrements]` (see [`Contribution`]); only `n` writes it,
//! and its parts only grow. The counter's value is the sum of all nodes' keys.
//!
//! **What a node holds, and why it is not authoritative.** A node keeps:
//! - `own`: the value of its own key as last *confirmed by seq-kv* (the reply to its own
//!   compare-and-set, or a fresh read). It is only a guess used as the `from` of the next
//!   compare-and-set: if it is wrong (for instance after a restart it starts unknown), the
//!   cas fails and the node re-reads its key before trying again, so seq-kv stays the
//!   source of truth and nothing is lost if the node forgets everything.
//! - `others`: the largest value it has read from each other node's key, a cache used to
//!   answer `read` without a service round trip. Stale entries only make reads lag.
//! - the adds waiting for the next batch. With `add_ack = "stored"` (the default) they
//!   are **not acknowledged** until seq-kv has stored them, so losing them loses nothing
//!   a client was told had happened. With `add_ack = "received"` they are acknowledged
//!   at once and stored with the next batch: with one client per node that is the only
//!   way for adds to share a batch at all (a client waiting for its `add_ok` sends
//!   nothing else), at the price of a window of `flush_ms` in which a crashed node
//!   would lose acknowledged adds.
//!
//! **Adds** are batched: an add is written at once when the node's previous batch is
//! stored and at least `flush_ms` old; otherwise it waits, and all adds waiting when
//! that time comes become one `cas(counter/<n>, from: own, to: own + batch)`, so a node
//! writes at most one batch per `flush_ms` and a lone add is not delayed. A cas on seq-kv that would change
//! the state is always evaluated against the newest version, and only this node writes
//! the key, so it normally succeeds first time. When the outcome is in doubt (a timeout,
//! or a precondition failure), the node *pins* itself to the newest state by writing a
//! unique value (the runtime's per-process nonce and a counter) to its scratch key
//! `counter-pin/<n>` (a state change, so seq-kv moves
//! the node to its newest version) and then reads its own key, which is now fresh: if a
//! timed-out cas did land, the key holds exactly the batch's target and the batch is
//! acknowledged; otherwise the cas is retried from the value read. Values only grow, so
//! an old cas delivered late can never apply twice.
//!
//! **Reads** are answered at once from `own + others`, plus the adds this node has
//! taken but not yet seen stored (so a client reads its own acknowledged adds). In the background, at most every
//! `refresh_ms`, the node reads the other nodes' keys. seq-kv only guarantees fresh
//! state to a node after its own state-changing request, so a refresh reads right after
//! one: the batch cas of the last tick when there was one, else a pin write. While
//! nothing changes the refresh interval doubles up to `refresh_max_ms`, so an idle
//! cluster costs almost nothing. Final reads come at least 10 s after the last add, long
//! after every node's last fresh refresh, so they are exact. Nodes never message each
//! other, so network partitions between nodes cannot affect this mode.
//!
//! Cost per add batch: one cas (2 messages); per refresh: `2 × (nodes − 1)` messages plus
//! 2 when a pin is needed.

use std::collections::BTreeMap;
use std::time::Duration;

use glomers_runtime::services::{Kv, KvResult, SEQ_KV};
use glomers_runtime::{Ctx, Handler, Result, RpcOutcome, Sender, Waiter};
use serde::{Deserialize, Serialize};

use super::{AddAck, Contribution, CounterReply, SeqKvSettings};

/// The messages of the seq-kv mode: only the client's.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SeqKvMsg {
    /// `add {delta}`.
    Add {
        /// The amount (negative for a pn-counter).
        delta: i64,
    },
    /// `read`: the counter's value.
    Read,
}

/// What a timer of the seq-kv mode is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The periodic tick that starts refreshes.
    Tick,
    /// Write the next batch.
    Flush,
}

/// What an outstanding seq-kv request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// The compare-and-set writing a batch.
    BatchCas,
    /// The write that pins this node to the newest state after a doubtful batch.
    BatchPin,
    /// Reading our own key after a pin.
    BatchRead,
    /// The pin before a refresh.
    RefreshPin,
    /// Reading a peer's key.
    RefreshRead(String),
}

/// A batch of adds being written.
#[derive(Debug)]
struct Batch {
    waiters: Vec<Waiter>,
    delta: Contribution,
    /// The value the cas expects (`None`: the key is believed missing).
    from: Option<Contribution>,
    /// The value the cas writes.
    to: Contribution,
    /// An attempt ended without a definite answer, so it may have been applied.
    maybe_applied: bool,
}

/// Background refresh of the other nodes' contributions.
#[derive(Debug)]
struct Refresh {
    running: bool,
    reads_left: usize,
    changed: bool,
    interval: Duration,
    due: Duration,
    /// When this node's last state change since the last refresh started was stored:
    /// reads sent now are at least as fresh as that change. A refresh relies on it only
    /// if it is from the last tick; an older one would let the refresh miss what other
    /// nodes stored since, so it pins first.
    pinned_at: Option<Duration>,
}

/// The `seq-kv` mode of the counter family.
pub struct SeqKvCounter {
    settings: SeqKvSettings,
    kv: Kv,
    pin_seq: u64,
    own: Option<Contribution>,
    others: BTreeMap<String, Contribution>,
    queued: Vec<Waiter>,
    queued_delta: Contribution,
    batch: Option<Batch>,
    /// When the last batch was taken.
    last_flush: Option<Duration>,
    flush_timer: bool,
    refresh: Refresh,
}

/// The seq-kv key holding `node`'s contribution.
pub fn contribution_key(node: &str) -> String {
    format!("counter/{node}")
}

/// The seq-kv key `node` writes unique values to when it needs fresh reads.
pub fn pin_key(node: &str) -> String {
    format!("counter-pin/{node}")
}

#[derive(Serialize)]
struct PinValue(u64, u64);

impl SeqKvCounter {
    /// A counter with `settings`.
    pub fn new(settings: SeqKvSettings) -> SeqKvCounter {
        SeqKvCounter {
            settings,
            kv: Kv::new(SEQ_KV, settings.kv_timeout),
            pin_seq: 0,
            own: None,
            others: BTreeMap::new(),
            queued: Vec::new(),
            queued_delta: Contribution::default(),
            batch: None,
            last_flush: None,
            flush_timer: false,
            refresh: Refresh {
                running: false,
                reads_left: 0,
                changed: false,
                interval: settings.refresh_every,
                due: settings.refresh_every,
                pinned_at: None,
            },
        }
    }

    /// The value reads return now: every contribution read, plus the adds this node took
    /// that it has not seen stored yet (the batch being written and the queued ones).
    pub fn value(&self) -> i64 {
        let writing = self.batch.as_ref().map(|b| b.delta).unwrap_or_default();
        let own = self.own.unwrap_or_default() + writing + self.queued_delta;
        self.others
            .values()
            .fold(own.value(), |sum, c| sum.wrapping_add(c.value()))
    }

    fn send_cas(&mut self, ctx: &mut Ctx<Self>) {
        let Some(batch) = &self.batch else {
            return;
        };
        let (from, to, create) = (
            batch.from.unwrap_or_default(),
            batch.to,
            batch.from.is_none(),
        );
        let key = contribution_key(ctx.node_id());
        self.kv
            .cas(ctx, &key, &from, &to, create, Purpose::BatchCas);
    }

    fn send_pin(&mut self, ctx: &mut Ctx<Self>, purpose: Purpose) {
        self.pin_seq += 1;
        let key = pin_key(ctx.node_id());
        let value = PinValue(ctx.nonce(), self.pin_seq);
        self.kv.write(ctx, &key, &value, purpose);
    }

    fn read_own(&mut self, ctx: &mut Ctx<Self>) {
        let key = contribution_key(ctx.node_id());
        self.kv.read(ctx, &key, Purpose::BatchRead);
    }

    /// Writes the queued adds now if the last batch is done and at least `flush_ms`
    /// old, else makes sure a timer will try again when it is.
    fn maybe_flush(&mut self, ctx: &mut Ctx<Self>) {
        if self.batch.is_some() || self.queued_delta == Contribution::default() {
            return;
        }
        let due = self
            .last_flush
            .map_or(Duration::ZERO, |t| t + self.settings.flush_every);
        if ctx.now() < due {
            if !self.flush_timer {
                self.flush_timer = true;
                ctx.set_timer(due - ctx.now(), Timer::Flush);
            }
            return;
        }
        self.last_flush = Some(ctx.now());
        let delta = std::mem::take(&mut self.queued_delta);
        let from = self.own;
        let to = from.unwrap_or_default() + delta;
        self.batch = Some(Batch {
            waiters: std::mem::take(&mut self.queued),
            delta,
            from,
            to,
            maybe_applied: false,
        });
        self.send_cas(ctx);
    }

    /// The batch is stored: seq-kv holds `stored` for our key.
    fn complete_batch(&mut self, ctx: &mut Ctx<Self>, stored: Contribution) {
        self.own = Some(stored);
        self.refresh.pinned_at = Some(ctx.now());
        // Activity: refresh at the base pace again.
        self.refresh.interval = self.settings.refresh_every;
        self.refresh.due = self.refresh.due.min(ctx.now() + self.refresh.interval);
        if let Some(batch) = self.batch.take() {
            for w in batch.waiters {
                ctx.answer(w, &CounterReply::AddOk);
            }
        }
        self.maybe_flush(ctx);
    }

    fn on_batch_rpc(&mut self, ctx: &mut Ctx<Self>, purpose: Purpose, outcome: &RpcOutcome) {
        let Some(batch) = self.batch.as_mut() else {
            return;
        };
        match purpose {
            Purpose::BatchCas => match KvResult::<Contribution>::from_outcome(outcome) {
                KvResult::Done => {
                    let to = batch.to;
                    self.complete_batch(ctx, to);
                }
                KvResult::PreconditionFailed | KvResult::KeyMissing => {
                    self.send_pin(ctx, Purpose::BatchPin);
                }
                _ => {
                    batch.maybe_applied = true;
                    self.send_pin(ctx, Purpose::BatchPin);
                }
            },
            Purpose::BatchPin => match KvResult::<serde_json::Value>::from_outcome(outcome) {
                KvResult::Done => {
                    self.refresh.pinned_at = Some(ctx.now());
                    self.read_own(ctx);
                }
                _ => self.send_pin(ctx, Purpose::BatchPin),
            },
            Purpose::BatchRead => {
                let stored = match KvResult::<Contribution>::from_outcome(outcome) {
                    KvResult::Value(v) => Some(v),
                    KvResult::KeyMissing => None,
                    // Still pinned: our view only moves forward, so a new read is fresh.
                    _ => return self.read_own(ctx),
                };
                if batch.maybe_applied && stored == Some(batch.to) {
                    let to = batch.to;
                    return self.complete_batch(ctx, to);
                }
                self.own = stored;
                batch.from = stored;
                batch.to = stored.unwrap_or_default() + batch.delta;
                self.send_cas(ctx);
            }
            Purpose::RefreshPin | Purpose::RefreshRead(_) => {}
        }
    }

    fn maybe_refresh(&mut self, ctx: &mut Ctx<Self>) {
        if self.refresh.running || ctx.now() < self.refresh.due {
            return;
        }
        self.refresh.running = true;
        self.refresh.changed = false;
        let fresh = self
            .refresh
            .pinned_at
            .take()
            .is_some_and(|t| ctx.now().saturating_sub(t) <= self.settings.flush_every);
        if fresh {
            self.read_others(ctx);
        } else {
            self.send_pin(ctx, Purpose::RefreshPin);
        }
    }

    fn read_others(&mut self, ctx: &mut Ctx<Self>) {
        let peers: Vec<String> = ctx.peers().map(str::to_string).collect();
        self.refresh.reads_left = peers.len();
        if peers.is_empty() {
            return self.finish_refresh(ctx);
        }
        for peer in peers {
            let key = contribution_key(&peer);
            self.kv.read(ctx, &key, Purpose::RefreshRead(peer));
        }
    }

    fn finish_refresh(&mut self, ctx: &mut Ctx<Self>) {
        self.refresh.running = false;
        self.refresh.interval = if self.refresh.changed {
            self.settings.refresh_every
        } else {
            (self.refresh.interval * 2).min(self.settings.refresh_max)
        };
        self.refresh.due = ctx.now() + self.refresh.interval;
    }

    fn on_refresh_rpc(&mut self, ctx: &mut Ctx<Self>, purpose: Purpose, outcome: &RpcOutcome) {
        match purpose {
            Purpose::RefreshPin => match KvResult::<serde_json::Value>::from_outcome(outcome) {
                KvResult::Done => self.read_others(ctx),
                // Try again at the next tick.
                _ => self.refresh.running = false,
            },
            Purpose::RefreshRead(peer) => {
                if let KvResult::Value(c) = KvResult::<Contribution>::from_outcome(outcome) {
                    let slot = self.others.entry(peer).or_default();
                    let joined = slot.join(c);
                    if joined != *slot {
                        *slot = joined;
                        self.refresh.changed = true;
                    }
                }
                self.refresh.reads_left = self.refresh.reads_left.saturating_sub(1);
                if self.refresh.reads_left == 0 {
                    self.finish_refresh(ctx);
                }
            }
            Purpose::BatchCas | Purpose::BatchPin | Purpose::BatchRead => {}
        }
    }
}

impl Handler for SeqKvCounter {
    type Msg<'a> = SeqKvMsg;
    type Timer = Timer;
    type Rpc = Purpose;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) -> Result<()> {
        ctx.set_interval(self.settings.flush_every, Timer::Tick);
        self.refresh.due = ctx.now() + self.settings.refresh_every;
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: Sender, msg: SeqKvMsg) -> Result<()> {
        match msg {
            SeqKvMsg::Add { delta: 0 } => ctx.reply(&from, &CounterReply::AddOk),
            SeqKvMsg::Add { delta } => {
                super::check_delta(delta)?;
                self.queued_delta = self.queued_delta.plus(delta);
                match self.settings.add_ack {
                    AddAck::Stored => self.queued.push(from.defer()),
                    AddAck::Received => ctx.reply(&from, &CounterReply::AddOk),
                }
                self.maybe_flush(ctx);
            }
            SeqKvMsg::Read => {
                let value = self.value();
                ctx.reply(&from, &CounterReply::ReadOk { value });
            }
        }
        Ok(())
    }

    fn on_rpc(&mut self, ctx: &mut Ctx<Self>, purpose: Purpose, end: RpcOutcome) -> Result<()> {
        match purpose {
            Purpose::BatchCas | Purpose::BatchPin | Purpose::BatchRead => {
                self.on_batch_rpc(ctx, purpose, &end)
            }
            Purpose::RefreshPin | Purpose::RefreshRead(_) => {
                self.on_refresh_rpc(ctx, purpose, &end)
            }
        }
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, timer: Timer) -> Result<()> {
        match timer {
            Timer::Flush => {
                self.flush_timer = false;
                self.maybe_flush(ctx);
            }
            Timer::Tick => self.maybe_refresh(ctx),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
