//! The glomers runtime: everything a Maelstrom node needs except the handler logic.
//!
//! A handler family declares its messages as a serde enum, its timers and RPC purposes as
//! its own types, and writes effects through a [`Ctx`]; the runtime routes, numbers,
//! times out and serializes. A complete family:
//!
//! ```
//! use glomers_runtime::{Ctx, Family, Handler, Never, Result, Sender};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! #[serde(tag = "type", rename_all = "snake_case")]
//! enum Msg {
//!     Echo { echo: serde_json::Value },
//! }
//!
//! #[derive(Serialize)]
//! #[serde(tag = "type", rename_all = "snake_case")]
//! enum Reply {
//!     EchoOk { echo: serde_json::Value },
//! }
//!
//! struct Echo;
//!
//! impl Handler for Echo {
//!     type Msg<'a> = Msg;
//!     type Timer = Never;
//!     type Rpc = Never;
//!
//!     fn on_message(&mut self, ctx: &mut Ctx<Self>, from: Sender, msg: Msg) -> Result<()> {
//!         let Msg::Echo { echo } = msg;
//!         ctx.reply(&from, &Reply::EchoOk { echo });
//!         Ok(())
//!     }
//! }
//!
//! // Registered at link time; `node.handlers = ["echo"]` in the config enables it.
//! glomers_runtime::inventory::submit! {
//!     glomers_runtime::HandlerSpec {
//!         family: "echo",
//!         summary: "echo requests back",
//!         build: |_section| Ok(Family::new(Echo)),
//!     }
//! }
//! ```
//!
//! The modules:
//! - [`handler`]: the [`Handler`] trait and the values it is handed ([`Sender`],
//!   [`Waiter`], [`RpcOutcome`]).
//! - [`ctx`]: the [`Ctx`] handlers act through, and the [`Command`]s it records.
//! - [`routing`]: message types derived from a family's enum, and body decoding.
//! - [`family`] and [`node`]: the sans-IO core (msg ids, RPC and timer tables, timeouts,
//!   dispatch, error replies, panic containment).
//! - [`message`]: the wire format (borrowed parsing, one-line output).
//! - [`registry`]: link-time registration with `inventory` and the enabled set.
//! - [`config`]: TOML sections with checked keys and environment overrides.
//! - [`services`]: typed clients for lin-kv, seq-kv, lww-kv and lin-tso.
//! - [`io_loop`] and [`startup`]: the process around it all.
//! - [`testkit`]: a virtual-clock node harness and a sandbox to call handlers directly.

pub mod config;
pub mod ctx;
pub mod error;
pub mod family;
pub mod handler;
pub mod io_loop;
pub mod logging;
pub mod message;
pub mod node;
pub mod registry;
pub mod routing;
pub mod services;
pub mod startup;
pub mod testkit;
pub mod timers;

pub use config::{ConfigError, Section};
pub use ctx::{Command, Ctx, NodeInfo, NodeRng, Seeds};
pub use error::{Error, ErrorCode, Result};
pub use family::Family;
pub use handler::{Handler, Never, RpcOutcome, Sender, Waiter};
pub use inventory;
pub use message::Message;
pub use node::Node;
pub use registry::HandlerSpec;
pub use timers::TimerId;
