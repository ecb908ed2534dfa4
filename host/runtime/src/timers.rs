//! Deadlines: handler timers (one-shot and periodic) and RPC timeouts, on one clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

/// Identifies a timer so it can be cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(pub u64);

/// A timer that is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fired {
    /// The timer.
    pub id: TimerId,
    /// Index of the handler family that set it.
    pub family: usize,
    /// True if it fires again later (its purpose must be kept).
    pub periodic: bool,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    family: usize,
    period: Option<Duration>,
}

/// A min-heap of deadlines with lazy cancellation. Ids are chosen by the caller (the
/// runtime hands them out when a handler sets a timer).
#[derive(Default, Debug)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Duration, TimerId)>>,
    live: HashMap<TimerId, Entry>,
}

impl Timers {
    /// Schedules timer `id` of family `family` at `at`, repeating every `period` if given.
    pub fn schedule(&mut self, id: TimerId, at: Duration, period: Option<Duration>, family: usize) {
        self.live.insert(
            id,
            Entry {
                family,
                period: period.map(|p| p.max(Duration::from_micros(1))),
            },
        );
        self.heap.push(Reverse((at, id)));
    }

    /// Cancels a timer; cancelling twice or after it fired is harmless.
    pub fn cancel(&mut self, id: TimerId) {
        self.live.remove(&id);
    }

    /// The earliest live deadline.
    pub fn next_deadline(&mut self) -> Option<Duration> {
        while let Some(Reverse((at, id))) = self.heap.peek().copied() {
            if self.live.contains_key(&id) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Pops one timer due at or before `now`, rescheduling it if periodic.
    pub fn pop_due(&mut self, now: Duration) -> Option<Fired> {
        loop {
            let Reverse((at, id)) = *self.heap.peek()?;
            if at > now {
                return None;
            }
            self.heap.pop();
            let Some(entry) = self.live.get(&id).copied() else {
                continue;
            };
            match entry.period {
                // Next beat one period after the scheduled time; if the loop stalled past
                // that, one period from now, so a stall never causes catch-up bursts.
                Some(p) => {
                    let next = if at + p > now { at + p } else { now + p };
                    self.heap.push(Reverse((next, id)));
                }
                None => {
                    self.live.remove(&id);
                }
            }
            return Some(Fired {
                id,
                family: entry.family,
                periodic: entry.period.is_some(),
            });
        }
    }

    /// Number of live timers.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Entries in the deadline queue, cancelled timers not yet discarded included (they
    /// leave the queue lazily, when they reach its front).
    pub fn queued(&self) -> usize {
        self.heap.len()
    }

    /// True when no timer is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fires_in_deadline_order_and_only_when_due() {
        let mut t = Timers::default();
        t.schedule(TimerId(3), ms(30), None, 0);
        t.schedule(TimerId(1), ms(10), None, 1);
        t.schedule(TimerId(2), ms(20), None, 0);
        assert_eq!(t.next_deadline(), Some(ms(10)));
        assert_eq!(t.pop_due(ms(5)), None);
        let fired: Vec<u64> = std::iter::from_fn(|| t.pop_due(ms(25)))
            .map(|f| f.id.0)
            .collect();
        assert_eq!(fired, vec![1, 2]);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn periodic_timer_repeats_without_catch_up_bursts() {
        let mut t = Timers::default();
        t.schedule(TimerId(7), ms(10), Some(ms(10)), 0);
        assert!(t.pop_due(ms(10)).is_some_and(|f| f.periodic));
        assert_eq!(t.next_deadline(), Some(ms(20)));
        // The loop stalls until 100 ms: one firing, then the next beat is not in the past.
        assert!(t.pop_due(ms(100)).is_some());
        assert_eq!(t.pop_due(ms(100)), None, "missed beats are not replayed");
        assert_eq!(t.next_deadline(), Some(ms(110)));
    }

    #[test]
    fn cancelled_timers_never_fire() {
        let mut t = Timers::default();
        let a = TimerId(1);
        t.schedule(a, ms(10), Some(ms(10)), 0);
        t.schedule(TimerId(2), ms(20), None, 0);
        t.cancel(a);
        t.cancel(a);
        assert_eq!(t.next_deadline(), Some(ms(20)));
        assert_eq!(
            t.pop_due(ms(50)).map(|f| (f.id.0, f.periodic)),
            Some((2, false))
        );
        assert_eq!(t.pop_due(ms(50)), None);
        assert!(t.is_empty());
    }

    #[test]
    fn cancelled_entries_stay_queued_until_they_reach_the_front() {
        let mut t = Timers::default();
        let a = TimerId(1);
        t.schedule(a, ms(10), None, 0);
        t.schedule(TimerId(2), ms(20), None, 0);
        t.cancel(a);
        assert_eq!((t.len(), t.queued()), (1, 2));
        assert_eq!(t.next_deadline(), Some(ms(20)));
        assert_eq!((t.len(), t.queued()), (1, 1));
    }
}
