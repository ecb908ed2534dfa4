//! The wire format: parsing input lines into borrowed [`Message`]s and writing output lines.
//!
//! Parsing is done in two cheap steps so the hot path never builds a `serde_json::Value`:
//! the envelope (`src`, `dest`, `body` kept as raw JSON) and then a header read from the body
//! (`type`, `msg_id`, `in_reply_to`). Handlers deserialize the body into their own typed
//! struct with [`Message::parse`]. Output lines are written straight into a byte buffer,
//! one JSON object per line, with exactly the keys `src`, `dest` and `body`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
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
    /// The whole body, unparsed: the text of one JSON object.
    pub body: &'a str,
}

impl<'a> Message<'a> {
    /// Deserializes the body into a handler's typed request. A failure becomes a
    /// malformed-request error (code 12) naming the message type and what was wrong.
    pub fn parse<T: Deserialize<'a>>(&self) -> Result<T, Error> {
        serde_json::from_str(self.body)
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
        let parsed: ErrorBody = serde_json::from_str(self.body).unwrap_or(ErrorBody {
            code: None,
            text: None,
        });
        Some(Error::new(
            ErrorCode(parsed.code.unwrap_or(ErrorCode::CRASH.0)),
            parsed.text.unwrap_or_default(),
        ))
    }
}

/// The `msg_id` an error reply answers, repeated as its `in_reply_to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyTo {
    /// A msg_id below 2^64.
    Id(u64),
    /// An integer literal outside 0..2^64 (negative or huge), repeated verbatim.
    Literal(String),
}

/// Why an input line could not be turned into a [`Message`].
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not a JSON object with one string `src` and one object `body`: nobody can be
    /// answered.
    Envelope(String),
    /// The message is not usable, but its sender can be told so if `answer` is set.
    Body {
        /// Sender, to address the error reply.
        src: String,
        /// Receiver as written (empty if unusable), used as the reply's `src` before
        /// `init`.
        dest: String,
        /// What to answer: set for a message that is not a reply (it has no
        /// `in_reply_to` at all) and gives `msg_id` once, as an integer.
        answer: Option<ReplyTo>,
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

/// How often a key occurs in an object, and its raw value if exactly once.
#[derive(Clone, Copy, Debug)]
enum Seen<'a> {
    Absent,
    Once(&'a RawValue),
    Repeated,
}

impl<'a> Seen<'a> {
    /// The value of a key that must occur once, or what is wrong with it.
    fn once(self, field: &str) -> Result<&'a RawValue, String> {
        match self {
            Seen::Once(raw) => Ok(raw),
            Seen::Absent => Err(format!("missing field `{field}`")),
            Seen::Repeated => Err(format!("`{field}` appears more than once")),
        }
    }
}

/// A key of a JSON object, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The three keys `names` of the JSON object `text`, each as [`Seen`]; other keys are
/// skipped. Repeated keys are reported, not refused, so the message can still be
/// answered when the repetition is not in who to answer.
fn pick3<'a>(text: &'a str, names: [&str; 3]) -> Result<[Seen<'a>; 3], serde_json::Error> {
    struct Pick<'n>([&'n str; 3]);
    impl<'de> Visitor<'de> for Pick<'_> {
        type Value = [Seen<'de>; 3];
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut seen = [Seen::Absent; 3];
            while let Some(Key(key)) = map.next_key()? {
                match self.0.iter().position(|n| *n == key) {
                    Some(i) => {
                        let raw: &'de RawValue = map.next_value()?;
                        seen[i] = match seen[i] {
                            Seen::Absent => Seen::Once(raw),
                            _ => Seen::Repeated,
                        };
                    }
                    None => {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
            }
            Ok(seen)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let seen = de.deserialize_map(Pick(names))?;
    de.end()?;
    Ok(seen)
}

/// True for a JSON integer literal (no fraction, no exponent).
fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
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
    let text = raw.get();
    // The common case, without a second parse: quotes around plain characters. (Raw
    // values are not checked for control characters, so those take the full parse,
    // which refuses them.)
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        if !inner.bytes().any(|b| b == b'\\' || b < 0x20) {
            return Ok(Cow::Borrowed(inner));
        }
    }
    serde_json::from_str(text).map_err(|_| format!("`{field}` must be a string"))
}

/// Parses one input line (without its newline).
///
/// Lines in the shape Maelstrom writes (see [`fast_envelope`]) skip the full parse of the
/// envelope: the body is then parsed (and so checked) once for its header, as on the
/// full path. Anything else, and any such line whose body does not parse, takes the full
/// parse, so both paths accept and refuse exactly the same lines.
pub fn parse_line(line: &[u8]) -> Result<Message<'_>, ParseError> {
    let text =
        std::str::from_utf8(line).map_err(|e| ParseError::Envelope(format!("not UTF-8: {e}")))?;
    if let Some((src, dest, body)) = fast_envelope(text) {
        if let Ok(header) = pick3(body, ["type", "msg_id", "in_reply_to"]) {
            return read_header(Cow::Borrowed(src), Ok(Cow::Borrowed(dest)), body, header);
        }
    }
    parse_full(text)
}

/// Parses a line of any shape: the envelope in full, then the body's header.
fn parse_full(text: &str) -> Result<Message<'_>, ParseError> {
    let [src, dest, body] = pick3(text, ["src", "dest", "body"])
        .map_err(|e| ParseError::Envelope(format!("not a message envelope: {e}")))?;
    let src = src
        .once("src")
        .and_then(|raw| raw_str(raw, "src"))
        .map_err(ParseError::Envelope)?;
    let body = body.once("body").map_err(ParseError::Envelope)?.get();
    let dest = dest.once("dest").and_then(|raw| raw_str(raw, "dest"));
    let header = match pick3(body, ["type", "msg_id", "in_reply_to"]) {
        Ok(header) => header,
        Err(e) => {
            return Err(body_error(
                &src,
                &dest,
                None,
                format!("body is not a JSON object: {e}"),
            ))
        }
    };
    read_header(src, dest, body, header)
}

/// The envelope of a line in the shape Maelstrom writes, without parsing the body: `{`,
/// then `"id"` (an integer), `"src"` and `"dest"` (strings with nothing to unescape) in
/// any order, each at most once, then `"body":` and the body, which ends the line
/// before its closing `}`. No whitespace. `None` for any other line.
fn fast_envelope(text: &str) -> Option<(&str, &str, &str)> {
    let mut rest = text.strip_prefix('{')?;
    let (mut src, mut dest, mut id) = (None, None, false);
    loop {
        let (key, after) = plain_string(rest)?;
        let value = after.strip_prefix(':')?;
        match key {
            "body" => {
                // JSON's whitespace around the body belongs to no value.
                let space = [' ', '\t', '\n', '\r'];
                let body = value.strip_suffix('}')?.trim_matches(space);
                return Some((src?, dest?, body));
            }
            "id" if !id => {
                let end = value.find(',')?;
                if !is_json_integer(&value[..end]) {
                    return None;
                }
                id = true;
                rest = &value[end + 1..];
            }
            "src" | "dest" => {
                let (s, after) = plain_string(value)?;
                let slot = if key == "src" { &mut src } else { &mut dest };
                if slot.replace(s).is_some() {
                    return None;
                }
                rest = after.strip_prefix(',')?;
            }
            _ => return None,
        }
    }
}

/// A JSON string at the start of `text` with nothing to unescape, and what follows it.
fn plain_string(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix('"')?;
    let end = inner.find('"')?;
    let s = &inner[..end];
    if s.bytes().any(|b| b == b'\\' || b < 0x20) {
        return None;
    }
    Some((s, &inner[end + 1..]))
}

/// True for an integer as JSON writes it: an optional `-`, then `0` or digits not
/// starting with `0`.
fn is_json_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    is_integer(text) && (digits == "0" || !digits.starts_with('0'))
}

/// A body that could not be read, for an error reply when it can be answered.
fn body_error(
    src: &str,
    dest: &Result<Cow<str>, String>,
    answer: Option<ReplyTo>,
    reason: String,
) -> ParseError {
    ParseError::Body {
        src: src.to_string(),
        dest: dest
            .as_ref()
            .map_or_else(|_| String::new(), |d| d.to_string()),
        answer,
        reason,
    }
}

/// Builds the message from its envelope and its body's header fields.
fn read_header<'a>(
    src: Cow<'a, str>,
    dest: Result<Cow<'a, str>, String>,
    body: &'a str,
    [msg_type, msg_id, in_reply_to]: [Seen<'a>; 3],
) -> Result<Message<'a>, ParseError> {
    // A message that carries `in_reply_to` is a reply, and replies are never answered.
    let answer = match (msg_id, in_reply_to) {
        (Seen::Once(raw), Seen::Absent) if is_integer(raw.get()) => Some(match raw.get().parse() {
            Ok(id) => ReplyTo::Id(id),
            Err(_) => ReplyTo::Literal(raw.get().to_string()),
        }),
        _ => None,
    };
    if let Err(reason) = &dest {
        return Err(body_error(&src, &dest, answer, reason.clone()));
    }
    let in_reply_to = match in_reply_to {
        Seen::Absent => None,
        seen => Some(
            seen.once("in_reply_to")
                .and_then(|raw| raw_u64(raw, "in_reply_to"))
                .map_err(|reason| body_error(&src, &dest, None, reason))?,
        ),
    };
    let msg_id = match msg_id {
        Seen::Absent => None,
        seen => Some(
            seen.once("msg_id")
                .and_then(|raw| raw_u64(raw, "msg_id"))
                .map_err(|reason| body_error(&src, &dest, answer.clone(), reason))?,
        ),
    };
    let msg_type = match msg_type {
        Seen::Absent => {
            return Err(body_error(
                &src,
                &dest,
                answer,
                "body has no `type`".to_string(),
            ))
        }
        seen => seen
            .once("type")
            .and_then(|raw| raw_str(raw, "type"))
            .map_err(|reason| body_error(&src, &dest, answer, reason))?,
    };
    let dest = dest.map_err(ParseError::Envelope)?;
    Ok(Message {
        src,
        dest,
        msg_type,
        msg_id,
        in_reply_to,
        body,
    })
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
///
/// The envelope is written by hand (its keys are fixed, and node ids rarely need
/// escaping) and the header fields are spliced into the payload's object: the output is
/// the same as serialising one nested struct, at a fraction of the cost on the hot path.
pub fn write_message<B: Serialize>(
    out: &mut Vec<u8>,
    src: &str,
    dest: &str,
    msg_id: Option<u64>,
    in_reply_to: Option<u64>,
    payload: &B,
) -> Result<(), serde_json::Error> {
    let len = out.len();
    let mut guard = Rollback {
        buf: out,
        len,
        done: false,
    };
    let buf = &mut *guard.buf;
    buf.extend_from_slice(b"{\"src\":");
    write_json_str(buf, src)?;
    buf.extend_from_slice(b",\"dest\":");
    write_json_str(buf, dest)?;
    buf.extend_from_slice(b",\"body\":");
    let body = buf.len();
    serde_json::to_writer(&mut *buf, payload)?;
    if buf.get(body) != Some(&b'{') {
        return Err(serde::ser::Error::custom(
            "a message body must serialize as a JSON object",
        ));
    }
    let mut header = [0u8; 80];
    let mut at = 0;
    for (key, value) in [
        (&b"\"msg_id\":"[..], msg_id),
        (b"\"in_reply_to\":", in_reply_to),
    ] {
        if let Some(value) = value {
            let mut digits = itoa::Buffer::new();
            for part in [key, digits.format(value).as_bytes(), b","] {
                header[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
        }
    }
    if at > 0 {
        if buf.get(body + 1) == Some(&b'}') {
            at -= 1; // an empty payload: no comma after the header
        }
        // Open a gap after the payload's `{` and put the header in it.
        let end = buf.len();
        buf.resize(end + at, 0);
        buf.copy_within(body + 1..end, body + 1 + at);
        buf[body + 1..body + 1 + at].copy_from_slice(&header[..at]);
    }
    buf.extend_from_slice(b"}\n");
    guard.done = true;
    Ok(())
}

/// Writes `s` as a JSON string: as it is between quotes when nothing in it needs
/// escaping (node and client ids), through serde_json otherwise.
fn write_json_str(out: &mut Vec<u8>, s: &str) -> Result<(), serde_json::Error> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, s)
    }
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

/// An error body that carries its own `in_reply_to`, for msg_ids outside 0..2^64.
#[derive(Serialize)]
struct LiteralErrorBody<'a> {
    in_reply_to: &'a RawValue,
    #[serde(flatten)]
    error: ErrorBody<'a>,
}

/// Appends the error reply `err` to the request `to` (see [`ReplyTo`]).
pub fn write_error_reply(
    out: &mut Vec<u8>,
    src: &str,
    dest: &str,
    to: &ReplyTo,
    err: &Error,
) -> Result<(), serde_json::Error> {
    match to {
        ReplyTo::Id(id) => write_message(out, src, dest, None, Some(*id), &ErrorBody::new(err)),
        ReplyTo::Literal(text) => {
            let raw = RawValue::from_string(text.clone())?;
            let body = LiteralErrorBody {
                in_reply_to: &raw,
                error: ErrorBody::new(err),
            };
            write_message(out, src, dest, None, None, &body)
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
            parse_line(br#"{"dest":"n0","body":{}}"#),
            Err(ParseError::Envelope(_))
        ));
        assert!(matches!(
            parse_line(br#"{"src":"c1","dest":"n0"}"#),
            Err(ParseError::Envelope(_))
        ));
    }

    fn answer(line: &str) -> Option<ReplyTo> {
        match parse_line(line.as_bytes()) {
            Err(ParseError::Body { answer, .. }) => answer,
            other => panic!("expected a body error for {line}, got {other:?}"),
        }
    }

    // Fuzzer findings: requests whose `dest` was missing, mistyped or repeated, or whose
    // body repeated a key, were dropped without an answer although `src` and `msg_id`
    // said who to answer.
    #[test]
    fn a_bad_dest_or_a_repeated_key_still_leaves_the_request_answerable() {
        let id = Some(ReplyTo::Id(7));
        assert_eq!(answer(r#"{"src":"c1","body":{"type":"x","msg_id":7}}"#), id);
        assert_eq!(
            answer(r#"{"src":"c1","dest":null,"body":{"type":"x","msg_id":7}}"#),
            id
        );
        assert_eq!(
            answer(r#"{"src":"c1","dest":"n0","dest":"n1","body":{"type":"x","msg_id":7}}"#),
            id
        );
        assert_eq!(
            answer(r#"{"src":"c1","dest":"n0","body":{"type":"x","type":"y","msg_id":7}}"#),
            id
        );
        // Repeated `src`, `body` or `msg_id`: whom or what to answer is ambiguous.
        assert!(matches!(
            parse_line(br#"{"src":"c1","src":"c2","dest":"n0","body":{"type":"x","msg_id":7}}"#),
            Err(ParseError::Envelope(_))
        ));
        assert_eq!(
            answer(r#"{"src":"c1","dest":"n0","body":{"type":"x","msg_id":7,"msg_id":7}}"#),
            None
        );
        // Other repeated keys are skipped as before.
        assert!(parse_line(
            br#"{"src":"c1","dest":"n0","id":1,"id":2,"body":{"type":"x","a":1,"a":2}}"#
        )
        .is_ok());
    }

    // Fuzzer finding: a negative or huge msg_id was refused without an answer.
    #[test]
    fn integer_msg_ids_outside_u64_are_answered_with_the_same_literal() {
        for literal in [
            "-1",
            "-0",
            "18446744073709551616",
            "100000000000000000000000000000",
        ] {
            let line =
                format!(r#"{{"src":"c1","dest":"n0","body":{{"type":"x","msg_id":{literal}}}}}"#);
            assert_eq!(
                answer(&line),
                Some(ReplyTo::Literal(literal.to_string())),
                "{literal}"
            );
            let err = Error::malformed("nope");
            let mut out = Vec::new();
            write_error_reply(
                &mut out,
                "n0",
                "c1",
                &ReplyTo::Literal(literal.to_string()),
                &err,
            )
            .unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(
                text.contains(&format!(
                    r#""in_reply_to":{literal},"type":"error","code":12"#
                )),
                "{text}"
            );
        }
        // Not integers: nothing to repeat.
        assert_eq!(
            answer(r#"{"src":"c1","dest":"n0","body":{"type":"x","msg_id":1.0}}"#),
            None
        );
        assert_eq!(
            answer(r#"{"src":"c1","dest":"n0","body":{"type":"x","msg_id":1e3}}"#),
            None
        );
    }

    // Fuzzer finding: a message with a malformed `in_reply_to` and a msg_id got an error
    // reply; it is a reply, and replies are never answered.
    #[test]
    fn messages_carrying_in_reply_to_are_never_answered() {
        for value in ["null", "\"3\"", "-1", "1.5", "[]", "18446744073709551616"] {
            let line = format!(
                r#"{{"src":"c1","dest":"n0","body":{{"type":"x","msg_id":7,"in_reply_to":{value}}}}}"#
            );
            assert_eq!(answer(&line), None, "{value}");
        }
        assert_eq!(
            answer(r#"{"src":"c1","dest":"n0","body":{"msg_id":7,"in_reply_to":3}}"#),
            None
        );
    }

    #[test]
    fn body_problems_keep_msg_id_when_valid() {
        let e = parse_line(br#"{"src":"c1","dest":"n0","body":{"msg_id":4}}"#).unwrap_err();
        assert_eq!(
            e,
            ParseError::Body {
                src: "c1".into(),
                dest: "n0".into(),
                answer: Some(ReplyTo::Id(4)),
                reason: "body has no `type`".into()
            }
        );
        let e =
            parse_line(br#"{"src":"c1","dest":"n0","body":{"type":5,"msg_id":4}}"#).unwrap_err();
        assert!(
            matches!(e, ParseError::Body { answer: Some(ReplyTo::Id(4)), ref reason, .. } if reason.contains("`type` must be a string"))
        );
        let e = parse_line(br#"{"src":"c1","dest":"n0","body":{"type":"x","msg_id":"4"}}"#)
            .unwrap_err();
        assert!(
            matches!(e, ParseError::Body { answer: None, ref reason, .. } if reason.contains("msg_id"))
        );
        let e = parse_line(br#"{"src":"c1","dest":"n0","body":[1]}"#).unwrap_err();
        assert!(matches!(e, ParseError::Body { answer: None, .. }));
    }

    #[test]
    fn null_fields_are_wrong_types_not_absent() {
        let e =
            parse_line(br#"{"src":"c1","dest":"n0","body":{"type":null,"msg_id":4}}"#).unwrap_err();
        assert!(
            matches!(e, ParseError::Body { answer: Some(ReplyTo::Id(4)), ref reason, .. } if reason == "`type` must be a string")
        );
        let e = parse_line(br#"{"src":"c1","dest":"n0","body":{"type":"x","msg_id":null}}"#)
            .unwrap_err();
        assert!(
            matches!(e, ParseError::Body { answer: None, ref reason, .. } if reason == "`msg_id` must be an integer, not null")
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
        assert!(matches!(e, ParseError::Body { answer: None, .. }));
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
    fn the_fast_envelope_path_agrees_with_the_full_parse() {
        let lines = [
            r#"{"id":7,"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3,"echo":"hi"}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3}}"#,
            r#"{"dest":"n0","src":"n1","id":-0,"body":{"type":"x","in_reply_to":4}}"#,
            r#"{"id":0,"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3}  }"#,
            r#"{"id":01,"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3}}"#,
            "{\"src\":\"c1\",\"dest\":\"n0\",\"body\": \t{\"type\":\"echo\"}\r\n}",
            r#"{"id":1e3,"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3}}"#,
            r#"{"id":1,"id":2,"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3}}"#,
            r#"{"src":"c1","src":"c2","dest":"n0","body":{"type":"echo","msg_id":3}}"#,
            r#"{"src":"c\u0031","dest":"n0","body":{"type":"echo","msg_id":3}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3},"x":1}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3},"body":{}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3}}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3,"type":"x"}}"#,
            r#"{"src":"c1","dest":"n0","body":{"msg_id":3}}"#,
            r#"{"src":"c1","dest":"n0","body":[1]}"#,
            r#"{"src":"c1","body":{"type":"echo","msg_id":3}}"#,
            r#"{"src":"c1","dest":7,"body":{"type":"echo","msg_id":3}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":-3}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3.5}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3} "#,
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":3}"#,
            r#"{"src":"c1","dest":"n0","body":"#,
            r#"{"src":"c1","dest":"n0","body":}"#,
        ];
        for line in lines {
            let fast = format!("{:?}", parse_line(line.as_bytes()));
            let full = format!("{:?}", parse_full(line));
            assert_eq!(fast, full, "{line}");
        }
        assert!(
            fast_envelope(lines[0]).is_some(),
            "the common shape takes the fast path"
        );
        assert!(fast_envelope(lines[3]).is_some());
        assert!(
            fast_envelope(lines[4]).is_none(),
            "a leading zero is not JSON"
        );
    }

    #[test]
    fn hand_written_envelope_matches_serde_json() {
        let payloads = [
            json!({}),
            json!({"type": "echo_ok", "echo": "x\"y"}),
            json!({"type": "t", "nested": {"a": [1, 2]}}),
        ];
        let ids = [None, Some(0), Some(u64::MAX)];
        for payload in &payloads {
            for (msg_id, in_reply_to) in ids.iter().flat_map(|a| ids.iter().map(move |b| (*a, *b)))
            {
                for (src, dest) in [("n0", "c1"), ("n\"0", "c\n\\1")] {
                    let mut buf = Vec::new();
                    write_message(&mut buf, src, dest, msg_id, in_reply_to, payload).unwrap();
                    // What serialising one nested struct gives (the previous way).
                    #[derive(Serialize)]
                    struct Envelope<'a> {
                        src: &'a str,
                        dest: &'a str,
                        body: Body<'a>,
                    }
                    #[derive(Serialize)]
                    struct Body<'a> {
                        #[serde(skip_serializing_if = "Option::is_none")]
                        msg_id: Option<u64>,
                        #[serde(skip_serializing_if = "Option::is_none")]
                        in_reply_to: Option<u64>,
                        #[serde(flatten)]
                        payload: &'a Value,
                    }
                    let body = Body {
                        msg_id,
                        in_reply_to,
                        payload,
                    };
                    let envelope = Envelope { src, dest, body };
                    let expected = format!("{}\n", serde_json::to_string(&envelope).unwrap());
                    assert_eq!(String::from_utf8(buf).unwrap(), expected);
                }
            }
        }
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

    #[test]
    fn strings_are_borrowed_when_plain_and_control_characters_refused() {
        let raw = |t: &str| RawValue::from_string(t.to_string()).unwrap();
        assert!(matches!(
            raw_str(&raw(r#""c1""#), "src"),
            Ok(Cow::Borrowed("c1"))
        ));
        assert_eq!(raw_str(&raw(r#""c\u0031""#), "src").unwrap(), "c1");
        let line = b"{\"src\":\"c\x001\",\"dest\":\"n0\",\"body\":{\"type\":\"x\",\"msg_id\":1}}";
        assert!(matches!(parse_line(line), Err(ParseError::Envelope(_))));
    }
}
