//! The wire format: parsing input lines into borrowed [`Message`]s and writing output lines.
//!
//! Parsing is done in two cheap steps so the hot path never builds a `serde_json::Value`:
//! the envelope (`src`, `dest`, `body` kept as raw JSON) and then a header read from the body
//! (`type`, `msg_id`, `in_reply_to`). Handlers deserialize the body into their own typed
//! struct with [`Message::parse`]. Output lines are written straight into a byte buffer,
//! one JSON object per line, with exactly the keys `src`, `dest` and `body`.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{Error, ErrorCode};

/// A message as it arrived, borrowing from the input line.
#[derive(Debug)]
pub struct Message<'a> {
    /// Who sent it: a node (`n3`), a client (`c7`) or a service (`lin-kv`).
    pub src: Cow<'a, str>,
    /// Who it is for; normally this node.
    pub dest: Cow<'a, str>,
    /// The body's `type`.
    pub msg_type: Cow<'a, str>,
    /// The body's `msg_id`, when the sender expects a reply.
    pub msg_id: Option<u64>,
    /// The body's `in_reply_to`, when this is a reply.
    pub in_reply_to: Option<u64>,
    /// The whole body, unparsed.
    pub body: &'a RawValue,
}

impl<'a> Message<'a> {
    /// Deserializes the body into a handler's typed request. A failure becomes a
    /// malformed-request error (code 12) naming the message type and what was wrong.
    pub fn parse<T: Deserialize<'a>>(&self) -> Result<T, Error> {
        serde_json::from_str(self.body.get())
            .map_err(|e| Error::malformed(format!("bad `{}` body: {e}", self.msg_type)))
    }

    /// If this is an error reply (`type: "error"`), its code and text.
    pub fn error(&self) -> Option<Error> {
        if self.msg_type != "error" {
            return None;
        }
        #[derive(Deserialize)]
        struct ErrorBody {
            code: Option<u32>,
            text: Option<String>,
        }
        let parsed: ErrorBody = serde_json::from_str(self.body.get()).unwrap_or(ErrorBody {
            code: None,
            text: None,
        });
        Some(Error::new(
            ErrorCode(parsed.code.unwrap_or(ErrorCode::CRASH.0)),
            parsed.text.unwrap_or_default(),
        ))
    }
}

/// Why an input line could not be turned into a [`Message`].
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not a JSON object with `src`, `dest` and `body`: nobody can be answered.
    Envelope(String),
    /// The envelope is fine but the body is not usable; answerable if it had a `msg_id`.
    Body {
        /// Sender, to address the error reply.
        src: String,
        /// Receiver as written, used as the reply's `src` before `init`.
        dest: String,
        /// The request's msg_id, if it was a valid integer.
        msg_id: Option<u64>,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Envelope(reason) => write!(f, "unusable line: {reason}"),
            ParseError::Body { src, reason, .. } => write!(f, "bad body from {src}: {reason}"),
        }
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    src: Cow<'a, str>,
    #[serde(borrow)]
    dest: Cow<'a, str>,
    #[serde(borrow)]
    body: &'a RawValue,
}

/// The body fields the core needs, kept raw so a field of the wrong JSON type is
/// reported (and a reply still addressed) instead of failing the whole parse.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "present")]
    msg_type: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    msg_id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    in_reply_to: Option<&'a RawValue>,
}

/// A field that is present, even as `null` (plain `Option` would read `null` as absent).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Reads a raw JSON value that must be a non-negative integer.
fn raw_u64(raw: &RawValue, field: &str) -> Result<u64, String> {
    let text = raw.get();
    text.parse().map_err(|_| {
        let found = match text.as_bytes().first() {
            Some(b'"') => "an integer, not a string",
            Some(b't' | b'f') => "an integer, not a boolean",
            Some(b'n') => "an integer, not null",
            Some(b'[') => "an integer, not an array",
            Some(b'{') => "an integer, not an object",
            _ if text.contains(['.', 'e', 'E']) => "an integer, not a float",
            Some(b'-') => "a non-negative integer",
            _ => "an integer below 2^64",
        };
        format!("`{field}` must be {found}")
    })
}

/// Reads a raw JSON value that must be a string, borrowing it when it has no escapes.
fn raw_str<'a>(raw: &'a RawValue, field: &str) -> Result<Cow<'a, str>, String> {
    serde_json::from_str(raw.get()).map_err(|_| format!("`{field}` must be a string"))
}

/// Parses one input line (without its newline).
pub fn parse_line(line: &[u8]) -> Result<Message<'_>, ParseError> {
    let text =
        std::str::from_utf8(line).map_err(|e| ParseError::Envelope(format!("not UTF-8: {e}")))?;
    let env: Envelope = serde_json::from_str(text)
        .map_err(|e| ParseError::Envelope(format!("not a message envelope: {e}")))?;
    let bad_body = |msg_id, reason: String| ParseError::Body {
        src: env.src.to_string(),
        dest: env.dest.to_string(),
        msg_id,
        reason,
    };
    let header: Header = match serde_json::from_str(env.body.get()) {
        Ok(h) => h,
        Err(e) => return Err(bad_body(None, format!("body is not a JSON object: {e}"))),
    };
    let msg_id = match header.msg_id.map(|m| raw_u64(m, "msg_id")).transpose() {
        Ok(id) => id,
        Err(reason) => return Err(bad_body(None, reason)),
    };
    let in_reply_to = header
        .in_reply_to
        .map(|m| raw_u64(m, "in_reply_to"))
        .transpose()
        .map_err(|reason| bad_body(msg_id, reason))?;
    let msg_type = match header.msg_type {
        Some(t) => raw_str(t, "type").map_err(|r| bad_body(msg_id, r))?,
        None => return Err(bad_body(msg_id, "body has no `type`".to_string())),
    };
    Ok(Message {
        src: env.src,
        dest: env.dest,
        msg_type,
        msg_id,
        in_reply_to,
        body: env.body,
    })
}

#[derive(Serialize)]
struct OutEnvelope<'a, B: Serialize> {
    src: &'a str,
    dest: &'a str,
    body: OutBody<'a, B>,
}

#[derive(Serialize)]
struct OutBody<'a, B: Serialize> {
    #[serde(skip_serializing_if = "Option::is_none")]
    msg_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    in_reply_to: Option<u64>,
    #[serde(flatten)]
    payload: &'a B,
}

/// Removes a half-written line if serialization fails or panics.
struct Rollback<'a> {
    buf: &'a mut Vec<u8>,
    len: usize,
    done: bool,
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.buf.truncate(self.len);
        }
    }
}

/// Appends one message line to `out`. `payload` must serialize as a JSON object carrying
/// `type` and the message's own fields (not `msg_id` or `in_reply_to`, which are added
/// here). On error nothing is appended.
pub fn write_message<B: Serialize>(
    out: &mut Vec<u8>,
    src: &str,
    dest: &str,
    msg_id: Option<u64>,
    in_reply_to: Option<u64>,
    payload: &B,
) -> Result<(), serde_json::Error> {
    let len = out.len();
    let guard = Rollback {
        buf: out,
        len,
        done: false,
    };
    let env = OutEnvelope {
        src,
        dest,
        body: OutBody {
            msg_id,
            in_reply_to,
            payload,
        },
    };
    serde_json::to_writer(&mut *guard.buf, &env)?;
    guard.buf.push(b'\n');
    let mut guard = guard;
    guard.done = true;
    Ok(())
}

/// The body of a Maelstrom error reply.
#[derive(Serialize)]
pub struct ErrorBody<'a> {
    #[serde(rename = "type")]
    msg_type: &'static str,
    code: u32,
    text: &'a str,
}

impl<'a> ErrorBody<'a> {
    /// The error body for `err`.
    pub fn new(err: &'a Error) -> ErrorBody<'a> {
        ErrorBody {
            msg_type: "error",
            code: err.code.0,
            text: &err.text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn parses_envelope_and_header_and_ignores_id() {
        let line =
            br#"{"id":7,"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3,"echo":"hi"}}"#;
        let m = parse_line(line).unwrap();
        assert_eq!((m.src.as_ref(), m.dest.as_ref()), ("c1", "n0"));
        assert_eq!(m.msg_type, "echo");
        assert_eq!(m.msg_id, Some(3));
        assert_eq!(m.in_reply_to, None);
        #[derive(Deserialize)]
        struct Echo {
            echo: String,
        }
        assert_eq!(m.parse::<Echo>().unwrap().echo, "hi");
    }

    #[test]
    fn escaped_strings_are_owned_not_lost() {
        let line = br#"{"src":"c\u0031","dest":"n0","body":{"type":"e\"cho"}}"#;
        let m = parse_line(line).unwrap();
        assert_eq!(m.src, "c1");
        assert_eq!(m.msg_type, "e\"cho");
    }

    #[test]
    fn non_json_and_missing_envelope_fields_are_envelope_errors() {
        assert!(matches!(parse_line(b"hello"), Err(ParseError::Envelope(_))));
        assert!(matches!(parse_line(b""), Err(ParseError::Envelope(_))));
        assert!(matches!(
            parse_line(br#"{"src":"c1","body":{}}"#),
            Err(ParseError::Envelope(_))
        ));
    }

    #[test]
    fn body_problems_keep_msg_id_when_valid() {
        let e = parse_line(br#"{"src":"c1","dest":"n0","body":{"msg_id":4}}"#).unwrap_err();
        assert_eq!(
            e,
            ParseError::Body {
                src: "c1".into(),
                dest: "n0".into(),
                msg_id: Some(4),
                reason: "body has no `type`".into()
            }
        );
        let e =
            parse_line(br#"{"src":"c1","dest":"n0","body":{"type":5,"msg_id":4}}"#).unwrap_err();
        assert!(
            matches!(e, ParseError::Body { msg_id: Some(4), ref reason, .. } if reason.contains("`type` must be a string"))
        );
        let e = parse_line(br#"{"src":"c1","dest":"n0","body":{"type":"x","msg_id":"4"}}"#)
            .unwrap_err();
        assert!(
            matches!(e, ParseError::Body { msg_id: None, ref reason, .. } if reason.contains("msg_id"))
        );
        let e = parse_line(br#"{"src":"c1","dest":"n0","body":[1]}"#).unwrap_err();
        assert!(matches!(e, ParseError::Body { msg_id: None, .. }));
    }

    #[test]
    fn null_fields_are_wrong_types_not_absent() {
        let e =
            parse_line(br#"{"src":"c1","dest":"n0","body":{"type":null,"msg_id":4}}"#).unwrap_err();
        assert!(
            matches!(e, ParseError::Body { msg_id: Some(4), ref reason, .. } if reason == "`type` must be a string")
        );
        let e = parse_line(br#"{"src":"c1","dest":"n0","body":{"type":"x","msg_id":null}}"#)
            .unwrap_err();
        assert!(
            matches!(e, ParseError::Body { msg_id: None, ref reason, .. } if reason == "`msg_id` must be an integer, not null")
        );
        let e = parse_line(br#"{"src":"c1","dest":"n0","body":{"type":"x","in_reply_to":-1}}"#)
            .unwrap_err();
        assert!(
            matches!(e, ParseError::Body { ref reason, .. } if reason == "`in_reply_to` must be a non-negative integer")
        );
    }

    #[test]
    fn float_msg_id_is_rejected_not_truncated() {
        let e = parse_line(br#"{"src":"c1","dest":"n0","body":{"type":"x","msg_id":1.0}}"#)
            .unwrap_err();
        assert!(matches!(e, ParseError::Body { msg_id: None, .. }));
    }

    #[test]
    fn writes_exactly_three_top_level_keys_and_one_line() {
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Out {
            EchoOk { echo: String },
        }
        let mut buf = Vec::new();
        write_message(
            &mut buf,
            "n0",
            "c1",
            None,
            Some(3),
            &Out::EchoOk {
                echo: "a\nb".into(),
            },
        )
        .unwrap();
        assert_eq!(buf.iter().filter(|b| **b == b'\n').count(), 1);
        let v: Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(
            v,
            json!({"src":"n0","dest":"c1","body":{"type":"echo_ok","in_reply_to":3,"echo":"a\nb"}})
        );
    }

    #[test]
    fn failed_serialization_appends_nothing() {
        let mut buf = b"keep\n".to_vec();
        // A bare number cannot be flattened into a body object.
        assert!(write_message(&mut buf, "n0", "c1", None, None, &5).is_err());
        assert_eq!(buf, b"keep\n");
    }

    #[test]
    fn error_reply_reads_back() {
        let err = Error::malformed("nope");
        let mut buf = Vec::new();
        write_message(&mut buf, "n0", "c1", None, Some(9), &ErrorBody::new(&err)).unwrap();
        let line = &buf[..buf.len() - 1];
        let m = parse_line(line).unwrap();
        assert_eq!(m.error(), Some(err));
        assert_eq!(m.in_reply_to, Some(9));
    }
}
