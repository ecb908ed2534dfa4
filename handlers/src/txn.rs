//! Challenges 6a–6c: totally available transactions over a key-value register
//! (Maelstrom's `txn-rw-register` workload).
//!
//! # Design
//!
//! Every node holds a full replica: one last-writer-wins register per key
//! ([`store::Store`]). A `txn` request runs entirely on the node that receives it, in one
//! handler call: reads see the replica overlaid with the transaction's own earlier writes,
//! and the transaction's final write per key is committed in the same call under a fresh
//! stamp `(lamport, node)` that is greater than every stamp the replica holds. The client
//! gets `txn_ok` at once, so no request ever waits for, or fails because of, another node.
//!
//! Replication ([`sync`]) runs in rounds every `sync_interval_ms`: one `txn_sync` message
//! per peer carrying every cell that changed since the version that peer acknowledged.
//! The receiver merges a message in one step, keeping per key the write with the greater
//! stamp, and acknowledges on its own next message. Lost messages are resent until
//! acknowledged; duplicates and reordering are harmless. State is one cell per key plus a
//! few counters per peer, whatever the length of a partition.
//!
//! # Guarantees
//!
//! Hold, under any partition:
//! - **Total availability**: every well-formed `txn` gets `txn_ok`, never an error.
//! - **Atomic, isolated transactions on their node**: each sees a state made of whole
//!   committed transactions plus its own writes (no `internal` anomaly).
//! - **Read committed** (Adya PL-2, what Elle checks as `read-committed`):
//!   - no G1a (aborted read): nothing ever aborts;
//!   - no G1b (intermediate read): only a transaction's final write to a key leaves it;
//!   - no G0/G1c (cycles of write-write and write-read dependencies): a transaction can
//!     only read values its node already holds, all stamped lower than its own stamp, and
//!     the order of versions of a key is stamp order; so every ww and wr edge goes from a
//!     lower stamp to a higher one and no cycle can form. The only version orders Elle
//!     infers (null first; a read followed by a write in one transaction) agree with it.
//! - **Atomic visibility on replicas**: a replica applies a replication message in one
//!   step, and each message carries all of a transaction's surviving writes (a write left
//!   out was replaced by a newer one the receiver has or gets in the same message), so
//!   another node sees a transaction's writes all at once or not at all.
//! - **Convergence**: replicas that received the same writes hold the same value per key
//!   (deterministic last-writer-wins on `(lamport, node)`); after a partition heals, a
//!   round or two brings every node up to date.
//! - **Sticky sessions**: a client pinned to one node (as Maelstrom's are) reads its own
//!   writes and never sees a key go back to an older version on that node.
//!
//! Cannot hold while totally available (a node cut off must still commit on its own):
//! - no serializability, snapshot isolation or repeatable read: two nodes can read the
//!   same value and both overwrite it (**lost update**, G-single/read skew, **G2-item**/
//!   write skew); last-writer-wins keeps one write and drops the other;
//! - no real-time order: a transaction on another node may not see a write that committed
//!   before it began (stale reads), so strict serializability and every `-realtime`
//!   variant fail;
//! - no cross-node read-your-writes for a client that moves between nodes.
//!
//! Elle's read-committed checker forbids only G0, G1a, G1b and G1c (and, for
//! read-uncommitted, G0), so the anomalies listed above are reported as notes at most.

mod ops;
mod store;
mod sync;

use std::time::Duration;

use glomers_runtime::{
    ConfigError, Ctx, Family, Handler, HandlerSpec, Never, Result, Section, Sender,
};
use serde::{Deserialize, Serialize};
use slog::debug;

use ops::MicroOp;
use store::Store;
use sync::{node_index, Replicator, SyncIn, SyncSettings};

/// The largest Lamport time taken from a peer's write: beyond any run (the clock ticks
/// once per transaction), and far from `u64::MAX`. A write stamped near the top would
/// leave no greater stamp for this node's next transaction, whose writes would then lose
/// to it (or the clock would overflow).
pub const MAX_LAMPORT: u64 = 1 << 62;

/// The messages this family answers.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TxnMsg {
    /// `txn {txn}`: a transaction of `["r", k, null]` and `["w", k, v]` micro-ops.
    Txn {
        /// The micro-ops, in order.
        txn: Vec<MicroOp>,
    },
    /// Replication between nodes (see [`sync`]).
    #[serde(rename = "txn_sync")]
    Sync(SyncIn),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TxnReply {
    TxnOk { txn: Vec<MicroOp> },
}

/// What a txn timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnTimer {
    /// A replication round.
    Round,
}

/// Settings of the txn family (the `[txn]` config section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnSettings {
    /// Time between replication rounds (one message per peer per round, at most).
    pub sync_interval: Duration,
    /// A peer silent for longer than this gets at most one message per this period.
    pub quiet_backoff: Duration,
}

impl Default for TxnSettings {
    fn default() -> Self {
        TxnSettings {
            sync_interval: Duration::from_millis(100),
            quiet_backoff: Duration::from_millis(1000),
        }
    }
}

/// The txn handler: a replica, the Lamport clock inside it, and the replication state.
pub struct Txn {
    settings: TxnSettings,
    store: Store,
    me: u32,
    replicator: Option<Replicator>,
}

impl Txn {
    /// A handler with the given settings and an empty replica.
    pub fn new(settings: TxnSettings) -> Txn {
        Txn {
            settings,
            store: Store::new(),
            me: 0,
            replicator: None,
        }
    }

    fn run_txn(&mut self, ctx: &mut Ctx<Self>, from: &Sender, txn: Vec<MicroOp>) {
        let run = ops::execute(txn, &self.store);
        self.store.commit_local(self.me, run.writes);
        ctx.reply(from, &TxnReply::TxnOk { txn: run.completed });
    }

    fn merge(&mut self, ctx: &mut Ctx<Self>, from: &Sender, body: SyncIn) {
        let now = ctx.now();
        let Some(replicator) = self.replicator.as_mut() else {
            return;
        };
        let (upto, count) = (body.upto, body.writes.len());
        match replicator.receive(from.id(), body, &mut self.store, now) {
            Some(changed) if count > 0 => debug!(ctx.log(), "merged replication";
                "from" => from.id(), "upto" => upto, "writes" => count, "changed" => changed),
            Some(_) => {}
            None => {
                debug!(ctx.log(), "ignoring txn_sync from a non-peer"; "src" => from.id())
            }
        }
    }
}

impl Handler for Txn {
    type Msg<'a> = TxnMsg;
    type Timer = TxnTimer;
    type Rpc = Never;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) -> Result<()> {
        let ids = ctx.node_ids().to_vec();
        self.me = node_index(ctx.node_id(), &ids);
        let sync = SyncSettings {
            quiet_backoff: self.settings.quiet_backoff,
        };
        let replicator = Replicator::new(ctx.node_id(), &ids, sync, ctx.now());
        if !replicator.is_alone() {
            // The first round is one interval away, and it only sends once clients have
            // written something, by which time every peer has answered `init`.
            ctx.set_interval(self.settings.sync_interval, TxnTimer::Round);
            self.replicator = Some(replicator);
        }
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: Sender, msg: TxnMsg) -> Result<()> {
        match msg {
            TxnMsg::Txn { txn } => self.run_txn(ctx, &from, txn),
            TxnMsg::Sync(body) => {
                if let Some(w) = body.writes.iter().find(|w| w.2 > MAX_LAMPORT) {
                    return Err(glomers_runtime::Error::malformed(format!(
                        "txn_sync carries lamport time {}, beyond the largest accepted \
                         ({MAX_LAMPORT})",
                        w.2
                    )));
                }
                self.merge(ctx, &from, body)
            }
        }
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, timer: TxnTimer) -> Result<()> {
        let TxnTimer::Round = timer;
        if let Some(replicator) = self.replicator.as_mut() {
            replicator.round(&self.store, ctx);
        }
        Ok(())
    }
}

fn build(s: &mut Section) -> std::result::Result<Family, ConfigError> {
    let defaults = TxnSettings::default();
    let sync_interval = s.millis(
        "sync_interval_ms",
        defaults.sync_interval.as_millis() as u64,
        1..=60_000,
    )?;
    let quiet_backoff = s.millis(
        "quiet_peer_backoff_ms",
        defaults.quiet_backoff.as_millis() as u64,
        1..=600_000,
    )?;
    Ok(Family::new(Txn::new(TxnSettings {
        sync_interval,
        quiet_backoff,
    })))
}

glomers_runtime::inventory::submit! {
    HandlerSpec {
        family: "txn",
        summary: "challenges 6a-6c: totally available read-committed transactions (txn + txn_sync)",
        build,
    }
}

#[cfg(test)]
mod tests;
