//! TODO(part 1 checkers): unique_ids checker.
