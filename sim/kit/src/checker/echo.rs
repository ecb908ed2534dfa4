//! TODO(part 1 checkers): echo checker.
