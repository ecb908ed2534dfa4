//! The shared part of the transactional checkers (Elle-style): a transaction
//! dependency graph with typed edges (ww, wr, rw, process, realtime), strongly
//! connected components (iterative Tarjan, safe for 200,000 transactions), a budgeted
//! search for short example cycles of each anomaly class, the consistency models and
//! what they prohibit, and the report wording shared by txn-rw-register,
//! txn-list-append and kafka.

pub mod budget;
pub mod graph;
pub mod models;
pub mod order;
pub mod report;
pub mod scc;
pub mod search;
#[cfg(test)]
pub mod testkit;
pub mod txn;

pub use budget::Budget;
pub use graph::{Csr, GraphBuilder, Rel, RelSet};
pub use models::{Model, Models};
pub use search::{search, Base, Cycle, CycleClass, SearchOptions, SearchOutcome, Step};
