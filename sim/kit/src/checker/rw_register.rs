//! TODO(part 2 checkers): rw_register checker.
