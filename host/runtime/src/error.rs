//! Maelstrom error codes and the error type handlers return.

use std::fmt;

/// A Maelstrom error code (spec §1.8). Codes below 1000 are Maelstrom's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// The request timed out (indefinite).
    pub const TIMEOUT: ErrorCode = ErrorCode(0);
    /// The destination node does not exist (definite).
    pub const NODE_NOT_FOUND: ErrorCode = ErrorCode(1);
    /// The message type is not supported (definite).
    pub const NOT_SUPPORTED: ErrorCode = ErrorCode(10);
    /// The node cannot serve the request right now, e.g. before `init` (definite).
    pub const TEMPORARILY_UNAVAILABLE: ErrorCode = ErrorCode(11);
    /// The request is malformed: bad JSON, a missing or mistyped field (definite).
    pub const MALFORMED_REQUEST: ErrorCode = ErrorCode(12);
    /// The handler crashed; the request may or may not have taken effect (indefinite).
    pub const CRASH: ErrorCode = ErrorCode(13);
    /// The operation was aborted (definite).
    pub const ABORT: ErrorCode = ErrorCode(14);
    /// The key does not exist (definite).
    pub const KEY_DOES_NOT_EXIST: ErrorCode = ErrorCode(20);
    /// The key already exists (definite).
    pub const KEY_ALREADY_EXISTS: ErrorCode = ErrorCode(21);
    /// A compare-and-set precondition did not hold (definite).
    pub const PRECONDITION_FAILED: ErrorCode = ErrorCode(22);
    /// A transaction conflicted and was aborted (definite).
    pub const TXN_CONFLICT: ErrorCode = ErrorCode(30);

    /// True when the error proves the operation did not happen (Maelstrom's definite codes).
    pub fn is_definite(self) -> bool {
        matches!(self.0, 1 | 10 | 11 | 12 | 14 | 20 | 21 | 22 | 30)
    }

    /// Maelstrom's name for the code, or "unknown".
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "timeout",
            1 => "node-not-found",
            10 => "not-supported",
            11 => "temporarily-unavailable",
            12 => "malformed-request",
            13 => "crash",
            14 => "abort",
            20 => "key-does-not-exist",
            21 => "key-already-exists",
            22 => "precondition-failed",
            30 => "txn-conflict",
            _ => "unknown",
        }
    }
}

/// An error a handler returns; the node core turns it into a Maelstrom error reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The code sent to the requester.
    pub code: ErrorCode,
    /// Human-readable text sent along.
    pub text: String,
}

impl Error {
    /// An error with any code.
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Error {
        Error {
            code,
            text: text.into(),
        }
    }

    /// Code 12: the request could not be understood.
    pub fn malformed(text: impl Into<String>) -> Error {
        Error::new(ErrorCode::MALFORMED_REQUEST, text)
    }

    /// Code 10: this node does not handle that kind of request.
    pub fn not_supported(text: impl Into<String>) -> Error {
        Error::new(ErrorCode::NOT_SUPPORTED, text)
    }

    /// Code 11: try again later.
    pub fn unavailable(text: impl Into<String>) -> Error {
        Error::new(ErrorCode::TEMPORARILY_UNAVAILABLE, text)
    }

    /// Code 13: something broke while serving the request (indefinite).
    pub fn crash(text: impl Into<String>) -> Error {
        Error::new(ErrorCode::CRASH, text)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error {} ({}): {}",
            self.code.0,
            self.code.name(),
            self.text
        )
    }
}

impl std::error::Error for Error {}

/// The result type of handler callbacks.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definite_codes_match_maelstrom() {
        let definite: Vec<u32> = (0..1100).filter(|c| ErrorCode(*c).is_definite()).collect();
        assert_eq!(definite, vec![1, 10, 11, 12, 14, 20, 21, 22, 30]);
        assert!(!ErrorCode::CRASH.is_definite());
        assert!(!ErrorCode(1000).is_definite());
    }

    #[test]
    fn display_names_code() {
        let e = Error::malformed("missing field `echo`");
        assert_eq!(
            e.to_string(),
            "error 12 (malformed-request): missing field `echo`"
        );
    }
}
