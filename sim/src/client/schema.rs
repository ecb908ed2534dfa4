//! Reply schemas (spec §1.7): a reply must have the exact `type`, the workload's fields
//! with the right shapes, an integer `in_reply_to`, optionally an integer `msg_id`, and
//! no other field. A violation says which field.

use serde_json::Value;

/// The shape a reply field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Any JSON value.
    Any,
    /// A JSON integer.
    Int,
    /// A JSON array.
    Array,
    /// A JSON array or null.
    ArrayOrNull,
}

impl Shape {
    fn accepts(self, v: &Value) -> bool {
        match self {
            Shape::Any => true,
            Shape::Int => v.is_i64() || v.is_u64(),
            Shape::Array => v.is_array(),
            Shape::ArrayOrNull => v.is_array() || v.is_null(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Shape::Any => "any value",
            Shape::Int => "an integer",
            Shape::Array => "an array",
            Shape::ArrayOrNull => "an array",
        }
    }
}

/// What a reply must look like.
#[derive(Debug, Clone, Copy)]
pub struct ReplySchema {
    /// The exact `type`.
    pub reply_type: &'static str,
    /// Required workload fields and their shapes.
    pub fields: &'static [(&'static str, Shape)],
}

/// Checks a (non-error) reply; the error names the offending field.
pub fn validate(schema: &ReplySchema, body: &Value) -> Result<(), String> {
    let Some(map) = body.as_object() else {
        return Err(format!("reply body is not an object: {body}"));
    };
    match map.get("type") {
        Some(Value::String(t)) if t == schema.reply_type => {}
        Some(t) => {
            return Err(format!(
                "field `type` is {t}, expected \"{}\"",
                schema.reply_type
            ))
        }
        None => {
            return Err(format!(
                "field `type` is missing (expected \"{}\")",
                schema.reply_type
            ))
        }
    }
    match map.get("in_reply_to") {
        Some(v) if v.is_i64() || v.is_u64() => {}
        Some(v) => return Err(format!("field `in_reply_to` must be an integer, got {v}")),
        None => return Err("field `in_reply_to` is missing".into()),
    }
    if let Some(v) = map.get("msg_id") {
        if !(v.is_i64() || v.is_u64()) {
            return Err(format!("field `msg_id` must be an integer, got {v}"));
        }
    }
    for (name, shape) in schema.fields {
        match map.get(*name) {
            None => return Err(format!("field `{name}` is missing")),
            Some(v) if !shape.accepts(v) => {
                return Err(format!(
                    "field `{name}` must be {}, got {v}",
                    shape.describe()
                ))
            }
            _ => {}
        }
    }
    for key in map.keys() {
        let allowed = matches!(key.as_str(), "type" | "in_reply_to" | "msg_id")
            || schema.fields.iter().any(|(n, _)| n == key);
        if !allowed {
            return Err(format!(
                "disallowed field `{key}` (a reply of type `{}` may only carry type, msg_id, in_reply_to{})",
                schema.reply_type,
                schema
                    .fields
                    .iter()
                    .map(|(n, _)| format!(", {n}"))
                    .collect::<String>()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ECHO: ReplySchema = ReplySchema {
        reply_type: "echo_ok",
        fields: &[("echo", Shape::Any)],
    };
    const READ: ReplySchema = ReplySchema {
        reply_type: "read_ok",
        fields: &[("value", Shape::Int)],
    };

    #[test]
    fn accepts_exact_replies_with_optional_msg_id() {
        assert!(validate(&ECHO, &json!({"type":"echo_ok","echo":"x","in_reply_to":1})).is_ok());
        assert!(validate(
            &ECHO,
            &json!({"type":"echo_ok","echo":"x","in_reply_to":1,"msg_id":9})
        )
        .is_ok());
    }

    #[test]
    fn names_the_offending_field() {
        let e = validate(
            &ECHO,
            &json!({"type":"echo_ok","echo":"x","in_reply_to":1,"node":"n0"}),
        )
        .unwrap_err();
        assert!(e.contains("`node`"), "{e}");
        let e = validate(&ECHO, &json!({"type":"echo","echo":"x","in_reply_to":1})).unwrap_err();
        assert!(e.contains("`type`"), "{e}");
        let e = validate(&ECHO, &json!({"type":"echo_ok","in_reply_to":1})).unwrap_err();
        assert!(e.contains("`echo`"), "{e}");
        let e = validate(&ECHO, &json!({"type":"echo_ok","echo":1,"in_reply_to":"1"})).unwrap_err();
        assert!(e.contains("`in_reply_to`"), "{e}");
        let e = validate(
            &ECHO,
            &json!({"type":"echo_ok","echo":1,"in_reply_to":1,"msg_id":1.5}),
        )
        .unwrap_err();
        assert!(e.contains("`msg_id`"), "{e}");
    }

    #[test]
    fn checks_field_shapes() {
        assert!(validate(&READ, &json!({"type":"read_ok","value":3,"in_reply_to":1})).is_ok());
        let e = validate(
            &READ,
            &json!({"type":"read_ok","value":3.0,"in_reply_to":1}),
        )
        .unwrap_err();
        assert!(e.contains("integer"), "{e}");
    }
}
