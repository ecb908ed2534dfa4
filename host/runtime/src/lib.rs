//! The glomers runtime: everything a Maelstrom node needs except the handler logic.
//!
//! - [`message`]: the wire format (borrowed parsing, one-line output).
//! - [`node`]: the sans-IO core (msg ids, RPCs with tokens and timeouts, timers, dispatch,
//!   error replies, panic containment) and the [`Ctx`] handlers act through.
//! - [`handler`]: the [`Handler`] trait families implement.
//! - [`registry`]: link-time registration with `inventory` and the enabled set.
//! - [`config`]: TOML sections with checked keys and environment overrides.
//! - [`services`]: typed clients for lin-kv, seq-kv, lww-kv and lin-tso.
//! - [`io_loop`] and [`startup`]: the process around it all.
//! - [`testkit`]: a virtual-clock harness for unit tests.

pub mod config;
pub mod error;
pub mod handler;
pub mod io_loop;
pub mod logging;
pub mod message;
pub mod node;
pub mod registry;
pub mod services;
pub mod startup;
pub mod testkit;
pub mod timers;

pub use config::{ConfigError, Section};
pub use error::{Error, ErrorCode, Result};
pub use handler::{Handler, RpcOutcome};
pub use inventory;
pub use message::Message;
pub use node::{Ctx, NodeInfo, Waiter};
pub use registry::HandlerSpec;
pub use timers::TimerId;
