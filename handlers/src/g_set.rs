//! Maelstrom's g-set workload: `add {element}` → `add_ok`, `read` → `read_ok {value}`
//! (every element this node knows).
//!
//! A grow-only set spreads exactly like broadcast's values, so this family runs the
//! broadcast family's gossip state machine with its timers ([`GossipDriver`]): the same overlays, batching at
//! the origin and at relays, delta gossip with confirmations, and range-summary
//! anti-entropy that repairs what partitions dropped, configured by the same keys and
//! speaking the same `bcast_gossip` messages. Only the client messages differ. Elements
//! must be non-negative integers (Maelstrom adds 0, 1, 2, …), which the range-compressed
//! sets rely on; anything else is refused as malformed (error 12).
//!
//! Broadcast and g-set both answer `read`, so a node runs one or the other.

use glomers_runtime::{
    ConfigError, Ctx, Family, Handler, HandlerSpec, Never, Result, Section, Sender,
};
use serde::{Deserialize, Serialize};

use crate::broadcast::driver::{GossipDriver, GossipTimer};
use crate::broadcast::range_set::Values;
use crate::broadcast::settings::Settings;
use crate::broadcast::wire::GossipIn;

/// The messages this family answers.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GSetMsg {
    /// `add {element}`: an element to add to the set.
    Add {
        /// The element.
        element: u64,
    },
    /// `read`: every element this node knows.
    Read,
    /// Node-to-node deltas and summaries, as broadcast sends them.
    #[serde(rename = "bcast_gossip")]
    Gossip(GossipIn),
}

/// Replies to clients, with exactly the fields the workload allows.
#[allow(clippy::enum_variant_names)]
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum GSetReply<'a> {
    AddOk,
    ReadOk { value: Values<'a> },
}

/// The g-set handler: broadcast's gossip state machine with its timers.
pub struct GSet {
    driver: GossipDriver,
}

impl GSet {
    /// A handler with the given (broadcast) settings.
    pub fn new(settings: Settings) -> GSet {
        GSet {
            driver: GossipDriver::new(settings),
        }
    }
}

impl Handler for GSet {
    type Msg<'a> = GSetMsg;
    type Timer = GossipTimer;
    type Rpc = Never;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) -> Result<()> {
        self.driver.init(ctx, "g-set");
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: Sender, msg: GSetMsg) -> Result<()> {
        match msg {
            GSetMsg::Add { element } => {
                let g = self.driver.gossip("g-set")?;
                ctx.reply(&from, &GSetReply::AddOk);
                g.add_own(element, ctx.now());
            }
            GSetMsg::Read => {
                let value = self.driver.gossip("g-set")?.known().as_values();
                ctx.reply(&from, &GSetReply::ReadOk { value });
                return Ok(());
            }
            GSetMsg::Gossip(body) => self.driver.on_gossip(ctx, &from, &body)?,
        }
        self.driver.schedule(ctx);
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, timer: GossipTimer) -> Result<()> {
        self.driver.on_timer(ctx, timer)
    }
}

fn build(s: &mut Section) -> std::result::Result<Family, ConfigError> {
    Ok(Family::new(GSet::new(Settings::from_section(s)?)))
}

glomers_runtime::inventory::submit! {
    HandlerSpec {
        family: "gset",
        summary: "g-set: a grow-only set gossiped with broadcast's overlay and anti-entropy",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broadcast::layout::Layout;
    use crate::test_cluster::{is_node_to_node, Fate, Net, Rng};
    use glomers_runtime::testkit::TestNode;
    use serde_json::{json, Value};
    use std::time::Duration;

    const STEP: Duration = Duration::from_millis(10);

    fn cluster(n: usize, seed: u64, layout: Layout) -> Net {
        let settings = Settings {
            layout,
            ..Settings::default()
        };
        Net::new(n, seed, || {
            TestNode::with("gset", GSet::new(settings.clone()))
        })
    }

    fn read(net: &mut Net, node: &str) -> Vec<u64> {
        let id = net.request("c9", node, json!({"type": "read"}));
        let value = &net.reply(id).expect("read answered")["value"];
        let mut v: Vec<u64> = serde_json::from_value(value.clone()).expect("a list");
        v.sort_unstable();
        v
    }

    #[test]
    fn adds_are_acknowledged_and_read_back_with_the_workload_fields() {
        let mut net = cluster(1, 0, Layout::Star);
        let a = net.request("c1", "n0", json!({"type": "add", "element": 3}));
        assert_eq!(
            net.reply(a).unwrap(),
            &json!({"type": "add_ok", "in_reply_to": a})
        );
        let r = net.request("c1", "n0", json!({"type": "read"}));
        assert_eq!(
            net.reply(r).unwrap(),
            &json!({"type": "read_ok", "value": [3], "in_reply_to": r})
        );
    }

    #[test]
    fn a_non_integer_element_is_malformed() {
        let mut net = cluster(1, 0, Layout::Star);
        for bad in [json!("x"), json!(-1), json!(1.5), Value::Null] {
            let id = net.request("c1", "n0", json!({"type": "add", "element": bad}));
            assert_eq!(net.reply(id).unwrap()["code"], 12, "{bad}");
        }
        assert!(read(&mut net, "n0").is_empty());
    }

    #[test]
    fn every_node_converges_through_partitions_duplicates_and_reordering() {
        for (seed, layout) in [(1, Layout::Star), (2, Layout::Total)] {
            let mut net = cluster(5, seed, layout);
            net.reorder = true;
            let mut rng = Rng::new(seed);
            let mut added = Vec::new();
            for round in 0..300u64 {
                let cut = (round / 60) % 2 == 1;
                let victim = format!("n{}", (round / 120) % 5);
                let mut fates = Rng::new(seed * 1000 + round);
                net.fate = Box::new(move |m| {
                    let touches = m["src"] == victim.as_str() || m["dest"] == victim.as_str();
                    if cut && is_node_to_node(m) && touches {
                        Fate::Drop
                    } else if fates.chance(0.05) {
                        Fate::Duplicate
                    } else {
                        Fate::Deliver
                    }
                });
                let node = format!("n{}", rng.range(0, 4));
                net.request("c1", &node, json!({"type": "add", "element": round}));
                added.push(round);
                net.run(Duration::from_millis(50), STEP);
            }
            net.fate = Box::new(|_| Fate::Deliver);
            net.run(Duration::from_secs(10), STEP);
            for n in 0..5 {
                assert_eq!(read(&mut net, &format!("n{n}")), added, "seed {seed} n{n}");
            }
        }
    }
}
