//! Which client requests the state machine applies: a request can reach the log twice
//! (a follower passes it on again after a change of leader), and must take effect once.
//!
//! Each client's most recent applied request ids are remembered. A request is applied
//! unless its id is among them, or is older than all of them while the memory is full
//! (it may repeat one forgotten). Ids need not grow: a request that waited at a follower
//! may arrive after a later one of the same client (whose client gave up on it, so it
//! may take effect at any time), and one odd id (say, near `u64::MAX`) holds one slot
//! rather than shutting out every later request of its client, as a "highest id
//! applied" rule would. Every replica decides the same, from the log alone.

use std::collections::VecDeque;

/// Request ids remembered per client: a duplicate arrives within a leader change or
/// two, long before its client sends this many more requests.
const RECENT: usize = 256;

/// One client's recently applied request ids, oldest first.
#[derive(Debug, Default, Clone)]
pub struct Session {
    recent: VecDeque<u64>,
}

impl Session {
    /// Whether request `id` is to be applied; if so, remembers it.
    pub fn admit(&mut self, id: u64) -> bool {
        if self.recent.contains(&id) {
            return false;
        }
        if self.recent.len() == RECENT {
            if self.recent.iter().all(|r| id < *r) {
                return false;
            }
            self.recent.pop_front();
        }
        self.recent.push_back(id);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_id_is_applied_once() {
        let mut s = Session::default();
        assert!(s.admit(5));
        assert!(s.admit(6));
        assert!(!s.admit(5));
        assert!(!s.admit(6));
    }

    #[test]
    fn an_odd_id_does_not_shut_out_later_requests() {
        let mut s = Session::default();
        assert!(s.admit(u64::MAX));
        for id in 1..1000 {
            assert!(s.admit(id), "request {id} after an odd id");
        }
    }

    #[test]
    fn a_late_request_is_applied_but_one_older_than_all_remembered_is_not() {
        let mut s = Session::default();
        assert!(s.admit(10));
        assert!(s.admit(12));
        assert!(s.admit(11), "waited at a follower, overtaken by 12");
        for id in 100..100 + RECENT as u64 {
            assert!(s.admit(id));
        }
        assert!(!s.admit(50), "may repeat a request forgotten since");
        assert!(s.admit(1000));
    }
}
