//! Round-aligned batching inside the gossip state: when a flush is due, a leaf's grid
//! following its relay's answers, and a relay's account of which leaves it waits for.
//!
//! - **A leaf** flushes on its grid, at most once per instant. Until its relay's first
//!   answer it cannot know the relay's rounds, so it sends at once. With markers on, a
//!   leaf without values of its own that learned values since it last wrote to its relay
//!   sends, at its next instant, a *marker*: just `got`. That confirms the relay's round,
//!   and it tells the relay the leaf's round message is in.
//! - **A relay** serves one round per grid instant. With markers, a leaf it sent values
//!   to in a round and heard from in that round or the one before is *expected* in the
//!   next: it will send a batch or a marker. The relay forwards as soon as every expected
//!   leaf's message is in (about `slack` before the instant, when the leaves are
//!   aligned), and otherwise at the instant plus `slack` at the latest: a stalled leaf
//!   delays a round a little instead of waiting a whole round, and stays expected, so it
//!   does not race the others next time; a cut-off leaf is waited for twice only. With
//!   nobody to expect (at the start, after a quiet spell) it forwards at the instant.
//!   Without markers a relay cannot know who will send: it forwards at the instant, or
//!   earlier only in a round in which every leaf has sent.
//!
//! Markers cost a message per leaf per round without values of its own: little when
//! rounds are long against the clients' pace (3e: about 3 % of the leaves' batches),
//! much when they are short (3d: nearly half).

use std::time::Duration;

use super::Gossip;
use crate::broadcast::grid::Grid;

const NANO: Duration = Duration::from_nanos(1);

/// The round state of one node.
#[derive(Debug)]
pub(super) struct Rounds {
    pub(super) grid: Grid,
    slack: Duration,
    markers: bool,
    /// Leaf: the grid instant of the last flush.
    flushed_at: Option<Duration>,
    /// Leaf: the node whose answer aligned the grid last (its relay, or a standby).
    pub(super) aligned_to: Option<usize>,
    /// The instant of the next flush moved: a timer armed for it is stale.
    pub(super) moved: bool,
    /// Relay: the round instant its last flush served.
    served: Option<Duration>,
    /// Relay: per node, whether its round message arrived since the last flush.
    arrived: Vec<bool>,
    /// Relay: per node, for how many more rounds it counts as active (2 when it was
    /// heard from in the last round).
    active: Vec<u8>,
    /// Relay: per node, whether it is expected in the current round.
    expected: Vec<bool>,
}

impl Rounds {
    pub(super) fn new(period: Duration, slack: Duration, markers: bool, nodes: usize) -> Rounds {
        Rounds {
            grid: Grid::new(Duration::ZERO, period),
            slack,
            markers,
            flushed_at: None,
            aligned_to: None,
            moved: false,
            served: None,
            arrived: vec![false; nodes],
            active: vec![0; nodes],
            expected: vec![false; nodes],
        }
    }

    /// Relay: the round instant the next flush serves: the next one, or one that passed
    /// less than `slack` ago and has not been served (its late batches go at once). No
    /// looking back before the first round: the relay's own early values wait for it.
    fn next_round(&self, now: Duration) -> Duration {
        let from = match self.served {
            Some(served) => now.saturating_sub(self.slack).max(served + NANO),
            None => now,
        };
        self.grid.at_or_after(from)
    }

    /// Relay: every leaf expected in this round has been heard from (without markers:
    /// every leaf has).
    fn complete(&self, leaves: &[usize]) -> bool {
        if !self.markers {
            return !leaves.is_empty() && leaves.iter().all(|&l| self.arrived[l]);
        }
        let mut expecting = false;
        for (expected, arrived) in self.expected.iter().zip(&self.arrived) {
            if *expected && !arrived {
                return false;
            }
            expecting |= expected;
        }
        expecting
    }
}

impl Gossip {
    /// True if this node is a leaf batching in rounds.
    pub(super) fn round_leaf(&self) -> bool {
        self.rounds.is_some() && self.is_leaf()
    }

    /// How long from `now` until the next flush in rounds.
    pub(super) fn round_flush_delay(&self, rounds: &Rounds, now: Duration) -> Duration {
        if self.plan.relays {
            if rounds.complete(&self.plan.neighbours) {
                return Duration::ZERO;
            }
            let round = rounds.next_round(now);
            let expecting = rounds.markers && rounds.expected.iter().any(|e| *e);
            let due = if expecting {
                round + rounds.slack
            } else {
                round
            };
            return due.saturating_sub(now);
        }
        let on_primary = self.route.as_ref().is_none_or(|r| r.on_primary());
        if self.is_leaf() && on_primary && rounds.aligned_to.is_none() {
            return Duration::ZERO;
        }
        if self.relays_own_values(now) {
            // Own values go into the node's own standby relay, which has its own rounds.
            return Duration::ZERO;
        }
        let from = rounds.flushed_at.map_or(now, |last| now.max(last + NANO));
        rounds.grid.at_or_after(from).saturating_sub(now)
    }

    /// A leaf's grid follows the answer `next` (its clock, ms) of its relay, or of the
    /// standby it routes through.
    pub(super) fn take_round_answer(&mut self, from: usize, next: Option<u64>) {
        let target = self.route.as_ref().map(|r| r.target());
        let relay = self.plan.neighbours.first() == Some(&from) || target == Some(from);
        let leaf_of = self.is_leaf() && relay;
        let (Some(next), Some(rounds), true) = (next, self.rounds.as_mut(), leaf_of) else {
            return;
        };
        rounds.grid.shift_to(Duration::from_millis(next));
        rounds.aligned_to = Some(from);
        rounds.moved = true;
    }

    /// A relay heard from leaf `from` in this round: forward now if it was the last one
    /// expected.
    pub(super) fn round_message_from(&mut self, from: usize) {
        let relays = self.plan.relays;
        let Some(rounds) = self.rounds.as_mut().filter(|_| relays) else {
            return;
        };
        rounds.arrived[from] = true;
        if rounds.complete(&self.plan.neighbours) {
            rounds.moved = true;
            self.unflushed = true;
        }
    }

    /// A flush at `now` begins: note the instant served.
    pub(super) fn round_flush_starts(&mut self, now: Duration) {
        let relays = self.plan.relays;
        let Some(rounds) = self.rounds.as_mut() else {
            return;
        };
        if relays {
            // The round nearest to now (a flush may come early, or late after a stall).
            let nearest = rounds
                .grid
                .at_or_after(now.saturating_sub(rounds.grid.period() / 2));
            let served = rounds
                .served
                .map_or(nearest, |s| nearest.max(s + rounds.grid.period()));
            rounds.served = Some(served);
            rounds.expected.fill(false);
        } else {
            rounds.flushed_at = Some(now);
        }
    }

    /// A relay's flush wrote to `peer`, with values or not: an active leaf that got
    /// values will send a round message in the next round.
    pub(super) fn round_wrote(&mut self, peer: usize, with_values: bool) {
        if let Some(rounds) = self.rounds.as_mut().filter(|_| self.plan.relays) {
            rounds.expected[peer] =
                with_values && (rounds.arrived[peer] || rounds.active[peer] > 1);
        }
    }

    /// A relay's flush is over: nobody's round message is in for the next round yet.
    pub(super) fn round_flush_ends(&mut self) {
        if let Some(rounds) = self.rounds.as_mut().filter(|_| self.plan.relays) {
            for (active, arrived) in rounds.active.iter_mut().zip(&mut rounds.arrived) {
                *active = if std::mem::take(arrived) {
                    2
                } else {
                    active.saturating_sub(1)
                };
            }
        }
    }

    /// Relay: the next flush is more than half a round after `now`.
    pub(super) fn round_far_off(&self, now: Duration) -> bool {
        self.rounds.as_ref().is_some_and(|r| {
            self.plan.relays && self.round_flush_delay(r, now) > r.grid.period() / 2
        })
    }

    /// A leaf owes its relay a marker: markers are on, its grid is aligned to that relay
    /// (the relay expects nothing from it before), and it learned values since it last
    /// wrote to it.
    pub(super) fn owes_marker(&self, relay: usize) -> bool {
        self.confirms_in_rounds() && self.peers[relay].told < self.log.len()
    }

    /// A leaf in rounds confirms what it learned with a marker: markers are on and its
    /// grid is aligned to the node it sends to (its relay, or its standby).
    pub(super) fn confirms_in_rounds(&self) -> bool {
        let target = match &self.route {
            Some(route) => Some(route.target()),
            None => self.plan.neighbours.first().copied(),
        };
        self.is_leaf()
            && self
                .rounds
                .as_ref()
                .is_some_and(|r| r.markers && r.aligned_to.is_some() && r.aligned_to == target)
    }
}
