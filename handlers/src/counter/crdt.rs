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

use glomers_runtime::{Ctx, Error, Handler, Message, Result, RpcOutcome};
use serde::{Deserialize, Serialize};

use super::{AddRequest, Contribution, CrdtSettings, ReadOk, ADD_OK};

/// Token of the periodic gossip timer.
const TICK: u64 = 0;

/// A whole vector: node id → contribution.
pub type Vector = BTreeMap<String, Contribution>;

#[derive(Serialize, Deserialize)]
struct Gossip {
    #[serde(rename = "type")]
    msg_type: String,
    counts: Vector,
}

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
    /// Pushes awaiting an answer: token → peer.
    pushes: HashMap<u64, String>,
    busy: HashSet<String>,
    next_token: u64,
}

impl CrdtCounter {
    /// An empty counter.
    pub fn new(settings: CrdtSettings) -> CrdtCounter {
        CrdtCounter {
            settings,
            counts: Vector::new(),
            known: HashMap::new(),
            pushes: HashMap::new(),
            busy: HashSet::new(),
            next_token: 1,
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

    fn gossip(&mut self, ctx: &mut Ctx) -> Result<()> {
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
            let token = self.next_token;
            self.next_token += 1;
            let body = Gossip {
                msg_type: "counter_gossip".into(),
                counts: self.counts.clone(),
            };
            ctx.rpc(&peer, &body, self.settings.gossip_timeout, token)?;
            self.pushes.insert(token, peer.clone());
            self.busy.insert(peer);
        }
        Ok(())
    }
}

impl Handler for CrdtCounter {
    fn on_init(&mut self, ctx: &mut Ctx) -> Result<()> {
        ctx.set_interval(self.settings.gossip_every, TICK);
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx, msg: &Message) -> Result<()> {
        match msg.msg_type.as_ref() {
            "add" => {
                let req: AddRequest = msg.parse()?;
                if req.delta != 0 {
                    let me = ctx.node_id().to_string();
                    let slot = self.counts.entry(me).or_default();
                    *slot = slot.plus(req.delta);
                }
                ctx.reply(msg, &ADD_OK)
            }
            "read" => ctx.reply(
                msg,
                &ReadOk {
                    msg_type: "read_ok",
                    value: self.value(),
                },
            ),
            "counter_gossip" => {
                let g: Gossip = msg.parse()?;
                self.learn(&msg.src, &g.counts);
                ctx.reply(
                    msg,
                    &Gossip {
                        msg_type: "counter_gossip_ok".into(),
                        counts: self.counts.clone(),
                    },
                )
            }
            other => Err(Error::not_supported(format!(
                "`{other}` is not handled by the counter's crdt mode"
            ))),
        }
    }

    fn on_rpc(&mut self, _ctx: &mut Ctx, token: u64, outcome: RpcOutcome) -> Result<()> {
        let Some(peer) = self.pushes.remove(&token) else {
            return Ok(());
        };
        self.busy.remove(&peer);
        if let RpcOutcome::Reply(msg) = outcome {
            if msg.msg_type == "counter_gossip_ok" {
                let g: Gossip = msg.parse()?;
                self.learn(&peer, &g.counts);
            }
        }
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx, _token: u64) -> Result<()> {
        self.gossip(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counter::testnet::{is_node_to_node, Fate, Net, Rng};
    use crate::counter::MESSAGE_TYPES;
    use glomers_runtime::testkit::TestNode;
    use serde_json::json;
    use std::time::Duration;

    const STEP: Duration = Duration::from_millis(10);

    fn cluster(n: usize, seed: u64) -> Net {
        Net::new(n, seed, || {
            TestNode::with(
                "counter",
                MESSAGE_TYPES,
                CrdtCounter::new(CrdtSettings::default()),
            )
        })
    }

    fn read(net: &mut Net, node: &str) -> i64 {
        let id = net.request("c9", node, json!({"type": "read"}));
        net.reply(id).unwrap()["value"].as_i64().unwrap()
    }

    #[test]
    fn adds_are_acknowledged_at_once_and_read_locally() {
        let mut net = cluster(1, 0);
        let a = net.request("c1", "n0", json!({"type": "add", "delta": 3}));
        assert_eq!(
            net.reply(a).unwrap(),
            &json!({"type": "add_ok", "in_reply_to": a})
        );
        assert_eq!(read(&mut net, "n0"), 3);
    }

    #[test]
    fn converges_through_partitions_duplicates_and_reordering() {
        for seed in 0..5 {
            let mut net = cluster(3, seed);
            net.reorder = true;
            let mut rng = Rng::new(seed);
            let mut cut = true;
            let mut sum = 0;
            for round in 0..200 {
                if round % 50 == 0 {
                    cut = !cut;
                }
                let partitioned = cut;
                let mut fate_rng = Rng::new(seed * 1000 + round);
                net.fate = Box::new(move |m| {
                    if is_node_to_node(m) && partitioned && m["dest"] == "n2" {
                        Fate::Drop
                    } else if fate_rng.chance(0.1) {
                        Fate::Duplicate
                    } else {
                        Fate::Deliver
                    }
                });
                let node = format!("n{}", rng.range(0, 2));
                let d = rng.range(0, 4) as i64 - 1;
                sum += d;
                net.request("c1", &node, json!({"type": "add", "delta": d}));
                net.run(Duration::from_millis(30), STEP);
            }
            net.fate = Box::new(|_| Fate::Deliver);
            net.run(Duration::from_secs(2), STEP);
            for n in ["n0", "n1", "n2"] {
                assert_eq!(read(&mut net, n), sum, "seed {seed} node {n}");
            }
        }
    }

    #[test]
    fn an_idle_converged_cluster_sends_nothing() {
        let mut net = cluster(3, 1);
        net.request("c1", "n0", json!({"type": "add", "delta": 2}));
        net.run(Duration::from_secs(1), STEP);
        let before = net.node_msgs;
        net.run(Duration::from_secs(5), STEP);
        assert_eq!(net.node_msgs, before);
        assert_eq!(read(&mut net, "n2"), 2);
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
