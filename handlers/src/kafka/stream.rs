//! The reliable replication link between this node and one peer, without any IO.
//!
//! Outbound, a node appends [`Event`]s (a message it stored, a committed offset) to an
//! ordered stream per peer, numbered from 0. Batches carry a range of events; the peer
//! answers with how far it has applied the stream, and events are forgotten only once
//! acknowledged, so a lost batch or answer is simply sent again (at most one batch is in
//! flight per peer). Applying an event twice is harmless (inserts and commit maxima are
//! idempotent), so overlapping retransmissions need no special care.
//!
//! Inbound, the link tracks how far the peer's stream has been applied and the peer's
//! *promises*: "my stream up to `end` holds every message I stored below
//! `(clock + 1) × nodes`". A promise counts once the stream is applied up to its `end`.

use std::collections::VecDeque;

use super::log::KeyId;

/// One item of a replication stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// This node stored a message of `key` at `offset` (the value is read from the log
    /// when the batch is built).
    Entry(KeyId, u64),
    /// An offset was committed for `key`.
    Commit(KeyId, u64),
}

/// What one link has in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// The batch's number (per node, across all links).
    pub batch: u64,
    /// The clock value the batch carried.
    pub clock: u64,
}

/// Replication state with one peer, both directions.
#[derive(Debug, Default)]
pub struct Link {
    events: VecDeque<Event>,
    base: u64,
    in_flight: Option<InFlight>,
    told_clock: u64,
    applied: u64,
    pending_promises: Vec<(u64, u64)>,
    promise: Option<u64>,
}

/// At most this many promises wait for their stream position; older ones are dropped
/// (a dropped promise only delays visibility until a newer one counts).
const MAX_PENDING_PROMISES: usize = 64;

impl Link {
    /// Number of events ever queued to this peer.
    pub fn end(&self) -> u64 {
        self.base + self.events.len() as u64
    }

    /// Queues an event for the peer.
    pub fn push(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// Events not yet acknowledged.
    pub fn unacked(&self) -> usize {
        self.events.len()
    }

    /// True when a batch should go out now: nothing is in flight, and there are
    /// unacknowledged events or the peer has not heard this node's `clock`.
    pub fn wants_batch(&self, clock: u64) -> bool {
        self.in_flight.is_none() && (!self.events.is_empty() || clock > self.told_clock)
    }

    /// The next batch: its first event number and up to `max` events.
    pub fn batch(&self, max: usize) -> (u64, impl Iterator<Item = &Event>) {
        (self.base, self.events.iter().take(max))
    }

    /// Records the batch just sent.
    pub fn sent(&mut self, in_flight: InFlight) {
        self.in_flight = Some(in_flight);
    }

    /// The in-flight batch, if any.
    pub fn in_flight(&self) -> Option<InFlight> {
        self.in_flight
    }

    /// The in-flight batch was lost (timeout): it will be sent again.
    pub fn lost(&mut self) {
        self.in_flight = None;
    }

    /// The peer applied our stream up to `applied`, after receiving a batch that
    /// carried `clock`.
    pub fn acked(&mut self, applied: u64, clock: u64) {
        self.in_flight = None;
        self.told_clock = self.told_clock.max(clock);
        while self.base < applied && self.events.pop_front().is_some() {
            self.base += 1;
        }
    }

    /// The peer now knows this node's clock is at least `clock` (it was in an answer).
    pub fn told(&mut self, clock: u64) {
        self.told_clock = self.told_clock.max(clock);
    }

    /// A batch of the peer's stream with events `seq..upto` arrived. Returns whether
    /// it must be applied (false when it starts beyond what was applied: a gap).
    pub fn receive(&mut self, seq: u64, upto: u64) -> bool {
        if seq > self.applied {
            return false;
        }
        self.applied = self.applied.max(upto);
        self.settle();
        true
    }

    /// How far the peer's stream has been applied.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// The peer promised `clock` for its stream up to `end`.
    pub fn promise(&mut self, end: u64, clock: u64) {
        if self.promise.is_some_and(|p| p >= clock) {
            return;
        }
        if self.pending_promises.len() >= MAX_PENDING_PROMISES {
            self.pending_promises.remove(0);
        }
        self.pending_promises.push((end, clock));
        self.settle();
    }

    fn settle(&mut self) {
        let applied = self.applied;
        let mut best = self.promise;
        self.pending_promises.retain(|&(end, clock)| {
            if end <= applied {
                best = Some(best.map_or(clock, |b| b.max(clock)));
                false
            } else {
                true
            }
        });
        self.promise = best;
        if let Some(p) = self.promise {
            self.pending_promises.retain(|&(_, clock)| clock > p);
        }
    }

    /// The highest clock the peer promised whose stream prefix has been applied.
    pub fn promised_clock(&self) -> Option<u64> {
        self.promise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stay_until_acknowledged_and_batches_restart_after_a_loss() {
        let mut l = Link::default();
        for o in 0..5 {
            l.push(Event::Entry(0, o));
        }
        assert!(l.wants_batch(0));
        let (seq, events) = l.batch(3);
        assert_eq!(seq, 0);
        assert_eq!(events.count(), 3);
        l.sent(InFlight { batch: 1, clock: 0 });
        assert!(!l.wants_batch(0), "one batch in flight at a time");
        l.lost();
        assert_eq!(
            l.batch(10).0,
            0,
            "a lost batch is resent from the same place"
        );
        l.sent(InFlight { batch: 2, clock: 0 });
        l.acked(3, 0);
        assert_eq!(l.unacked(), 2);
        let (seq, events) = l.batch(10);
        assert_eq!(seq, 3);
        assert_eq!(
            events.copied().collect::<Vec<_>>(),
            vec![Event::Entry(0, 3), Event::Entry(0, 4)]
        );
        assert_eq!(l.end(), 5);
        l.acked(5, 0);
        assert!(!l.wants_batch(0));
    }

    #[test]
    fn a_clock_the_peer_has_not_heard_triggers_a_batch() {
        let mut l = Link::default();
        assert!(l.wants_batch(3));
        l.sent(InFlight { batch: 1, clock: 3 });
        l.acked(0, 3);
        assert!(!l.wants_batch(3));
        l.told(7);
        assert!(!l.wants_batch(7));
        assert!(l.wants_batch(8));
    }

    #[test]
    fn receiving_refuses_gaps_and_tolerates_overlaps() {
        let mut l = Link::default();
        assert!(!l.receive(2, 4), "events 0..2 are missing");
        assert!(l.receive(0, 3));
        assert!(l.receive(1, 5), "overlap: reapplying is harmless");
        assert_eq!(l.applied(), 5);
        assert!(l.receive(0, 2));
        assert_eq!(l.applied(), 5, "never goes back");
    }

    #[test]
    fn promises_count_only_once_their_stream_prefix_is_applied() {
        let mut l = Link::default();
        l.promise(3, 10);
        assert_eq!(l.promised_clock(), None);
        l.promise(5, 12);
        l.receive(0, 3);
        assert_eq!(l.promised_clock(), Some(10));
        l.promise(2, 11);
        assert_eq!(l.promised_clock(), Some(11));
        l.receive(3, 5);
        assert_eq!(l.promised_clock(), Some(12));
        l.promise(0, 4);
        assert_eq!(l.promised_clock(), Some(12), "never goes back");
    }
}
