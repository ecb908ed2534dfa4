//! End-to-end tests of the kafka family (challenges 5a–5c).
//!
//! - Protocol: the built `glomers-host` with `kafka-5c.toml` (this test plays peer `n1`)
//!   and `kafka.toml` (this test plays `lin-kv`): exact replies, Lamport offsets, polls
//!   held back until the peer's promise arrives, create-only slot claims.
//! - Bench: 5a, 5b, 5c, 5c with partitions and 5c on 5 nodes under `glomers-sim`, with
//!   short time limits. The bench is looked up next to the host binary, then in
//!   `target/release`; if it is not built, or does not run the kafka workload yet, those
//!   tests print a note and pass without running.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_glomers-host");

/// A running host with a reader thread turning its stdout into JSON values.
struct Host {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: mpsc::Receiver<Value>,
    held: RefCell<Vec<Value>>,
}

impl Host {
    fn start(preset: &str) -> Host {
        let mut child = Command::new(BIN)
            .arg(preset)
            .env_remove("GLOMERS_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .current_dir(std::env::temp_dir())
            .spawn()
            .expect("spawn glomers-host");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut h = Host {
            child,
            stdin,
            lines,
            held: RefCell::new(Vec::new()),
        };
        h.send(
            "c0",
            "n0",
            json!({"type": "init", "msg_id": 1, "node_id": "n0", "node_ids": ["n0", "n1"]}),
        );
        assert_eq!(h.next_to("c0")["body"]["type"], "init_ok");
        h
    }

    fn send(&mut self, src: &str, dest: &str, body: Value) {
        let line = json!({"src": src, "dest": dest, "body": body}).to_string();
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// The next message the host writes to `dest` (others are kept for later calls).
    /// Fails after 5 s.
    fn next_to(&self, dest: &str) -> Value {
        let mut held = self.held.borrow_mut();
        if let Some(i) = held.iter().position(|m| m["dest"] == dest) {
            return held.remove(i);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no message to {dest} within 5 s; others: {held:?}"));
            if m["dest"] == dest {
                return m;
            }
            held.push(m);
        }
    }

    /// Sends a client request and returns the reply body.
    fn call(&mut self, msg_id: u64, mut body: Value) -> Value {
        body["msg_id"] = json!(msg_id);
        self.send("c1", "n0", body);
        let reply = self.next_to("c1")["body"].clone();
        assert_eq!(reply["in_reply_to"], msg_id);
        reply
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn replicated_mode_shows_messages_once_the_peer_promised() {
    let mut h = Host::start("kafka-5c.toml");
    let r = h.call(2, json!({"type": "send", "key": "k", "msg": 11}));
    // Clock 1, 2 nodes, index 0.
    assert_eq!(r, json!({"type": "send_ok", "in_reply_to": 2, "offset": 2}));
    let r = h.call(3, json!({"type": "poll", "offsets": {"k": 0}}));
    assert_eq!(r, json!({"type": "poll_ok", "in_reply_to": 3, "msgs": {}}));
    let batch = h.next_to("n1")["body"].clone();
    assert_eq!(batch["type"], "kafka_repl");
    assert_eq!((&batch["seq"], &batch["upto"]), (&json!(0), &json!(1)));
    assert_eq!(batch["entries"], json!({"k": [[2, 11]]}));
    assert_eq!(batch["clock"], 1);
    // As n1: applied everything, nothing of our own to send, clock raised to 1.
    h.send(
        "n1",
        "n0",
        json!({"type": "kafka_repl_ok", "in_reply_to": batch["msg_id"],
               "applied": 1, "end": 0, "clock": 1}),
    );
    let r = h.call(4, json!({"type": "poll", "offsets": {"k": 0, "other": 0}}));
    assert_eq!(
        r,
        json!({"type": "poll_ok", "in_reply_to": 4, "msgs": {"k": [[2, 11]]}})
    );
    let r = h.call(5, json!({"type": "commit_offsets", "offsets": {"k": 2}}));
    assert_eq!(r, json!({"type": "commit_offsets_ok", "in_reply_to": 5}));
    let r = h.call(
        6,
        json!({"type": "list_committed_offsets", "keys": ["k", "x"]}),
    );
    assert_eq!(
        r,
        json!({"type": "list_committed_offsets_ok", "in_reply_to": 6, "offsets": {"k": 2}})
    );
}

#[test]
fn lin_kv_mode_claims_dense_slots_with_create_only_cas() {
    let mut h = Host::start("kafka.toml");
    h.send(
        "c1",
        "n0",
        json!({"type": "send", "msg_id": 2, "key": "k", "msg": 7}),
    );
    let cas = h.next_to("lin-kv")["body"].clone();
    assert_eq!(cas["type"], "cas");
    assert_eq!(cas["key"], "log/0/k");
    assert_eq!(cas["from"], Value::Null);
    assert_eq!(cas["to"][0], "n0");
    assert_eq!(cas["to"][2], 7);
    assert_eq!(cas["create_if_not_exists"], true);
    // Someone else holds slot 0: the claim moves on to slot 1.
    h.send(
        "lin-kv",
        "n0",
        json!({"type": "error", "in_reply_to": cas["msg_id"], "code": 22, "text": "taken"}),
    );
    let cas = h.next_to("lin-kv")["body"].clone();
    assert_eq!(cas["key"], "log/1/k");
    h.send(
        "lin-kv",
        "n0",
        json!({"type": "cas_ok", "in_reply_to": cas["msg_id"]}),
    );
    assert_eq!(
        h.next_to("c1")["body"],
        json!({"type": "send_ok", "in_reply_to": 2, "offset": 1})
    );
    // Offset 0 is unknown here, so nothing is pollable from 0 yet (no skipping).
    let r = h.call(3, json!({"type": "poll", "offsets": {"k": 0}}));
    assert_eq!(r["msgs"], json!({}));
}

/// The bench binary, if built: next to the host binary, else in target/release.
fn bench() -> Option<PathBuf> {
    let host = Path::new(BIN);
    let here = host.with_file_name("glomers-sim");
    if here.is_file() {
        return Some(here);
    }
    let release = host.parent()?.parent()?.join("release").join("glomers-sim");
    release.is_file().then_some(release)
}

fn find_results(dir: &Path) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_results(&path) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == "results.json") {
            return Some(path);
        }
    }
    None
}

/// Runs `glomers-sim test -w kafka` with `args`; checks validity and returns
/// results.json, or None (after a note) when the bench cannot run kafka.
fn run_bench(name: &str, args: &[&str]) -> Option<Value> {
    let Some(sim) = bench() else {
        eprintln!("note: {name} skipped: glomers-sim is not built");
        return None;
    };
    let store =
        std::env::temp_dir().join(format!("glomers-kafka-e2e-{name}-{}", std::process::id()));
    let out = Command::new(&sim)
        .args(["test", "-w", "kafka", "--bin", BIN])
        .args(["--concurrency", "2n", "--rate", "1000", "--time-limit", "4"])
        .args(["--recovery-time", "2", "--store"])
        .arg(&store)
        .args(args)
        .env_remove("GLOMERS_CONFIG")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("spawn glomers-sim");
    let report = String::from_utf8_lossy(&out.stdout);
    let errors = String::from_utf8_lossy(&out.stderr);
    if errors.contains("not supported yet") {
        eprintln!("note: {name} skipped: this glomers-sim does not run the kafka workload yet");
        return None;
    }
    let results = find_results(&store)
        .unwrap_or_else(|| panic!("{name}: no results.json\n{report}\n{errors}"));
    let results: Value = serde_json::from_str(&std::fs::read_to_string(results).unwrap()).unwrap();
    assert_eq!(out.status.code(), Some(0), "{name}: not valid\n{report}");
    assert_eq!(
        results["workload"]["valid"],
        json!(true),
        "{name}\n{report}"
    );
    println!(
        "{name}: servers msgs-per-op {:.3}, availability {:.4}",
        results["net"]["servers"]["msgs_per_op"]
            .as_f64()
            .unwrap_or(f64::NAN),
        results["availability"]["ok_fraction"]
            .as_f64()
            .unwrap_or(f64::NAN)
    );
    let _ = std::fs::remove_dir_all(&store);
    Some(results)
}

#[test]
fn challenge_5a_single_node() {
    for preset in ["kafka.toml", "kafka-5c.toml"] {
        run_bench("5a", &[preset, "--node-count", "1", "--seed", "21"]);
    }
}

#[test]
fn challenge_5b_lin_kv() {
    run_bench("5b", &["kafka.toml", "--node-count", "2", "--seed", "22"]);
}

#[test]
fn challenge_5c_replicated() {
    if let Some(r) = run_bench(
        "5c",
        &["kafka-5c.toml", "--node-count", "2", "--seed", "23"],
    ) {
        // Every operation is answered by the node it reached: only crashes end as info.
        assert_eq!(r["stats"]["fail_count"], json!(0));
    }
}

#[test]
fn challenge_5c_with_partitions_and_five_nodes() {
    run_bench(
        "5c-partition",
        &[
            "kafka-5c.toml",
            "--node-count",
            "5",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
            "--seed",
            "24",
        ],
    );
}
