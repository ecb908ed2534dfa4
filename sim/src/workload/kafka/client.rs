//! The kafka client (spec §5.9): a local map from assigned key to the next offset to
//! poll, and operations that may make several RPCs.
//!
//! - `assign ks`: in the final phase (seek to the beginning) every key starts at 0;
//!   otherwise `list_committed_offsets {keys}` and each key keeps its local offset, else
//!   takes the committed one, else 0. Keys not in `ks` are dropped.
//! - `poll`: `poll {offsets: <the whole local map>}`; each returned key's next offset
//!   becomes its highest offset + 1; if any message came back, `commit_offsets` with the
//!   highest polled offset per key, as part of the same operation.
//! - `send`: `send {key, msg}` → `send_ok {offset}`.
//! - `crash`: no RPC; completes `info`, which gives the worker a new client (and this
//!   one forgets its offsets, as a fresh Jepsen client would).
//!
//! Only `assign` is idempotent. Every `info` completion resets the local map, because
//! Maelstrom replaces the client (kafka clients are not reusable).

use super::tracker::Tracker;
use crate::client::outcome::{complete, Completion, ErrorMode};
use crate::client::schema::{ReplySchema, Shape};
use crate::client::RpcResult;
use crate::workload::reply_shapes::{malformed, message_lists, offset_map};
use crate::workload::{Invocation, Step, WorkloadClient, DEFAULT_TIMEOUT};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const SEND_OK: ReplySchema = ReplySchema {
    reply_type: "send_ok",
    fields: &[("offset", Shape::Int)],
};
const POLL_OK: ReplySchema = ReplySchema {
    reply_type: "poll_ok",
    fields: &[("msgs", Shape::Any)],
};
const COMMIT_OK: ReplySchema = ReplySchema {
    reply_type: "commit_offsets_ok",
    fields: &[],
};
const LIST_OK: ReplySchema = ReplySchema {
    reply_type: "list_committed_offsets_ok",
    fields: &[("offsets", Shape::Any)],
};

/// One worker's kafka client.
pub struct KafkaClient {
    offsets: BTreeMap<String, i64>,
    tracker: Arc<Mutex<Tracker>>,
    /// The RPC the current operation waits for.
    waiting: Option<Waiting>,
}

/// What the current operation's outstanding RPC is.
enum Waiting {
    /// `list_committed_offsets` of an assign of these keys.
    Assign(Vec<String>),
    /// The `poll` of a poll.
    Poll,
    /// The `commit_offsets` after a poll that returned `msgs`.
    Commit(Value),
    /// The `send` of a send.
    Send,
}

/// One step of an operation: its reply body, or how the operation ended.
type Outcome = Result<Value, Completion>;

/// The reply body of `result` if it is a valid `schema` reply, else the completion.
fn check(result: RpcResult, schema: &ReplySchema, inv: &Invocation) -> Outcome {
    match complete(
        result,
        ErrorMode::WithErrors,
        inv.f == "assign",
        &inv.value,
        schema,
        Value::clone,
    ) {
        Completion::Ok(body) => Ok(body),
        other => Err(other),
    }
}

fn call(body: Value) -> Step {
    Step::Call {
        body,
        timeout: DEFAULT_TIMEOUT,
    }
}

impl KafkaClient {
    /// A fresh client reporting to `tracker`.
    pub fn new(tracker: Arc<Mutex<Tracker>>) -> KafkaClient {
        KafkaClient {
            offsets: BTreeMap::new(),
            tracker,
            waiting: None,
        }
    }

    fn assigned(&mut self, keys: Vec<String>, body: &Value, inv: &Invocation) -> Outcome {
        let committed =
            offset_map("offsets", &body["offsets"]).map_err(|why| malformed(&inv.value, why))?;
        self.offsets = keys
            .into_iter()
            .map(|k| {
                let o = self
                    .offsets
                    .get(&k)
                    .copied()
                    .or_else(|| committed.get(&k).and_then(Value::as_i64))
                    .unwrap_or(0);
                (k, o)
            })
            .collect();
        Ok(inv.value.clone())
    }

    /// The poll's reply: advance the local offsets and commit what came back.
    fn polled(&mut self, body: &Value, inv: &Invocation) -> Result<Step, Completion> {
        let msgs = body["msgs"].clone();
        message_lists(&msgs).map_err(|why| malformed(&inv.value, why))?;
        let mut commit: Map<String, Value> = Map::new();
        for (k, pairs) in msgs.as_object().into_iter().flatten() {
            let polled: Vec<i64> = pairs
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p[0].as_i64())
                .collect();
            let next = polled.iter().copied().fold(-1, i64::max) + 1;
            let e = self.offsets.entry(k.clone()).or_insert(next);
            *e = (*e).max(next);
            if let Some(&max) = polled.iter().max() {
                commit.insert(k.clone(), json!(max.max(0)));
            }
        }
        if commit.is_empty() {
            return Ok(self.finish(inv, Ok(json!({ "msgs": msgs }))));
        }
        self.waiting = Some(Waiting::Commit(msgs));
        Ok(call(json!({"type": "commit_offsets", "offsets": commit})))
    }

    /// Ends the operation: the tracker learns successes, an `info` resets the offsets.
    fn finish(&mut self, inv: &Invocation, outcome: Outcome) -> Step {
        self.waiting = None;
        let done = match outcome {
            Ok(v) => Completion::Ok(v),
            Err(c) => c,
        };
        match &done {
            Completion::Ok(v) if !inv.final_phase => {
                let mut t = self.tracker.lock().unwrap_or_else(|p| p.into_inner());
                t.record_ok(&inv.f, v);
            }
            Completion::Info { .. } => self.offsets.clear(),
            _ => {}
        }
        Step::Done(done)
    }
}

fn keys_of(inv: &Invocation) -> Vec<String> {
    inv.value
        .as_array()
        .map(|ks| {
            ks.iter()
                .map(|k| k.as_str().map_or_else(|| k.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl WorkloadClient for KafkaClient {
    fn start(&mut self, inv: &Invocation) -> Step {
        match inv.f.as_str() {
            "assign" if inv.final_phase => {
                self.offsets = keys_of(inv).into_iter().map(|k| (k, 0)).collect();
                self.finish(inv, Ok(inv.value.clone()))
            }
            "assign" => {
                let keys = keys_of(inv);
                let body = json!({"type": "list_committed_offsets", "keys": keys});
                self.waiting = Some(Waiting::Assign(keys));
                call(body)
            }
            "poll" => {
                let offsets: Map<String, Value> = self
                    .offsets
                    .iter()
                    .map(|(k, o)| (k.clone(), json!(o)))
                    .collect();
                self.waiting = Some(Waiting::Poll);
                call(json!({"type": "poll", "offsets": offsets}))
            }
            "send" => {
                self.waiting = Some(Waiting::Send);
                let (key, msg) = (&inv.value["key"], &inv.value["msg"]);
                call(json!({"type": "send", "key": key, "msg": msg}))
            }
            _ => {
                let crash = Completion::Info {
                    value: inv.value.clone(),
                    error: json!([
                        "crash",
                        "the client was crashed on purpose (kafka's crash schedule); a fresh one takes over"
                    ]),
                    exception: None,
                };
                self.finish(inv, Err(crash))
            }
        }
    }

    fn resume(&mut self, inv: &Invocation, result: RpcResult) -> Step {
        let outcome = match self.waiting.take() {
            Some(Waiting::Assign(keys)) => {
                check(result, &LIST_OK, inv).and_then(|body| self.assigned(keys, &body, inv))
            }
            Some(Waiting::Poll) => match check(result, &POLL_OK, inv) {
                Ok(body) => match self.polled(&body, inv) {
                    Ok(step) => return step,
                    Err(c) => Err(c),
                },
                Err(c) => Err(c),
            },
            Some(Waiting::Commit(msgs)) => {
                check(result, &COMMIT_OK, inv).map(|_| json!({ "msgs": msgs }))
            }
            Some(Waiting::Send) => check(result, &SEND_OK, inv).map(|body| {
                json!({"key": inv.value["key"], "msg": inv.value["msg"], "offset": body["offset"]})
            }),
            None => Err(Completion::Info {
                value: inv.value.clone(),
                error: json!(["bench-bug", "a reply resumed an operation that waited for none"]),
                exception: Some("internal: unexpected resume".into()),
            }),
        };
        self.finish(inv, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::perform;
    use crate::workload::stub_node;

    fn inv(f: &str, value: Value, final_phase: bool) -> Invocation {
        Invocation {
            f: f.into(),
            value,
            final_phase,
        }
    }

    /// A node with committed offset 3 on key "1", messages at 3 and 4, and errors for
    /// commits when `fail_commits`.
    fn node(fail_commits: bool) -> impl FnMut(&Value) -> Option<Value> {
        move |b: &Value| {
            Some(match b["type"].as_str()? {
                "list_committed_offsets" => {
                    json!({"type": "list_committed_offsets_ok", "offsets": {"1": 3}})
                }
                "poll" if b["offsets"]["1"] == json!(3) => {
                    json!({"type": "poll_ok", "msgs": {"1": [[3, 10], [4, 11]]}})
                }
                "poll" => json!({"type": "poll_ok", "msgs": {}}),
                "commit_offsets" if fail_commits => {
                    json!({"type": "error", "code": 11, "text": "busy"})
                }
                "commit_offsets" => json!({"type": "commit_offsets_ok"}),
                "send" => json!({"type": "send_ok", "offset": 7}),
                _ => return None,
            })
        }
    }

    #[test]
    fn assign_poll_and_commit() {
        let (mut conn, seen) = stub_node::conn(node(false));
        let tracker = Arc::new(Mutex::new(Tracker::default()));
        let mut c = KafkaClient::new(tracker.clone());
        let a = perform(&mut c, &inv("assign", json!(["1", "2"]), false), &mut conn);
        assert_eq!(a, Completion::Ok(json!(["1", "2"])));
        let p = perform(&mut c, &inv("poll", Value::Null, false), &mut conn);
        assert_eq!(
            p,
            Completion::Ok(json!({"msgs": {"1": [[3, 10], [4, 11]]}}))
        );
        let again = perform(&mut c, &inv("poll", Value::Null, false), &mut conn);
        assert_eq!(again, Completion::Ok(json!({"msgs": {}})));
        let s = perform(
            &mut c,
            &inv("send", json!({"key": "2", "msg": 1}), false),
            &mut conn,
        );
        assert_eq!(
            s,
            Completion::Ok(json!({"key": "2", "msg": 1, "offset": 7}))
        );
        let reqs = seen.lock().unwrap().clone();
        let types: Vec<&str> = reqs.iter().map(|r| r["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "list_committed_offsets",
                "poll",
                "commit_offsets",
                "poll",
                "send"
            ]
        );
        assert_eq!(reqs[0]["keys"], json!(["1", "2"]));
        assert_eq!(reqs[1]["offsets"], json!({"1": 3, "2": 0}));
        assert_eq!(reqs[2]["offsets"], json!({"1": 4}), "highest polled offset");
        assert_eq!(reqs[3]["offsets"], json!({"1": 5, "2": 0}));
        let t = tracker.lock().unwrap();
        assert_eq!(t.max_offsets.get(&1), Some(&4));
        assert_eq!(t.max_offsets.get(&2), Some(&7));
    }

    #[test]
    fn a_crash_forgets_the_offsets_and_final_assigns_seek_to_zero() {
        let (mut conn, seen) = stub_node::conn(node(false));
        let tracker = Arc::new(Mutex::new(Tracker::default()));
        let mut c = KafkaClient::new(tracker.clone());
        perform(&mut c, &inv("assign", json!(["1"]), false), &mut conn);
        let crash = perform(&mut c, &inv("crash", Value::Null, false), &mut conn);
        assert!(matches!(
            crash,
            Completion::Info {
                exception: None,
                ..
            }
        ));
        perform(&mut c, &inv("poll", Value::Null, false), &mut conn);
        let final_assign = perform(&mut c, &inv("assign", json!(["1", "5"]), true), &mut conn);
        assert!(matches!(final_assign, Completion::Ok(_)));
        perform(&mut c, &inv("poll", Value::Null, true), &mut conn);
        let reqs = seen.lock().unwrap().clone();
        assert_eq!(
            reqs.len(),
            3,
            "crash and the final assign make no RPC: {reqs:?}"
        );
        assert_eq!(
            reqs[1]["offsets"],
            json!({}),
            "a fresh client polls nothing"
        );
        assert_eq!(reqs[2]["offsets"], json!({"1": 0, "5": 0}));
        assert!(
            tracker.lock().unwrap().max_offsets.is_empty(),
            "final-phase results are not tracked"
        );
    }

    #[test]
    fn a_failed_commit_fails_the_poll() {
        let (mut conn, _) = stub_node::conn(node(true));
        let mut c = KafkaClient::new(Arc::default());
        perform(&mut c, &inv("assign", json!(["1"]), false), &mut conn);
        match perform(&mut c, &inv("poll", Value::Null, false), &mut conn) {
            Completion::Fail { value, error } => {
                assert_eq!(value, Value::Null);
                assert_eq!(error, json!([11, "temporarily-unavailable", "busy"]));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_message_lists_are_exceptions() {
        let (mut conn, _) = stub_node::conn(|b: &Value| {
            (b["type"] == "poll").then(|| json!({"type": "poll_ok", "msgs": {"1": [[0]]}}))
        });
        let mut c = KafkaClient::new(Arc::default());
        match perform(&mut c, &inv("poll", Value::Null, false), &mut conn) {
            Completion::Info {
                exception: Some(e), ..
            } => assert!(e.contains("[offset, msg]"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}
