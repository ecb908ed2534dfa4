//! Every refused `glomers-sim` flag says what it allows (exit 254, as Maelstrom's bad
//! arguments): the message is checked word for word on the built binary.

mod common;

use common::{node, run_sim};

/// Runs `glomers-sim test -w WORKLOAD --bin echo.py FLAGS` and returns (code, stderr).
fn refused(workload: &str, flags: &str) -> (i32, String) {
    let bin = node("echo.py");
    let mut after = vec!["-w", workload, "--bin", bin.as_str()];
    after.extend(flags.split_whitespace());
    let r = run_sim("glomers-sim-flags", &["test"], &after, 4);
    (r.code, r.stderr)
}

#[test]
fn every_bad_flag_says_what_is_allowed() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "echo",
            "--time-limit 2.5",
            "invalid value '2.5' for '--time-limit <TIME_LIMIT>': expected a whole number of \
             seconds, 1 or more",
        ),
        (
            "echo",
            "--rate -1",
            "invalid value '-1' for '--rate <RATE>': expected a number of operations per \
             second (0 runs no client operations), 0 or more",
        ),
        (
            "echo",
            "--latency -5",
            "invalid value '-5' for '--latency <LATENCY>': expected a whole number of \
             milliseconds, 0 or more",
        ),
        (
            "echo",
            "--node-count 0",
            "invalid value '0' for '--node-count <NODE_COUNT>': expected a whole number of \
             nodes, 1 or more",
        ),
        (
            "echo",
            "--nemesis-interval 0",
            "expected a number of seconds greater than 0",
        ),
        (
            "broadcast",
            "--recovery-time -2",
            "invalid value '-2' for '--recovery-time <RECOVERY_TIME>': expected a number of \
             seconds, 0 or more",
        ),
        (
            "kafka",
            "--key-count 0",
            "expected a whole number of keys, 1 or more",
        ),
        (
            "txn-rw-register",
            "--max-txn-length 0",
            "expected a whole number of micro-operations, 1 or more",
        ),
        (
            "echo",
            "--seed x",
            "expected a whole number from 0 to 18446744073709551615",
        ),
        (
            "echo",
            "--concurrency 2.5n",
            "--concurrency \"2.5n\": expected an integer or Kn (e.g. 2n = twice the node count)",
        ),
        (
            "echo",
            "--latency-dist normal",
            "--latency-dist \"normal\": expected constant, uniform or exponential",
        ),
        (
            "broadcast",
            "--topology ring",
            "--topology \"ring\": expected grid, line, tree, tree2, tree3, tree4 or total",
        ),
        (
            "echo",
            "--nemesis kill",
            "--nemesis: unknown fault \"kill\"; the only one is \"partition\"",
        ),
        (
            "echo",
            "--availability most",
            "--availability must be either 'total' or a number between 0 and 1, not \"most\"",
        ),
        (
            "txn-rw-register",
            "--consistency-models snapshot",
            "--consistency-models: unknown model \"snapshot\"; glomers-sim checks ",
        ),
        (
            "echo",
            "--unknown-flag",
            "unexpected argument '--unknown-flag' found\n\n  tip: to pass '--unknown-flag' as \
             a value, use '-- --unknown-flag'",
        ),
    ];
    for (workload, flags, expected) in cases {
        let (code, stderr) = refused(workload, flags);
        assert_eq!(code, 254, "{flags}: {stderr}");
        assert!(stderr.contains(expected), "{flags}: {stderr}");
    }
    let r = run_sim("glomers-sim-flags", &["challenges"], &["--only", "9z"], 4);
    assert_eq!(r.code, 254);
    assert!(
        r.stderr.contains(
            "--only matched no challenge (ids: 1 2 3a 3b 3c 3d 3e 4 5a 5b 5c 6a 6b 6c; \
                       with --all also g-set pn-counter lin-kv txn)"
        ),
        "{}",
        r.stderr
    );
    let (code, stderr) = refused("paxos", "");
    assert_eq!(code, 254);
    assert!(
        stderr.contains(
            "unknown workload \"paxos\"; Maelstrom's workloads are: broadcast, echo, \
             g-counter, g-set, kafka, lin-kv, pn-counter, txn-list-append, txn-rw-register, \
             unique-ids"
        ),
        "{stderr}"
    );
}
