//! Mutations: on the JSON tree (wrong types, null, odd numbers, deep nesting, repeated,
//! missing and unknown keys, swapped types, odd `msg_id`s and `in_reply_to`s) and on the
//! bytes of a finished line (truncation, invalid UTF-8, NUL bytes, flipped and
//! duplicated bytes). Lines never contain a newline: the transport splits on it.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;

use super::json::J;

/// The deepest nesting serde_json parses into typed values (its recursion limit is 128
/// levels including the one that fails); raw values are skipped without a limit.
pub const SERDE_DEPTH_LIMIT: usize = 127;

/// Number literals that sit on the edges of the types nodes read.
const ODD_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "127",
    "255",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "100000000000000000000000000000000000000000000000000",
    "-100000000000000000000000000000000000000000000000000",
    "1.0",
    "1.5",
    "-0.0",
    "1e3",
    "1E+2",
    "1e19",
    "1e300",
    "1e400",
    "-1e400",
    "5e-324",
    "0.1",
];

/// Strings that trouble parsers or logs.
const ODD_STRINGS: &[&str] = &[
    "",
    " ",
    "\u{0}",
    "nul\u{0}inside",
    "é€😀",
    "\u{feff}",
    "\u{202e}rtl",
    "n0",
    "c1",
    "lin-kv",
    "init",
    "type",
    "msg_id",
    "{\"nested\":\"json\"}",
    "\\",
    "\"",
    "\r",
];

/// Message types worth swapping in: unknown ones, reply types, near misses.
const ODD_TYPES: &[&str] = &[
    "",
    "teleport",
    "ECHO",
    "echo ",
    "init",
    "init_ok",
    "error",
    "read_ok",
    "send_ok",
    "txn_ok",
    "add_ok",
    "broadcast_ok",
    "cas",
    "write",
    "ts",
    "__proto__",
    "\u{0}",
];

/// A random value of a random kind, mostly one no field expects.
pub fn odd_value(rng: &mut StdRng) -> J {
    match rng.random_range(0..14) {
        0 | 1 => J::null(),
        2 => J::Raw(["true", "false"][rng.random_range(0..2)].into()),
        3..=5 => J::Raw(ODD_NUMBERS.choose(rng).copied().unwrap_or("0").into()),
        6 => J::Str(ODD_STRINGS.choose(rng).copied().unwrap_or("").into()),
        7 => J::Raw(r#""\ud800""#.into()),
        8 => J::Arr(vec![]),
        9 => J::Obj(vec![]),
        10 => J::Arr(
            (0..rng.random_range(1..4))
                .map(|_| small_value(rng))
                .collect(),
        ),
        11 => J::Obj(vec![("a".into(), small_value(rng))]),
        12 => J::Str("x".repeat(rng.random_range(100..5000))),
        _ => nested(rng.random_range(SERDE_DEPTH_LIMIT - 3..SERDE_DEPTH_LIMIT + 3)),
    }
}

fn small_value(rng: &mut StdRng) -> J {
    match rng.random_range(0..4) {
        0 => J::int(rng.random_range(-5i64..100)),
        1 => J::Str(format!("s{}", rng.random_range(0..10))),
        2 => J::null(),
        _ => J::Raw(ODD_NUMBERS.choose(rng).copied().unwrap_or("0").into()),
    }
}

/// Arrays and objects nested `depth` deep, as text.
pub fn nested(depth: usize) -> J {
    let mut text = String::with_capacity(depth * 6 + 1);
    for i in 0..depth {
        text.push_str(if i % 2 == 0 { "[" } else { "{\"a\":" });
    }
    text.push('1');
    for i in (0..depth).rev() {
        text.push(if i % 2 == 0 { ']' } else { '}' });
    }
    J::Raw(text)
}

/// Pending RPC ids and types that tree mutations may point at.
pub struct Hints<'a> {
    /// Message types of every family, to swap in.
    pub types: &'a [&'static str],
    /// msg_ids of requests the node sent that are (or were) waiting for an answer.
    pub rpc_ids: &'a [u64],
    /// msg_ids recently used by the fuzzer.
    pub recent_ids: &'a [u64],
    /// Node and service ids, to swap into `src` and `dest`.
    pub ids: &'a [String],
}

/// Applies one to three random tree mutations to a whole message (envelope and body).
pub fn mutate_message(rng: &mut StdRng, msg: &mut J, hints: &Hints) {
    for _ in 0..rng.random_range(1..=3) {
        match rng.random_range(0..12) {
            0..=2 => replace_somewhere(rng, msg),
            3 => remove_somewhere(rng, msg),
            4 => repeat_somewhere(rng, msg),
            5 => add_unknown_field(rng, msg),
            6 => swap_type(rng, msg, hints),
            7 | 8 => odd_msg_id(rng, msg, hints),
            9 => odd_in_reply_to(rng, msg, hints),
            10 => odd_envelope(rng, msg, hints),
            _ => odd_body(rng, msg),
        }
    }
}

fn body_mut(msg: &mut J) -> Option<&mut J> {
    msg.get_mut("body")
}

fn replace_somewhere(rng: &mut StdRng, msg: &mut J) {
    let size = msg.size();
    // Never the whole message: that is `odd_body`'s and the byte mutations' job.
    let at = rng.random_range(1..size.max(2));
    let value = odd_value(rng);
    if let Some(slot) = msg.nth_mut(at) {
        *slot = value;
    }
}

/// The objects of the tree, by pre-order index.
fn object_indices(msg: &mut J) -> Vec<usize> {
    (0..msg.size())
        .filter(|&i| matches!(msg.nth_mut(i), Some(J::Obj(f)) if !f.is_empty()))
        .collect()
}

fn remove_somewhere(rng: &mut StdRng, msg: &mut J) {
    let objects = object_indices(msg);
    if let Some(&at) = objects.choose(rng) {
        if let Some(J::Obj(fields)) = msg.nth_mut(at) {
            let i = rng.random_range(0..fields.len());
            fields.remove(i);
        }
    }
}

fn repeat_somewhere(rng: &mut StdRng, msg: &mut J) {
    let objects = object_indices(msg);
    if let Some(&at) = objects.choose(rng) {
        let other = if rng.random_bool(0.5) {
            Some(odd_value(rng))
        } else {
            None
        };
        if let Some(J::Obj(fields)) = msg.nth_mut(at) {
            let i = rng.random_range(0..fields.len());
            let (key, value) = fields[i].clone();
            let at = rng.random_range(0..=fields.len());
            fields.insert(at, (key, other.unwrap_or(value)));
        }
    }
}

fn add_unknown_field(rng: &mut StdRng, msg: &mut J) {
    let value = odd_value(rng);
    let target = if rng.random_bool(0.7) {
        body_mut(msg)
    } else {
        Some(msg)
    };
    if let Some(J::Obj(fields)) = target {
        let key = ["id", "extra", "", "Type", "msg_id ", "\u{0}", "body"]
            .choose(rng)
            .copied()
            .unwrap_or("extra");
        fields.push((key.to_string(), value));
    }
}

fn swap_type(rng: &mut StdRng, msg: &mut J, hints: &Hints) {
    let t = if rng.random_bool(0.5) {
        hints.types.choose(rng).copied().unwrap_or("echo")
    } else {
        ODD_TYPES.choose(rng).copied().unwrap_or("teleport")
    };
    if let Some(body) = body_mut(msg) {
        body.set("type", J::Str(t.to_string()));
    }
}

fn odd_msg_id(rng: &mut StdRng, msg: &mut J, hints: &Hints) {
    let Some(body) = body_mut(msg) else {
        return;
    };
    match rng.random_range(0..8) {
        0 => body.remove("msg_id"),
        1 => {
            if let Some(&id) = hints.recent_ids.choose(rng) {
                body.set("msg_id", J::int(id));
            }
        }
        2 => {
            // The same key twice, with equal or different values.
            let first = body.get("msg_id").cloned().unwrap_or(J::int(1));
            let second = if rng.random_bool(0.5) {
                first.clone()
            } else {
                J::int(rng.random_range(0..1000u64))
            };
            if let J::Obj(fields) = body {
                fields.push(("msg_id".into(), second));
            }
        }
        3 => body.set("msg_id", J::int(-rng.random_range(1..1_000_000i64))),
        _ => body.set(
            "msg_id",
            J::Raw(ODD_NUMBERS.choose(rng).copied().unwrap_or("0").into()),
        ),
    }
}

fn odd_in_reply_to(rng: &mut StdRng, msg: &mut J, hints: &Hints) {
    let value = match rng.random_range(0..5) {
        0 => match hints.rpc_ids.choose(rng) {
            Some(&id) => J::int(id),
            None => J::int(rng.random_range(1..100u64)),
        },
        1 => J::int(rng.random::<u64>()),
        2 => J::int(rng.random_range(1..1000u64)),
        _ => odd_value(rng),
    };
    if let Some(body) = body_mut(msg) {
        body.set("in_reply_to", value);
    }
}

fn odd_envelope(rng: &mut StdRng, msg: &mut J, hints: &Hints) {
    let key = ["src", "dest", "body"]
        .choose(rng)
        .copied()
        .unwrap_or("src");
    match rng.random_range(0..4) {
        0 => msg.remove(key),
        1 if key != "body" => {
            if let Some(id) = hints.ids.choose(rng) {
                msg.set(key, J::Str(id.clone()));
            }
        }
        _ => msg.set(key, odd_value(rng)),
    }
}

fn odd_body(rng: &mut StdRng, msg: &mut J) {
    let Some(body) = body_mut(msg) else {
        return;
    };
    *body = match rng.random_range(0..4) {
        0 => J::Arr(vec![body.clone()]),
        1 => J::Obj(vec![("body".into(), body.clone())]),
        2 => J::Str(String::from_utf8_lossy(&body.to_bytes()).into_owned()),
        _ => odd_value(rng),
    };
}

/// Byte sequences that are not UTF-8.
const INVALID_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xc3",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x80",
    b"\xfe\xff",
];

/// Applies one byte-level mutation to a finished line.
pub fn mutate_bytes(rng: &mut StdRng, line: &mut Vec<u8>) {
    let len = line.len();
    let at = rng.random_range(0..=len);
    match rng.random_range(0..9) {
        0 | 1 => line.truncate(at),
        2 => {
            let bad = INVALID_UTF8.choose(rng).copied().unwrap_or(b"\xff");
            line.splice(at..at, bad.iter().copied());
        }
        3 => {
            let n = rng.random_range(1..4);
            line.splice(at..at, std::iter::repeat_n(0u8, n));
        }
        4 if len > 0 => {
            let i = rng.random_range(0..len);
            line[i] = rng.random::<u8>();
        }
        5 if len > 0 => {
            let start = rng.random_range(0..len);
            let end = rng.random_range(start..=len.min(start + 64));
            let copy = line[start..end].to_vec();
            line.splice(end..end, copy);
        }
        6 => {
            let junk: &[u8] = [
                &b"\xef\xbb\xbf"[..],
                b"\r",
                b" \t ",
                b"}",
                b"]",
                b",",
                b"\\",
            ]
            .choose(rng)
            .copied()
            .unwrap_or(b" ");
            line.splice(at..at, junk.iter().copied());
        }
        7 if len > 0 => {
            let i = rng.random_range(0..len);
            line.remove(i);
        }
        _ => line.extend_from_slice(b"{\"src\":\"c1\""),
    }
    no_newlines(line);
}

/// Replaces newlines so the bytes stay one line.
pub fn no_newlines(line: &mut [u8]) {
    for b in line.iter_mut() {
        if *b == b'\n' {
            *b = b' ';
        }
    }
}
