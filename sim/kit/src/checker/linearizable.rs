//! TODO(part 2 checkers): linearizable checker.
