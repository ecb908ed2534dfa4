//! The `lin-kv` mode's use of the service: offsets are claimed, and committed offsets
//! kept, in Maelstrom's linearizable key-value store.
//!
//! **Claiming an offset.** Slot `k` of log `K` is the lin-kv key `log/<k>/<K>`. A node
//! claims it for a message with `cas(from: null, to: [node, stamp, msg],
//! create_if_not_exists: true)`: the create succeeds for exactly one claimer; everyone
//! else gets a precondition failure and moves on to `k + 1`. A node only tries `k + 1`
//! after seeing `k` taken, so the slots of a key are filled without holes and offsets
//! are dense. Sends to one key are claimed one at a time per node (a queue per key), so
//! one client's successive sends get increasing offsets.
//!
//! **Doubt.** When a claim gets no answer it may or may not have been applied; the same
//! slot is tried again with the same stamp, and a precondition failure after such a
//! doubt is settled by reading the slot: our stamp means the message is ours. A send
//! that cannot be settled before `send_deadline_ms` gets error 0 (indefinite: it may
//! have happened), never a definite error.
//!
//! **Learning messages.** A node stores what it claimed and streams it to its peers
//! (the shared replication links); polls are answered from the local log, up to the
//! first offset it has not learned (the log is dense, so anything past a gap waits).
//! If a gap below a slot known to be taken lasts `gap_fill_ms` (a peer is partitioned
//! away, or a claimer gave up in doubt although its claim landed), the missing slots are
//! read from lin-kv, the source of truth.
//!
//! **Committed offsets** live under `commit/<K>` and only grow: a commit runs a
//! compare-and-set loop that raises the stored value to the new offset (or finds it
//! already higher); `list_committed_offsets` reads the keys.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use glomers_runtime::services::{Kv, KvResult, LIN_KV};
use glomers_runtime::{Ctx, Error, ErrorCode, RpcOutcome, Sender, Waiter};
use serde_json::value::RawValue;

use super::log::{KeyId, Msg};
use super::replica::Replica;
use super::wire::{ListOk, ListRequest, OffsetsRequest, SendOk, SendRequest, COMMIT_OK};
use super::{Kafka, KafkaRpc};

/// Most slots read at once per key when filling a gap.
const GAP_READS_PER_KEY: u64 = 16;

/// What a lin-kv request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The claim of the first queued send of a key.
    Claim(KeyId),
    /// Reading a slot to learn whether a doubtful claim was ours.
    ClaimCheck(KeyId),
    /// Reading a slot missing from the local log.
    GapRead(KeyId, u64),
    /// Raising a committed offset.
    CommitCas { op: u64, key: KeyId, target: u64 },
    /// Reading a committed offset during a commit.
    CommitRead { op: u64, key: KeyId, target: u64 },
    /// Reading a committed offset for `list_committed_offsets`.
    ListRead { op: u64, key: KeyId },
}

/// The lin-kv key of slot `slot` of log `key`.
pub fn slot_key(slot: u64, key: &str) -> String {
    format!("log/{slot}/{key}")
}

/// The lin-kv key holding the committed offset of `key`.
pub fn commit_key(key: &str) -> String {
    format!("commit/{key}")
}

/// What a claimed slot holds: the claimer, its stamp and the message.
type SlotOut<'a> = Option<(&'a str, u64, &'a Msg)>;
type SlotIn = (String, u64, Box<RawValue>);

#[derive(Debug)]
struct PendingSend {
    waiter: Waiter,
    msg: Msg,
    stamp: u64,
    deadline: Duration,
    slot: u64,
    /// An attempt on `slot` ended without an answer: it may hold our message.
    in_doubt: bool,
}

#[derive(Debug, Default)]
struct ClaimKey {
    /// The lowest slot not known to be taken.
    next: u64,
    /// The highest slot known to be taken.
    top: Option<u64>,
    queue: VecDeque<PendingSend>,
    busy: bool,
    /// The first missing slot and since when it has been missing.
    gap: Option<(u64, Duration)>,
    gap_reads: usize,
}

#[derive(Debug)]
struct CommitOp {
    waiter: Waiter,
    remaining: usize,
    deadline: Duration,
}

#[derive(Debug)]
struct ListOp {
    waiter: Waiter,
    remaining: usize,
    found: Vec<(KeyId, u64)>,
}

/// State of the lin-kv mode.
pub struct LinKv {
    kv: Kv,
    next_stamp: u64,
    claims: HashMap<KeyId, ClaimKey>,
    busy_keys: BTreeSet<KeyId>,
    commits: HashMap<u64, CommitOp>,
    lists: HashMap<u64, ListOp>,
    next_op: u64,
}

impl LinKv {
    /// The mode's state.
    pub fn new(kv_timeout: Duration) -> LinKv {
        LinKv {
            kv: Kv::new(LIN_KV, kv_timeout),
            next_stamp: 0,
            claims: HashMap::new(),
            busy_keys: BTreeSet::new(),
            commits: HashMap::new(),
            lists: HashMap::new(),
            next_op: 1,
        }
    }

    /// `send`: queue the message for a claim on its key.
    pub fn on_send(
        &mut self,
        replica: &mut Replica,
        ctx: &mut Ctx<Kafka>,
        from: &Sender,
        req: SendRequest,
    ) {
        let key = replica.logs.intern(&req.key);
        self.next_stamp += 1;
        let send = PendingSend {
            waiter: from.defer(),
            msg: Msg::from_raw(req.msg),
            // The nonce makes this process's stamps unique among the node's restarts.
            stamp: ctx.nonce().wrapping_add(self.next_stamp),
            deadline: ctx.now() + replica.settings.send_deadline,
            slot: 0,
            in_doubt: false,
        };
        self.claims.entry(key).or_default().queue.push_back(send);
        self.busy_keys.insert(key);
        self.pump(replica, ctx, key)
    }

    /// Starts the claim of `key`'s first queued send, if none is running.
    fn pump(&mut self, replica: &mut Replica, ctx: &mut Ctx<Kafka>, key: KeyId) {
        let Some(ck) = self.claims.get_mut(&key) else {
            return;
        };
        if ck.busy {
            return;
        }
        while let Some(head) = ck.queue.front() {
            if ctx.now() < head.deadline {
                break;
            }
            let err = Error::new(
                ErrorCode::TIMEOUT,
                "could not settle the offset claim in time; the message may or may not be stored",
            );
            if let Some(send) = ck.queue.pop_front() {
                ctx.answer_error(send.waiter, &err);
            }
        }
        let entry = replica.logs.key(key);
        let Some(head) = ck.queue.front_mut() else {
            self.busy_keys.remove(&key);
            return;
        };
        if !head.in_doubt {
            let known_end = entry.log.last_offset().map_or(0, |o| o + 1);
            head.slot = head.slot.max(ck.next).max(known_end);
        }
        let me = ctx.node_id().to_string();
        let value: SlotOut = Some((&me, head.stamp, &head.msg));
        let slot_name = slot_key(head.slot, &entry.name);
        ck.busy = true;
        let none: SlotOut = None;
        self.kv.cas(
            ctx,
            &slot_name,
            &none,
            &value,
            true,
            KafkaRpc::LinKv(Purpose::Claim(key)),
        );
    }

    /// The first queued send of `key` got `slot`.
    fn claimed(&mut self, replica: &mut Replica, ctx: &mut Ctx<Kafka>, key: KeyId, slot: u64) {
        let Some(ck) = self.claims.get_mut(&key) else {
            return;
        };
        ck.busy = false;
        let Some(send) = ck.queue.pop_front() else {
            return;
        };
        ck.next = ck.next.max(slot + 1);
        ck.top = ck.top.max(Some(slot));
        replica.logs.key_mut(key).log.insert(slot, send.msg);
        replica.record_entry(key, slot);
        ctx.answer(send.waiter, &SendOk::new(slot));
        self.pump(replica, ctx, key)
    }

    /// `slot` of `key` belongs to someone else: move the head send past it.
    fn taken(&mut self, replica: &mut Replica, ctx: &mut Ctx<Kafka>, key: KeyId, slot: u64) {
        if let Some(ck) = self.claims.get_mut(&key) {
            ck.busy = false;
            ck.next = ck.next.max(slot + 1);
            ck.top = ck.top.max(Some(slot));
            if let Some(head) = ck.queue.front_mut() {
                head.in_doubt = false;
                head.slot = slot + 1;
            }
        }
        self.pump(replica, ctx, key)
    }

    fn on_claim(
        &mut self,
        replica: &mut Replica,
        ctx: &mut Ctx<Kafka>,
        key: KeyId,
        outcome: &RpcOutcome,
    ) {
        let Some(ck) = self.claims.get_mut(&key) else {
            return;
        };
        let Some(head) = ck.queue.front_mut() else {
            ck.busy = false;
            return;
        };
        let slot = head.slot;
        match KvResult::<serde_json::Value>::from_outcome(outcome) {
            KvResult::Done => self.claimed(replica, ctx, key, slot),
            KvResult::PreconditionFailed if head.in_doubt => {
                let name = slot_key(slot, &replica.logs.key(key).name);
                self.kv
                    .read(ctx, &name, KafkaRpc::LinKv(Purpose::ClaimCheck(key)));
            }
            KvResult::PreconditionFailed => self.taken(replica, ctx, key, slot),
            _ => {
                // No answer (or an unexpected one): the slot may now hold our message.
                // Try the same slot again at the next tick.
                head.in_doubt = true;
                ck.busy = false;
            }
        }
    }

    fn on_claim_check(
        &mut self,
        replica: &mut Replica,
        ctx: &mut Ctx<Kafka>,
        key: KeyId,
        outcome: &RpcOutcome,
    ) {
        let Some(ck) = self.claims.get_mut(&key) else {
            return;
        };
        let Some(head) = ck.queue.front() else {
            ck.busy = false;
            return;
        };
        let (slot, stamp) = (head.slot, head.stamp);
        match KvResult::<SlotIn>::from_outcome(outcome) {
            KvResult::Value((node, s, raw)) => {
                if node == ctx.node_id() && s == stamp {
                    self.claimed(replica, ctx, key, slot)
                } else {
                    replica
                        .logs
                        .key_mut(key)
                        .log
                        .insert(slot, Msg::from_raw(&raw));
                    self.taken(replica, ctx, key, slot)
                }
            }
            _ => {
                // Not settled yet: claim the same slot again (still in doubt) next tick.
                ck.busy = false;
            }
        }
    }

    /// `commit_offsets`: raise each key's committed offset in lin-kv.
    pub fn on_commit(
        &mut self,
        replica: &mut Replica,
        ctx: &mut Ctx<Kafka>,
        from: &Sender,
        req: OffsetsRequest,
    ) {
        let op = self.next_op;
        self.next_op += 1;
        self.commits.insert(
            op,
            CommitOp {
                waiter: from.defer(),
                remaining: req.offsets.len() + 1,
                deadline: ctx.now() + replica.settings.send_deadline,
            },
        );
        for (name, target) in &req.offsets {
            let key = replica.logs.intern(name);
            let known = replica.logs.key(key).committed;
            self.commit_cas(replica, ctx, op, key, known, *target);
        }
        // The extra count keeps the op open while its keys were being started.
        self.commit_key_done(ctx, op)
    }

    fn commit_cas(
        &mut self,
        replica: &mut Replica,
        ctx: &mut Ctx<Kafka>,
        op: u64,
        key: KeyId,
        from: Option<u64>,
        target: u64,
    ) {
        if from.is_some_and(|c| c >= target) {
            return self.commit_key_done(ctx, op);
        }
        let name = commit_key(&replica.logs.key(key).name);
        self.kv.cas(
            ctx,
            &name,
            &from,
            &Some(target),
            from.is_none(),
            KafkaRpc::LinKv(Purpose::CommitCas { op, key, target }),
        );
    }

    fn commit_read(
        &mut self,
        replica: &mut Replica,
        ctx: &mut Ctx<Kafka>,
        op: u64,
        key: KeyId,
        target: u64,
    ) {
        let Some(c) = self.commits.get(&op) else {
            return;
        };
        if ctx.now() >= c.deadline {
            return self.commit_failed(ctx, op);
        }
        let name = commit_key(&replica.logs.key(key).name);
        self.kv.read(
            ctx,
            &name,
            KafkaRpc::LinKv(Purpose::CommitRead { op, key, target }),
        );
    }

    fn commit_key_done(&mut self, ctx: &mut Ctx<Kafka>, op: u64) {
        let Some(c) = self.commits.get_mut(&op) else {
            return;
        };
        c.remaining = c.remaining.saturating_sub(1);
        if c.remaining > 0 {
            return;
        }
        let Some(c) = self.commits.remove(&op) else {
            return;
        };
        ctx.answer(c.waiter, &COMMIT_OK);
    }

    fn commit_failed(&mut self, ctx: &mut Ctx<Kafka>, op: u64) {
        let Some(c) = self.commits.remove(&op) else {
            return;
        };
        let err = Error::new(
            ErrorCode::TIMEOUT,
            "lin-kv did not settle the commit in time",
        );
        ctx.answer_error(c.waiter, &err);
    }

    /// `list_committed_offsets`: read each key's committed offset from lin-kv.
    pub fn on_list(
        &mut self,
        replica: &mut Replica,
        ctx: &mut Ctx<Kafka>,
        from: &Sender,
        req: ListRequest,
    ) {
        let op = self.next_op;
        self.next_op += 1;
        let waiter = from.defer();
        self.lists.insert(
            op,
            ListOp {
                waiter,
                remaining: req.keys.len() + 1,
                found: Vec::new(),
            },
        );
        for name in &req.keys {
            let key = replica.logs.intern(name);
            self.kv.read(
                ctx,
                &commit_key(name),
                KafkaRpc::LinKv(Purpose::ListRead { op, key }),
            );
        }
        self.list_key_done(replica, ctx, op)
    }

    fn list_key_done(&mut self, replica: &mut Replica, ctx: &mut Ctx<Kafka>, op: u64) {
        let Some(l) = self.lists.get_mut(&op) else {
            return;
        };
        l.remaining = l.remaining.saturating_sub(1);
        if l.remaining > 0 {
            return;
        }
        let Some(l) = self.lists.remove(&op) else {
            return;
        };
        let offsets = l
            .found
            .iter()
            .map(|&(key, o)| (replica.logs.key(key).name.as_ref(), o))
            .collect();
        ctx.answer(l.waiter, &ListOk::new(offsets));
    }

    /// The end of a lin-kv request.
    pub fn on_outcome(
        &mut self,
        replica: &mut Replica,
        ctx: &mut Ctx<Kafka>,
        purpose: Purpose,
        outcome: &RpcOutcome,
    ) {
        match purpose {
            Purpose::Claim(key) => self.on_claim(replica, ctx, key, outcome),
            Purpose::ClaimCheck(key) => self.on_claim_check(replica, ctx, key, outcome),
            Purpose::GapRead(key, slot) => {
                if let Some(ck) = self.claims.get_mut(&key) {
                    ck.gap_reads = ck.gap_reads.saturating_sub(1);
                }
                if let KvResult::Value((_, _, raw)) = KvResult::<SlotIn>::from_outcome(outcome) {
                    replica
                        .logs
                        .key_mut(key)
                        .log
                        .insert(slot, Msg::from_raw(&raw));
                }
            }
            Purpose::CommitCas { op, key, target } => {
                match KvResult::<serde_json::Value>::from_outcome(outcome) {
                    KvResult::Done => {
                        replica.logs.commit(key, target);
                        self.commit_key_done(ctx, op)
                    }
                    _ => self.commit_read(replica, ctx, op, key, target),
                }
            }
            Purpose::CommitRead { op, key, target } => {
                match KvResult::<u64>::from_outcome(outcome) {
                    KvResult::Value(v) => {
                        replica.logs.commit(key, v);
                        self.commit_cas(replica, ctx, op, key, Some(v), target)
                    }
                    KvResult::KeyMissing => self.commit_cas(replica, ctx, op, key, None, target),
                    _ => self.commit_read(replica, ctx, op, key, target),
                }
            }
            Purpose::ListRead { op, key } => {
                if let KvResult::Value(v) = KvResult::<u64>::from_outcome(outcome) {
                    replica.logs.commit(key, v);
                    if let Some(l) = self.lists.get_mut(&op) {
                        l.found.push((key, v));
                    }
                }
                self.list_key_done(replica, ctx, op)
            }
        }
    }

    /// Periodic work: restart claims that ended in doubt, give up on expired ones.
    pub fn on_tick(&mut self, replica: &mut Replica, ctx: &mut Ctx<Kafka>) {
        let keys: Vec<KeyId> = self.busy_keys.iter().copied().collect();
        for key in keys {
            self.pump(replica, ctx, key);
        }
    }

    /// Reads from lin-kv the slots missing below a taken slot for `gap_fill_ms`.
    pub fn fill_gaps(&mut self, replica: &mut Replica, ctx: &mut Ctx<Kafka>) {
        let now = ctx.now();
        let wait = replica.settings.gap_fill_every;
        for key in replica.logs.ids() {
            let entry = replica.logs.key(key);
            let ck = self.claims.entry(key).or_default();
            let first_missing = entry.log.contiguous_len();
            let top = ck.top.max(entry.log.last_offset());
            if top.is_none_or(|t| t < first_missing) {
                ck.gap = None;
                continue;
            }
            match ck.gap {
                Some((slot, since)) if slot == first_missing => {
                    if now.saturating_sub(since) < wait || ck.gap_reads > 0 {
                        continue;
                    }
                }
                _ => {
                    ck.gap = Some((first_missing, now));
                    continue;
                }
            }
            let top = top.unwrap_or(first_missing);
            let last = top.min(first_missing + GAP_READS_PER_KEY - 1);
            for slot in first_missing..=last {
                if entry.log.get(slot).is_some() {
                    continue;
                }
                let name = slot_key(slot, &entry.name);
                self.kv
                    .read(ctx, &name, KafkaRpc::LinKv(Purpose::GapRead(key, slot)));
                ck.gap_reads += 1;
            }
            ck.gap = Some((first_missing, now));
        }
    }
}
