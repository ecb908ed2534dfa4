//! Every registered family is a pure function of its inputs: given the same seeds, init,
//! messages and clock, each node writes byte-identical output. Each family (in each of
//! its modes) runs the same scenario twice on a three-node in-test cluster with services,
//! partitions, duplicates and reordering, and the transcripts are compared byte by byte.
//! Hash maps are seeded differently in each run, so output that depends on a map's
//! iteration order shows up here too.

use std::time::Duration;

use glomers_runtime::config::Config;
use glomers_runtime::logging;
use glomers_runtime::registry::{all_specs, build_node};
use glomers_runtime::testkit::TestNode;
use glomers_runtime::Seeds;
use serde_json::{json, Value};

use crate::test_cluster::{is_node_to_node, Fate, LinKv, Net, Rng, SeqKv};

/// A family's scenario: the config that enables it and the client requests it gets.
struct Scenario {
    config: &'static str,
    request: fn(&mut Rng, u64) -> Value,
}

/// The scenarios of a family, by name; every registered family must have one.
fn scenarios(family: &str) -> Vec<Scenario> {
    match family {
        "echo" => vec![Scenario {
            config: "",
            request: |_, i| json!({"type": "echo", "echo": {"n": i, "s": "x"}}),
        }],
        "generate" => vec![Scenario {
            config: "",
            request: |_, _| json!({"type": "generate"}),
        }],
        "broadcast" => [
            "",
            "topology = \"maelstrom\"\nrelay_batch_ms = 30",
            "batching = \"rounds\"\nround_ms = 200\nround_slack_ms = 20\nfailover_ms = 150",
        ]
            .into_iter()
            .map(|config| Scenario {
                config,
                request: |rng, i| match rng.range(0, 9) {
                    0 => json!({"type": "topology", "topology": {
                        "n0": ["n1"], "n1": ["n0", "n2"], "n2": ["n1"]}}),
                    1..=4 => json!({"type": "read"}),
                    _ => json!({"type": "broadcast", "message": i}),
                },
            })
            .collect(),
        "counter" => ["", "mode = \"crdt\"", "add_ack = \"received\"\nflush_ms = 300"]
            .into_iter()
            .map(|config| Scenario {
                config,
                request: |rng, _| match rng.range(0, 2) {
                    0 => json!({"type": "read"}),
                    _ => json!({"type": "add", "delta": rng.range(0, 5) as i64 - 1}),
                },
            })
            .collect(),
        "kafka" => ["", "mode = \"lin-kv\""]
            .into_iter()
            .map(|config| Scenario {
                config,
                request: |rng, i| {
                    let key = format!("k{}", rng.range(0, 3));
                    match rng.range(0, 5) {
                        0 | 1 => json!({"type": "send", "key": key, "msg": i}),
                        2 => json!({"type": "poll", "offsets": {"k0": 0, "k1": 0, "k2": 1, "k3": 0}}),
                        3 => json!({"type": "commit_offsets", "offsets": {key: rng.range(0, 40), "k3": 1}}),
                        _ => json!({"type": "list_committed_offsets", "keys": ["k3", "k2", "k1", "k0"]}),
                    }
                },
            })
            .collect(),
        "txn" => vec![Scenario {
            config: "",
            request: |rng, i| {
                let (a, b) = (rng.range(0, 4), rng.range(0, 4));
                json!({"type": "txn", "txn": [["r", a, null], ["w", b, i], ["r", b, null]]})
            },
        }],
        "gset" => vec![Scenario {
            config: "relay_batch_ms = 30\nretry_after_ms = 300",
            request: |rng, i| match rng.range(0, 2) {
                0 => json!({"type": "read"}),
                _ => json!({"type": "add", "element": i}),
            },
        }],
        "raft" => vec![
            Scenario {
                config: "machine = \"lin-kv\"",
                request: |rng, i| match rng.range(0, 2) {
                    0 => json!({"type": "read", "key": rng.range(0, 2)}),
                    1 => json!({"type": "write", "key": rng.range(0, 2), "value": i}),
                    _ => json!({"type": "cas", "key": rng.range(0, 2), "from": i % 3, "to": i}),
                },
            },
            Scenario {
                config: "machine = \"txn-rw-register\"",
                request: |rng, i| {
                    let (a, b) = (rng.range(0, 4), rng.range(0, 4));
                    json!({"type": "txn", "txn": [["r", a, null], ["w", b, i], ["r", b, null]]})
                },
            },
            Scenario {
                config: "machine = \"txn-list-append\"\nbatch_ms = 0",
                request: |rng, i| {
                    let (a, b) = (rng.range(0, 4), rng.range(0, 4));
                    json!({"type": "txn", "txn": [["append", a, i], ["r", b, null]]})
                },
            },
        ],
        _ => Vec::new(),
    }
}

/// Runs `scenario` of `family` and returns each node's transcript.
fn run(family: &str, scenario: &Scenario, seed: u64) -> Vec<Vec<u8>> {
    let text = format!(
        "[node]\nhandlers = [\"{family}\"]\n[{family}]\n{}\n",
        scenario.config
    );
    let config = match Config::parse("scenario.toml", &text) {
        Ok(c) => c,
        Err(e) => panic!("{family}: {e}"),
    };
    let mut nonce = 0;
    let make = || {
        nonce += 1;
        let node = build_node(
            &config,
            &all_specs(),
            logging::stderr_logger("critical"),
            Seeds::fixed(seed, nonce),
        );
        match node {
            Ok(node) => TestNode::from_node(node).recording(),
            Err(e) => panic!("{family}: {e}"),
        }
    };
    let mut net = Net::new(3, seed, make)
        .with_service("lin-kv", LinKv::default())
        .with_service("seq-kv", SeqKv::default());
    net.reorder = true;
    let mut rng = Rng::new(seed);
    let step = Duration::from_millis(10);
    for i in 0..300u64 {
        let (cut, mut fates) = (i % 100 >= 60, Rng::new(seed ^ i));
        net.fate = Box::new(move |m| {
            if cut && is_node_to_node(m) && (m["src"] == "n2" || m["dest"] == "n2") {
                Fate::Drop
            } else if fates.chance(0.05) {
                Fate::Duplicate
            } else {
                Fate::Deliver
            }
        });
        let node = format!("n{}", rng.range(0, 2));
        let body = (scenario.request)(&mut rng, i);
        net.request("c1", &node, body);
        net.run(step * rng.range(0, 4) as u32, step);
    }
    net.fate = Box::new(|_| Fate::Deliver);
    net.run(Duration::from_secs(3), step);
    net.nodes
        .values()
        .map(|n| n.transcript().to_vec())
        .collect()
}

#[test]
fn every_family_writes_the_same_bytes_for_the_same_inputs() {
    let specs = all_specs();
    assert!(specs.len() >= 6, "the families are linked");
    for spec in specs {
        let scenarios = scenarios(spec.family);
        assert!(
            !scenarios.is_empty(),
            "family `{}` has no determinism scenario: add one to handlers/src/determinism.rs",
            spec.family
        );
        for (i, scenario) in scenarios.iter().enumerate() {
            let first = run(spec.family, scenario, 11);
            let second = run(spec.family, scenario, 11);
            for (node, (a, b)) in first.iter().zip(&second).enumerate() {
                let lines = a.iter().filter(|b| **b == b'\n').count();
                assert!(
                    lines > 50,
                    "{} #{i}: n{node} wrote only {lines} lines",
                    spec.family
                );
                if a != b {
                    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(0);
                    let show = |t: &[u8]| {
                        let line_start = t[..at]
                            .iter()
                            .rposition(|c| *c == b'\n')
                            .map_or(0, |p| p + 1);
                        let end = t[at..]
                            .iter()
                            .position(|c| *c == b'\n')
                            .map_or(t.len(), |p| at + p);
                        String::from_utf8_lossy(&t[line_start..end]).into_owned()
                    };
                    panic!(
                        "{} scenario #{i}: n{node}'s output differs between two runs with one seed \
                         at byte {at}:\n  run 1: {}\n  run 2: {}",
                        spec.family,
                        show(a),
                        show(b)
                    );
                }
            }
        }
    }
}
