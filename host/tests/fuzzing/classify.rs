//! The oracle's own reading of lines, independent of the node's parser (it shares only
//! serde_json, so both agree on what is JSON at all).
//!
//! **Which input lines are requests.** A line is a request, and must be answered exactly
//! once, when all of this holds:
//! - it is UTF-8 and, as a whole, a JSON object;
//! - `src` appears once in it and is a string (who to answer);
//! - `body` appears once and is an object;
//! - in the body, `msg_id` appears once and is a JSON integer literal, of any sign or size
//!   (the answer's `in_reply_to` repeats it verbatim);
//! - the body has no `in_reply_to` key at all (a message that carries one is a reply, and
//!   replies are never answered, even malformed ones).
//!
//! Whatever else is wrong with a request (its `dest`, its `type`, its fields, a repeated
//! key other than `src`, `body` or `msg_id`) it is answered: with its result or an error.
//! The one exception is a request of a type that its family defines as one-way (gossip
//! with no acknowledgement): it may get no answer, but if it gets one, it is an error.
//!
//! **What every output line must be.** One JSON object with exactly the keys `src`,
//! `dest` and `body`; strings for the first two; a body object with exactly one string
//! `type`, at most one `msg_id` (below 2^64) and at most one `in_reply_to` (an integer).

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// What the oracle makes of one input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A request that must be answered.
    Request {
        /// Who to answer.
        src: String,
        /// The `msg_id` literal, as the answer's `in_reply_to` must repeat it.
        msg_id: String,
        /// The body's `type`, when it is one string.
        msg_type: Option<String>,
    },
    /// Anything else: a reply, a message without a usable `msg_id`, or not a message.
    Other,
}

/// An object's entries in order, repeated keys included.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Entries<'a> {
    fn parse(text: &'a str) -> Option<Entries<'a>> {
        serde_json::from_str(text).ok()
    }

    /// The value of `key` when it appears exactly once.
    fn once(&self, key: &str) -> Option<&'a RawValue> {
        let mut found = self.0.iter().filter(|(k, _)| k == key);
        let first = found.next()?;
        found.next().is_none().then_some(first.1)
    }

    fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
}

/// True for a JSON integer literal: `-?(0|[1-9][0-9]*)`.
pub fn is_integer_literal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    match digits.as_bytes() {
        [] => false,
        [b'0'] => true,
        [b'0', ..] => false,
        bytes => bytes.iter().all(u8::is_ascii_digit),
    }
}

fn string(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

/// Classifies one input line (without its newline).
pub fn inbound(line: &[u8]) -> Inbound {
    let Ok(text) = std::str::from_utf8(line) else {
        return Inbound::Other;
    };
    let Some(top) = Entries::parse(text) else {
        return Inbound::Other;
    };
    let Some(src) = top.once("src").and_then(string) else {
        return Inbound::Other;
    };
    let Some(body_raw) = top.once("body") else {
        return Inbound::Other;
    };
    let Some(body) = Entries::parse(body_raw.get()) else {
        return Inbound::Other;
    };
    let Some(msg_id) = body.once("msg_id").map(RawValue::get) else {
        return Inbound::Other;
    };
    if !is_integer_literal(msg_id) || body.has("in_reply_to") {
        return Inbound::Other;
    }
    Inbound::Request {
        src,
        msg_id: msg_id.to_string(),
        msg_type: body.once("type").and_then(string),
    }
}

/// One output line, checked.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// Sender (this node).
    pub src: String,
    /// Receiver.
    pub dest: String,
    /// The body's `type`.
    pub msg_type: String,
    /// The body's `msg_id`, for requests the node sends.
    pub msg_id: Option<u64>,
    /// The body's `in_reply_to` literal, for replies.
    pub in_reply_to: Option<String>,
    /// The body's `code`, for error replies.
    pub code: Option<i64>,
    /// The body, as written.
    pub body: Box<RawValue>,
}

/// Checks one output line (without its newline); the error says what is wrong.
pub fn outbound(line: &[u8]) -> Result<Outbound, String> {
    let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8: {e}"))?;
    let top = Entries::parse(text).ok_or("not a JSON object")?;
    let mut keys: Vec<&str> = top.0.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    if keys != ["body", "dest", "src"] {
        return Err(format!("top-level keys are {keys:?}, not body, dest, src"));
    }
    let src = top
        .once("src")
        .and_then(string)
        .ok_or("`src` is not a string")?;
    let dest = top
        .once("dest")
        .and_then(string)
        .ok_or("`dest` is not a string")?;
    let body_raw = top.once("body").ok_or("no body")?;
    let body = Entries::parse(body_raw.get()).ok_or("body is not an object")?;
    let msg_type = body
        .once("type")
        .and_then(string)
        .ok_or("body has no single string `type`")?;
    let optional = |key: &str| -> Result<Option<&RawValue>, String> {
        match body.0.iter().filter(|(k, _)| k == key).count() {
            0 => Ok(None),
            1 => Ok(body.once(key)),
            n => Err(format!("`{key}` appears {n} times")),
        }
    };
    let msg_id = match optional("msg_id")? {
        None => None,
        Some(raw) => Some(
            raw.get()
                .parse::<u64>()
                .map_err(|_| format!("`msg_id` {} is not below 2^64", raw.get()))?,
        ),
    };
    let in_reply_to = match optional("in_reply_to")? {
        None => None,
        Some(raw) if is_integer_literal(raw.get()) => Some(raw.get().to_string()),
        Some(raw) => return Err(format!("`in_reply_to` {} is not an integer", raw.get())),
    };
    let code = optional("code")?.and_then(|raw| raw.get().parse::<i64>().ok());
    Ok(Outbound {
        src,
        dest,
        msg_type,
        msg_id,
        in_reply_to,
        code,
        body: body_raw.to_owned(),
    })
}
