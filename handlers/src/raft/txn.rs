//! Transactions as state machine commands: `txn {txn: [[f, key, value], …]}` →
//! `txn_ok {txn}` with reads filled in. A transaction is one log entry, applied in one
//! step in log order, so transactions are serializable in log order; since a leader
//! answers only once an entry is committed (or, for a read-only transaction, once its
//! read index is confirmed), that order respects real time: strict serializability.
//!
//! Two workloads share this code, differing in their micro-operations ([`Micro`]):
//! - txn-rw-register ([`RwRegister`]): `["r", k, null]` reads a register (null if never
//!   written), `["w", k, v]` writes it;
//! - txn-list-append ([`ListAppend`]): `["r", k, null]` reads a list (null if empty),
//!   `["append", k, v]` appends to it.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::marker::PhantomData;

use glomers_runtime::Result;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::machine::{message_types, Machine};

/// A workload's micro-operation function (`"r"`, `"w"`, `"append"`).
pub trait Micro: Copy + Debug + Serialize + DeserializeOwned + 'static {
    /// True for a read.
    fn is_read(self) -> bool;
    /// The key's new value after this write of `arg` over `stored`.
    fn write(self, stored: Option<Value>, arg: &Value) -> Value;
}

/// txn-rw-register's functions.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RwFn {
    /// `"r"`.
    #[serde(rename = "r")]
    Read,
    /// `"w"`: the value replaces the register's.
    #[serde(rename = "w")]
    Write,
}

impl Micro for RwFn {
    fn is_read(self) -> bool {
        self == RwFn::Read
    }
    fn write(self, _stored: Option<Value>, arg: &Value) -> Value {
        arg.clone()
    }
}

/// txn-list-append's functions.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFn {
    /// `"r"`.
    #[serde(rename = "r")]
    Read,
    /// `"append"`: the value goes at the end of the key's list.
    #[serde(rename = "append")]
    Append,
}

impl Micro for ListFn {
    fn is_read(self) -> bool {
        self == ListFn::Read
    }
    fn write(self, stored: Option<Value>, arg: &Value) -> Value {
        let mut list = match stored {
            Some(Value::Array(items)) => items,
            // Only appends ever write a key, so a stored value is always a list.
            Some(other) => vec![other],
            None => Vec::new(),
        };
        list.push(arg.clone());
        Value::Array(list)
    }
}

/// One micro-operation: function, key, value (null for a read request).
pub type MicroOp<F> = (F, Value, Value);

/// A `txn` request.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
#[serde(bound = "F: Micro")]
pub enum TxnOp<F> {
    /// The transaction's micro-operations, in order.
    Txn {
        /// The micro-operations.
        txn: Vec<MicroOp<F>>,
    },
}

/// A `txn_ok` reply.
#[derive(Serialize, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
#[serde(bound = "F: Micro")]
pub enum TxnReply<F> {
    /// The micro-operations with reads filled in.
    TxnOk {
        /// The micro-operations.
        txn: Vec<MicroOp<F>>,
    },
}

/// A store of keys (held as their JSON text) to values, running transactions of `F`.
#[derive(Debug)]
pub struct Txns<F> {
    store: BTreeMap<String, Value>,
    micro: PhantomData<F>,
}

impl<F> Default for Txns<F> {
    fn default() -> Self {
        Txns {
            store: BTreeMap::new(),
            micro: PhantomData,
        }
    }
}

/// The txn-rw-register machine.
pub type RwRegister = Txns<RwFn>;
/// The txn-list-append machine.
pub type ListAppend = Txns<ListFn>;

impl<F: Micro> Machine for Txns<F> {
    type Command = TxnOp<F>;
    type Reply = TxnReply<F>;
    const MESSAGE_TYPES: &'static [&'static str] = message_types!("txn");

    fn is_read_only(cmd: &TxnOp<F>) -> bool {
        let TxnOp::Txn { txn } = cmd;
        txn.iter().all(|(f, _, _)| f.is_read())
    }

    fn read(&self, cmd: &TxnOp<F>) -> Result<TxnReply<F>> {
        let TxnOp::Txn { txn } = cmd;
        let txn = txn
            .iter()
            .map(|(f, key, value)| {
                let read = f.is_read().then(|| self.store.get(&key.to_string()));
                let value = match read {
                    Some(stored) => stored.cloned().unwrap_or(Value::Null),
                    None => value.clone(),
                };
                (*f, key.clone(), value)
            })
            .collect();
        Ok(TxnReply::TxnOk { txn })
    }

    fn apply(&mut self, cmd: &TxnOp<F>) -> Result<TxnReply<F>> {
        let TxnOp::Txn { txn } = cmd;
        let mut done = Vec::with_capacity(txn.len());
        for (f, key, value) in txn {
            let k = key.to_string();
            if f.is_read() {
                let stored = self.store.get(&k).cloned().unwrap_or(Value::Null);
                done.push((*f, key.clone(), stored));
            } else {
                let new = f.write(self.store.remove(&k), value);
                self.store.insert(k, new);
                done.push((*f, key.clone(), value.clone()));
            }
        }
        Ok(TxnReply::TxnOk { txn: done })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op<F: Micro>(v: Value) -> TxnOp<F> {
        serde_json::from_value(json!({"type": "txn", "txn": v})).unwrap()
    }

    fn reply<F: Micro>(r: Result<TxnReply<F>>) -> Value {
        let TxnReply::TxnOk { txn } = r.unwrap();
        serde_json::to_value(txn).unwrap()
    }

    #[test]
    fn both_route_txn_and_raft() {
        crate::raft::machine::tests::assert_routes::<RwRegister>();
        crate::raft::machine::tests::assert_routes::<ListAppend>();
    }

    #[test]
    fn rw_register_reads_see_earlier_writes_of_the_same_txn() {
        let mut m = RwRegister::default();
        let t = op(json!([
            ["r", 1, null],
            ["w", 1, 5],
            ["r", 1, null],
            ["w", 2, 6]
        ]));
        assert!(!RwRegister::is_read_only(&t));
        assert_eq!(
            reply(m.apply(&t)),
            json!([["r", 1, null], ["w", 1, 5], ["r", 1, 5], ["w", 2, 6]])
        );
        let r = op(json!([["r", 2, null], ["r", 3, null]]));
        assert!(RwRegister::is_read_only(&r));
        assert_eq!(reply(m.read(&r)), json!([["r", 2, 6], ["r", 3, null]]));
    }

    #[test]
    fn list_append_builds_lists_and_reads_null_for_empty_keys() {
        let mut m = ListAppend::default();
        let t = op(json!([
            ["append", "a", 1],
            ["r", "a", null],
            ["append", "a", 2]
        ]));
        assert_eq!(
            reply(m.apply(&t)),
            json!([["append", "a", 1], ["r", "a", [1]], ["append", "a", 2]])
        );
        let r = op(json!([["r", "a", null], ["r", "b", null]]));
        assert_eq!(
            reply(m.read(&r)),
            json!([["r", "a", [1, 2]], ["r", "b", null]])
        );
    }

    #[test]
    fn each_workload_refuses_the_others_functions() {
        let bad = json!({"type": "txn", "txn": [["append", 1, 2]]});
        assert!(serde_json::from_value::<TxnOp<RwFn>>(bad).is_err());
        let bad = json!({"type": "txn", "txn": [["w", 1, 2]]});
        assert!(serde_json::from_value::<TxnOp<ListFn>>(bad).is_err());
        let short = json!({"type": "txn", "txn": [["r", 1]]});
        assert!(serde_json::from_value::<TxnOp<ListFn>>(short).is_err());
    }
}
