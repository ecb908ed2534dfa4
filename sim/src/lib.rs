//! glomers-sim: a Maelstrom-compatible test bench. It spawns any node binary, plays the
//! network (latency, partitions, journal), the services and the clients, records the
//! history, checks it with glomers-simkit and writes results and a report.
//!
//! Module map: [`cli`] flags → [`plan`] → [`runner`] (lifecycle) using [`process`],
//! [`net`] (router, latency, partitions, journal, envelope checks), [`client`] (RPC,
//! reply schemas, error mapping), [`dispatch`] (stagger, workers), [`nemesis`],
//! [`topology`], [`workload`] (one module per workload) and [`recorder`]; then
//! [`results`] (results.json and files), [`report`] (terminal summary), [`report_html`]
//! (report.html, the store index), [`memory`], [`progress`], and
//! [`challenges`] (the Gossip Glomers scorecard).

pub mod challenges;
pub mod cli;
pub mod client;
pub mod deterministic;
pub mod dispatch;
pub mod explore;
pub mod faults;
pub mod interrupt;
pub mod memory;
pub mod nemesis;
pub mod net;
pub mod plan;
pub mod process;
pub mod progress;
pub mod recorder;
pub mod report;
pub mod report_html;
pub mod results;
pub mod runner;
pub mod schedule;
pub mod seed;
pub mod setup;
pub mod topology;
pub mod workload;
