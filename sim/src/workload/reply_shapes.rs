//! Nested reply shapes that `client::schema` (flat fields) does not describe: kafka's
//! offset maps and message lists, and txn micro-operations, checked the way Maelstrom's
//! schemas check them. A violation makes the operation `info` with a client exception,
//! exactly like a flat schema violation.

use crate::client::outcome::Completion;
use serde_json::{json, Map, Value};

/// The completion of an operation whose reply had the right fields but a wrong shape
/// inside them (same error and exception wording as `client::outcome::complete`).
pub fn malformed(invoke_value: &Value, why: String) -> Completion {
    Completion::Info {
        value: invoke_value.clone(),
        error: json!(["malformed-reply", why.clone()]),
        exception: Some(format!("malformed reply: {why}")),
    }
}

/// A JSON integer (Maelstrom's `s/Int`).
pub fn is_int(v: &Value) -> bool {
    v.is_i64() || v.is_u64()
}

/// `{key: integer, …}` (kafka's `offsets`).
pub fn offset_map<'a>(field: &str, v: &'a Value) -> Result<&'a Map<String, Value>, String> {
    let m = v
        .as_object()
        .ok_or_else(|| format!("field `{field}` must be an object of key to offset, got {v}"))?;
    for (k, o) in m {
        if !is_int(o) {
            return Err(format!(
                "field `{field}`: the offset of key {k:?} must be an integer, got {o}"
            ));
        }
    }
    Ok(m)
}

/// `{key: [[offset, msg], …], …}` (kafka's `poll_ok.msgs`); a null list counts as empty,
/// as Maelstrom's sequence schemas allow.
pub fn message_lists(v: &Value) -> Result<(), String> {
    let m = v.as_object().ok_or_else(|| {
        format!("field `msgs` must be an object of key to [[offset, msg], …], got {v}")
    })?;
    for (k, list) in m {
        let items = match list {
            Value::Null => continue,
            Value::Array(a) => a,
            other => {
                return Err(format!(
                "field `msgs`: key {k:?} must map to an array of [offset, msg] pairs, got {other}"
            ))
            }
        };
        for pair in items {
            match pair.as_array().map(Vec::as_slice) {
                Some([o, _]) if is_int(o) => {}
                _ => {
                    return Err(format!(
                        "field `msgs`: key {k:?} holds {pair}, which is not an [offset, msg] pair \
                         with an integer offset"
                    ))
                }
            }
        }
    }
    Ok(())
}

/// A txn reply's micro-ops: each exactly `[f, k, v]` with `f` one of `names`; a read's
/// value must be a list (or null) when `reads_are_lists`.
pub fn micro_ops(txn: &[Value], names: &[&str], reads_are_lists: bool) -> Result<(), String> {
    for (i, mop) in txn.iter().enumerate() {
        let Some(items) = mop.as_array() else {
            return Err(format!(
                "txn micro-op {i} is {mop}, not a [f, key, value] array"
            ));
        };
        if items.len() != 3 {
            return Err(format!(
                "txn micro-op {i} is {mop}: it must have exactly 3 elements [f, key, value]"
            ));
        }
        let f = items[0].as_str().unwrap_or_default();
        if !names.contains(&f) {
            return Err(format!(
                "txn micro-op {i} is {mop}: its function must be one of {}",
                names
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if reads_are_lists && f == "r" && !(items[2].is_array() || items[2].is_null()) {
            return Err(format!(
                "txn micro-op {i} is {mop}: a read must return a list (or null), got {}",
                items[2]
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_maps_need_integer_offsets() {
        assert!(offset_map("offsets", &json!({"1": 3, "2": 0})).is_ok());
        let e = offset_map("offsets", &json!({"1": "3"})).unwrap_err();
        assert!(e.contains("\"1\"") && e.contains("integer"), "{e}");
        assert!(offset_map("offsets", &json!([1])).is_err());
    }

    #[test]
    fn message_lists_are_pairs_with_integer_offsets() {
        assert!(message_lists(&json!({"1": [[0, 5], [2, "x"]], "2": [], "3": null})).is_ok());
        assert!(message_lists(&json!({"1": [[0, 5, 6]]})).is_err());
        assert!(message_lists(&json!({"1": [["0", 5]]})).is_err());
        assert!(message_lists(&json!({"1": 5})).is_err());
        assert!(message_lists(&json!(null)).is_err());
    }

    #[test]
    fn micro_ops_are_triples_with_known_names() {
        let rw = ["r", "w"];
        assert!(micro_ops(&[json!(["r", 1, 3]), json!(["w", 1, 4])], &rw, false).is_ok());
        assert!(micro_ops(&[json!(["r", 1])], &rw, false).is_err());
        assert!(micro_ops(&[json!(["append", 1, 2])], &rw, false).is_err());
        let la = ["r", "append"];
        assert!(micro_ops(&[json!(["r", 1, [1, 2]]), json!(["r", 2, null])], &la, true).is_ok());
        let e = micro_ops(&[json!(["r", 1, 3])], &la, true).unwrap_err();
        assert!(e.contains("list"), "{e}");
    }
}
