//! Throughput and overhead benchmark of the bench itself.
//!
//! `cargo run --release -p glomers-sim --example sim_bench -- [--nodes 25] [--rate 1000]
//! [--time-limit 20] [--recovery 10]` runs a broadcast test whose node is this same
//! executable started with `node`: a flooding node that forwards every new value to every
//! other node, and every node relays a value once on first receipt (no acks), so each
//! broadcast costs (N−1) + (N−1)(N−2) server messages (576 with 25 nodes). It prints the
//! routed messages per second (deliveries / main-phase seconds) and the bench's own
//! overhead: wall time beyond time-limit + recovery.

use clap::Parser;
use glomers_sim::cli::{Cli, Command};
use glomers_sim::plan::TestPlan;
use glomers_sim::runner::{run_test, RunOptions};
use glomers_sim::workload::lookup;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{BufRead, BufWriter, Write};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("node") {
        flood_node();
        return;
    }
    let get = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
            .unwrap_or_else(|| default.to_string())
    };
    let nodes = get("--nodes", "25");
    let rate = get("--rate", "800");
    let time_limit = get("--time-limit", "20");
    let recovery = get("--recovery", "10");
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot find this executable: {e}");
            std::process::exit(1);
        }
    };
    let store = std::env::temp_dir().join("glomers-sim-bench");
    // Keep only this run: the journal of a 20 s flood is about a gigabyte.
    let _ = std::fs::remove_dir_all(&store);
    let argv: Vec<String> = [
        "glomers-sim",
        "test",
        "-w",
        "broadcast",
        "--node-count",
        &nodes,
        "--rate",
        &rate,
        "--time-limit",
        &time_limit,
        "--recovery-time",
        &recovery,
        "--seed",
        "1",
        "--bin",
        &exe.display().to_string(),
        "--store",
        &store.display().to_string(),
        "node",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let Ok(Cli {
        command: Command::Test(targs),
    }) = Cli::try_parse_from(&argv)
    else {
        eprintln!("bad benchmark flags");
        std::process::exit(1);
    };
    let plan = TestPlan::from_args(&targs).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let workload = lookup("broadcast").unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let t0 = Instant::now();
    let out = run_test(
        &plan,
        workload.as_ref(),
        RunOptions {
            report: false,
            progress: true,
        },
    );
    let wall = t0.elapsed().as_secs_f64();
    let Some(results) = out.results else {
        eprintln!(
            "the benchmark run crashed: {:?}",
            out.crash.map(|c| c.message)
        );
        std::process::exit(1);
    };
    let recv = results["net"]["all"]["recv_count"].as_f64().unwrap_or(0.0);
    let tl: f64 = time_limit.parse().unwrap_or(20.0);
    let rec: f64 = recovery.parse().unwrap_or(10.0);
    println!(
        "sim_bench: {nodes} flooding nodes, rate {rate}/s, {time_limit} s + {recovery} s recovery"
    );
    println!("  verdict:            {}", results["valid"]);
    println!("  client invocations: {}", results["test"]["invoke_count"]);
    println!("  messages routed:    {recv:.0}");
    println!(
        "  routed msgs/s:      {:.0} (deliveries / main-phase seconds)",
        recv / tl
    );
    println!(
        "  wall time:          {wall:.2} s; bench overhead {:.2} s beyond time-limit + recovery",
        wall - tl - rec
    );
    println!(
        "  results:            {}",
        out.dir.map(|d| d.display().to_string()).unwrap_or_default()
    );
}

/// A flooding broadcast node: every new value goes to every other node, no acks.
fn flood_node() {
    let stdin = std::io::stdin();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut me = String::new();
    let mut peers: Vec<String> = Vec::new();
    let mut seen: BTreeSet<u64> = BTreeSet::new();
    let mut lines = stdin.lock().lines();
    while let Some(Ok(line)) = lines.next() {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let src = msg["src"].as_str().unwrap_or_default().to_string();
        let body = &msg["body"];
        let mid = body["msg_id"].clone();
        let mut send = |dest: &str, body: Value| {
            let _ = writeln!(out, "{}", json!({"src": me, "dest": dest, "body": body}));
        };
        match body["type"].as_str().unwrap_or_default() {
            "init" => {
                me = body["node_id"].as_str().unwrap_or_default().to_string();
                peers = body["node_ids"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .filter(|p| *p != me)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{}",
                    json!({"src": me, "dest": src, "body": {"type": "init_ok", "in_reply_to": mid}})
                );
            }
            "topology" => send(&src, json!({"type": "topology_ok", "in_reply_to": mid})),
            "broadcast" => {
                if let Some(v) = body["message"].as_u64() {
                    if seen.insert(v) {
                        for p in &peers {
                            send(p, json!({"type": "flood", "message": v}));
                        }
                    }
                }
                send(&src, json!({"type": "broadcast_ok", "in_reply_to": mid}));
            }
            "flood" => {
                // Relay once on first receipt: each broadcast costs (N-1) + (N-1)(N-2)
                // server messages (576 with 25 nodes).
                if let Some(v) = body["message"].as_u64() {
                    if seen.insert(v) {
                        for p in peers.iter().filter(|p| **p != src) {
                            send(p, json!({"type": "flood", "message": v}));
                        }
                    }
                }
            }
            "read" => send(
                &src,
                json!({"type": "read_ok", "messages": seen.iter().collect::<Vec<_>>(), "in_reply_to": mid}),
            ),
            _ => {}
        }
        // One flush per input message: replies never wait for more input.
        let _ = out.flush();
    }
    let _ = out.flush();
}
