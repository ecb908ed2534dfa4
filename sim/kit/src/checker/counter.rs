//! TODO(part 1 checkers): counter checker.
