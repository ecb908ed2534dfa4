//! Delta replication between nodes, one `txn_sync` message per peer per round.
//!
//! Each node tells each peer, in one message, every register change the peer may lack:
//! the cells of its store that changed after the last version the peer acknowledged,
//! minus the peer's own writes (it has them, or something newer). The receiver merges the
//! whole message in one step and acknowledges the sender's version by piggybacking it on
//! its own next message, so in steady state there is one message per peer and round in
//! each direction, however many transactions ran.
//!
//! Writes that came from third nodes are passed on too. That keeps a transaction's writes
//! together: a cell we hold may carry a third node's newer write over one of a
//! transaction's keys, and leaving it out would show the receiver the rest of that
//! transaction next to an older value of that key. It also routes around partitions that
//! are not transitive (a reaches b, b reaches c, a does not reach c).
//!
//! Why it repairs itself: a message lost to a partition is not acknowledged, so the next
//! round sends the same changes again (plus newer ones). Why it is safe to resend, reorder
//! and duplicate: merging is a per-key last-writer-wins join, which is idempotent,
//! commutative and associative. Why acknowledgements are sound: a message computed from
//! an acknowledged base brings the receiver up to the sender's version `upto`; the store
//! only grows, so the largest `upto` received is always a valid cumulative ack.

use std::time::Duration;

use glomers_runtime::Ctx;
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::store::{Cell, Key, Stamp, StampedWrite, Store};
use super::Txn;

/// The replication message type.
pub const SYNC: &str = "txn_sync";

/// A `txn_sync` body as sent: borrowed cells of the sender's store.
#[derive(Serialize)]
pub struct SyncOut<'a> {
    #[serde(rename = "type")]
    msg_type: &'static str,
    /// The sender's store version this message brings the receiver up to.
    pub upto: u64,
    /// The largest version of the receiver's store the sender holds.
    pub ack: u64,
    /// Changed cells: `[key, value, lamport, node]` each.
    pub writes: Vec<WireWrite<'a>>,
}

/// One cell on the wire.
pub struct WireWrite<'a>(&'a Key, &'a Cell);

impl Serialize for WireWrite<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(4)?;
        t.serialize_element(&self.0.to_json())?;
        t.serialize_element(&self.1.value)?;
        t.serialize_element(&self.1.stamp.lamport)?;
        t.serialize_element(&self.1.stamp.node)?;
        t.end()
    }
}

/// A `txn_sync` body as received.
#[derive(Deserialize, Debug)]
pub struct SyncIn {
    /// See [`SyncOut::upto`].
    pub upto: u64,
    /// See [`SyncOut::ack`].
    pub ack: u64,
    /// `[key, value, lamport, node]` each.
    pub writes: Vec<(Value, Value, u64, u32)>,
}

impl SyncIn {
    fn into_writes(self) -> impl Iterator<Item = StampedWrite> {
        self.writes
            .into_iter()
            .map(|(key, value, lamport, node)| StampedWrite {
                key: Key::from_json(&key),
                value,
                stamp: Stamp { lamport, node },
            })
    }
}

/// Tuning of the replication rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncSettings {
    /// A peer silent for longer than this is sent at most one message per this period.
    pub quiet_backoff: Duration,
}

/// What this node knows about one peer.
#[derive(Debug)]
struct Link {
    id: String,
    index: u32,
    /// Our store version the peer is known to hold (apart from its own writes).
    acked: u64,
    /// The largest version of the peer's store we hold.
    received: u64,
    /// The last `received` we told the peer about.
    ack_sent: u64,
    /// The peer sent writes we have not acknowledged yet. (A message without writes is
    /// never acknowledged on its own, so two nodes cannot ping-pong empty acks.)
    owe_ack: bool,
    last_heard: Duration,
    last_sent: Option<Duration>,
}

/// The replication state of one node: a [`Link`] per peer.
#[derive(Debug)]
pub struct Replicator {
    links: Vec<Link>,
    settings: SyncSettings,
}

/// The index of `id` among `node_ids` sorted, the same on every node whatever order
/// `init` listed them in.
pub fn node_index(id: &str, node_ids: &[String]) -> u32 {
    let mut sorted: Vec<&str> = node_ids.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let idx = sorted.iter().position(|n| *n == id).unwrap_or(sorted.len());
    u32::try_from(idx).unwrap_or(u32::MAX)
}

impl Replicator {
    /// The replicator of node `me` among `node_ids`, at time `now`.
    pub fn new(me: &str, node_ids: &[String], settings: SyncSettings, now: Duration) -> Self {
        let links = node_ids
            .iter()
            .filter(|n| n.as_str() != me)
            .map(|n| Link {
                id: n.clone(),
                index: node_index(n, node_ids),
                acked: 0,
                received: 0,
                ack_sent: 0,
                owe_ack: false,
                last_heard: now,
                last_sent: None,
            })
            .collect();
        Replicator { links, settings }
    }

    /// True when there is nobody to replicate to.
    pub fn is_alone(&self) -> bool {
        self.links.is_empty()
    }

    /// Merges a peer's message into `store` in one step and updates what we know of that
    /// peer. Returns how many cells changed, or `None` if `from` is not a peer.
    pub fn receive(
        &mut self,
        from: &str,
        msg: SyncIn,
        store: &mut Store,
        now: Duration,
    ) -> Option<usize> {
        let link = self.links.iter_mut().find(|l| l.id == from)?;
        link.last_heard = now;
        // Never trust an ack beyond what we have produced (it would skip future changes).
        link.acked = link.acked.max(msg.ack.min(store.version()));
        let brought_writes = !msg.writes.is_empty();
        link.owe_ack |= brought_writes && msg.upto > link.ack_sent;
        link.received = link.received.max(msg.upto);
        Some(if brought_writes {
            store.merge(msg.into_writes())
        } else {
            0
        })
    }

    /// Sends one round: to each peer, the changes it lacks and our ack, unless there is
    /// nothing to say or the peer is quiet and was sent to recently.
    pub fn round(&mut self, store: &Store, ctx: &mut Ctx<Txn>) {
        let settings = self.settings;
        let now = ctx.now();
        for link in &mut self.links {
            let writes: Vec<WireWrite> = store
                .changes_since(link.acked)
                .filter(|(_, c)| c.stamp.node != link.index)
                .map(|(k, c)| WireWrite(k, c))
                .collect();
            let owe_ack = link.owe_ack;
            if writes.is_empty() {
                // The peer already holds everything we could send: remember that, so the
                // next round scans only newer changes.
                link.acked = store.version();
                if !owe_ack {
                    continue;
                }
            } else {
                let quiet = now.saturating_sub(link.last_heard) > settings.quiet_backoff;
                let sent_recently = link
                    .last_sent
                    .is_some_and(|t| now.saturating_sub(t) < settings.quiet_backoff);
                if quiet && sent_recently && !owe_ack {
                    continue;
                }
            }
            link.ack_sent = link.received;
            link.owe_ack = false;
            link.last_sent = Some(now);
            let body = SyncOut {
                msg_type: SYNC,
                upto: store.version(),
                ack: link.received,
                writes,
            };
            ctx.send(&link.id, &body);
        }
    }
}
