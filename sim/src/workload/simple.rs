//! The common client: each operation is one RPC whose reply is checked against a schema
//! and mapped to ok/fail/info (spec §1.7–1.8).

use super::{Invocation, WorkloadClient};
use crate::client::outcome::{complete, Completion, ErrorMode};
use crate::client::schema::ReplySchema;
use crate::client::Conn;
use serde_json::Value;
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

impl WorkloadClient for SimpleClient {
    fn invoke(&mut self, inv: &Invocation, conn: &mut Conn) -> Completion {
        let op = (self.spec)(inv);
        let result = conn.rpc(op.request, self.timeout);
        complete(
            result,
            self.mode,
            op.idempotent,
            &inv.value,
            op.schema,
            |body| (op.ok)(inv, body),
        )
    }
}

/// An ok value equal to the invocation's value.
pub fn same_value(inv: &Invocation, _body: &Value) -> Value {
    inv.value.clone()
}
