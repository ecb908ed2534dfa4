//! `store/index.html`: every run in the store, newest first, with its workload, verdict,
//! servers msgs/op and date, each linked to its report.

use super::html::{esc, put, ratio, readable_timestamp};
use super::inputs::{NetFile, TestFile, Verdict};
use super::page::head;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One row of the index.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// `workload/timestamp`, the path from the store.
    pub path: String,
    /// The workload (the first path part).
    pub workload: String,
    /// The run folder's timestamp.
    pub stamp: String,
    /// VALID, INVALID, UNKNOWN, CRASHED, INTERRUPTED or NO RESULT.
    pub verdict: &'static str,
    /// The verdict's CSS class.
    pub class: &'static str,
    /// Servers messages per operation.
    pub msgs_per_op: Option<f64>,
    /// Nodes, rate and nemesis, in a few words.
    pub shape: String,
    /// Whether the folder has a report.html.
    pub has_report: bool,
}

#[derive(Deserialize)]
struct ResultsHead {
    #[serde(default)]
    valid: Verdict,
    #[serde(default)]
    net: NetFile,
    #[serde(default)]
    test: TestFile,
}

#[derive(Deserialize)]
struct CrashHead {
    #[serde(default)]
    kind: String,
}

/// Reads the summary of every run folder `<store>/<workload>/<timestamp>/`.
pub fn scan(store: &Path) -> Vec<RunSummary> {
    let mut out = Vec::new();
    let Ok(workloads) = std::fs::read_dir(store) else {
        return out;
    };
    for w in workloads.filter_map(Result::ok) {
        let wpath = w.path();
        if !wpath.is_dir() || w.file_type().map(|t| t.is_symlink()).unwrap_or(true) {
            continue;
        }
        let Ok(runs) = std::fs::read_dir(&wpath) else {
            continue;
        };
        for r in runs.filter_map(Result::ok) {
            let dir = r.path();
            if dir.is_dir() {
                if let Some(s) = summarize(&dir, store) {
                    out.push(s);
                }
            }
        }
    }
    out.sort_by(|a, b| b.stamp.cmp(&a.stamp).then_with(|| a.path.cmp(&b.path)));
    out
}

/// The summary of one run folder, or `None` if it is not one (no results, crash or
/// history file).
pub fn summarize(dir: &Path, store: &Path) -> Option<RunSummary> {
    let path = super::run_name(dir, store);
    let (workload, stamp) = path.split_once('/')?;
    let results = std::fs::read_to_string(dir.join("results.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<ResultsHead>(&t).ok());
    let crash = std::fs::read_to_string(dir.join("crash.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<CrashHead>(&t).ok());
    if results.is_none() && crash.is_none() && !dir.join("history.jsonl").is_file() {
        return None;
    }
    let (verdict, class) = match (&crash, &results) {
        (Some(c), _) if c.kind == "interrupted" => ("INTERRUPTED", "unknown"),
        (Some(_), _) => ("CRASHED", "crash"),
        (None, Some(r)) => match r.valid {
            Verdict::Valid => ("VALID", "valid"),
            Verdict::Invalid => ("INVALID", "invalid"),
            Verdict::Unknown => ("UNKNOWN", "unknown"),
        },
        (None, None) => ("NO RESULT", "unknown"),
    };
    let shape = results
        .as_ref()
        .map(|r| {
            let t = &r.test;
            let mut s = format!(
                "{} node{}, {} op/s, {} s",
                t.nodes.len(),
                if t.nodes.len() == 1 { "" } else { "s" },
                t.rate,
                t.time_limit
            );
            if t.latency > 0 {
                put(&mut s, format_args!(", {} ms", t.latency));
            }
            if !t.nemesis.is_empty() {
                put(&mut s, format_args!(", {}", t.nemesis.join(", ")));
            }
            s
        })
        .unwrap_or_default();
    Some(RunSummary {
        path: path.clone(),
        workload: workload.to_string(),
        stamp: stamp.to_string(),
        verdict,
        class,
        msgs_per_op: results.as_ref().and_then(|r| r.net.servers.msgs_per_op),
        shape,
        has_report: dir.join("report.html").is_file(),
    })
}

/// The index page.
pub fn render(runs: &[RunSummary], has_scorecard: bool) -> String {
    let mut s = head("glomers-sim runs");
    s.push_str("<header><div class=\"wrap\"><h1>glomers-sim runs</h1>");
    put(
        &mut s,
        format_args!(
            "<p class=\"plan\">{} in this store, newest first.{}</p></div></header><main class=\"wrap\">",
            super::html::plural(runs.len(), "run"),
            if has_scorecard {
                " The last <code>glomers-sim challenges</code> run: <a href=\"scorecard.html\">scorecard</a>."
            } else {
                ""
            }
        ),
    );
    if runs.is_empty() {
        s.push_str("<p class=\"quiet\">No runs yet.</p>");
    } else {
        s.push_str("<table class=\"runs\"><tr><th>date</th><th>workload</th><th>verdict</th><th>servers msgs/op</th><th>shape</th><th>report</th></tr>");
        for r in runs {
            let link = if r.has_report {
                format!("<a href=\"{}/report.html\">report</a>", esc(&r.path))
            } else {
                format!("<a href=\"{}/\">files</a>", esc(&r.path))
            };
            put(
                &mut s,
                format_args!(
                    "<tr class=\"{}\"><td>{}</td><td>{}</td><td class=\"verdict\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{link}</td></tr>",
                    r.class,
                    esc(&readable_timestamp(&r.stamp)),
                    esc(&r.workload),
                    r.verdict,
                    ratio(r.msgs_per_op),
                    esc(&r.shape)
                ),
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</main></body></html>\n");
    s
}

/// Rewrites `<store>/index.html`; returns its path.
pub fn write(store: &Path) -> std::io::Result<PathBuf> {
    let runs = scan(store);
    let path = store.join("index.html");
    std::fs::write(&path, render(&runs, store.join("scorecard.html").is_file()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_listed_newest_first_with_verdicts() {
        let store = std::env::temp_dir().join(format!("glomers-index-{}", std::process::id()));
        let old = store.join("echo/20260101T000000.000Z");
        let new = store.join("broadcast/20260102T000000.000Z");
        let crashed = store.join("echo/20260103T000000.000Z");
        for d in [&old, &new, &crashed] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::create_dir_all(store.join("echo/not-a-run")).unwrap();
        std::fs::write(old.join("results.json"), r#"{"valid": true, "net": {"servers": {"msgs_per_op": 0.5}}, "test": {"nodes": ["n0"], "rate": 5.0, "time_limit": 10}}"#).unwrap();
        std::fs::write(new.join("results.json"), r#"{"valid": false}"#).unwrap();
        std::fs::write(new.join("report.html"), "").unwrap();
        std::fs::write(crashed.join("crash.json"), r#"{"kind": "node-exit"}"#).unwrap();
        let runs = scan(&store);
        let page = render(&runs, false);
        let _ = std::fs::remove_dir_all(&store);
        let got: Vec<(&str, &str)> = runs.iter().map(|r| (r.path.as_str(), r.verdict)).collect();
        assert_eq!(
            got,
            vec![
                ("echo/20260103T000000.000Z", "CRASHED"),
                ("broadcast/20260102T000000.000Z", "INVALID"),
                ("echo/20260101T000000.000Z", "VALID"),
            ]
        );
        assert_eq!(runs[2].msgs_per_op, Some(0.5));
        assert_eq!(runs[2].shape, "1 node, 5 op/s, 10 s");
        assert!(page.contains("<a href=\"broadcast/20260102T000000.000Z/report.html\">report</a>"));
        assert!(page.contains("<a href=\"echo/20260103T000000.000Z/\">files</a>"));
        assert!(page.contains("2026-01-03 00:00:00 UTC"));
    }
}
