//! Every registered family is a pure function of its inputs: run twice with one seed on
//! the deterministic driver, each of its scenarios (the family in each of its modes, on
//! three nodes, with partitions, duplicated messages and reordering) writes a
//! byte-identical `history.jsonl` and `messages.jsonl`. Hash maps get new random keys in
//! every run, so output that depends on a map's iteration order shows up here too.

mod common;

use common::*;
use glomers_runtime::registry::all_specs;
use glomers_sim::faults::FaultMode;
use glomers_sim::net::journal::write_event;

/// A family's scenario: the workload that drives it and the `[family]` settings.
struct Scenario {
    workload: &'static str,
    settings: &'static str,
}

const fn scenario(workload: &'static str, settings: &'static str) -> Scenario {
    Scenario { workload, settings }
}

/// The scenarios of a family, by name; every registered family must have one.
fn scenarios(family: &str) -> Vec<Scenario> {
    match family {
        "echo" => vec![scenario("echo", "")],
        "generate" => vec![scenario("unique-ids", "")],
        "broadcast" => vec![
            scenario("broadcast", ""),
            scenario("broadcast", "topology = \"maelstrom\"\nrelay_batch_ms = 30"),
            scenario(
                "broadcast",
                "batching = \"rounds\"\nround_ms = 200\nround_slack_ms = 20\nfailover_ms = 150",
            ),
        ],
        "counter" => vec![
            scenario("g-counter", ""),
            scenario("pn-counter", "mode = \"crdt\""),
            scenario("g-counter", "add_ack = \"received\"\nflush_ms = 300"),
        ],
        "kafka" => vec![
            scenario("kafka", ""),
            scenario("kafka", "mode = \"lin-kv\""),
        ],
        "txn" => vec![scenario("txn-rw-register", "")],
        "gset" => vec![scenario(
            "g-set",
            "relay_batch_ms = 30\nretry_after_ms = 300",
        )],
        "raft" => vec![
            scenario("lin-kv", "machine = \"lin-kv\""),
            scenario("txn-rw-register", "machine = \"txn-rw-register\""),
            scenario(
                "txn-list-append",
                "machine = \"txn-list-append\"\nbatch_ms = 0",
            ),
        ],
        _ => Vec::new(),
    }
}

/// The case of `scenario` of `family`: 3 nodes, 4 s at 50 op/s, uniform latency (which
/// reorders), partitions and duplicated messages about every second.
fn scenario_case(family: &str, s: &Scenario) -> Case {
    let config = format!(
        "[node]\nhandlers = [\"{family}\"]\n[{family}]\n{}\n",
        s.settings
    );
    let flags = format!(
        "-w {} --node-count 3 --concurrency 2n --time-limit 4 --rate 50 --latency 10 \
         --latency-dist uniform --nemesis-interval 1 --recovery-time 2",
        s.workload
    );
    let case = case_with_config(&flags, &config, 11);
    with_drawn(with_partitions(case), FaultMode::Duplicate)
}

/// What the run would write as `history.jsonl` and `messages.jsonl`.
fn files(out: &Outcome) -> (Vec<u8>, Vec<u8>) {
    let mut history = Vec::new();
    for op in &out.run.history.ops {
        serde_json::to_writer(&mut history, op).expect("history serializes");
        history.push(b'\n');
    }
    let mut journal = Vec::new();
    for event in &out.run.journal {
        write_event(&mut journal, event).expect("writing to a Vec cannot fail");
    }
    (history, journal)
}

/// The line of `text` around byte `at`.
fn line_at(text: &[u8], at: usize) -> String {
    let start = text[..at]
        .iter()
        .rposition(|c| *c == b'\n')
        .map_or(0, |p| p + 1);
    let end = text[at..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(text.len(), |p| at + p);
    String::from_utf8_lossy(&text[start..end]).into_owned()
}

#[test]
fn every_family_writes_the_same_bytes_for_the_same_seed() {
    glomers_handlers::link();
    let specs = all_specs();
    assert!(specs.len() >= 8, "the families are linked");
    let (mut cases, mut families) = (Vec::new(), Vec::new());
    for spec in &specs {
        let family_scenarios = scenarios(spec.family);
        assert!(
            !family_scenarios.is_empty(),
            "family `{}` has no determinism scenario: add one to handlers/tests/determinism.rs",
            spec.family
        );
        for s in &family_scenarios {
            let case = scenario_case(spec.family, s);
            cases.push(case.clone());
            cases.push(case);
            families.push(spec.family);
        }
    }
    let outs = run_parallel(&cases);
    for (pair, family) in outs.chunks(2).zip(families) {
        // Validity is for each family's own tests; this one compares bytes only.
        let (first, second) = (&pair[0], &pair[1]);
        let what = describe(&first.case);
        let (h1, m1) = files(first);
        let (h2, m2) = files(second);
        let replicated = first
            .sent()
            .any(|m| m.src.starts_with('n') && !m.dest.starts_with('c'));
        assert!(
            replicated || ["echo", "generate"].contains(&family),
            "{what}: the nodes talked to each other or to a service"
        );
        assert!(
            h1.len() > 10_000 && m1.len() > 10_000,
            "{what}: the run did something"
        );
        for (name, a, b) in [("history.jsonl", &h1, &h2), ("messages.jsonl", &m1, &m2)] {
            if a != b {
                let at = a
                    .iter()
                    .zip(b.iter())
                    .position(|(x, y)| x != y)
                    .unwrap_or(0);
                panic!(
                    "{what}: {name} differs between two runs with one seed at byte {at}:\n  run 1: {}\n  run 2: {}",
                    line_at(a, at),
                    line_at(b, at)
                );
            }
        }
    }
}
