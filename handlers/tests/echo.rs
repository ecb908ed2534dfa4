//! The echo family on the deterministic driver: challenge 1 (the scorecard's command and
//! preset) on fixed seeds, judged by the bench's echo checker.

mod common;

use common::*;

/// Challenge 1 on one node: every echo comes back unchanged, and nothing else is sent.
#[test]
fn challenge_1_echoes_every_value() {
    let cases: Vec<Case> = SEEDS.map(|seed| challenge("1", seed)).to_vec();
    for out in run_parallel(&cases) {
        out.assert_valid();
        assert!(out.ok("echo").len() > 40, "{}", describe(&out.case));
        assert_eq!(out.ok_fraction(), 1.0);
        assert!(out
            .sent()
            .all(|m| m.src.starts_with('c') || m.dest.starts_with('c')));
    }
}
