//! The counter family on the deterministic driver: challenge 4 (g-counter, seq-kv mode)
//! and the pn-counter row (crdt mode) on fixed seeds with and without partitions, judged
//! by the bench's counter checker (every final read must be the exact sum); the seq-kv
//! mode's message budget and quiet when idle, and the crdt mode's convergence through
//! duplicates and reordering.

mod common;

use common::*;
use glomers_sim::faults::FaultMode;

/// True for messages between a node and a service (`seq-kv`, `lin-kv`, ...).
fn with_service(m: &Message) -> bool {
    let service = |id: &str| id.ends_with("-kv") || id == "lin-tso";
    service(&m.src) || service(&m.dest)
}

/// Challenge 4 with the g-counter preset (10 s instead of 20): exact final reads with
/// and without partitions (which seq-kv mode ignores: nodes never talk to each other),
/// and a quarter of a message per operation at most.
#[test]
fn challenge_4_reads_exact_sums_for_a_quarter_message_per_op() {
    let mut cases = Vec::new();
    for seed in SEEDS {
        let mut plain = lasting(challenge("4", seed), 10);
        plain.args.nemesis_interval = 3.0;
        cases.extend([plain.clone(), with_partitions(plain)]);
    }
    for out in run_parallel(&cases) {
        out.assert_valid();
        assert!(
            out.case.faults.is_empty() || out.sent().all(|m| !m.between_nodes()),
            "seq-kv mode: nodes never talk to each other"
        );
        assert!(
            out.msgs_per_op() <= 0.25,
            "{}: {:.3} msgs/op",
            describe(&out.case),
            out.msgs_per_op()
        );
    }
}

/// The pn-counter row (crdt mode, 6 s): exact final reads with and without partitions,
/// and through duplicated and reordered messages (uniform latency).
#[test]
fn pn_counter_reads_exact_sums_through_partitions_duplicates_and_reordering() {
    let mut cases = Vec::new();
    for seed in SEEDS {
        let mut plain = lasting(challenge("pn-counter", seed), 6);
        plain.args.nemesis_interval = 2.0;
        let mut shuffled = with_drawn(with_partitions(plain.clone()), FaultMode::Duplicate);
        shuffled.args.latency = 20;
        shuffled.args.latency_dist = "uniform".into();
        cases.extend([plain.clone(), with_partitions(plain), shuffled]);
    }
    for out in run_parallel(&cases) {
        out.assert_valid();
    }
}

/// seq-kv mode counts negative deltas down too: the pn-counter workload on the
/// g-counter preset.
#[test]
fn seq_kv_mode_counts_negative_deltas_down() {
    let cases: Vec<Case> = SEEDS
        .map(|seed| {
            let mut case = case(
                "-w pn-counter --node-count 3 --rate 100 --time-limit 6",
                "g-counter",
                seed,
            );
            case.args.nemesis_interval = 2.0;
            with_partitions(case)
        })
        .to_vec();
    for out in run_parallel(&cases) {
        out.assert_valid();
    }
}

/// The built-in defaults (an add answered once stored, a batch per 100 ms, refreshes
/// every 0.5–2 s): exact, under two messages per operation, and nearly silent while
/// idle: during the recovery, with no client traffic, each node refreshes at most once
/// per `refresh_max_ms` (2 s), each refresh a pin write and a read of each other node's
/// key (6 messages on 3 nodes).
#[test]
fn with_the_built_in_defaults_most_reads_cost_nothing_and_idle_nodes_go_quiet() {
    let out = run_valid(&case_with_config(
        "-w g-counter --node-count 3 --rate 100 --time-limit 10",
        "[node]\nhandlers = [\"counter\"]\n",
        1,
    ));
    assert!(out.msgs_per_op() < 2.0, "{:.2} msgs/op", out.msgs_per_op());
    let idle_from = out.main_end() + secs(2);
    let idle_until = out.main_end() + secs(10);
    let idle = out
        .sent()
        .filter(|m| with_service(m) && m.at >= idle_from && m.at < idle_until)
        .count();
    let refreshes_per_node = 8 / 2 + 1;
    assert!(
        idle <= 3 * refreshes_per_node * 6,
        "{idle} service messages in 8 idle seconds"
    );
    assert!(out.sent().all(|m| !m.between_nodes()));
}

/// A node never lags behind seq-kv by more than one refresh: with refreshes every 500 ms
/// (never backing off) and final reads 1.1 s after the main phase, every final read is
/// already exact. That holds only because a refresh reads right after a
/// state-changing request of the node's own, which pins seq-kv to its newest state.
#[test]
fn one_refresh_after_the_last_add_is_exact() {
    let cases: Vec<Case> = SEEDS
        .map(|seed| {
            let mut case = case_with_config(
                "-w g-counter --node-count 3 --rate 100 --time-limit 6",
                "[node]\nhandlers = [\"counter\"]\n[counter]\nrefresh_ms = 500\nrefresh_max_ms = 500\n",
                seed,
            );
            case.args.recovery_time = 1.1;
            case
        })
        .to_vec();
    for out in run_parallel(&cases) {
        out.assert_valid();
    }
}

/// Once a crdt cluster has converged it sends nothing: the recovery ends quiet.
#[test]
fn an_idle_converged_crdt_cluster_sends_nothing() {
    let out = run_valid(&lasting(challenge("pn-counter", 1), 5));
    let quiet_from = out.main_end() + secs(3);
    let late: Vec<&Message> = out.gossip_since(quiet_from).collect();
    assert!(late.is_empty(), "{late:#?}");
    assert!(
        out.gossip_since(out.run.main_start).count() > 10,
        "it gossiped before"
    );
}
