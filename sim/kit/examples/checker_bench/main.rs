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
    let strict = vec!["strict-serializable".to_string()];
    let rc = vec!["read-committed".to_string()];
    for &n in &sizes {
        for anomalies in [false, true] {
            let label = if anomalies { "anomalies" } else { "valid" };
            let mut rw = txn::TxnWorkload::new(false, anomalies, 0.02);
            let h = sim::run(&mut rw, 1, n, CONCURRENCY);
            report("txn-rw-register", n, label, &h, || {
                rw_register::check(&h, &strict)
            });

            let mut la = txn::TxnWorkload::new(true, anomalies, 0.02);
            let h = sim::run(&mut la, 2, n, CONCURRENCY);
            report("txn-list-append", n, label, &h, || {
                list_append::check(&h, &strict)
            });

            let mut kf = kafka::KafkaWorkload::new(CONCURRENCY, anomalies);
            let h = sim::run(&mut kf, 3, n, CONCURRENCY);
            report("kafka", n, label, &h, || kafka_check::check(&h));

            let mut kv = kv::KvWorkload::new(CONCURRENCY, anomalies);
            let h = sim::run(&mut kv, 4, n, CONCURRENCY);
            report("lin-kv", n, label, &h, || {
                linearizable::check(&h, Duration::from_secs(60))
            });
        }
        // A totally available store with many stale reads, checked the way the Gossip
        // Glomers txn challenge is (read-committed): big cyclic components whose
        // G-single and G2 cycles are only notes.
        let mut rw = txn::TxnWorkload::new(false, true, 0.3);
        let h = sim::run(&mut rw, 5, n, CONCURRENCY);
        report("txn-rw-register", n, "stale-rc", &h, || {
            rw_register::check(&h, &rc)
        });
        let mut la = txn::TxnWorkload::new(true, true, 0.3);
        let h = sim::run(&mut la, 6, n, CONCURRENCY);
        report("txn-list-append", n, "stale-rc", &h, || {
            list_append::check(&h, &rc)
        });
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
    let scc = match r.details["graph"]["largest_component"].as_u64() {
        Some(s) if s > 0 => format!(" [largest cycle component: {s} txns]"),
        _ => String::new(),
    };
    println!(
        "{name:<18} {n:>8} {label:<10} {:>9} {ms:>10.1} {verdict:>8} {:>9}  {}{scc}",
        h.ops.len(),
        r.findings.len(),
        kinds.join(" ")
    );
}
