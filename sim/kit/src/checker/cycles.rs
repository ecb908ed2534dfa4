//! TODO(part 2 checkers): cycles checker.
