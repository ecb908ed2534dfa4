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

pub mod gossip;
pub mod grid;
pub mod layout;
pub mod range_set;
pub mod route;
pub mod settings;
pub mod wire;

#[cfg(test)]
mod tests;

use std::time::Duration;

use glomers_runtime::{
    ConfigError, Ctx, Error, Family, Handler, HandlerSpec, Never, Result, Section, Sender, TimerId,
};
use serde::{Deserialize, Serialize};
use slog::debug;

use gossip::Gossip;
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

/// Most values one `bcast_gossip` may give a node to learn. Far more than any broadcast
/// run sends in one message; a value costs its receiver a few words for good, so a
/// delta claiming more (a range such as `[0, 10^18]` is a few bytes on the wire) is
/// refused as malformed instead of being learned value by value.
pub const MAX_VALUES_PER_GOSSIP: u64 = 100_000;

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

/// What a broadcast timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BroadcastTimer {
    /// Send the values batched since the last flush.
    Flush,
    /// The periodic anti-entropy check.
    AntiEntropy,
    /// A leaf's batch may have gone unanswered: check the route.
    Failover,
    /// Relay what leaves routed through this node.
    Standby,
}

/// A one-shot timer kept at the instant the gossip state asks for.
#[derive(Debug, Default)]
struct Alarm(Option<(TimerId, Duration)>);

impl Alarm {
    /// Arms, moves or cancels the timer so that it fires `timer` at `want`.
    fn keep(&mut self, ctx: &mut Ctx<Broadcast>, want: Option<Duration>, timer: BroadcastTimer) {
        if self.0.map(|(_, at)| at) == want {
            return;
        }
        if let Some((id, _)) = self.0.take() {
            ctx.cancel_timer(id);
        }
        if let Some(at) = want {
            let id = ctx.set_timer(at.saturating_sub(ctx.now()), timer);
            self.0 = Some((id, at));
        }
    }

    /// The timer fired.
    fn fired(&mut self) {
        self.0 = None;
    }
}

/// The broadcast handler: settings until `init`, then the gossip state.
pub struct Broadcast {
    settings: Settings,
    gossip: Option<Gossip>,
    flush_timer: Option<TimerId>,
    failover: Alarm,
    standby: Alarm,
}

impl Broadcast {
    /// A handler with the given settings.
    pub fn new(settings: Settings) -> Broadcast {
        Broadcast {
            settings,
            gossip: None,
            flush_timer: None,
            failover: Alarm::default(),
            standby: Alarm::default(),
        }
    }

    /// Flushes now or arms the flush timer if values wait and no flush is planned (a
    /// timer armed for a grid the relay has since moved is armed again), and keeps the
    /// failover and standby timers at the instants the gossip state asks for.
    fn schedule(&mut self, ctx: &mut Ctx<Self>) {
        let Some(g) = self.gossip.as_mut() else {
            return;
        };
        if g.take_flush_moved() {
            if let Some(id) = self.flush_timer.take() {
                ctx.cancel_timer(id);
            }
        }
        if g.flush_pending() && self.flush_timer.is_none() {
            let wait = g.flush_delay(ctx.now());
            if wait.is_zero() {
                g.flush(ctx);
            } else {
                self.flush_timer = Some(ctx.set_timer(wait, BroadcastTimer::Flush));
            }
        }
        self.failover
            .keep(ctx, g.failover_deadline(), BroadcastTimer::Failover);
        self.standby
            .keep(ctx, g.standby_due(), BroadcastTimer::Standby);
    }
}

fn not_ready() -> Error {
    Error::unavailable("broadcast: the node has not been initialized yet")
}

impl Handler for Broadcast {
    type Msg<'a> = BroadcastMsg;
    type Timer = BroadcastTimer;
    type Rpc = Never;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) -> Result<()> {
        let gossip = Gossip::new(self.settings.clone(), ctx.node_id(), ctx.node_ids());
        debug!(ctx.log(), "broadcast overlay";
            "neighbours" => format!("{:?}", gossip.plan().neighbours), "relays" => gossip.plan().relays);
        self.gossip = Some(gossip);
        if let Some(period) = self.settings.anti_entropy {
            ctx.set_interval(period, BroadcastTimer::AntiEntropy);
        }
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: Sender, msg: BroadcastMsg) -> Result<()> {
        let g = self.gossip.as_mut().ok_or_else(not_ready)?;
        match msg {
            BroadcastMsg::Broadcast { message } => {
                ctx.reply(&from, &BroadcastReply::BroadcastOk);
                g.add_own(message, ctx.now());
            }
            BroadcastMsg::Read => {
                let messages = g.known().as_values();
                ctx.reply(&from, &BroadcastReply::ReadOk { messages });
                return Ok(());
            }
            BroadcastMsg::Topology(req) => {
                if self.settings.layout == Layout::Maelstrom {
                    if let Some(list) = topology_indices(&req.topology, g.node_id(), g.node_ids()) {
                        g.set_topology(list);
                    }
                }
                ctx.reply(&from, &BroadcastReply::TopologyOk);
            }
            BroadcastMsg::Gossip(body) => {
                if body.v.len() > MAX_VALUES_PER_GOSSIP {
                    return Err(Error::malformed(format!(
                        "bcast_gossip carries {} values; at most {MAX_VALUES_PER_GOSSIP} are \
                         taken at once",
                        body.v.len()
                    )));
                }
                let now = ctx.now();
                if !g.on_gossip(from.id(), &body, now, ctx) {
                    debug!(ctx.log(), "ignoring gossip from a non-node"; "src" => from.id());
                }
            }
        }
        self.schedule(ctx);
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, timer: BroadcastTimer) -> Result<()> {
        let g = self.gossip.as_mut().ok_or_else(not_ready)?;
        match timer {
            BroadcastTimer::Flush => {
                self.flush_timer = None;
                if g.flush_pending() {
                    g.flush(ctx);
                }
            }
            BroadcastTimer::AntiEntropy => {
                let now = ctx.now();
                g.tick(now, ctx);
            }
            BroadcastTimer::Failover => {
                self.failover.fired();
                let now = ctx.now();
                g.check_route(now, ctx);
            }
            BroadcastTimer::Standby => {
                self.standby.fired();
                let now = ctx.now();
                g.relay_for_standby(now, ctx);
            }
        }
        self.schedule(ctx);
        Ok(())
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
