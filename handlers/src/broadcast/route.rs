//! Where a leaf sends its batches: its relay (the *primary*: a star's hub, a tree leaf's
//! parent) or, while the primary is silent, a *standby* that forwards them to every node.
//!
//! Nothing here costs a message while the primary answers: a relay answers every batch
//! that asks for it at its next flush (see [`super::wire`]'s `at`), so a leaf hears from
//! its primary within the primary's wait plus a round trip. Only when a batch stays
//! unanswered for `failover_ms` beyond that does the leaf move on, and then:
//! - standbys are tried in `init` order (every node but the primary), one per silent
//!   deadline, wrapping back to the primary after the last; all leaves cut off from the
//!   same nodes thus pick the same standby. A leaf whose turn comes to itself relays its
//!   own values itself, but only if it heard from some node while it waited for the last
//!   target: an isolated leaf skips its turn instead of writing to every node for
//!   nothing. After four silent targets in a row each wait doubles (up to 16 times), so
//!   an isolated leaf soon costs next to nothing;
//! - a leaf that hears a standby relay while its primary has been silent for a whole
//!   answer bound follows that standby at once, without waiting for a batch of its own
//!   to go unanswered; a leaf routing through a standby follows any standby earlier in
//!   the order that it hears relaying, so leaves that walked to different standbys
//!   (their deadlines fall at different times) gather on one;
//! - anything heard from the primary brings the leaf back to it.
//!
//! The route decides only *where* batches go; what was sent to a silent node is resent
//! by the caller, and anti-entropy with the primary still repairs everything after a
//! heal, so a wrong guess costs messages, never values.

use std::time::Duration;

/// One leaf's choice between its primary and the standbys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    me: usize,
    primary: usize,
    /// Every node but the primary, in `init` order (this node included).
    standbys: Vec<usize>,
    /// `None`: the primary; `Some(i)`: `standbys[i]`.
    current: Option<usize>,
    /// When the current target counts as silent unless it is heard from first, and when
    /// the batch it waits for was sent.
    deadline: Option<(Duration, Duration)>,
    /// Targets in a row that stayed silent.
    misses: u32,
    /// When the primary was last heard from.
    primary_heard: Option<Duration>,
    /// When any node was last heard from.
    anyone_heard: Option<Duration>,
    /// How long without a word from a node counts as silence.
    silence: Duration,
}

impl Route {
    /// The route of node `me` (of `count`) whose relay is `primary`; a node not heard
    /// from for `silence` counts as silent.
    pub fn new(me: usize, primary: usize, count: usize, silence: Duration) -> Route {
        Route {
            me,
            primary,
            standbys: (0..count).filter(|&i| i != primary).collect(),
            current: None,
            deadline: None,
            misses: 0,
            primary_heard: None,
            anyone_heard: None,
            silence,
        }
    }

    /// The node batches go to now (this node itself when it relays its own values).
    pub fn target(&self) -> usize {
        self.current.map_or(self.primary, |i| self.standbys[i])
    }

    /// The primary relay.
    pub fn primary(&self) -> usize {
        self.primary
    }

    /// True while batches go to the primary.
    pub fn on_primary(&self) -> bool {
        self.current.is_none()
    }

    /// True while this node relays its own values to every node itself.
    pub fn relays_itself(&self) -> bool {
        self.target() == self.me
    }

    /// When the current target counts as silent, if a batch to it waits for an answer.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline.map(|(at, _)| at)
    }

    /// A batch went to the target at `now` and should be answered within `within`
    /// (longer after many silent targets in a row). An earlier unanswered batch keeps
    /// its (earlier) deadline.
    pub fn sent(&mut self, now: Duration, within: Duration) {
        let backoff = 1 << self.misses.saturating_sub(3).min(4);
        self.deadline.get_or_insert((now + within * backoff, now));
    }

    /// Gossip from node `from` arrived at `now`. Returns true if that brought the route
    /// back to the primary.
    pub fn heard(&mut self, from: usize, now: Duration) -> bool {
        self.anyone_heard = Some(now);
        if from == self.primary {
            self.primary_heard = Some(now);
            self.answered();
            return self.current.take().is_some();
        }
        if from == self.target() || self.relays_itself() {
            self.answered();
        }
        false
    }

    fn answered(&mut self) {
        self.deadline = None;
        self.misses = 0;
    }

    /// If the target stayed silent past its deadline, moves to the next standby (or back
    /// to the primary after the last one) and returns the new target.
    pub fn expire(&mut self, now: Duration) -> Option<usize> {
        let (due, waited_since) = self.deadline?;
        if now < due {
            return None;
        }
        self.deadline = None;
        self.misses = self.misses.saturating_add(1);
        self.current = self.next_after(self.current);
        let isolated = self.anyone_heard.is_none_or(|t| t < waited_since);
        if self.relays_itself() && isolated {
            self.current = self.next_after(self.current);
        }
        Some(self.target())
    }

    /// The standby tried after `current` (`None`: the primary).
    fn next_after(&self, current: Option<usize>) -> Option<usize> {
        match current {
            None if !self.standbys.is_empty() => Some(0),
            Some(i) if i + 1 < self.standbys.len() => Some(i + 1),
            _ => None,
        }
    }

    /// A relay from standby `standby` arrived at `now`: follow it if batches still go to
    /// the primary but the primary has been silent for the silence period, or if they go
    /// to a standby later in the order (so leaves that walked to different standbys end
    /// up with the first one that relays). Returns true if the route changed.
    pub fn follow(&mut self, standby: usize, now: Duration) -> bool {
        let Some(i) = self.standbys.iter().position(|&s| s == standby) else {
            return false;
        };
        let follow = match self.current {
            None => self.primary_heard.is_none_or(|t| now >= t + self.silence),
            Some(current) => i < current,
        };
        if !follow || standby == self.me {
            return false;
        }
        self.current = Some(i);
        self.answered();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn an_answered_primary_is_kept_forever() {
        let mut r = Route::new(3, 0, 5, ms(2_000));
        for round in 0..100 {
            let t = ms(round * 1000);
            r.sent(t, ms(600));
            assert_eq!(r.expire(t + ms(599)), None);
            assert!(!r.heard(0, t + ms(250)));
            assert_eq!(r.expire(t + ms(5000)), None, "answered: no deadline left");
        }
        assert_eq!(r.target(), 0);
        assert!(r.on_primary());
    }

    #[test]
    fn silence_walks_the_standbys_in_init_order_and_wraps_to_the_primary() {
        let mut r = Route::new(2, 0, 4, ms(2_000));
        r.sent(ms(0), ms(500));
        r.sent(ms(300), ms(500));
        assert_eq!(
            r.deadline(),
            Some(ms(500)),
            "the first unanswered batch counts"
        );
        assert_eq!(r.expire(ms(500)), Some(1));
        assert!(!r.on_primary());
        // Nothing to wait for until the next batch.
        assert_eq!(r.expire(ms(10_000)), None);
        r.sent(ms(600), ms(500));
        // Gossip from another node is no answer from the standby.
        r.heard(3, ms(700));
        assert_eq!(
            r.expire(ms(1_100)),
            Some(2),
            "heard from node 3: its own turn"
        );
        assert!(r.relays_itself());
        // Relaying itself, anything heard from anyone is an answer.
        r.sent(ms(1_200), ms(500));
        r.heard(3, ms(1_300));
        assert_eq!(r.deadline(), None);
        r.sent(ms(1_400), ms(500));
        assert_eq!(r.expire(ms(1_900)), Some(3));
        r.sent(ms(2_000), ms(500));
        assert_eq!(
            r.expire(ms(2_500)),
            Some(0),
            "after the last standby, the primary"
        );
        assert!(r.on_primary());
    }

    #[test]
    fn hearing_the_primary_brings_the_route_back() {
        let mut r = Route::new(4, 0, 6, ms(2_000));
        r.sent(ms(0), ms(100));
        r.expire(ms(100));
        assert_eq!(r.target(), 1);
        r.sent(ms(200), ms(100));
        assert!(r.heard(0, ms(250)));
        assert_eq!((r.target(), r.deadline()), (0, None));
        assert!(!r.heard(0, ms(260)), "already there");
    }

    #[test]
    fn a_standby_relay_is_followed_only_when_the_primary_is_silent() {
        let mut r = Route::new(5, 0, 8, ms(1_500));
        r.heard(0, ms(1_000));
        assert!(!r.follow(3, ms(2_000)), "heard the primary 1 s ago");
        assert!(r.follow(3, ms(2_500)));
        assert_eq!(r.target(), 3);
        assert!(!r.follow(4, ms(2_600)), "a later standby is not followed");
        assert!(r.follow(1, ms(2_600)), "an earlier one is");
        assert_eq!(r.target(), 1);
        // Never heard from the primary at all counts as silent; never follow itself.
        let mut fresh = Route::new(5, 0, 8, ms(1_500));
        assert!(!fresh.follow(5, ms(10)));
        assert!(!fresh.follow(0, ms(10)), "the primary is no standby");
        assert!(fresh.follow(2, ms(10)));
    }

    #[test]
    fn an_isolated_leaf_skips_its_own_turn() {
        // Node 1 is the first standby of its own list: having heard nobody while it
        // waited, it skips itself and tries node 2.
        let mut r = Route::new(1, 0, 4, ms(2_000));
        r.heard(3, ms(0));
        r.sent(ms(10), ms(100));
        assert_eq!(r.expire(ms(110)), Some(2));
        // Having heard from node 3 meanwhile, its turn is its own.
        let mut r = Route::new(1, 0, 4, ms(2_000));
        r.sent(ms(0), ms(100));
        r.heard(3, ms(50));
        assert_eq!(r.expire(ms(100)), Some(1));
        assert!(r.relays_itself());
    }

    #[test]
    fn after_four_silent_targets_the_waits_double() {
        let mut r = Route::new(9, 0, 30, ms(2_000));
        let mut now = Duration::ZERO;
        let mut waits = Vec::new();
        for _ in 0..9 {
            r.sent(now, ms(100));
            let due = r.deadline().unwrap();
            waits.push((due - now).as_millis());
            now = due;
            r.expire(now);
        }
        assert_eq!(waits, vec![100, 100, 100, 100, 200, 400, 800, 1600, 1600]);
        // An answer resets it.
        r.heard(r.target(), now);
        r.sent(now, ms(100));
        assert_eq!(r.deadline(), Some(now + ms(100)));
    }
}
