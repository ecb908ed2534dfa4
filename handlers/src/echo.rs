//! Challenge 1: answer `echo` with `echo_ok` carrying the same `echo` value.

use glomers_runtime::{ConfigError, Ctx, Handler, HandlerSpec, Message, Result, Section};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Echoes requests back. Stateless.
pub struct Echo;

#[derive(Deserialize)]
struct EchoRequest<'a> {
    #[serde(borrow)]
    echo: &'a RawValue,
}

#[derive(Serialize)]
struct EchoOk<'a> {
    #[serde(rename = "type")]
    msg_type: &'static str,
    echo: &'a RawValue,
}

impl Handler for Echo {
    fn on_message(&mut self, ctx: &mut Ctx, msg: &Message) -> Result<()> {
        let req: EchoRequest = msg.parse()?;
        ctx.reply(
            msg,
            &EchoOk {
                msg_type: "echo_ok",
                echo: req.echo,
            },
        )
    }
}

fn build(_: &mut Section) -> std::result::Result<Box<dyn Handler>, ConfigError> {
    Ok(Box::new(Echo))
}

glomers_runtime::inventory::submit! {
    HandlerSpec {
        family: "echo",
        summary: "challenge 1: echo requests back",
        message_types: &["echo"],
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glomers_runtime::testkit::TestNode;
    use serde_json::json;

    #[test]
    fn echoes_any_json_value_verbatim() {
        let mut n = TestNode::with("echo", &["echo"], Echo);
        n.init("n0", &["n0"]);
        for value in [
            json!("Please echo 35"),
            json!({"nested": [1, 2.5, null]}),
            json!(-3),
        ] {
            let out = n.request("c1", json!({"type": "echo", "msg_id": 2, "echo": value}));
            assert_eq!(
                out,
                vec![json!({"src": "n0", "dest": "c1",
                    "body": {"type": "echo_ok", "in_reply_to": 2, "echo": value}})]
            );
        }
    }

    #[test]
    fn missing_echo_field_is_malformed() {
        let mut n = TestNode::with("echo", &["echo"], Echo);
        n.init("n0", &["n0"]);
        let out = n.request("c1", json!({"type": "echo", "msg_id": 2}));
        assert_eq!(out[0]["body"]["code"], 12);
    }
}
