//! What the kafka generator learns from completed operations (Jepsen's
//! `track-key-offsets` and `poll-unseen` wrappers), shared by the generator, the
//! clients that report results and the final polls.
//!
//! Keys are the generator's integers; the decimal strings nodes see are parsed back
//! (a key that is not a decimal integer is ignored here, as it cannot be the
//! generator's).

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;

/// Offsets learned from `ok` main-phase operations.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Highest offset per key seen in any `ok` send or poll (a poll returning an empty
    /// list for a key counts as -1): the final polls' targets.
    pub max_offsets: BTreeMap<u64, i64>,
    /// Highest acknowledged offset per key, for keys with sends nobody polled yet.
    pub sent: BTreeMap<u64, i64>,
    /// Highest polled offset per key, for the same keys.
    pub polled: BTreeMap<u64, i64>,
    /// The seed of the run (for the final polls' random gaps).
    pub seed: u64,
    /// When the final phase must stop (10 s after its first operation).
    pub final_deadline: Option<Instant>,
}

/// Highest offset per key of a poll result `{"msgs": {k: [[o, m], …]}}`; -1 for a key
/// returned with no messages.
pub fn max_polled(value: &Value) -> BTreeMap<u64, i64> {
    let mut out = BTreeMap::new();
    let Some(msgs) = value.get("msgs").and_then(Value::as_object) else {
        return out;
    };
    for (k, pairs) in msgs {
        let Ok(key) = k.parse::<u64>() else { continue };
        let max = pairs
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| p.get(0).and_then(Value::as_i64))
                    .fold(-1, i64::max)
            })
            .unwrap_or(-1);
        out.insert(key, max);
    }
    out
}

/// `(key, offset)` of an acknowledged send `{"key", "msg", "offset"}`.
pub fn sent_offset(value: &Value) -> Option<(u64, i64)> {
    let key = value.get("key")?.as_str()?.parse::<u64>().ok()?;
    let offset = value.get("offset")?.as_i64()?;
    Some((key, offset))
}

fn merge_max(into: &mut BTreeMap<u64, i64>, k: u64, v: i64) {
    let e = into.entry(k).or_insert(v);
    *e = (*e).max(v);
}

impl Tracker {
    /// Learns from an `ok` main-phase operation (`f` and its ok value).
    pub fn record_ok(&mut self, f: &str, value: &Value) {
        let (sends, polls) = match f {
            "send" => (sent_offset(value).into_iter().collect(), BTreeMap::new()),
            "poll" => (Vec::new(), max_polled(value)),
            _ => return,
        };
        for &(k, o) in &sends {
            // Jepsen compares a send's offset with a default of 0.
            merge_max(&mut self.max_offsets, k, o.max(0));
            merge_max(&mut self.sent, k, o.max(0));
        }
        for (&k, &o) in &polls {
            merge_max(&mut self.max_offsets, k, o);
            merge_max(&mut self.polled, k, o);
        }
        // Forget keys whose sends have all been polled.
        let keys: Vec<u64> = self
            .sent
            .keys()
            .chain(self.polled.keys())
            .copied()
            .collect();
        for k in keys {
            let polled = self.polled.get(&k).copied().unwrap_or(-1);
            let sent = self.sent.get(&k).copied().unwrap_or(-1);
            if polled >= sent {
                self.sent.remove(&k);
                self.polled.remove(&k);
            }
        }
    }

    /// Keys with acknowledged sends that no poll has reached yet.
    pub fn unseen_keys(&self) -> Vec<u64> {
        self.sent.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn polls_and_sends_raise_the_targets() {
        let mut t = Tracker::default();
        t.record_ok("send", &json!({"key": "3", "msg": 1, "offset": 4}));
        t.record_ok("poll", &json!({"msgs": {"3": [[0, 9], [2, 1]], "5": []}}));
        t.record_ok("assign", &json!(["3"]));
        assert_eq!(t.max_offsets, BTreeMap::from([(3, 4), (5, -1)]));
        assert_eq!(
            t.unseen_keys(),
            vec![3],
            "offset 4 of key 3 was never polled"
        );
        t.record_ok("poll", &json!({"msgs": {"3": [[4, 1]]}}));
        assert!(t.unseen_keys().is_empty());
        assert_eq!(t.max_offsets[&3], 4);
    }

    #[test]
    fn non_numeric_keys_are_ignored() {
        let mut t = Tracker::default();
        t.record_ok("poll", &json!({"msgs": {"x": [[1, 1]]}}));
        t.record_ok("send", &json!({"key": "y", "msg": 1, "offset": 1}));
        assert!(t.max_offsets.is_empty());
    }
}
