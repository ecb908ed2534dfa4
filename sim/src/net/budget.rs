//! Byte budgets: how much data one stage of the bench may hold for the next one (a node's
//! lines waiting for the router, a node's stdin backlog, journal events waiting for the
//! disk). A producer takes bytes from the budget before handing data over and the
//! consumer gives them back once the data is gone, so every buffer between threads has a
//! ceiling and a fast or hostile producer cannot grow the bench's memory without bound.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// A ceiling on the bytes in flight between a producer and a consumer.
#[derive(Debug)]
pub struct ByteBudget {
    cap: usize,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    used: usize,
    closed: bool,
}

impl ByteBudget {
    /// A budget of `cap` bytes. One item larger than `cap` is still admitted when nothing
    /// else is in flight, so a single big line never deadlocks.
    pub fn new(cap: usize) -> ByteBudget {
        ByteBudget {
            cap,
            state: Mutex::new(State::default()),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fits(&self, s: &State, n: usize) -> bool {
        s.used == 0 || s.used.saturating_add(n) <= self.cap
    }

    /// Takes `n` bytes, waiting until they fit. False (and nothing taken) once the budget
    /// is closed: the consumer is gone.
    pub fn acquire(&self, n: usize) -> bool {
        let mut s = self.lock();
        loop {
            if s.closed {
                return false;
            }
            if self.fits(&s, n) {
                s.used += n;
                return true;
            }
            // A timeout guards against a missed wake-up; the loop re-checks anyway.
            s = match self.freed.wait_timeout(s, Duration::from_millis(100)) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Takes `n` bytes if they fit now; never waits.
    pub fn try_acquire(&self, n: usize) -> bool {
        let mut s = self.lock();
        if s.closed || !self.fits(&s, n) {
            return false;
        }
        s.used += n;
        true
    }

    /// Gives back `n` bytes taken earlier.
    pub fn release(&self, n: usize) {
        let mut s = self.lock();
        s.used = s.used.saturating_sub(n);
        drop(s);
        self.freed.notify_all();
    }

    /// Closes the budget: waiting and later acquisitions return false at once.
    pub fn close(&self) {
        self.lock().closed = true;
        self.freed.notify_all();
    }

    /// Bytes currently taken.
    pub fn used(&self) -> usize {
        self.lock().used
    }

    /// The ceiling.
    pub fn cap(&self) -> usize {
        self.cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn takes_until_full_and_admits_one_oversized_item_when_empty() {
        let b = ByteBudget::new(10);
        assert!(b.try_acquire(6));
        assert!(!b.try_acquire(5), "6 + 5 is over the cap");
        assert!(b.try_acquire(4));
        b.release(10);
        assert_eq!(b.used(), 0);
        assert!(b.try_acquire(25), "nothing in flight: a big item passes");
        assert!(!b.try_acquire(1));
    }

    #[test]
    fn a_waiting_producer_resumes_when_bytes_come_back_or_the_budget_closes() {
        let b = Arc::new(ByteBudget::new(10));
        assert!(b.acquire(10));
        let waiter = {
            let b = b.clone();
            std::thread::spawn(move || b.acquire(5))
        };
        std::thread::sleep(Duration::from_millis(20));
        b.release(10);
        assert!(waiter.join().unwrap());
        assert_eq!(b.used(), 5);
        assert!(b.acquire(5));
        let blocked = {
            let b = b.clone();
            std::thread::spawn(move || b.acquire(5))
        };
        std::thread::sleep(Duration::from_millis(20));
        b.close();
        assert!(!blocked.join().unwrap(), "closing wakes it with a refusal");
        assert!(!b.try_acquire(0));
    }
}
