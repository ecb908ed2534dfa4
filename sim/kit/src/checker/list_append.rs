//! TODO(part 2 checkers): list_append checker.
