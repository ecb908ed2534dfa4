//! A small JSON tree that can say what `serde_json::Value` cannot: number literals of any
//! size or shape (`18446744073709551616`, `-0`, `1e400`), raw text spliced in as it is
//! (deep nesting built as text), and objects with repeated keys. Mutations edit this
//! tree; [`J::write`] turns it into the bytes of one line.

use serde_json::Value;

/// A JSON value as the fuzzer builds it.
#[derive(Clone, Debug, PartialEq)]
pub enum J {
    /// Text written verbatim: a number, `true`, `null`, or anything else.
    Raw(String),
    /// A string, escaped when written.
    Str(String),
    /// An array.
    Arr(Vec<J>),
    /// An object; keys may repeat.
    Obj(Vec<(String, J)>),
}

impl J {
    /// `null`.
    pub fn null() -> J {
        J::Raw("null".into())
    }

    /// An integer literal.
    pub fn int(n: impl ToString) -> J {
        J::Raw(n.to_string())
    }

    /// Appends the compact JSON text of this value.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            J::Raw(text) => out.extend_from_slice(text.as_bytes()),
            J::Str(s) => write_str(s, out),
            J::Arr(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            J::Obj(fields) => {
                out.push(b'{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(key, out);
                    out.push(b':');
                    value.write(out);
                }
                out.push(b'}');
            }
        }
    }

    /// The compact JSON text of this value.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    /// The value of the first field named `key`, if this is an object that has one.
    pub fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The first field named `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut J> {
        match self {
            J::Obj(fields) => fields.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets `key` (replacing its first occurrence, or appending it); no-op on non-objects.
    pub fn set(&mut self, key: &str, value: J) {
        if let J::Obj(fields) = self {
            match fields.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => *v = value,
                None => fields.push((key.to_string(), value)),
            }
        }
    }

    /// Removes every field named `key`.
    pub fn remove(&mut self, key: &str) {
        if let J::Obj(fields) = self {
            fields.retain(|(k, _)| k != key);
        }
    }

    /// Number of values in this tree, this one included.
    pub fn size(&self) -> usize {
        1 + match self {
            J::Raw(_) | J::Str(_) => 0,
            J::Arr(items) => items.iter().map(J::size).sum(),
            J::Obj(fields) => fields.iter().map(|(_, v)| v.size()).sum(),
        }
    }

    /// The `n`th value of this tree in pre-order (0 is this one).
    pub fn nth_mut(&mut self, n: usize) -> Option<&mut J> {
        if n == 0 {
            return Some(self);
        }
        let mut left = n - 1;
        let children: Vec<&mut J> = match self {
            J::Raw(_) | J::Str(_) => return None,
            J::Arr(items) => items.iter_mut().collect(),
            J::Obj(fields) => fields.iter_mut().map(|(_, v)| v).collect(),
        };
        for child in children {
            let size = child.size();
            if left < size {
                return child.nth_mut(left);
            }
            left -= size;
        }
        None
    }
}

impl From<&Value> for J {
    fn from(v: &Value) -> J {
        match v {
            Value::Null => J::null(),
            Value::Bool(b) => J::Raw(b.to_string()),
            Value::Number(n) => J::Raw(n.to_string()),
            Value::String(s) => J::Str(s.clone()),
            Value::Array(items) => J::Arr(items.iter().map(J::from).collect()),
            Value::Object(map) => J::Obj(map.iter().map(|(k, v)| (k.clone(), v.into())).collect()),
        }
    }
}

impl From<Value> for J {
    fn from(v: Value) -> J {
        J::from(&v)
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // serde_json escapes exactly what JSON requires; writing a &str cannot fail.
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}
