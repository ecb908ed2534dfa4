use super::*;
use crate::counter::SeqKvSettings;
use crate::test_cluster::{is_node_to_node, FakeService, Fate, Net, Rng, SeqKv};
use glomers_runtime::testkit::TestNode;
use serde_json::{json, Value};

const STEP: Duration = Duration::from_millis(10);

fn node() -> TestNode {
    TestNode::with("counter", SeqKvCounter::new(SeqKvSettings::default()))
}

fn cluster(n: usize, seed: u64) -> Net {
    Net::new(n, seed, node).with_service("seq-kv", SeqKv::default())
}

fn read(net: &mut Net, node: &str) -> i64 {
    let id = net.request("c9", node, json!({"type": "read"}));
    let reply = net.reply(id).expect("reads are answered at once");
    assert_eq!(reply["type"], "read_ok");
    assert_eq!(
        reply.as_object().unwrap().len(),
        3,
        "type, value, in_reply_to only"
    );
    reply["value"].as_i64().expect("integer value")
}

fn add(net: &mut Net, node: &str, delta: i64) -> u64 {
    net.request("c1", node, json!({"type": "add", "delta": delta}))
}

fn seq_kv_value(net: &mut Net, node: &str) -> Option<Value> {
    // Look inside the fake service (never through the network).
    net.service::<SeqKv>("seq-kv")
        .newest(&contribution_key(node))
        .cloned()
}

#[test]
fn adds_are_batched_and_acknowledged_only_once_stored() {
    let mut net = cluster(1, 1);
    // The service holds its replies until the network settles.
    let a = add(&mut net, "n0", 3);
    let b = add(&mut net, "n0", 4);
    let c = add(&mut net, "n0", 5);
    assert!(
        net.reply(a).is_none(),
        "no add_ok before seq-kv stored the add"
    );
    net.settle();
    // The first add went out at once, alone; the others wait for flush_ms.
    assert_eq!(
        net.reply(a).unwrap(),
        &json!({"type": "add_ok", "in_reply_to": a})
    );
    assert!(net.reply(b).is_none());
    assert_eq!(seq_kv_value(&mut net, "n0"), Some(json!([3, 0])));
    net.run(Duration::from_millis(90), STEP);
    assert!(net.reply(b).is_none(), "at most one batch per flush_ms");
    net.run(Duration::from_millis(10), STEP);
    assert_eq!(net.reply(b).unwrap()["type"], "add_ok");
    assert_eq!(net.reply(c).unwrap()["type"], "add_ok");
    // Two batches, one cas each (request + reply).
    assert_eq!(net.service_msgs, 4);
    assert_eq!(seq_kv_value(&mut net, "n0"), Some(json!([12, 0])));
    assert_eq!(read(&mut net, "n0"), 12);
}

#[test]
fn zero_deltas_are_acknowledged_without_any_message() {
    let mut net = cluster(1, 1);
    let a = add(&mut net, "n0", 0);
    assert_eq!(net.reply(a).unwrap()["type"], "add_ok");
    net.run(Duration::from_millis(300), STEP);
    assert_eq!(net.service_msgs, 0);
}

#[test]
fn negative_deltas_count_down() {
    let mut net = cluster(2, 3);
    add(&mut net, "n0", 5);
    add(&mut net, "n1", -2);
    net.run(Duration::from_secs(12), STEP);
    assert_eq!(read(&mut net, "n0"), 3);
    assert_eq!(read(&mut net, "n1"), 3);
}

#[test]
fn the_fake_seq_kv_really_serves_stale_reads() {
    // Sanity check of the test service: a source that never writes sees old values.
    let mut kv = SeqKv::default();
    let mut rng = Rng::new(5);
    for i in 1..=20 {
        kv.handle(
            "n0",
            &json!({"type":"write","key":"k","value":i,"msg_id":i}),
            &mut rng,
        );
    }
    let stale = (0..50)
        .filter(|i| {
            let r = kv.handle(
                "n1",
                &json!({"type":"read","key":"k","msg_id":100+i}),
                &mut rng,
            );
            r.unwrap()["value"] != json!(20)
        })
        .count();
    assert!(stale > 0);
}

/// Random adds on random nodes, then quiet time as in Maelstrom's final phase; every
/// node's read must be exact, on several seeds.
#[test]
fn final_reads_are_exact_despite_stale_seq_kv() {
    for seed in 0..6 {
        let mut net = cluster(3, seed);
        let mut rng = Rng::new(seed + 100);
        let mut sum = 0;
        let mut adds = Vec::new();
        for _ in 0..300 {
            let node = format!("n{}", rng.range(0, 2));
            if rng.chance(0.4) {
                let d = rng.range(0, 4) as i64;
                sum += d;
                adds.push(add(&mut net, &node, d));
            } else {
                read(&mut net, &node);
            }
            net.run(Duration::from_millis(10), STEP);
        }
        net.run(Duration::from_secs(10), STEP);
        for id in adds {
            assert_eq!(net.reply(id).unwrap()["type"], "add_ok", "seed {seed}");
        }
        for n in ["n0", "n1", "n2"] {
            assert_eq!(read(&mut net, n), sum, "seed {seed}, node {n}");
        }
    }
}

#[test]
fn most_reads_cost_nothing_and_idle_clusters_go_quiet() {
    let mut net = cluster(3, 9);
    let mut rng = Rng::new(9);
    let mut ops = 0;
    for _ in 0..1000 {
        let node = format!("n{}", rng.range(0, 2));
        if rng.chance(1.0 / 3.0) {
            add(&mut net, &node, rng.range(0, 4) as i64);
        } else {
            read(&mut net, &node);
        }
        ops += 1;
        // 100 operations per second, as in the challenge.
        net.run(Duration::from_millis(10), STEP);
    }
    let busy = net.service_msgs;
    net.run(Duration::from_secs(10), STEP);
    let idle = net.service_msgs - busy;
    let per_op = net.service_msgs as f64 / ops as f64;
    eprintln!("seq-kv mode: {per_op:.2} service msgs per op ({busy} busy, {idle} idle)");
    assert!(per_op < 2.0, "{per_op} msgs per op");
    // Idle: refreshes back off to refresh_max (2 s): at most 6 msgs per node per second.
    assert!(idle < 3 * 6 * 10, "{idle} msgs while idle");
    assert_eq!(net.node_msgs, 0, "nodes never talk to each other");
}

#[test]
fn a_lost_cas_reply_is_resolved_without_double_counting() {
    let mut net = cluster(1, 2);
    let mut dropped = false;
    net.fate = Box::new(move |m| {
        if !dropped && m["src"] == "seq-kv" && m["body"]["type"] == "cas_ok" {
            dropped = true;
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    let a = add(&mut net, "n0", 4);
    net.run(Duration::from_secs(3), STEP);
    assert_eq!(net.reply(a).unwrap()["type"], "add_ok");
    assert_eq!(seq_kv_value(&mut net, "n0"), Some(json!([4, 0])));
    let b = add(&mut net, "n0", 1);
    net.run(Duration::from_millis(200), STEP);
    assert_eq!(net.reply(b).unwrap()["type"], "add_ok");
    assert_eq!(read(&mut net, "n0"), 5);
}

#[test]
fn a_lost_cas_request_is_retried() {
    let mut net = cluster(1, 2);
    let mut dropped = false;
    net.fate = Box::new(move |m| {
        if !dropped && m["dest"] == "seq-kv" && m["body"]["type"] == "cas" {
            dropped = true;
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    let a = add(&mut net, "n0", 4);
    net.run(Duration::from_secs(3), STEP);
    assert_eq!(net.reply(a).unwrap()["type"], "add_ok");
    assert_eq!(seq_kv_value(&mut net, "n0"), Some(json!([4, 0])));
}

#[test]
fn a_node_that_forgot_everything_continues_from_seq_kv() {
    let mut net = cluster(2, 4);
    add(&mut net, "n0", 3);
    add(&mut net, "n1", 2);
    net.run(Duration::from_secs(1), STEP);
    // Restart n0 with empty state: seq-kv is the only record of its 3.
    let mut fresh = node();
    fresh.init("n0", &["n0", "n1"]);
    net.nodes.insert("n0".into(), fresh);
    let a = add(&mut net, "n0", 10);
    net.run(Duration::from_secs(12), STEP);
    assert_eq!(net.reply(a).unwrap()["type"], "add_ok");
    assert_eq!(seq_kv_value(&mut net, "n0"), Some(json!([13, 0])));
    assert_eq!(read(&mut net, "n0"), 15);
    assert_eq!(read(&mut net, "n1"), 15);
}

#[test]
fn partitions_between_nodes_change_nothing() {
    let mut net = cluster(3, 6);
    net.fate = Box::new(|m| {
        if is_node_to_node(m) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    add(&mut net, "n0", 1);
    add(&mut net, "n1", 2);
    add(&mut net, "n2", 3);
    net.run(Duration::from_secs(10), STEP);
    for n in ["n0", "n1", "n2"] {
        assert_eq!(read(&mut net, n), 6);
    }
}

/// A node that never writes lags far behind in seq-kv; a single refresh after the last
/// add elsewhere must already be exact, which only holds because refreshes read right
/// after a state-changing request of their own.
#[test]
fn one_refresh_after_the_last_add_is_exact() {
    let settings = SeqKvSettings {
        refresh_every: Duration::from_millis(500),
        refresh_max: Duration::from_millis(500),
        ..SeqKvSettings::default()
    };
    for seed in 0..10 {
        let mut net = Net::new(2, seed, || {
            TestNode::with("counter", SeqKvCounter::new(settings))
        })
        .with_service("seq-kv", SeqKv::default());
        for _ in 0..200 {
            add(&mut net, "n1", 1);
            net.run(Duration::from_millis(100), STEP);
        }
        // n1's last batch is stored within a tick; n0 refreshes within the next 500 ms.
        net.run(Duration::from_millis(1100), STEP);
        assert_eq!(read(&mut net, "n0"), 200, "seed {seed}");
    }
}

fn preset_node() -> TestNode {
    let text = include_str!("../../../../config/g-counter.toml");
    let config = glomers_runtime::config::Config::parse("g-counter.toml", text).unwrap();
    let mut section = config.section("counter");
    let settings = crate::counter::CounterSettings::from_section(&mut section).unwrap();
    section.finish().unwrap();
    TestNode::with("counter", SeqKvCounter::new(settings.seq_kv))
}

#[test]
fn acknowledged_on_receipt_adds_share_one_cas_per_flush_and_are_read_at_once() {
    let settings = SeqKvSettings {
        add_ack: AddAck::Received,
        ..SeqKvSettings::default()
    };
    let mut net = Net::new(1, 4, || {
        TestNode::with("counter", SeqKvCounter::new(settings))
    })
    .with_service("seq-kv", SeqKv::default());
    let a = add(&mut net, "n0", 3);
    assert_eq!(
        net.reply(a).unwrap()["type"],
        "add_ok",
        "answered on receipt"
    );
    let more: Vec<u64> = (0..5).map(|_| add(&mut net, "n0", 1)).collect();
    assert!(more.iter().all(|&id| net.reply(id).is_some()));
    // Its own acknowledged adds count in this node's reads before they are stored.
    assert_eq!(read(&mut net, "n0"), 8);
    net.settle();
    // The first add went out at once; the five others share the next batch.
    assert_eq!(seq_kv_value(&mut net, "n0"), Some(json!([3, 0])));
    net.run(Duration::from_millis(100), STEP);
    assert_eq!(seq_kv_value(&mut net, "n0"), Some(json!([8, 0])));
    assert_eq!(net.service_msgs, 4, "two batches, one cas each");
    assert_eq!(read(&mut net, "n0"), 8);
}

/// The g-counter preset at the challenge's pace (one client per node, 100 operations
/// per second), with seq-kv's stale reads: a quarter of a message per operation or
/// less, and every final read exact.
#[test]
fn the_preset_costs_under_a_quarter_message_per_op_with_exact_final_reads() {
    for seed in 0..4 {
        let mut net = Net::new(3, seed, preset_node).with_service("seq-kv", SeqKv::default());
        let mut rng = Rng::new(seed + 7);
        let (mut sum, mut ops) = (0, 0);
        for _ in 0..2000 {
            let node = format!("n{}", rng.range(0, 2));
            if rng.chance(1.0 / 3.0) {
                let d = rng.range(0, 4) as i64;
                sum += d;
                let id = add(&mut net, &node, d);
                assert!(net.reply(id).is_some());
            } else {
                read(&mut net, &node);
            }
            ops += 1;
            net.run(Duration::from_millis(10), STEP);
        }
        net.run(Duration::from_secs(10), STEP);
        for n in ["n0", "n1", "n2"] {
            assert_eq!(read(&mut net, n), sum, "seed {seed}, node {n}");
            ops += 1;
        }
        let per_op = net.service_msgs as f64 / ops as f64;
        assert!(per_op <= 0.25, "seed {seed}: {per_op:.3} msgs per op");
    }
}
