//! Placeholder: the counter family is being written.
