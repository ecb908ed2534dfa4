//! Placeholder: the txn family is being written.
