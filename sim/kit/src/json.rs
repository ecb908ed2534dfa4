//! JSON values as hash-map keys, with JSON equality: shared by the services (keys of
//! the key-value stores) and the checkers (values of sets and ids).

use serde_json::Value;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// A JSON value usable as a hash-map key, with JSON equality: numbers of different kinds
/// differ (`1` ≠ `1.0`), strings never equal numbers, objects compare by content whatever
/// their key order.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonKey(pub Value);

impl Eq for JsonKey {}

impl Hash for JsonKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_value(&self.0, state);
    }
}

/// Hashes a value consistently with `Value`'s equality.
fn hash_value<H: Hasher>(value: &Value, state: &mut H) {
    match value {
        Value::Null => 0u8.hash(state),
        Value::Bool(b) => {
            1u8.hash(state);
            b.hash(state);
        }
        Value::Number(n) => {
            2u8.hash(state);
            if let Some(u) = n.as_u64() {
                0u8.hash(state);
                u.hash(state);
            } else if let Some(i) = n.as_i64() {
                1u8.hash(state);
                i.hash(state);
            } else if let Some(f) = n.as_f64() {
                2u8.hash(state);
                // 0.0 and -0.0 are equal numbers, so they must hash alike.
                let f = if f == 0.0 { 0.0 } else { f };
                f.to_bits().hash(state);
            }
        }
        Value::String(s) => {
            3u8.hash(state);
            s.hash(state);
        }
        Value::Array(items) => {
            4u8.hash(state);
            items.len().hash(state);
            for item in items {
                hash_value(item, state);
            }
        }
        Value::Object(map) => {
            5u8.hash(state);
            map.len().hash(state);
            // Order-independent: objects are equal whatever their key order.
            let mut sum = 0u64;
            for (k, v) in map {
                let mut entry = DefaultHasher::new();
                k.hash(&mut entry);
                hash_value(v, &mut entry);
                sum = sum.wrapping_add(entry.finish());
            }
            sum.hash(state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    #[test]
    fn json_numbers_of_different_kinds_are_different() {
        let int: Value = serde_json::from_str("1").unwrap();
        let float: Value = serde_json::from_str("1.0").unwrap();
        assert_ne!(int, float);
        assert_ne!(JsonKey(int.clone()), JsonKey(json!("1")));
        let mut map = HashMap::new();
        map.insert(JsonKey(int), "int");
        map.insert(JsonKey(float), "float");
        map.insert(JsonKey(json!("1")), "string");
        assert_eq!(map.len(), 3);
        assert_eq!(map[&JsonKey(json!(1))], "int");
    }

    #[test]
    fn objects_are_equal_keys_whatever_their_order() {
        let a: Value = serde_json::from_str(r#"{"x":1,"y":[1,2]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"y":[1,2],"x":1}"#).unwrap();
        let mut map = HashMap::new();
        map.insert(JsonKey(a), 1);
        assert_eq!(map.get(&JsonKey(b)), Some(&1));
        assert_eq!(map.get(&JsonKey(json!({"x": 1, "y": [2, 1]}))), None);
    }
}
