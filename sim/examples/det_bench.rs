//! Benchmarks of the deterministic driver; prints figures, asserts nothing.
//!
//! `cargo run --release -p glomers-sim --example det_bench` measures the CPU time of one
//! seed of the 3e scenario (25 nodes, `--latency 100 --rate 100 --time-limit 20`, the
//! partition nemesis) over 20 seeds. With `--compare`, it also runs the 3d, 3e, 4 and 5c
//! challenge commands on both drivers with the same seeds (3 each; the real-time runs
//! take about 30 s apiece) and prints msgs/op and stable latencies side by side.

use clap::Parser;
use glomers_sim::cli::{Cli, Command, TestArgs};
use glomers_sim::deterministic::host::HostNodes;
use glomers_sim::deterministic::{run, store, DetSetup};
use glomers_sim::plan::TestPlan;
use glomers_sim::runner::{plan_faults, run_test, RunOptions};
use glomers_sim::workload::lookup;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

fn args(words: &str, seed: u64, store: &str) -> TestArgs {
    let mut argv = vec!["glomers-sim".to_string(), "test".to_string()];
    argv.extend(words.split_whitespace().map(String::from));
    argv.extend([
        "--seed".into(),
        seed.to_string(),
        "--store".into(),
        store.into(),
    ]);
    match Cli::parse_from(argv).command {
        Command::Test(a) => a,
        _ => unreachable!("parsed as test"),
    }
}

/// CPU time of this process (user + system).
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn cpu_per_seed() {
    let words = "-w broadcast --deterministic --node-count 25 --latency 100 --rate 100 \
                 --time-limit 20 --nemesis partition broadcast-3e.toml";
    let seeds = 20;
    let nodes = HostNodes::from_args(
        &["broadcast-3e.toml".to_string()],
        glomers_handlers::PRESETS,
    )
    .expect("the 3e preset");
    let mut valid = 0;
    let before = cpu_time();
    for seed in 1..=seeds {
        let a = args(words, seed, "/tmp/glomers-det-bench");
        let workload = lookup(&a.workload).expect("broadcast");
        let plan = TestPlan::from_args(&a).expect("a plan");
        let r = run(DetSetup {
            plan: &plan,
            workload: workload.as_ref(),
            faults: plan_faults(&plan),
            nodes: &nodes,
        });
        if store::analyse(&plan, workload.as_ref(), &r).is_some_and(|a| a.exit_code == 0) {
            valid += 1;
        }
    }
    let per_seed = (cpu_time() - before) / seeds as u32;
    println!(
        "3e scenario (25 nodes, 20 s, partitions): {:.0} ms of CPU per seed over {seeds} seeds \
         ({:.0} seeds per minute per core); {valid}/{seeds} valid",
        per_seed.as_secs_f64() * 1000.0,
        60.0 / per_seed.as_secs_f64()
    );
}

fn figures(results: &Value) -> (f64, f64, f64) {
    let mpo = results["net"]["servers"]["msgs_per_op"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let q = &results["workload"]["stable_latencies"];
    (
        mpo,
        q["0.5"].as_f64().unwrap_or(f64::NAN),
        q["1"].as_f64().unwrap_or(f64::NAN),
    )
}

/// "median / max" in ms, or a dash for workloads without stable latencies.
fn latencies(median: f64, max: f64) -> String {
    if median.is_nan() {
        "–".to_string()
    } else {
        format!("{median:.0} / {max:.0}")
    }
}

fn compare() {
    let rows = [
        ("3d", "-w broadcast --node-count 25 --time-limit 20 --rate 100 --latency 100 broadcast-3d.toml"),
        ("3e", "-w broadcast --node-count 25 --time-limit 20 --rate 100 --latency 100 broadcast-3e.toml"),
        ("4", "-w g-counter --node-count 3 --rate 100 --time-limit 20 --nemesis partition g-counter.toml"),
        ("5c", "-w kafka --node-count 2 --concurrency 2n --time-limit 20 --rate 1000 kafka-5c.toml"),
    ];
    let bin = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent()?.parent().map(|d| d.join("glomers-host")))
        .unwrap_or_else(|| PathBuf::from("target/release/glomers-host"));
    println!("| row | seed | real-time msgs/op | deterministic msgs/op | real-time stable med/max ms | deterministic stable med/max ms |");
    println!("|---|---|---|---|---|---|");
    for (id, words) in rows {
        for seed in 1..=3 {
            let mut rt = args(words, seed, "/tmp/glomers-det-compare");
            rt.bin = Some(bin.clone());
            let workload = lookup(&rt.workload).expect("a workload");
            let plan = TestPlan::from_args(&rt).expect("a plan");
            let real = run_test(
                &plan,
                workload.as_ref(),
                RunOptions {
                    report: false,
                    progress: false,
                },
            );
            let mut da = rt.clone();
            da.deterministic = true;
            let dplan = TestPlan::from_args(&da).expect("a plan");
            let det = store::run_in_process(&dplan, workload.as_ref(), false);
            let (Some(r), Some(d)) = (real.results, det.results) else {
                println!("| {id} | {seed} | crash | crash | | |");
                continue;
            };
            let (rm, rmed, rmax) = figures(&r);
            let (dm, dmed, dmax) = figures(&d);
            println!(
                "| {id} | {seed} | {rm:.3} | {dm:.3} | {} | {} |",
                latencies(rmed, rmax),
                latencies(dmed, dmax)
            );
        }
    }
}

fn main() {
    glomers_handlers::link();
    cpu_per_seed();
    if std::env::args().any(|a| a == "--compare") {
        compare();
    }
}
