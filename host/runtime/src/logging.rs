//! Logging to stderr with slog; stdout is reserved for protocol messages.

use slog::{o, Drain, Level, Logger};

/// The level names accepted in config (`node.log_level`) and in `GLOMERS_LOG`.
pub const LEVELS: &[&str] = &[
    "trace", "debug", "info", "warning", "error", "critical", "off",
];

/// A synchronous terminal logger on stderr that lets through `level` and above.
/// Unknown names fall back to "info".
pub fn stderr_logger(level: &str) -> Logger {
    let decorator = slog_term::PlainSyncDecorator::new(std::io::stderr());
    let drain = slog_term::FullFormat::new(decorator).build().fuse();
    match parse_level(level) {
        Some(Some(l)) => Logger::root(drain.filter_level(l).fuse(), o!()),
        Some(None) => Logger::root(slog::Discard, o!()),
        None => Logger::root(drain.filter_level(Level::Info).fuse(), o!()),
    }
}

/// Parses a level name: `Some(None)` means "off".
pub fn parse_level(name: &str) -> Option<Option<Level>> {
    Some(match name {
        "trace" => Some(Level::Trace),
        "debug" => Some(Level::Debug),
        "info" => Some(Level::Info),
        "warning" | "warn" => Some(Level::Warning),
        "error" => Some(Level::Error),
        "critical" => Some(Level::Critical),
        "off" => None,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_level_parses() {
        for l in LEVELS {
            assert!(parse_level(l).is_some(), "{l}");
        }
        assert_eq!(parse_level("loud"), None);
    }
}
