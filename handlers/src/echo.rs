//! Challenge 1: answer `echo` with `echo_ok` carrying the same `echo` value.
//!
//! The message enum is externally tagged (no `tag` attribute): the runtime supplies the
//! variant from `type`, so the `echo` value is borrowed straight from the input line as
//! raw JSON and written back without being parsed into a tree.

use glomers_runtime::{
    ConfigError, Ctx, Family, Handler, HandlerSpec, Never, Result, Section, Sender,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Echoes requests back. Stateless.
pub struct Echo;

/// The messages echo answers.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EchoMsg<'a> {
    /// `echo {echo}`: any JSON value.
    Echo(#[serde(borrow)] EchoRequest<'a>),
}

/// The body of an `echo` request.
#[derive(Deserialize)]
pub struct EchoRequest<'a> {
    /// The value to send back, verbatim.
    #[serde(borrow)]
    pub echo: &'a RawValue,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum EchoReply<'a> {
    EchoOk { echo: &'a RawValue },
}

impl Handler for Echo {
    type Msg<'a> = EchoMsg<'a>;
    type Timer = Never;
    type Rpc = Never;

    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: Sender, msg: EchoMsg) -> Result<()> {
        let EchoMsg::Echo(req) = msg;
        ctx.reply(&from, &EchoReply::EchoOk { echo: req.echo });
        Ok(())
    }
}

fn build(_: &mut Section) -> std::result::Result<Family, ConfigError> {
    Ok(Family::new(Echo))
}

glomers_runtime::inventory::submit! {
    HandlerSpec {
        family: "echo",
        summary: "challenge 1: echo requests back",
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
        let mut n = TestNode::with("echo", Echo);
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
        let mut n = TestNode::with("echo", Echo);
        n.init("n0", &["n0"]);
        let out = n.request("c1", json!({"type": "echo", "msg_id": 2}));
        assert_eq!(out[0]["body"]["code"], 12);
    }
}
