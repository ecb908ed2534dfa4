//! Assembles `report.html`: header and verdict, the story of each finding, charts, the
//! message diagram, the timeline, network and node figures, and the files of the run.

use super::diagram::{self, Diagram};
use super::findings::{self, Links};
use super::html::{clip, count, esc, plural, put, ratio, readable_timestamp};
use super::inputs::{RunFiles, Verdict};
use super::model::{Model, Outcome};
use super::plots::{self, Chart};
use super::timeline;
use std::collections::HashSet;

/// The page's style sheet.
pub const STYLE: &str = include_str!("style.css");
/// The page's script: window chooser, message bodies, links from the story.
pub const SCRIPT: &str = include_str!("script.js");

/// Opens an HTML document with the shared style.
pub fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>",
        esc(title)
    )
}

/// What the run's verdict is, as a word and a CSS class.
pub fn verdict_of(run: &RunFiles) -> (&'static str, &'static str) {
    if let Some(c) = &run.crash {
        if c.kind == "interrupted" {
            return ("INTERRUPTED", "unknown");
        }
        return ("CRASHED", "crash");
    }
    match run.results.as_ref().map(|r| r.valid) {
        Some(Verdict::Valid) => ("VALID", "valid"),
        Some(Verdict::Invalid) => ("INVALID", "invalid"),
        Some(Verdict::Unknown) => ("UNKNOWN", "unknown"),
        None => ("NO RESULT", "unknown"),
    }
}

fn verdict_word(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Valid => ("valid", "valid"),
        Verdict::Invalid => ("invalid", "invalid"),
        Verdict::Unknown => ("unknown", "unknown"),
    }
}

/// Where the first trouble is: the earliest operation a broken rule names, else the first
/// failed or indeterminate operation, else the first bad node output.
fn focus(run: &RunFiles, model: &Model<'_>) -> Option<(u64, String)> {
    if let Some(r) = &run.results {
        let first = findings::broken(&r.findings)
            .iter()
            .flat_map(|f| f.ops.iter())
            .filter_map(|i| model.op_of_index.get(i).map(|&k| &model.ops[k]))
            .min_by_key(|o| o.start());
        if let Some(o) = first {
            return Some((
                o.start(),
                format!(
                    "around op #{} ({}), named by the first finding",
                    o.invoke.index, o.invoke.f
                ),
            ));
        }
    }
    if let Some(o) = model
        .ops
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Fail | Outcome::Info))
        .min_by_key(|o| o.start())
    {
        return Some((
            o.start(),
            format!(
                "around the first {} operation, op #{}",
                o.outcome.word(),
                o.invoke.index
            ),
        ));
    }
    let faults = run
        .results
        .as_ref()
        .map(|r| &r.node_faults)
        .or(run.crash.as_ref().map(|c| &c.faults));
    faults
        .and_then(|f| f.first())
        .map(|f| (f.time, format!("around the first bad output of {}", f.node)))
}

/// Renders the report page of one run.
pub fn render(run: &RunFiles) -> String {
    let model = Model::new(run);
    let (word, class) = verdict_of(run);
    let workload = run
        .results
        .as_ref()
        .map(|r| r.test.workload.clone())
        .filter(|w| !w.is_empty())
        .or_else(|| run.name.split('/').next().map(String::from))
        .unwrap_or_default();
    let mut s = head(&format!("{word} · {workload} · {}", run.name));
    s.push_str("<header><div class=\"wrap\">");
    put(
        &mut s,
        format_args!(
            "<p class=\"crumbs\"><a href=\"../../index.html\">all runs</a> · {}</p><h1><span class=\"badge {class}\">{word}</span> {}</h1>",
            esc(&readable_timestamp(run.name.rsplit('/').next().unwrap_or(""))),
            esc(&workload)
        ),
    );
    s.push_str(&plan_line(run));
    s.push_str(&key_figures(run, &model));
    s.push_str("<nav><a href=\"#story\">story</a><a href=\"#latency\">latency</a><a href=\"#throughput\">throughput</a><a href=\"#messages\">messages</a><a href=\"#timeline\">timeline</a><a href=\"#network\">network &amp; nodes</a><a href=\"#files\">files</a></nav>");
    s.push_str("</div></header><main class=\"wrap\">");
    if !run.problems.is_empty() {
        s.push_str("<div class=\"problems\"><b>Some files were missing or unreadable</b>; the report shows what the others hold:<ul>");
        for p in &run.problems {
            put(&mut s, format_args!("<li>{}</li>", esc(p)));
        }
        s.push_str("</ul></div>");
    }

    // Diagram first (the story links into it), written out later.
    let told = findings::told_ops(run);
    let pinned: HashSet<u64> = told
        .iter()
        .filter_map(|i| model.op_of_index.get(i).map(|&k| &model.ops[k]))
        .flat_map(|o| model.messages_of(o))
        .map(|m| m.id)
        .collect();
    let windows = diagram::windows(model.end, focus(run, &model));
    let diagram = diagram::render(&model, windows, &pinned, &told);
    let links = Links {
        message: &diagram.window_of_message,
        op: &diagram.window_of_op,
    };

    s.push_str("<section id=\"story\"><h2>What happened</h2>");
    s.push_str(&findings::section(run, &model, &links));
    s.push_str("</section>");

    s.push_str("<section id=\"latency\"><h2>Latency</h2>");
    match plots::latency_raw(&model) {
        Some(c) => s.push_str(&figure(&c)),
        None => s.push_str("<p class=\"quiet\">No operation completed.</p>"),
    }
    for c in plots::latency_quantiles(&model) {
        s.push_str(&figure(&c));
    }
    if let Some(r) = &run.results {
        let stable = r.workload_quantiles("stable_latency_distribution");
        let stable = if stable.is_empty() {
            r.workload_quantiles("stable_latencies")
        } else {
            stable
        };
        let lost = r.workload_quantiles("lost_latencies");
        if let Some(c) = plots::stable_latency(&stable, &lost) {
            s.push_str(&figure(&c));
        }
    }
    s.push_str("</section><section id=\"throughput\"><h2>Throughput</h2>");
    match plots::throughput(&model) {
        Some(c) => s.push_str(&figure(&c)),
        None => s.push_str("<p class=\"quiet\">No operation completed.</p>"),
    }
    s.push_str("</section>");
    s.push_str(&diagram_section(&model, &diagram));
    s.push_str("<section id=\"timeline\"><h2>Operations per process</h2>");
    let concurrency = run
        .results
        .as_ref()
        .map(|r| r.test.concurrency)
        .unwrap_or(0);
    match timeline::render(&model, concurrency) {
        Some(t) => put(
            &mut s,
            format_args!(
                "<p class=\"quiet\">{} Bars run from invocation to completion: <b class=\"ok\">ok</b>, <b class=\"fail\">fail</b>, <b class=\"info\">info</b>, <b class=\"open\">never completed</b>; shaded: partitions. Consecutive ok operations closer than a pixel share a bar (hover for counts and times).</p><div class=\"scroll\" data-bars=\"{}\">{}</div>",
                esc(&t.note),
                t.bars,
                t.svg
            ),
        ),
        None => s.push_str("<p class=\"quiet\">No operations were recorded.</p>"),
    }
    s.push_str("</section>");
    s.push_str(&network_section(run, &model));
    s.push_str(&files_section(run));
    s.push_str("</main>");
    s.push_str("<aside id=\"panel\" hidden><button type=\"button\" class=\"close\" aria-label=\"close\">×</button><div id=\"panel-body\"></div></aside>");
    put(
        &mut s,
        format_args!(
            "<script type=\"application/json\" id=\"bodies\">{}</script><script>{SCRIPT}</script></body></html>\n",
            diagram.bodies_json
        ),
    );
    s
}

fn plan_line(run: &RunFiles) -> String {
    let Some(r) = &run.results else {
        return String::new();
    };
    let t = &r.test;
    let nodes = match t.nodes.len() {
        0 => "no nodes".to_string(),
        1 => t.nodes[0].clone(),
        n => format!("{n} nodes ({}…{})", t.nodes[0], t.nodes[n - 1]),
    };
    let mut line = format!(
        "{}, {} workers, {} s at {} op/s, latency {} ms",
        nodes, t.concurrency, t.time_limit, t.rate, t.latency
    );
    if !t.nemesis.is_empty() {
        put(
            &mut line,
            format_args!(", nemesis {}", t.nemesis.join(", ")),
        );
    }
    if let Some(seed) = t.seed {
        put(&mut line, format_args!(", seed {seed}"));
    }
    format!(
        "<p class=\"plan\">{}<br><code>{} {}</code></p>",
        esc(&line),
        esc(&t.bin),
        esc(&t.args.join(" "))
    )
}

fn key_figures(run: &RunFiles, model: &Model<'_>) -> String {
    let mut s = String::from("<div class=\"figures\">");
    let mut fig = |label: &str, value: String, class: &str| {
        put(
            &mut s,
            format_args!(
                "<div class=\"fig {class}\"><span>{}</span><b>{}</b></div>",
                esc(label),
                value
            ),
        )
    };
    if let Some(r) = &run.results {
        for (name, v) in [
            ("workload", r.workload_valid()),
            ("stats", r.stats.valid),
            ("availability", r.availability.valid),
        ] {
            let (w, c) = verdict_word(v);
            fig(name, w.into(), c);
        }
    }
    let (mut ok, mut fail, mut info) = (0u64, 0u64, 0u64);
    for o in &model.ops {
        match o.outcome {
            Outcome::Ok => ok += 1,
            Outcome::Fail => fail += 1,
            Outcome::Info => info += 1,
            Outcome::Open => {}
        }
    }
    fig(
        "operations",
        format!(
            "{} <small>{} ok · {} fail · {} info</small>",
            count(model.ops.len() as u64),
            count(ok),
            count(fail),
            count(info)
        ),
        "",
    );
    if let Some(r) = &run.results {
        fig("servers msgs/op", ratio(r.net.servers.msgs_per_op), "");
        fig("messages", count(r.net.all.msg_count), "");
        let stable = r.workload_quantiles("stable_latencies");
        let at = |q: f64| stable.iter().find(|p| p.0 == q).map(|p| p.1);
        if let (Some(med), Some(max)) = (at(0.5), at(1.0)) {
            fig(
                "stable latency med / max",
                format!("{med:.0} / {max:.0} ms"),
                "",
            );
        }
        if let Some(f) = r.availability.ok_fraction {
            fig("ok fraction", format!("{:.2} %", f * 100.0), "");
        }
    }
    s.push_str("</div>");
    s
}

fn figure(c: &Chart) -> String {
    format!(
        "<figure class=\"plot\" data-marks=\"{}\"><figcaption>{}{}</figcaption>{}<p class=\"quiet\">{}</p></figure>",
        c.marks,
        esc(&c.title),
        plots::legend_html(&c.legend),
        c.svg,
        esc(&c.note)
    )
}

fn diagram_section(model: &Model<'_>, d: &Diagram) -> String {
    let mut s = String::from("<section id=\"messages\"><h2>Messages</h2>");
    if model.messages.is_empty() {
        s.push_str("<p class=\"quiet\">The network journal is empty.</p></section>");
        return s;
    }
    put(
        &mut s,
        format_args!(
            "<p class=\"quiet\">{} in the journal. Lanes: <span class=\"key lc\">clients</span> (next to the node they talk to), <span class=\"key ln\">nodes</span>, <span class=\"key lv\">services</span>; time runs down. Arrows: <span class=\"key mc\">client</span>, <span class=\"key ms\">between nodes</span>, <span class=\"key mv\">with a service</span>, <span class=\"key md\">dropped by a partition</span> (× where it was discarded), <span class=\"key mu\">never delivered</span>. Client lanes show each operation as a bar. Click an arrow to read its message.</p>",
            plural(model.messages.len(), "message")
        ),
    );
    s.push_str(
        "<div class=\"chooser\" role=\"group\" aria-label=\"windows\"><span>Windows:</span>",
    );
    for w in &d.windows {
        put(
            &mut s,
            format_args!(
                "<button type=\"button\" class=\"chip{}\" data-w=\"{}\" aria-pressed=\"{}\" title=\"{} of {} messages drawn\">{}</button>",
                if w.window.open { " on" } else { "" },
                w.window.id,
                w.window.open,
                w.drawn,
                w.total,
                esc(&w.window.label())
            ),
        );
    }
    s.push_str("</div>");
    for w in &d.windows {
        put(
            &mut s,
            format_args!(
                "<div class=\"window\" id=\"{}\" data-drawn=\"{}\"{}><h3>{}</h3><p class=\"quiet\">{}{}</p><div class=\"scroll\">{}</div></div>",
                w.window.id,
                w.drawn,
                if w.window.open { "" } else { " hidden" },
                esc(&w.window.label()),
                if w.total == 0 { "No message in this window." } else { "" },
                esc(&w.note),
                w.svg
            ),
        );
    }
    s.push_str("</section>");
    s
}

fn network_section(run: &RunFiles, model: &Model<'_>) -> String {
    let mut s =
        String::from("<section id=\"network\"><h2>Network and nodes</h2><div class=\"cols\">");
    if let Some(r) = &run.results {
        let n = &r.net;
        s.push_str("<table><caption>Messages</caption><tr><th></th><th>sent</th><th>delivered</th><th>messages</th><th>per op</th></tr>");
        for (name, g) in [
            ("all", n.all),
            ("clients", n.clients),
            ("servers", n.servers),
        ] {
            put(
                &mut s,
                format_args!(
                    "<tr><th>{name}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    count(g.send_count),
                    count(g.recv_count),
                    count(g.msg_count),
                    if name == "clients" {
                        String::new()
                    } else {
                        ratio(g.msgs_per_op)
                    }
                ),
            );
        }
        put(
            &mut s,
            format_args!(
                "<tr><th>dropped</th><td colspan=\"4\">{} by partitions</td></tr></table>",
                count(n.dropped_count)
            ),
        );
        s.push_str("<table><caption>Operations</caption><tr><th></th><th>ok</th><th>fail</th><th>info</th></tr>");
        for (f, c) in &r.stats.by_f {
            put(
                &mut s,
                format_args!(
                    "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(f),
                    count(c.ok_count),
                    count(c.fail_count),
                    count(c.info_count)
                ),
            );
        }
        s.push_str("</table>");
        if !r.node_memory.is_empty() {
            let mut mem: Vec<(&String, u64)> = r
                .node_memory
                .iter()
                .filter_map(|(n, m)| Some((n, m.peak_rss_kib?)))
                .collect();
            mem.sort_by(|a, b| super::inputs::natural_cmp(a.0, b.0));
            let top = mem.iter().map(|m| m.1).max().unwrap_or(1).max(1);
            s.push_str(
                "<div class=\"memwrap\"><b>Peak memory (RSS) per node</b><div class=\"memgrid\">",
            );
            for (node, kib) in &mem {
                put(
                    &mut s,
                    format_args!(
                        "<span>{}</span><span class=\"num\">{:.1} MB</span><span class=\"bar\"><i style=\"width:{:.0}%\"></i></span>",
                        esc(node),
                        *kib as f64 / 1024.0,
                        *kib as f64 / top as f64 * 100.0
                    ),
                );
            }
            s.push_str("</div></div>");
        }
    }
    // Traffic per message type, from the journal.
    let mut types: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for m in &model.messages {
        *types
            .entry(m.body_type().unwrap_or_else(|| "(no type)".into()))
            .or_default() += 1;
    }
    if !types.is_empty() {
        let mut list: Vec<(String, u64)> = types.into_iter().collect();
        list.sort_by_key(|b| std::cmp::Reverse(b.1));
        s.push_str("<table><caption>Messages by body type (journal)</caption>");
        for (t, n) in list.iter().take(20) {
            put(
                &mut s,
                format_args!("<tr><th>{}</th><td>{}</td></tr>", esc(t), count(*n)),
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</div>");
    if let Some(r) = &run.results {
        let text = serde_json::to_string_pretty(&r.workload).unwrap_or_default();
        put(
            &mut s,
            format_args!(
                "<details><summary>The workload checker's fields (results.json)</summary><pre>{}</pre></details>",
                esc(&clip(&text, 20_000))
            ),
        );
    }
    s.push_str("</section>");
    s
}

fn files_section(run: &RunFiles) -> String {
    let mut s = String::from("<section id=\"files\"><h2>Files of this run</h2><p>");
    let files = [
        ("results.json", run.results.is_some()),
        ("crash.json", run.crash.is_some()),
        ("history.jsonl", true),
        ("messages.jsonl", true),
        ("nemesis.jsonl", true),
    ];
    for (f, present) in files {
        if present {
            put(&mut s, format_args!("<a href=\"{f}\">{f}</a> "));
        }
    }
    s.push_str("</p>");
    if !run.node_logs.is_empty() {
        s.push_str("<p>Node logs (stderr): ");
        for l in &run.node_logs {
            put(
                &mut s,
                format_args!("<a href=\"node-logs/{}\">{}</a> ", esc(l), esc(l)),
            );
        }
        s.push_str("</p>");
    }
    put(
        &mut s,
        format_args!(
            "<p class=\"quiet\">Times are seconds since the network started (history and journal share that origin). Report written from the store files of {}; {} and {} read.</p></section>",
            esc(&run.name),
            plural(run.history.len(), "history line"),
            plural(run.journal.len(), "journal line")
        ),
    );
    s
}
