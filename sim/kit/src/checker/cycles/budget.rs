//! A work budget for searches that could take very long: a wall-clock deadline,
//! checked every few thousand steps so the clock is read rarely.

use std::time::{Duration, Instant};

/// How many steps may pass between two reads of the clock.
const CLOCK_EVERY: u32 = 1 << 14;

/// A deadline plus a step counter. Once exhausted it stays exhausted.
#[derive(Clone, Debug)]
pub struct Budget {
    deadline: Option<Instant>,
    steps_until_clock: u32,
    exhausted: bool,
}

impl Budget {
    /// A budget that runs out `limit` from now.
    pub fn new(limit: Duration) -> Budget {
        Budget {
            deadline: Instant::now().checked_add(limit),
            steps_until_clock: CLOCK_EVERY,
            exhausted: false,
        }
    }

    /// Records `steps` units of work; returns false once the deadline has passed.
    pub fn spend(&mut self, steps: usize) -> bool {
        if self.exhausted {
            return false;
        }
        let steps = u32::try_from(steps).unwrap_or(u32::MAX);
        if steps < self.steps_until_clock {
            self.steps_until_clock -= steps;
            return true;
        }
        self.steps_until_clock = CLOCK_EVERY;
        if let Some(deadline) = self.deadline {
            if Instant::now() >= deadline {
                self.exhausted = true;
            }
        }
        !self.exhausted
    }

    /// True once the deadline has passed (as noticed by [`Budget::spend`]).
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_budget_runs_out_at_the_first_clock_check() {
        let mut b = Budget::new(Duration::ZERO);
        let mut spent = 0;
        while b.spend(1) {
            spent += 1;
            assert!(spent <= CLOCK_EVERY, "the clock must be read by now");
        }
        assert!(b.exhausted());
        assert!(!b.spend(1));
    }

    #[test]
    fn a_generous_budget_keeps_going() {
        let mut b = Budget::new(Duration::from_secs(3600));
        for _ in 0..100_000 {
            assert!(b.spend(3));
        }
        assert!(!b.exhausted());
    }
}
