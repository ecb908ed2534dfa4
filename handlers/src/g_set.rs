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
    //! The client protocol on one node; the cluster behaviour (convergence through
    //! partitions, duplicates and reordering) is tested on the deterministic driver in
    //! `handlers/tests/g_set.rs`.

    use super::*;
    use glomers_runtime::testkit::TestNode;
    use serde_json::{json, Value};

    fn node() -> TestNode {
        let mut n = TestNode::with("gset", GSet::new(Settings::default()));
        n.init("n0", &["n0"]);
        n
    }

    #[test]
    fn adds_are_acknowledged_and_read_back_with_the_workload_fields() {
        let mut n = node();
        let out = n.request("c1", json!({"type": "add", "element": 3, "msg_id": 1}));
        assert_eq!(
            out,
            vec![json!({"src": "n0", "dest": "c1", "body": {"type": "add_ok", "in_reply_to": 1}})]
        );
        let out = n.request("c1", json!({"type": "read", "msg_id": 2}));
        assert_eq!(
            out[0]["body"],
            json!({"type": "read_ok", "value": [3], "in_reply_to": 2})
        );
    }

    #[test]
    fn a_non_integer_element_is_malformed() {
        let mut n = node();
        for bad in [json!("x"), json!(-1), json!(1.5), Value::Null] {
            let out = n.request("c1", json!({"type": "add", "element": bad, "msg_id": 1}));
            assert_eq!(out[0]["body"]["code"], 12, "{bad}");
        }
        let out = n.request("c1", json!({"type": "read", "msg_id": 2}));
        assert_eq!(out[0]["body"]["value"], json!([]));
    }
}
