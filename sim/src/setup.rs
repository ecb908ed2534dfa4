//! What a test sends before its main phase, IO-free: the `init` message each node gets
//! (10 s, one fresh client per node) and the check of its answer. Both drivers use it.

use crate::client::RpcResult;
use crate::plan::TestPlan;
use serde_json::{json, Value};
use std::time::Duration;

/// How long a node has to answer `init`.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `init` body for `node` (without `msg_id`).
pub fn init_body(plan: &TestPlan, node: &str) -> Value {
    json!({
        "type": "init",
        "node_id": node,
        "node_ids": plan.nodes,
    })
}

/// Checks `node`'s answer to `init`; the error says what was wrong.
pub fn check_init(node: &str, result: RpcResult) -> Result<(), String> {
    match result {
        RpcResult::Reply(b) if b.get("type").and_then(Value::as_str) == Some("init_ok") => Ok(()),
        RpcResult::Reply(b) => Err(format!(
            "node {node} answered init with type {} instead of \"init_ok\": {b}",
            b.get("type").cloned().unwrap_or(Value::Null)
        )),
        RpcResult::Error { code, text, .. } => Err(format!(
            "node {node} answered init with an error (code {code:?}): {text}"
        )),
        RpcResult::Timeout(hint) => Err(format!(
            "node {node} did not respond to an init message within 10 s{}",
            hint.map(|h| format!(" ({h})")).unwrap_or_default()
        )),
    }
}
