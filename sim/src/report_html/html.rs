//! Small helpers for writing HTML and SVG by hand: escaping, JSON safe to embed in a
//! `<script>` element, and number formats people read easily.

use std::fmt::Write;

/// Escapes text for element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Makes JSON text safe inside `<script type="application/json">`: `<` can only appear
/// inside JSON strings, where `\u003c` means the same, so `</script>` and `<!--` cannot
/// end the element early.
pub fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// Cuts `text` after `max` characters, saying how long it was.
pub fn clip(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}… ({total} characters)")
}

/// Seconds from nanoseconds, with millisecond precision: `12.345 s`.
pub fn secs(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

/// An integer with thin spaces between thousands: `12 345`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    out
}

/// A ratio with two decimals, or a dash.
pub fn ratio(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.2}"),
        _ => "–".into(),
    }
}

/// `1 item` / `2 items`.
pub fn plural(n: usize, word: &str) -> String {
    format!(
        "{} {word}{}",
        count(n as u64),
        if n == 1 { "" } else { "s" }
    )
}

/// A run folder name `YYYYMMDDTHHMMSS.mmmZ` as `YYYY-MM-DD HH:MM:SS UTC`; other names are
/// returned unchanged.
pub fn readable_timestamp(stamp: &str) -> String {
    let b = stamp.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .filter(|s| s.iter().all(u8::is_ascii_digit))
            .and_then(|_| stamp.get(r))
    };
    let parts = (
        digits(0..4),
        digits(4..6),
        digits(6..8),
        digits(9..11),
        digits(11..13),
        digits(13..15),
    );
    match (parts, b.get(8)) {
        ((Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)), Some(b'T')) => {
            format!("{y}-{mo}-{d} {h}:{mi}:{s} UTC")
        }
        _ => stamp.to_string(),
    }
}

/// Appends formatted text to a `String` (writing to a `String` cannot fail).
pub fn put(out: &mut String, args: std::fmt::Arguments<'_>) {
    let _ = out.write_fmt(args);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            script_json(r#"{"s":"</script><!--"}"#),
            r#"{"s":"\u003c/script>\u003c!--"}"#
        );
        let back: serde_json::Value =
            serde_json::from_str(&script_json(r#"{"s":"</script>"}"#)).unwrap();
        assert_eq!(back["s"], "</script>");
    }

    #[test]
    fn numbers_read_easily() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1234567), "1\u{2009}234\u{2009}567");
        assert_eq!(secs(1_234_567_890), "1.235 s");
        assert_eq!(ratio(Some(1.686)), "1.69");
        assert_eq!(ratio(None), "–");
        assert_eq!(plural(1, "message"), "1 message");
        assert_eq!(plural(3, "message"), "3 messages");
        assert_eq!(clip("abcdef", 3), "abc… (6 characters)");
    }

    #[test]
    fn run_folder_names_become_dates() {
        assert_eq!(
            readable_timestamp("20261203T081924.173Z"),
            "2026-12-03 08:19:24 UTC"
        );
        assert_eq!(
            readable_timestamp("20261203T081924.173Z-1"),
            "2026-12-03 08:19:24 UTC"
        );
        assert_eq!(readable_timestamp("latest"), "latest");
    }
}
