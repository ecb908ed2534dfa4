//! TODO(part 1 checkers): set_full checker.
