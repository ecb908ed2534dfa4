//! Maelstrom's built-in services as pure state machines: `lin-kv`, `seq-kv`, `lww-kv` and
//! `lin-tso`. The bench's network delivers a request body to [`Service::handle`] and sends
//! back whatever it returns (after the usual latency); `None` means no reply at all, which
//! is what Maelstrom does for unknown request types.

use rand::rngs::StdRng;
use serde_json::Value;

pub mod kv;
pub mod tso;

/// A service that answers request bodies.
pub trait Service: Send {
    /// Handles one request `body` sent by node `src` and returns the reply body, already
    /// carrying `in_reply_to` (when the request had a `msg_id`), or `None` for no reply.
    fn handle(&mut self, src: &str, body: &Value, rng: &mut StdRng) -> Option<Value>;
}

/// The ids of the services every test registers, in Maelstrom's order.
pub const SERVICE_IDS: [&str; 4] = ["lin-kv", "seq-kv", "lww-kv", "lin-tso"];

/// Builds the service registered under `id`, or `None` for an unknown id.
pub fn new_service(id: &str) -> Option<Box<dyn Service>> {
    match id {
        "lin-kv" => Some(Box::new(kv::LinKv::default())),
        "seq-kv" => Some(Box::new(kv::SeqKv::default())),
        "lww-kv" => Some(Box::new(kv::LwwKv::default())),
        "lin-tso" => Some(Box::new(tso::LinTso::default())),
        _ => None,
    }
}
