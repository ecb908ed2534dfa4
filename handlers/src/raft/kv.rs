//! The lin-kv state machine: a map from keys to values with `read`, `write` and `cas`,
//! answering as Maelstrom's own `lin-kv` service does: error 20 when the key does not
//! exist (a `read` or a `cas`), error 22 when a `cas` finds another value than `from`.
//! Keys and values are any JSON; they compare as JSON (`1` is not `1.0`, as in
//! Maelstrom's Clojure equality).

use std::collections::BTreeMap;

use glomers_runtime::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::machine::{message_types, Machine};

/// A lin-kv request.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KvOp {
    /// `read {key}` → `read_ok {value}`.
    Read {
        /// The key.
        key: Value,
    },
    /// `write {key, value}` → `write_ok`.
    Write {
        /// The key.
        key: Value,
        /// The new value.
        value: Value,
    },
    /// `cas {key, from, to}` → `cas_ok`.
    Cas {
        /// The key.
        key: Value,
        /// The value the key must hold.
        from: Value,
        /// The value it then gets.
        to: Value,
    },
}

/// A lin-kv success reply.
#[allow(clippy::enum_variant_names)]
#[derive(Serialize, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KvReply {
    /// The value read.
    ReadOk {
        /// The value.
        value: Value,
    },
    /// A write took effect.
    WriteOk,
    /// A cas took effect.
    CasOk,
}

/// The lin-kv map. Keys are held as their JSON text.
#[derive(Default, Debug)]
pub struct LinKv {
    map: BTreeMap<String, Value>,
}

fn missing(key: &Value) -> Error {
    Error::new(
        ErrorCode::KEY_DOES_NOT_EXIST,
        format!("key {key} does not exist"),
    )
}

impl Machine for LinKv {
    type Command = KvOp;
    type Reply = KvReply;
    const MESSAGE_TYPES: &'static [&'static str] = message_types!("read", "write", "cas");

    fn is_read_only(cmd: &KvOp) -> bool {
        matches!(cmd, KvOp::Read { .. })
    }

    fn read(&self, cmd: &KvOp) -> Result<KvReply> {
        match cmd {
            KvOp::Read { key } => match self.map.get(&key.to_string()) {
                Some(value) => Ok(KvReply::ReadOk {
                    value: value.clone(),
                }),
                None => Err(missing(key)),
            },
            other => Err(Error::crash(format!("{other:?} is not a read"))),
        }
    }

    fn apply(&mut self, cmd: &KvOp) -> Result<KvReply> {
        match cmd {
            KvOp::Read { .. } => self.read(cmd),
            KvOp::Write { key, value } => {
                self.map.insert(key.to_string(), value.clone());
                Ok(KvReply::WriteOk)
            }
            KvOp::Cas { key, from, to } => match self.map.get_mut(&key.to_string()) {
                None => Err(missing(key)),
                Some(current) if current == from => {
                    *current = to.clone();
                    Ok(KvReply::CasOk)
                }
                Some(current) => Err(Error::new(
                    ErrorCode::PRECONDITION_FAILED,
                    format!("expected {from}, found {current}"),
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(v: Value) -> KvOp {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn routes_its_commands_and_raft() {
        crate::raft::machine::tests::assert_routes::<LinKv>();
    }

    #[test]
    fn read_write_cas_follow_maelstrom() {
        let mut kv = LinKv::default();
        let code = |r: Result<KvReply>| r.unwrap_err().code.0;
        assert_eq!(code(kv.apply(&op(json!({"type": "read", "key": 1})))), 20);
        let cas = op(json!({"type": "cas", "key": 1, "from": 2, "to": 3}));
        assert_eq!(code(kv.apply(&cas)), 20);
        let w = op(json!({"type": "write", "key": 1, "value": 2}));
        assert_eq!(kv.apply(&w), Ok(KvReply::WriteOk));
        assert_eq!(kv.apply(&cas), Ok(KvReply::CasOk));
        assert_eq!(code(kv.apply(&cas)), 22);
        let r = op(json!({"type": "read", "key": 1}));
        assert_eq!(kv.read(&r), Ok(KvReply::ReadOk { value: json!(3) }));
        // JSON equality: 3.0 is not 3, "1" is not 1.
        let float = op(json!({"type": "cas", "key": 1, "from": 3.0, "to": 4}));
        assert_eq!(code(kv.apply(&float)), 22);
        assert_eq!(code(kv.read(&op(json!({"type": "read", "key": "1"})))), 20);
    }

    #[test]
    fn only_reads_are_read_only_and_read_changes_nothing() {
        let mut kv = LinKv::default();
        kv.apply(&op(json!({"type": "write", "key": 0, "value": 1})))
            .unwrap();
        assert!(LinKv::is_read_only(&op(json!({"type": "read", "key": 0}))));
        assert!(!LinKv::is_read_only(&op(
            json!({"type": "write", "key": 0, "value": 1})
        )));
        let w = op(json!({"type": "write", "key": 0, "value": 9}));
        assert!(kv.read(&w).is_err());
        assert_eq!(
            kv.read(&op(json!({"type": "read", "key": 0}))),
            Ok(KvReply::ReadOk { value: json!(1) })
        );
    }
}
