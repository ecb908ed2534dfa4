//! The generate family on the deterministic driver: challenge 2 (the scorecard's command
//! and preset, 3 s instead of 30 at the same rate) on fixed seeds with and without
//! partitions, judged by the bench's unique-ids checker with total availability.

mod common;

use common::*;

/// Challenge 2 on three nodes: every id unique and every request answered, partitioned
/// or not, without a message between nodes.
#[test]
fn challenge_2_ids_are_unique_and_always_available() {
    let mut cases = Vec::new();
    for seed in SEEDS {
        let mut plain = lasting(challenge("2", seed), 3);
        plain.args.nemesis_interval = 1.0;
        cases.extend([with_partitions(plain.clone()), plain]);
    }
    for out in run_parallel(&cases) {
        out.assert_valid();
        assert!(out.ok("generate").len() > 2000, "{}", describe(&out.case));
        assert_eq!(out.ok_fraction(), 1.0, "{}", describe(&out.case));
        assert_eq!(out.gossip_since(std::time::Duration::ZERO).count(), 0);
    }
}
