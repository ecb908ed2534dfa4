//! A stand-in network for client unit tests: one pretend node answers each request
//! with whatever a closure returns, and every request body is kept for assertions.

use crate::client::{ClientIds, Conn};
use crate::net::{Delivery, Net, RouterCmd, Shared};
use serde_json::Value;
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The request bodies a pretend node received, in order.
pub type Requests = Arc<Mutex<Vec<Value>>>;

/// Opens a client to a pretend node `n0` answering with `respond` (`None`: no reply).
pub fn conn(respond: impl FnMut(&Value) -> Option<Value> + Send + 'static) -> (Conn, Requests) {
    let (tx, rx) = channel::<RouterCmd>();
    let net = Net {
        tx,
        shared: Arc::new(Shared::new(Instant::now(), 0)),
    };
    let seen: Requests = Arc::default();
    let log = seen.clone();
    let mut respond = respond;
    std::thread::spawn(move || {
        let mut inbox = None;
        while let Ok(cmd) = rx.recv() {
            match cmd {
                RouterCmd::Register { inbox: i, .. } => inbox = Some(i),
                RouterCmd::FromClient { body, .. } => {
                    if let Ok(mut l) = log.lock() {
                        l.push(body.clone());
                    }
                    if let (Some(mut reply), Some(i)) = (respond(&body), &inbox) {
                        reply["in_reply_to"] = body["msg_id"].clone();
                        let _ = i.send(Delivery {
                            id: 0,
                            src: "n0".into(),
                            body: reply,
                        });
                    }
                }
                _ => {}
            }
        }
    });
    (Conn::open(&net, &ClientIds::default(), "n0"), seen)
}
