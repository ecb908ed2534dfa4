//! Routing around a silent relay (the leaf's side, driven by its [`Route`]) and standby
//! duty (forwarding to every node what leaves routed through this one).
//!
//! A leaf that routes around its primary sends its batches, flagged `relay`, to its
//! current standby instead. The standby collects such batches for `standby_gather` (in
//! rounds they all leave together, so a short window catches them all) and then writes to
//! every other node once, with the collected values each one lacks; a node that sent a
//! batch is written to even if it lacks nothing, which is its answer. A leaf whose turn
//! has come to itself, or that is on standby duty while cut off from its own relay, puts
//! its own values into that relay too.
//!
//! In rounds, routed batches are stamped too, and the standby's relay answers them like
//! a hub: with when the leaf's next batch should leave to arrive `slack` before the
//! standby's next relay, on the grid of its first relay of this duty. Leaves that were
//! aligned to the hub already arrive together; leaves that never were (a partition from
//! the start) are gathered into one relay per round from their second round on. With
//! markers, a leaf aligned to its standby that has nothing of its own sends it a marker,
//! and the standby relays as soon as every leaf that routed through its last relay is
//! in, as a hub does.
//!
//! Nothing here runs while relays answer their leaves: the only state touched on the
//! normal path is the route's deadline.

use std::time::Duration;

use glomers_runtime::{Ctx, Handler};

use super::{Answer, Fields, Gossip};
use crate::broadcast::grid::{next_send, stamp, Grid};
use crate::broadcast::range_set::RangeSet;
use crate::broadcast::settings::Batching;

/// Values waiting to be forwarded to every node on behalf of leaves cut off from their
/// relay.
#[derive(Debug)]
pub(super) struct Standby {
    to_relay: RangeSet,
    /// Nodes whose routed batches wait for this relay's answer.
    asked: Vec<bool>,
    /// Rounds with markers: nodes that routed through the last relay and got values, so
    /// will route through the next one.
    expected: Vec<bool>,
    due: Option<Duration>,
    /// When a routed batch last arrived.
    last_intake: Option<Duration>,
    /// Rounds: the stamps of routed batches waiting for the relay's answer.
    answers: Vec<Option<Answer>>,
    /// Rounds: the grid of this duty's relays, through its first one, and when the last
    /// relay went out.
    relays: Option<Grid>,
    last_relay: Option<Duration>,
}

impl Standby {
    pub(super) fn new(nodes: usize) -> Standby {
        Standby {
            to_relay: RangeSet::new(),
            asked: vec![false; nodes],
            expected: vec![false; nodes],
            due: None,
            last_intake: None,
            answers: vec![None; nodes],
            relays: None,
            last_relay: None,
        }
    }

    /// A batch `v` routed through us by node `from` at `now`, stamped in rounds (its
    /// `answer`); relay it within `gather`.
    pub(super) fn intake(
        &mut self,
        from: usize,
        v: &RangeSet,
        answer: Option<Answer>,
        now: Duration,
        gather: Duration,
    ) {
        self.last_intake = Some(now);
        if let (Some(slot), Some(answer)) = (self.answers.get_mut(from), answer) {
            *slot = Some(answer);
        }
        self.to_relay.union_with(v);
        if let Some(slot) = self.asked.get_mut(from) {
            *slot = true;
        }
        let expecting = self.expected.iter().any(|e| *e);
        let complete = self.expected.iter().zip(&self.asked).all(|(e, a)| !e || *a);
        self.relay_by(if expecting && complete {
            now
        } else {
            now + gather
        });
    }

    /// True if leaves routed batches through us within `horizon` before `now`.
    fn active(&self, now: Duration, horizon: Duration) -> bool {
        self.last_intake.is_some_and(|t| now < t + horizon)
    }

    fn relay_by(&mut self, by: Duration) {
        self.due = Some(self.due.map_or(by, |d| d.min(by)));
    }
}

impl Gossip {
    /// How long a batch to the primary may wait for its answer before the primary counts
    /// as silent: the primary's own wait (a whole round until the leaf is aligned to it,
    /// then only the slack) plus `failover_ms`, which covers the round trip.
    pub(super) fn primary_answer_bound(&self) -> Duration {
        let primary = self.plan.neighbours.first().copied();
        let aligned = self
            .rounds
            .as_ref()
            .is_some_and(|r| r.aligned_to == primary);
        let wait = match self.settings.batching {
            Batching::Rounds { slack, .. } if aligned => slack,
            Batching::Rounds { period, .. } => period,
            Batching::Independent => self.settings.relay_batch,
        };
        wait + self.settings.failover.unwrap_or_default()
    }

    /// How long a batch routed through a standby may wait for its relay.
    fn standby_answer_bound(&self) -> Duration {
        self.settings.standby_gather() + self.settings.failover.unwrap_or_default()
    }

    /// How long a leaf relaying its own values waits to hear from anyone: its own hold,
    /// the gather window and a round trip.
    fn self_relay_answer_bound(&self) -> Duration {
        self.standby_answer_bound() + self.settings.failover.unwrap_or_default()
    }

    /// When the route's current target counts as silent, if a batch waits for it.
    pub fn failover_deadline(&self) -> Option<Duration> {
        self.route.as_ref().and_then(|r| r.deadline())
    }

    /// When the values routed through this node go out, if any wait.
    pub fn standby_due(&self) -> Option<Duration> {
        self.standby.due
    }

    /// Gossip from `from` reached a leaf: update its route, and follow a standby's relay
    /// if the primary has been silent for longer than it ever should be.
    pub(super) fn route_heard<H: Handler>(
        &mut self,
        from: usize,
        routed: bool,
        now: Duration,
        ctx: &mut Ctx<H>,
    ) {
        let Some(route) = self.route.as_mut() else {
            return;
        };
        route.heard(from, now);
        if !routed && from != route.primary() && route.follow(from, now) {
            self.reroute(now, ctx);
        }
    }

    /// The failover timer: if the current target stayed silent, move on and resend there
    /// what the primary has not confirmed.
    pub fn check_route<H: Handler>(&mut self, now: Duration, ctx: &mut Ctx<H>) {
        let moved = self.route.as_mut().and_then(|r| r.expire(now));
        if moved.is_some() {
            self.reroute(now, ctx);
        }
    }

    /// The route changed: send the new target our own values the primary has not
    /// confirmed (they may be lost), unless it already has them.
    fn reroute<H: Handler>(&mut self, now: Duration, ctx: &mut Ctx<H>) {
        let Some(route) = self.route.as_ref() else {
            return;
        };
        let (primary, target) = (route.primary(), route.target());
        let mut stuck = std::mem::take(&mut self.set_v);
        self.own
            .difference_into(&self.peers[primary].confirmed, &mut stuck);
        stuck.subtract(&self.peers[target].confirmed);
        if !stuck.is_empty() {
            self.route_values(&stuck, now, ctx);
        }
        self.set_v = stuck;
    }

    /// A flush while routing around the primary: our own new values go to the route's
    /// target, flagged for relaying.
    pub(super) fn flush_around<H: Handler>(
        &mut self,
        start: usize,
        end: usize,
        now: Duration,
        ctx: &mut Ctx<H>,
    ) {
        let mut new_own: Vec<u64> = self.log[start..end]
            .iter()
            .copied()
            .filter(|&x| self.own.contains(x))
            .collect();
        if new_own.is_empty() {
            if !self.relays_own_values(now) {
                self.mark_to_standby(ctx);
            }
            return;
        }
        let mut v = RangeSet::new();
        v.assign_from(&mut new_own);
        self.route_values(&v, now, ctx);
    }

    /// Rounds with markers: a leaf aligned to the standby it routes through, with nothing
    /// of its own but values to confirm, tells the standby it is in.
    fn mark_to_standby<H: Handler>(&mut self, ctx: &mut Ctx<H>) {
        let Some(target) = self.route.as_ref().map(|r| r.target()) else {
            return;
        };
        if target != self.me && self.owes_marker(target) {
            let fields = Fields {
                relay: true,
                ..Fields::default()
            };
            self.send(target, &RangeSet::new(), None, fields, ctx);
        }
    }

    /// Sends `values` (our own) along the current route: to a standby flagged `relay`,
    /// into our own relay when the turn has come to us, or to the primary as a batch.
    fn route_values<H: Handler>(&mut self, values: &RangeSet, now: Duration, ctx: &mut Ctx<H>) {
        let Some(route) = self.route.as_ref() else {
            return;
        };
        let target = route.target();
        if self.relays_own_values(now) {
            // Our own relay: its next instant in rounds, else held a while, so that the
            // other leaves' batches share it. A leaf whose turn it is waits to hear from
            // someone; one on standby duty already does, and keeps its route as it is.
            let mine = route.relays_itself();
            self.standby.to_relay.union_with(values);
            let by = match (self.standby.relays, self.standby.last_relay) {
                (Some(grid), Some(last)) if self.rounds.is_some() => {
                    // The instant after the one the last relay served (it may have gone
                    // early, once every routed leaf was in).
                    let served = grid.at_or_after(last.saturating_sub(grid.period() / 2));
                    grid.at_or_after(now.max(served + Duration::from_nanos(1)))
                }
                _ => now + self.settings.failover.unwrap_or_default(),
            };
            self.standby.relay_by(by);
            if mine {
                let within = self.self_relay_answer_bound();
                self.sent_on_route(now, within);
            }
            return;
        }
        let mut v = values.clone();
        v.subtract(&self.peers[target].confirmed);
        if v.is_empty() {
            return;
        }
        let (fields, within) = if route.on_primary() {
            let fields = Fields {
                at: Some(stamp(now)),
                ..Fields::default()
            };
            (fields, self.primary_answer_bound())
        } else {
            let fields = Fields {
                relay: true,
                at: self.rounds.is_some().then(|| stamp(now)),
                ..Fields::default()
            };
            (fields, self.standby_answer_bound())
        };
        self.send(target, &v, None, fields, ctx);
        self.sent_on_route(now, within);
    }

    /// Rounds: the instant of the standby's next relay after the one at `now` (on the
    /// grid of this duty's first relay), and the slack routed batches should keep.
    fn next_standby_relay(&mut self, now: Duration) -> Option<(Duration, Duration)> {
        let Batching::Rounds { period, slack, .. } = self.settings.batching else {
            return None;
        };
        // A duty that lapsed (no relay for a round and a deadline) starts a new grid.
        let horizon = period + self.settings.failover.unwrap_or_default();
        let lapsed = self.standby.last_relay.is_none_or(|t| now > t + horizon);
        self.standby.last_relay = Some(now);
        let current = self.standby.relays.filter(|_| !lapsed);
        let grid = *self
            .standby
            .relays
            .insert(current.unwrap_or_else(|| Grid::new(now, period)));
        Some((grid.after(now), slack))
    }

    /// True if this node puts its own values into its own standby relay: its turn in
    /// the standby order has come, or it is on standby duty while cut off from its relay.
    pub(super) fn relays_own_values(&self, now: Duration) -> bool {
        let horizon = self.settings.relay_wait() + self.settings.failover.unwrap_or_default();
        self.route.as_ref().is_some_and(|route| {
            route.relays_itself() || (!route.on_primary() && self.standby.active(now, horizon))
        })
    }

    fn sent_on_route(&mut self, now: Duration, within: Duration) {
        if let Some(route) = self.route.as_mut() {
            route.sent(now, within);
        }
    }

    /// Standby duty: once the gather window closed, write to every other node the routed
    /// values it has not confirmed, and answer every node that routed a batch through us.
    pub fn relay_for_standby<H: Handler>(&mut self, now: Duration, ctx: &mut Ctx<H>) {
        if self.standby.due.is_none_or(|d| now < d) {
            return;
        }
        self.standby.due = None;
        let next_relay = self.next_standby_relay(now);
        let markers = matches!(
            self.settings.batching,
            Batching::Rounds { markers: true, .. }
        );
        let to_relay = std::mem::take(&mut self.standby.to_relay);
        let mut v = std::mem::take(&mut self.set_v);
        for q in 0..self.names.len() {
            if q == self.me {
                continue;
            }
            to_relay.difference_into(&self.peers[q].confirmed, &mut v);
            let asked = std::mem::take(&mut self.standby.asked[q]);
            let answer = self.standby.answers[q].take();
            self.standby.expected[q] = markers && asked && !v.is_empty();
            if v.is_empty() && !asked {
                continue;
            }
            let fields = Fields {
                next: answer
                    .zip(next_relay)
                    .map(|(a, (round, slack))| next_send(a.at, a.arrived, round, slack)),
                ..Fields::default()
            };
            self.send(q, &v, None, fields, ctx);
        }
        self.set_v = v;
        self.standby.to_relay = to_relay;
        self.standby.to_relay.clear();
    }
}
