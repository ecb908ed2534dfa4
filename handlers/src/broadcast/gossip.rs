//! The gossip state machine, free of any IO: what a node knows, what each neighbour is
//! known to have, and what to send when. The handler feeds it client values, incoming
//! gossip and timer ticks, and it writes its messages into the handler's [`Ctx`].
//!
//! - **Deltas.** Every value learned is appended to a log. A flush sends each neighbour
//!   the log entries since the previous flush that it is not already known to have
//!   (relaying nodes forward everything, the others only their clients' values).
//! - **When.** With independent batching a flush comes a fixed delay after the first
//!   value waiting; with rounds it comes at the next instant of the node's [`Grid`], and
//!   a leaf's grid follows its relay's answers (see [`super::grid`]).
//! - **Answers.** A leaf's batch may ask its relay for an answer (`at`): the relay then
//!   writes to it at its next flush even with nothing new, which confirms the batch,
//!   carries the round alignment and tells the leaf its relay is reachable.
//! - **Confirmation.** `confirmed[peer]` only ever holds values the peer really has: what
//!   it sent us, what it said it `got`, what its `have` summary lists. Nothing is marked
//!   optimistically, so a message lost in a partition leaves a visible gap.
//! - **Anti-entropy.** Every `anti_entropy` period, for each neighbour, values older than
//!   `retry_after` and still unconfirmed are sent again with our whole set as ranges and a
//!   request to answer; the answer carries the neighbour's set, and each side pushes what
//!   the other lacks. Once every neighbour confirmed everything, the check sends nothing.
//! - **Failover** ([`failover`]): a leaf whose relay stays silent routes its batches
//!   through a standby, which forwards them to every node.
//! - **Memory** is a few words per value: the set, the log with learn times, and one
//!   range set per peer (ranges, so usually tiny). Nothing grows with messages sent.

mod failover;
mod rounds;

use std::time::Duration;

use glomers_runtime::{Ctx, Handler};

use super::grid::{next_send, stamp, Transit};
use super::layout::Plan;
use super::range_set::RangeSet;
use super::route::Route;
use super::settings::{Batching, Settings};
use super::wire::{GossipIn, GossipOut, GOSSIP};

use failover::Standby;
use rounds::Rounds;

/// A leaf's batch waiting for this relay's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Answer {
    /// The batch's stamp, on the leaf's clock (ms).
    at: u64,
    /// When it arrived, on our clock, as if with the least recent transit (see
    /// [`Transit`]).
    arrived: Duration,
}

#[derive(Debug, Default, Clone)]
struct Peer {
    /// Values this peer is known to have.
    confirmed: RangeSet,
    /// Log length when we last wrote to this peer: entries after it are news for `got`.
    told: usize,
    /// The peer's latest batch that asked for an answer, not answered yet.
    answer: Option<Answer>,
    /// The transits of its recent stamped batches.
    transit: Transit,
    /// We have answered one of the peer's batches before.
    answered: bool,
}

/// What one outgoing gossip message carries besides `v` and `got` (see [`super::wire`]).
#[derive(Debug, Default, Clone, Copy)]
struct Fields {
    /// Our whole set.
    have: bool,
    reply: bool,
    at: Option<u64>,
    next: Option<u64>,
    relay: bool,
}

/// One node's gossip state.
#[derive(Debug)]
pub struct Gossip {
    settings: Settings,
    me: usize,
    names: Vec<String>,
    plan: Plan,
    known: RangeSet,
    own: RangeSet,
    log: Vec<u64>,
    learned: Vec<Duration>,
    cursor: usize,
    unflushed: bool,
    peers: Vec<Peer>,
    buf: Vec<u64>,
    set_v: RangeSet,
    set_got: RangeSet,
    /// Round-aligned batching, if configured.
    rounds: Option<Rounds>,
    /// A leaf's choice of where to send (failover on).
    route: Option<Route>,
    /// Values routed through this node by leaves whose relay is silent.
    standby: Standby,
}

impl Gossip {
    /// The state of node `me` among `node_ids` (from `init`).
    pub fn new(settings: Settings, me: &str, node_ids: &[String]) -> Gossip {
        let mut names = node_ids.to_vec();
        let idx = match names.iter().position(|n| n == me) {
            Some(i) => i,
            None => {
                names.push(me.to_string());
                names.len() - 1
            }
        };
        let plan = Plan::new(settings.layout, idx, names.len(), None);
        let rounds = match settings.batching {
            Batching::Rounds {
                period,
                slack,
                markers,
            } => Some(Rounds::new(period, slack, markers, names.len())),
            Batching::Independent => None,
        };
        let mut g = Gossip {
            settings,
            me: idx,
            peers: vec![Peer::default(); names.len()],
            standby: Standby::new(names.len()),
            names,
            plan,
            known: RangeSet::new(),
            own: RangeSet::new(),
            log: Vec::new(),
            learned: Vec::new(),
            cursor: 0,
            unflushed: false,
            buf: Vec::new(),
            set_v: RangeSet::new(),
            set_got: RangeSet::new(),
            rounds,
            route: None,
        };
        g.route = g.new_route();
        g
    }

    /// Every value this node knows.
    pub fn known(&self) -> &RangeSet {
        &self.known
    }

    /// The current overlay position.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Node ids from `init`, in order.
    pub fn node_ids(&self) -> &[String] {
        &self.names
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.names[self.me]
    }

    /// The longest this node holds new values before a flush.
    pub fn batch(&self) -> Duration {
        match self.settings.batching {
            Batching::Rounds { period, .. } => period,
            Batching::Independent if self.plan.relays => self.settings.relay_batch,
            Batching::Independent => self.settings.origin_batch,
        }
    }

    /// How long from `now` until the flush of what waits now: the batching delay, or
    /// in rounds the next instant due (see [`rounds`]).
    pub fn flush_delay(&self, now: Duration) -> Duration {
        match &self.rounds {
            Some(rounds) => self.round_flush_delay(rounds, now),
            None => self.batch(),
        }
    }

    /// True (once) if the instant of the next flush moved since the last call (a relay's
    /// answer moved a leaf's grid, or every leaf a relay expects is in): a flush timer
    /// armed before should be armed again.
    pub fn take_flush_moved(&mut self) -> bool {
        self.rounds
            .as_mut()
            .is_some_and(|r| std::mem::take(&mut r.moved))
    }

    /// True if new values (or answers owed to leaves) wait for a flush.
    pub fn flush_pending(&self) -> bool {
        self.unflushed
    }

    /// A node that only originates and has one relay: a star or tree leaf.
    fn is_leaf(&self) -> bool {
        !self.plan.relays && self.plan.neighbours.len() == 1
    }

    /// The route of a leaf when failover is on.
    fn new_route(&self) -> Option<Route> {
        let failover = self.settings.failover?;
        let silence = self.settings.relay_wait() + failover;
        self.is_leaf()
            .then(|| Route::new(self.me, self.plan.neighbours[0], self.names.len(), silence))
    }

    /// Replaces the overlay with Maelstrom's neighbours (only for the `maelstrom` layout).
    pub fn set_topology(&mut self, neighbours: Vec<usize>) {
        self.plan = Plan::new(
            self.settings.layout,
            self.me,
            self.names.len(),
            Some(&neighbours),
        );
        self.route = self.new_route();
        // Values learned under the old plan go out again under the new one.
        self.cursor = 0;
        self.unflushed = !self.log.is_empty() && !self.plan.neighbours.is_empty();
    }

    /// Records a value from a client. Returns true if it was new.
    pub fn add_own(&mut self, value: u64, now: Duration) -> bool {
        if !self.learn(value, now) {
            return false;
        }
        self.own.insert(value);
        if !self.plan.neighbours.is_empty() {
            self.unflushed = true;
        }
        true
    }

    fn learn(&mut self, value: u64, now: Duration) -> bool {
        if !self.known.insert(value) {
            return false;
        }
        self.log.push(value);
        self.learned.push(now);
        true
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.names.iter().position(|n| n == id)
    }

    /// Handles a `bcast_gossip` from node `from`. Gossip from an id that is not a node of
    /// the cluster is ignored (and reported as false), so nothing is ever sent to it.
    pub fn on_gossip<H: Handler>(
        &mut self,
        from: &str,
        msg: &GossipIn,
        now: Duration,
        ctx: &mut Ctx<H>,
    ) -> bool {
        let Some(p) = self.index_of(from).filter(|&p| p != self.me) else {
            return false;
        };
        let mut fresh = false;
        for value in msg.v.iter() {
            fresh |= self.learn(value, now);
        }
        let confirmed = &mut self.peers[p].confirmed;
        confirmed.union_with(&msg.v);
        confirmed.union_with(&msg.got);
        if let Some(have) = &msg.have {
            confirmed.union_with(have);
        }
        if fresh && (self.plan.relays || self.confirms_in_rounds()) {
            // Relays forward; leaves sending markers confirm with their next message.
            self.unflushed = true;
        }
        if msg.have.is_none() && self.plan.neighbours.contains(&p) {
            self.round_message_from(p);
        }
        let answer = msg.at.map(|at| Answer {
            at,
            arrived: self.peers[p].transit.settle(at, now),
        });
        if let (Some(answer), true, false) = (answer, self.plan.relays, msg.relay) {
            self.take_batch_stamp(p, answer, now, ctx);
        }
        self.take_round_answer(p, msg.next);
        if msg.relay {
            let gather = self.settings.standby_gather();
            self.standby.intake(p, &msg.v, answer, now, gather);
        }
        self.route_heard(p, msg.relay, now, ctx);
        if msg.have.is_some() {
            // Anti-entropy: push what the peer's fresh summary lacks, leaving out values
            // that may still be on their way to it.
            let settled = self.settled_prefix(self.batch() + self.settings.repair_grace, now);
            let mut missing = std::mem::take(&mut self.set_v);
            self.relevant_missing(p, settled, &mut missing);
            if msg.reply || !missing.is_empty() {
                let fields = Fields {
                    have: msg.reply,
                    ..Fields::default()
                };
                self.send(p, &missing, None, fields, ctx);
            }
            self.set_v = missing;
        } else if msg.reply {
            // An acknowledged send: confirm what arrived, duplicates included.
            let empty = RangeSet::new();
            self.send(p, &empty, Some(&msg.v), Fields::default(), ctx);
        }
        true
    }

    /// A leaf's batch asks for an answer: at the next flush, or, in rounds, at once if it
    /// is the leaf's first (so that the leaf is aligned from its second batch on instead
    /// of after a whole round) or if the round that will carry it is more than half a
    /// round away: the batch missed its round, and a late leaf should not take the wait
    /// for the next one for a silent relay. Its values go with the next round either way.
    fn take_batch_stamp<H: Handler>(
        &mut self,
        p: usize,
        answer: Answer,
        now: Duration,
        ctx: &mut Ctx<H>,
    ) {
        let first = !std::mem::replace(&mut self.peers[p].answered, true);
        let at_once = first || self.round_far_off(now);
        if let (true, Some(next)) = (at_once, self.round_answer(answer, now)) {
            let fields = Fields {
                next: Some(next),
                ..Fields::default()
            };
            self.send(p, &RangeSet::new(), None, fields, ctx);
            return;
        }
        self.peers[p].answer = Some(answer);
        self.unflushed = true;
    }

    /// Sends each neighbour the values learned since the last flush that it may lack,
    /// and answers the leaves' batches that asked for it.
    pub fn flush<H: Handler>(&mut self, ctx: &mut Ctx<H>) {
        self.unflushed = false;
        let now = ctx.now();
        self.round_flush_starts(now);
        let (start, end) = (self.cursor, self.log.len());
        self.cursor = end;
        if self.route.as_ref().is_some_and(|r| !r.on_primary()) {
            self.flush_around(start, end, now, ctx);
            return;
        }
        let stamp = self.asks_answers().then(|| stamp(now));
        let mut v = std::mem::take(&mut self.set_v);
        for n in 0..self.plan.neighbours.len() {
            let p = self.plan.neighbours[n];
            let confirmed = &self.peers[p].confirmed;
            if self.round_leaf() {
                // Every earlier batch has been answered by now (a round is longer than
                // a round trip): own values still unconfirmed were lost, so they go
                // again with this batch.
                self.own.difference_into(confirmed, &mut v);
            } else {
                self.buf.clear();
                for &x in &self.log[start..end] {
                    if (self.plan.relays || self.own.contains(x)) && !confirmed.contains(x) {
                        self.buf.push(x);
                    }
                }
                v.assign_from(&mut self.buf);
            }
            let answer = self.peers[p].answer.take();
            let with_values = !v.is_empty();
            self.round_wrote(p, with_values);
            if !with_values && answer.is_none() && !self.owes_marker(p) {
                continue;
            }
            // Only own values ask for an answer; a marker (`got` alone) does not.
            let at = stamp.filter(|_| with_values);
            let fields = Fields {
                reply: self.settings.acks,
                at,
                next: answer.and_then(|a| self.round_answer(a, now)),
                ..Fields::default()
            };
            self.send(p, &v, None, fields, ctx);
            if at.is_some() {
                let within = self.primary_answer_bound();
                if let Some(route) = self.route.as_mut() {
                    route.sent(now, within);
                }
            }
        }
        self.set_v = v;
        self.round_flush_ends();
    }

    /// Leaves stamp their batches when they want answers: to align rounds or to notice
    /// a silent relay.
    fn asks_answers(&self) -> bool {
        self.is_leaf() && (self.rounds.is_some() || self.settings.failover.is_some())
    }

    /// In rounds, when the leaf whose batch is `a` should send its next one.
    fn round_answer(&self, a: Answer, now: Duration) -> Option<u64> {
        let Batching::Rounds { slack, .. } = self.settings.batching else {
            return None;
        };
        let grid = &self.rounds.as_ref()?.grid;
        Some(next_send(a.at, a.arrived, grid.after(now), slack))
    }

    /// The anti-entropy check: for each neighbour, resend values older than `retry_after`
    /// that it has not confirmed, with our set and a request to answer.
    pub fn tick<H: Handler>(&mut self, now: Duration, ctx: &mut Ctx<H>) {
        self.confirm_quietly(now, ctx);
        let settled = self.settled_prefix(self.settings.retry_after, now);
        let mut doubt = std::mem::take(&mut self.set_v);
        for n in 0..self.plan.neighbours.len() {
            let p = self.plan.neighbours[n];
            self.relevant_missing(p, settled, &mut doubt);
            if !doubt.is_empty() {
                let fields = Fields {
                    have: true,
                    reply: true,
                    ..Fields::default()
                };
                self.send(p, &doubt, None, fields, ctx);
            }
        }
        self.set_v = doubt;
    }

    /// A leaf confirms to its relay what it learned since it last wrote to it, once that
    /// is `retry_after / 2` old: a leaf with nothing of its own to send (at the end of a
    /// run, say) thus settles its relay's last batches with one message, before the
    /// relay's check would spend two on each.
    fn confirm_quietly<H: Handler>(&mut self, now: Duration, ctx: &mut Ctx<H>) {
        if !self.is_leaf() || self.unflushed || self.route.as_ref().is_some_and(|r| !r.on_primary())
        {
            return;
        }
        let relay = self.plan.neighbours[0];
        let told = self.peers[relay].told;
        let due = self
            .learned
            .get(told)
            .is_some_and(|&t| t + self.settings.retry_after / 2 <= now);
        if due {
            self.send(relay, &RangeSet::new(), None, Fields::default(), ctx);
        }
    }

    /// Length of the log prefix learned at least `age` ago and already flushed.
    fn settled_prefix(&self, age: Duration, now: Duration) -> usize {
        let old = self.learned.partition_point(|&t| t + age <= now);
        old.min(self.cursor)
    }

    /// `out` = values this node is responsible for spreading that `peer` has not
    /// confirmed, except log entries from `settled` on (too recent to judge).
    fn relevant_missing(&self, peer: usize, settled: usize, out: &mut RangeSet) {
        let relevant = if self.plan.relays {
            &self.known
        } else {
            &self.own
        };
        relevant.difference_into(&self.peers[peer].confirmed, out);
        if out.is_empty() {
            return;
        }
        for &x in &self.log[settled..] {
            out.remove(x);
        }
    }

    /// Writes one gossip message to `peer`: `v`, plus as `got` the log entries since we
    /// last wrote to it (and `extra_got`), plus `fields`.
    fn send<H: Handler>(
        &mut self,
        peer: usize,
        v: &RangeSet,
        extra_got: Option<&RangeSet>,
        fields: Fields,
        ctx: &mut Ctx<H>,
    ) {
        let state = &mut self.peers[peer];
        self.buf.clear();
        for &x in &self.log[state.told..] {
            if !v.contains(x) {
                self.buf.push(x);
            }
        }
        state.told = self.log.len();
        let mut got = std::mem::take(&mut self.set_got);
        got.assign_from(&mut self.buf);
        if let Some(extra) = extra_got {
            got.union_with(extra);
        }
        let body = GossipOut {
            msg_type: GOSSIP,
            v,
            got: &got,
            have: fields.have.then_some(&self.known),
            reply: fields.reply,
            at: fields.at,
            next: fields.next,
            relay: fields.relay,
        };
        ctx.send(&self.names[peer], &body);
        self.set_got = got;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broadcast::layout::Layout;
    use crate::broadcast::Broadcast;
    use glomers_runtime::testkit::Sandbox;

    /// Collects what the state machine sends, as (destination, JSON body).
    struct Collect {
        sandbox: Sandbox<Broadcast>,
        sent: Vec<(String, serde_json::Value)>,
    }

    impl Default for Collect {
        fn default() -> Self {
            Collect {
                sandbox: Sandbox::new("n0", &["n0", "n1", "n2", "n3", "n4"]),
                sent: Vec::new(),
            }
        }
    }

    impl Collect {
        fn run(&mut self, f: impl FnOnce(&mut Ctx<Broadcast>)) {
            let sent = self.sandbox.messages(f);
            self.sent.extend(sent);
        }
    }

    fn hub() -> Gossip {
        let ids: Vec<String> = (0..5).map(|i| format!("n{i}")).collect();
        let settings = Settings {
            layout: Layout::Star,
            ..Settings::default()
        };
        Gossip::new(settings, "n0", &ids)
    }

    fn gossip(v: &[u64], have: Option<&[u64]>, reply: bool) -> GossipIn {
        GossipIn {
            v: v.iter().copied().collect(),
            got: RangeSet::new(),
            have: have.map(|h| h.iter().copied().collect()),
            reply,
            ..GossipIn::default()
        }
    }

    #[test]
    fn memory_grows_with_values_not_with_messages() {
        let mut g = hub();
        let mut out = Collect::default();
        let mut now = Duration::ZERO;
        for v in 0..300u64 {
            let from = format!("n{}", 1 + v % 4);
            out.run(|ctx| {
                g.on_gossip(&from, &gossip(&[v], None, false), now, ctx);
            });
            now += Duration::from_millis(10);
        }
        out.run(|ctx| g.flush(ctx));
        let footprint = |g: &Gossip| {
            (
                g.log.len(),
                g.learned.len(),
                g.known.ranges().len(),
                g.peers
                    .iter()
                    .map(|p| p.confirmed.ranges().len())
                    .collect::<Vec<_>>(),
            )
        };
        // Every leaf confirms everything once: its confirmed set collapses to one range.
        for leaf in 1..5 {
            let all: Vec<u64> = (0..300).collect();
            out.run(|ctx| {
                g.on_gossip(
                    &format!("n{leaf}"),
                    &gossip(&[], Some(&all), false),
                    now,
                    ctx,
                );
            });
        }
        let before = footprint(&g);
        assert_eq!(before.0, 300);
        assert_eq!(before.2, 1);
        assert_eq!(before.3, vec![0, 1, 1, 1, 1]);
        // Thousands of duplicate messages and checks later, nothing has grown.
        for i in 0..5000u64 {
            let from = format!("n{}", 1 + i % 4);
            let v = i % 300;
            out.run(|ctx| {
                g.on_gossip(&from, &gossip(&[v], Some(&[v]), i % 2 == 0), now, ctx);
            });
            if i % 100 == 0 {
                now += Duration::from_secs(1);
                out.run(|ctx| g.tick(now, ctx));
                out.run(|ctx| g.flush(ctx));
            }
        }
        assert_eq!(footprint(&g), before);
    }

    #[test]
    fn anti_entropy_request_is_answered_with_the_missing_values_and_our_set() {
        let mut g = hub();
        let mut out = Collect::default();
        out.run(|ctx| {
            g.on_gossip("n1", &gossip(&[1, 2, 3], None, false), Duration::ZERO, ctx);
        });
        out.run(|ctx| g.flush(ctx));
        out.sent.clear();
        // Long after, n2 says it only has 2 and asks for an answer.
        let later = Duration::from_secs(10);
        out.run(|ctx| {
            g.on_gossip("n2", &gossip(&[], Some(&[2, 9]), true), later, ctx);
        });
        assert_eq!(out.sent.len(), 1);
        let (to, body) = &out.sent[0];
        assert_eq!(to, "n2");
        assert_eq!(body["v"], serde_json::json!([1, 3]));
        assert_eq!(body["have"], serde_json::json!([[1, 3]]));
        assert!(
            body.get("reply").is_none(),
            "an answer never asks for another"
        );
        // Values learned just now are not pushed yet: they may still be on their way.
        out.sent.clear();
        out.run(|ctx| {
            g.on_gossip("n3", &gossip(&[20], None, false), later, ctx);
        });
        out.run(|ctx| g.flush(ctx));
        out.sent.clear();
        out.run(|ctx| {
            g.on_gossip("n4", &gossip(&[], Some(&[1, 2, 3]), false), later, ctx);
        });
        assert!(out.sent.is_empty(), "{:?}", out.sent);
    }
}
