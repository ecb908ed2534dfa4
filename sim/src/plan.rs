//! The test plan: every flag validated and expanded (node ids, worker count, latency
//! model, nemesis, availability), in Maelstrom's order (latency → node-count → args →
//! concurrency). A bad flag is a [`PlanError`], which the binary turns into exit 254.

use crate::cli::TestArgs;
use crate::net::latency::{LatencyDist, LatencyModel};
use crate::topology::TopologyKind;
use glomers_simkit::checker::availability::{self, Availability};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Why the command line was refused (exit 254).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanError(pub String);

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything a test run needs to know, resolved from the flags.
#[derive(Debug, Clone)]
pub struct TestPlan {
    /// Workload name as given (`echo`, `broadcast`, ...).
    pub workload: String,
    /// Absolute path of the node binary.
    pub bin: PathBuf,
    /// Arguments for the node binary.
    pub bin_args: Vec<String>,
    /// Node ids in `init` order.
    pub nodes: Vec<String>,
    /// Number of worker threads.
    pub concurrency: usize,
    /// Main-phase length.
    pub time_limit: Duration,
    /// Operations per second across all workers (0: none).
    pub rate: f64,
    /// Inter-server latency model.
    pub latency: LatencyModel,
    /// Whether the partition nemesis runs.
    pub nemesis_partition: bool,
    /// Mean seconds between nemesis operations.
    pub nemesis_interval: Duration,
    /// Availability requirement, if any.
    pub availability: Option<Availability>,
    /// Broadcast topology.
    pub topology: TopologyKind,
    /// Echo node stderr.
    pub log_stderr: bool,
    /// Consistency models (part 2).
    pub consistency_models: Vec<String>,
    /// Active keys (part 2).
    pub key_count: Option<u64>,
    /// Max micro-ops per txn (part 2).
    pub max_txn_length: u64,
    /// Max writes per key (part 2).
    pub max_writes_per_key: u64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Results root.
    pub store: PathBuf,
    /// Wait between heal and final reads.
    pub recovery_time: Duration,
}

impl TestPlan {
    /// Builds and validates a plan from the parsed flags.
    pub fn from_args(a: &TestArgs) -> Result<TestPlan, PlanError> {
        let dist = LatencyDist::parse(&a.latency_dist)?;
        let nodes: Vec<String> = match a.node_count {
            Some(0) => return Err(PlanError("--node-count must be at least 1".into())),
            Some(n) => (0..n).map(|i| format!("n{i}")).collect(),
            None => (1..=5).map(|i| format!("n{i}")).collect(),
        };
        let concurrency = parse_concurrency(&a.concurrency, nodes.len())?;
        if a.time_limit == 0 {
            return Err(PlanError("--time-limit must be a positive integer".into()));
        }
        if !a.rate.is_finite() || a.rate < 0.0 {
            return Err(PlanError(format!(
                "--rate must be a non-negative number, got {}",
                a.rate
            )));
        }
        let nemesis_partition = match a.nemesis.as_deref() {
            None => false,
            Some(s) => {
                for f in s.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                    if f != "partition" {
                        return Err(PlanError(format!(
                            "--nemesis: unknown fault {f:?}; the only one is \"partition\""
                        )));
                    }
                }
                true
            }
        };
        if !a.nemesis_interval.is_finite() || a.nemesis_interval <= 0.0 {
            return Err(PlanError("--nemesis-interval must be positive".into()));
        }
        let availability = match a.availability.as_deref() {
            None => None,
            Some(s) => Some(availability::parse(s).map_err(PlanError)?),
        };
        for (flag, v) in [
            ("--key-count", a.key_count.unwrap_or(1)),
            ("--max-txn-length", a.max_txn_length),
            ("--max-writes-per-key", a.max_writes_per_key),
        ] {
            if v == 0 {
                return Err(PlanError(format!("{flag} must be positive")));
            }
        }
        let topology = TopologyKind::parse(&a.topology)?;
        if !a.recovery_time.is_finite() || a.recovery_time < 0.0 {
            return Err(PlanError("--recovery-time must be >= 0".into()));
        }
        let bin = match (&a.bin, a.deterministic) {
            (Some(b), false) => resolve_bin(b)?,
            // In-process: the nodes are linked in; `--bin`, if given, is only recorded.
            (Some(b), true) => b.clone(),
            (None, true) => std::env::current_exe().unwrap_or_default(),
            (None, false) => {
                return Err(PlanError(
                    "--bin is required: the node binary to test (or --deterministic, to run \
                     the host's families in-process)"
                        .into(),
                ))
            }
        };
        let seed = a.seed.unwrap_or_else(random_seed);
        Ok(TestPlan {
            workload: a.workload.clone(),
            bin,
            bin_args: a.args.clone(),
            nodes,
            concurrency,
            time_limit: Duration::from_secs(a.time_limit),
            rate: a.rate,
            latency: LatencyModel {
                mean_ms: a.latency,
                dist,
            },
            nemesis_partition,
            nemesis_interval: Duration::from_secs_f64(a.nemesis_interval),
            availability,
            topology,
            log_stderr: a.log_stderr,
            consistency_models: split_models(&a.consistency_models),
            key_count: a.key_count,
            max_txn_length: a.max_txn_length,
            max_writes_per_key: a.max_writes_per_key,
            seed,
            store: a.store.clone(),
            recovery_time: Duration::from_secs_f64(a.recovery_time),
        })
    }
}

/// Parses `--concurrency`: `N` or `Kn` (K × node count).
pub fn parse_concurrency(s: &str, node_count: usize) -> Result<usize, PlanError> {
    let bad = || {
        PlanError(format!(
            "--concurrency {s:?}: expected an integer or Kn (e.g. 2n = twice the node count)"
        ))
    };
    let s = s.trim();
    let n = if let Some(k) = s.strip_suffix('n') {
        k.parse::<usize>().map_err(|_| bad())? * node_count
    } else {
        s.parse::<usize>().map_err(|_| bad())?
    };
    if n == 0 {
        return Err(PlanError("--concurrency must be at least 1".into()));
    }
    Ok(n)
}

/// Splits `--consistency-models` as Maelstrom does: only a comma with whitespace on both
/// sides separates two models.
pub fn split_models(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        let found = rest.char_indices().find(|&(i, c)| {
            c == ','
                && rest[..i].ends_with(char::is_whitespace)
                && rest[i + 1..].starts_with(char::is_whitespace)
        });
        match found {
            Some((i, _)) => {
                out.push(rest[..i].trim().to_string());
                rest = &rest[i + 1..];
            }
            None => {
                out.push(rest.trim().to_string());
                return out;
            }
        }
    }
}

/// Resolves `--bin` to an absolute path and checks it can be executed.
pub fn resolve_bin(p: &std::path::Path) -> Result<PathBuf, PlanError> {
    use std::os::unix::fs::PermissionsExt;
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| PlanError(format!("cannot read the current directory: {e}")))?
            .join(p)
    };
    let meta =
        std::fs::metadata(&abs).map_err(|e| PlanError(format!("--bin {}: {e}", abs.display())))?;
    if !meta.is_file() {
        return Err(PlanError(format!("--bin {}: not a file", abs.display())));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(PlanError(format!(
            "--bin {}: not executable (chmod +x, and give scripts a #! line)",
            abs.display()
        )));
    }
    Ok(abs)
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    crate::seed::mix(nanos ^ u64::from(std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_plain_and_multiplied() {
        assert_eq!(parse_concurrency("3", 5), Ok(3));
        assert_eq!(parse_concurrency("1n", 5), Ok(5));
        assert_eq!(parse_concurrency("2n", 2), Ok(4));
        assert_eq!(parse_concurrency("10n", 25), Ok(250));
    }

    #[test]
    fn concurrency_rejects_garbage_and_zero() {
        assert!(parse_concurrency("n", 3).is_err());
        assert!(parse_concurrency("1.5n", 3).is_err());
        assert!(parse_concurrency("x", 3).is_err());
        assert!(parse_concurrency("0", 3).is_err());
        assert!(parse_concurrency("0n", 3).is_err());
    }

    #[test]
    fn models_split_only_on_spaced_commas() {
        assert_eq!(split_models("serializable"), vec!["serializable"]);
        assert_eq!(split_models("a,b"), vec!["a,b"]);
        assert_eq!(split_models("a , b"), vec!["a", "b"]);
    }
}
