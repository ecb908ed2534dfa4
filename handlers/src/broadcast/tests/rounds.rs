//! Round-aligned batching on the in-test network: leaves align to the hub's rounds from
//! its answers whatever their clocks read, one round carries a value over both hops, and
//! a round costs at most one message per leaf each way.

use super::*;

const ROUND: u64 = 1000;
const SLACK: u64 = 30;

fn rounds() -> Settings {
    settings(&format!(
        "topology = \"star\"\nbatching = \"rounds\"\nround_ms = {ROUND}\n\
         round_slack_ms = {SLACK}\nretry_after_ms = 4000"
    ))
}

/// How long after `written` every node but `origin` first received `value`, if all did.
fn spread(net: &Net, value: u64, origin: usize, written: Duration) -> Option<Duration> {
    let mut last = Duration::ZERO;
    for node in (0..net.nodes.len()).filter(|&n| n != origin) {
        let first = net
            .arrivals
            .iter()
            .filter(|&&(at, to, v)| to == node && v == value && at >= written)
            .map(|&(at, _, _)| at)
            .min()?;
        last = last.max(first - written);
    }
    Some(last)
}

fn sent_between(net: &Net, from: usize, to: usize, start: Duration, end: Duration) -> usize {
    net.sent
        .iter()
        .filter(|s| s.from == from && s.to == to && s.at >= start && s.at < end)
        .count()
}

#[test]
fn one_round_carries_a_value_over_both_hops() {
    // n1's clock reads 500 ms more than the hub's, n2's 123 ms more.
    let offsets = [0, 500, 123];
    let mut net = Net::with_clocks(3, &rounds(), |i| ms(offsets[i]));
    // Unaligned, n1 sends its first value at once; the hub answers at once with when to
    // send next: 30 ms before the hub's round at 1000, counting the 100 ms trip.
    net.broadcast(1, 7);
    net.run(ms(250));
    assert_eq!(net.sent.len(), 2, "{:#?}", net.sent);
    assert_eq!(
        (net.sent[0].to, net.sent[0].body["at"].clone()),
        (0, json!(500))
    );
    assert_eq!(net.sent[1].to, 1);
    assert_eq!(net.sent[1].body["next"], json!(500 + 1000 - 30 - 100));
    assert_eq!(net.sent[1].body["got"], json!([7]));
    // The hub forwards 7 in its round at 1000. n2, with nothing of its own and no
    // answer yet (so no grid the hub could expect it on), sends no marker.
    net.run(ms(1000));
    assert_eq!(net.sent.len(), 3);
    assert_eq!((net.sent[2].at, net.sent[2].to), (ms(1000), 2));
    // A value written at 1200 leaves n1 on its grid at 1870, reaches the hub at 1970 and
    // n2 at 2100: both hops in one round.
    net.broadcast(1, 8);
    net.run(ms(1500));
    let eight: Vec<&Sent> = net
        .sent
        .iter()
        .filter(|s| values_in(&s.body["v"]).contains(&8))
        .collect();
    assert_eq!(eight.len(), 2, "{eight:#?}");
    assert_eq!((eight[0].at, eight[0].from, eight[0].to), (ms(1870), 1, 0));
    assert_eq!((eight[1].at, eight[1].from, eight[1].to), (ms(2000), 0, 2));
    // The hub's forward answers n1's batch too: its grid, one round on.
    let answer = net
        .sent
        .iter()
        .find(|s| s.at == ms(2000) && s.to == 1)
        .expect("an answer to n1");
    assert_eq!(answer.body["next"], json!(2370 + ROUND));
    assert_eq!(answer.body["got"], json!([8]));
}

#[test]
fn leaves_align_whatever_their_clocks_and_each_round_costs_one_message_per_leaf_each_way() {
    let offsets = [0, 7_321, 250, 13, 999, 4_004, 1_500, 86_400_000, 3, 640];
    let count = offsets.len();
    let mut net = Net::with_clocks(count, &rounds(), |i| ms(offsets[i]));
    let mut rng = Lcg(7);
    let mut written = Vec::new();
    for v in 0..600u64 {
        let origin = rng.below(count as u64) as usize;
        net.broadcast(origin, v);
        written.push((v, origin, net.now));
        net.run(ms(1 + rng.below(60)));
    }
    let end = net.now;
    net.run(ms(8000));
    net.assert_everyone_has(&(0..600).collect());
    // Once a leaf has had its first answer, a value waits at most one round at its
    // origin, then two hops: the hub forwards as soon as every leaf's batch is in.
    for &(v, origin, at) in &written {
        let took = spread(&net, v, origin, at).expect("everyone got it");
        let bound = if at < ms(2 * ROUND) { 2 * ROUND } else { ROUND };
        assert!(
            took <= ms(bound + 200),
            "value {v} from n{origin} at {at:?} took {took:?}"
        );
    }
    // In steady state each leaf sends at most one batch per round and the hub one
    // message per leaf per round.
    let (start, rounds) = (
        ms(2 * ROUND),
        (end.as_millis() as u64 - 2 * ROUND) / ROUND + 1,
    );
    for leaf in 1..count {
        let up = sent_between(&net, leaf, 0, start, end);
        let down = sent_between(&net, 0, leaf, start, end);
        assert!(
            up as u64 <= rounds && down as u64 <= rounds,
            "n{leaf}: {up} up, {down} down in {rounds} rounds"
        );
    }
    // Nothing but batches and their answers: no anti-entropy, no routing around the hub.
    for s in &net.sent {
        assert!(
            s.body.get("have").is_none() && s.body.get("relay").is_none(),
            "{s:?}"
        );
    }
}

#[test]
fn the_last_round_is_confirmed_with_one_marker_per_leaf_then_all_is_quiet() {
    let mut net = Net::new(4, &rounds());
    for v in 0..6 {
        net.broadcast(1 + v as usize % 3, v);
        net.run(ms(300));
    }
    net.run(ms(10_000));
    net.assert_everyone_has(&(0..6).collect());
    // After the hub's last forward, each leaf writes once, a marker confirming it, and
    // the hub's check finds nothing to resend.
    let last_forward = net
        .sent
        .iter()
        .filter(|s| s.from == 0 && s.body.get("v").is_some())
        .map(|s| s.at)
        .max()
        .expect("the hub forwarded");
    let after: Vec<&Sent> = net.sent.iter().filter(|s| s.at > last_forward).collect();
    assert_eq!(after.len(), 3, "{after:#?}");
    let mut from: Vec<usize> = after.iter().map(|s| s.from).collect();
    from.sort();
    assert_eq!(from, vec![1, 2, 3]);
    for s in after {
        assert_eq!(s.to, 0);
        let fields: Vec<&String> = s.body.as_object().unwrap().keys().collect();
        assert_eq!(fields, vec!["got", "type"], "{s:?}");
    }
}

#[test]
fn a_round_lost_in_a_partition_is_repaired_after_the_heal() {
    let mut net = Net::new(5, &rounds());
    net.broadcast(1, 1);
    net.run(ms(3000));
    net.cut.insert((0, 3));
    for v in 2..10 {
        net.broadcast(1 + v as usize % 4, v);
        net.run(ms(400));
    }
    net.heal();
    net.run(ms(12_000));
    net.assert_everyone_has(&(1..10).collect());
}

/// The hub's messages to `leaf` from `from` on, as (time within the round, has values).
fn hub_rounds(net: &Net, leaf: usize, from: Duration) -> Vec<(u64, bool)> {
    net.sent
        .iter()
        .filter(|s| s.from == 0 && s.to == leaf && s.at >= from)
        .map(|s| (s.at.as_millis() as u64 % ROUND, s.body.get("v").is_some()))
        .collect()
}

#[test]
fn the_hub_forwards_once_every_leaf_is_in_and_waits_for_a_missing_one_only_briefly() {
    let mut net = Net::new(5, &rounds());
    let mut v = 0;
    let round = |net: &mut Net, v: &mut u64| {
        for leaf in 1..5 {
            net.broadcast(leaf, *v);
            *v += 1;
        }
        net.run(ms(ROUND));
    };
    for _ in 0..4 {
        round(&mut net, &mut v);
    }
    // Aligned leaves arrive 30 ms before each round: the hub forwards right then.
    let steady = net.now;
    round(&mut net, &mut v);
    assert_eq!(hub_rounds(&net, 1, steady), vec![(ROUND - SLACK, true)]);
    // n3's next batch is lost: the hub waits for it until 30 ms past the round, then
    // forwards without it.
    net.cut.insert((3, 0));
    let cut = net.now;
    round(&mut net, &mut v);
    net.heal();
    net.run(ms(2 * SLACK));
    assert_eq!(hub_rounds(&net, 1, cut), vec![(SLACK, true)]);
    // The hub's answer told n3 its batch was not confirmed; its next batch carries the
    // lost values again, and every round is early again.
    let lost = v - 2;
    assert!(!net.read(0).contains(&lost));
    let after = net.now;
    round(&mut net, &mut v);
    round(&mut net, &mut v);
    assert_eq!(
        hub_rounds(&net, 1, after),
        vec![(ROUND - SLACK, true), (ROUND - SLACK, true)]
    );
    net.run(ms(ROUND));
    net.assert_everyone_has(&(0..v).collect());
    let resent = net
        .sent
        .iter()
        .filter(|s| s.from == 3 && values_in(&s.body["v"]).contains(&lost))
        .count();
    assert_eq!(resent, 2, "sent, lost, sent again with the next batch");
}

#[test]
fn without_markers_the_hub_forwards_at_its_round_or_once_every_leaf_has_sent() {
    let s = settings(&format!(
        "topology = \"star\"\nbatching = \"rounds\"\nround_ms = {ROUND}\n\
         round_slack_ms = {SLACK}\nround_markers = false"
    ));
    let mut net = Net::new(4, &s);
    let mut v = 0;
    let mut round = |net: &mut Net, writers: &[usize]| {
        for &leaf in writers {
            net.broadcast(leaf, v);
            v += 1;
        }
        net.run(ms(ROUND));
    };
    for _ in 0..3 {
        round(&mut net, &[1, 2, 3]);
    }
    // Every leaf sent: the round is complete 30 ms early.
    let all = net.now;
    round(&mut net, &[1, 2, 3]);
    assert_eq!(hub_rounds(&net, 1, all), vec![(ROUND - SLACK, true)]);
    // n3 has nothing: it sends nothing, and the hub forwards at its round.
    let some = net.now;
    round(&mut net, &[1, 2]);
    assert_eq!(hub_rounds(&net, 1, some), vec![(0, true)]);
    assert!(net
        .sent
        .iter()
        .all(|s| s.from == 0 || s.body.get("v").is_some()));
}

#[test]
fn a_late_batch_is_answered_at_once_and_its_values_go_with_the_next_round() {
    let s = settings(&format!(
        "topology = \"star\"\nbatching = \"rounds\"\nround_ms = {ROUND}\n\
         round_slack_ms = {SLACK}\nround_markers = false"
    ));
    let mut net = Net::new(3, &s);
    for v in 0..4 {
        net.broadcast(1 + v as usize % 2, v);
        net.run(ms(ROUND));
    }
    // n1's link to the hub slows down by 80 ms: its batch misses the round.
    net.slow.insert((1, 0), ms(80));
    net.broadcast(1, 10);
    let t = net.now;
    net.run(ms(ROUND + 100));
    let answer = net
        .sent
        .iter()
        .find(|m| m.at > t && m.from == 0 && m.to == 1)
        .expect("an answer");
    // It arrives 50 ms after the round: answered at once, with no values for n1.
    assert_eq!(answer.at.as_millis() as u64 % ROUND, 50);
    assert!(answer.body.get("next").is_some() && answer.body.get("v").is_none());
    assert_eq!(values_in(&answer.body["got"]), vec![10]);
    // No routing around a hub that answered; 10 reaches n2 in the next round.
    net.slow.clear();
    net.run(ms(ROUND));
    assert!(net.read(2).contains(&10));
    assert!(net.sent.iter().all(|m| m.body.get("relay").is_none()));
}
