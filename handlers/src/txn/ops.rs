//! Micro-operations of a txn-rw-register transaction and their execution against the
//! store: `["r", k, null]` reads, `["w", k, v]` writes. A transaction sees its own earlier
//! writes; only its final write per key leaves the transaction.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::store::{Key, Store};

/// What a micro-operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `"r"`: read the key; the reply carries the value (or `null`).
    Read,
    /// `"w"`: write the value to the key.
    Write,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Read => "r",
            Kind::Write => "w",
        }
    }
}

/// One micro-operation, as requested and as returned: always exactly three elements.
#[derive(Clone, Debug, PartialEq)]
pub struct MicroOp {
    /// Read or write.
    pub kind: Kind,
    /// The key, as the client wrote it.
    pub key: Value,
    /// For a write, the value written; for a read, `null` in the request and the value
    /// read in the reply.
    pub value: Value,
}

impl Serialize for MicroOp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(3)?;
        t.serialize_element(self.kind.name())?;
        t.serialize_element(&self.key)?;
        t.serialize_element(&self.value)?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for MicroOp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MicroOp, D::Error> {
        struct OpVisitor;
        impl<'de> Visitor<'de> for OpVisitor {
            type Value = MicroOp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a micro-op ["r", key, null] or ["w", key, value]"#)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MicroOp, A::Error> {
                let f: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let kind = match f.as_str() {
                    "r" => Kind::Read,
                    "w" => Kind::Write,
                    other => {
                        return Err(de::Error::custom(format!(
                            "unknown micro-op `{other}`: expected \"r\" or \"w\""
                        )))
                    }
                };
                let key: Value = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                // A read may omit its third element; we always return three.
                let value: Option<Value> = seq.next_element()?;
                let value = match (kind, value) {
                    (Kind::Write, None) => return Err(de::Error::invalid_length(2, &self)),
                    (_, v) => v.unwrap_or(Value::Null),
                };
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(4, &self));
                }
                Ok(MicroOp { kind, key, value })
            }
        }
        d.deserialize_seq(OpVisitor)
    }
}

/// The result of running a transaction against a store snapshot.
#[derive(Debug, PartialEq)]
pub struct Executed {
    /// The micro-ops in request order, reads filled in.
    pub completed: Vec<MicroOp>,
    /// The final write per key, in order of each key's first write.
    pub writes: Vec<(Key, Value)>,
}

/// Runs `ops` against `store` without changing it: reads see the store overlaid with the
/// transaction's own earlier writes. The caller commits [`Executed::writes`] in the same
/// step, so the transaction is atomic and isolated on this node.
pub fn execute(ops: Vec<MicroOp>, store: &Store) -> Executed {
    let mut writes: Vec<(Key, Value)> = Vec::new();
    let mut completed = Vec::with_capacity(ops.len());
    for mut op in ops {
        let key = Key::from_json(&op.key);
        match op.kind {
            Kind::Read => {
                let own = writes.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
                op.value = own
                    .or_else(|| store.get(&key))
                    .cloned()
                    .unwrap_or(Value::Null);
            }
            Kind::Write => match writes.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => *v = op.value.clone(),
                None => writes.push((key, op.value.clone())),
            },
        }
        completed.push(op);
    }
    Executed { completed, writes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(v: Value) -> Vec<MicroOp> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn micro_ops_round_trip_as_three_element_arrays() {
        let parsed = ops(json!([["r", 1, null], ["w", 2, 7], ["r", "k", null]]));
        assert_eq!(parsed[1].kind, Kind::Write);
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            json!([["r", 1, null], ["w", 2, 7], ["r", "k", null]])
        );
    }

    #[test]
    fn a_read_without_third_element_still_comes_back_with_three() {
        let parsed = ops(json!([["r", 1]]));
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            json!([["r", 1, null]])
        );
    }

    #[test]
    fn malformed_micro_ops_are_rejected() {
        for bad in [
            json!([["append", 1, 2]]),
            json!([["w", 1]]),
            json!([["r"]]),
            json!([["r", 1, null, 4]]),
            json!([[]]),
            json!(["r", 1, null]),
        ] {
            assert!(
                serde_json::from_value::<Vec<MicroOp>>(bad.clone()).is_err(),
                "{bad} should not parse"
            );
        }
    }

    #[test]
    fn reads_see_own_writes_then_store_then_null() {
        let mut store = Store::new();
        store.commit_local(0, vec![(Key::from_json(&json!(1)), json!(10))]);
        let run = execute(
            ops(json!([
                ["r", 1, null],
                ["r", 2, null],
                ["w", 2, 5],
                ["r", 2, null],
                ["w", 1, 11],
                ["w", 1, 12],
                ["r", 1, null]
            ])),
            &store,
        );
        assert_eq!(
            serde_json::to_value(&run.completed).unwrap(),
            json!([
                ["r", 1, 10],
                ["r", 2, null],
                ["w", 2, 5],
                ["r", 2, 5],
                ["w", 1, 11],
                ["w", 1, 12],
                ["r", 1, 12]
            ])
        );
        // Only the final write per key leaves the transaction, keys in first-write order.
        assert_eq!(
            run.writes,
            vec![
                (Key::from_json(&json!(2)), json!(5)),
                (Key::from_json(&json!(1)), json!(12))
            ]
        );
        // Executing does not touch the store.
        assert_eq!(store.get(&Key::from_json(&json!(2))), None);
    }
}
