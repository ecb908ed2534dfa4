//! Maelstrom's three key-value services: `lin-kv`, `seq-kv` and `lww-kv`.
//!
//! All three answer the same requests (`read`, `write`, `cas`) with the same replies; they
//! differ only in which state a request sees:
//! - [`LinKv`] applies every request to one map, atomically (linearizable).
//! - [`SeqKv`] keeps the last 32 versions of the map and lets a request that changes nothing
//!   run against an older version (sequentially consistent, stale on purpose).
//! - [`LwwKv`] sends each request to one of two replicas that never exchange state.
//!
//! Keys and values are compared with JSON equality: `1`, `1.0` and `"1"` are three
//! different keys, and objects compare structurally (see [`JsonKey`]).

use super::Service;
use crate::json::JsonKey;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Number of versions `seq-kv` keeps, as in Maelstrom.
pub const SEQ_KV_SNAPSHOTS: u64 = 32;

/// Number of replicas `lww-kv` simulates (Maelstrom's docs say 5, its code uses 2).
pub const LWW_KV_REPLICAS: usize = 2;

/// Error code for a read or cas on a missing key.
pub const KEY_DOES_NOT_EXIST: u64 = 20;

/// Error code for a cas whose `from` differs from the stored value.
pub const PRECONDITION_FAILED: u64 = 22;

/// Prints a value the way Clojure's `pr-str` would print the parsed JSON (`nil`,
/// `"quoted strings"`, `[1 2]`, `{"k" 1}`), for error texts.
pub fn clojure_pr(value: &Value) -> String {
    let mut out = String::new();
    write_pr(value, &mut out);
    out
}

/// Prints a value the way Clojure's `str` would: strings bare, `nil` as nothing.
fn clojure_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => clojure_pr(other),
    }
}

fn write_pr(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    other => out.push(other),
                }
            }
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_pr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_pr(&Value::String(k.clone()), out);
                out.push(' ');
                write_pr(v, out);
            }
            out.push('}');
        }
    }
}

/// A parsed KV request. Missing fields read as `null`, as in Maelstrom.
#[derive(Clone, Debug, PartialEq)]
enum Request {
    Read {
        key: Value,
    },
    Write {
        key: Value,
        value: Value,
    },
    Cas {
        key: Value,
        from: Value,
        to: Value,
        create_if_not_exists: bool,
    },
}

impl Request {
    /// Parses a request body; `None` for anything but read, write and cas.
    fn parse(body: &Value) -> Option<Request> {
        let field = |name: &str| body.get(name).cloned().unwrap_or(Value::Null);
        match body.get("type")?.as_str()? {
            "read" => Some(Request::Read { key: field("key") }),
            "write" => Some(Request::Write {
                key: field("key"),
                value: field("value"),
            }),
            "cas" => Some(Request::Cas {
                key: field("key"),
                from: field("from"),
                to: field("to"),
                // Clojure truthiness: anything but null and false.
                create_if_not_exists: !matches!(
                    body.get("create_if_not_exists"),
                    None | Some(Value::Null) | Some(Value::Bool(false))
                ),
            }),
            _ => None,
        }
    }

    fn key(&self) -> &Value {
        match self {
            Request::Read { key } | Request::Write { key, .. } | Request::Cas { key, .. } => key,
        }
    }
}

/// How a store words the code-22 text: lin-kv and seq-kv print both values, lww-kv
/// prints `from` bare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavour {
    Strict,
    Lww,
}

/// The result of running a request against one version of a key.
#[derive(Clone, Debug, PartialEq)]
struct Outcome {
    /// The reply body, without `in_reply_to`.
    reply: Value,
    /// The key's new value when the request changes the state, `None` when it doesn't.
    new_value: Option<Value>,
}

/// Runs `request` against the key's `current` value.
fn decide(request: &Request, current: Option<&Value>, flavour: Flavour) -> Outcome {
    let unchanged = |reply| Outcome {
        reply,
        new_value: None,
    };
    let set_to = |reply, new: &Value| Outcome {
        reply,
        new_value: (current != Some(new)).then(|| new.clone()),
    };
    match (request, current) {
        (Request::Read { .. }, Some(value)) => {
            unchanged(json!({"type": "read_ok", "value": value}))
        }
        (Request::Read { .. }, None) => unchanged(missing_key()),
        (Request::Write { value, .. }, _) => set_to(json!({"type": "write_ok"}), value),
        (Request::Cas { from, to, .. }, Some(value)) if value == from => {
            set_to(json!({"type": "cas_ok"}), to)
        }
        (Request::Cas { from, .. }, Some(value)) => {
            let from_text = match flavour {
                Flavour::Strict => clojure_pr(from),
                Flavour::Lww => clojure_str(from),
            };
            let text = format!("current value {} is not {}", clojure_pr(value), from_text);
            unchanged(error(PRECONDITION_FAILED, &text))
        }
        (
            Request::Cas {
                to,
                create_if_not_exists: true,
                ..
            },
            None,
        ) if flavour == Flavour::Strict => set_to(json!({"type": "cas_ok"}), to),
        (Request::Cas { .. }, None) => unchanged(missing_key()),
    }
}

fn missing_key() -> Value {
    error(KEY_DOES_NOT_EXIST, "key does not exist")
}

/// An error reply body (without `in_reply_to`).
pub fn error(code: u64, text: &str) -> Value {
    json!({"type": "error", "code": code, "text": text})
}

/// Adds `in_reply_to` (the request's `msg_id`, copied as is) when the request had one.
pub fn reply_to(request: &Value, mut reply: Value) -> Value {
    if let (Some(msg_id), Value::Object(fields)) = (request.get("msg_id"), &mut reply) {
        fields.insert("in_reply_to".to_string(), msg_id.clone());
    }
    reply
}

/// Linearizable key-value store: one map, every request applied atomically in arrival order.
#[derive(Default, Debug)]
pub struct LinKv {
    map: HashMap<JsonKey, Value>,
}

impl Service for LinKv {
    fn handle(&mut self, _src: &str, body: &Value, _rng: &mut StdRng) -> Option<Value> {
        let request = Request::parse(body)?;
        let key = JsonKey(request.key().clone());
        let outcome = decide(&request, self.map.get(&key), Flavour::Strict);
        if let Some(value) = outcome.new_value {
            self.map.insert(key, value);
        }
        Some(reply_to(body, outcome.reply))
    }
}

/// Sequentially consistent key-value store that serves stale versions on purpose, as
/// Maelstrom's `seq-kv` does.
///
/// Versions are numbered 0 (the empty map), 1, 2, … and every source (node id) has a
/// "last index", initially 0. For each request the store picks an index uniformly in
/// `[source's last index, newest]` and runs the request against the version at that
/// index. A request that leaves that version unchanged (a read, a failed cas, a write of
/// the value already there) is answered from it and the source's last index becomes the
/// chosen index. Any other request is run again on the newest version, the result becomes
/// a new newest version (even if that second run changed nothing), and the source's last
/// index becomes the new newest index.
///
/// Only the last [`SEQ_KV_SNAPSHOTS`] versions exist: an index `d` versions behind the
/// newest reads the version `d mod 32` behind it. A source that fell more than 32 versions
/// behind can therefore see values go backwards, exactly like Maelstrom's ring buffer.
///
/// Storage: each key keeps its own short list of `(version, value)` changes covering the
/// reachable window, so a write costs O(1) amortised however many keys exist.
#[derive(Default, Debug)]
pub struct SeqKv {
    /// Index of the newest version.
    newest: u64,
    /// Each source's last index.
    sources: HashMap<String, u64>,
    /// Per key, the versions at which it changed, oldest first.
    changes: HashMap<JsonKey, Vec<(u64, Value)>>,
}

impl SeqKv {
    /// The version actually stored at `index`, following the ring buffer's wrap-around.
    fn version_at(&self, index: u64) -> u64 {
        self.newest - (self.newest - index) % SEQ_KV_SNAPSHOTS
    }

    /// The key's value in `version`, if it existed then.
    fn value_in(&self, key: &JsonKey, version: u64) -> Option<&Value> {
        let changes = self.changes.get(key)?;
        let later = changes.partition_point(|(v, _)| *v <= version);
        later.checked_sub(1).map(|i| &changes[i].1)
    }

    /// Records that `key` became `value` in version `self.newest`, forgetting changes no
    /// reachable version needs.
    fn record(&mut self, key: JsonKey, value: Value) {
        let oldest_reachable = self.newest.saturating_sub(SEQ_KV_SNAPSHOTS - 1);
        let changes = self.changes.entry(key).or_default();
        changes.push((self.newest, value));
        // Keep the last change at or before the oldest reachable version, and all later ones.
        let covering = changes.partition_point(|(v, _)| *v <= oldest_reachable);
        if covering > 1 {
            changes.drain(..covering - 1);
        }
    }

    /// The last index of `src` (0 for a source never seen).
    pub fn source_index(&self, src: &str) -> u64 {
        self.sources.get(src).copied().unwrap_or(0)
    }

    /// The newest version's index.
    pub fn newest_index(&self) -> u64 {
        self.newest
    }
}

impl Service for SeqKv {
    fn handle(&mut self, src: &str, body: &Value, rng: &mut StdRng) -> Option<Value> {
        let request = Request::parse(body)?;
        let key = JsonKey(request.key().clone());
        let chosen = rng.random_range(self.source_index(src)..=self.newest);
        let speculative = decide(
            &request,
            self.value_in(&key, self.version_at(chosen)),
            Flavour::Strict,
        );
        if speculative.new_value.is_none() {
            self.sources.insert(src.to_string(), chosen);
            return Some(reply_to(body, speculative.reply));
        }
        let outcome = decide(&request, self.value_in(&key, self.newest), Flavour::Strict);
        self.newest += 1;
        if let Some(value) = outcome.new_value {
            self.record(key, value);
        }
        self.sources.insert(src.to_string(), self.newest);
        Some(reply_to(body, outcome.reply))
    }
}

/// "Last writer wins" store as Maelstrom's `lww-kv` really behaves: two independent
/// replicas, each request served by one of them at random, and no state ever exchanged
/// (Maelstrom computes a merge and then throws it away). Expect stale reads and spurious
/// code-20/22 errors; `create_if_not_exists` is ignored.
///
/// Maelstrom stamps values with a per-replica Lamport clock, but the stamps only feed the
/// discarded merge, so nothing observable depends on them and they are not kept here.
#[derive(Debug)]
pub struct LwwKv {
    replicas: Vec<HashMap<JsonKey, Value>>,
}

impl Default for LwwKv {
    fn default() -> Self {
        LwwKv {
            replicas: vec![HashMap::new(); LWW_KV_REPLICAS],
        }
    }
}

impl Service for LwwKv {
    fn handle(&mut self, _src: &str, body: &Value, rng: &mut StdRng) -> Option<Value> {
        let request = Request::parse(body)?;
        let key = JsonKey(request.key().clone());
        let replica = &mut self.replicas[rng.random_range(0..LWW_KV_REPLICAS)];
        let outcome = decide(&request, replica.get(&key), Flavour::Lww);
        if let Some(value) = outcome.new_value {
            replica.insert(key, value);
        }
        Some(reply_to(body, outcome.reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    fn read(key: Value) -> Value {
        json!({"type": "read", "key": key, "msg_id": 1})
    }

    fn write(key: Value, value: Value) -> Value {
        json!({"type": "write", "key": key, "value": value, "msg_id": 2})
    }

    fn cas(key: Value, from: Value, to: Value) -> Value {
        json!({"type": "cas", "key": key, "from": from, "to": to, "msg_id": 3})
    }

    /// The value a read reply carries, or the error code as `Err`.
    fn read_result(reply: &Value) -> Result<Value, u64> {
        match reply["type"].as_str() {
            Some("read_ok") => Ok(reply["value"].clone()),
            Some("error") => Err(reply["code"].as_u64().unwrap()),
            other => panic!("unexpected reply type {other:?}"),
        }
    }

    #[test]
    fn clojure_printing() {
        assert_eq!(clojure_pr(&json!(null)), "nil");
        assert_eq!(clojure_pr(&json!("a\"b")), r#""a\"b""#);
        assert_eq!(clojure_pr(&json!([1, "x", null])), r#"[1 "x" nil]"#);
        assert_eq!(clojure_pr(&json!({"k": 1.5})), r#"{"k" 1.5}"#);
        assert_eq!(clojure_str(&json!("bare")), "bare");
        assert_eq!(clojure_str(&json!(null)), "");
    }

    #[test]
    fn lin_kv_read_write_cas() {
        let mut kv = LinKv::default();
        let r = &mut rng(1);
        assert_eq!(
            kv.handle("n0", &read(json!("k")), r),
            Some(
                json!({"type": "error", "code": 20, "text": "key does not exist", "in_reply_to": 1})
            )
        );
        assert_eq!(
            kv.handle("n0", &write(json!("k"), json!(5)), r),
            Some(json!({"type": "write_ok", "in_reply_to": 2}))
        );
        assert_eq!(
            kv.handle("n1", &read(json!("k")), r),
            Some(json!({"type": "read_ok", "value": 5, "in_reply_to": 1}))
        );
        assert_eq!(
            kv.handle("n1", &cas(json!("k"), json!(4), json!(6)), r),
            Some(
                json!({"type": "error", "code": 22, "text": "current value 5 is not 4", "in_reply_to": 3})
            )
        );
        assert_eq!(
            kv.handle("n1", &cas(json!("k"), json!(5), json!(6)), r),
            Some(json!({"type": "cas_ok", "in_reply_to": 3}))
        );
        assert_eq!(
            read_result(&kv.handle("n0", &read(json!("k")), r).unwrap()),
            Ok(json!(6))
        );
        assert_eq!(
            read_result(
                &kv.handle("n0", &cas(json!("nope"), json!(1), json!(2)), r)
                    .unwrap()
            ),
            Err(20)
        );
    }

    #[test]
    fn lin_kv_cas_error_text_prints_values() {
        let mut kv = LinKv::default();
        let r = &mut rng(1);
        kv.handle("n0", &write(json!(0), json!("abc")), r);
        let reply = kv
            .handle("n0", &cas(json!(0), json!(null), json!(1)), r)
            .unwrap();
        assert_eq!(reply["text"], json!(r#"current value "abc" is not nil"#));
    }

    #[test]
    fn lin_kv_create_if_not_exists() {
        let mut kv = LinKv::default();
        let r = &mut rng(1);
        let mut body = cas(json!("k"), json!(1), json!(2));
        body["create_if_not_exists"] = json!(true);
        assert_eq!(kv.handle("n0", &body, r).unwrap()["type"], json!("cas_ok"));
        assert_eq!(
            read_result(&kv.handle("n0", &read(json!("k")), r).unwrap()),
            Ok(json!(2))
        );
        // Once the key exists the flag changes nothing: the precondition applies.
        assert_eq!(kv.handle("n0", &body, r).unwrap()["code"], json!(22));
        // Clojure truthiness: false and null mean "no".
        let mut body = cas(json!("other"), json!(1), json!(2));
        body["create_if_not_exists"] = json!(false);
        assert_eq!(kv.handle("n0", &body, r).unwrap()["code"], json!(20));
    }

    #[test]
    fn lin_kv_keys_use_json_equality() {
        let mut kv = LinKv::default();
        let r = &mut rng(1);
        kv.handle("n0", &write(json!(1), json!("int")), r);
        kv.handle("n0", &write(json!("1"), json!("string")), r);
        let one_float: Value = serde_json::from_str("1.0").unwrap();
        assert_eq!(
            read_result(&kv.handle("n0", &read(one_float), r).unwrap()),
            Err(20)
        );
        assert_eq!(
            read_result(&kv.handle("n0", &read(json!(1)), r).unwrap()),
            Ok(json!("int"))
        );
        assert_eq!(
            read_result(&kv.handle("n0", &read(json!("1")), r).unwrap()),
            Ok(json!("string"))
        );
        // cas compares values with JSON equality too.
        kv.handle("n0", &write(json!("k"), json!(1)), r);
        let reply = kv.handle(
            "n0",
            &cas(json!("k"), serde_json::from_str("1.0").unwrap(), json!(2)),
            r,
        );
        assert_eq!(reply.unwrap()["code"], json!(22));
    }

    #[test]
    fn unknown_types_and_bad_bodies_get_no_reply() {
        let r = &mut rng(1);
        let mut services: Vec<Box<dyn Service>> = vec![
            Box::new(LinKv::default()),
            Box::new(SeqKv::default()),
            Box::new(LwwKv::default()),
        ];
        for kv in &mut services {
            assert_eq!(
                kv.handle("n0", &json!({"type": "delete", "key": 1, "msg_id": 1}), r),
                None
            );
            assert_eq!(kv.handle("n0", &json!({"key": 1, "msg_id": 1}), r), None);
            assert_eq!(kv.handle("n0", &json!({"type": 7}), r), None);
            assert_eq!(kv.handle("n0", &json!("read"), r), None);
        }
    }

    #[test]
    fn replies_copy_msg_id_and_never_carry_their_own() {
        let mut kv = LinKv::default();
        let r = &mut rng(1);
        let reply = kv
            .handle("n0", &json!({"type": "write", "key": 1, "value": 2}), r)
            .unwrap();
        assert_eq!(reply, json!({"type": "write_ok"}));
        let reply = kv
            .handle("n0", &json!({"type": "read", "key": 1, "msg_id": 77}), r)
            .unwrap();
        assert_eq!(reply["in_reply_to"], json!(77));
        assert!(reply.get("msg_id").is_none());
    }

    /// n0 writes `key` := 1..=count, each a unique value, so version i holds value i.
    fn seq_kv_with_writes(key: &str, count: u64, r: &mut StdRng) -> SeqKv {
        let mut kv = SeqKv::default();
        for v in 1..=count {
            assert_eq!(
                kv.handle("n0", &write(json!(key), json!(v)), r).unwrap()["type"],
                json!("write_ok")
            );
        }
        assert_eq!(kv.newest_index(), count);
        kv
    }

    #[test]
    fn seq_kv_reads_from_another_source_can_be_stale() {
        let mut stale = 0;
        let mut fresh = 0;
        for seed in 0..50 {
            let r = &mut rng(seed);
            let mut kv = seq_kv_with_writes("k", 5, r);
            match read_result(&kv.handle("n1", &read(json!("k")), r).unwrap()) {
                Ok(v) if v == json!(5) => fresh += 1,
                Ok(_) | Err(20) => stale += 1,
                Err(code) => panic!("unexpected code {code}"),
            }
        }
        assert!(stale > 0, "no stale read in 50 tries");
        assert!(fresh > 0, "no fresh read in 50 tries");
    }

    #[test]
    fn seq_kv_own_write_makes_the_next_read_fresh() {
        let r = &mut rng(7);
        let mut kv = seq_kv_with_writes("k", 10, r);
        for v in 100..200 {
            // Another source keeps writing; n1 writes a unique value and reads it back.
            kv.handle("n2", &write(json!("other"), json!(v)), r);
            kv.handle("n1", &write(json!("k"), json!(v)), r);
            assert_eq!(
                read_result(&kv.handle("n1", &read(json!("k")), r).unwrap()),
                Ok(json!(v))
            );
            assert_eq!(kv.source_index("n1"), kv.newest_index());
        }
    }

    #[test]
    fn seq_kv_reads_of_one_source_are_monotonic_within_the_window() {
        for seed in 0..20 {
            let r = &mut rng(seed);
            let mut kv = seq_kv_with_writes("k", 20, r);
            let mut last = 0;
            for _ in 0..60 {
                let seen = match read_result(&kv.handle("n1", &read(json!("k")), r).unwrap()) {
                    Ok(v) => v.as_u64().unwrap(),
                    Err(_) => 0,
                };
                assert!(seen >= last, "read went back from {last} to {seen}");
                last = seen;
            }
            // Reads converge eventually.
            assert_eq!(last, 20);
        }
    }

    #[test]
    fn seq_kv_writing_the_stored_value_does_not_pin() {
        let mut stale_after_same_write = 0;
        for seed in 0..50 {
            let r = &mut rng(seed);
            let mut kv = SeqKv::default();
            kv.handle("n0", &write(json!("a"), json!(1)), r);
            for v in 1..=30 {
                kv.handle("n0", &write(json!("b"), json!(v)), r);
            }
            // n1 writes the value "a" already holds in every version but 0.
            kv.handle("n1", &write(json!("a"), json!(1)), r);
            if read_result(&kv.handle("n1", &read(json!("b")), r).unwrap()) != Ok(json!(30)) {
                stale_after_same_write += 1;
            }
            // Control: a unique value pins n1 to the newest version.
            kv.handle("n1", &write(json!("a"), json!(1000 + seed)), r);
            assert_eq!(
                read_result(&kv.handle("n1", &read(json!("b")), r).unwrap()),
                Ok(json!(30))
            );
        }
        assert!(stale_after_same_write > 0);
    }

    #[test]
    fn seq_kv_failed_cas_on_newest_still_pins_and_appends() {
        // n1 sits at version 0's index. A cas from 1 succeeds only on version 1, so when
        // index 1 is drawn it must be re-run on the newest version (k = 3), fail there,
        // and still append a version.
        let mut saw_rerun = false;
        for seed in 0..50 {
            let r = &mut rng(seed);
            let mut kv = seq_kv_with_writes("k", 3, r);
            let before = kv.newest_index();
            let reply = kv
                .handle("n1", &cas(json!("k"), json!(1), json!(9)), r)
                .unwrap();
            assert_ne!(
                reply["type"],
                json!("cas_ok"),
                "cas must not apply to a stale version"
            );
            if kv.newest_index() == before + 1 {
                saw_rerun = true;
                assert_eq!(reply["text"], json!("current value 3 is not 1"));
                assert_eq!(kv.source_index("n1"), before + 1);
            } else {
                assert_eq!(kv.newest_index(), before);
            }
            assert_eq!(
                read_result(&kv.handle("n0", &read(json!("k")), r).unwrap()),
                Ok(json!(3))
            );
        }
        assert!(saw_rerun);
    }

    #[test]
    fn seq_kv_falls_back_in_time_after_wrapping_the_ring() {
        let r = &mut rng(42);
        let mut kv = seq_kv_with_writes("k", 100, r);
        let mut seen = Vec::new();
        for _ in 0..40 {
            let v = read_result(&kv.handle("n1", &read(json!("k")), r).unwrap()).unwrap();
            seen.push(v.as_u64().unwrap());
        }
        // Every read returns one of the last 32 versions...
        assert!(seen.iter().all(|v| (69..=100).contains(v)), "{seen:?}");
        // ...but a source more than 32 versions behind can go backwards.
        assert!(seen.windows(2).any(|w| w[1] < w[0]), "{seen:?}");
    }

    #[test]
    fn seq_kv_wraps_exactly_like_the_ring_buffer() {
        let r = &mut rng(1);
        let kv = seq_kv_with_writes("k", 100, r);
        assert_eq!(kv.version_at(100), 100);
        assert_eq!(kv.version_at(69), 69);
        assert_eq!(kv.version_at(68), 100);
        assert_eq!(kv.version_at(67), 99);
        assert_eq!(kv.version_at(0), 100 - 100 % 32);
        for version in 69..=100 {
            assert_eq!(
                kv.value_in(&JsonKey(json!("k")), version),
                Some(&json!(version))
            );
        }
    }

    #[test]
    fn seq_kv_create_if_not_exists_is_a_state_change() {
        let r = &mut rng(3);
        let mut kv = SeqKv::default();
        let mut body = cas(json!("k"), json!(0), json!(1));
        body["create_if_not_exists"] = json!(true);
        assert_eq!(kv.handle("n0", &body, r).unwrap()["type"], json!("cas_ok"));
        assert_eq!(kv.newest_index(), 1);
        assert_eq!(
            read_result(&kv.handle("n0", &read(json!("k")), r).unwrap()),
            Ok(json!(1))
        );
    }

    #[test]
    fn seq_kv_keeps_little_history_per_key() {
        let r = &mut rng(5);
        let kv = seq_kv_with_writes("k", 1000, r);
        assert!(kv.changes[&JsonKey(json!("k"))].len() <= SEQ_KV_SNAPSHOTS as usize + 1);
    }

    #[test]
    fn lww_kv_replicas_never_converge() {
        let r = &mut rng(11);
        let mut kv = LwwKv::default();
        kv.handle("n0", &write(json!("k"), json!(1)), r);
        let mut found = 0;
        let mut missing = 0;
        for _ in 0..50 {
            match read_result(&kv.handle("n0", &read(json!("k")), r).unwrap()) {
                Ok(v) => {
                    assert_eq!(v, json!(1));
                    found += 1
                }
                Err(20) => missing += 1,
                Err(code) => panic!("unexpected code {code}"),
            }
        }
        assert!(found > 0 && missing > 0, "found {found}, missing {missing}");
    }

    #[test]
    fn lww_kv_ignores_create_if_not_exists_and_prints_from_bare() {
        let r = &mut rng(2);
        let mut kv = LwwKv::default();
        let mut body = cas(json!("k"), json!("x"), json!(2));
        body["create_if_not_exists"] = json!(true);
        for _ in 0..10 {
            assert_eq!(kv.handle("n0", &body, r).unwrap()["code"], json!(20));
        }
        // Put a value in both replicas, then fail a cas against it.
        for _ in 0..20 {
            kv.handle("n0", &write(json!("k"), json!("v")), r);
        }
        let reply = kv.handle("n0", &body, r).unwrap();
        assert_eq!(reply["text"], json!(r#"current value "v" is not x"#));
    }

    /// Prints how fast seq-kv handles writes and reads over many keys.
    /// Run with `cargo test -p glomers-simkit --release -- --ignored --nocapture seq_kv_speed`.
    #[test]
    #[ignore]
    fn seq_kv_speed() {
        let r = &mut rng(9);
        let mut kv = SeqKv::default();
        let start = std::time::Instant::now();
        let n = 200_000u64;
        for i in 0..n {
            let src = format!("n{}", i % 5);
            kv.handle(&src, &write(json!(i % 5000), json!(i)), r);
            kv.handle(&src, &read(json!((i * 7) % 5000)), r);
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "seq-kv: {} requests over 5000 keys in {secs:.3} s ({:.0} requests/s)",
            2 * n,
            2.0 * n as f64 / secs
        );
    }
}
