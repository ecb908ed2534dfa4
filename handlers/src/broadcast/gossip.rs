//! The gossip state machine, free of any IO: what a node knows, what each neighbour is
//! known to have, and what to send when. The handler feeds it client values, incoming
//! gossip and timer ticks, and it writes its messages into the handler's [`Ctx`] (any
//! handler's: the g-set family runs the same state machine).
//!
//! - **Deltas.** Every value learned is appended to a log. A flush sends each neighbour
//!   the log entries since the previous flush that it is not already known to have
//!   (relaying nodes forward everything, the others only their clients' values).
//! - **Confirmation.** `confirmed[peer]` only ever holds values the peer really has: what
//!   it sent us, what it said it `got`, what its `have` summary lists. Nothing is marked
//!   optimistically, so a message lost in a partition leaves a visible gap.
//! - **Anti-entropy.** Every `anti_entropy` period, for each neighbour, values older than
//!   `retry_after` and still unconfirmed are sent again with our whole set as ranges and a
//!   request to answer; the answer carries the neighbour's set, and each side pushes what
//!   the other lacks. Once every neighbour confirmed everything, the check sends nothing.
//! - **Memory** is a few words per value: the set, the log with learn times, and one
//!   range set per peer (ranges, so usually tiny). Nothing grows with messages sent.

use std::time::Duration;

use glomers_runtime::{Ctx, Handler};

use super::layout::Plan;
use super::range_set::RangeSet;
use super::settings::Settings;
use super::wire::{GossipIn, GossipOut, GOSSIP};

#[derive(Debug, Default, Clone)]
struct Peer {
    /// Values this peer is known to have.
    confirmed: RangeSet,
    /// Log length when we last wrote to this peer: entries after it are news for `got`.
    told: usize,
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
        Gossip {
            settings,
            me: idx,
            peers: vec![Peer::default(); names.len()],
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
        }
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

    /// How long this node holds new values before a flush.
    pub fn batch(&self) -> Duration {
        if self.plan.relays {
            self.settings.relay_batch
        } else {
            self.settings.origin_batch
        }
    }

    /// True if new values wait for a flush.
    pub fn flush_pending(&self) -> bool {
        self.unflushed
    }

    /// Replaces the overlay with Maelstrom's neighbours (only for the `maelstrom` layout).
    pub fn set_topology(&mut self, neighbours: Vec<usize>) {
        self.plan = Plan::new(
            self.settings.layout,
            self.me,
            self.names.len(),
            Some(&neighbours),
        );
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
        if fresh && self.plan.relays {
            self.unflushed = true;
        }
        if msg.have.is_some() {
            // Anti-entropy: push what the peer's fresh summary lacks, leaving out values
            // that may still be on their way to it.
            let settled = self.settled_prefix(self.batch() + self.settings.repair_grace, now);
            let mut missing = std::mem::take(&mut self.set_v);
            self.relevant_missing(p, settled, &mut missing);
            if msg.reply || !missing.is_empty() {
                self.send(p, &missing, None, msg.reply, false, ctx);
            }
            self.set_v = missing;
        } else if msg.reply {
            // An acknowledged send: confirm what arrived, duplicates included.
            let empty = RangeSet::new();
            self.send(p, &empty, Some(&msg.v), false, false, ctx);
        }
        true
    }

    /// Sends each neighbour the values learned since the last flush that it may lack.
    pub fn flush<H: Handler>(&mut self, ctx: &mut Ctx<H>) {
        self.unflushed = false;
        let (start, end) = (self.cursor, self.log.len());
        self.cursor = end;
        if start == end {
            return;
        }
        let mut v = std::mem::take(&mut self.set_v);
        for n in 0..self.plan.neighbours.len() {
            let p = self.plan.neighbours[n];
            self.buf.clear();
            let confirmed = &self.peers[p].confirmed;
            for &x in &self.log[start..end] {
                if (self.plan.relays || self.own.contains(x)) && !confirmed.contains(x) {
                    self.buf.push(x);
                }
            }
            if self.buf.is_empty() {
                continue;
            }
            v.assign_from(&mut self.buf);
            self.send(p, &v, None, false, self.settings.acks, ctx);
        }
        self.set_v = v;
    }

    /// The anti-entropy check: for each neighbour, resend values older than `retry_after`
    /// that it has not confirmed, with our set and a request to answer.
    pub fn tick<H: Handler>(&mut self, now: Duration, ctx: &mut Ctx<H>) {
        let settled = self.settled_prefix(self.settings.retry_after, now);
        let mut doubt = std::mem::take(&mut self.set_v);
        for n in 0..self.plan.neighbours.len() {
            let p = self.plan.neighbours[n];
            self.relevant_missing(p, settled, &mut doubt);
            if !doubt.is_empty() {
                self.send(p, &doubt, None, true, true, ctx);
            }
        }
        self.set_v = doubt;
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
    /// last wrote to it (and `extra_got`), plus our whole set if `with_have`.
    fn send<H: Handler>(
        &mut self,
        peer: usize,
        v: &RangeSet,
        extra_got: Option<&RangeSet>,
        with_have: bool,
        reply: bool,
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
            have: with_have.then_some(&self.known),
            reply,
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
