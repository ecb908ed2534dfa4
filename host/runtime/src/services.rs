//! Typed clients for Maelstrom's services (`lin-kv`, `seq-kv`, `lww-kv`, `lin-tso`), built
//! on [`Ctx::rpc`]. A request returns at once; its result reaches the handler's
//! [`Handler::on_rpc`] with the purpose given, where [`KvResult::from_outcome`] or
//! [`ts_result`] decodes it.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::{Error, ErrorCode, Result};
use crate::handler::{Handler, RpcOutcome};

/// Id of the linearizable key-value service.
pub const LIN_KV: &str = "lin-kv";
/// Id of the sequentially consistent key-value service (serves stale reads on purpose).
pub const SEQ_KV: &str = "seq-kv";
/// Id of the last-writer-wins key-value service.
pub const LWW_KV: &str = "lww-kv";
/// Id of the linearizable timestamp oracle.
pub const LIN_TSO: &str = "lin-tso";

/// A client for one key-value service.
#[derive(Clone, Copy, Debug)]
pub struct Kv {
    service: &'static str,
    timeout: Duration,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum KvRequest<'a, K: Serialize, V: Serialize> {
    Read {
        key: &'a K,
    },
    Write {
        key: &'a K,
        value: &'a V,
    },
    Cas {
        key: &'a K,
        from: &'a V,
        to: &'a V,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        create_if_not_exists: bool,
    },
}

impl Kv {
    /// A client for `service` (one of [`LIN_KV`], [`SEQ_KV`], [`LWW_KV`]) whose requests
    /// time out after `timeout`.
    pub const fn new(service: &'static str, timeout: Duration) -> Kv {
        Kv { service, timeout }
    }

    /// The service id.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// Reads `key`; answers [`KvResult::Value`] or [`KvResult::KeyMissing`]. Returns the
    /// request's msg_id.
    pub fn read<H: Handler, K: Serialize>(
        &self,
        ctx: &mut Ctx<H>,
        key: &K,
        purpose: H::Rpc,
    ) -> u64 {
        let request: KvRequest<K, ()> = KvRequest::Read { key };
        ctx.rpc(self.service, &request, self.timeout, purpose)
    }

    /// Writes `value` under `key`; answers [`KvResult::Done`].
    pub fn write<H: Handler, K: Serialize, V: Serialize>(
        &self,
        ctx: &mut Ctx<H>,
        key: &K,
        value: &V,
        purpose: H::Rpc,
    ) -> u64 {
        ctx.rpc(
            self.service,
            &KvRequest::Write { key, value },
            self.timeout,
            purpose,
        )
    }

    /// Sets `key` to `to` if it holds `from` (or, with `create_if_not_exists`, if it is
    /// missing); answers [`KvResult::Done`], [`KvResult::PreconditionFailed`] or
    /// [`KvResult::KeyMissing`].
    #[allow(clippy::too_many_arguments)]
    pub fn cas<H: Handler, K: Serialize, V: Serialize>(
        &self,
        ctx: &mut Ctx<H>,
        key: &K,
        from: &V,
        to: &V,
        create_if_not_exists: bool,
        purpose: H::Rpc,
    ) -> u64 {
        ctx.rpc(
            self.service,
            &KvRequest::Cas {
                key,
                from,
                to,
                create_if_not_exists,
            },
            self.timeout,
            purpose,
        )
    }
}

/// How a key-value request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum KvResult<V> {
    /// `read_ok` with its value.
    Value(V),
    /// `write_ok` or `cas_ok`.
    Done,
    /// Error 20: the key does not exist.
    KeyMissing,
    /// Error 22: the cas precondition did not hold.
    PreconditionFailed,
    /// No reply in time; the request may or may not have taken effect.
    Timeout,
    /// Any other error or an unexpected reply.
    Failed(Error),
}

#[derive(Deserialize)]
struct ReadOk<V> {
    value: V,
}

impl<V: DeserializeOwned> KvResult<V> {
    /// Decodes the outcome of a [`Kv`] request.
    pub fn from_outcome(outcome: &RpcOutcome) -> KvResult<V> {
        let msg = match outcome {
            RpcOutcome::Timeout => return KvResult::Timeout,
            RpcOutcome::Reply(msg) => msg,
        };
        if let Some(err) = msg.error() {
            return match err.code {
                ErrorCode::KEY_DOES_NOT_EXIST => KvResult::KeyMissing,
                ErrorCode::PRECONDITION_FAILED => KvResult::PreconditionFailed,
                _ => KvResult::Failed(err),
            };
        }
        match msg.msg_type.as_ref() {
            "read_ok" => match msg.parse::<ReadOk<V>>() {
                Ok(r) => KvResult::Value(r.value),
                Err(e) => KvResult::Failed(e),
            },
            "write_ok" | "cas_ok" => KvResult::Done,
            other => KvResult::Failed(Error::crash(format!(
                "unexpected reply type `{other}` from a key-value service"
            ))),
        }
    }
}

#[derive(Serialize)]
struct TsRequest {
    #[serde(rename = "type")]
    msg_type: &'static str,
}

#[derive(Deserialize)]
struct TsOk {
    ts: u64,
}

/// Asks `lin-tso` for a timestamp; decode the answer with [`ts_result`].
pub fn ts<H: Handler>(ctx: &mut Ctx<H>, timeout: Duration, purpose: H::Rpc) -> u64 {
    ctx.rpc(LIN_TSO, &TsRequest { msg_type: "ts" }, timeout, purpose)
}

/// Decodes the outcome of [`ts`]: the timestamp, or an error (code 0 for a timeout).
pub fn ts_result(outcome: &RpcOutcome) -> Result<u64> {
    match outcome {
        RpcOutcome::Timeout => Err(Error::new(ErrorCode::TIMEOUT, "lin-tso did not answer")),
        RpcOutcome::Reply(msg) => {
            if let Some(err) = msg.error() {
                return Err(err);
            }
            msg.parse::<TsOk>().map(|t| t.ts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::{Never, Sender};
    use crate::testkit::TestNode;
    use serde_json::{json, Value};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Issues one request per client message and records decoded outcomes.
    #[derive(Default)]
    struct Probe {
        seen: Rc<RefCell<Vec<String>>>,
    }

    #[derive(Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Ask {
        R,
        W,
        C,
        T,
    }

    /// What each request is for: a kv operation or a timestamp.
    enum Purpose {
        Kv,
        Ts,
    }

    impl Handler for Probe {
        type Msg<'a> = Ask;
        type Timer = Never;
        type Rpc = Purpose;

        fn on_message(&mut self, ctx: &mut Ctx<Self>, _: Sender, msg: Ask) -> Result<()> {
            let kv = Kv::new(SEQ_KV, Duration::from_millis(100));
            match msg {
                Ask::R => kv.read(ctx, &"k", Purpose::Kv),
                Ask::W => kv.write(ctx, &"k", &5, Purpose::Kv),
                Ask::C => kv.cas(ctx, &"k", &5, &6, true, Purpose::Kv),
                Ask::T => ts(ctx, Duration::from_millis(100), Purpose::Ts),
            };
            Ok(())
        }

        fn on_rpc(&mut self, _ctx: &mut Ctx<Self>, rpc: Purpose, end: RpcOutcome) -> Result<()> {
            let text = match rpc {
                Purpose::Ts => format!("{:?}", ts_result(&end)),
                Purpose::Kv => format!("{:?}", KvResult::<i64>::from_outcome(&end)),
            };
            self.seen.borrow_mut().push(text);
            Ok(())
        }
    }

    fn setup() -> (TestNode, Rc<RefCell<Vec<String>>>) {
        let probe = Probe::default();
        let seen = probe.seen.clone();
        let mut node = TestNode::with("probe", probe);
        node.init("n0", &["n0"]);
        (node, seen)
    }

    fn body(v: &Value) -> &Value {
        &v["body"]
    }

    #[test]
    fn requests_have_the_service_wire_shape() {
        let (mut node, _) = setup();
        let out = node.request("c1", json!({"type": "c", "msg_id": 1}));
        assert_eq!(out[0]["dest"], "seq-kv");
        assert_eq!(
            body(&out[0]),
            &json!({"type":"cas","msg_id":1,"key":"k","from":5,"to":6,"create_if_not_exists":true})
        );
        let out = node.request("c1", json!({"type": "t", "msg_id": 2}));
        assert_eq!(out[0]["dest"], "lin-tso");
        assert_eq!(body(&out[0]), &json!({"type":"ts","msg_id":2}));
    }

    #[test]
    fn replies_decode_to_typed_results() {
        let (mut node, seen) = setup();
        node.request("c1", json!({"type": "r", "msg_id": 1}));
        node.request("c1", json!({"type": "w", "msg_id": 2}));
        node.request("c1", json!({"type": "c", "msg_id": 3}));
        node.request("c1", json!({"type": "t", "msg_id": 4}));
        node.request("c1", json!({"type": "r", "msg_id": 5}));
        node.deliver(
            json!({"src":"seq-kv","dest":"n0","body":{"type":"read_ok","in_reply_to":1,"value":5}}),
        );
        node.deliver(
            json!({"src":"seq-kv","dest":"n0","body":{"type":"write_ok","in_reply_to":2}}),
        );
        node.deliver(json!({"src":"seq-kv","dest":"n0","body":{"type":"error","in_reply_to":3,"code":22,"text":"no"}}));
        node.deliver(
            json!({"src":"lin-tso","dest":"n0","body":{"type":"ts_ok","in_reply_to":4,"ts":17}}),
        );
        node.advance(Duration::from_millis(150));
        assert_eq!(
            *seen.borrow(),
            vec![
                "Value(5)",
                "Done",
                "PreconditionFailed",
                "Ok(17)",
                "Timeout"
            ]
        );
    }
}
