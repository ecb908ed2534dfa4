//! Command-line interface: Maelstrom's `test` flags (same names and defaults) plus our own
//! `--seed`, `--store` and `--recovery-time`, and the `challenges` scorecard.
//!
//! Words that are not options are passed to the node binary, as Maelstrom does; they may
//! appear anywhere (so a copied `–-nemesis` with an en dash becomes an argument, exactly
//! the 6c pitfall of the spec, §6). Use `--` to pass words that start with `-`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// glomers-sim: a Maelstrom-compatible test bench for node binaries.
#[derive(Parser, Debug)]
#[command(name = "glomers-sim", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum Command {
    /// Run one test against a node binary, like `maelstrom test`.
    Test(TestArgs),
    /// Run every Gossip Glomers challenge command and print a scorecard.
    Challenges(ChallengesArgs),
}

/// Flags of `glomers-sim test` (Maelstrom's names and defaults).
#[derive(Args, Debug, Clone)]
pub struct TestArgs {
    /// The workload: echo, unique-ids, broadcast, g-set, g-counter, pn-counter (part 2:
    /// kafka, lin-kv, txn-rw-register, txn-list-append).
    #[arg(short = 'w', long = "workload", default_value = "lin-kv")]
    pub workload: String,
    /// The node binary; resolved to an absolute path, must be executable.
    #[arg(long = "bin")]
    pub bin: PathBuf,
    /// Number of nodes: ids n0..n(N-1). Without it, n1..n5.
    #[arg(long = "node-count")]
    pub node_count: Option<usize>,
    /// Worker threads: an integer, or `Kn` for K times the node count.
    #[arg(long = "concurrency", default_value = "1n")]
    pub concurrency: String,
    /// Seconds of the main phase (whole seconds, positive).
    #[arg(long = "time-limit", default_value_t = 60)]
    pub time_limit: u64,
    /// Client operations per second, across all workers; 0 means none.
    #[arg(long = "rate", default_value_t = 5.0)]
    pub rate: f64,
    /// Mean latency between servers, in milliseconds.
    #[arg(long = "latency", default_value_t = 0)]
    pub latency: u64,
    /// Latency distribution: constant, uniform or exponential.
    #[arg(long = "latency-dist", default_value = "constant")]
    pub latency_dist: String,
    /// Faults to inject; only `partition` exists.
    #[arg(long = "nemesis")]
    pub nemesis: Option<String>,
    /// Mean seconds between nemesis operations.
    #[arg(long = "nemesis-interval", default_value_t = 10.0)]
    pub nemesis_interval: f64,
    /// `total`, or the minimum fraction of operations that must succeed.
    #[arg(long = "availability")]
    pub availability: Option<String>,
    /// Broadcast topology: grid, line, tree, tree2, tree3, tree4, total.
    #[arg(long = "topology", default_value = "grid")]
    pub topology: String,
    /// Echo node stderr on our stderr (it always goes to node-logs/).
    #[arg(long = "log-stderr")]
    pub log_stderr: bool,
    /// Consistency models for the transactional workloads (part 2).
    #[arg(long = "consistency-models", default_value = "strict-serializable")]
    pub consistency_models: String,
    /// Active keys for txn and kafka workloads (part 2).
    #[arg(long = "key-count")]
    pub key_count: Option<u64>,
    /// Maximum micro-operations per transaction (part 2).
    #[arg(long = "max-txn-length", default_value_t = 4)]
    pub max_txn_length: u64,
    /// Writes per key before it is retired (part 2).
    #[arg(long = "max-writes-per-key", default_value_t = 16)]
    pub max_writes_per_key: u64,
    /// Seed for every random choice of the bench (printed in the report).
    #[arg(long = "seed")]
    pub seed: Option<u64>,
    /// Where results go: STORE/WORKLOAD/TIMESTAMP/ (and STORE/latest).
    #[arg(long = "store", default_value = "store")]
    pub store: PathBuf,
    /// Seconds to wait after healing, before the final reads (Maelstrom: 10).
    #[arg(long = "recovery-time", default_value_t = 10.0)]
    pub recovery_time: f64,
    /// Words passed to the node binary as its arguments.
    #[arg(value_name = "ARGS", allow_hyphen_values = false)]
    pub args: Vec<String>,
}

/// Flags of `glomers-sim challenges`.
#[derive(Args, Debug, Clone)]
pub struct ChallengesArgs {
    /// Node binary (default: glomers-host next to this executable).
    #[arg(long = "bin")]
    pub bin: Option<PathBuf>,
    /// Only these challenges, comma separated (e.g. `3d,4`).
    #[arg(long = "only")]
    pub only: Option<String>,
    /// Also run the rows beyond the challenges (Maelstrom's other workloads: g-set,
    /// pn-counter, lin-kv, txn-rw-register and txn-list-append at strict-serializable).
    #[arg(long = "all")]
    pub all: bool,
    /// Seed for every test (each challenge derives its own).
    #[arg(long = "seed")]
    pub seed: Option<u64>,
    /// Where results go.
    #[arg(long = "store", default_value = "store")]
    pub store: PathBuf,
    /// Directory holding the config presets (default: the `config/` found by walking up
    /// from this executable).
    #[arg(long = "config-dir")]
    pub config_dir: Option<PathBuf>,
    /// Seconds of recovery before final reads (Maelstrom: 10).
    #[arg(long = "recovery-time", default_value_t = 10.0)]
    pub recovery_time: f64,
}
