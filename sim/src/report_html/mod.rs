//! Pictures of a run, as self-contained HTML files in the store: `report.html` in each run
//! folder (verdict and findings, latency and throughput charts, a message diagram, an
//! operation timeline, network and node figures), `index.html` listing every run, and
//! `scorecard.html` for `glomers-sim challenges`.
//!
//! The report is a pure function of the run's store files ([`inputs::RunFiles`] →
//! HTML text, [`render_report`]), so any driver that writes the same store layout gets the
//! same report; [`publish`] is the one step that reads and writes files. Pages inline
//! their SVG, CSS and a small script, load nothing, and open from the file system.

pub mod diagram;
pub mod findings;
pub mod html;
pub mod index;
pub mod inputs;
pub mod model;
pub mod page;
pub mod plots;
pub mod scorecard;
pub mod timeline;

use std::path::{Path, PathBuf};

/// The report page of one run, from its parsed files.
pub fn render_report(run: &inputs::RunFiles) -> String {
    page::render(run)
}

/// The run's name as the store knows it: `workload/timestamp`.
pub fn run_name(dir: &Path, store: &Path) -> String {
    dir.strip_prefix(store)
        .unwrap_or(dir)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Writes `report.html` into the run folder `dir` from the files there, then refreshes
/// `<store>/index.html`. Returns the report's path.
pub fn publish(dir: &Path, store: &Path) -> std::io::Result<PathBuf> {
    let run = inputs::load_run(dir, &run_name(dir, store));
    let path = dir.join("report.html");
    std::fs::write(&path, render_report(&run))?;
    index::write(store)?;
    Ok(path)
}

/// `glomers-sim report`: writes report.html for the given run folders (every run in the
/// store when none is given) and the index; prints each report's path. Returns the exit
/// code: 0, or 1 if a report could not be written.
pub fn run_cli(args: &crate::cli::ReportArgs) -> i32 {
    let dirs: Vec<PathBuf> = if args.runs.is_empty() {
        index::scan(&args.store)
            .into_iter()
            .map(|r| args.store.join(r.path))
            .collect()
    } else {
        args.runs.clone()
    };
    let mut code = 0;
    for dir in &dirs {
        let run = inputs::load_run(dir, &run_name(dir, &args.store));
        let path = dir.join("report.html");
        match std::fs::write(&path, render_report(&run)) {
            Ok(()) => println!("{}", path.display()),
            Err(e) => {
                eprintln!("glomers-sim: cannot write {}: {e}", path.display());
                code = 1;
            }
        }
    }
    match index::write(&args.store) {
        Ok(p) => println!("{}", p.display()),
        Err(e) => {
            eprintln!("glomers-sim: cannot write the store index: {e}");
            code = 1;
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::inputs::test_op as op;
    use super::inputs::{JournalEvent, NemesisEvent, ResultsFile, RunFiles};
    use super::*;
    use glomers_simkit::history::OpType;
    use serde_json::{json, Value};

    fn line(v: Value) -> JournalEvent {
        serde_json::from_value(v).unwrap()
    }

    /// A two-node broadcast run: a broadcast on n0 whose gossip to n1 is dropped by a
    /// partition, then a read on n1 that misses it (a lost element).
    fn lossy_run() -> RunFiles {
        let results: ResultsFile = serde_json::from_value(json!({
            "valid": false,
            "net": {"all": {"msg_count": 5, "msgs_per_op": 2.5}, "servers": {"msg_count": 1, "msgs_per_op": 0.5}},
            "stats": {"valid": true, "by_f": {"broadcast": {"ok_count": 1}, "read": {"ok_count": 1}}},
            "availability": {"valid": true, "ok_fraction": 1.0},
            "workload": {"valid": false, "lost_count": 1, "stable_latencies": {"0": 0, "0.5": 10, "1": 20}},
            "test": {"workload": "broadcast", "nodes": ["n0", "n1"], "concurrency": 2, "rate": 10.0, "time_limit": 3},
            "node_memory": {"n0": {"peak_rss_kib": 2048}, "n1": {"peak_rss_kib": 1024}},
            "findings": [{"checker": "workload", "rule": "lost", "explanation": "Element 7 was lost <b>", "ops": [0, 3]}],
        }))
        .unwrap();
        RunFiles {
            name: "broadcast/20260101T000000.000Z".into(),
            results: Some(results),
            history: vec![
                op(0, 100, 0, OpType::Invoke, "broadcast", json!(7)),
                op(1, 101, 0, OpType::Ok, "broadcast", json!(7)),
                op(2, 900, 1, OpType::Invoke, "read", Value::Null),
                op(3, 901, 1, OpType::Ok, "read", json!([])),
            ],
            journal: vec![
                line(
                    json!({"kind":"send","time":100_000_000u64,"id":0,"src":"c4","dest":"n0","body":{"type":"broadcast","message":7,"msg_id":1}}),
                ),
                line(json!({"kind":"recv","time":100_000_000u64,"id":0,"src":"c4","dest":"n0"})),
                line(
                    json!({"kind":"send","time":100_500_000u64,"id":1,"src":"n0","dest":"c4","body":{"type":"broadcast_ok","in_reply_to":1}}),
                ),
                line(json!({"kind":"recv","time":100_600_000u64,"id":1,"src":"n0","dest":"c4"})),
                line(
                    json!({"kind":"send","time":100_700_000u64,"id":2,"src":"n0","dest":"n1","body":{"type":"gossip","note":"</script><b>"}}),
                ),
                line(json!({"kind":"drop","time":200_000_000u64,"id":2,"src":"n0","dest":"n1"})),
                line(
                    json!({"kind":"send","time":900_000_000u64,"id":3,"src":"c5","dest":"n1","body":{"type":"read","msg_id":1}}),
                ),
                line(json!({"kind":"recv","time":900_000_000u64,"id":3,"src":"c5","dest":"n1"})),
            ],
            nemesis: vec![NemesisEvent {
                time: 50_000_000,
                f: "start-partition".into(),
                value: json!({"shape": "one", "grudge": {"n0": ["n1"], "n1": ["n0"]}}),
            }],
            node_logs: vec!["n0.log".into(), "n1.log".into()],
            ..RunFiles::default()
        }
    }

    #[test]
    fn a_failing_run_tells_its_story_and_links_it_to_the_diagram() {
        let page = render_report(&lossy_run());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<span class=\"badge invalid\">INVALID</span>"));
        // The finding, escaped, with its operations and their messages.
        assert!(page.contains("Element 7 was lost &lt;b&gt;"));
        assert!(page.contains("op #0 (broadcast on n0)"));
        let link = page
            .split("class=\"msglink\" data-m=\"0\" data-w=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a link to message 0");
        assert!(page.contains(&format!("<div class=\"window\" id=\"{link}\"")));
        // The diagram: the dropped gossip is dashed with a cross, inside the partition.
        assert!(page.contains("<line class=\"m s d\""));
        assert!(page.contains("<rect class=\"part\""));
        assert!(page.contains("partition: one: n0 | n1"));
        // Charts from plotters, with data in them.
        assert!(page.matches("<figure class=\"plot\"").count() >= 4);
        assert!(!page.contains("data-marks=\"0\""));
        // Bodies are embedded without ending the script element early.
        let bodies = page
            .split("<script type=\"application/json\" id=\"bodies\">")
            .nth(1)
            .and_then(|rest| rest.split("</script>").next())
            .expect("the bodies");
        let parsed: Value = serde_json::from_str(bodies).expect("bodies are JSON");
        assert!(parsed["2"][5].as_str().unwrap().contains("</script><b>"));
        assert!(page.contains("<a href=\"node-logs/n1.log\">"));
        // Balanced markup.
        for tag in ["div", "section", "details", "table", "svg", "figure", "ul"] {
            let open = page.matches(&format!("<{tag}>")).count()
                + page.matches(&format!("<{tag} ")).count();
            assert_eq!(open, page.matches(&format!("</{tag}>")).count(), "<{tag}>");
        }
        // Self-contained: nothing is loaded from anywhere.
        assert!(
            !page.contains(" src=\"") && !page.contains("<link") && !page.contains("href=\"http")
        );
    }

    #[test]
    fn a_crashed_run_with_few_files_still_gets_a_page() {
        let run = RunFiles {
            name: "echo/20260101T000000.000Z".into(),
            crash: serde_json::from_value(json!({
                "kind": "node-exit",
                "message": "node n0 crashed (exit status 3)",
                "log_tail": ["Traceback", "boom"],
            }))
            .ok(),
            problems: vec!["history.jsonl: No such file or directory".into()],
            ..RunFiles::default()
        };
        let page = render_report(&run);
        assert!(page.contains("<span class=\"badge crash\">CRASHED</span>"));
        assert!(page.contains("node n0 crashed (exit status 3)"));
        assert!(page.contains("Traceback\nboom"));
        assert!(page.contains("history.jsonl: No such file or directory"));
        assert!(page.contains("The network journal is empty."));
        assert!(!page.contains("<figure class=\"plot\""));
        for tag in ["div", "section", "details"] {
            let open = page.matches(&format!("<{tag}>")).count()
                + page.matches(&format!("<{tag} ")).count();
            assert_eq!(open, page.matches(&format!("</{tag}>")).count(), "<{tag}>");
        }
    }

    #[test]
    fn the_same_files_give_the_same_page() {
        assert_eq!(render_report(&lossy_run()), render_report(&lossy_run()));
    }

    #[test]
    fn publish_writes_the_report_and_the_index() {
        let store = std::env::temp_dir().join(format!("glomers-publish-{}", std::process::id()));
        let dir = store.join("echo/20260101T000000.000Z");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("results.json"), r#"{"valid": true}"#).unwrap();
        let path = publish(&dir, &store).unwrap();
        let report = std::fs::read_to_string(&path).unwrap();
        let index = std::fs::read_to_string(store.join("index.html")).unwrap();
        let _ = std::fs::remove_dir_all(&store);
        assert!(report.contains("VALID"));
        assert!(index.contains("echo/20260101T000000.000Z/report.html"));
        assert_eq!(run_name(&dir, &store), "echo/20260101T000000.000Z");
    }
}
