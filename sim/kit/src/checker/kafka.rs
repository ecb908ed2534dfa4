//! TODO(part 2 checkers): kafka checker.
