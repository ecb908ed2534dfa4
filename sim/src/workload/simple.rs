//! The common client: each operation is one RPC whose reply is checked against a schema
//! and mapped to ok/fail/info (spec §1.7–1.8); plus the pieces the single-RPC workloads
//! (echo, unique-ids, broadcast, g-set, counters) share: the one-final-read phase, the
//! add-or-read generator and the nullable-list read value.

use super::{
    FinalOps, FixedOps, GenContext, Generator, Invocation, Step, WorkloadClient, DEFAULT_TIMEOUT,
};
use crate::client::outcome::{complete, ErrorMode};
use crate::client::schema::ReplySchema;
use crate::client::RpcResult;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use std::time::Duration;

/// How to perform one `f`.
pub struct OpSpec {
    /// Request body (without `msg_id`).
    pub request: Value,
    /// Schema of the success reply.
    pub schema: &'static ReplySchema,
    /// Whether the operation is idempotent (timeouts and errors then fail).
    pub idempotent: bool,
    /// The ok value, from the invocation and the validated reply.
    pub ok: fn(&Invocation, &Value) -> Value,
}

/// A client whose operations are single RPCs described by `spec`.
pub struct SimpleClient {
    /// Describes each invocation.
    pub spec: fn(&Invocation) -> OpSpec,
    /// Error mapping.
    pub mode: ErrorMode,
    /// RPC timeout.
    pub timeout: Duration,
}

impl SimpleClient {
    /// A boxed client for `spec` with the given error mapping and the default RPC
    /// timeout.
    pub fn boxed(spec: fn(&Invocation) -> OpSpec, mode: ErrorMode) -> Box<dyn WorkloadClient> {
        Box::new(SimpleClient {
            spec,
            mode,
            timeout: DEFAULT_TIMEOUT,
        })
    }
}

impl WorkloadClient for SimpleClient {
    fn start(&mut self, inv: &Invocation) -> Step {
        Step::Call {
            body: (self.spec)(inv).request,
            timeout: self.timeout,
        }
    }

    fn resume(&mut self, inv: &Invocation, result: RpcResult) -> Step {
        let op = (self.spec)(inv);
        Step::Done(complete(
            result,
            self.mode,
            op.idempotent,
            &inv.value,
            op.schema,
            |body| (op.ok)(inv, body),
        ))
    }
}

/// The operations of the add-or-read workloads (broadcast, g-set, counters): an
/// invocation of `add_f` is sent as `{"type": add_f, add_field: value}`, answered by
/// `add_ok`, not idempotent, and ok with its own value; anything else is an idempotent
/// `{"type": "read"}`, answered by `read_ok`, whose ok value `read_value` takes from the
/// reply.
pub fn add_or_read(
    inv: &Invocation,
    add_f: &str,
    add_field: &str,
    add_ok: &'static ReplySchema,
    read_ok: &'static ReplySchema,
    read_value: fn(&Invocation, &Value) -> Value,
) -> OpSpec {
    if inv.f == add_f {
        OpSpec {
            request: json!({"type": add_f, add_field: inv.value}),
            schema: add_ok,
            idempotent: false,
            ok: same_value,
        }
    } else {
        OpSpec {
            request: json!({"type": "read"}),
            schema: read_ok,
            idempotent: true,
            ok: read_value,
        }
    }
}

/// An ok value equal to the invocation's value.
pub fn same_value(inv: &Invocation, _body: &Value) -> Value {
    inv.value.clone()
}

/// The ok value of a read whose reply carries a list in one field: the list, with
/// null read as empty (Maelstrom's `[s/Any]` schema accepts null as an empty sequence).
pub fn list_or_empty(field: &Value) -> Value {
    match field {
        Value::Null => json!([]),
        v => v.clone(),
    }
}

/// One final `read` per worker, flagged final.
pub fn final_read() -> Box<dyn FinalOps> {
    FixedOps::boxed(vec![Invocation {
        f: "read".into(),
        value: Value::Null,
        final_phase: true,
    }])
}

/// The generator of the grow-only set workloads (broadcast, g-set): a 50/50 mix of
/// `f` with the values 0, 1, 2, … from one shared counter, and `read`.
pub struct AddOrRead {
    /// The adding operation's name.
    f: &'static str,
    /// The value the next add carries.
    next_value: u64,
}

impl AddOrRead {
    /// A generator whose adds are called `f`, starting at value 0.
    pub fn new(f: &'static str) -> AddOrRead {
        AddOrRead { f, next_value: 0 }
    }
}

impl Generator for AddOrRead {
    fn next(&mut self, _ctx: &GenContext, rng: &mut StdRng) -> Option<Invocation> {
        if rng.random_bool(0.5) {
            let v = self.next_value;
            self.next_value += 1;
            Some(Invocation::new(self.f, json!(v)))
        } else {
            Some(Invocation::new("read", Value::Null))
        }
    }
}
