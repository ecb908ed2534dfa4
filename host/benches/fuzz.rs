//! The fuzzer's long run: for every target (each preset, each family alone in each mode),
//! a million mutated lines into the runtime's `Node` in this process, then a million
//! into the real `glomers-host` over pipes; prints lines/s, crashes, requests, replies
//! and memory per run, and every finding. Exits with 1 if anything was found.
//!
//! Run: `cargo bench -p glomers-host --bench fuzz`. Environment:
//! - `FUZZ_LINES=N` lines per run (default 1,000,000);
//! - `FUZZ_SEED=N` (default 1);
//! - `FUZZ_TARGET=text` only targets whose name contains it;
//! - `FUZZ_MODE=in-process|process` only one of the two kinds of run.
//!
//! In-process memory is what the node still holds after the run (bytes freed when it is
//! dropped, counted by this binary's allocator, which also stops the run if the process
//! goes past 4 GB); for the process it is `VmRSS` after the run and the peak `VmHWM`,
//! from `/proc`.

#[path = "../tests/fuzzing/mod.rs"]
mod fuzzing;

use fuzzing::corpus::{self, targets};
use fuzzing::generate::Huge;
use fuzzing::session::{self, Plan, Report};
use fuzzing::transport::{InProcess, Process};

#[global_allocator]
static ALLOCATOR: fuzzing::CountingAlloc = fuzzing::CountingAlloc;

/// One line of at most 16 MB every this many lines.
const HUGE: Huge = Huge {
    every: 50_000,
    bytes: 16 << 20,
};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "-".into(), |b| format!("{:.1} MB", b as f64 / 1048576.0))
}

fn row(kind: &str, r: &Report) {
    let errors: u64 = r.tally.errors.values().sum();
    println!(
        "{:<18} {:<10} {:>9} {:>10.0} {:>7} {:>9} {:>9} {:>8} {:>6} {:>10} {:>10} {:>10}",
        r.target,
        kind,
        r.tally.lines,
        r.lines_per_sec(),
        r.crashes.len(),
        r.tally.requests,
        r.tally.replies,
        errors,
        r.tally.lost_to_leader_change,
        r.violation_count,
        mb(r.memory_after),
        mb(r.memory_peak),
    );
}

fn main() {
    let lines = env_u64("FUZZ_LINES", 1_000_000);
    let seed = env_u64("FUZZ_SEED", 1);
    let only = std::env::var("FUZZ_TARGET").unwrap_or_default();
    let mode = std::env::var("FUZZ_MODE").unwrap_or_default();
    let corpora = corpus::all();
    println!(
        "fuzz: {lines} mutated lines per run, seed {seed}, a {} MB line every {} lines",
        HUGE.bytes >> 20,
        HUGE.every
    );
    println!(
        "{:<18} {:<10} {:>9} {:>10} {:>7} {:>9} {:>9} {:>8} {:>6} {:>10} {:>10} {:>10}",
        "target",
        "run",
        "lines",
        "lines/s",
        "crashes",
        "requests",
        "replies",
        "errors",
        "lost",
        "violations",
        "mem after",
        "peak RSS"
    );
    let mut findings = String::new();
    for target in targets().iter().filter(|t| t.name.contains(&only)) {
        if mode != "process" {
            let node = match fuzzing::node(target, seed) {
                Ok(n) => n,
                Err(e) => panic!("{}: {e}", target.name),
            };
            let mut t = InProcess::new(node);
            let mut report = session::run(
                target,
                &corpora,
                &mut t,
                Plan::in_process(lines, seed, HUGE),
            );
            let before = fuzzing::live_bytes();
            t.drop_node();
            let held = before.saturating_sub(fuzzing::live_bytes());
            report.memory_after = Some(held as u64);
            row("in-process", &report);
            if !report.clean() {
                findings.push_str(&format!(
                    "{} in-process (seed {seed}):\n{}",
                    target.name,
                    report.findings()
                ));
            }
        }
        if mode != "in-process" {
            let command = fuzzing::command(env!("CARGO_BIN_EXE_glomers-host"), target, seed);
            let mut t = match Process::spawn(command) {
                Ok(p) => p,
                Err(e) => panic!("cannot start glomers-host: {e}"),
            };
            let report = session::run(target, &corpora, &mut t, Plan::process(lines, seed, HUGE));
            row("process", &report);
            if !report.clean() {
                findings.push_str(&format!(
                    "{} process (seed {seed}):\n{}",
                    target.name,
                    report.findings()
                ));
            }
        }
    }
    if findings.is_empty() {
        println!("no crashes, no violations");
    } else {
        println!("\nfindings:\n{findings}");
        std::process::exit(1);
    }
}
