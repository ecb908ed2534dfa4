//! The terminal summary printed on stdout after a run: the verdict of each checker, the
//! numbers people compare against challenge targets, and, for a failed run, each broken
//! rule with its operations (process, node, client, time, request, response) and the
//! network messages that carried them.

use crate::net::{FaultCounts, NodeFault, FAULTS_KEPT_PER_KIND};
use crate::plan::TestPlan;
use crate::results::{Analysis, Crash};
use glomers_simkit::checker::{CheckResult, Validity};
use glomers_simkit::history::{History, Op, OpType};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;

const MAX_FINDINGS: usize = 6;
const MAX_OPS_PER_FINDING: usize = 6;
const MAX_MESSAGES_PER_OP: usize = 8;
const MAX_NOTES: usize = 3;
const MAX_VALUE_CHARS: usize = 400;

fn verdict_word(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "valid",
        Validity::Invalid => "INVALID",
        Validity::Unknown => "unknown",
    }
}

/// One-line description of the test.
pub fn describe_plan(plan: &TestPlan) -> String {
    let nodes = match plan.nodes.len() {
        1 => plan.nodes[0].clone(),
        n => format!("{n} nodes ({}..{})", plan.nodes[0], plan.nodes[n - 1]),
    };
    format!(
        "{} on {}, {} worker{}, {} s at {} op/s, latency {} ms {:?}{}, seed {}",
        plan.workload,
        nodes,
        plan.concurrency,
        if plan.concurrency == 1 { "" } else { "s" },
        plan.time_limit.as_secs(),
        plan.rate,
        plan.latency.mean_ms,
        plan.latency.dist,
        if plan.nemesis_partition {
            format!(
                ", partitions every ~{} s",
                plan.nemesis_interval.as_secs_f64()
            )
        } else {
            String::new()
        },
        plan.seed
    )
    .replace("Constant", "constant")
    .replace("Uniform", "uniform")
    .replace("Exponential", "exponential")
}

/// Prints the report of a finished run.
pub fn print(plan: &TestPlan, dir: &Path, history: &History, a: &Analysis) {
    println!();
    println!("== glomers-sim: {}", describe_plan(plan));
    let headline = match a.valid {
        Validity::Valid => "Everything looks good: the run is VALID (exit 0).".to_string(),
        Validity::Invalid => "The run is INVALID (exit 1).".to_string(),
        Validity::Unknown => {
            "The verdict is UNKNOWN (exit 2): the checkers could not decide.".to_string()
        }
    };
    println!("{headline}");
    println!(
        "  workload      {}\n  stats         {}\n  availability  {}{}",
        verdict_word(a.workload.valid),
        verdict_word(a.stats.valid),
        verdict_word(a.availability.valid),
        a.json["availability"]["ok_fraction"]
            .as_f64()
            .map(|f| format!(" (ok fraction {f:.4})"))
            .unwrap_or_default()
    );
    let (mut ok, mut fail, mut info) = (0, 0, 0);
    for op in &history.ops {
        match op.kind {
            OpType::Ok => ok += 1,
            OpType::Fail => fail += 1,
            OpType::Info => info += 1,
            OpType::Invoke => {}
        }
    }
    println!(
        "Operations: {} invoked: {ok} ok, {fail} fail, {info} info; {} exception{}",
        a.invokes,
        a.exceptions.len(),
        if a.exceptions.len() == 1 { "" } else { "s" }
    );
    let per_op = |v: &Value| v.as_f64().map(|f| format!("{f:.2}")).unwrap_or("-".into());
    println!(
        "Network: {} messages; servers {} ({} msgs per op), clients {}; {} dropped by partitions",
        a.net.all.msg_count,
        a.net.servers.msg_count,
        per_op(&a.json["net"]["servers"]["msgs_per_op"]),
        a.net.clients.msg_count,
        a.net.dropped
    );
    if let Some(l) = a.json["workload"].get("stable_latencies") {
        let ms = |k: &str| l.get(k).and_then(Value::as_f64);
        if let (Some(med), Some(max)) = (ms("0.5"), ms("1")) {
            println!("Stable latency: median {med:.0} ms, max {max:.0} ms");
        }
    }
    let checks: [(&str, &CheckResult); 3] = [
        ("workload", &a.workload),
        ("stats", &a.stats),
        ("availability", &a.availability),
    ];
    let broken: Vec<(&str, &glomers_simkit::checker::Finding)> = spread_rules(
        checks
            .iter()
            .flat_map(|(name, r)| r.findings.iter().map(move |f| (*name, f)))
            .filter(|(_, f)| !f.note)
            .collect(),
    );
    let mut wanted: HashSet<(String, u64)> = HashSet::new();
    for (_, f) in broken.iter().take(MAX_FINDINGS) {
        for &i in f.ops.iter().take(MAX_OPS_PER_FINDING) {
            if let Some(k) = op_key(history.ops.get(i)) {
                wanted.insert(k);
            }
        }
    }
    for e in a.exceptions.iter().take(3) {
        if let Some(m) = e.msg_id {
            wanted.insert((e.client.clone(), m));
        }
    }
    let messages = journal_for(&dir.join("messages.jsonl"), &wanted);
    if !broken.is_empty() {
        println!();
        let mut per_rule: Vec<(String, u64)> = Vec::new();
        for (checker, f) in &broken {
            let key = format!("{checker}: {}", f.rule);
            match per_rule.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => per_rule.push((key, 1)),
            }
        }
        // Checkers keep a few examples per rule; say how many cases there were in all.
        for (key, n) in per_rule.iter_mut() {
            let Some((checker, rule)) = key.split_once(": ") else {
                continue;
            };
            if let Some((_, r)) = checks.iter().find(|(c, _)| *c == checker) {
                *n = (*n).max(rule_total(&r.details, rule).unwrap_or(0));
            }
        }
        println!(
            "What went wrong ({}):",
            per_rule
                .iter()
                .map(|(k, n)| format!("{k} x{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for (n, (checker, f)) in broken.iter().take(MAX_FINDINGS).enumerate() {
            println!("{:>3}. [{checker}: {}] {}", n + 1, f.rule, f.explanation);
            let mut shown = HashSet::new();
            let mut count = 0;
            for &i in &f.ops {
                let head = invoke_index(history, i);
                if !shown.insert(head) {
                    continue;
                }
                count += 1;
                if count <= MAX_OPS_PER_FINDING {
                    print_op(history, i, &messages);
                }
            }
            if count > MAX_OPS_PER_FINDING {
                println!(
                    "       … and {} more operations",
                    count - MAX_OPS_PER_FINDING
                );
            }
        }
        if broken.len() > MAX_FINDINGS {
            println!(
                "     … and {} more examples in results.json",
                broken.len() - MAX_FINDINGS
            );
        }
    }
    let notes: Vec<_> = checks
        .iter()
        .flat_map(|(_, r)| r.findings.iter())
        .filter(|f| f.note)
        .collect();
    if !notes.is_empty() {
        println!();
        println!("Notes (do not change the verdict):");
        for f in notes.iter().take(MAX_NOTES) {
            println!("  - [{}] {}", f.rule, f.explanation);
        }
        if notes.len() > MAX_NOTES {
            println!("  … and {} more notes", notes.len() - MAX_NOTES);
        }
    }
    if !a.exceptions.is_empty() {
        println!();
        println!(
            "Client exceptions ({}; listed under `exceptions` in results.json):",
            a.exceptions.len()
        );
        // Group identical messages; show the first occurrence of each with its messages.
        let mut groups: Vec<(&str, Vec<&crate::recorder::ExceptionRecord>)> = Vec::new();
        for e in &a.exceptions {
            match groups.iter_mut().find(|(m, _)| *m == e.message) {
                Some((_, v)) => v.push(e),
                None => groups.push((&e.message, vec![e])),
            }
        }
        for (message, list) in groups.iter().take(MAX_NOTES) {
            let e = list[0];
            println!(
                "  - {}x {message}; first: op #{}, {} {} on {} via {}, msg_id {}",
                list.len(),
                e.index,
                e.f,
                history
                    .ops
                    .get(e.index)
                    .map(|o| o.value.to_string())
                    .unwrap_or_default(),
                e.node,
                e.client,
                e.msg_id.map(|m| m.to_string()).unwrap_or("-".into())
            );
            if let Some(m) = e.msg_id {
                print_messages(messages.get(&(e.client.clone(), m)));
            }
        }
    }
    print_faults(&a.faults, &a.fault_counts);
    println!();
    println!("Files: {}/", dir.display());
    println!("  results.json  history.jsonl  messages.jsonl  nemesis.jsonl  node-logs/");
}

/// Orders findings so that the first example of every rule comes before the second of
/// any, and drops repeats (the same rule about the same operations).
fn spread_rules<'a>(
    findings: Vec<(&'a str, &'a glomers_simkit::checker::Finding)>,
) -> Vec<(&'a str, &'a glomers_simkit::checker::Finding)> {
    let mut seen = HashSet::new();
    let mut groups: Vec<Vec<(&str, &glomers_simkit::checker::Finding)>> = Vec::new();
    for (checker, f) in findings {
        if !seen.insert((checker, f.rule.as_str(), f.ops.clone())) {
            continue;
        }
        match groups
            .iter_mut()
            .find(|g| g[0].0 == checker && g[0].1.rule == f.rule)
        {
            Some(g) => g.push((checker, f)),
            None => groups.push(vec![(checker, f)]),
        }
    }
    let longest = groups.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|i| groups.iter().filter_map(move |g| g.get(i).copied()))
        .collect()
}

/// How many cases of `rule` a checker counted, when its details say (kafka:
/// `details[rule].count`; transactional checkers: `details.anomalies[rule].count`).
fn rule_total(details: &Value, rule: &str) -> Option<u64> {
    let count = |v: Option<&Value>| v?.get("count")?.as_u64();
    count(details.get(rule)).or_else(|| count(details.get("anomalies")?.get(rule)))
}

/// A value for a report line, cut after [`MAX_VALUE_CHARS`] characters.
fn clip(v: &Value) -> String {
    let s = v.to_string();
    let total = s.chars().count();
    if total <= MAX_VALUE_CHARS {
        return s;
    }
    let cut: String = s.chars().take(MAX_VALUE_CHARS).collect();
    format!("{cut}… ({total} characters in all)")
}

/// The invoke index of the operation `i` belongs to (itself for an invoke).
fn invoke_index(history: &History, i: usize) -> usize {
    match history.ops.get(i) {
        Some(op) if op.kind != OpType::Invoke => history.ops[..i]
            .iter()
            .rev()
            .find(|o| o.process == op.process && o.kind == OpType::Invoke)
            .map(|o| o.index)
            .unwrap_or(i),
        _ => i,
    }
}

fn op_key(op: Option<&Op>) -> Option<(String, u64)> {
    let op = op?;
    Some((op.client.clone()?, op.msg_id?))
}

fn print_op(history: &History, i: usize, messages: &HashMap<(String, u64), Vec<Value>>) {
    let Some(op) = history.ops.get(i) else {
        println!("       op #{i}: not in the history");
        return;
    };
    let (inv, done) = if op.kind == OpType::Invoke {
        (Some(op), history.completion_of(i))
    } else {
        let inv = history.ops[..i]
            .iter()
            .rev()
            .find(|o| o.process == op.process && o.kind == OpType::Invoke);
        (inv, Some(op))
    };
    let head = inv.or(done).unwrap_or(op);
    println!(
        "     - op #{} at {:.3} s: process {}, node {}, client {}, msg_id {}{}",
        head.index,
        head.time_ms() / 1000.0,
        head.process,
        head.node.as_deref().unwrap_or("-"),
        head.client.as_deref().unwrap_or("-"),
        head.msg_id.map(|m| m.to_string()).unwrap_or("-".into()),
        if head.final_phase {
            " (final phase)"
        } else {
            ""
        }
    );
    if let Some(inv) = inv {
        println!("         request:  {} {}", inv.f, clip(&inv.value));
    }
    match done {
        Some(d) => println!(
            "         response: {} {}{} (op #{}, at {:.3} s)",
            match d.kind {
                OpType::Ok => "ok",
                OpType::Fail => "fail",
                OpType::Info => "info",
                OpType::Invoke => "invoke",
            },
            clip(&d.value),
            d.error
                .as_ref()
                .map(|e| format!(", error {e}"))
                .unwrap_or_default(),
            d.index,
            d.time_ms() / 1000.0
        ),
        None => println!("         response: none (the operation never completed)"),
    }
    if let Some(k) = op_key(Some(head)) {
        print_messages(messages.get(&k));
    }
}

/// A message's send, recv and drop journal entries.
type Fate<'a> = (Option<&'a Value>, Option<&'a Value>, Option<&'a Value>);

fn print_messages(msgs: Option<&Vec<Value>>) {
    let Some(msgs) = msgs else { return };
    // One line per message id: when it was sent and what became of it.
    let mut order: Vec<u64> = Vec::new();
    let mut by_id: HashMap<u64, Fate<'_>> = HashMap::new();
    for m in msgs {
        let Some(id) = m["id"].as_u64() else { continue };
        let e = by_id.entry(id).or_insert_with(|| {
            order.push(id);
            (None, None, None)
        });
        match m["kind"].as_str() {
            Some("send") => e.0 = Some(m),
            Some("recv") => e.1 = Some(m),
            _ => e.2 = Some(m),
        }
    }
    let secs = |m: &Value| m["time"].as_f64().unwrap_or(0.0) / 1e9;
    for id in order.iter().take(MAX_MESSAGES_PER_OP) {
        let (send, recv, drop) = by_id[id];
        let Some(any) = send.or(recv).or(drop) else {
            continue;
        };
        let fate = match (recv, drop) {
            (Some(r), _) => format!("delivered {:.3} s", secs(r)),
            (None, Some(d)) => format!("DROPPED by a partition at {:.3} s", secs(d)),
            (None, None) => "never delivered".to_string(),
        };
        println!(
            "         net #{id} {} -> {} sent {:.3} s, {fate}: {}",
            any["src"].as_str().unwrap_or("?"),
            any["dest"].as_str().unwrap_or("?"),
            send.map(secs).unwrap_or(f64::NAN),
            clip(&any["body"])
        );
    }
}

/// Journal entries of the given (client, msg_id) exchanges: the request (client → node,
/// body.msg_id) and the replies (node → client, body.in_reply_to).
pub fn journal_for(
    path: &Path,
    wanted: &HashSet<(String, u64)>,
) -> HashMap<(String, u64), Vec<Value>> {
    let mut out: HashMap<(String, u64), Vec<Value>> = HashMap::new();
    if wanted.is_empty() {
        return out;
    }
    let clients: HashSet<&str> = wanted.iter().map(|(c, _)| c.as_str()).collect();
    let Ok(file) = std::fs::File::open(path) else {
        return out;
    };
    // Send lines carry the body; recv/drop lines only the id, so remember matching ids.
    let mut ids: HashMap<u64, (String, u64)> = HashMap::new();
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        if !clients.iter().any(|c| line.contains(&format!("\"{c}\""))) {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if v["kind"] != "send" {
            if let Some(k) = v["id"].as_u64().and_then(|id| ids.get(&id)) {
                out.entry(k.clone()).or_default().push(v.clone());
            }
            continue;
        }
        let src = v["src"].as_str().unwrap_or_default().to_string();
        let dest = v["dest"].as_str().unwrap_or_default().to_string();
        let keys = [
            (src, v["body"]["msg_id"].as_u64()),
            (dest, v["body"]["in_reply_to"].as_u64()),
        ];
        for (c, m) in keys {
            if let Some(m) = m {
                let k = (c, m);
                if wanted.contains(&k) {
                    if let Some(id) = v["id"].as_u64() {
                        ids.insert(id, k.clone());
                    }
                    out.entry(k).or_default().push(v.clone());
                }
            }
        }
    }
    out
}

/// How many kept faults the report prints.
const MAX_FAULTS_SHOWN: usize = 12;

fn print_faults(faults: &[NodeFault], counts: &FaultCounts) {
    if faults.is_empty() {
        return;
    }
    let total: u64 = counts.values().flat_map(|k| k.values()).sum();
    println!();
    println!(
        "Node problems ({} in all): {}",
        total.max(faults.len() as u64),
        describe_counts(counts)
    );
    for f in faults.iter().take(MAX_FAULTS_SHOWN) {
        println!(
            "  - {} at {:.3} s [{}]: {}{}",
            f.node,
            f.time as f64 / 1e9,
            f.kind.as_str(),
            f.problem,
            if f.fatal {
                format!(
                    ". As Maelstrom does, everything {} wrote afterwards was ignored, so its \
                     replies and gossip were lost",
                    f.node
                )
            } else {
                String::new()
            }
        );
        if !f.line.is_empty() {
            println!("      line: {}", f.line);
        }
    }
    if faults.len() > MAX_FAULTS_SHOWN || total > faults.len() as u64 {
        println!(
            "  (the first {FAULTS_KEPT_PER_KIND} of each kind per node are in results.json's \
             node_faults; node_fault_counts has them all)"
        );
    }
    println!(
        "  Nodes must write exactly one JSON message per line on stdout (logs go to stderr), \
         to registered ids only, read their stdin, and answer each request once."
    );
}

/// `n0: not-json x1, duplicate-reply x57; n1: …`.
fn describe_counts(counts: &FaultCounts) -> String {
    counts
        .iter()
        .map(|(node, kinds)| {
            let list: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} x{n}")).collect();
            format!("{node}: {}", list.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Prints the report of a crashed run.
pub fn print_crash(dir: Option<&Path>, c: &Crash) {
    println!();
    if c.kind == "interrupted" {
        println!("== glomers-sim: the test was INTERRUPTED (exit 130)");
    } else {
        println!("== glomers-sim: the test CRASHED (exit 255)");
    }
    println!("{}", c.message);
    if let Some(st) = &c.exit_status {
        println!("  exit status: {st}");
    }
    if !c.log_tail.is_empty() {
        println!(
            "  last {} stderr line{} of {}:",
            c.log_tail.len(),
            if c.log_tail.len() == 1 { "" } else { "s" },
            c.node.as_deref().unwrap_or("the node")
        );
        for l in &c.log_tail {
            println!("    | {l}");
        }
    }
    print_faults(&c.faults, &c.fault_counts);
    if let Some(d) = dir {
        println!();
        println!(
            "Files: {}/  (crash.json, history.jsonl, messages.jsonl, node-logs/)",
            d.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_spread_over_rules_and_repeats_dropped() {
        use glomers_simkit::checker::Finding;
        let f = |rule: &str, ops: Vec<usize>| Finding {
            rule: rule.into(),
            explanation: String::new(),
            ops,
            note: false,
        };
        let all = [
            f("a", vec![1]),
            f("a", vec![1]),
            f("a", vec![2]),
            f("b", vec![3]),
            f("a", vec![4]),
            f("c", vec![5]),
        ];
        let order: Vec<(&str, usize)> = spread_rules(all.iter().map(|x| ("workload", x)).collect())
            .iter()
            .map(|(_, x)| (x.rule.as_str(), x.ops[0]))
            .collect();
        assert_eq!(
            order,
            vec![("a", 1), ("b", 3), ("c", 5), ("a", 2), ("a", 4)]
        );
    }

    #[test]
    fn rule_totals_come_from_either_details_shape() {
        let kafka = serde_json::json!({"lost_write": {"count": 12, "errs": []}});
        let txn = serde_json::json!({"anomalies": {"G1a": {"count": 54}}});
        assert_eq!(rule_total(&kafka, "lost_write"), Some(12));
        assert_eq!(rule_total(&txn, "G1a"), Some(54));
        assert_eq!(rule_total(&txn, "G1b"), None);
        let long = Value::String("x".repeat(1000));
        assert!(clip(&long).ends_with("(1002 characters in all)"));
        assert_eq!(clip(&serde_json::json!([1, 2])), "[1,2]");
    }

    #[test]
    fn journal_lookup_follows_ids_from_send_to_recv_and_drop() {
        let path =
            std::env::temp_dir().join(format!("glomers-report-{}.jsonl", std::process::id()));
        let lines = [
            r#"{"kind":"send","time":1,"id":0,"src":"c4","dest":"n0","body":{"type":"read","msg_id":3}}"#,
            r#"{"kind":"send","time":2,"id":1,"src":"c5","dest":"n0","body":{"type":"read","msg_id":3}}"#,
            r#"{"kind":"recv","time":3,"id":0,"src":"c4","dest":"n0"}"#,
            r#"{"kind":"send","time":4,"id":2,"src":"n0","dest":"c4","body":{"type":"read_ok","in_reply_to":3}}"#,
            r#"{"kind":"drop","time":5,"id":2,"src":"n0","dest":"c4"}"#,
            r#"{"kind":"recv","time":6,"id":1,"src":"c5","dest":"n0"}"#,
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let wanted: HashSet<(String, u64)> = [("c4".to_string(), 3)].into_iter().collect();
        let got = journal_for(&path, &wanted);
        let _ = std::fs::remove_file(&path);
        let entries = &got[&("c4".to_string(), 3)];
        let summary: Vec<(u64, &str)> = entries
            .iter()
            .map(|v| (v["id"].as_u64().unwrap(), v["kind"].as_str().unwrap()))
            .collect();
        assert_eq!(
            summary,
            vec![(0, "send"), (0, "recv"), (2, "send"), (2, "drop")]
        );
        assert_eq!(got.len(), 1, "c5's exchange was not asked for");
    }
}
