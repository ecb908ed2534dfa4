//! Challenges 3a–3e: broadcast. Clients `broadcast` integers to any node and `read` the
//! set from any node; every value must reach every node.
//!
//! The node acknowledges a `broadcast` at once and spreads the value as a delta over a
//! configurable overlay (star, tree, Maelstrom's topology, total, grid), batching at the
//! origin and at relays with separate intervals. Anti-entropy with range summaries repairs
//! what partitions dropped. The parts:
//! - [`range_set`]: the value set as ranges (values are small unique integers);
//! - [`layout`]: who gossips with whom;
//! - [`settings`]: the `[broadcast]` config section;
//! - [`wire`]: message bodies;
//! - [`gossip`]: the IO-free state machine;
//! - this module: the [`Handler`] gluing them to the runtime.

pub mod gossip;
pub mod layout;
pub mod range_set;
pub mod settings;
pub mod wire;

#[cfg(test)]
mod tests;

use glomers_runtime::{
    ConfigError, Ctx, Error, Handler, HandlerSpec, Message, Result, Section, TimerId,
};
use slog::debug;

use gossip::{Gossip, Outbox};
use layout::{topology_indices, Layout};
use settings::Settings;
use wire::{Ack, BroadcastRequest, GossipIn, GossipOut, ReadOk, TopologyRequest, GOSSIP};

/// Message types this family answers.
pub const MESSAGE_TYPES: &[&str] = &["broadcast", "read", "topology", GOSSIP];

const FLUSH: u64 = 1;
const TICK: u64 = 2;

/// The broadcast handler: settings until `init`, then the gossip state.
pub struct Broadcast {
    settings: Settings,
    gossip: Option<Gossip>,
    flush_timer: Option<TimerId>,
}

impl Broadcast {
    /// A handler with the given settings.
    pub fn new(settings: Settings) -> Broadcast {
        Broadcast {
            settings,
            gossip: None,
            flush_timer: None,
        }
    }

    /// Flushes now or arms the flush timer if values wait and no flush is planned.
    fn schedule(&mut self, ctx: &mut Ctx) -> Result<()> {
        let Some(g) = self.gossip.as_mut() else {
            return Ok(());
        };
        if !g.flush_pending() || self.flush_timer.is_some() {
            return Ok(());
        }
        let wait = g.batch();
        if wait.is_zero() {
            g.flush(&mut CtxOutbox(ctx))
        } else {
            self.flush_timer = Some(ctx.set_timer(wait, FLUSH));
            Ok(())
        }
    }
}

/// Lets the state machine write through the node's context.
struct CtxOutbox<'a, 'b>(&'a mut Ctx<'b>);

impl Outbox for CtxOutbox<'_, '_> {
    fn send(&mut self, to: &str, body: &GossipOut) -> Result<()> {
        self.0.send(to, body)
    }
}

fn not_ready() -> Error {
    Error::unavailable("broadcast: the node has not been initialized yet")
}

impl Handler for Broadcast {
    fn on_init(&mut self, ctx: &mut Ctx) -> Result<()> {
        let gossip = Gossip::new(self.settings.clone(), ctx.node_id(), ctx.node_ids());
        debug!(ctx.log(), "broadcast overlay";
            "neighbours" => format!("{:?}", gossip.plan().neighbours), "relays" => gossip.plan().relays);
        self.gossip = Some(gossip);
        if let Some(period) = self.settings.anti_entropy {
            ctx.set_interval(period, TICK);
        }
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx, msg: &Message) -> Result<()> {
        let g = self.gossip.as_mut().ok_or_else(not_ready)?;
        match msg.msg_type.as_ref() {
            "broadcast" => {
                let req: BroadcastRequest = msg.parse()?;
                ctx.reply(
                    msg,
                    &Ack {
                        msg_type: "broadcast_ok",
                    },
                )?;
                g.add_own(req.message, ctx.now());
            }
            "read" => {
                return ctx.reply(
                    msg,
                    &ReadOk {
                        msg_type: "read_ok",
                        messages: g.known().as_values(),
                    },
                );
            }
            "topology" => {
                if self.settings.layout == Layout::Maelstrom {
                    let req: TopologyRequest = msg.parse()?;
                    if let Some(list) = topology_indices(&req.topology, g.node_id(), g.node_ids()) {
                        g.set_topology(list);
                    }
                }
                ctx.reply(
                    msg,
                    &Ack {
                        msg_type: "topology_ok",
                    },
                )?;
            }
            GOSSIP => {
                let body: GossipIn = msg.parse()?;
                let now = ctx.now();
                if !g.on_gossip(&msg.src, &body, now, &mut CtxOutbox(ctx))? {
                    debug!(ctx.log(), "ignoring gossip from a non-node"; "src" => msg.src.as_ref());
                }
            }
            other => {
                return Err(Error::not_supported(format!(
                    "broadcast does not answer `{other}`"
                )))
            }
        }
        self.schedule(ctx)
    }

    fn on_timer(&mut self, ctx: &mut Ctx, token: u64) -> Result<()> {
        let g = self.gossip.as_mut().ok_or_else(not_ready)?;
        match token {
            FLUSH => {
                self.flush_timer = None;
                g.flush(&mut CtxOutbox(ctx))?;
            }
            TICK => {
                let now = ctx.now();
                g.tick(now, &mut CtxOutbox(ctx))?;
            }
            _ => {}
        }
        self.schedule(ctx)
    }
}

fn build(s: &mut Section) -> std::result::Result<Box<dyn Handler>, ConfigError> {
    Ok(Box::new(Broadcast::new(Settings::from_section(s)?)))
}

glomers_runtime::inventory::submit! {
    HandlerSpec {
        family: "broadcast",
        summary: "challenges 3a-3e: broadcast over a configurable overlay with batching and anti-entropy",
        message_types: MESSAGE_TYPES,
        build,
    }
}
