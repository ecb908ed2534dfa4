//! End-to-end tests of the part-2 workloads (kafka, txn-rw-register, txn-list-append,
//! lin-kv): the built `glomers-sim` binary against small Python nodes in `tests/nodes/`,
//! correct ones and deliberately broken ones (the node's first argument picks the bug).
//! Each run is short (3–4 s, recovery 1 s) and asserts the exit code and the facts in
//! results.json, history.jsonl and messages.jsonl that make the verdict.

mod common;

use common::{node, run_sim, Run};
use serde_json::Value;

/// Runs `glomers-sim test -w WORKLOAD --bin NODE FLAGS… -- NODE_ARGS…` in a fresh store.
fn sim(workload: &str, bin: &str, flags: &[&str], node_args: &[&str]) -> Run {
    let before = ["test", "-w", workload, "--bin", bin];
    let mut after = vec!["--seed", "7", "--recovery-time", "1"];
    after.extend_from_slice(flags);
    after.push("--");
    after.extend_from_slice(node_args);
    run_sim("glomers-sim-e2e2", &before, &after, 10)
}

/// One node, two workers, 100 ops/s.
const ONE_NODE: [&str; 8] = [
    "--node-count",
    "1",
    "--concurrency",
    "2n",
    "--rate",
    "100",
    "--time-limit",
    "3",
];

/// [`ONE_NODE`] followed by `extra`.
fn one_node_with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    ONE_NODE.iter().chain(extra).copied().collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn kafka_correct_single_node_is_valid_and_polls_everything_at_the_end() {
    let r = sim("kafka", &node("kafka.py"), &ONE_NODE, &["correct"]);
    assert_eq!(r.code, 0);
    let res = r.results();
    assert_eq!(res["workload"]["valid"], true);
    assert!(strings(&res["workload"]["error_types"]).is_empty());
    for f in ["send", "poll", "assign"] {
        assert!(
            res["stats"]["by_f"][f]["ok_count"].as_u64().unwrap() > 0,
            "{f}: {}",
            res["stats"]
        );
    }
    // Crashes are always info, yet the stats stay valid.
    assert_eq!(res["stats"]["by_f"]["crash"]["ok_count"], 0);
    assert!(
        res["stats"]["by_f"]["crash"]["info_count"]
            .as_u64()
            .unwrap()
            >= 2
    );
    let history = r.jsonl("history.jsonl");
    // The final phase: every worker crashes, assigns every key from the beginning and
    // polls until it has caught up.
    let finals: Vec<&Value> = history
        .iter()
        .filter(|o| o["final_phase"] == true && o["type"] == "invoke")
        .collect();
    for f in ["crash", "assign", "poll"] {
        let n = finals.iter().filter(|o| o["f"] == f).count();
        assert!(n >= 2, "{f}: {n} final operations for 2 workers");
    }
    let sent_keys: std::collections::BTreeSet<String> = history
        .iter()
        .filter(|o| o["f"] == "send" && o["type"] == "ok")
        .map(|o| o["value"]["key"].as_str().unwrap().to_string())
        .collect();
    let final_assign = finals.iter().find(|o| o["f"] == "assign").unwrap();
    for k in &sent_keys {
        assert!(
            strings(&final_assign["value"]).contains(k),
            "final assign {} lacks {k}",
            final_assign["value"]
        );
    }
    // Polls that return messages commit their highest offsets in the same operation.
    let journal = r.jsonl("messages.jsonl");
    let types: Vec<&str> = journal
        .iter()
        .filter(|m| m["kind"] == "send")
        .filter_map(|m| m["body"]["type"].as_str())
        .collect();
    assert!(types.contains(&"commit_offsets") && types.contains(&"commit_offsets_ok"));
    assert!(!types.contains(&"error"));
    let first_poll = journal
        .iter()
        .find(|m| m["body"]["type"] == "poll")
        .unwrap();
    assert!(first_poll["body"]["offsets"].is_object());
}

#[test]
fn kafka_losing_an_acknowledged_message_is_a_lost_write() {
    let r = sim("kafka", &node("kafka.py"), &ONE_NODE, &["lose"]);
    assert_eq!(r.code, 1);
    let res = r.results();
    assert_eq!(res["workload"]["valid"], false);
    let types = strings(&res["workload"]["error_types"]);
    assert!(types.contains(&"lost_write".to_string()), "{types:?}");
    assert!(types.contains(&"unseen".to_string()), "{types:?}");
    assert!(res["workload"]["lost_write"]["count"].as_u64().unwrap() > 0);
    // The report tells the story with the send's request and reply.
    assert!(r.stdout.contains("[workload: lost_write]"), "{}", r.stdout);
    assert!(r.stdout.contains("request:  send {"), "{}", r.stdout);
    assert!(r.stdout.contains("\"type\":\"send_ok\""), "{}", r.stdout);
}

#[test]
fn kafka_reordering_a_poll_is_a_nonmonotonic_poll() {
    let r = sim("kafka", &node("kafka.py"), &ONE_NODE, &["reorder"]);
    assert_eq!(r.code, 1);
    let types = strings(&r.results()["workload"]["error_types"]);
    assert!(
        types.contains(&"int_nonmonotonic_poll".to_string()),
        "{types:?}"
    );
    assert!(!types.contains(&"lost_write".to_string()), "{types:?}");
}

#[test]
fn serial_txn_node_is_strict_serializable_for_both_txn_workloads() {
    for workload in ["txn-rw-register", "txn-list-append"] {
        let r = sim(workload, &node("txn.py"), &ONE_NODE, &["serial"]);
        assert_eq!(r.code, 0, "{workload}");
        let res = r.results();
        assert_eq!(res["workload"]["valid"], true, "{workload}");
        assert_eq!(
            res["workload"]["models"],
            serde_json::json!(["strict-serializable"])
        );
        assert!(res["workload"]["anomaly_types"]
            .as_array()
            .unwrap()
            .is_empty());
        assert_eq!(res["availability"]["ok_fraction"], 1.0);
        // The requests carry the generated micro-ops; writes are unique per key.
        let history = r.jsonl("history.jsonl");
        let write = if workload == "txn-rw-register" {
            "w"
        } else {
            "append"
        };
        let mut writes = std::collections::HashSet::new();
        for op in history.iter().filter(|o| o["type"] == "invoke") {
            for mop in op["value"].as_array().unwrap() {
                if mop[0] == write {
                    assert!(writes.insert((mop[1].clone(), mop[2].clone())), "{mop}");
                } else {
                    assert_eq!(mop[0], "r");
                    assert!(mop[2].is_null());
                }
            }
        }
        assert!(writes.len() > 50, "{workload}: {}", writes.len());
    }
}

#[test]
fn txn_node_exposing_aborted_writes_is_g1a_under_read_committed_only() {
    let flags = one_node_with(&["--consistency-models", "read-committed"]);
    let r = sim("txn-rw-register", &node("txn.py"), &flags, &["aborted"]);
    assert_eq!(r.code, 1);
    let res = r.results();
    assert!(strings(&res["workload"]["anomaly_types"]).contains(&"G1a".to_string()));
    assert!(res["stats"]["by_f"]["txn"]["fail_count"].as_u64().unwrap() > 0);
    assert!(r.stdout.contains("[workload: G1a]"), "{}", r.stdout);
    assert!(r.stdout.contains("txn-conflict"), "{}", r.stdout);
    // Read-uncommitted allows G1a: a note, not a failure.
    let flags = one_node_with(&["--consistency-models", "read-uncommitted"]);
    let r = sim("txn-rw-register", &node("txn.py"), &flags, &["aborted"]);
    assert_eq!(r.code, 0);
    let res = r.results();
    assert!(strings(&res["workload"]["anomaly_types"]).is_empty());
    assert!(strings(&res["workload"]["other_anomaly_types"]).contains(&"G1a".to_string()));
    assert!(
        r.stdout.contains("Notes (do not change the verdict)"),
        "{}",
        r.stdout
    );
}

#[test]
fn txn_node_exposing_intermediate_writes_is_g1b() {
    let flags = one_node_with(&["--consistency-models", "read-committed"]);
    let r = sim(
        "txn-rw-register",
        &node("txn.py"),
        &flags,
        &["intermediate"],
    );
    assert_eq!(r.code, 1);
    let res = r.results();
    let types = strings(&res["workload"]["anomaly_types"]);
    assert!(types.contains(&"G1b".to_string()), "{types:?}");
    assert!(
        res["workload"]["anomalies"]["G1b"]["count"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn lin_kv_proxy_is_linearizable_and_a_read_cache_is_not() {
    // Four workers on one node: two groups of two, on keys 0 and 1.
    let flags = [
        "--node-count",
        "1",
        "--concurrency",
        "4n",
        "--rate",
        "100",
        "--time-limit",
        "3",
    ];
    let r = sim("lin-kv", &node("lin_kv.py"), &flags, &["proxy"]);
    assert_eq!(r.code, 0);
    let res = r.results();
    assert_eq!(res["workload"]["valid"], true);
    for f in ["read", "write", "cas"] {
        assert!(
            res["stats"]["by_f"][f]["ok_count"].as_u64().unwrap() > 0,
            "{f}"
        );
    }
    // Only worker 0 (below the node count) reads, so key 1 is never read (Maelstrom's
    // quirk); workers 1..3 write and cas. No process changes, so no group changes key.
    let history = r.jsonl("history.jsonl");
    let mut keys_written = std::collections::BTreeSet::new();
    for op in history.iter().filter(|o| o["type"] == "invoke") {
        let worker = op["process"].as_u64().unwrap() % 4;
        assert_eq!(op["f"] == "read", worker == 0, "{op}");
        let key = if worker < 2 { 0 } else { 1 };
        assert_eq!(op["value"][0], key, "{op}");
        if op["f"] != "read" {
            keys_written.insert(key);
        }
    }
    assert_eq!(keys_written.len(), 2);
    // The proxy used the lin-kv service.
    let journal = r.jsonl("messages.jsonl");
    assert!(journal.iter().any(|m| m["dest"] == "lin-kv"));

    let r = sim("lin-kv", &node("lin_kv.py"), &ONE_NODE, &["stale"]);
    assert_eq!(r.code, 1);
    let res = r.results();
    assert_eq!(res["workload"]["valid"], false);
    assert!(
        r.stdout.contains("Key 0 is not linearizable"),
        "{}",
        r.stdout
    );
}

#[test]
fn refused_plans() {
    let bin = node("lin_kv.py");
    // lin-kv's generator needs concurrency a multiple of 2 × nodes: Maelstrom crashes.
    let r = sim(
        "lin-kv",
        &bin,
        &["--node-count", "2", "--concurrency", "3"],
        &[],
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr.contains("multiple of 2 × node-count = 4"),
        "{}",
        r.stderr
    );
    // Bad arguments (exit 254): an unknown model, a zero key count.
    let r = sim(
        "txn-rw-register",
        &node("txn.py"),
        &["--consistency-models", "read-committed,serializable"],
        &[],
    );
    assert_eq!(r.code, 254);
    assert!(r.stderr.contains("unknown model"), "{}", r.stderr);
    let r = sim("kafka", &node("kafka.py"), &["--key-count", "0"], &[]);
    assert_eq!(r.code, 254);
    assert!(r.stderr.contains("--key-count"), "{}", r.stderr);
}
