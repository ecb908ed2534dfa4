//! TODO(part 1 checkers): availability checker.
