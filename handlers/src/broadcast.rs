//! Challenges 3a–3e: broadcast. Clients `broadcast` integers to any node and `read` the
//! set from any node; every value must reach every node.
//!
//! The node acknowledges a `broadcast` at once and spreads the value as a delta over a
//! configurable overlay (star, tree, Maelstrom's topology, total, grid). Batches leave
//! either on independent timers at origins and relays, or on round-aligned grids where
//! one round carries a value over both hops of a star. Leaves cut off from their relay
//! route through a standby. Anti-entropy with range summaries repairs what partitions
//! dropped. The parts:
//! - [`range_set`]: the value set as ranges (values are small unique integers);
//! - [`layout`]: who gossips with whom;
//! - [`grid`]: round-aligned batching;
//! - [`route`]: a leaf's choice between its relay and a standby;
//! - [`settings`]: the `[broadcast]` config section;
//! - [`wire`]: message bodies;
//! - [`gossip`]: the IO-free state machine;
//! - this module: the [`Handler`] gluing them to the runtime.

pub mod driver;
pub mod gossip;
pub mod grid;
pub mod layout;
pub mod range_set;
pub mod route;
pub mod settings;
pub mod wire;

#[cfg(test)]
mod tests;

use glomers_runtime::{
    ConfigError, Ctx, Family, Handler, HandlerSpec, Never, Result, Section, Sender,
};
use serde::{Deserialize, Serialize};

use driver::{GossipDriver, GossipTimer};
use layout::{topology_indices, Layout};
use range_set::Values;
use settings::Settings;
use wire::{GossipIn, TopologyRequest};

/// The messages this family answers: the client RPCs and its own gossip.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BroadcastMsg {
    /// `broadcast {message}`: a value to spread (Maelstrom sends unique non-negative
    /// integers).
    Broadcast {
        /// The value.
        message: u64,
    },
    /// `read`: every value this node knows.
    Read,
    /// `topology {topology}`: Maelstrom's suggested neighbours.
    Topology(TopologyRequest),
    /// Node-to-node deltas and summaries (see [`wire`]).
    #[serde(rename = "bcast_gossip")]
    Gossip(GossipIn),
}

pub use driver::MAX_VALUES_PER_GOSSIP;

/// Replies to clients, with exactly the fields the workload allows. (Variant names are
/// the wire types, hence the shared `Ok`.)
#[allow(clippy::enum_variant_names)]
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BroadcastReply<'a> {
    BroadcastOk,
    ReadOk { messages: Values<'a> },
    TopologyOk,
}

/// The broadcast handler: the gossip state machine with its timers.
pub struct Broadcast {
    driver: GossipDriver,
}

impl Broadcast {
    /// A handler with the given settings.
    pub fn new(settings: Settings) -> Broadcast {
        Broadcast {
            driver: GossipDriver::new(settings),
        }
    }
}

impl Handler for Broadcast {
    type Msg<'a> = BroadcastMsg;
    type Timer = GossipTimer;
    type Rpc = Never;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) -> Result<()> {
        self.driver.init(ctx, "broadcast");
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: Sender, msg: BroadcastMsg) -> Result<()> {
        let maelstrom_layout = self.driver.settings().layout == Layout::Maelstrom;
        match msg {
            BroadcastMsg::Broadcast { message } => {
                let g = self.driver.gossip("broadcast")?;
                ctx.reply(&from, &BroadcastReply::BroadcastOk);
                g.add_own(message, ctx.now());
            }
            BroadcastMsg::Read => {
                let messages = self.driver.gossip("broadcast")?.known().as_values();
                ctx.reply(&from, &BroadcastReply::ReadOk { messages });
                return Ok(());
            }
            BroadcastMsg::Topology(req) => {
                let g = self.driver.gossip("broadcast")?;
                if maelstrom_layout {
                    if let Some(list) = topology_indices(&req.topology, g.node_id(), g.node_ids()) {
                        g.set_topology(list);
                    }
                }
                ctx.reply(&from, &BroadcastReply::TopologyOk);
            }
            BroadcastMsg::Gossip(body) => self.driver.on_gossip(ctx, &from, &body)?,
        }
        self.driver.schedule(ctx);
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, timer: GossipTimer) -> Result<()> {
        self.driver.on_timer(ctx, timer)
    }
}

fn build(s: &mut Section) -> std::result::Result<Family, ConfigError> {
    Ok(Family::new(Broadcast::new(Settings::from_section(s)?)))
}

glomers_runtime::inventory::submit! {
    HandlerSpec {
        family: "broadcast",
        summary: "challenges 3a-3e: broadcast over a configurable overlay with batching and anti-entropy",
        build,
    }
}
