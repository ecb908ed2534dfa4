//! Placeholder: the broadcast family is being written.
