//! Elle's write/read transaction generator (spec §5.7), shared by txn-rw-register,
//! txn-list-append (writes become appends) and kafka (one micro-op per operation; writes
//! become sends, reads become polls).
//!
//! - A transaction has a length uniform in `min_len..=max_len`; each micro-op is a read
//!   or a write with probability ½.
//! - There are `key_count` active keys, initially `0..key_count`. The key in active slot
//!   `i` is picked with weight 2^(i+1), so the last slot gets about half the picks.
//! - Writes to a key carry 1, 2, 3, … (unique per key). A write that would go above
//!   `max_writes_per_key` retires the key instead: its slot gets a fresh key (the
//!   largest active key + 1) and the micro-op is drawn again.

use rand::rngs::StdRng;
use rand::Rng;
use std::collections::HashMap;

/// Generator settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrOptions {
    /// Active keys at any time (`--key-count`, default 10).
    pub key_count: u64,
    /// Shortest transaction.
    pub min_len: u64,
    /// Longest transaction (`--max-txn-length`).
    pub max_len: u64,
    /// Writes per key before it is retired (`--max-writes-per-key`).
    pub max_writes_per_key: u64,
}

/// One micro-operation: a read (`value` None) or a write of `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MicroOp {
    /// The key.
    pub key: u64,
    /// The written value; `None` for a read.
    pub value: Option<u64>,
}

impl MicroOp {
    /// True for a write.
    pub fn is_write(&self) -> bool {
        self.value.is_some()
    }
}

/// How many of the highest slots the key choice considers: below them the weight
/// 2^(i+1) is a vanishing fraction of the total (and would overflow an `f64`).
const MAX_WEIGHTED_SLOTS: usize = 60;

/// The generator's state: active keys and the next value to write per key.
#[derive(Debug, Clone)]
pub struct WrTxns {
    opts: WrOptions,
    active: Vec<u64>,
    next_write: HashMap<u64, u64>,
}

impl WrTxns {
    /// A fresh generator over keys `0..key_count` (at least one key, at least one op).
    pub fn new(opts: WrOptions) -> WrTxns {
        let opts = WrOptions {
            key_count: opts.key_count.max(1),
            min_len: opts.min_len.max(1),
            max_len: opts.max_len.max(opts.min_len.max(1)),
            max_writes_per_key: opts.max_writes_per_key.max(1),
        };
        WrTxns {
            opts,
            active: (0..opts.key_count).collect(),
            next_write: HashMap::new(),
        }
    }

    /// The next transaction.
    pub fn next_txn(&mut self, rng: &mut StdRng) -> Vec<MicroOp> {
        let len = rng.random_range(self.opts.min_len..=self.opts.max_len) as usize;
        let mut txn = Vec::with_capacity(len);
        while txn.len() < len {
            let write = rng.random_bool(0.5);
            let slot = self.rand_slot(rng);
            let key = self.active[slot];
            if !write {
                txn.push(MicroOp { key, value: None });
                continue;
            }
            let v = self.next_write.get(&key).copied().unwrap_or(1);
            if v > self.opts.max_writes_per_key {
                self.retire(slot);
                continue;
            }
            self.next_write.insert(key, v + 1);
            txn.push(MicroOp {
                key,
                value: Some(v),
            });
        }
        txn
    }

    /// The currently active keys, by slot.
    pub fn active_keys(&self) -> &[u64] {
        &self.active
    }

    /// Picks a slot: slot `i` has weight 2^(i+1) (Elle's exponential distribution).
    fn rand_slot(&self, rng: &mut StdRng) -> usize {
        let n = self.active.len();
        let m = n.min(MAX_WEIGHTED_SLOTS);
        let offset = n - m;
        // Slot j of the last m has weight 2^(j+1); the total is 2(2^m - 1).
        let scale = 2.0 * ((m as f64).exp2() - 1.0);
        let x: f64 = rng.random_range(0.0..scale);
        let j = ((x + 2.0).log2() - 1.0).floor().max(0.0) as usize;
        offset + j.min(m - 1)
    }

    fn retire(&mut self, slot: usize) {
        let fresh = self.active.iter().copied().max().unwrap_or(0) + 1;
        self.active[slot] = fresh;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn opts(key_count: u64, max_len: u64, max_writes: u64) -> WrOptions {
        WrOptions {
            key_count,
            min_len: 1,
            max_len,
            max_writes_per_key: max_writes,
        }
    }

    #[test]
    fn lengths_are_uniform_and_reads_and_writes_even() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut g = WrTxns::new(opts(10, 4, 1_000_000));
        let txns: Vec<Vec<MicroOp>> = (0..4000).map(|_| g.next_txn(&mut rng)).collect();
        let mut by_len = [0usize; 5];
        for t in &txns {
            by_len[t.len()] += 1;
        }
        assert_eq!(by_len[0], 0);
        for n in &by_len[1..] {
            assert!((850..1150).contains(n), "{by_len:?}");
        }
        let ops: Vec<&MicroOp> = txns.iter().flatten().collect();
        let writes = ops.iter().filter(|o| o.is_write()).count();
        let frac = writes as f64 / ops.len() as f64;
        assert!((frac - 0.5).abs() < 0.03, "{frac}");
    }

    #[test]
    fn keys_follow_the_exponential_weights() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut g = WrTxns::new(opts(10, 1, 1_000_000));
        let mut counts = [0usize; 10];
        let n = 40_000;
        for _ in 0..n {
            counts[g.next_txn(&mut rng)[0].key as usize] += 1;
        }
        // Slot i has probability 2^(i+1) / 2(2^10 - 1).
        for (i, c) in counts.iter().enumerate() {
            let p = 2f64.powi(i as i32 + 1) / (2.0 * 1023.0);
            let got = *c as f64 / n as f64;
            assert!((got - p).abs() < 0.01 + p * 0.1, "slot {i}: {got} vs {p}");
        }
        assert!(counts[9] > counts[8] && counts[8] > counts[7]);
    }

    #[test]
    fn writes_are_unique_per_key_and_keys_retire_past_the_limit() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut g = WrTxns::new(opts(3, 4, 5));
        let mut seen: HashMap<u64, Vec<u64>> = HashMap::new();
        for _ in 0..500 {
            for op in g.next_txn(&mut rng) {
                if let Some(v) = op.value {
                    seen.entry(op.key).or_default().push(v);
                }
            }
        }
        assert!(seen.len() > 10, "keys retire and fresh ones come in");
        for (k, vs) in &seen {
            let expected: Vec<u64> = (1..=vs.len() as u64).collect();
            assert_eq!(vs, &expected, "key {k}");
            assert!(vs.len() <= 5);
        }
        // Fresh keys are the largest active key + 1, so active keys stay distinct.
        let mut active = g.active_keys().to_vec();
        active.sort_unstable();
        active.dedup();
        assert_eq!(active.len(), 3);
    }

    #[test]
    fn huge_key_counts_do_not_overflow() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut g = WrTxns::new(opts(2000, 1, 16));
        for _ in 0..1000 {
            let op = g.next_txn(&mut rng)[0];
            assert!(op.key < 5000);
        }
    }
}
