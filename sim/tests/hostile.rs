//! The bench against hostile nodes (`tests/nodes/hostile_*`): garbage floods, a node that
//! never reads, one that closes its stdout, double replies, a 50 MB line, an early exit,
//! processes left behind, a node ignoring SIGTERM, and a flood to an unknown id.
//!
//! For each run the bench must end within time-limit + recovery + 15 s, keep its own peak
//! RSS under 500 MB, exit with the code Maelstrom would give (255 for a crash), name the
//! node and what it did in its report, and leave no process behind. Every run prints its
//! figures (`cargo test --test hostile -- --nocapture`).

mod common;

use common::{finished, fresh_store, node, run_sim_env, Run};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIME_LIMIT: u64 = 2;
const RECOVERY: u64 = 1;
/// The bound on a run's length.
const MAX_RUN: Duration = Duration::from_secs(TIME_LIMIT + RECOVERY + 15);
/// The bound on the bench's own memory.
const MAX_BENCH_RSS_KIB: u64 = 500 * 1024;
/// Environment variable whose unique value marks every process of one run.
const TAG_VAR: &str = "GLOMERS_HOSTILE_TAG";

/// A value for [`TAG_VAR`] no other run uses.
fn unique_tag(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

/// An echo test of `time_limit` seconds against `bin` on `nodes` nodes, as arguments.
fn echo_args(bin: &str, nodes: usize, time_limit: u64) -> Vec<String> {
    let words = format!(
        "-w echo --bin {bin} --node-count {nodes} --time-limit {time_limit} \
         --recovery-time {RECOVERY} --rate 20 --seed 7"
    );
    words.split_whitespace().map(String::from).collect()
}

/// Runs the echo test against the hostile node `file`, prints the figures and checks the
/// bounds every hostile run must keep.
fn hostile(file: &str, nodes: usize, expected_code: i32) -> Run {
    let tag = unique_tag(file);
    let bin = node(file);
    let args = echo_args(&bin, nodes, TIME_LIMIT);
    let after: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run_sim_env(
        "glomers-sim-hostile",
        &["test"],
        &after,
        8,
        &[("GLOMERS_SIM_TIMING", "1"), (TAG_VAR, &tag)],
    );
    check_bounds(file, &r, &tag, expected_code);
    r
}

/// The bench's own peak RSS as it printed it (with `GLOMERS_SIM_TIMING` set).
fn bench_peak_rss_kib(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("glomers-sim: peak RSS of the bench: "))
        .and_then(|rest| rest.strip_suffix(" KiB"))
        .and_then(|n| n.trim().parse().ok())
}

fn check_bounds(file: &str, r: &Run, tag: &str, expected_code: i32) {
    let rss = bench_peak_rss_kib(&r.stderr);
    eprintln!(
        "hostile {file}: ended in {:.1} s, bench peak RSS {} KiB, exit {}",
        r.elapsed.as_secs_f64(),
        rss.map_or("?".to_string(), |k| k.to_string()),
        r.code
    );
    assert_eq!(r.code, expected_code, "{file}: exit code");
    assert!(
        r.elapsed < MAX_RUN,
        "{file}: took {:?}, over {MAX_RUN:?}",
        r.elapsed
    );
    let rss = rss.unwrap_or_else(|| panic!("{file}: no peak RSS line on stderr"));
    assert!(rss < MAX_BENCH_RSS_KIB, "{file}: bench peak RSS {rss} KiB");
    assert_no_process_left(file, tag);
}

/// Fails if a process carrying `tag` in its environment still runs (after a short grace
/// for the kernel to finish what the bench killed).
fn assert_no_process_left(file: &str, tag: &str) {
    let needle = format!("{TAG_VAR}={tag}");
    let mut left = Vec::new();
    for _ in 0..30 {
        left = tagged_processes(&needle);
        if left.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{file}: processes left behind: {left:?}");
}

/// Pids and command names of live processes whose environment contains `needle`.
fn tagged_processes(needle: &str) -> Vec<(String, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            out.push((pid, comm.trim().to_string()));
        }
    }
    out
}

/// The faults the run recorded (results.json, or crash.json for a crash).
fn faults(r: &Run) -> Vec<Value> {
    let file = if r.dir.join("results.json").exists() {
        "results.json"
    } else {
        "crash.json"
    };
    let key = if file == "crash.json" {
        "faults"
    } else {
        "node_faults"
    };
    r.json(file)[key].as_array().cloned().unwrap_or_default()
}

fn kinds_of(faults: &[Value], node: &str) -> Vec<String> {
    faults
        .iter()
        .filter(|f| f["node"] == node)
        .filter_map(|f| f["kind"].as_str().map(String::from))
        .collect()
}

#[test]
fn garbage_at_100_mb_per_second_kills_only_that_nodes_output() {
    let r = hostile("hostile_garbage.py", 1, 0);
    let f = faults(&r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["node"], "n0");
    assert_eq!(f[0]["fatal"], true);
    assert!(
        ["not-utf8", "not-json"].contains(&f[0]["kind"].as_str().unwrap_or("")),
        "{f:?}"
    );
    // Two correct echoes before the flood; echo stays valid with timeouts, as in Maelstrom.
    assert_eq!(r.results()["stats"]["by_f"]["echo"]["ok_count"], 2);
    assert!(r.stdout.contains("n0 at "), "{}", r.stdout);
}

#[test]
fn a_node_that_never_reads_has_its_backlog_capped_and_is_named() {
    let r = hostile("hostile_never_reads.py", 2, 1);
    let res = r.results();
    // No echo is ever answered: stats finds no ok echo, as Maelstrom's would (exit 1).
    assert_eq!(res["stats"]["valid"], false);
    let counts = &res["node_fault_counts"];
    for n in ["n0", "n1"] {
        assert!(
            counts[n]["stdin-backlog"].as_u64().is_some_and(|c| c >= 2),
            "{n}: {counts}"
        );
    }
    assert!(
        r.stdout
            .contains("n1 is not reading its stdin: 8 MiB of messages are waiting for it"),
        "{}",
        r.stdout
    );
    assert!(r
        .stdout
        .contains("messages to n0 were dropped because it did not read"));
}

#[test]
fn a_node_that_closes_stdout_but_keeps_running_is_named() {
    let r = hostile("hostile_closes_stdout.py", 1, 0);
    let f = faults(&r);
    assert_eq!(kinds_of(&f, "n0"), vec!["stdout-closed"], "{f:?}");
    assert!(
        r.stdout.contains("n0 closed its stdout at ") && r.stdout.contains("but kept running"),
        "{}",
        r.stdout
    );
}

#[test]
fn replying_twice_is_reported_but_harmless() {
    let r = hostile("hostile_replies_twice.py", 1, 0);
    let res = r.results();
    let ok = res["stats"]["by_f"]["echo"]["ok_count"]
        .as_u64()
        .unwrap_or(0);
    assert!(ok > 10, "{ok}");
    // Every echo got a second reply; the last one may still be in flight at the end.
    let dups = res["node_fault_counts"]["n0"]["duplicate-reply"]
        .as_u64()
        .unwrap_or(0);
    assert!(dups + 1 >= ok, "{dups} duplicates for {ok} echoes");
    assert!(
        r.stdout.contains("n0 replied a second time to "),
        "{}",
        r.stdout
    );
}

#[test]
fn a_50_mb_line_is_discarded_with_its_size() {
    let r = hostile("hostile_huge_line.py", 1, 0);
    let f = faults(&r);
    assert_eq!(kinds_of(&f, "n0"), vec!["line-too-long"], "{f:?}");
    let problem = f[0]["problem"].as_str().unwrap_or_default();
    let size: u64 = problem
        .strip_prefix("a line of ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(size >= 50_000_000, "{problem}");
    assert!(problem.contains("over the bench's limit of 16 MiB per line"));
    // Only that reply was lost (the single worker then waits out its 5 s timeout, past
    // the time limit): two echoes ok, one info.
    let by_f = &r.results()["stats"]["by_f"]["echo"];
    assert_eq!(
        (&by_f["ok_count"], &by_f["info_count"]),
        (&2.into(), &1.into())
    );
}

#[test]
fn a_node_exiting_mid_run_crashes_the_test() {
    let r = hostile("echo_exits_early.py", 1, 255);
    let crash = r.json("crash.json");
    assert_eq!(crash["node"], "n0");
    assert_eq!(crash["exit_status"], "exit code 3");
    assert!(r.stdout.contains("node n0 crashed (exit code 3)"));
}

#[test]
fn processes_that_leave_the_group_are_killed_and_blamed() {
    let r = hostile("hostile_leaves_children.sh", 1, 0);
    let f = faults(&r);
    assert_eq!(
        kinds_of(&f, "n0"),
        vec!["leftover-process", "leftover-process"],
        "{f:?}"
    );
    let log = std::fs::read_to_string(r.dir.join("node-logs/n0.log")).unwrap_or_default();
    for label in ["child pid ", "grandchild pid "] {
        let pid = log
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label} in {log}"))
            .trim()
            .to_string();
        assert!(
            f.iter().any(|x| x["problem"]
                .as_str()
                .is_some_and(|p| p.starts_with(&format!("process {pid} ")))),
            "{label}{pid} not reported: {f:?}"
        );
    }
}

#[test]
fn a_node_ignoring_sigterm_is_killed_at_the_end() {
    let r = hostile("hostile_ignores_sigterm.py", 2, 0);
    assert!(faults(&r).is_empty());
}

#[test]
fn interrupting_the_bench_kills_a_node_that_ignores_sigterm() {
    let tag = unique_tag("interrupt");
    let store = fresh_store("glomers-sim-hostile-int");
    let bin = node("hostile_ignores_sigterm.py");
    let args = echo_args(&bin, 2, 30);
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_glomers-sim"))
        .arg("test")
        .arg("--store")
        .arg(&store)
        .args(&args)
        .env("GLOMERS_SIM_TIMING", "1")
        .env(TAG_VAR, &tag)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start glomers-sim");
    // Wait until the nodes are up (their log says so), then interrupt.
    let needle = format!("{TAG_VAR}={tag}");
    while tagged_processes(&needle).len() < 3 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500)); // into the main phase
                                                     // SAFETY: signalling the child we started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().expect("wait for glomers-sim");
    let r = finished(
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
        store,
    );
    check_bounds("hostile_ignores_sigterm.py (interrupted)", &r, &tag, 130);
    assert!(r.stdout.contains("INTERRUPTED"), "{}", r.stdout);
}

#[test]
fn a_tight_loop_to_an_unknown_id_kills_only_that_nodes_output() {
    let r = hostile("hostile_unknown_dest.py", 1, 0);
    let f = faults(&r);
    assert_eq!(kinds_of(&f, "n0"), vec!["unknown-id"], "{f:?}");
    assert_eq!(f[0]["fatal"], true);
    assert!(f[0]["problem"]
        .as_str()
        .is_some_and(|p| p.contains("dest \"n9\" is not a registered id")));
    assert_eq!(r.results()["stats"]["by_f"]["echo"]["ok_count"], 2);
}
