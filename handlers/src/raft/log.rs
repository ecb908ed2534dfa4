//! The replicated log: entries indexed from 1, each stamped with the term of the leader
//! that created it. Index 0 is a virtual entry of term 0 that every log shares, so the
//! consistency check of the first append needs no special case.

use serde::{Deserialize, Serialize};

/// A client request carried by an entry: who asked, with which `msg_id`, for what.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Request<C> {
    /// The client (`c7`); whoever applies the entry as leader answers it.
    pub client: String,
    /// The request's `msg_id`; with `client`, it identifies the request, so a request
    /// that reached the log twice is applied once.
    pub id: u64,
    /// The state machine command.
    pub op: C,
}

/// One log entry. A leader's first entry of its term carries no request (a no-op that
/// lets it commit, and so learn, everything earlier).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Entry<C> {
    /// Term of the leader that appended it.
    pub term: u64,
    /// The request, absent for the no-op.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub req: Option<Request<C>>,
}

/// An append that would remove entries at or below `floor` (committed ones): a leader
/// that sends it breaks Raft's log matching property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommittedConflict {
    /// The committed index the append disagreed with.
    pub index: u64,
}

/// The log.
#[derive(Debug, Clone)]
pub struct Log<C> {
    entries: Vec<Entry<C>>,
}

impl<C> Default for Log<C> {
    fn default() -> Self {
        Log {
            entries: Vec::new(),
        }
    }
}

impl<C> Log<C> {
    /// Index of the last entry (0 when empty).
    pub fn last_index(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Term of the last entry (0 when empty).
    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(0, |e| e.term)
    }

    /// Term of the entry at `index`, 0 for index 0, `None` past the end.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        match index {
            0 => Some(0),
            i => self.entries.get(i as usize - 1).map(|e| e.term),
        }
    }

    /// The entry at `index` (1-based).
    pub fn get(&self, index: u64) -> Option<&Entry<C>> {
        index
            .checked_sub(1)
            .and_then(|i| self.entries.get(i as usize))
    }

    /// Up to `max` entries from `from` on (empty past the end).
    pub fn slice(&self, from: u64, max: usize) -> &[Entry<C>] {
        let start = (from.max(1) - 1) as usize;
        let start = start.min(self.entries.len());
        let end = start.saturating_add(max).min(self.entries.len());
        &self.entries[start..end]
    }

    /// Appends one entry and returns its index.
    pub fn push(&mut self, entry: Entry<C>) -> u64 {
        self.entries.push(entry);
        self.last_index()
    }

    /// The first index of the run of entries with the same term as `index` (for a
    /// follower's hint: the leader can skip that whole term at once).
    pub fn first_of_term_at(&self, index: u64) -> u64 {
        let Some(term) = self.term_at(index) else {
            return self.last_index() + 1;
        };
        let mut i = index;
        while i > 1 && self.term_at(i - 1) == Some(term) {
            i -= 1;
        }
        i
    }

    /// Whether a log ending at (`last_index`, `last_term`) is at least as up to date as
    /// this one (Raft's election restriction, §5.4.1).
    pub fn is_behind_or_equal(&self, last_index: u64, last_term: u64) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    /// Puts `entries` after `prev` (whose term the caller checked): entries already
    /// present with the same term are kept, the log is cut at the first entry whose term
    /// differs, and the rest is appended. Cutting never goes below `floor + 1`: that
    /// would drop committed entries. Returns the index of the last entry given.
    pub fn merge(
        &mut self,
        prev: u64,
        entries: Vec<Entry<C>>,
        floor: u64,
    ) -> Result<u64, CommittedConflict> {
        let mut index = prev;
        for entry in entries {
            index += 1;
            match self.term_at(index) {
                Some(term) if term == entry.term => continue,
                Some(_) if index <= floor => return Err(CommittedConflict { index }),
                Some(_) => self.entries.truncate(index as usize - 1),
                None => {}
            }
            self.entries.push(entry);
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(term: u64) -> Entry<u32> {
        Entry { term, req: None }
    }

    fn log(terms: &[u64]) -> Log<u32> {
        let mut log = Log::default();
        for &t in terms {
            log.push(entry(t));
        }
        log
    }

    fn terms(log: &Log<u32>) -> Vec<u64> {
        (1..=log.last_index())
            .filter_map(|i| log.term_at(i))
            .collect()
    }

    #[test]
    fn index_zero_is_the_shared_empty_prefix() {
        let l = log(&[]);
        assert_eq!(
            (l.last_index(), l.last_term(), l.term_at(0)),
            (0, 0, Some(0))
        );
        assert_eq!(l.term_at(1), None);
        assert!(l.get(0).is_none());
    }

    #[test]
    fn merge_keeps_matching_entries_and_cuts_at_the_first_conflict() {
        let mut l = log(&[1, 1, 2, 2]);
        // A stale, shorter append must not cut newer matching entries.
        assert_eq!(l.merge(1, vec![entry(1)], 0), Ok(2));
        assert_eq!(terms(&l), vec![1, 1, 2, 2]);
        // A conflicting term at index 3 replaces the suffix.
        assert_eq!(l.merge(2, vec![entry(3), entry(3)], 2), Ok(4));
        assert_eq!(terms(&l), vec![1, 1, 3, 3]);
        // Appending past the end extends.
        assert_eq!(l.merge(4, vec![entry(3)], 4), Ok(5));
        assert_eq!(terms(&l), vec![1, 1, 3, 3, 3]);
    }

    #[test]
    fn merge_refuses_to_cut_committed_entries() {
        let mut l = log(&[1, 1, 2]);
        assert_eq!(
            l.merge(1, vec![entry(5)], 2),
            Err(CommittedConflict { index: 2 })
        );
        assert_eq!(terms(&l), vec![1, 1, 2]);
    }

    #[test]
    fn up_to_date_compares_last_term_then_length() {
        let l = log(&[1, 2, 2]);
        assert!(l.is_behind_or_equal(3, 2));
        assert!(l.is_behind_or_equal(1, 3));
        assert!(!l.is_behind_or_equal(2, 2));
        assert!(!l.is_behind_or_equal(9, 1));
    }

    #[test]
    fn hints_and_slices() {
        let l = log(&[1, 1, 2, 2, 2, 3]);
        assert_eq!(l.first_of_term_at(5), 3);
        assert_eq!(l.first_of_term_at(2), 1);
        assert_eq!(l.first_of_term_at(9), 7);
        assert_eq!(l.slice(5, 10).len(), 2);
        assert_eq!(l.slice(1, 2).len(), 2);
        assert!(l.slice(7, 10).is_empty());
        assert!(l.slice(90, 10).is_empty());
    }

    #[test]
    fn entries_without_requests_are_just_a_term() {
        let e: Entry<u32> = entry(4);
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"term":4}"#);
        let r = Entry {
            term: 2,
            req: Some(Request {
                client: "c3".into(),
                id: 9,
                op: 7u32,
            }),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"term":2,"req":{"client":"c3","id":9,"op":7}}"#);
        assert_eq!(serde_json::from_str::<Entry<u32>>(&text).unwrap(), r);
    }
}
