//! Checker speed benchmark: generates txn-rw-register, txn-list-append, kafka and
//! lin-kv histories (a valid one from a single serial executor, and one with injected
//! anomalies) and prints how long each checker takes.
//!
//! `cargo run --release -p glomers-simkit --example checker_bench [-- 20000,200000]`
//! (the argument is a comma-separated list of operation counts).

mod kafka;
mod kv;
mod sim;
mod txn;

use std::time::{Duration, Instant};

use glomers_simkit::checker::{
    kafka as kafka_check, linearizable, list_append, rw_register, CheckResult,
};
use glomers_simkit::history::History;

const CONCURRENCY: usize = 10;

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .nth(1)
        .map(|a| a.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![20_000, 200_000]);
    println!(
        "{:<18} {:>8} {:<10} {:>9} {:>10} {:>8} {:>9}  anomaly types",
        "workload", "ops", "history", "entries", "check ms", "verdict", "findings"
    );
    for &n in &sizes {
        for anomalies in [false, true] {
            let label = if anomalies { "anomalies" } else { "valid" };
            let models = vec!["strict-serializable".to_string()];

            let h = sim::run(
                &mut txn::TxnWorkload::new(false, anomalies),
                1,
                n,
                CONCURRENCY,
            );
            report("txn-rw-register", n, label, &h, || {
                rw_register::check(&h, &models)
            });

            let h = sim::run(
                &mut txn::TxnWorkload::new(true, anomalies),
                2,
                n,
                CONCURRENCY,
            );
            report("txn-list-append", n, label, &h, || {
                list_append::check(&h, &models)
            });

            let h = sim::run(
                &mut kafka::KafkaWorkload::new(CONCURRENCY, anomalies),
                3,
                n,
                CONCURRENCY,
            );
            report("kafka", n, label, &h, || kafka_check::check(&h));

            let h = sim::run(
                &mut kv::KvWorkload::new(CONCURRENCY, anomalies),
                4,
                n,
                CONCURRENCY,
            );
            report("lin-kv", n, label, &h, || {
                linearizable::check(&h, Duration::from_secs(60))
            });
        }
    }
}

fn report(name: &str, n: usize, label: &str, h: &History, check: impl FnOnce() -> CheckResult) {
    let start = Instant::now();
    let r = check();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let mut kinds: Vec<&str> = r.findings.iter().map(|f| f.rule.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let verdict = serde_json::to_string(&r.valid).unwrap_or_default();
    println!(
        "{name:<18} {n:>8} {label:<10} {:>9} {ms:>10.1} {verdict:>8} {:>9}  {}",
        h.ops.len(),
        r.findings.len(),
        kinds.join(" ")
    );
}
