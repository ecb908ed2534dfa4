//! The gset family on the deterministic driver: the g-set row of the scorecard on fixed
//! seeds with and without partitions, judged by the bench's set-full checker, within its
//! message target; and both of its overlays through partitions, duplicated messages and
//! reordering.

mod common;

use common::*;
use glomers_sim::faults::FaultMode;

/// The g-set row (5 nodes, 10 op/s, 20 s): valid, at most 2 msgs/op, with and without
/// partitions.
#[test]
fn the_g_set_row_is_valid_within_two_messages_per_op() {
    for seed in SEEDS {
        let plain = challenge("g-set", seed);
        for case in [plain.clone(), with_partitions(plain)] {
            let out = run_valid(&case);
            assert!(
                out.msgs_per_op() <= 2.0,
                "{}: {:.2} msgs/op",
                describe(&case),
                out.msgs_per_op()
            );
        }
    }
}

/// Star and total overlays: every node converges through random partitions, duplicated
/// messages and reordering (uniform latency).
#[test]
fn every_node_converges_through_partitions_duplicates_and_reordering() {
    for (seed, topology) in [(1, "star"), (2, "total")] {
        let mut case = case_with_config(
            "-w g-set --node-count 5 --time-limit 10 --rate 20 --latency 30 --latency-dist uniform \
             --nemesis-interval 2",
            &format!("[node]\nhandlers = [\"gset\"]\n[gset]\ntopology = \"{topology}\"\n"),
            seed,
        );
        case = with_drawn(
            with_drawn(case, FaultMode::PartitionRandom),
            FaultMode::Duplicate,
        );
        run_valid(&case);
    }
}
