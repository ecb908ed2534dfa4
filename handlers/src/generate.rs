//! Challenge 2: globally unique ids without coordination.
//!
//! An id is the string `"<node>-<epoch>-<seq>"`: the node id (unique in the cluster), the
//! start time of this process in nanoseconds since the Unix epoch, in hex (unique across
//! restarts of the same node, as long as the wall clock does not run backwards between
//! them), and a per-process counter in hex. No message is ever sent, so the handler is
//! totally available under any partition. All ids are strings, so the checker can order
//! them (mixing numbers and strings makes Maelstrom's checker throw).

use std::time::{SystemTime, UNIX_EPOCH};

use glomers_runtime::{ConfigError, Ctx, Handler, HandlerSpec, Message, Result, Section};
use serde::Serialize;

/// Hands out unique ids.
pub struct Generate {
    epoch: u128,
    next: u64,
}

impl Generate {
    /// A generator whose ids carry `epoch` (normally the process start time in ns).
    pub fn with_epoch(epoch: u128) -> Generate {
        Generate { epoch, next: 0 }
    }

    /// A generator stamped with the current wall-clock time.
    pub fn now() -> Generate {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Generate::with_epoch(epoch)
    }
}

#[derive(Serialize)]
struct GenerateOk {
    #[serde(rename = "type")]
    msg_type: &'static str,
    id: String,
}

impl Handler for Generate {
    fn on_message(&mut self, ctx: &mut Ctx, msg: &Message) -> Result<()> {
        let id = format!("{}-{:x}-{:x}", ctx.node_id(), self.epoch, self.next);
        self.next += 1;
        ctx.reply(
            msg,
            &GenerateOk {
                msg_type: "generate_ok",
                id,
            },
        )
    }
}

fn build(_: &mut Section) -> std::result::Result<Box<dyn Handler>, ConfigError> {
    Ok(Box::new(Generate::now()))
}

glomers_runtime::inventory::submit! {
    HandlerSpec {
        family: "generate",
        summary: "challenge 2: unique ids without coordination",
        message_types: &["generate"],
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glomers_runtime::testkit::TestNode;
    use serde_json::json;
    use std::collections::HashSet;

    fn ids(node: &str, epoch: u128, count: usize) -> Vec<String> {
        let mut n = TestNode::with("generate", &["generate"], Generate::with_epoch(epoch));
        n.init(node, &["n0", "n1"]);
        (0..count)
            .map(|i| {
                let out = n.request("c1", json!({"type": "generate", "msg_id": i}));
                let body = &out[0]["body"];
                assert_eq!(
                    body.as_object().unwrap().len(),
                    3,
                    "type, in_reply_to, id only"
                );
                body["id"].as_str().unwrap().to_string()
            })
            .collect()
    }

    #[test]
    fn ids_are_unique_across_nodes_and_restarts() {
        let mut all = HashSet::new();
        for batch in [ids("n0", 1, 500), ids("n1", 1, 500), ids("n0", 2, 500)] {
            for id in batch {
                assert!(all.insert(id.clone()), "duplicate {id}");
            }
        }
        assert_eq!(all.len(), 1500);
    }

    #[test]
    fn node_id_prefix_prevents_collisions_of_equal_epochs() {
        // Ids of "n1" with counter 0x10 and of "n11" with counter 0 differ thanks to '-'.
        assert_ne!(ids("n1", 1, 1)[0], ids("n11", 1, 1)[0]);
    }
}
