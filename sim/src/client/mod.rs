//! Maelstrom clients (spec §1.7): synchronous RPC over the simulated network, one request
//! outstanding, replies matched by integer `in_reply_to`, everything else discarded.
//!
//! A reply whose `in_reply_to` is not the JSON integer `msg_id` (e.g. `"1"` or `1.0`) is
//! discarded exactly as Maelstrom does, so the operation ends in a timeout; we add a hint
//! naming the discarded reply to the timeout's error (`["net-timeout", "a reply from n0
//! with in_reply_to \"1\" was ignored..."]`) so the report can say what went wrong.

pub mod outcome;
pub mod schema;

use crate::net::{Delivery, Net, RouterCmd, CLIENT_INBOX};
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Allocates client ids `c0, c1, …` from one counter, as Maelstrom does.
#[derive(Default)]
pub struct ClientIds(AtomicU64);

impl ClientIds {
    /// The next id.
    pub fn next(&self) -> String {
        format!("c{}", self.0.fetch_add(1, Ordering::SeqCst))
    }
}

/// What an RPC ended with.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcResult {
    /// A reply that is not an error (schema not yet checked).
    Reply(Value),
    /// A `type: "error"` reply.
    Error {
        /// The `code` field, if it is an integer.
        code: Option<i64>,
        /// The `text` field, if any.
        text: String,
        /// The whole body.
        body: Value,
    },
    /// No matching reply before the deadline; the hint describes a discarded reply that
    /// nearly matched (e.g. `in_reply_to` sent as a string or a float).
    Timeout(Option<String>),
}

/// A registered client bound to one node.
pub struct Conn {
    /// Client id, e.g. `c7`.
    pub id: String,
    /// The node it talks to.
    pub node: String,
    net: Net,
    inbox: Receiver<Delivery>,
    next_msg_id: u64,
}

impl Conn {
    /// Opens (registers) a client with a fresh id.
    pub fn open(net: &Net, ids: &ClientIds, node: &str) -> Conn {
        let id = ids.next();
        let (tx, rx) = sync_channel(CLIENT_INBOX);
        let _ = net.tx.send(RouterCmd::Register {
            id: id.clone(),
            inbox: tx,
        });
        Conn {
            id,
            node: node.to_string(),
            net: net.clone(),
            inbox: rx,
            next_msg_id: 1,
        }
    }

    /// The `msg_id` the next request will carry.
    pub fn peek_msg_id(&self) -> u64 {
        self.next_msg_id
    }

    /// Sends `body` (a JSON object without `msg_id`) and waits for the matching reply.
    pub fn rpc(&mut self, body: Value, timeout: Duration) -> RpcResult {
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        let _ = self.net.tx.send(RouterCmd::FromClient {
            src: self.id.clone(),
            dest: self.node.clone(),
            body: with_msg_id(body, msg_id),
        });
        let deadline = Instant::now() + timeout;
        let mut hint = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.inbox.recv_timeout(left) {
                Ok(d) => {
                    let irt = d.body.get("in_reply_to");
                    if irt.and_then(Value::as_u64) == Some(msg_id) {
                        return classify(d.body);
                    }
                    if let Some(h) = near_match_hint(&d, msg_id) {
                        hint = Some(h);
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return RpcResult::Timeout(hint)
                }
            }
        }
    }

    /// Unregisters the client: later messages to it are invalid destinations.
    pub fn close(self) {
        let _ = self.net.tx.send(RouterCmd::Unregister { id: self.id });
    }
}

/// A request body with its `msg_id` (a body that is not an object becomes `{"value": …}`).
pub fn with_msg_id(body: Value, msg_id: u64) -> Value {
    let mut body = match body {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other);
            m
        }
    };
    body.insert("msg_id".into(), Value::from(msg_id));
    Value::Object(body)
}

/// Performs `inv` with `client` over `conn`: sends each request the client asks for, in
/// turn, and returns how the operation ended.
pub fn perform(
    client: &mut dyn crate::workload::WorkloadClient,
    inv: &crate::workload::Invocation,
    conn: &mut Conn,
) -> outcome::Completion {
    let mut step = client.start(inv);
    loop {
        match step {
            crate::workload::Step::Call { body, timeout } => {
                let result = conn.rpc(body, timeout);
                step = client.resume(inv, result);
            }
            crate::workload::Step::Done(done) => return done,
        }
    }
}

/// The hint for a reply to `msg_id` that Maelstrom would ignore because its `in_reply_to`
/// is not the JSON integer (a string or a float), if `d` is one.
pub fn near_match_hint(d: &Delivery, msg_id: u64) -> Option<String> {
    let v = d
        .body
        .get("in_reply_to")
        .filter(|v| near_match(v, msg_id))?;
    Some(format!(
        "a reply from {} with in_reply_to {v} was ignored: it must be the JSON integer {msg_id}",
        d.src
    ))
}

/// True for an `in_reply_to` that a person would read as `msg_id` but Maelstrom ignores.
pub fn near_match(v: &Value, msg_id: u64) -> bool {
    match v {
        Value::String(s) => s.trim() == msg_id.to_string(),
        Value::Number(n) => !n.is_u64() && n.as_f64() == Some(msg_id as f64),
        _ => false,
    }
}

/// Splits a matching reply into error and non-error.
pub fn classify(body: Value) -> RpcResult {
    if body.get("type").and_then(Value::as_str) == Some("error") {
        let code = body.get("code").and_then(Value::as_i64);
        let text = body
            .get("text")
            .map(|t| {
                t.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| t.to_string())
            })
            .unwrap_or_default();
        return RpcResult::Error { code, text, body };
    }
    RpcResult::Reply(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_are_recognised_before_anything_else() {
        match classify(json!({"type":"error","code":11,"text":"busy","extra":1,"in_reply_to":1})) {
            RpcResult::Error { code, text, .. } => {
                assert_eq!(code, Some(11));
                assert_eq!(text, "busy");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(json!({"type":"echo_ok","in_reply_to":1})),
            RpcResult::Reply(_)
        ));
    }

    #[test]
    fn near_matches_are_strings_and_floats() {
        assert!(near_match(&json!("3"), 3));
        assert!(near_match(&json!(3.0), 3));
        assert!(!near_match(&json!(3), 3));
        assert!(!near_match(&json!("4"), 3));
    }

    #[test]
    fn client_ids_count_from_zero() {
        let ids = ClientIds::default();
        assert_eq!(ids.next(), "c0");
        assert_eq!(ids.next(), "c1");
    }
}
