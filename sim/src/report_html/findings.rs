//! The story part of the page: each broken rule with the operations it names (request,
//! response, times) and the network messages that carried them, each linked to the message
//! diagram; then notes, client exceptions, bad node output and, for a crashed run, why.

use super::html::{clip, esc, plural, put, secs};
use super::inputs::{FindingLine, NodeFaultLine, RunFiles};
use super::model::{Fate, Model, Outcome};
use std::collections::{HashMap, HashSet};

/// The most broken-rule findings told in full.
pub const MAX_FINDINGS: usize = 12;
/// How many findings are unfolded when the page opens.
const OPEN_FINDINGS: usize = 3;
/// The most operations told per finding.
pub const MAX_OPS_PER_FINDING: usize = 6;
/// The most messages listed per operation.
const MAX_MESSAGES_PER_OP: usize = 8;
/// The most notes listed.
const MAX_NOTES: usize = 20;
/// Characters of a value shown.
const VALUE_CHARS: usize = 300;

/// The findings that change the verdict, first example of every rule before the second of
/// any, repeats dropped.
pub fn broken(findings: &[FindingLine]) -> Vec<&FindingLine> {
    let mut seen = HashSet::new();
    let mut groups: Vec<Vec<&FindingLine>> = Vec::new();
    for f in findings.iter().filter(|f| !f.note) {
        if !seen.insert((
            f.checker.as_str(),
            f.rule.as_str(),
            f.ops.clone(),
            f.explanation.as_str(),
        )) {
            continue;
        }
        match groups
            .iter_mut()
            .find(|g| g[0].checker == f.checker && g[0].rule == f.rule)
        {
            Some(g) => g.push(f),
            None => groups.push(vec![f]),
        }
    }
    let longest = groups.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|i| groups.iter().filter_map(move |g| g.get(i).copied()))
        .collect()
}

/// (checker, rule, examples) for each broken rule, in order of first appearance.
fn rule_counts<'f>(broken: &[&'f FindingLine]) -> Vec<(&'f str, &'f str, usize)> {
    let mut out: Vec<(&str, &str, usize)> = Vec::new();
    for f in broken {
        match out.iter_mut().find(|r| r.0 == f.checker && r.1 == f.rule) {
            Some(r) => r.2 += 1,
            None => out.push((&f.checker, &f.rule, 1)),
        }
    }
    out
}

/// How many cases of `rule` the workload checker counted, when its fields say:
/// `<rule>_count`, `<rule>.count` or `anomalies.<rule>.count`.
fn rule_total(details: &serde_json::Value, rule: &str) -> Option<u64> {
    let snake = rule.replace('-', "_");
    let count = |v: Option<&serde_json::Value>| v?.get("count")?.as_u64();
    details
        .get(format!("{snake}_count"))
        .and_then(serde_json::Value::as_u64)
        .or_else(|| count(details.get(rule)))
        .or_else(|| count(details.get(&snake)))
        .or_else(|| count(details.get("anomalies")?.get(rule)))
}

/// History indexes of the operations the page tells about (for pinning their messages).
pub fn told_ops(run: &RunFiles) -> Vec<usize> {
    let mut out = Vec::new();
    if let Some(r) = &run.results {
        for f in broken(&r.findings).iter().take(MAX_FINDINGS) {
            out.extend(f.ops.iter().take(MAX_OPS_PER_FINDING));
        }
        out.extend(r.exceptions.exceptions.iter().take(5).map(|e| e.index));
    }
    out
}

/// Links to the diagram windows that draw a message or an operation.
pub struct Links<'d> {
    /// Message id → window id.
    pub message: &'d HashMap<u64, String>,
    /// Invoke index → window id.
    pub op: &'d HashMap<usize, String>,
}

/// The findings section (broken rules, notes, exceptions, node output, crash).
pub fn section(run: &RunFiles, model: &Model<'_>, links: &Links<'_>) -> String {
    let mut s = String::new();
    if let Some(c) = &run.crash {
        put(
            &mut s,
            format_args!(
                "<div class=\"story crash\"><h3>The test {} ({})</h3><p>{}</p>",
                if c.kind == "interrupted" {
                    "was interrupted"
                } else {
                    "crashed"
                },
                esc(&c.kind),
                esc(&c.message)
            ),
        );
        if let Some(st) = &c.exit_status {
            put(
                &mut s,
                format_args!("<p>Exit status: <code>{}</code></p>", esc(st)),
            );
        }
        if !c.log_tail.is_empty() {
            put(
                &mut s,
                format_args!(
                    "<p>Last stderr lines of {}:</p><pre class=\"log\">{}</pre>",
                    esc(c.node.as_deref().unwrap_or("the node")),
                    esc(&c.log_tail.join("\n"))
                ),
            );
        }
        s.push_str("</div>");
        faults(&mut s, &c.faults);
    }
    let Some(r) = &run.results else {
        return s;
    };
    let broken = broken(&r.findings);
    if broken.is_empty() && run.crash.is_none() {
        s.push_str("<p class=\"quiet\">No rule was broken.</p>");
    }
    if !broken.is_empty() {
        s.push_str("<p class=\"rules\">Broken rules: ");
        for (n, (checker, rule, examples)) in rule_counts(&broken).iter().enumerate() {
            let total = rule_total(&r.workload, rule).filter(|_| *checker == "workload");
            put(
                &mut s,
                format_args!(
                    "{}<span class=\"rule\">{}: {}</span> {}",
                    if n > 0 { ", " } else { "" },
                    esc(checker),
                    esc(rule),
                    match total {
                        Some(t) if t as usize > *examples =>
                            format!("({t} cases, {examples} told below)"),
                        _ => format!("×{examples}"),
                    }
                ),
            );
        }
        s.push_str("</p>");
    }
    for (n, f) in broken.iter().take(MAX_FINDINGS).enumerate() {
        put(
            &mut s,
            format_args!(
                "<details class=\"story\" id=\"finding-{}\"{}><summary><span class=\"rule\">{}: {}</span> {}</summary>",
                n + 1,
                if n < OPEN_FINDINGS { " open" } else { "" },
                esc(&f.checker),
                esc(&f.rule),
                esc(&f.explanation)
            ),
        );
        let mut shown = HashSet::new();
        let mut count = 0;
        for &i in &f.ops {
            let Some(&k) = model.op_of_index.get(&i) else {
                continue;
            };
            if !shown.insert(k) {
                continue;
            }
            count += 1;
            if count <= MAX_OPS_PER_FINDING {
                op_block(&mut s, model, k, links);
            }
        }
        if count > MAX_OPS_PER_FINDING {
            put(
                &mut s,
                format_args!(
                    "<p class=\"quiet\">… and {} more operations (in results.json).</p>",
                    count - MAX_OPS_PER_FINDING
                ),
            );
        }
        s.push_str("</details>");
    }
    if broken.len() > MAX_FINDINGS {
        put(
            &mut s,
            format_args!(
                "<p class=\"quiet\">… and {} more examples in results.json.</p>",
                broken.len() - MAX_FINDINGS
            ),
        );
    }
    let notes: Vec<&FindingLine> = r.findings.iter().filter(|f| f.note).collect();
    if !notes.is_empty() {
        put(
            &mut s,
            format_args!(
                "<details class=\"notes\"><summary>{} (they do not change the verdict)</summary><ul>",
                plural(notes.len(), "note")
            ),
        );
        for f in notes.iter().take(MAX_NOTES) {
            put(
                &mut s,
                format_args!("<li><b>{}</b>: {}</li>", esc(&f.rule), esc(&f.explanation)),
            );
        }
        s.push_str("</ul></details>");
    }
    if r.exceptions.count > 0 {
        put(
            &mut s,
            format_args!(
                "<details class=\"notes\" open><summary>{} (replies the client could not accept)</summary><ul>",
                plural(r.exceptions.count as usize, "client exception")
            ),
        );
        let mut groups: Vec<(&str, usize, usize)> = Vec::new();
        for e in &r.exceptions.exceptions {
            match groups.iter_mut().find(|g| g.0 == e.message) {
                Some(g) => g.1 += 1,
                None => groups.push((&e.message, 1, e.index)),
            }
        }
        for (message, n, first) in groups.iter().take(8) {
            put(&mut s, format_args!("<li>{}× {}; first: ", n, esc(message)));
            match model.op_of_index.get(first) {
                Some(&k) => op_link(&mut s, model, k, links),
                None => put(&mut s, format_args!("op #{first}")),
            }
            s.push_str("</li>");
        }
        s.push_str("</ul></details>");
    }
    faults(&mut s, &r.node_faults);
    s
}

fn faults(s: &mut String, faults: &[NodeFaultLine]) {
    if faults.is_empty() {
        return;
    }
    put(
        s,
        format_args!(
            "<div class=\"story\"><h3>Node output problems ({})</h3><ul>",
            faults.len()
        ),
    );
    for f in faults.iter().take(10) {
        put(
            s,
            format_args!(
                "<li><b>{}</b> at {}: {}{}<br><code>{}</code></li>",
                esc(&f.node),
                secs(f.time),
                esc(&f.problem),
                if f.fatal {
                    ". As Maelstrom does, everything this node wrote afterwards was ignored"
                } else {
                    ""
                },
                esc(&clip(&f.line, 300))
            ),
        );
    }
    s.push_str(
        "</ul><p class=\"quiet\">Nodes must write exactly one JSON message per line on stdout \
         (logs go to stderr), to registered ids only.</p></div>",
    );
}

/// `op #12 (read, n3)` linked to the diagram window that shows it.
fn op_link(s: &mut String, model: &Model<'_>, k: usize, links: &Links<'_>) {
    let op = &model.ops[k];
    let text = format!(
        "op #{} ({} on {})",
        op.invoke.index,
        esc(&op.invoke.f),
        esc(op.invoke.node.as_deref().unwrap_or("-"))
    );
    match links.op.get(&op.invoke.index) {
        Some(w) => put(
            s,
            format_args!(
                "<a href=\"#{w}\" class=\"oplink\" data-o=\"{}\" data-w=\"{w}\">{text}</a>",
                op.invoke.index
            ),
        ),
        None => s.push_str(&text),
    }
}

fn op_block(s: &mut String, model: &Model<'_>, k: usize, links: &Links<'_>) {
    let op = &model.ops[k];
    let inv = op.invoke;
    s.push_str("<div class=\"op-story\"><div class=\"op-head\">");
    op_link(s, model, k, links);
    put(
        s,
        format_args!(
            " invoked at {}: process {}, client {}, msg_id {}{}</div>",
            secs(inv.time),
            inv.process,
            esc(inv.client.as_deref().unwrap_or("-")),
            inv.msg_id
                .map(|m| m.to_string())
                .unwrap_or_else(|| "-".into()),
            if inv.final_phase {
                " (final phase)"
            } else {
                ""
            }
        ),
    );
    put(
        s,
        format_args!(
            "<div class=\"kv\"><span>request</span><code>{} {}</code></div>",
            esc(&inv.f),
            esc(&clip(inv.value.get(), VALUE_CHARS))
        ),
    );
    match op.completion {
        Some(c) => put(
            s,
            format_args!(
                "<div class=\"kv\"><span>response</span><code><b class=\"{}\">{}</b> {}{}</code> <small>op #{} at {} ({:.1} ms)</small></div>",
                op.outcome.word(),
                op.outcome.word(),
                esc(&clip(c.value.get(), VALUE_CHARS)),
                c.error
                    .as_ref()
                    .map(|e| format!(", error {}", esc(&clip(e.get(), VALUE_CHARS))))
                    .unwrap_or_default(),
                c.index,
                secs(c.time),
                op.latency_ms().unwrap_or(0.0)
            ),
        ),
        None => s.push_str(
            "<div class=\"kv\"><span>response</span><code>none: the operation never completed</code></div>",
        ),
    }
    let msgs = model.messages_of(op);
    if !msgs.is_empty() {
        s.push_str("<ul class=\"msgs\">");
        for m in msgs.iter().take(MAX_MESSAGES_PER_OP) {
            let fate = match m.fate {
                Fate::Delivered(t) => format!("delivered {}", secs(t)),
                Fate::Dropped(t) => format!(
                    "<b class=\"fail\">dropped by a partition</b> at {}",
                    secs(t)
                ),
                Fate::InFlight => "<b class=\"info\">never delivered</b>".into(),
            };
            let label = format!("net #{} {} → {}", m.id, esc(m.src), esc(m.dest));
            match links.message.get(&m.id) {
                Some(w) => put(
                    s,
                    format_args!(
                        "<li><a href=\"#{w}\" class=\"msglink\" data-m=\"{}\" data-w=\"{w}\">{label}</a> sent {}, {fate}: <code>{}</code></li>",
                        m.id,
                        secs(m.sent),
                        esc(&clip(m.body.map(|b| b.get()).unwrap_or(""), 160))
                    ),
                ),
                None => put(
                    s,
                    format_args!(
                        "<li>{label} sent {}, {fate}: <code>{}</code></li>",
                        secs(m.sent),
                        esc(&clip(m.body.map(|b| b.get()).unwrap_or(""), 160))
                    ),
                ),
            }
        }
        s.push_str("</ul>");
    } else if op.outcome != Outcome::Open && inv.client.is_some() {
        s.push_str("<p class=\"quiet\">No network messages found for this exchange.</p>");
    }
    s.push_str("</div>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(rule: &str, ops: Vec<usize>, note: bool) -> FindingLine {
        FindingLine {
            checker: "workload".into(),
            rule: rule.into(),
            explanation: format!("{rule} {ops:?}"),
            ops,
            note,
        }
    }

    #[test]
    fn rule_totals_come_from_the_checker_fields() {
        let set = serde_json::json!({"lost_count": 44});
        let kafka = serde_json::json!({"lost-write": {"count": 3}});
        let txn = serde_json::json!({"anomalies": {"G1a": {"count": 5}}});
        assert_eq!(rule_total(&set, "lost"), Some(44));
        assert_eq!(rule_total(&kafka, "lost-write"), Some(3));
        assert_eq!(rule_total(&txn, "G1a"), Some(5));
        assert_eq!(rule_total(&txn, "G1b"), None);
    }

    #[test]
    fn broken_rules_are_interleaved_and_notes_left_out() {
        let all = vec![
            f("lost", vec![1], false),
            f("lost", vec![1], false),
            f("lost", vec![2], false),
            f("stale", vec![3], true),
            f("dup", vec![4], false),
        ];
        let got: Vec<(&str, usize)> = broken(&all)
            .iter()
            .map(|f| (f.rule.as_str(), f.ops[0]))
            .collect();
        assert_eq!(got, vec![("lost", 1), ("dup", 4), ("lost", 2)]);
    }
}
