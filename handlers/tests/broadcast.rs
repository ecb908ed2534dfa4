//! The broadcast family on the deterministic driver: challenges 3a–3e (the scorecard's
//! commands and presets) on fixed seeds with and without partitions, judged by the bench's
//! set-full checker; the efficiency presets' targets; round-aligned batching read off the
//! network journal; the leaves of a star routing around a hub that is cut off; and the
//! overlays, batching modes and repairs with settings of their own.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use glomers_sim::faults::{Fault, FaultMode};
use glomers_sim::net::journal::EventKind;
use glomers_simkit::history::OpType;
use serde_json::Value;

/// The values a gossip field (`v`, `got`, `have`) names: integers and `[lo, hi]` ranges.
fn values_in(field: &Value) -> Vec<u64> {
    let mut out = Vec::new();
    for item in field.as_array().into_iter().flatten() {
        match item {
            Value::Array(pair) => {
                let (lo, hi) = (pair[0].as_u64().unwrap(), pair[1].as_u64().unwrap());
                out.extend(lo..=hi);
            }
            n => out.push(n.as_u64().expect("integer values")),
        }
    }
    out
}

/// A value a client broadcast: the value, the node it was written at, when.
struct Written {
    value: u64,
    origin: String,
    at: Duration,
}

/// Every acknowledged broadcast of the run.
fn written(out: &Outcome) -> Vec<Written> {
    out.operations()
        .into_iter()
        .filter(|(inv, done)| inv.f == "broadcast" && done.is_some_and(|d| d.kind == OpType::Ok))
        .map(|(inv, _)| Written {
            value: inv.value.as_u64().expect("integer broadcasts"),
            origin: inv.node.clone().unwrap_or_default(),
            at: Duration::from_nanos(inv.time),
        })
        .collect()
}

/// When each node first received each value from another node.
fn arrivals(out: &Outcome) -> BTreeMap<(u64, String), Duration> {
    let mut first = BTreeMap::new();
    let delivered = out
        .node_messages()
        .iter()
        .filter(|m| m.kind == EventKind::Recv);
    for m in delivered {
        for v in values_in(&m.body["v"]) {
            first.entry((v, m.dest.clone())).or_insert(m.at);
        }
    }
    first
}

/// How long `w` took to reach every node of `among` but its origin (`None`: some never
/// got it).
fn spread(
    w: &Written,
    among: &[String],
    first: &BTreeMap<(u64, String), Duration>,
) -> Option<Duration> {
    among
        .iter()
        .filter(|n| **n != w.origin)
        .map(|n| {
            first
                .get(&(w.value, n.clone()))
                .map(|t| t.saturating_sub(w.at))
        })
        .try_fold(Duration::ZERO, |worst, t| t.map(|t| worst.max(t)))
}

// ---------------------------------------------------------------------------------------
// The challenges.

/// 3a (one node) and 3b (five nodes, the `broadcast` preset) are valid on each seed, and
/// so are 3b and 3c (3b's command with the partition nemesis) under partitions.
#[test]
fn challenges_3a_to_3c_are_valid_with_and_without_partitions() {
    let mut cases = Vec::new();
    for id in ["3a", "3b", "3c"] {
        for seed in SEEDS {
            let plain = challenge(id, seed);
            if plain.args.node_count != Some(1) {
                cases.push(with_partitions(plain.clone()));
            }
            cases.push(plain);
        }
    }
    for out in run_parallel(&cases) {
        out.assert_valid();
    }
}

/// The efficiency rows, fault-free, on each seed (computed once, shared by the tests
/// that read them): 3d on its command shortened to 10 s, 3e to 15 s (its msgs/op target
/// needs the first rounds, which align the leaves, to be a small part of the run).
fn efficient_runs() -> &'static [(&'static str, u64, Outcome)] {
    static RUNS: OnceLock<Vec<(&'static str, u64, Outcome)>> = OnceLock::new();
    RUNS.get_or_init(|| {
        let rows: Vec<(&str, u64, u64)> = [("3d", 10), ("3e", 15)]
            .into_iter()
            .flat_map(|(id, secs)| SEEDS.map(move |seed| (id, seed, secs)))
            .collect();
        let cases: Vec<Case> = rows
            .iter()
            .map(|&(id, seed, secs)| lasting(challenge(id, seed), secs))
            .collect();
        rows.into_iter()
            .zip(run_parallel(&cases))
            .map(|((id, seed, _), out)| (id, seed, out))
            .collect()
    })
}

/// Valid, and within our targets: 3d ≤ 1.3 msgs/op, median stable latency < 400 ms, max
/// < 600 ms; 3e ≤ 0.35, < 1 s, < 2 s.
#[test]
fn challenges_3d_and_3e_meet_their_targets() {
    for (id, seed, out) in efficient_runs() {
        out.assert_valid();
        let (max_msgs, max_median, max_max) = match *id {
            "3d" => (1.3, 400.0, 600.0),
            _ => (0.35, 1000.0, 2000.0),
        };
        let (median, max) = out.stable_latency().expect("stable latencies");
        let mpo = out.msgs_per_op();
        assert!(
            mpo <= max_msgs && median < max_median && max < max_max,
            "{id} seed {seed}: {mpo:.3} msgs/op, stable latency median {median} ms, max {max} ms"
        );
    }
}

/// 3d and 3e (6 s) stay valid under the partition nemesis: what a partition keeps from
/// a side reaches it after the heal.
#[test]
fn challenges_3d_and_3e_are_valid_under_partitions() {
    let cases: Vec<Case> = ["3d", "3e"]
        .into_iter()
        .flat_map(|id| SEEDS.map(move |seed| (id, seed)))
        .map(|(id, seed)| {
            let mut case = lasting(challenge(id, seed), 6);
            case.args.nemesis_interval = 2.0;
            with_partitions(case)
        })
        .collect();
    for out in run_parallel(&cases) {
        out.assert_valid();
    }
}

// ---------------------------------------------------------------------------------------
// Round-aligned batching (both efficiency presets), read off the journal. The hub is n0
// and its rounds fall on multiples of `round_ms` of its clock, which on the driver is the
// virtual time since the test start.

/// A preset's round settings: (round, slack, markers).
fn round_settings(id: &str) -> (Duration, Duration, bool) {
    match id {
        "3d" => (ms(350), ms(50), false),
        _ => (ms(1700), ms(100), true),
    }
}

/// Scheduling noise the driver adds: each node picks up a line or a timer up to 1 ms late.
const PICKUP: Duration = Duration::from_millis(2);

/// The hub forwards values on its grid: about `slack` before a round instant once every
/// leaf it expects is in, at most `slack` after it otherwise (3e); without markers (3d)
/// at the instant, or earlier in a round every leaf sent in; and per round each leaf
/// sends the hub at most one message and gets at most one back.
#[test]
fn the_hub_forwards_on_its_round_grid_and_a_round_costs_one_message_per_leaf_each_way() {
    for (id, seed, out) in efficient_runs() {
        let (round, slack, markers) = round_settings(id);
        let gossip: Vec<&Message> = out.gossip_since(Duration::ZERO).collect();
        // A leaf sends its first batch at once and aligns on the hub's answer.
        let mut aligned: BTreeMap<&str, Duration> = BTreeMap::new();
        for m in gossip
            .iter()
            .filter(|m| m.src == "n0" && m.body.get("next").is_some())
        {
            aligned.entry(m.dest.as_str()).or_insert(m.at + round);
        }
        let mut per_round: BTreeMap<(String, String, u128), usize> = BTreeMap::new();
        for m in gossip.iter().filter(|m| m.at < out.main_end()) {
            let leaf = if m.src == "n0" { &m.dest } else { &m.src };
            if aligned.get(leaf.as_str()).is_none_or(|t| m.at < *t) {
                continue;
            }
            let (r, offset) = nearest_round(m.at, round);
            *per_round
                .entry((m.src.clone(), m.dest.clone(), r))
                .or_default() += 1;
            if !markers && m.dest == "n0" {
                // Without markers a leaf writes only when it has values of its own.
                assert!(m.body.get("v").is_some(), "{id} seed {seed}: {m:?}");
            }
            if m.src == "n0" && m.body.get("v").is_some() {
                // Without markers the hub never forwards after its instant.
                let (early, late) = match markers {
                    true => (slack + PICKUP, slack + PICKUP),
                    false => (slack + PICKUP, PICKUP),
                };
                assert!(
                    -offset <= early.as_nanos() as i128 && offset <= late.as_nanos() as i128,
                    "{id} seed {seed}: the hub forwarded {} ms off its round: {m:?}",
                    offset / 1_000_000
                );
            }
        }
        assert!(per_round.len() > 100, "{id} seed {seed}: rounds happened");
        for ((src, dest, r), count) in per_round {
            assert!(
                count <= 1,
                "{id} seed {seed}: {count} messages {src} -> {dest} in round {r}"
            );
        }
    }
}

/// The round nearest `at` (its number) and how far `at` is from it: negative before the
/// round's instant, positive after.
fn nearest_round(at: Duration, round: Duration) -> (u128, i128) {
    let r = (at.as_nanos() + round.as_nanos() / 2) / round.as_nanos();
    (r, at.as_nanos() as i128 - (r * round.as_nanos()) as i128)
}

/// Once the leaves are aligned, a value waits at most one round at its leaf and then
/// takes both hops in one round: it reaches every node within a round, two trips and
/// twice the slack.
#[test]
fn one_round_carries_a_value_over_both_hops() {
    for (id, seed, out) in efficient_runs() {
        let (round, slack, _) = round_settings(id);
        let nodes = node_ids(25);
        let first = arrivals(out);
        let bound = round + ms(200) + 2 * slack + PICKUP;
        let mut checked = 0;
        for w in written(out)
            .iter()
            .filter(|w| w.at >= out.since_start(2 * round))
        {
            let took = spread(w, &nodes, &first).expect("every value reaches every node");
            assert!(
                took <= bound,
                "{id} seed {seed}: value {} from {} took {took:?} (bound {bound:?})",
                w.value,
                w.origin
            );
            checked += 1;
        }
        assert!(checked > 300, "{id} seed {seed}: only {checked} values");
    }
}

/// Without faults nothing but batches and their answers travel: no anti-entropy
/// summaries (`have`) and no routing around the hub (`relay`).
#[test]
fn fault_free_rounds_need_no_anti_entropy_and_no_standby() {
    for (id, seed, out) in efficient_runs() {
        for m in out
            .gossip_since(Duration::ZERO)
            .filter(|m| m.between_nodes())
        {
            assert!(
                m.body.get("have").is_none() && m.body.get("relay").is_none(),
                "{id} seed {seed}: {m:?}"
            );
        }
    }
}

/// With markers (3e), after the hub's last forward each leaf writes once more, a marker
/// confirming it (just `got`), and then the cluster is quiet.
#[test]
fn the_last_round_is_confirmed_with_one_marker_per_leaf_then_all_is_quiet() {
    for (id, seed, out) in efficient_runs().iter().filter(|(id, _, _)| *id == "3e") {
        let gossip: Vec<&Message> = out.gossip_since(Duration::ZERO).collect();
        let last_forward = gossip
            .iter()
            .filter(|m| m.src == "n0" && m.body.get("v").is_some())
            .map(|m| m.at)
            .max()
            .expect("the hub forwarded");
        let after: Vec<&Message> = gossip
            .iter()
            .copied()
            .filter(|m| m.at > last_forward)
            .collect();
        let from: BTreeSet<&str> = after.iter().map(|m| m.src.as_str()).collect();
        assert_eq!(after.len(), 24, "{id} seed {seed}: {after:#?}");
        assert_eq!(from.len(), 24, "{id} seed {seed}: one per leaf");
        for m in after {
            let fields: Vec<&str> = m
                .body
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                (m.dest.as_str(), fields),
                ("n0", vec!["got", "type"]),
                "{m:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// A cut-off hub (issue 14): only n0 is cut off, from 2 s to 8 s of a 10 s run.

const CUT: (u64, u64) = (2, 8);

/// The 25-node challenge command of `id` with n0 cut off during [`CUT`], on seed 1.
fn hub_cut_off(id: &str) -> Case {
    let case = lasting(challenge(id, 1), 10);
    let nodes = node_ids(25);
    with_fault(case, isolate("n0", &nodes, secs(CUT.0), Some(secs(CUT.1))))
}

/// The leaf values written from `from` to `until` (times since the cut began), with
/// how long each took to reach every other leaf (`None`: some leaf never got it).
fn leaf_values_during_the_cut(
    out: &Outcome,
    from: Duration,
    until: Duration,
) -> Vec<(Written, Option<Duration>)> {
    let leaves: Vec<String> = node_ids(25).split_off(1);
    let first = arrivals(out);
    let cut = out.since_start(secs(CUT.0));
    written(out)
        .into_iter()
        .filter(|w| w.origin != "n0" && w.at >= cut + from && w.at < cut + until)
        .map(|w| {
            let took = spread(&w, &leaves, &first);
            (w, took)
        })
        .collect()
}

/// Leaves route around a silent hub through a standby. A leaf notices the silence
/// `failover_ms` after its first batch into it goes unanswered, so a value written in
/// the cut's first round may wait a round, then that long, then take three hops: up to
/// a round and a second. From then on every leaf value reaches every other leaf within
/// 2 s. The run stays valid, and once the hub is heard from again the leaves go back to
/// it: no routed batch 3 s after the heal.
#[test]
fn with_the_hub_cut_off_leaves_reach_each_other_within_two_seconds() {
    let ids = ["3d", "3e"];
    let cases: Vec<Case> = ids.iter().map(|id| hub_cut_off(id)).collect();
    for (id, out) in ids.into_iter().zip(run_parallel(&cases)) {
        out.assert_valid();
        let (round, _, _) = round_settings(id);
        let length = secs(CUT.1 - CUT.0);
        for (from, until, bound) in [
            (Duration::ZERO, secs(2), round + secs(1)),
            (secs(2), length - secs(2), secs(2)),
        ] {
            let values = leaf_values_during_the_cut(&out, from, until);
            assert!(values.len() > 50, "{id}: {} values", values.len());
            for (w, took) in &values {
                assert!(
                    took.is_some_and(|t| t <= bound),
                    "{id}: value {} written at {} at {:?} reached every leaf in {took:?} \
                     (bound {bound:?})",
                    w.value,
                    w.origin,
                    w.at
                );
            }
        }
        let routed: Vec<&Message> = out
            .sent()
            .filter(|m| m.body.get("relay").is_some())
            .collect();
        let (cut, healed) = (out.since_start(secs(CUT.0)), out.since_start(secs(CUT.1)));
        assert!(
            routed.iter().any(|m| m.at >= cut && m.at < healed),
            "{id}: leaves routed through a standby during the cut"
        );
        let late: Vec<&Message> = routed
            .iter()
            .copied()
            .filter(|m| m.at >= healed + secs(3))
            .collect();
        assert!(
            late.is_empty(),
            "{id}: still routing after the heal: {late:#?}"
        );
    }
}

/// The same cut without failover: leaves wait for the hub, so their values stall until
/// the heal, and only the repairs after it deliver them (the run is still valid).
#[test]
fn without_failover_a_cut_off_hub_stalls_the_leaves_until_the_heal() {
    let out = run_valid(&with_override(
        hub_cut_off("3e"),
        "broadcast",
        "failover_ms",
        "0",
    ));
    let values = leaf_values_during_the_cut(&out, secs(2), secs(CUT.1 - CUT.0 - 2));
    let stalled = values
        .iter()
        .filter(|(_, took)| took.is_none_or(|t| t > secs(2)))
        .count();
    assert!(
        stalled * 10 > values.len() * 9,
        "{stalled} of {} leaf values stalled",
        values.len()
    );
    assert!(out
        .gossip_since(Duration::ZERO)
        .all(|m| m.body.get("relay").is_none()));
    // Once all is repaired nothing more is sent.
    assert!(out.gossip_since(out.main_end() + secs(8)).next().is_none());
}

/// 3e's preset on 10 nodes (the challenge's rate and latency) with `faults`, for `secs`.
fn ten_nodes(secs: u64, faults: Vec<Fault>) -> Case {
    let mut case = case(
        "-w broadcast --node-count 10 --rate 100 --latency 100",
        "broadcast-3e",
        1,
    );
    case.args.time_limit = secs;
    case.faults = faults;
    case
}

const HUB_SIDE: [&str; 4] = ["n0", "n1", "n2", "n3"];

/// The far side's values written from `from` to `until` (main-phase times), each with
/// how long it took to reach the rest of the far side.
fn far_side_spreads(
    out: &Outcome,
    from: Duration,
    until: Duration,
) -> Vec<(Written, Option<Duration>)> {
    let far: Vec<String> = node_ids(10)
        .into_iter()
        .filter(|n| !HUB_SIDE.contains(&n.as_str()))
        .collect();
    let first = arrivals(out);
    written(out)
        .into_iter()
        .filter(|w| far.contains(&w.origin))
        .filter(|w| w.at >= out.since_start(from) && w.at < out.since_start(until))
        .map(|w| {
            let took = spread(&w, &far, &first);
            (w, took)
        })
        .collect()
}

/// A side split away from the hub and from the first standbys (n1..n3, which stay with
/// the hub) walks past them one deadline each and gathers on a standby of its own
/// (within 8 s: two leaves that pick each other at once settle on one in two rounds):
/// from then on its values spread within 2 s, relayed by one node once a round; all
/// converges after the heal. The same when the split is there from the start, before any
/// leaf aligned with the hub.
#[test]
fn a_side_split_from_the_hub_gathers_on_one_standby_of_its_own() {
    let nodes = node_ids(10);
    let scenarios = [(2, 14), (0, 12)];
    let cases: Vec<Case> = scenarios
        .iter()
        .map(|&(split_at, heal_at)| {
            let side = split(&HUB_SIDE, &nodes, secs(split_at), Some(secs(heal_at)));
            ten_nodes(heal_at, vec![side])
        })
        .collect();
    for (&(split_at, heal_at), out) in scenarios.iter().zip(run_parallel(&cases)) {
        out.assert_valid();
        let (settled, healed) = (secs(split_at + 8), secs(heal_at));
        let values = far_side_spreads(&out, settled, healed - secs(2));
        assert!(values.len() > 50, "{} values", values.len());
        for (w, took) in &values {
            assert!(
                took.is_some_and(|t| t <= secs(2)),
                "split at {split_at} s: value {} from {} at {:?}: {took:?}",
                w.value,
                w.origin,
                w.at
            );
        }
        // Relays on the far side: messages between far-side nodes that are not batches
        // routed to the standby.
        let relays: Vec<&Message> = out
            .sent()
            .filter(|m| m.at >= out.since_start(settled) && m.at < out.since_start(healed))
            .filter(|m| m.between_nodes() && !HUB_SIDE.contains(&m.src.as_str()))
            .filter(|m| !HUB_SIDE.contains(&m.dest.as_str()) && m.body.get("relay").is_none())
            .collect();
        let standbys: BTreeSet<&str> = relays.iter().map(|m| m.src.as_str()).collect();
        assert_eq!(standbys.len(), 1, "split at {split_at} s: {standbys:?}");
        let instants: BTreeSet<u128> = relays.iter().map(|m| m.at.as_millis()).collect();
        let rounds = (healed - settled).as_millis() / 1700 + 1;
        assert!(
            instants.len() as u128 <= rounds,
            "split at {split_at} s: relays at {} instants in {rounds} rounds",
            instants.len()
        );
    }
}

/// n1, the first standby of every other leaf, is cut off: the others never notice, and
/// n1 itself writes to one node at a time, fewer and fewer as its waits double (at most
/// two messages a second): never a relay to everyone.
#[test]
fn an_isolated_leaf_tries_one_standby_per_deadline_and_never_writes_to_everyone() {
    let nodes = node_ids(25);
    let (cut, healed) = (secs(2), secs(9));
    let out = run_valid(&with_fault(
        lasting(challenge("3e", 1), 10),
        isolate("n1", &nodes, cut, Some(healed)),
    ));
    let (cut, healed) = (out.since_start(cut), out.since_start(healed));
    let gossip: Vec<&Message> = out.gossip_since(Duration::ZERO).collect();
    let from_isolated: Vec<&Message> = gossip
        .iter()
        .copied()
        .filter(|m| m.src == "n1" && m.at >= cut && m.at < healed)
        .collect();
    assert!(from_isolated.len() <= 14, "{from_isolated:#?}");
    let mut per_instant: BTreeMap<u128, usize> = BTreeMap::new();
    for m in &from_isolated {
        *per_instant.entry(m.at.as_millis()).or_default() += 1;
    }
    assert!(per_instant.values().all(|&n| n <= 2), "{from_isolated:#?}");
    let routed: Vec<&Message> = gossip
        .iter()
        .copied()
        .filter(|m| m.src != "n1" && m.body.get("relay").is_some())
        .collect();
    assert!(routed.is_empty(), "{routed:#?}");
}

// ---------------------------------------------------------------------------------------
// Overlays, batching and repairs with settings of their own.

/// A broadcast case on `nodes` nodes (`rate` op/s, 100 ms latency, `secs` s) with the
/// `[broadcast]` settings `settings`.
fn configured(nodes: usize, rate: u32, secs: u64, settings: &str, seed: u64) -> Case {
    case_with_config(
        &format!(
            "-w broadcast --node-count {nodes} --time-limit {secs} --rate {rate} --latency 100"
        ),
        &format!("[node]\nhandlers = [\"broadcast\"]\n[broadcast]\n{settings}\n"),
        seed,
    )
}

/// Each value's origin, from the history.
fn origins(out: &Outcome) -> BTreeMap<u64, String> {
    written(out)
        .into_iter()
        .map(|w| (w.value, w.origin))
        .collect()
}

/// A star relays deltas: no value goes to the same node twice or back to its origin, and
/// only links to the hub carry anything.
#[test]
fn a_star_delivers_every_value_once_to_every_node() {
    let out = run_valid(&configured(
        5,
        40,
        5,
        "topology = \"star\"\norigin_batch_ms = 0\nrelay_batch_ms = 200",
        1,
    ));
    let origin = origins(&out);
    let mut seen: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for m in out
        .gossip_since(Duration::ZERO)
        .filter(|m| m.between_nodes())
    {
        assert!(
            m.src == "n0" || m.dest == "n0",
            "a leaf-to-leaf link: {m:?}"
        );
        // Batches and forwards only: the anti-entropy check (with `have`) may resend a
        // value whose confirmation is still on its way when the check runs.
        if m.body.get("have").is_some() {
            continue;
        }
        for v in values_in(&m.body["v"]) {
            *seen.entry((m.dest.clone(), v)).or_default() += 1;
            assert_ne!(
                origin.get(&v),
                Some(&m.dest),
                "{v} sent back to its origin: {m:?}"
            );
        }
    }
    assert!(seen.values().all(|&c| c == 1), "duplicates: {seen:?}");
    assert_eq!(
        seen.len(),
        origin.len() * 4,
        "every value to every other node"
    );
}

/// With independent batching the hub forwards in flushes `relay_batch_ms` apart, one
/// message per leaf, each also confirming (`got`) what that leaf sent.
#[test]
fn relay_batching_coalesces_values_into_one_message_per_leaf_per_flush() {
    let out = run_valid(&configured(
        5,
        40,
        5,
        "topology = \"star\"\norigin_batch_ms = 0\nrelay_batch_ms = 200",
        2,
    ));
    let origin = origins(&out);
    let mut flushes: BTreeMap<Duration, Vec<&Message>> = BTreeMap::new();
    for m in out
        .gossip_since(Duration::ZERO)
        .filter(|m| m.between_nodes() && m.src == "n0")
    {
        flushes.entry(m.at).or_default().push(m);
    }
    assert!(flushes.len() > 10, "{} flushes", flushes.len());
    let instants: Vec<Duration> = flushes.keys().copied().collect();
    for pair in instants.windows(2) {
        assert!(pair[1] - pair[0] >= ms(200), "flushes at {pair:?}");
    }
    for batch in flushes.values() {
        let leaves: BTreeSet<&str> = batch.iter().map(|m| m.dest.as_str()).collect();
        assert_eq!(
            leaves.len(),
            batch.len(),
            "one message per leaf: {batch:#?}"
        );
        for m in batch {
            for v in values_in(&m.body["got"]) {
                assert_eq!(origin.get(&v), Some(&m.dest), "{m:?}");
            }
        }
    }
}

/// `total`: every node sends its own values straight to every other, nobody relays.
#[test]
fn total_layout_sends_only_own_values_directly() {
    let out = run_valid(&lasting(challenge("3b", 1), 5));
    let origin = origins(&out);
    for m in out
        .gossip_since(Duration::ZERO)
        .filter(|m| m.between_nodes())
    {
        for v in values_in(&m.body["v"]) {
            assert_eq!(origin.get(&v), Some(&m.src), "{} relayed {v}", m.src);
        }
    }
}

/// `maelstrom` follows the `topology` message: with Maelstrom's line, n0 and n2 never
/// talk.
#[test]
fn the_maelstrom_layout_follows_the_topology_message() {
    let mut case = configured(
        3,
        20,
        5,
        "topology = \"maelstrom\"\nrelay_batch_ms = 0\norigin_batch_ms = 0",
        1,
    );
    case.args.topology = "line".into();
    let out = run_valid(&case);
    let links: BTreeSet<(String, String)> = out
        .sent()
        .filter(|m| m.between_nodes())
        .map(|m| (m.src.clone(), m.dest.clone()))
        .collect();
    assert!(!links.is_empty());
    assert!(
        links.iter().all(|(a, b)| a == "n1" || b == "n1"),
        "a line never links n0 and n2: {links:?}"
    );
}

/// Every overlay and batching mode stays valid through random partitions (halves,
/// majority/minority, one node, bridges), with duplicated messages and reordering
/// (uniform latency).
#[test]
fn every_layout_converges_through_partitions_duplicates_and_reordering() {
    let mut cases = Vec::new();
    for (i, settings) in [
        "topology = \"star\"\nrelay_batch_ms = 100\norigin_batch_ms = 30",
        "topology = \"star\"\nrelay_batch_ms = 40\norigin_batch_ms = 10\nacks = true",
        "topology = \"tree\"\nfanout = 2\nrelay_batch_ms = 50\norigin_batch_ms = 20",
        "topology = \"tree\"\nfanout = 3\nacks = true",
        "topology = \"grid\"",
        "batching = \"rounds\"\nround_ms = 500\nround_slack_ms = 30",
    ]
    .into_iter()
    .enumerate()
    {
        let mut case = configured(9, 30, 10, settings, 1 + i as u64);
        case.args.latency_dist = "uniform".into();
        case.args.nemesis_interval = 2.0;
        cases.push(with_drawn(
            with_drawn(case, FaultMode::PartitionRandom),
            FaultMode::Duplicate,
        ));
    }
    for out in run_parallel(&cases) {
        out.assert_valid();
    }
}

/// Once everything is confirmed the anti-entropy check sends nothing: the recovery
/// period (no client traffic) ends quiet.
#[test]
fn anti_entropy_goes_quiet_once_everything_is_confirmed() {
    let out = run_valid(&configured(
        6,
        20,
        5,
        "topology = \"star\"\nrelay_batch_ms = 100\nanti_entropy_ms = 500\nretry_after_ms = 1000",
        1,
    ));
    let quiet_from = out.main_end() + secs(5);
    let late: Vec<&Message> = out.gossip_since(quiet_from).collect();
    assert!(late.is_empty(), "{late:#?}");
}

/// The values dropped from `src` to `dest` that `dest` did not have yet (it neither
/// wrote nor received them), each with whether it reached `dest` later.
fn dropped_then_delivered(out: &Outcome, src: &str, dest: &str) -> Vec<(u64, bool)> {
    let origin = origins(out);
    let messages = out.node_messages();
    let got = |m: &Message, v: u64| {
        m.kind == EventKind::Recv && m.dest == dest && values_in(&m.body["v"]).contains(&v)
    };
    let mut result = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        if m.kind != EventKind::Drop || m.src != src || m.dest != dest {
            continue;
        }
        for v in values_in(&m.body["v"]) {
            let had = origin.get(&v).is_some_and(|o| o == dest)
                || messages[..i].iter().any(|n| got(n, v));
            if !had {
                result.push((v, messages[i..].iter().any(|n| got(n, v))));
            }
        }
    }
    result
}

/// Batches lost on one link, the hub's to n2, are repaired after the link heals, whether
/// losses are noticed by acknowledgements (`acks`), by the anti-entropy check, or by a
/// round's answer (rounds).
#[test]
fn batches_lost_on_one_link_are_resent_after_it_heals() {
    for settings in [
        "topology = \"star\"\nrelay_batch_ms = 0\nanti_entropy_ms = 300\nretry_after_ms = 600",
        "topology = \"star\"\nrelay_batch_ms = 0\nacks = true\nanti_entropy_ms = 200\n\
         retry_after_ms = 500\nfailover_ms = 0",
        "batching = \"rounds\"\nround_ms = 1000\nround_slack_ms = 30\nretry_after_ms = 4000",
    ] {
        let case = with_fault(
            configured(3, 20, 6, settings, 1),
            cut_links(&[("n0", "n2")], secs(1), Some(secs(3))),
        );
        let out = run_valid(&case);
        let dropped = dropped_then_delivered(&out, "n0", "n2");
        assert!(!dropped.is_empty(), "{settings}: the cut dropped batches");
        assert!(
            dropped.iter().all(|(_, later)| *later),
            "{settings}: {dropped:?}"
        );
    }
}

/// With `acks`, every batch that asks for a confirmation gets one back, confirming all
/// its values.
#[test]
fn acks_confirm_each_batch() {
    let out = run_valid(&configured(
        3,
        20,
        5,
        "topology = \"star\"\nrelay_batch_ms = 0\nacks = true\nfailover_ms = 0",
        1,
    ));
    let delivered: Vec<&Message> = out
        .node_messages()
        .iter()
        .filter(|m| m.kind == EventKind::Recv)
        .collect();
    let asks: Vec<&Message> = delivered
        .iter()
        .copied()
        .filter(|m| m.between_nodes() && m.body.get("reply").is_some())
        .collect();
    assert!(asks.len() > 20, "{} batches asked", asks.len());
    for ask in asks {
        let want: BTreeSet<u64> = values_in(&ask.body["v"]).into_iter().collect();
        let confirmed = delivered.iter().any(|m| {
            m.src == ask.dest && m.dest == ask.src && m.at >= ask.at && {
                let got: BTreeSet<u64> = values_in(&m.body["got"]).into_iter().collect();
                want.is_subset(&got)
            }
        });
        assert!(confirmed, "no confirmation of {ask:?}");
    }
}

/// A leaf's batch lost on its way to the hub (3e's preset, 5 nodes): the hub waits for
/// that expected leaf only until `slack` past its round, then forwards without it; the
/// leaf sends the lost values again with its next batch.
#[test]
fn the_hub_waits_for_a_missing_leaf_only_briefly_and_the_leaf_resends_its_batch() {
    let (round, slack, _) = round_settings("3e");
    let case = with_fault(
        case(
            "-w broadcast --node-count 5 --time-limit 10 --rate 100 --latency 100",
            "broadcast-3e",
            1,
        ),
        cut_links(&[("n3", "n0")], secs(5), Some(secs(5) + round)),
    );
    let out = run_valid(&case);
    let messages = out.node_messages();
    let lost: Vec<&Message> = messages
        .iter()
        .filter(|m| m.kind == EventKind::Drop && m.src == "n3")
        .collect();
    assert_eq!(lost.len(), 1, "one batch lost: {lost:#?}");
    let lost = lost[0];
    // The hub's next forward is late: past its instant, within the slack.
    let forward = messages
        .iter()
        .find(|m| {
            m.kind == EventKind::Send
                && m.between_nodes()
                && m.src == "n0"
                && m.body.get("v").is_some()
                && m.at > lost.at
        })
        .expect("the hub forwards");
    let (_, offset) = nearest_round(forward.at, round);
    assert!(
        offset > 0 && offset <= (slack + PICKUP).as_nanos() as i128,
        "forwarded {} ms after its round",
        offset / 1_000_000
    );
    // The values come again in n3's next batch, which arrives.
    let again = messages
        .iter()
        .find(|m| m.kind == EventKind::Recv && m.src == "n3" && m.dest == "n0" && m.at > lost.at)
        .expect("n3 writes again");
    let resent: BTreeSet<u64> = values_in(&again.body["v"]).into_iter().collect();
    for v in values_in(&lost.body["v"]) {
        assert!(resent.contains(&v), "{v} lost: {lost:?}, then {again:?}");
    }
}
