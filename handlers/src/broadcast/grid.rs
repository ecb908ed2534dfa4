//! Round-aligned batching: the grid of instants a node sends on, and the answer a relay
//! gives a leaf so that the leaf's batches arrive just before the relay's rounds.
//!
//! Nodes share no clock: `ctx.now()` counts from each process's start. So a leaf never
//! computes the relay's time; it stamps each batch with its own clock (`at`), and the
//! relay, which knows when that batch arrived on *its* clock and when its next round is,
//! answers with the instant on the *leaf's* clock at which the next batch should leave:
//! `at + (next round − slack − arrival)`. That assumes the next batch takes as long as
//! the last one, which holds to within the network's jitter; every answer corrects the
//! error of the previous round, so offsets between clocks never matter.

use std::time::Duration;

/// The instants `origin + k·period` (for every integer k) on one node's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    origin: Duration,
    period: Duration,
}

impl Grid {
    /// A grid through `origin` with `period` (a zero period is treated as 1 ms).
    pub fn new(origin: Duration, period: Duration) -> Grid {
        Grid {
            origin,
            period: period.max(Duration::from_millis(1)),
        }
    }

    /// The round length.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Moves the grid so that it passes through `origin`.
    pub fn shift_to(&mut self, origin: Duration) {
        self.origin = origin;
    }

    /// The first instant of the grid at or after `t`.
    pub fn at_or_after(&self, t: Duration) -> Duration {
        let period = self.period.as_nanos();
        let phase = self.origin.as_nanos() % period;
        let t = t.as_nanos();
        let steps = t.saturating_sub(phase).div_ceil(period);
        nanos(phase + steps * period)
    }

    /// The first instant of the grid strictly after `t`.
    pub fn after(&self, t: Duration) -> Duration {
        self.at_or_after(t + Duration::from_nanos(1))
    }
}

fn nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

/// A relay's answer to a batch stamped `at` (ms on the sender's clock) that arrived at
/// `arrived` (the relay's clock): when, on the sender's clock, its next batch should
/// leave to arrive `slack` before the relay's round at `next_round`.
pub fn next_send(at: u64, arrived: Duration, next_round: Duration, slack: Duration) -> u64 {
    let lead = next_round.saturating_sub(slack).saturating_sub(arrived);
    at.saturating_add(lead.as_millis() as u64)
}

/// How many recent batches of one sender [`Transit`] remembers.
const TRANSIT_WINDOW: usize = 4;

/// The recent *transits* of one sender's stamped batches: arrival on our clock minus the
/// stamp on the sender's clock, in ms (the clock offset plus the trip). A process stall
/// or a busy link lengthens some of them; the least of the last few is the offset plus
/// the plain trip, so answers computed from it do not move a leaf's grid by a stall.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transit {
    recent: [Option<i64>; TRANSIT_WINDOW],
    next: usize,
}

impl Transit {
    /// Records a batch stamped `at` that arrived at `arrived`, and returns when it would
    /// have arrived with the least transit of the recent ones.
    pub fn settle(&mut self, at: u64, arrived: Duration) -> Duration {
        let transit = i64::try_from(arrived.as_millis()).unwrap_or(i64::MAX) - at as i64;
        self.recent[self.next] = Some(transit);
        self.next = (self.next + 1) % TRANSIT_WINDOW;
        let least = self
            .recent
            .iter()
            .flatten()
            .min()
            .copied()
            .unwrap_or(transit);
        let settled = u64::try_from(at as i64 + least).unwrap_or(0);
        Duration::from_millis(settled).min(arrived)
    }
}

/// `t` in whole milliseconds, as batches are stamped.
pub fn stamp(t: Duration) -> u64 {
    t.as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn grid_instants_are_found_from_any_origin() {
        let g = Grid::new(ms(1_250), ms(500));
        assert_eq!(g.at_or_after(ms(0)), ms(250));
        assert_eq!(g.at_or_after(ms(250)), ms(250));
        assert_eq!(g.at_or_after(ms(251)), ms(750));
        assert_eq!(g.after(ms(250)), ms(750));
        assert_eq!(g.at_or_after(ms(10_000)), ms(10_250));
        let mut g = Grid::new(Duration::ZERO, ms(400));
        assert_eq!(g.at_or_after(ms(1)), ms(400));
        assert_eq!(g.after(ms(0)), ms(400));
        g.shift_to(ms(130));
        assert_eq!(g.at_or_after(ms(1)), ms(130));
        assert_eq!(g.period(), ms(400));
    }

    #[test]
    fn the_answer_aligns_the_next_batch_whatever_the_clock_offset() {
        // The leaf's clock reads 5000 ms more than the relay's; one-way latency 100 ms;
        // the relay's rounds are at 0, 1000, 2000, … of its clock.
        let offset = ms(5_000);
        let latency = ms(100);
        let relay = Grid::new(Duration::ZERO, ms(1_000));
        let slack = ms(30);
        // A batch leaves at relay time 1337 and is forwarded in the round at 2000.
        let sent = ms(1_337);
        let arrived = sent + latency;
        let round = relay.at_or_after(arrived);
        assert_eq!(round, ms(2_000));
        let next = next_send(stamp(sent + offset), arrived, relay.after(round), slack);
        // Sent at that instant of the leaf's clock, the next batch arrives 30 ms before
        // the round at 3000.
        let next_on_relay_clock = ms(next) - offset;
        assert_eq!(next_on_relay_clock + latency, ms(2_970));
        // Another leaf, whose clock reads 7000 ms more, sends at relay time 1800: its next
        // batch arrives at the same instant.
        let offset = ms(7_000);
        let sent = ms(1_800);
        let next = next_send(stamp(sent + offset), sent + latency, ms(3_000), slack);
        assert_eq!(ms(next) - offset + latency, ms(2_970));
    }

    #[test]
    fn a_stalled_batch_is_settled_to_the_least_recent_transit() {
        let mut t = Transit::default();
        // The sender's clock reads 5000 ms more; the trip takes 100 ms.
        assert_eq!(t.settle(5_000, ms(100)), ms(100));
        assert_eq!(t.settle(6_000, ms(1_100)), ms(1_100));
        // A stall of 280 ms: the batch counts as if it had come in time.
        assert_eq!(t.settle(7_000, ms(2_380)), ms(2_100));
        assert_eq!(t.settle(8_000, ms(3_100)), ms(3_100));
        // A trip that really grew is adopted once the faster ones are out of the window.
        for k in 0..3 {
            t.settle(9_000 + 1_000 * k, ms(4_150 + 1_000 * k));
        }
        assert_eq!(t.settle(12_000, ms(7_150)), ms(7_150));
    }

    #[test]
    fn a_late_arrival_cannot_make_the_answer_go_backwards() {
        assert_eq!(next_send(700, ms(990), ms(1_000), ms(30)), 700);
        assert_eq!(next_send(u64::MAX, ms(0), ms(1_000), ms(0)), u64::MAX);
    }
}
