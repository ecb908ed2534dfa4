//! End-to-end tests of the families beyond the challenges, on real `glomers-host`
//! processes: the raft family's answers to bad input and to a node with no leader, and
//! short bench runs of each new preset (lin-kv, txn-list-append, g-set, pn-counter) under
//! partitions. The bench runs are skipped, with a note, when `glomers-sim` is not built.

mod common;

use common::Host;
use serde_json::{json, Value};

/// A lone raft node leads at once: cas on a missing key, a failed precondition and
/// malformed requests get Maelstrom's codes, and the state is unchanged by them.
#[test]
fn raft_lin_kv_answers_bad_requests_with_maelstrom_codes() {
    let mut host = Host::start("lin-kv.toml", &[]);
    host.init("n0", &["n0"]);
    let mut call = |id: u64, body: Value| -> Value {
        let mut body = body;
        body["msg_id"] = json!(id);
        host.send("c1", "n0", body);
        host.next_to("c1")["body"].clone()
    };
    let cas = json!({"type": "cas", "key": 1, "from": 0, "to": 1});
    assert_eq!(call(1, cas.clone())["code"], 20, "cas on a missing key");
    let w = call(2, json!({"type": "write", "key": 1, "value": 5}));
    assert_eq!(w, json!({"type": "write_ok", "in_reply_to": 2}));
    assert_eq!(
        call(3, cas)["code"],
        22,
        "cas from a value the key does not hold"
    );
    for (id, bad) in [
        (4, json!({"type": "write", "key": 1})),
        (5, json!({"type": "write", "value": 1})),
        (6, json!({"type": "read"})),
        (7, json!({"type": "cas", "key": 1, "to": 2})),
    ] {
        assert_eq!(call(id, bad.clone())["code"], 12, "{bad}");
    }
    let r = call(8, json!({"type": "read", "key": 1}));
    assert_eq!(r, json!({"type": "read_ok", "value": 5, "in_reply_to": 8}));
}

/// A node whose peers never answer has no leader: its requests get error 11 (after at
/// most leader_wait_ms, 600 ms in the preset), never silence.
#[test]
fn raft_node_without_a_leader_answers_11() {
    let mut host = Host::start("lin-kv.toml", &[]);
    host.init("n0", &["n0", "n1", "n2"]);
    for (id, body) in [
        (1, json!({"type": "write", "key": 1, "value": 1})),
        (2, json!({"type": "read", "key": 1})),
    ] {
        let mut body = body;
        body["msg_id"] = json!(id);
        host.send("c1", "n0", body);
        let reply = host.next_to("c1");
        assert_eq!(reply["body"]["code"], 11, "{reply}");
        assert_eq!(reply["body"]["in_reply_to"], id);
    }
}

/// Runs the bench with `flags` and the preset named by the first word, expecting a valid
/// run; prints its figures.
fn bench(preset: &str, flags: &str) {
    let mut args: Vec<&str> = flags.split_whitespace().collect();
    args.push(preset);
    let _one_at_a_time = common::one_bench_at_a_time();
    let run = common::run_bench(flags, &args, &[]);
    let results = run.valid_results();
    eprintln!(
        "{preset} {flags}: servers msgs-per-op {:.2}, availability {}",
        common::servers_msgs_per_op(&results),
        results["availability"]["ok_fraction"]
    );
    run.remove_store();
}

#[test]
fn bench_lin_kv_on_raft_under_partitions() {
    bench(
        "lin-kv.toml",
        "-w lin-kv --node-count 3 --concurrency 2n --time-limit 8 --rate 50 --nemesis partition --nemesis-interval 2",
    );
}

#[test]
fn bench_txn_list_append_strict_serializable_under_partitions() {
    bench(
        "txn-list-append.toml",
        "-w txn-list-append --node-count 3 --concurrency 2n --time-limit 6 --rate 50 --consistency-models strict-serializable --nemesis partition --nemesis-interval 2",
    );
}

#[test]
fn bench_g_set_under_partitions() {
    bench(
        "g-set.toml",
        "-w g-set --node-count 5 --time-limit 5 --rate 10 --nemesis partition --nemesis-interval 2 --recovery-time 5",
    );
}

#[test]
fn bench_pn_counter_under_partitions() {
    bench(
        "pn-counter.toml",
        "-w pn-counter --node-count 3 --time-limit 5 --rate 50 --nemesis partition --nemesis-interval 2 --recovery-time 3",
    );
}
