//! End-to-end tests of the counter family (challenge 4).
//!
//! - Protocol: the built `glomers-host` with the `g-counter.toml` preset, driven over
//!   stdin/stdout, with this test playing seq-kv: exact replies, adds acknowledged only
//!   after the service stored them, and the crdt mode's gossip addressed to peers.
//! - Bench: challenge 4 (3 nodes, partitions) under `glomers-sim` with short time limits,
//!   in both modes. The bench is looked up next to the host binary, then in
//!   `target/release`; if it is not built, those tests print a note and pass without
//!   running (build it with `cargo build -p glomers-sim` or `--release`).

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
    fn start(preset: &str, envs: &[(&str, &str)]) -> Host {
        let mut child = Command::new(BIN)
            .arg(preset)
            .envs(envs.iter().copied())
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
        Host {
            child,
            stdin,
            lines,
            held: RefCell::new(Vec::new()),
        }
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
}

impl Drop for Host {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn init(h: &mut Host) {
    h.send(
        "c0",
        "n0",
        json!({"type": "init", "msg_id": 1, "node_id": "n0", "node_ids": ["n0", "n1"]}),
    );
    assert_eq!(h.next_to("c0")["body"]["type"], "init_ok");
}

#[test]
fn seq_kv_mode_acknowledges_adds_once_seq_kv_stored_them() {
    let mut h = Host::start("g-counter.toml", &[]);
    init(&mut h);
    h.send("c1", "n0", json!({"type": "add", "msg_id": 2, "delta": 3}));
    h.send("c1", "n0", json!({"type": "add", "msg_id": 3, "delta": 4}));
    // The first add is written at once, creating n0's key.
    let cas = h.next_to("seq-kv");
    let body = &cas["body"];
    assert_eq!(body["type"], "cas");
    assert_eq!(body["key"], "counter/n0");
    assert_eq!(body["to"], json!([3, 0]));
    assert_eq!(body["create_if_not_exists"], true);
    h.send(
        "seq-kv",
        "n0",
        json!({"type": "cas_ok", "in_reply_to": body["msg_id"]}),
    );
    // The second waited for the batch interval and goes from the stored value.
    let cas = h.next_to("seq-kv");
    let body = &cas["body"];
    assert_eq!(
        (&body["from"], &body["to"]),
        (&json!([3, 0]), &json!([7, 0]))
    );
    assert!(body.get("create_if_not_exists").is_none());
    h.send(
        "seq-kv",
        "n0",
        json!({"type": "cas_ok", "in_reply_to": body["msg_id"]}),
    );
    let a = h.next_to("c1");
    let b = h.next_to("c1");
    let mut acked: Vec<Value> = vec![a["body"].clone(), b["body"].clone()];
    acked.sort_by_key(|v| v["in_reply_to"].as_u64());
    assert_eq!(
        acked,
        vec![
            json!({"type": "add_ok", "in_reply_to": 2}),
            json!({"type": "add_ok", "in_reply_to": 3})
        ]
    );
    h.send("c1", "n0", json!({"type": "read", "msg_id": 4}));
    assert_eq!(
        h.next_to("c1")["body"],
        json!({"type": "read_ok", "in_reply_to": 4, "value": 7})
    );
}

#[test]
fn crdt_mode_answers_at_once_and_gossips_to_peers() {
    let mut h = Host::start("g-counter.toml", &[("GLOMERS__COUNTER__MODE", "crdt")]);
    init(&mut h);
    h.send("c1", "n0", json!({"type": "add", "msg_id": 2, "delta": 5}));
    assert_eq!(
        h.next_to("c1")["body"],
        json!({"type": "add_ok", "in_reply_to": 2})
    );
    let gossip = h.next_to("n1");
    assert_eq!(gossip["body"]["type"], "counter_gossip");
    assert_eq!(gossip["body"]["counts"], json!({"n0": [5, 0]}));
    h.send(
        "n1",
        "n0",
        json!({"type": "counter_gossip", "msg_id": 9, "counts": {"n1": [2, 0]}}),
    );
    let reply = h.next_to("n1");
    assert_eq!(reply["body"]["type"], "counter_gossip_ok");
    h.send("c1", "n0", json!({"type": "read", "msg_id": 3}));
    assert_eq!(
        h.next_to("c1")["body"],
        json!({"type": "read_ok", "in_reply_to": 3, "value": 7})
    );
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

/// Runs challenge 4 (short) in `mode` and checks the result; None if no bench.
fn challenge_4(mode: &str, seed: &str) -> Option<Value> {
    let Some(sim) = bench() else {
        eprintln!("note: counter bench skipped: glomers-sim is not built");
        return None;
    };
    let store =
        std::env::temp_dir().join(format!("glomers-counter-e2e-{mode}-{}", std::process::id()));
    let out = Command::new(&sim)
        .args(["test", "-w", "g-counter", "--bin", BIN, "g-counter.toml"])
        .args(["--node-count", "3", "--rate", "100", "--time-limit", "6"])
        .args(["--nemesis", "partition", "--nemesis-interval", "2"])
        .args(["--recovery-time", "4", "--seed", seed, "--store"])
        .arg(&store)
        .env("GLOMERS__COUNTER__MODE", mode)
        .env_remove("GLOMERS_CONFIG")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("spawn glomers-sim");
    let report = String::from_utf8_lossy(&out.stdout);
    let results =
        find_results(&store).unwrap_or_else(|| panic!("{mode}: no results.json\n{report}"));
    let results: Value = serde_json::from_str(&std::fs::read_to_string(results).unwrap()).unwrap();
    assert_eq!(out.status.code(), Some(0), "{mode}: not valid\n{report}");
    let w = &results["workload"];
    assert_eq!(w["valid"], json!(true), "{mode}\n{report}");
    let finals = w["final_reads"].as_array().expect("final reads");
    assert_eq!(finals.len(), 3, "one final read per worker\n{report}");
    let exact = &w["acceptable"][0][0];
    for r in finals {
        assert_eq!(r, exact, "{mode}: final reads must be exact\n{report}");
    }
    println!(
        "challenge 4 ({mode}, seed {seed}): servers msgs-per-op {:.2}",
        results["net"]["servers"]["msgs_per_op"]
            .as_f64()
            .unwrap_or(f64::NAN)
    );
    let _ = std::fs::remove_dir_all(&store);
    Some(results)
}

#[test]
fn challenge_4_seq_kv_mode() {
    if let Some(r) = challenge_4("seq-kv", "11") {
        assert!(
            r["net"]["servers"]["msg_count"].as_u64().unwrap() > 0,
            "seq-kv traffic counts as server messages"
        );
    }
}

#[test]
fn challenge_4_crdt_mode() {
    challenge_4("crdt", "12");
}
