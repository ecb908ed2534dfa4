//! Unit tests of the node core, driven by a virtual clock through the test kit.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::family::Family;
use crate::handler::{Handler, Never, RpcOutcome, Sender, Waiter};
use crate::testkit::TestNode;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A handler that does what each request asks, and records callbacks in a log.
#[derive(Default)]
struct Scripted {
    log: Rc<RefCell<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Ask {
    Do {
        #[serde(default)]
        n: u64,
    },
    Fail,
    Boom,
    Call {
        n: u64,
    },
    After {
        n: u64,
    },
    Every {
        n: u64,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Out {
    DoOk { n: u64 },
    Ping {},
}

/// What a test timer is for.
#[derive(Clone)]
enum Tick {
    Once(u64),
    Every(u64),
}

impl Handler for Scripted {
    type Msg<'a> = Ask;
    type Timer = Tick;
    type Rpc = u64;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) -> Result<()> {
        self.log.borrow_mut().push(format!(
            "init {} of {}",
            ctx.node_id(),
            ctx.node_ids().len()
        ));
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: Sender, msg: Ask) -> Result<()> {
        match msg {
            Ask::Do { n } => ctx.reply(&from, &Out::DoOk { n }),
            Ask::Fail => return Err(Error::new(crate::ErrorCode::ABORT, "asked to fail")),
            Ask::Boom => panic!("asked to panic"),
            Ask::Call { n } => {
                ctx.rpc("n1", &Out::Ping {}, ms(100), n);
            }
            Ask::After { n } => {
                ctx.set_timer(ms(n), Tick::Once(n));
            }
            Ask::Every { n } => {
                ctx.set_interval(ms(n), Tick::Every(n));
            }
        }
        Ok(())
    }

    fn on_rpc(&mut self, ctx: &mut Ctx<Self>, n: u64, end: RpcOutcome) -> Result<()> {
        let what = match end {
            RpcOutcome::Reply(m) => format!("reply {}", m.msg_type),
            RpcOutcome::Timeout => "timeout".to_string(),
        };
        self.log
            .borrow_mut()
            .push(format!("rpc {n} {what} at {}", ctx.now().as_millis()));
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, tick: Tick) -> Result<()> {
        let what = match tick {
            Tick::Once(n) => format!("once {n}"),
            Tick::Every(n) => format!("every {n}"),
        };
        self.log
            .borrow_mut()
            .push(format!("timer {what} at {}", ctx.now().as_millis()));
        Ok(())
    }
}

fn node() -> (TestNode, Rc<RefCell<Vec<String>>>) {
    let h = Scripted::default();
    let log = h.log.clone();
    let node = TestNode::new(vec![Family::new(h).named("scripted")]);
    (node, log)
}

fn ready() -> (TestNode, Rc<RefCell<Vec<String>>>) {
    let (mut n, log) = node();
    n.init("n0", &["n0", "n1"]);
    (n, log)
}

#[test]
fn init_is_answered_and_handlers_learn_their_identity() {
    let (mut n, log) = node();
    let out = n.init("n0", &["n0", "n1", "n2"]);
    assert_eq!(
        out,
        vec![json!({"src":"n0","dest":"c0","body":{"type":"init_ok","in_reply_to":1}})]
    );
    assert_eq!(*log.borrow(), vec!["init n0 of 3"]);
}

#[test]
fn messages_before_init_are_held_then_served_in_order() {
    let (mut n, _) = node();
    assert!(n
        .deliver(json!({"src":"c1","dest":"n0","body":{"type":"do","msg_id":5,"n":1}}))
        .is_empty());
    assert!(n
        .deliver(json!({"src":"n1","dest":"n0","body":{"type":"do","msg_id":6,"n":2}}))
        .is_empty());
    let out = n.init("n0", &["n0", "n1"]);
    let bodies: Vec<&Value> = out.iter().map(|m| &m["body"]).collect();
    assert_eq!(
        bodies,
        vec![
            &json!({"type":"init_ok","in_reply_to":1}),
            &json!({"type":"do_ok","in_reply_to":5,"n":1}),
            &json!({"type":"do_ok","in_reply_to":6,"n":2}),
        ]
    );
    assert_eq!(out[2]["dest"], "n1");
}

#[test]
fn unknown_type_gets_not_supported() {
    let (mut n, _) = ready();
    let out = n.request("c1", json!({"type":"frobnicate","msg_id":3}));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["dest"], "c1");
    assert_eq!(out[0]["body"]["type"], "error");
    assert_eq!(out[0]["body"]["code"], 10);
    assert_eq!(out[0]["body"]["in_reply_to"], 3);
    assert!(out[0]["body"]["text"]
        .as_str()
        .unwrap()
        .contains("no enabled handler answers `frobnicate`"));
}

#[test]
fn unknown_type_without_msg_id_is_only_logged() {
    let (mut n, _) = ready();
    assert!(n.request("n1", json!({"type":"gossip"})).is_empty());
}

#[test]
fn malformed_inputs_get_code_12_when_answerable_and_nothing_otherwise() {
    let (mut n, _) = ready();
    assert!(n.deliver_raw(b"this is not json").is_empty());
    assert!(n.deliver_raw(b"").is_empty());
    assert!(n.deliver_raw(b"{\"src\":\"c1\"}").is_empty());
    // No `type`, but a msg_id: answered.
    let out = n.request("c1", json!({"msg_id": 4}));
    assert_eq!(out[0]["body"]["code"], 12);
    assert_eq!(out[0]["body"]["in_reply_to"], 4);
    // A field of the wrong type inside the body: the handler's parse fails.
    let out = n.request("c1", json!({"type":"do","msg_id":5,"n":"seven"}));
    assert_eq!(out[0]["body"]["code"], 12);
    assert!(out[0]["body"]["text"]
        .as_str()
        .unwrap()
        .contains("bad `do` body"));
    // Still serving.
    let out = n.request("c1", json!({"type":"do","msg_id":6,"n":7}));
    assert_eq!(
        out[0]["body"],
        json!({"type":"do_ok","in_reply_to":6,"n":7})
    );
}

#[test]
fn handler_errors_become_error_replies() {
    let (mut n, _) = ready();
    let out = n.request("c1", json!({"type":"fail","msg_id":8}));
    assert_eq!(
        out[0]["body"],
        json!({"type":"error","in_reply_to":8,"code":14,"text":"asked to fail"})
    );
}

#[test]
fn a_panic_answers_code_13_and_the_node_keeps_serving() {
    let (mut n, _) = ready();
    let out = n.request("c1", json!({"type":"boom","msg_id":9}));
    assert_eq!(out[0]["body"]["code"], 13);
    assert!(out[0]["body"]["text"]
        .as_str()
        .unwrap()
        .contains("asked to panic"));
    let out = n.request("c1", json!({"type":"do","msg_id":10,"n":1}));
    assert_eq!(out[0]["body"]["type"], "do_ok");
}

#[test]
fn rpc_reply_is_delivered_once_and_late_replies_are_dropped() {
    let (mut n, log) = ready();
    let out = n.request("c1", json!({"type":"call","msg_id":1,"n":42}));
    assert_eq!(out[0]["dest"], "n1");
    let id = out[0]["body"]["msg_id"].as_u64().unwrap();
    n.advance(ms(10));
    n.deliver(json!({"src":"n1","dest":"n0","body":{"type":"ping_ok","in_reply_to":id}}));
    // A duplicate reply and the deadline passing change nothing.
    n.deliver(json!({"src":"n1","dest":"n0","body":{"type":"ping_ok","in_reply_to":id}}));
    n.advance(ms(500));
    assert_eq!(
        *log.borrow(),
        vec!["init n0 of 2", "rpc 42 reply ping_ok at 10"]
    );
    assert_eq!(n.node().pending_rpcs(), 0);
}

#[test]
fn rpc_timeout_fires_at_the_deadline_and_a_later_reply_is_ignored() {
    let (mut n, log) = ready();
    let out = n.request("c1", json!({"type":"call","msg_id":1,"n":7}));
    let id = out[0]["body"]["msg_id"].as_u64().unwrap();
    n.advance(ms(99));
    assert_eq!(log.borrow().len(), 1, "not yet");
    n.advance(ms(1));
    n.deliver(json!({"src":"n1","dest":"n0","body":{"type":"ping_ok","in_reply_to":id}}));
    assert_eq!(*log.borrow(), vec!["init n0 of 2", "rpc 7 timeout at 100"]);
}

#[test]
fn msg_ids_are_fresh_for_every_rpc() {
    let (mut n, _) = ready();
    let a = n.request("c1", json!({"type":"call","msg_id":1,"n":1}));
    let b = n.request("c1", json!({"type":"call","msg_id":2,"n":2}));
    assert_ne!(a[0]["body"]["msg_id"], b[0]["body"]["msg_id"]);
}

#[test]
fn timers_fire_at_virtual_times() {
    let (mut n, log) = ready();
    n.request("c1", json!({"type":"after","msg_id":1,"n":30}));
    n.request("c1", json!({"type":"every","msg_id":2,"n":20}));
    n.advance(ms(65));
    assert_eq!(
        log.borrow()[1..],
        [
            "timer every 20 at 20",
            "timer once 30 at 30",
            "timer every 20 at 40",
            "timer every 20 at 60"
        ]
    );
}

#[test]
fn second_init_is_answered_without_resetting() {
    let (mut n, log) = ready();
    let out = n.init("n5", &["n5"]);
    assert_eq!(out[0]["body"]["type"], "init_ok");
    assert_eq!(out[0]["src"], "n0");
    assert_eq!(log.borrow().len(), 1);
}

// Fuzzer finding: an init without msg_id was answered with an init_ok that had no
// in_reply_to, an unsolicited message to a client.
#[test]
fn init_without_msg_id_sets_the_identity_but_is_not_answered() {
    let (mut n, _) = node();
    let out = n.deliver(json!({"src": "c0", "dest": "n0",
        "body": {"type": "init", "node_id": "n0", "node_ids": ["n0"]}}));
    assert!(out.is_empty(), "{out:?}");
    let out = n.request("c1", json!({"type":"do","msg_id":6,"n":7}));
    assert_eq!(out[0]["src"], "n0");
    assert_eq!(out[0]["body"]["type"], "do_ok");
}

// Fuzzer findings, end to end: the error replies the parser now allows.
#[test]
fn odd_msg_ids_bad_dests_and_malformed_replies_get_the_right_answer() {
    let (mut n, _) = ready();
    let out = n.deliver_raw(br#"{"src":"c1","dest":"n0","body":{"type":"do","msg_id":-5,"n":1}}"#);
    assert_eq!(
        out,
        vec![
            json!({"src":"n0","dest":"c1","body":{"in_reply_to":-5,"type":"error",
        "code":12,"text":"`msg_id` must be a non-negative integer"}})
        ]
    );
    let out = n.deliver_raw(br#"{"src":"c1","dest":7,"body":{"type":"do","msg_id":5,"n":1}}"#);
    assert_eq!(out[0]["body"]["in_reply_to"], 5);
    assert_eq!(out[0]["body"]["code"], 12);
    let out = n.deliver_raw(
        br#"{"src":"c1","dest":"n0","body":{"type":"do","msg_id":5,"in_reply_to":"x"}}"#,
    );
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn replies_carry_only_type_in_reply_to_and_fields() {
    let (mut n, _) = ready();
    let out = n.request(
        "c9",
        json!({"type":"do","msg_id":77,"n":3,"extra":"ignored"}),
    );
    let body = out[0]["body"].as_object().unwrap();
    let mut keys: Vec<&String> = body.keys().collect();
    keys.sort();
    assert_eq!(keys, ["in_reply_to", "n", "type"]);
    let top = out[0].as_object().unwrap();
    let mut keys: Vec<&String> = top.keys().collect();
    keys.sort();
    assert_eq!(keys, ["body", "dest", "src"]);
}

/// Answers each request 10 ms later, through a stored [`Waiter`].
#[derive(Default)]
struct Later {
    waiting: Vec<Waiter>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum JustDo {
    Do {},
}

impl Handler for Later {
    type Msg<'a> = JustDo;
    type Timer = ();
    type Rpc = Never;

    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: Sender, _: JustDo) -> Result<()> {
        self.waiting.push(from.defer());
        ctx.set_timer(ms(10), ());
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, (): ()) -> Result<()> {
        for (i, w) in self.waiting.drain(..).enumerate() {
            if i == 0 {
                ctx.answer(w, &Out::DoOk { n: 1 });
            } else {
                ctx.answer_error(w, &Error::new(crate::ErrorCode::ABORT, "later"));
            }
        }
        Ok(())
    }
}

#[test]
fn waiters_answer_after_the_call_returned_with_in_reply_to() {
    let mut n = TestNode::with("later", Later::default());
    n.init("n0", &["n0"]);
    assert!(n.request("c1", json!({"type":"do","msg_id":4})).is_empty());
    assert!(n.request("c2", json!({"type":"do","msg_id":5})).is_empty());
    assert!(n.request("n1", json!({"type":"do"})).is_empty());
    let out = n.advance(ms(10));
    assert_eq!(
        out,
        vec![
            json!({"src":"n0","dest":"c1","body":{"type":"do_ok","in_reply_to":4,"n":1}}),
            json!({"src":"n0","dest":"c2","body":{"type":"error","in_reply_to":5,"code":14,"text":"later"}}),
        ],
        "no reply for the request without msg_id"
    );
}

// Fuzzer finding: after a 16 MB reply the output buffer kept its 16 MB (and more) for
// good, so a node that had once echoed a huge value stayed that large.
#[test]
fn the_output_buffer_shrinks_back_after_a_huge_reply() {
    let (mut n, _) = ready();
    let big = "x".repeat(4 << 20);
    let out = n.request("c1", json!({"type":"do","msg_id":5,"n":1,"pad":big}));
    assert_eq!(out.len(), 1);
    let node = n.node();
    node.handle_line(
        Duration::ZERO,
        format!(r#"{{"src":"c1","dest":"n0","body":{{"type":"nope","msg_id":6,"pad":"{big}"}}}}"#)
            .as_bytes(),
    );
    assert!(node.output().len() < 1000, "only the short error reply");
    let huge = format!(r#"{{"type":"x","big":"{big}"}}"#);
    node.kernel.out.extend_from_slice(huge.as_bytes());
    assert!(node.kernel.out.capacity() > 4 << 20);
    node.clear_output();
    assert!(node.kernel.out.capacity() <= super::OUTPUT_KEEP);
}
