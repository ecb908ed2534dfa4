//! Maelstrom's `lin-tso` service: a linearizable timestamp oracle.

use super::kv::reply_to;
use super::Service;
use rand::rngs::StdRng;
use serde_json::{json, Value};

/// Linearizable timestamp oracle: answers `{"type":"ts"}` with `{"type":"ts_ok","ts":n}`,
/// where n is 0 for the first request and grows by one per request. Other request types
/// get no reply.
#[derive(Default, Debug)]
pub struct LinTso {
    next: u64,
}

impl Service for LinTso {
    fn handle(&mut self, _src: &str, body: &Value, _rng: &mut StdRng) -> Option<Value> {
        if body.get("type")?.as_str()? != "ts" {
            return None;
        }
        let ts = self.next;
        self.next += 1;
        Some(reply_to(body, json!({"type": "ts_ok", "ts": ts})))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn timestamps_start_at_zero_and_grow_by_one() {
        let mut tso = LinTso::default();
        let r = &mut StdRng::seed_from_u64(0);
        for expected in 0..5u64 {
            let reply = tso
                .handle("n0", &json!({"type": "ts", "msg_id": expected + 10}), r)
                .unwrap();
            assert_eq!(
                reply,
                json!({"type": "ts_ok", "ts": expected, "in_reply_to": expected + 10})
            );
        }
    }

    #[test]
    fn unknown_types_get_no_reply_and_take_no_timestamp() {
        let mut tso = LinTso::default();
        let r = &mut StdRng::seed_from_u64(0);
        assert_eq!(
            tso.handle("n0", &json!({"type": "read", "msg_id": 1}), r),
            None
        );
        assert_eq!(tso.handle("n0", &json!({"msg_id": 1}), r), None);
        let reply = tso
            .handle("n1", &json!({"type": "ts", "msg_id": 2}), r)
            .unwrap();
        assert_eq!(reply["ts"], json!(0));
    }
}
