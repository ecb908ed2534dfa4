//! Routing around a cut-off relay, on the shipped presets: leaves of a star whose hub is
//! cut off keep spreading their values through a standby, a side split away from the hub
//! finds a standby of its own, an isolated leaf costs little, and everything goes back to
//! the hub (and quiet) after the heal.

use glomers_runtime::config::Config;

use super::*;

/// The `[broadcast]` settings of a preset in `config/`.
fn preset(name: &str, text: &str) -> Settings {
    let config = Config::parse(name, text).unwrap();
    let mut section = config.section("broadcast");
    let s = Settings::from_section(&mut section).unwrap();
    section.finish().unwrap();
    s
}

fn preset_3e() -> Settings {
    preset(
        "broadcast-3e.toml",
        include_str!("../../../../config/broadcast-3e.toml"),
    )
}

fn preset_3d() -> Settings {
    preset(
        "broadcast-3d.toml",
        include_str!("../../../../config/broadcast-3d.toml"),
    )
}

/// How long after `written` every node of `among` but `origin` first had `value`.
fn spread_among(
    net: &Net,
    value: u64,
    origin: usize,
    written: Duration,
    among: &[usize],
) -> Option<Duration> {
    let mut last = Duration::ZERO;
    for &node in among.iter().filter(|&&n| n != origin) {
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

/// Client values at random nodes of `writers`, about 50 per second (3d/3e's rate), for
/// `d`; returns (value, origin, when written).
fn traffic(
    net: &mut Net,
    rng: &mut Lcg,
    next: &mut u64,
    writers: &[usize],
    d: Duration,
) -> Vec<(u64, usize, Duration)> {
    let end = net.now + d;
    let mut out = Vec::new();
    while net.now < end {
        let origin = writers[rng.below(writers.len() as u64) as usize];
        net.broadcast(origin, *next);
        out.push((*next, origin, net.now));
        *next += 1;
        net.run(ms(1 + rng.below(39)));
    }
    out
}

fn routed_since(net: &Net, t: Duration) -> usize {
    net.sent
        .iter()
        .filter(|s| s.at >= t && s.body.get("relay").is_some())
        .count()
}

/// The scenario of issue 14: only the hub is cut off; values written at leaves must
/// still reach every other leaf within 2 s. Returns every node's transcript.
fn hub_cut_off(settings: &Settings, leaf_bound: Duration) -> Vec<Vec<u8>> {
    let count = 25;
    let all: Vec<usize> = (0..count).collect();
    let leaves: Vec<usize> = (1..count).collect();
    let mut net = Net::with_clocks(count, settings, |i| ms(37 * i as u64));
    let (mut rng, mut next) = (Lcg(14), 0);
    traffic(&mut net, &mut rng, &mut next, &all, ms(6000));
    net.isolate(0);
    let cut = net.now;
    let during = traffic(&mut net, &mut rng, &mut next, &all, ms(15_000));
    net.run(ms(2500));
    // Every leaf's value written while the hub is cut off, from the very first moment:
    // a leaf notices the silent hub within a round and a deadline (before its next
    // batch), and from then on sends through the standby. (Values the hub received but
    // had not forwarded when it was cut off take up to a round more: they go out again
    // once their leaf notices.)
    for &(v, origin, at) in during.iter().filter(|&&(_, o, _)| o != 0) {
        let took = spread_among(&net, v, origin, at, &leaves)
            .unwrap_or_else(|| panic!("value {v} from n{origin} never reached every leaf"));
        assert!(
            took <= leaf_bound,
            "with the hub cut off at {cut:?}, value {v} written at n{origin} at {at:?} \
             took {took:?} to reach every leaf"
        );
    }
    // The hub's own values wait for the heal; then everything converges, and leaves go
    // back to the hub: no routed batch once the hub is heard from again.
    net.heal();
    let healed = net.now;
    traffic(&mut net, &mut rng, &mut next, &all, ms(4000));
    net.run(ms(10_000));
    net.assert_everyone_has(&(0..next).collect());
    assert_eq!(routed_since(&net, healed + ms(3000)), 0);
    let quiet = net.now;
    net.run(ms(10_000));
    assert_eq!(net.messages_since(quiet), 0);
    net.nodes.iter().map(|n| n.transcript().to_vec()).collect()
}

#[test]
fn with_the_3e_preset_leaves_reach_each_other_within_two_seconds_while_the_hub_is_cut_off() {
    let first = hub_cut_off(&preset_3e(), ms(2000));
    // Routing around the hub is as deterministic as the rest: same inputs, same bytes.
    let second = hub_cut_off(&preset_3e(), ms(2000));
    for (i, (a, b)) in first.iter().zip(&second).enumerate() {
        assert!(a == b, "n{i} wrote different bytes in two identical runs");
    }
}

#[test]
fn with_the_3d_preset_leaves_reach_each_other_within_two_seconds_while_the_hub_is_cut_off() {
    hub_cut_off(&preset_3d(), ms(2000));
}

#[test]
fn without_failover_an_isolated_hub_stalls_the_leaves_until_the_heal() {
    let mut s = preset_3e();
    s.failover = None;
    let mut net = Net::new(6, &s);
    net.run(ms(100));
    net.isolate(0);
    for v in 0..20 {
        net.broadcast(1 + v as usize % 5, v);
        net.run(ms(200));
    }
    net.run(ms(5000));
    assert_eq!(net.read(2), [1, 6, 11, 16].into_iter().collect());
    net.heal();
    net.run(ms(15_000));
    net.assert_everyone_has(&(0..20).collect());
}

#[test]
fn a_side_split_away_from_the_hub_and_the_first_standbys_finds_a_standby_of_its_own() {
    let s = preset_3e();
    let count = 10;
    let (hub_side, far_side) = ([0, 1, 2, 3], [4, 5, 6, 7, 8, 9]);
    let mut net = Net::new(count, &s);
    let (mut rng, mut next) = (Lcg(3), 0);
    let all: Vec<usize> = (0..count).collect();
    traffic(&mut net, &mut rng, &mut next, &all, ms(4000));
    net.split(&hub_side);
    // Each side settles (the far side walks past n1..n3 one deadline each).
    traffic(&mut net, &mut rng, &mut next, &all, ms(8000));
    let during = traffic(&mut net, &mut rng, &mut next, &all, ms(8000));
    net.run(ms(2500));
    for &(v, origin, at) in during.iter().filter(|(_, o, _)| far_side.contains(o)) {
        let took = spread_among(&net, v, origin, at, &far_side);
        assert!(
            took.is_some_and(|t| t <= ms(2000)),
            "value {v} from n{origin} at {at:?}: {took:?}"
        );
    }
    // The hub's side keeps using the hub.
    for &(v, origin, at) in during.iter().filter(|(_, o, _)| hub_side.contains(o)) {
        assert!(spread_among(&net, v, origin, at, &hub_side).is_some_and(|t| t <= ms(2000)));
    }
    net.heal();
    net.run(ms(15_000));
    net.assert_everyone_has(&(0..next).collect());
}

#[test]
fn an_isolated_leaf_tries_one_standby_per_deadline_and_never_writes_to_everyone() {
    let s = preset_3e();
    let mut net = Net::new(25, &s);
    let (mut rng, mut next) = (Lcg(9), 0);
    let all: Vec<usize> = (0..25).collect();
    traffic(&mut net, &mut rng, &mut next, &all, ms(4000));
    // n1, the first standby of every other leaf, is cut off: the others never notice.
    net.isolate(1);
    let cut = net.now;
    traffic(&mut net, &mut rng, &mut next, &all, ms(15_000));
    // Its own batches and its checks with the hub, each to one node, fewer and fewer
    // as its waits double: never a relay to every node.
    let from_isolated: Vec<&Sent> = net
        .sent
        .iter()
        .filter(|s| s.at >= cut && s.from == 1)
        .collect();
    assert!(from_isolated.len() <= 30, "{from_isolated:#?}");
    let mut per_instant: HashMap<Duration, usize> = HashMap::new();
    for s in &from_isolated {
        *per_instant.entry(s.at).or_default() += 1;
    }
    assert!(per_instant.values().all(|&n| n <= 2), "{from_isolated:#?}");
    // Nobody else routes around anything.
    assert!(net
        .sent
        .iter()
        .all(|s| s.from == 1 || s.body.get("relay").is_none()));
    net.heal();
    net.run(ms(15_000));
    net.assert_everyone_has(&(0..next).collect());
}

#[test]
fn leaves_split_from_the_hub_from_the_start_gather_on_one_standby_relaying_once_a_round() {
    let s = preset_3e();
    let round = s.relay_wait();
    let (hub_side, far_side) = ([0, 1, 2, 3], [4, 5, 6, 7, 8, 9]);
    // Different clocks and no round ever aligned with the hub.
    let mut net = Net::with_clocks(10, &s, |i| ms(113 * i as u64));
    net.split(&hub_side);
    let (mut rng, mut next) = (Lcg(21), 0);
    traffic(&mut net, &mut rng, &mut next, &far_side, ms(10_000));
    let steady = net.now;
    let during = traffic(&mut net, &mut rng, &mut next, &far_side, ms(10_000));
    net.run(ms(2500));
    // Standby relays: messages between far-side nodes not routed through anyone.
    let relays: Vec<&Sent> = net
        .sent
        .iter()
        .filter(|m| m.at >= steady && far_side.contains(&m.from) && far_side.contains(&m.to))
        .filter(|m| m.body.get("relay").is_none())
        .collect();
    let standbys: BTreeSet<usize> = relays.iter().map(|m| m.from).collect();
    assert_eq!(standbys.len(), 1, "{standbys:?}");
    let instants: BTreeSet<Duration> = relays.iter().map(|m| m.at).collect();
    let rounds = (ms(12_500).as_millis() / round.as_millis()) as usize + 1;
    assert!(
        instants.len() <= rounds,
        "{} relays in {rounds} rounds",
        instants.len()
    );
    for &(v, origin, at) in &during {
        let took = spread_among(&net, v, origin, at, &far_side);
        assert!(took.is_some_and(|t| t <= ms(2000)), "value {v}: {took:?}");
    }
    net.heal();
    net.run(ms(15_000));
    net.assert_everyone_has(&(0..next).collect());
}
