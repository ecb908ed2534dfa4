//! `glomers-sim explore`: many seeds of one test on the deterministic driver, each with
//! its own random fault schedule, split across the cores; a table of verdicts; every
//! failing seed shrunk to a small case and written as a replay file that
//! `explore --replay FILE` reproduces exactly.
//!
//! Seeds are independent, so `--shard I/N` takes every N-th seed starting at the I-th (1
//! to N): any batch runner (a CI matrix, GNU parallel, a cluster scheduler) can spread a
//! range over machines. There is no runner of our own.

pub mod case;
pub mod shrink;

use crate::cli::ExploreArgs;
use crate::deterministic::host::{HostConfig, HostNodes};
use crate::faults::{draw, FaultMode};
use case::{Case, Verdict};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Runs `explore`; returns the exit code (0: every seed valid, 1: some failed, 254: bad
/// arguments).
pub fn run(args: &ExploreArgs) -> i32 {
    glomers_handlers::link();
    if let Some(file) = &args.replay {
        return replay(file, &args.test.store);
    }
    match explore(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("glomers-sim explore: {e}");
            254
        }
    }
}

/// A replay file: one case and what it broke when it was written.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReplayFile {
    /// The glomers-sim version that wrote it (random streams may change between versions).
    pub glomers_sim: String,
    /// The case.
    pub case: Case,
    /// What the case did when it was written.
    pub expect: Expectation,
}

/// The verdict a replay must reproduce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// The bench's exit code.
    pub exit_code: i32,
    /// Broken rules, `checker:rule`.
    pub rules: Vec<String>,
    /// Their explanations.
    pub findings: Vec<String>,
}

impl Expectation {
    fn of(v: &Verdict) -> Expectation {
        Expectation {
            exit_code: v.exit_code,
            rules: v.rules.iter().cloned().collect(),
            findings: v.findings.clone(),
        }
    }
}

/// Parses `--seeds`: `N`, `A..B` or `A..=B` (both ends included).
pub fn parse_seeds(s: &str) -> Result<Vec<u64>, String> {
    let bad = || format!("--seeds {s:?}: expected N, A..B or A..=B (both ends included)");
    let s = s.trim();
    let Some((a, b)) = s.split_once("..") else {
        return s.parse::<u64>().map(|n| vec![n]).map_err(|_| bad());
    };
    let b = b.strip_prefix('=').unwrap_or(b);
    let (a, b): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if b < a {
        return Err(bad());
    }
    Ok((a..=b).collect())
}

/// Parses `--shard I/N` (1 ≤ I ≤ N) and keeps the I-th of every N seeds.
pub fn shard(seeds: Vec<u64>, spec: Option<&str>) -> Result<Vec<u64>, String> {
    let Some(spec) = spec else {
        return Ok(seeds);
    };
    let bad = || format!("--shard {spec:?}: expected I/N with 1 <= I <= N");
    let (i, n) = spec.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(bad());
    }
    Ok(seeds
        .into_iter()
        .enumerate()
        .filter(|(k, _)| k % n == i - 1)
        .map(|(_, s)| s)
        .collect())
}

/// One seed's outcome.
struct SeedResult {
    seed: u64,
    case: Case,
    verdict: Verdict,
    cpu: Duration,
}

fn explore(args: &ExploreArgs) -> Result<i32, String> {
    if args.test.nemesis.is_some() {
        return Err("use --faults (e.g. --faults partition) instead of --nemesis".into());
    }
    let modes = FaultMode::parse_list(&args.faults)?;
    let seeds = shard(parse_seeds(&args.seeds)?, args.shard.as_deref())?;
    let config = HostConfig::from_args(&args.test.args, glomers_handlers::PRESETS)?;
    let nodes = HostNodes::new(&config)?;
    let template = Case {
        args: args.test.clone(),
        config,
        faults: Vec::new(),
    };
    let (_, plan) = template.plan()?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    eprintln!(
        "glomers-sim explore: {} on {} nodes, {} s at {} op/s, faults: {}; {} seeds on {} jobs; config {}",
        plan.workload,
        plan.nodes.len(),
        plan.time_limit.as_secs(),
        plan.rate,
        if modes.is_empty() { "none".to_string() } else { modes.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ") },
        seeds.len(),
        jobs,
        template.config.source,
    );
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let results: Mutex<Vec<SeedResult>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(k) else {
                    break;
                };
                let mut case = template.clone();
                case.args.seed = Some(seed);
                case.faults = draw(
                    &modes,
                    &plan.nodes,
                    plan.nemesis_interval,
                    plan.time_limit,
                    seed,
                );
                let t = Instant::now();
                let verdict = case.run_with(&nodes, false, false);
                let cpu = t.elapsed();
                if verdict.failed() {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                done.fetch_add(1, Ordering::Relaxed);
                let r = SeedResult {
                    seed,
                    case,
                    verdict,
                    cpu,
                };
                match results.lock() {
                    Ok(mut v) => v.push(r),
                    Err(p) => p.into_inner().push(r),
                }
            });
        }
        let mut last = Instant::now() - Duration::from_secs(1);
        while done.load(Ordering::Relaxed) < seeds.len() {
            if last.elapsed() >= Duration::from_millis(200) {
                progress(
                    done.load(Ordering::Relaxed),
                    seeds.len(),
                    failed.load(Ordering::Relaxed),
                    started,
                );
                last = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        progress(
            seeds.len(),
            seeds.len(),
            failed.load(Ordering::Relaxed),
            started,
        );
        eprintln!();
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|r| r.seed);
    print_table(&results, started.elapsed());
    let failing: Vec<&SeedResult> = results.iter().filter(|r| r.verdict.failed()).collect();
    if failing.is_empty() {
        return Ok(0);
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    for r in failing.iter().take(args.shrink) {
        println!();
        println!(
            "Seed {} broke {}; shrinking ({} faults, {} s, {} nodes)…",
            r.seed,
            r.verdict
                .rules
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            r.case.faults.len(),
            r.case.args.time_limit,
            plan.nodes.len()
        );
        let s = shrink::shrink(&r.case, &r.verdict, &nodes, args.shrink_budget);
        let path = args
            .out
            .join(format!("replay-{}-seed{}.json", plan.workload, r.seed));
        write_replay(&path, &s.case, &s.verdict)?;
        println!(
            "  shrunk in {} runs to {} fault{}, {} s, {} op/s, {} nodes: {}",
            s.runs,
            s.case.faults.len(),
            if s.case.faults.len() == 1 { "" } else { "s" },
            s.case.args.time_limit,
            s.case.args.rate,
            s.case.node_ids().len(),
            s.verdict
                .rules
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
        for f in &s.case.faults {
            println!("    - {}", f.describe());
        }
        if let Some(first) = s.verdict.findings.first() {
            println!("  {first}");
        }
        println!("  replay: glomers-sim explore --replay {}", path.display());
    }
    if failing.len() > args.shrink {
        println!(
            "\n{} more failing seed{} not shrunk (--shrink {}).",
            failing.len() - args.shrink,
            if failing.len() - args.shrink == 1 {
                ""
            } else {
                "s"
            },
            args.shrink
        );
    }
    Ok(1)
}

fn progress(done: usize, total: usize, failed: usize, started: Instant) {
    const WIDTH: usize = 30;
    let filled = (done * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH)
        .min(WIDTH);
    let bar: String = "=".repeat(filled) + &" ".repeat(WIDTH - filled);
    eprint!(
        "\r[{bar}] {done}/{total} seeds, {failed} failing, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let _ = std::io::stderr().flush();
}

fn print_table(results: &[SeedResult], wall: Duration) {
    let count = |w: &str| results.iter().filter(|r| r.verdict.word() == w).count();
    let cpu: Duration = results.iter().map(|r| r.cpu).sum();
    let per_seed = cpu.as_secs_f64() * 1000.0 / results.len().max(1) as f64;
    println!(
        "{} seeds in {:.1} s: {} valid, {} invalid, {} unknown, {} crashed; {:.0} ms of CPU per seed ({:.0} seeds per minute per core)",
        results.len(),
        wall.as_secs_f64(),
        count("valid"),
        count("INVALID"),
        count("unknown"),
        count("CRASH"),
        per_seed,
        if per_seed > 0.0 { 60_000.0 / per_seed } else { 0.0 },
    );
    let failing: Vec<&SeedResult> = results.iter().filter(|r| r.verdict.failed()).collect();
    if failing.is_empty() {
        return;
    }
    println!();
    println!(
        "{:<8} {:<8} {:>7} {:>8}  broken rules",
        "seed", "verdict", "faults", "msgs/op"
    );
    for r in failing.iter().take(50) {
        println!(
            "{:<8} {:<8} {:>7} {:>8}  {}",
            r.seed,
            r.verdict.word(),
            r.case.faults.len(),
            r.verdict
                .msgs_per_op
                .map_or("-".into(), |m| format!("{m:.2}")),
            r.verdict
                .rules
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if failing.len() > 50 {
        println!("… and {} more", failing.len() - 50);
    }
}

fn write_replay(path: &Path, case: &Case, verdict: &Verdict) -> Result<(), String> {
    let file = ReplayFile {
        glomers_sim: env!("CARGO_PKG_VERSION").to_string(),
        case: case.clone(),
        expect: Expectation::of(verdict),
    };
    let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads a replay file.
pub fn read_replay(path: &Path) -> Result<ReplayFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not a replay file: {e}", path.display()))
}

/// `explore --replay FILE`: runs the case, writes its store and report, and says whether
/// it broke exactly what the file expects. Exit 0 when it did, 1 when not.
fn replay(path: &Path, store: &Path) -> i32 {
    let file = match read_replay(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("glomers-sim explore: {e}");
            return 254;
        }
    };
    let mut case = file.case;
    case.args.store = store.to_path_buf();
    let verdict = case.run(true, true);
    let got = Expectation::of(&verdict);
    println!();
    if got == file.expect {
        println!(
            "Replay reproduced: {} ({}).",
            verdict.word(),
            got.rules.join(", ")
        );
        0
    } else {
        println!("Replay did NOT reproduce the expected verdict.");
        println!(
            "  expected: exit {} {:?}",
            file.expect.exit_code, file.expect.rules
        );
        println!("  got:      exit {} {:?}", got.exit_code, got.rules);
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_include_both_ends_and_shards_interleave() {
        assert_eq!(parse_seeds("3").unwrap(), vec![3]);
        assert_eq!(parse_seeds("1..4").unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(parse_seeds("1..=2").unwrap(), vec![1, 2]);
        assert!(parse_seeds("5..1").is_err());
        assert!(parse_seeds("x").is_err());
        let all = parse_seeds("1..10").unwrap();
        let a = shard(all.clone(), Some("1/3")).unwrap();
        let b = shard(all.clone(), Some("2/3")).unwrap();
        let c = shard(all.clone(), Some("3/3")).unwrap();
        assert_eq!(a, vec![1, 4, 7, 10]);
        let mut union = [a, b, c].concat();
        union.sort();
        assert_eq!(union, all);
        assert!(shard(all.clone(), Some("0/3")).is_err());
        assert!(shard(all, Some("4/3")).is_err());
    }
}
