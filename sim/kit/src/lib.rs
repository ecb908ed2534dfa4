//! The IO-free parts of the glomers bench: the history model, one checker per workload
//! and the state machines behind Maelstrom's services. Nothing here spawns processes,
//! reads clocks or touches files, so every piece is tested with hand-made inputs.

pub mod checker;
pub mod history;
pub mod json;
pub mod service;
