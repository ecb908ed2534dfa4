//! Parsing and validating the lines a node writes on stdout (spec §1.2, §1.6).
//!
//! The envelope schema is closed: `src` and `dest` strings, a `body` object, an optional
//! integer `id`, nothing else. Whether `src`/`dest` are registered is checked by the
//! router, which knows the registry. The body is kept as raw JSON text so that traffic
//! between nodes is never re-parsed.
//!
//! Two JSON values on one line: like Maelstrom we use the first and lose the rest, but we
//! record a (non-fatal) warning where Maelstrom says nothing.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// A line that passed the envelope schema.
#[derive(Debug)]
pub struct NodeMessage {
    /// Claimed sender (not checked against the emitting node, like Maelstrom).
    pub src: String,
    /// Destination id.
    pub dest: String,
    /// Byte range of the body (raw JSON text of an object) inside the line.
    pub body: std::ops::Range<usize>,
    /// True when the line held more than one JSON value: only the first is used.
    pub trailing: bool,
}

/// Why a line was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum LineError {
    /// Not JSON at all (or empty).
    NotJson(String),
    /// JSON, but not a valid envelope.
    Schema(String),
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineError::NotJson(m) => write!(f, "not a JSON message: {m}"),
            LineError::Schema(m) => write!(f, "envelope schema violated: {m}"),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    src: String,
    dest: String,
    #[serde(borrow)]
    body: &'a RawValue,
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Parses one stdout line into a message, or says why it is unacceptable.
pub fn parse_line(line: &str) -> Result<NodeMessage, LineError> {
    if line.trim().is_empty() {
        return Err(LineError::NotJson(
            "blank line (Maelstrom rejects it as a message with an empty body)".into(),
        ));
    }
    let mut stream = serde_json::Deserializer::from_str(line).into_iter::<Wire>();
    let wire = match stream.next() {
        Some(Ok(w)) => w,
        Some(Err(e)) => {
            return Err(match e.classify() {
                serde_json::error::Category::Data => LineError::Schema(e.to_string()),
                _ => LineError::NotJson(e.to_string()),
            })
        }
        None => return Err(LineError::NotJson("empty line".into())),
    };
    let trailing = !line[stream.byte_offset()..].trim().is_empty();
    if let Some(id) = &wire.id {
        if !(id.is_i64() || id.is_u64()) {
            return Err(LineError::Schema(format!(
                "top-level `id` must be an integer, got {id}"
            )));
        }
    }
    if !wire.body.get().trim_start().starts_with('{') {
        return Err(LineError::Schema(format!(
            "`body` must be a JSON object, got {}",
            wire.body.get()
        )));
    }
    let start = wire.body.get().as_ptr() as usize - line.as_ptr() as usize;
    Ok(NodeMessage {
        src: wire.src,
        dest: wire.dest,
        body: start..start + wire.body.get().len(),
        trailing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_err(line: &str) -> String {
        match parse_line(line) {
            Err(LineError::Schema(m)) => m,
            other => panic!("expected a schema error for {line}, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_plain_envelope_and_an_integer_id() {
        let line = r#"{"src":"n0","dest":"c1","body":{"type":"echo_ok","in_reply_to":1}}"#;
        let m = parse_line(line).unwrap();
        assert_eq!((m.src.as_str(), m.dest.as_str()), ("n0", "c1"));
        assert!(!m.trailing);
        assert_eq!(&line[m.body], r#"{"type":"echo_ok","in_reply_to":1}"#);
        assert!(parse_line(r#"{"id":3,"src":"n0","dest":"n1","body":{}}"#).is_ok());
    }

    #[test]
    fn rejects_extra_keys_missing_keys_and_bad_types() {
        assert!(schema_err(r#"{"src":"n0","dest":"n1","body":{},"extra":1}"#).contains("extra"));
        assert!(schema_err(r#"{"src":"n0","body":{}}"#).contains("dest"));
        assert!(schema_err(r#"{"src":"n0","dest":"n1"}"#).contains("body"));
        schema_err(r#"{"src":1,"dest":"n1","body":{}}"#);
        assert!(schema_err(r#"{"id":1.5,"src":"n0","dest":"n1","body":{}}"#).contains("id"));
        assert!(schema_err(r#"{"id":"7","src":"n0","dest":"n1","body":{}}"#).contains("id"));
        assert!(schema_err(r#"{"id":null,"src":"n0","dest":"n1","body":{}}"#).contains("id"));
        assert!(schema_err(r#"{"src":"n0","dest":"n1","body":[1]}"#).contains("object"));
        assert!(schema_err(r#"{"src":"n0","dest":"n1","body":"hi"}"#).contains("object"));
        schema_err("[1,2]");
    }

    #[test]
    fn rejects_non_json_and_blank_lines() {
        assert!(matches!(
            parse_line("hello world"),
            Err(LineError::NotJson(_))
        ));
        assert!(matches!(parse_line(""), Err(LineError::NotJson(_))));
        assert!(matches!(parse_line("   "), Err(LineError::NotJson(_))));
        assert!(matches!(
            parse_line(r#"{"src":"n0""#),
            Err(LineError::NotJson(_))
        ));
    }

    #[test]
    fn two_objects_on_a_line_keep_the_first_and_flag_it() {
        let line =
            r#"{"src":"n0","dest":"n1","body":{"a":1}} {"src":"n0","dest":"n1","body":{"a":2}}"#;
        let m = parse_line(line).unwrap();
        assert!(m.trailing);
        assert_eq!(&line[m.body], r#"{"a":1}"#);
    }
}
