//! Clients of a deterministic run: Maelstrom's client rules (one request outstanding,
//! replies matched by integer `in_reply_to`, everything else discarded, a timeout ends
//! the request) as state, driven by the run's event loop instead of a blocking thread.

use crate::client::{classify, near_match_hint, with_msg_id, RpcResult};
use crate::net::Delivery;
use serde_json::Value;
use std::time::Duration;

/// A registered client bound to one node, with at most one request outstanding.
#[derive(Debug)]
pub struct VConn {
    /// Client id, e.g. `c7`.
    pub id: String,
    /// The node it talks to.
    pub node: String,
    next_msg_id: u64,
    waiting: Option<Waiting>,
}

#[derive(Debug)]
struct Waiting {
    msg_id: u64,
    deadline: Duration,
    hint: Option<String>,
}

impl VConn {
    /// A client `id` talking to `node`.
    pub fn new(id: String, node: &str) -> VConn {
        VConn {
            id,
            node: node.to_string(),
            next_msg_id: 1,
            waiting: None,
        }
    }

    /// The `msg_id` the next request will carry.
    pub fn peek_msg_id(&self) -> u64 {
        self.next_msg_id
    }

    /// Starts a request at `now`: returns the body to send (with its `msg_id`).
    pub fn request(&mut self, body: Value, now: Duration, timeout: Duration) -> Value {
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        self.waiting = Some(Waiting {
            msg_id,
            deadline: now + timeout,
            hint: None,
        });
        with_msg_id(body, msg_id)
    }

    /// When the outstanding request times out.
    pub fn deadline(&self) -> Option<Duration> {
        self.waiting.as_ref().map(|w| w.deadline)
    }

    /// A message for this client: the request's result if it is the reply.
    pub fn receive(&mut self, d: Delivery) -> Option<RpcResult> {
        let w = self.waiting.as_mut()?;
        if d.body.get("in_reply_to").and_then(Value::as_u64) == Some(w.msg_id) {
            self.waiting = None;
            return Some(classify(d.body));
        }
        if let Some(h) = near_match_hint(&d, w.msg_id) {
            w.hint = Some(h);
        }
        None
    }

    /// The timeout of the outstanding request, if it is due at `now`.
    pub fn expire(&mut self, now: Duration) -> Option<RpcResult> {
        if self.deadline().is_some_and(|d| d <= now) {
            let w = self.waiting.take()?;
            return Some(RpcResult::Timeout(w.hint));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(irt: Value) -> Delivery {
        Delivery {
            id: 0,
            src: "n0".into(),
            body: json!({"type": "echo_ok", "in_reply_to": irt}),
        }
    }

    #[test]
    fn only_the_integer_reply_ends_the_request_and_near_misses_become_a_hint() {
        let mut c = VConn::new("c1".into(), "n0");
        let body = c.request(
            json!({"type": "echo"}),
            Duration::ZERO,
            Duration::from_secs(5),
        );
        assert_eq!(body["msg_id"], 1);
        assert!(c.receive(reply(json!("1"))).is_none());
        assert!(c.receive(reply(json!(7))).is_none());
        assert!(c.expire(Duration::from_secs(4)).is_none());
        match c.expire(Duration::from_secs(5)) {
            Some(RpcResult::Timeout(Some(h))) => assert!(h.contains("JSON integer 1"), "{h}"),
            other => panic!("{other:?}"),
        }
        c.request(
            json!({"type": "echo"}),
            Duration::ZERO,
            Duration::from_secs(5),
        );
        assert!(matches!(
            c.receive(reply(json!(2))),
            Some(RpcResult::Reply(_))
        ));
        assert_eq!(c.deadline(), None);
    }
}
