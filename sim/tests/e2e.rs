//! End-to-end tests: the built `glomers-sim` binary against small Python nodes in
//! `tests/nodes/` (correct ones and deliberately broken ones). Each run is short
//! (--time-limit 3, --recovery-time 1) and asserts the exit code and results.json facts.

mod common;

use common::{node, run_sim, Run};
use serde_json::Value;
use std::process::Command;

/// Runs `glomers-sim ARGS[0] --store STORE --seed 7 ARGS[1..]` in a fresh store: our
/// flags go right after the subcommand, since anything after a `--` belongs to the node.
fn sim(args: &[&str]) -> Run {
    let after: Vec<&str> = ["--seed", "7"].iter().chain(&args[1..]).copied().collect();
    run_sim("glomers-sim-e2e", &args[..1], &after, 15)
}

const SHORT: [&str; 4] = ["--time-limit", "3", "--recovery-time", "1"];

/// `test -w WORKLOAD --bin BIN`, the short run flags, then `extra` split at white space.
fn test_args<'a>(workload: &'a str, bin: &'a str, extra: &'a str) -> Vec<&'a str> {
    let mut v = vec!["test", "-w", workload, "--bin", bin];
    v.extend_from_slice(&SHORT);
    v.extend(extra.split_whitespace());
    v
}

#[test]
fn correct_echo_is_valid() {
    let bin = node("echo.py");
    let r = sim(&test_args("echo", &bin, "--node-count 2 --rate 20"));
    assert_eq!(r.code, 0);
    let res = r.results();
    assert_eq!(res["valid"], true);
    assert_eq!(res["workload"]["valid"], true);
    let invokes = res["test"]["invoke_count"].as_u64().unwrap();
    assert!(invokes > 10, "{invokes}");
    // Client traffic only: init, echo and replies; no server messages.
    assert_eq!(res["net"]["servers"]["msg_count"], 0);
    assert_eq!(
        res["net"]["clients"]["msg_count"].as_u64().unwrap(),
        4 + 2 * invokes
    );
    // Each node's peak memory is read before the kill (a Python node uses a few MB).
    for n in ["n0", "n1"] {
        let kib = res["node_memory"][n]["peak_rss_kib"].as_u64();
        assert!(
            kib.is_some_and(|k| k > 1000),
            "{n}: {:?}",
            res["node_memory"]
        );
    }
    let history = r.jsonl("history.jsonl");
    assert_eq!(history.len() as u64, 2 * invokes);
    assert_eq!(history[0]["type"], "invoke");
    // Workers use clients c4, c5 (c0, c1 init; c2, c3 setup).
    let clients: std::collections::BTreeSet<&str> = history
        .iter()
        .filter_map(|o| o["client"].as_str())
        .collect();
    assert_eq!(clients.into_iter().collect::<Vec<_>>(), vec!["c4", "c5"]);
    let journal = r.jsonl("messages.jsonl");
    assert_eq!(journal[0]["id"], 0);
    assert_eq!(journal[0]["body"]["type"], "init");
    assert_eq!(journal[0]["body"]["msg_id"], 1);
    assert!(r.stdout.contains("VALID"));
}

#[test]
fn wrong_echo_is_invalid_and_named() {
    let bin = node("echo_wrong.py");
    let r = sim(&test_args("echo", &bin, "--node-count 1 --rate 20"));
    assert_eq!(r.code, 1);
    let res = r.results();
    assert_eq!(res["valid"], false);
    assert_eq!(res["workload"]["valid"], false);
    assert!(
        r.stdout.contains("(changed)"),
        "the report shows the bad reply"
    );
    assert!(
        r.stdout.contains("net #"),
        "the report shows network messages"
    );
}

#[test]
fn extra_reply_field_is_an_exception_naming_the_field() {
    let bin = node("echo_extra_field.py");
    let r = sim(&test_args("echo", &bin, "--node-count 1 --rate 10"));
    let res = r.results();
    let count = res["exceptions"]["count"].as_u64().unwrap();
    assert!(count > 0);
    let first = &res["exceptions"]["exceptions"][0];
    assert!(
        first["message"].as_str().unwrap().contains("`node`"),
        "{first}"
    );
    // Every op is info with an exception, so echo never succeeds: stats fails the run.
    assert_eq!(res["stats"]["valid"], false);
    assert_eq!(r.code, 1);
    let history = r.jsonl("history.jsonl");
    assert!(history
        .iter()
        .filter(|o| o["type"] != "invoke")
        .all(|o| o["type"] == "info"));
}

#[test]
fn non_json_stdout_line_kills_the_node_output_and_is_reported() {
    let bin = node("echo_bad_stdout.py");
    let r = sim(&test_args("echo", &bin, "--node-count 1 --rate 5"));
    let res = r.results();
    let faults = res["node_faults"].as_array().unwrap();
    assert_eq!(faults.len(), 1);
    assert_eq!(faults[0]["node"], "n0");
    assert_eq!(faults[0]["fatal"], true);
    assert_eq!(faults[0]["line"], "handling echo number 3");
    // The two echoes before the bad line succeed; everything after times out.
    let history = r.jsonl("history.jsonl");
    let ok = history.iter().filter(|o| o["type"] == "ok").count();
    assert_eq!(ok, 2);
    assert!(res["availability"]["ok_fraction"].as_f64().unwrap() < 1.0);
    assert!(r
        .stdout
        .contains("Node problems (1 in all): n0: not-json x1"));
    // Like Maelstrom: echo stays valid (timeouts are info).
    assert_eq!(r.code, 0);
}

#[test]
fn node_exiting_early_crashes_the_test() {
    let bin = node("echo_exits_early.py");
    let r = sim(&test_args("echo", &bin, "--node-count 1 --rate 20"));
    assert_eq!(r.code, 255);
    let crash = r.json("crash.json");
    assert_eq!(crash["node"], "n0");
    assert_eq!(crash["exit_status"], "exit code 3");
    assert!(crash["log_tail"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l.as_str().unwrap().contains("giving up")));
    assert!(!r.dir.join("results.json").exists());
    assert!(r.stdout.contains("CRASHED"));
}

#[test]
fn unique_ids_correct_and_duplicated() {
    let good = node("unique_ids.py");
    let r = sim(&test_args(
        "unique-ids",
        &good,
        "--node-count 3 --rate 50 --availability total --nemesis partition",
    ));
    assert_eq!(r.code, 0);
    assert_eq!(r.results()["availability"]["valid"], true);
    let nemesis = r.jsonl("nemesis.jsonl");
    assert_eq!(nemesis[0]["f"], "start-partition");

    let bad = node("unique_ids_dup.py");
    let r = sim(&test_args("unique-ids", &bad, "--node-count 3 --rate 50"));
    assert_eq!(r.code, 1);
    let res = r.results();
    assert_eq!(res["workload"]["valid"], false);
    assert!(res["workload"]["duplicated_count"].as_u64().unwrap() > 0);
}

#[test]
fn broadcast_with_partitions_and_latency_is_valid() {
    let bin = node("broadcast.py");
    let r = sim(&test_args(
        "broadcast",
        &bin,
        "--node-count 5 --rate 20 --latency 20 --latency-dist exponential --nemesis partition --nemesis-interval 1",
    ));
    assert_eq!(r.code, 0);
    let res = r.results();
    assert!(res["net"]["servers"]["msgs_per_op"].as_f64().unwrap() > 0.0);
    assert!(res["workload"]["stable_latencies"]["1"].is_number());
    let history = r.jsonl("history.jsonl");
    // One final read per worker (5 workers), all flagged final.
    let finals: Vec<&Value> = history
        .iter()
        .filter(|o| o["final_phase"] == true && o["type"] == "invoke")
        .collect();
    assert_eq!(finals.len(), 5);
    assert!(finals.iter().all(|o| o["f"] == "read"));
    // The nemesis healed before the final phase.
    let nemesis = r.jsonl("nemesis.jsonl");
    assert_eq!(nemesis.last().unwrap()["f"], "stop-partition");
    // Topology was sent by the setup clients c5..c9.
    let journal = r.jsonl("messages.jsonl");
    let topo: Vec<&Value> = journal
        .iter()
        .filter(|m| m["kind"] == "send" && m["body"]["type"] == "topology")
        .collect();
    assert_eq!(topo.len(), 5);
    assert_eq!(
        topo[0]["body"]["topology"]["n0"],
        serde_json::json!(["n3", "n1"])
    );
}

#[test]
fn lossy_broadcast_is_invalid_with_lost_values() {
    let bin = node("broadcast_lossy.py");
    let r = sim(&test_args("broadcast", &bin, "--node-count 3 --rate 20"));
    assert_eq!(r.code, 1);
    let res = r.results();
    assert!(res["workload"]["lost_count"].as_u64().unwrap() > 0);
    assert!(r.stdout.contains("lost"));
}

#[test]
fn g_counter_on_seq_kv_is_valid_under_partitions() {
    let bin = node("g_counter.py");
    let r = sim(&test_args(
        "g-counter",
        &bin,
        "--node-count 3 --rate 20 --nemesis partition --nemesis-interval 1",
    ));
    assert_eq!(r.code, 0);
    let res = r.results();
    assert_eq!(res["workload"]["valid"], true);
    // Node <-> seq-kv traffic counts as server traffic.
    assert!(res["net"]["servers"]["msg_count"].as_u64().unwrap() > 0);
    let journal = r.jsonl("messages.jsonl");
    assert!(journal
        .iter()
        .any(|m| m["src"] == "seq-kv" && m["kind"] == "recv"));
}

#[test]
fn bad_arguments_exit_254() {
    let bin = node("echo.py");
    let bin = bin.as_str();
    for (workload, bin, extra) in [
        ("echo", bin, "--concurrency x"),
        ("echo", bin, "--latency-dist normal"),
        ("echo", bin, "--nemesis kill"),
        ("nope", bin, ""),
        ("kafka", bin, "--key-count 0"),
        ("echo", "/nonexistent/node", ""),
        ("echo", bin, "--unknown-flag"),
    ] {
        let mut args = vec!["test", "-w", workload, "--bin", bin];
        args.extend(extra.split_whitespace());
        let r = sim(&args);
        assert_eq!(r.code, 254, "{args:?}");
    }
}

#[test]
fn node_gets_extra_words_runs_in_temp_dir_and_leaves_no_orphans() {
    let bin = node("echo_wrapper.sh");
    let r = sim(&test_args(
        "echo",
        &bin,
        "--node-count 1 --rate 10 word1 -- --flag-for-node",
    ));
    assert_eq!(r.code, 0);
    let log = std::fs::read_to_string(r.dir.join("node-logs/n0.log")).unwrap();
    assert!(log.contains("'word1', '--flag-for-node'"), "{log}");
    let tmp = std::env::temp_dir().canonicalize().unwrap();
    assert!(log.contains(&format!("cwd: {}", tmp.display())), "{log}");
    // The wrapper's child (not exec'd) must be gone: we kill the whole process group.
    let pid: u32 = log
        .lines()
        .find_map(|l| l.strip_prefix("child pid "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut gone = false;
    for _ in 0..50 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => gone = true,
            // A zombie waiting for its reaper is dead too.
            Ok(stat) => gone = stat.split_whitespace().nth(2) == Some("Z"),
        }
        if gone {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(gone, "child {pid} of the wrapper survived the test");
}

#[test]
fn challenges_scorecard_runs_echo_with_its_preset() {
    let configs =
        std::env::temp_dir().join(format!("glomers-sim-e2e-config-{}", std::process::id()));
    std::fs::create_dir_all(&configs).unwrap();
    std::fs::write(configs.join("default.toml"), "# test preset\n").unwrap();
    let bin = node("echo.py");
    let r = sim(&[
        "challenges",
        "--bin",
        &bin,
        "--only",
        "1",
        "--config-dir",
        configs.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_dir_all(&configs);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("(1 challenge command)"), "{}", r.stdout);
    let row = r.stdout.lines().find(|l| l.starts_with("1 Echo")).unwrap();
    assert!(row.contains("valid"), "{row}");
    // The node got the preset.
    let log = std::fs::read_to_string(r.dir.join("node-logs/n0.log")).unwrap();
    assert!(
        log.contains("'--config'") && log.contains("default.toml"),
        "{log}"
    );
}

#[test]
fn wrong_init_reply_crashes_setup() {
    let bin = node("init_wrong_type.py");
    let r = sim(&test_args("echo", &bin, "--node-count 2"));
    assert_eq!(r.code, 255);
    let crash = r.json("crash.json");
    assert_eq!(crash["kind"], "setup");
    assert!(
        crash["message"].as_str().unwrap().contains("init_okay"),
        "{crash}"
    );
}

#[test]
fn log_stderr_echoes_node_logs_with_the_node_id() {
    let bin = node("echo.py");
    let store = std::env::temp_dir().join(format!("glomers-sim-e2e-log-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_glomers-sim"))
        .args([
            "test",
            "-w",
            "echo",
            "--bin",
            &bin,
            "--node-count",
            "1",
            "--time-limit",
            "1",
        ])
        .arg("--log-stderr")
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&store);
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[n0] args:"), "{stderr}");
}
