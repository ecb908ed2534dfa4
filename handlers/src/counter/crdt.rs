//! The counter as a state-based CRDT (a G-counter, or a PN-counter for negative deltas),
//! with no service.
//!
//! State: for every node, the largest [`Contribution`] known for it; a node only ever
//! raises its own entry, and entries merge by pointwise maximum, so merging is
//! idempotent, commutative and associative: duplicated, reordered or lost gossip can
//! delay convergence but never corrupt the value. `add` raises this node's entry and is
//! acknowledged at once; `read` answers the sum of all entries.
//!
//! Gossip is push-pull: every `gossip_ms` a node sends its whole vector
//! (`counter_gossip`) to each peer that may lack part of it, and the peer merges and
//! answers with its own merged vector (`counter_gossip_ok`), which the sender merges in
//! turn. A node remembers, per peer, the join of every vector that peer sent it (a lower
//! bound of what the peer knows) and skips peers already known to have everything, so
//! an idle cluster sends nothing. A lost message only means the push is retried on a
//! later tick (at most one push per peer is in flight), which is how the mode rides out
//! partitions: once they heal, one exchange per pair brings everyone up to date.

use std::collections::{BTreeMap, HashMap, HashSet};

use glomers_runtime::{Ctx, Handler, Result, RpcOutcome, Sender};
use serde::{Deserialize, Serialize};

use super::{Contribution, CounterReply, CrdtSettings};

/// A whole vector: node id → contribution.
pub type Vector = BTreeMap<String, Contribution>;

/// The messages of the crdt mode.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CrdtMsg {
    /// `add {delta}`.
    Add {
        /// The amount (negative for a pn-counter).
        delta: i64,
    },
    /// `read`: the counter's value.
    Read,
    /// A peer's vector; answered with ours (`counter_gossip_ok`).
    CounterGossip {
        /// The peer's vector.
        counts: Vector,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum GossipOut<'a> {
    CounterGossip { counts: &'a Vector },
    CounterGossipOk { counts: &'a Vector },
}

#[derive(Deserialize)]
struct GossipOk {
    counts: Vector,
}

/// What the crdt mode's timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Push the vector to peers that may lack part of it.
    Gossip,
}

/// What a crdt RPC is for: a push to this peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push(pub String);

/// Merges `from` into `into`; true if `into` changed.
fn merge(into: &mut Vector, from: &Vector) -> bool {
    let mut changed = false;
    for (node, c) in from {
        let slot = into.entry(node.clone()).or_default();
        let joined = slot.join(*c);
        if joined != *slot {
            *slot = joined;
            changed = true;
        }
    }
    changed
}

/// True when everything in `a` is also in `b`.
fn covered(a: &Vector, b: &Vector) -> bool {
    a.iter()
        .all(|(n, c)| c.le(b.get(n).copied().unwrap_or_default()))
}

/// The `crdt` mode of the counter family.
pub struct CrdtCounter {
    settings: CrdtSettings,
    counts: Vector,
    /// Per peer, a lower bound of what it knows.
    known: HashMap<String, Vector>,
    /// Peers with a push in flight.
    busy: HashSet<String>,
}

impl CrdtCounter {
    /// An empty counter.
    pub fn new(settings: CrdtSettings) -> CrdtCounter {
        CrdtCounter {
            settings,
            counts: Vector::new(),
            known: HashMap::new(),
            busy: HashSet::new(),
        }
    }

    /// The counter value this node knows.
    pub fn value(&self) -> i64 {
        self.counts
            .values()
            .fold(0i64, |sum, c| sum.wrapping_add(c.value()))
    }

    fn learn(&mut self, peer: &str, counts: &Vector) {
        merge(&mut self.counts, counts);
        merge(self.known.entry(peer.to_string()).or_default(), counts);
    }

    fn gossip(&mut self, ctx: &mut Ctx<Self>) {
        let peers: Vec<String> = ctx.peers().map(str::to_string).collect();
        for peer in peers {
            if self.busy.contains(&peer) {
                continue;
            }
            if self
                .known
                .get(&peer)
                .is_some_and(|k| covered(&self.counts, k))
            {
                continue;
            }
            let body = GossipOut::CounterGossip {
                counts: &self.counts,
            };
            ctx.rpc(
                &peer,
                &body,
                self.settings.gossip_timeout,
                Push(peer.clone()),
            );
            self.busy.insert(peer);
        }
    }
}

impl Handler for CrdtCounter {
    type Msg<'a> = CrdtMsg;
    type Timer = Timer;
    type Rpc = Push;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) -> Result<()> {
        ctx.set_interval(self.settings.gossip_every, Timer::Gossip);
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: Sender, msg: CrdtMsg) -> Result<()> {
        match msg {
            CrdtMsg::Add { delta } => {
                super::check_delta(delta)?;
                if delta != 0 {
                    let me = ctx.node_id().to_string();
                    let slot = self.counts.entry(me).or_default();
                    *slot = slot.plus(delta);
                }
                ctx.reply(&from, &CounterReply::AddOk);
            }
            CrdtMsg::Read => {
                let value = self.value();
                ctx.reply(&from, &CounterReply::ReadOk { value });
            }
            CrdtMsg::CounterGossip { counts } => {
                self.learn(from.id(), &counts);
                ctx.reply(
                    &from,
                    &GossipOut::CounterGossipOk {
                        counts: &self.counts,
                    },
                );
            }
        }
        Ok(())
    }

    fn on_rpc(&mut self, _ctx: &mut Ctx<Self>, push: Push, end: RpcOutcome) -> Result<()> {
        let Push(peer) = push;
        self.busy.remove(&peer);
        if let RpcOutcome::Reply(msg) = end {
            if msg.msg_type == "counter_gossip_ok" {
                let g: GossipOk = msg.parse()?;
                self.learn(&peer, &g.counts);
            }
        }
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, timer: Timer) -> Result<()> {
        let Timer::Gossip = timer;
        self.gossip(ctx);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! One node and the merge; convergence through partitions, duplicates and
    //! reordering, exact final reads and quiet when idle are tested on the deterministic
    //! driver in `handlers/tests/counter.rs`.

    use super::*;
    use glomers_runtime::testkit::TestNode;
    use serde_json::json;

    #[test]
    fn adds_are_acknowledged_at_once_and_read_locally() {
        let mut n = TestNode::with("counter", CrdtCounter::new(CrdtSettings::default()));
        n.init("n0", &["n0"]);
        let out = n.request("c1", json!({"type": "add", "delta": 3, "msg_id": 1}));
        assert_eq!(
            out,
            vec![json!({"src": "n0", "dest": "c1", "body": {"type": "add_ok", "in_reply_to": 1}})]
        );
        let out = n.request("c1", json!({"type": "read", "msg_id": 2}));
        assert_eq!(out[0]["body"]["value"], 3);
    }

    #[test]
    fn merge_is_a_pointwise_maximum() {
        let c = |up, down| Contribution { up, down };
        let mut a: Vector = [("n0".to_string(), c(3, 1))].into();
        let b: Vector = [("n0".to_string(), c(2, 4)), ("n1".to_string(), c(1, 0))].into();
        assert!(merge(&mut a, &b));
        assert_eq!(a["n0"], c(3, 4));
        assert!(covered(&b, &a));
        assert!(!merge(&mut a, &b));
    }
}
