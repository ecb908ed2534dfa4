//! TODO(part 1 checkers): Jepsen's stats checker (every f needs an ok).
