//! End-to-end tests of the broadcast family.
//!
//! - Protocol: the built `glomers-host` with each broadcast preset, driven over its
//!   stdin/stdout: exact replies, and gossip only ever addressed to nodes.
//! - Bench: challenges 3a, 3b, 3c and a 25-node partition run under `glomers-sim`
//!   (short time limits). The bench is looked up next to the host binary, then in
//!   `target/release`; if it is not built, those tests print a note and pass without
//!   running (build it with `cargo build -p glomers-sim` or `--release`).

mod common;

use std::time::Duration;

use common::Host;
use serde_json::{json, Value};

const SEC: Duration = Duration::from_secs(5);

#[test]
fn every_preset_answers_the_client_protocol_exactly() {
    for preset in [
        "broadcast.toml",
        "broadcast-3d.toml",
        "broadcast-3e.toml",
        "default.toml",
    ] {
        let mut h = Host::start(preset, &[("GLOMERS_LOG", "warning")]);
        h.send(
            "c0",
            "n1",
            json!({"type": "init", "msg_id": 1, "node_id": "n1", "node_ids": ["n0", "n1", "n2"]}),
        );
        assert_eq!(h.next(SEC).unwrap()["body"]["type"], "init_ok", "{preset}");
        h.send(
            "c1",
            "n1",
            json!({"type": "topology", "msg_id": 2,
                "topology": {"n0": ["n1"], "n1": ["n0", "n2"], "n2": ["n1"]}}),
        );
        assert_eq!(
            h.next(SEC).unwrap(),
            json!({"src": "n1", "dest": "c1", "body": {"type": "topology_ok", "in_reply_to": 2}}),
            "{preset}"
        );
        h.send(
            "c1",
            "n1",
            json!({"type": "broadcast", "msg_id": 3, "message": 41}),
        );
        // The reply comes first; gossip may follow (now or after a batch interval).
        assert_eq!(
            h.next(SEC).unwrap(),
            json!({"src": "n1", "dest": "c1", "body": {"type": "broadcast_ok", "in_reply_to": 3}}),
            "{preset}"
        );
        // Gossip from a peer carries a value this node relays or just stores.
        h.send("n0", "n1", json!({"type": "bcast_gossip", "v": [[7, 9]]}));
        h.send("c1", "n1", json!({"type": "read", "msg_id": 4}));
        let mut read = None;
        let mut gossip = Vec::new();
        for line in h.drain(Duration::from_millis(1500)) {
            if line["dest"] == "c1" {
                read = Some(line);
            } else {
                gossip.push(line);
            }
        }
        assert_eq!(
            read.expect("a read_ok"),
            json!({"src": "n1", "dest": "c1",
                "body": {"type": "read_ok", "in_reply_to": 4, "messages": [7, 8, 9, 41]}}),
            "{preset}"
        );
        assert!(!gossip.is_empty(), "{preset}: value 41 was never sent on");
        for g in &gossip {
            assert!(
                g["dest"] == "n0" || g["dest"] == "n2",
                "{preset}: gossip to a non-node: {g}"
            );
            assert_eq!(g["body"]["type"], "bcast_gossip");
            assert!(
                g["body"].get("msg_id").is_none(),
                "gossip expects no reply: {g}"
            );
        }
        h.finish();
    }
}

/// Runs `glomers-sim test -w broadcast` with `args`, checks that every value reached
/// every final read, and returns results.json.
fn run_bench(name: &str, args: &[&str]) -> Value {
    let run = common::run_bench(name, &[&["-w", "broadcast"], args].concat(), &[]);
    let report = &run.report;
    let results = run.valid_results();
    assert_eq!(results["valid"], json!(true), "{name}\n{report}");
    let w = &results["workload"];
    assert_eq!(w["valid"], json!(true), "{name}\n{report}");
    assert_eq!(w["lost_count"], json!(0), "{name}\n{report}");
    assert!(
        w["attempt_count"].as_u64().unwrap() > 0,
        "{name}: no broadcasts"
    );
    assert_eq!(
        w["stable_count"], w["attempt_count"],
        "{name}: every value must end up in every final read\n{report}"
    );
    println!(
        "{name}: msgs-per-op {:.2}, stable latency median {} ms, max {} ms",
        common::servers_msgs_per_op(&results),
        w["stable_latencies"]["0.5"],
        w["stable_latencies"]["1"]
    );
    run.remove_store();
    results
}

#[test]
fn challenge_3a_single_node() {
    let args = [
        "broadcast.toml",
        "--node-count",
        "1",
        "--time-limit",
        "5",
        "--rate",
        "10",
        "--seed",
        "3",
        "--recovery-time",
        "1",
    ];
    let r = run_bench("3a", &args);
    assert_eq!(
        r["net"]["servers"]["msg_count"],
        json!(0),
        "one node gossips to nobody"
    );
}

#[test]
fn challenge_3b_five_nodes() {
    let args = [
        "broadcast.toml",
        "--node-count",
        "5",
        "--time-limit",
        "5",
        "--rate",
        "10",
        "--seed",
        "4",
        "--recovery-time",
        "2",
    ];
    run_bench("3b", &args);
}

#[test]
fn challenge_3c_five_nodes_with_partitions() {
    let args = [
        "broadcast.toml",
        "--node-count",
        "5",
        "--time-limit",
        "5",
        "--rate",
        "10",
        "--nemesis",
        "partition",
        "--nemesis-interval",
        "1",
        "--seed",
        "5",
        "--recovery-time",
        "2",
    ];
    let r = run_bench("3c", &args);
    assert!(
        r["nemesis"].as_array().is_some_and(|n| !n.is_empty()),
        "the nemesis should have partitioned the cluster"
    );
}

/// 25 nodes, the 3d and 3e presets, partitions every second or so. The recovery wait
/// is 5 s rather than Maelstrom's 10 s: enough for the presets' anti-entropy (a value
/// dropped just before the heal is resent within retry_after_ms + anti_entropy_ms).
#[test]
fn twenty_five_nodes_with_partitions_stay_valid() {
    for (preset, seed) in [("broadcast-3d.toml", "6"), ("broadcast-3e.toml", "7")] {
        let args = [
            preset,
            "--node-count",
            "25",
            "--time-limit",
            "5",
            "--rate",
            "100",
            "--latency",
            "100",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
            "--seed",
            seed,
            "--recovery-time",
            "5",
        ];
        run_bench(&format!("25-nodes-{preset}"), &args);
    }
}
