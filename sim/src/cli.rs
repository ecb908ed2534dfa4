//! Command-line interface: Maelstrom's `test` flags (same names and defaults) plus our own
//! `--seed`, `--store` and `--recovery-time`, and the `challenges` scorecard.
//!
//! Words that are not options are passed to the node binary, as Maelstrom does; they may
//! appear anywhere (so a copied `–-nemesis` with an en dash becomes an argument, exactly
//! the 6c pitfall of the spec, §6). Use `--` to pass words that start with `-`.
//!
//! Numeric flags are parsed by the small functions at the end of this file, so a bad value
//! is refused with what the flag allows (negative numbers reach them too, instead of being
//! taken for unknown flags).

use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};
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
    /// Run many seeds of a test on the deterministic driver with random faults, shrink
    /// the failures and write replay files (not in Maelstrom).
    Explore(ExploreArgs),
    /// (Re)write report.html for runs already in the store, and the store's index.html.
    Report(ReportArgs),
}

/// Flags of `glomers-sim test` (Maelstrom's names and defaults).
#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct TestArgs {
    /// The workload: echo, unique-ids, broadcast, g-set, g-counter, pn-counter (part 2:
    /// kafka, lin-kv, txn-rw-register, txn-list-append).
    #[arg(short = 'w', long = "workload", default_value = "lin-kv")]
    pub workload: String,
    /// The node binary; resolved to an absolute path, must be executable. Not needed with
    /// `--deterministic`.
    #[arg(long = "bin")]
    pub bin: Option<PathBuf>,
    /// Run in-process on the deterministic driver instead of spawning `--bin`: the host's
    /// handler families linked into glomers-sim, one virtual clock, seeded randomness. Same
    /// flags, checks and store; the run replays exactly from its seed. (Not in Maelstrom.)
    #[arg(long = "deterministic")]
    pub deterministic: bool,
    /// Number of nodes: ids n0..n(N-1). Without it, n1..n5.
    #[arg(long = "node-count", value_parser = node_count, allow_negative_numbers = true)]
    pub node_count: Option<usize>,
    /// Worker threads: an integer, or `Kn` for K times the node count.
    #[arg(long = "concurrency", default_value = "1n")]
    pub concurrency: String,
    /// Seconds of the main phase (whole seconds, positive).
    #[arg(long = "time-limit", default_value_t = 60, value_parser = time_limit, allow_negative_numbers = true)]
    pub time_limit: u64,
    /// Client operations per second, across all workers; 0 means none.
    #[arg(long = "rate", default_value_t = 5.0, value_parser = rate, allow_negative_numbers = true)]
    pub rate: f64,
    /// Mean latency between servers, in milliseconds.
    #[arg(long = "latency", default_value_t = 0, value_parser = latency, allow_negative_numbers = true)]
    pub latency: u64,
    /// Latency distribution: constant, uniform or exponential.
    #[arg(long = "latency-dist", default_value = "constant")]
    pub latency_dist: String,
    /// Faults to inject; only `partition` exists.
    #[arg(long = "nemesis")]
    pub nemesis: Option<String>,
    /// Mean seconds between nemesis operations.
    #[arg(long = "nemesis-interval", default_value_t = 10.0, value_parser = positive_seconds, allow_negative_numbers = true)]
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
    #[arg(long = "key-count", value_parser = key_count, allow_negative_numbers = true)]
    pub key_count: Option<u64>,
    /// Maximum micro-operations per transaction (part 2).
    #[arg(long = "max-txn-length", default_value_t = 4, value_parser = max_txn_length, allow_negative_numbers = true)]
    pub max_txn_length: u64,
    /// Writes per key before it is retired (part 2).
    #[arg(long = "max-writes-per-key", default_value_t = 16, value_parser = max_writes_per_key, allow_negative_numbers = true)]
    pub max_writes_per_key: u64,
    /// Seed for every random choice of the bench (printed in the report).
    #[arg(long = "seed", value_parser = seed, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Where results go: STORE/WORKLOAD/TIMESTAMP/ (and STORE/latest).
    #[arg(long = "store", default_value = "store")]
    pub store: PathBuf,
    /// Seconds to wait after healing, before the final reads (Maelstrom: 10).
    #[arg(long = "recovery-time", default_value_t = 10.0, value_parser = seconds, allow_negative_numbers = true)]
    pub recovery_time: f64,
    /// Words passed to the node binary as its arguments.
    #[arg(value_name = "ARGS", allow_hyphen_values = false)]
    pub args: Vec<String>,
}

/// Flags of `glomers-sim explore`: the `test` flags (the run always deterministic), plus
/// which seeds and which faults.
#[derive(Args, Debug, Clone)]
pub struct ExploreArgs {
    /// The test, as for `glomers-sim test` (`--seed` and `--nemesis` are not used: see
    /// `--seeds` and `--faults`).
    #[command(flatten)]
    pub test: TestArgs,
    /// Seeds to run: N, A..B or A..=B (both ends included).
    #[arg(long = "seeds", default_value = "1..100")]
    pub seeds: String,
    /// Faults drawn per seed, comma separated: `partition` (Maelstrom's partition
    /// nemesis), and, not in Maelstrom: `partition-random` (random halves, a
    /// majority/minority split, one node isolated or a bridge, at random times),
    /// `pause` (a node stops processing for a while), `duplicate` (messages to a node
    /// arrive twice for a while); or `none`.
    #[arg(long = "faults", default_value = "partition")]
    pub faults: String,
    /// Run only the I-th of every N seeds (1 <= I <= N), to spread a range over machines.
    #[arg(long = "shard", value_name = "I/N")]
    pub shard: Option<String>,
    /// Seeds run at once (default: the number of cores).
    #[arg(long = "jobs")]
    pub jobs: Option<usize>,
    /// How many failing seeds to shrink and write replay files for.
    #[arg(long = "shrink", default_value_t = 3)]
    pub shrink: usize,
    /// Most runs spent shrinking one seed.
    #[arg(long = "shrink-budget", default_value_t = 300)]
    pub shrink_budget: usize,
    /// Where replay files go.
    #[arg(long = "out", default_value = "store/explore")]
    pub out: PathBuf,
    /// Reproduce a replay file (writes its run to the store, with its report) instead of
    /// exploring.
    #[arg(long = "replay", value_name = "FILE")]
    pub replay: Option<PathBuf>,
}

/// Flags of `glomers-sim challenges`.
#[derive(Args, Debug, Clone)]
pub struct ChallengesArgs {
    /// Run every row in-process on the deterministic driver (virtual time: seconds for the
    /// whole scorecard) instead of spawning the node binary in real time.
    #[arg(long = "deterministic")]
    pub deterministic: bool,
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
    #[arg(long = "seed", value_parser = seed, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Where results go.
    #[arg(long = "store", default_value = "store")]
    pub store: PathBuf,
    /// Directory holding the config presets (default: the `config/` found by walking up
    /// from this executable).
    #[arg(long = "config-dir")]
    pub config_dir: Option<PathBuf>,
    /// Seconds of recovery before final reads (Maelstrom: 10).
    #[arg(long = "recovery-time", default_value_t = 10.0, value_parser = seconds, allow_negative_numbers = true)]
    pub recovery_time: f64,
}

/// Flags of `glomers-sim report`.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// The store the runs are in.
    #[arg(long = "store", default_value = "store")]
    pub store: PathBuf,
    /// Run folders to report on (default: every run in the store).
    #[arg(value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
}

/// A whole number of at least `min`, or what is allowed.
fn whole(s: &str, min: u64, what: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("expected a whole number of {what}, {min} or more")),
    }
}

/// A finite number of at least 0 (or above 0 when `positive`), or what is allowed.
fn number(s: &str, positive: bool, what: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && (x > 0.0 || (!positive && x == 0.0)) => Ok(x),
        _ if positive => Err(format!("expected a number of {what} greater than 0")),
        _ => Err(format!("expected a number of {what}, 0 or more")),
    }
}

/// `--node-count`.
fn node_count(s: &str) -> Result<usize, String> {
    whole(s, 1, "nodes").map(|n| n as usize)
}

/// `--time-limit`: whole seconds, as Maelstrom parses it.
fn time_limit(s: &str) -> Result<u64, String> {
    whole(s, 1, "seconds")
}

/// `--rate`.
fn rate(s: &str) -> Result<f64, String> {
    number(
        s,
        false,
        "operations per second (0 runs no client operations)",
    )
}

/// `--latency`.
fn latency(s: &str) -> Result<u64, String> {
    whole(s, 0, "milliseconds")
}

/// `--nemesis-interval`.
fn positive_seconds(s: &str) -> Result<f64, String> {
    number(s, true, "seconds")
}

/// `--recovery-time`.
fn seconds(s: &str) -> Result<f64, String> {
    number(s, false, "seconds")
}

/// `--key-count`.
fn key_count(s: &str) -> Result<u64, String> {
    whole(s, 1, "keys")
}

/// `--max-txn-length`.
fn max_txn_length(s: &str) -> Result<u64, String> {
    whole(s, 1, "micro-operations")
}

/// `--max-writes-per-key`.
fn max_writes_per_key(s: &str) -> Result<u64, String> {
    whole(s, 1, "writes")
}

/// `--seed`.
fn seed(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("expected a whole number from 0 to {}", u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_flags_say_what_they_allow() {
        assert_eq!(time_limit("20"), Ok(20));
        assert_eq!(
            time_limit("0"),
            Err("expected a whole number of seconds, 1 or more".into())
        );
        assert_eq!(time_limit("2.5"), time_limit("0"));
        assert_eq!(rate("0"), Ok(0.0));
        assert_eq!(
            rate("-1"),
            Err(
                "expected a number of operations per second (0 runs no client operations), 0 \
                 or more"
                    .into()
            )
        );
        assert!(rate("NaN").is_err() && rate("inf").is_err());
        assert_eq!(
            positive_seconds("0"),
            Err("expected a number of seconds greater than 0".into())
        );
        assert_eq!(seconds("0"), Ok(0.0));
        assert_eq!(
            latency("-5"),
            Err("expected a whole number of milliseconds, 0 or more".into())
        );
        assert_eq!(node_count("3"), Ok(3));
        assert_eq!(
            key_count("0"),
            Err("expected a whole number of keys, 1 or more".into())
        );
        assert_eq!(max_txn_length("4"), Ok(4));
        assert!(max_writes_per_key("-3").is_err());
        assert!(seed("-1").is_err());
    }
}
