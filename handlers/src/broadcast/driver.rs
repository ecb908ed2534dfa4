//! The gossip state machine with its timers, as a handler family runs it: the flush timer
//! (armed for the batching interval or the next round), the anti-entropy interval, and
//! the failover and standby alarms kept at the instants the state asks for. Broadcast and
//! g-set both run one, and differ only in their client messages.

use std::time::Duration;

use glomers_runtime::{Ctx, Error, Handler, Result, Sender, TimerId};
use slog::debug;

use super::gossip::Gossip;
use super::settings::Settings;
use super::wire::GossipIn;

/// Most values one `bcast_gossip` may carry: a bigger delta (`[[0, 10^12]]`) would be
/// learned one value at a time.
pub const MAX_VALUES_PER_GOSSIP: u64 = 100_000;

/// What a gossip timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GossipTimer {
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
    fn keep<H: Handler<Timer = GossipTimer>>(
        &mut self,
        ctx: &mut Ctx<H>,
        want: Option<Duration>,
        timer: GossipTimer,
    ) {
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
}

/// Settings until `init`, then the gossip state and its timers.
pub struct GossipDriver {
    settings: Settings,
    gossip: Option<Gossip>,
    flush_timer: Option<TimerId>,
    failover: Alarm,
    standby: Alarm,
}

impl GossipDriver {
    /// A driver with the given settings.
    pub fn new(settings: Settings) -> GossipDriver {
        GossipDriver {
            settings,
            gossip: None,
            flush_timer: None,
            failover: Alarm::default(),
            standby: Alarm::default(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Builds the gossip state once the node knows its cluster; starts anti-entropy.
    pub fn init<H: Handler<Timer = GossipTimer>>(&mut self, ctx: &mut Ctx<H>, family: &str) {
        let gossip = Gossip::new(self.settings.clone(), ctx.node_id(), ctx.node_ids());
        debug!(ctx.log(), "{family} overlay";
            "neighbours" => format!("{:?}", gossip.plan().neighbours), "relays" => gossip.plan().relays);
        self.gossip = Some(gossip);
        if let Some(period) = self.settings.anti_entropy {
            ctx.set_interval(period, GossipTimer::AntiEntropy);
        }
    }

    /// The gossip state, or error 11 before `init`.
    pub fn gossip(&mut self, family: &str) -> Result<&mut Gossip> {
        self.gossip.as_mut().ok_or_else(|| {
            Error::unavailable(format!("{family}: the node has not been initialized yet"))
        })
    }

    /// A `bcast_gossip` from `from`.
    pub fn on_gossip<H: Handler>(
        &mut self,
        ctx: &mut Ctx<H>,
        from: &Sender,
        body: &GossipIn,
    ) -> Result<()> {
        if body.v.len() > MAX_VALUES_PER_GOSSIP {
            return Err(Error::malformed(format!(
                "bcast_gossip carries {} values; at most {MAX_VALUES_PER_GOSSIP} are taken at once",
                body.v.len()
            )));
        }
        let g = self.gossip("gossip")?;
        let now = ctx.now();
        if !g.on_gossip(from.id(), body, now, ctx) {
            debug!(ctx.log(), "ignoring gossip from a non-node"; "src" => from.id());
        }
        Ok(())
    }

    /// Flushes now or arms the flush timer if values wait and no flush is planned (a
    /// timer armed for a grid the relay has since moved is armed again), and keeps the
    /// failover and standby timers at the instants the gossip state asks for. Call after
    /// every input.
    pub fn schedule<H: Handler<Timer = GossipTimer>>(&mut self, ctx: &mut Ctx<H>) {
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
                self.flush_timer = Some(ctx.set_timer(wait, GossipTimer::Flush));
            }
        }
        self.failover
            .keep(ctx, g.failover_deadline(), GossipTimer::Failover);
        self.standby
            .keep(ctx, g.standby_due(), GossipTimer::Standby);
    }

    /// A gossip timer fired.
    pub fn on_timer<H: Handler<Timer = GossipTimer>>(
        &mut self,
        ctx: &mut Ctx<H>,
        timer: GossipTimer,
    ) -> Result<()> {
        let Some(g) = self.gossip.as_mut() else {
            return Err(Error::unavailable(
                "gossip: the node has not been initialized yet",
            ));
        };
        let now = ctx.now();
        match timer {
            GossipTimer::Flush => {
                self.flush_timer = None;
                if g.flush_pending() {
                    g.flush(ctx);
                }
            }
            GossipTimer::AntiEntropy => g.tick(now, ctx),
            GossipTimer::Failover => {
                self.failover.0 = None;
                g.check_route(now, ctx);
            }
            GossipTimer::Standby => {
                self.standby.0 = None;
                g.relay_for_standby(now, ctx);
            }
        }
        self.schedule(ctx);
        Ok(())
    }
}
