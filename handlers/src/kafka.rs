//! Placeholder: the kafka family is being written.
