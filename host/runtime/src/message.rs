//! The wire format: parsing input lines into borrowed [`Message`]s and writing output lines.
//!
//! Parsing is done in two cheap steps so the hot path never builds a `serde_json::Value`:
//! the envelope (`src`, `dest`, `body` kept as raw JSON) and then a header read from the body
//! (`type`, `msg_id`, `in_reply_to`). Handlers deserialize the body into their own typed
//! struct with [`Message::parse`]. Output lines are written straight into a byte buffer,
//! one JSON object per line, with exactly the keys `src`, `dest` and `body`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, Visitor};
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

#[derive(Deserialize)]
struct Header<'a> {
    #[serde(rename = "type", borrow, default)]
    msg_type: Option<Lenient<Cow<'a, str>>>,
    #[serde(default)]
    msg_id: Option<Lenient<u64>>,
    #[serde(default)]
    in_reply_to: Option<Lenient<u64>>,
}

/// A field that may hold the wrong JSON type; we want to know instead of failing the parse.
enum Lenient<T> {
    Good(T),
    Bad(&'static str),
}

impl<T> Lenient<T> {
    fn into_result(self, field: &str) -> Result<T, String> {
        match self {
            Lenient::Good(v) => Ok(v),
            Lenient::Bad(found) => Err(format!("`{field}` must be {found}")),
        }
    }
}

impl<'de> Deserialize<'de> for Lenient<u64> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Lenient<u64>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("anything")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Lenient::Good(v))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Lenient::Bad("a non-negative integer"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Lenient::Bad("an integer, not a float"))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Lenient::Bad("an integer, not a string"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Lenient::Bad("an integer, not a boolean"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient::Bad("an integer, not null"))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Lenient::Bad("an integer, not an array"))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Lenient::Bad("an integer, not an object"))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Lenient<Cow<'a, str>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Lenient<Cow<'a, str>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("anything")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Lenient::Good(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Lenient::Good(Cow::Owned(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Lenient::Bad("a string"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Lenient::Bad("a string"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Lenient::Bad("a string"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Lenient::Bad("a string"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Lenient::Bad("a string"))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Lenient::Bad("a string"))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Lenient::Bad("a string"))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
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
    let msg_id = match header.msg_id.map(|m| m.into_result("msg_id")).transpose() {
        Ok(id) => id,
        Err(reason) => return Err(bad_body(None, reason)),
    };
    let in_reply_to = header
        .in_reply_to
        .map(|m| m.into_result("in_reply_to"))
        .transpose()
        .map_err(|reason| bad_body(msg_id, reason))?;
    let msg_type = match header.msg_type {
        Some(t) => t.into_result("type").map_err(|r| bad_body(msg_id, r))?,
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
