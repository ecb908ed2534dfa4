//! The store files a report is built from, as typed values: `results.json` (or
//! `crash.json`), `history.jsonl`, `messages.jsonl` and `nemesis.jsonl`, plus the names of
//! the node logs. [`load_run`] is the only function here that touches the disk; everything
//! else in [`crate::report_html`] works on a [`RunFiles`] value.
//!
//! Every field the report does not need is ignored, and every field it reads has a default,
//! so a store written by an older or newer bench (or a crashed run with half its files)
//! still gets a report.

use glomers_simkit::history::OpType;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Everything a run left in its folder, parsed.
#[derive(Debug, Default)]
pub struct RunFiles {
    /// The run's name, e.g. `broadcast/20260101T120000.000Z`.
    pub name: String,
    /// `results.json`, absent when the run crashed.
    pub results: Option<ResultsFile>,
    /// `crash.json`, present when the run crashed.
    pub crash: Option<CrashFile>,
    /// `history.jsonl`, in order.
    pub history: Vec<HistoryOp>,
    /// `messages.jsonl`, in order.
    pub journal: Vec<JournalEvent>,
    /// `nemesis.jsonl`, in order (also found in results.json).
    pub nemesis: Vec<NemesisEvent>,
    /// File names in `node-logs/`, sorted.
    pub node_logs: Vec<String>,
    /// Files that were missing or could not be parsed, said on the page.
    pub problems: Vec<String>,
}

/// One line of `history.jsonl` (the bench's `Op`), with the operation's value and error
/// kept as JSON text: the report only prints them, and a long run's reads would take
/// many times their size as parsed values.
#[derive(Debug, Deserialize)]
pub struct HistoryOp {
    /// Position in the history.
    pub index: usize,
    /// Nanoseconds since the test start.
    pub time: u64,
    /// Jepsen process.
    pub process: u64,
    /// Invoke, ok, fail or info.
    #[serde(rename = "type")]
    pub kind: OpType,
    /// Operation name.
    pub f: String,
    /// The value, as written.
    pub value: Box<RawValue>,
    /// Node addressed.
    #[serde(default)]
    pub node: Option<String>,
    /// Client that carried the request.
    #[serde(default)]
    pub client: Option<String>,
    /// The request's msg_id.
    #[serde(default)]
    pub msg_id: Option<u64>,
    /// What went wrong, for fail and info completions, as written.
    #[serde(default)]
    pub error: Option<Box<RawValue>>,
    /// Part of the final phase.
    #[serde(default)]
    pub final_phase: bool,
}

/// A history line for tests: `ms` milliseconds, client `c{process + 4}`, msg_id 1.
#[cfg(test)]
pub fn test_op(
    index: usize,
    ms: u64,
    process: u64,
    kind: OpType,
    f: &str,
    value: Value,
) -> HistoryOp {
    HistoryOp {
        index,
        time: ms * 1_000_000,
        process,
        kind,
        f: f.into(),
        value: RawValue::from_string(value.to_string()).expect("JSON"),
        node: Some(format!("n{process}")),
        client: Some(format!("c{}", process + 4)),
        msg_id: Some(1),
        error: None,
        final_phase: false,
    }
}

/// A checker's three-valued verdict as results.json writes it (`true`, `false`,
/// `"unknown"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(from = "VerdictJson")]
pub enum Verdict {
    /// Checked and fine.
    Valid,
    /// A rule is broken.
    Invalid,
    /// The checkers could not decide (or the field is missing).
    #[default]
    Unknown,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum VerdictJson {
    Bool(bool),
    Other(serde::de::IgnoredAny),
}

impl From<VerdictJson> for Verdict {
    fn from(v: VerdictJson) -> Verdict {
        match v {
            VerdictJson::Bool(true) => Verdict::Valid,
            VerdictJson::Bool(false) => Verdict::Invalid,
            VerdictJson::Other(_) => Verdict::Unknown,
        }
    }
}

/// The parts of `results.json` a report shows.
#[derive(Debug, Default, Deserialize)]
pub struct ResultsFile {
    /// The overall verdict.
    #[serde(default)]
    pub valid: Verdict,
    /// Network counters.
    #[serde(default)]
    pub net: NetFile,
    /// The stats checker: counts per operation name.
    #[serde(default)]
    pub stats: StatsFile,
    /// The availability checker.
    #[serde(default)]
    pub availability: AvailabilityFile,
    /// Client exceptions.
    #[serde(default)]
    pub exceptions: ExceptionsFile,
    /// The workload checker's fields (their shape depends on the workload).
    #[serde(default)]
    pub workload: Value,
    /// Bad node output.
    #[serde(default)]
    pub node_faults: Vec<NodeFaultLine>,
    /// The test plan.
    #[serde(default)]
    pub test: TestFile,
    /// Peak RSS per node.
    #[serde(default)]
    pub node_memory: BTreeMap<String, NodeMemory>,
    /// Every checker's findings (broken rules and notes).
    #[serde(default)]
    pub findings: Vec<FindingLine>,
}

impl ResultsFile {
    /// The workload checker's verdict.
    pub fn workload_valid(&self) -> Verdict {
        serde_json::from_value(self.workload.get("valid").cloned().unwrap_or(Value::Null))
            .unwrap_or_default()
    }

    /// A quantile map of the workload's fields (`stable_latencies` and the like) as
    /// (quantile, milliseconds) pairs, sorted by quantile.
    pub fn workload_quantiles(&self, field: &str) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = self
            .workload
            .get(field)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(q, v)| Some((q.parse::<f64>().ok()?, v.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }
}

/// Message counters for one group of messages.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct GroupFile {
    /// Messages sent.
    #[serde(default)]
    pub send_count: u64,
    /// Messages delivered.
    #[serde(default)]
    pub recv_count: u64,
    /// Messages in all.
    #[serde(default)]
    pub msg_count: u64,
    /// Messages per client invocation (all and servers only).
    #[serde(default)]
    pub msgs_per_op: Option<f64>,
}

/// `net` in results.json.
#[derive(Debug, Default, Deserialize)]
pub struct NetFile {
    /// Every message.
    #[serde(default)]
    pub all: GroupFile,
    /// Messages to or from a client.
    #[serde(default)]
    pub clients: GroupFile,
    /// Messages between nodes and services.
    #[serde(default)]
    pub servers: GroupFile,
    /// Messages discarded by partitions.
    #[serde(default)]
    pub dropped_count: u64,
}

/// Completion counts.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct Counts {
    /// All completions.
    #[serde(default)]
    pub count: u64,
    /// Ok completions.
    #[serde(default)]
    pub ok_count: u64,
    /// Fail completions.
    #[serde(default)]
    pub fail_count: u64,
    /// Info completions.
    #[serde(default)]
    pub info_count: u64,
}

/// `stats` in results.json.
#[derive(Debug, Default, Deserialize)]
pub struct StatsFile {
    /// The stats verdict.
    #[serde(default)]
    pub valid: Verdict,
    /// Counts over every operation.
    #[serde(flatten)]
    pub all: Counts,
    /// Counts per operation name.
    #[serde(default)]
    pub by_f: BTreeMap<String, Counts>,
}

/// `availability` in results.json.
#[derive(Debug, Default, Deserialize)]
pub struct AvailabilityFile {
    /// The availability verdict.
    #[serde(default)]
    pub valid: Verdict,
    /// Ok completions over invocations.
    #[serde(default)]
    pub ok_fraction: Option<f64>,
}

/// `exceptions` in results.json.
#[derive(Debug, Default, Deserialize)]
pub struct ExceptionsFile {
    /// How many there were.
    #[serde(default)]
    pub count: u64,
    /// The first hundred.
    #[serde(default)]
    pub exceptions: Vec<ExceptionLine>,
}

/// One client exception.
#[derive(Debug, Clone, Deserialize)]
pub struct ExceptionLine {
    /// History index of the info completion.
    pub index: usize,
    /// Operation name.
    #[serde(default)]
    pub f: String,
    /// Node addressed.
    #[serde(default)]
    pub node: String,
    /// Client.
    #[serde(default)]
    pub client: String,
    /// What happened.
    #[serde(default)]
    pub message: String,
}

/// One problem with a node's stdout.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeFaultLine {
    /// The node.
    #[serde(default)]
    pub node: String,
    /// Nanoseconds since the test start.
    #[serde(default)]
    pub time: u64,
    /// The offending line.
    #[serde(default)]
    pub line: String,
    /// What is wrong with it.
    #[serde(default)]
    pub problem: String,
    /// True when the node's output was ignored from then on.
    #[serde(default)]
    pub fatal: bool,
}

/// `test` in results.json: the plan.
#[derive(Debug, Default, Deserialize)]
pub struct TestFile {
    /// Workload name.
    #[serde(default)]
    pub workload: String,
    /// The node binary.
    #[serde(default)]
    pub bin: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Node ids.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Worker threads.
    #[serde(default)]
    pub concurrency: u64,
    /// Seconds of the main phase.
    #[serde(default)]
    pub time_limit: u64,
    /// Operations per second.
    #[serde(default)]
    pub rate: f64,
    /// Mean latency in ms.
    #[serde(default)]
    pub latency: u64,
    /// Faults injected.
    #[serde(default)]
    pub nemesis: Vec<String>,
    /// The seed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Client invocations.
    #[serde(default)]
    pub invoke_count: u64,
}

/// `node_memory` entries.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct NodeMemory {
    /// Peak resident set in KiB, when it could be read.
    #[serde(default)]
    pub peak_rss_kib: Option<u64>,
}

/// One finding of a checker.
#[derive(Debug, Clone, Deserialize)]
pub struct FindingLine {
    /// `workload`, `stats` or `availability`.
    #[serde(default)]
    pub checker: String,
    /// The rule's short name.
    #[serde(default)]
    pub rule: String,
    /// The story, in words.
    #[serde(default)]
    pub explanation: String,
    /// History indexes of the operations it names.
    #[serde(default)]
    pub ops: Vec<usize>,
    /// Only a note: does not change the verdict.
    #[serde(default)]
    pub note: bool,
}

/// `crash.json`.
#[derive(Debug, Default, Deserialize)]
pub struct CrashFile {
    /// `node-exit`, `setup`, `bench` or `interrupted`.
    #[serde(default)]
    pub kind: String,
    /// What happened.
    #[serde(default)]
    pub message: String,
    /// The node concerned.
    #[serde(default)]
    pub node: Option<String>,
    /// Its exit status.
    #[serde(default)]
    pub exit_status: Option<String>,
    /// The last lines of its stderr.
    #[serde(default)]
    pub log_tail: Vec<String>,
    /// Bad node output seen before the crash.
    #[serde(default)]
    pub faults: Vec<NodeFaultLine>,
}

/// What a journal line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalKind {
    /// Handed to the network.
    Send,
    /// Delivered.
    Recv,
    /// Discarded by a partition.
    Drop,
}

/// One line of `messages.jsonl`.
#[derive(Debug, Deserialize)]
pub struct JournalEvent {
    /// Send, recv or drop.
    pub kind: JournalKind,
    /// Nanoseconds since the test start.
    pub time: u64,
    /// The network's message id.
    pub id: u64,
    /// Sender.
    pub src: String,
    /// Receiver.
    pub dest: String,
    /// The body, on send lines only, kept as text.
    #[serde(default)]
    pub body: Option<Box<RawValue>>,
}

/// One line of `nemesis.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct NemesisEvent {
    /// Nanoseconds since the test start.
    pub time: u64,
    /// `start-partition` or `stop-partition`.
    pub f: String,
    /// The partition, or null.
    #[serde(default)]
    pub value: Value,
}

/// Reads a run folder. Missing or broken files are listed in [`RunFiles::problems`]; the
/// rest of the report is still built.
pub fn load_run(dir: &Path, name: &str) -> RunFiles {
    let mut run = RunFiles {
        name: name.to_string(),
        ..RunFiles::default()
    };
    let results = dir.join("results.json");
    if results.is_file() {
        run.results = read_json(&results, &mut run.problems);
    }
    let crash = dir.join("crash.json");
    if crash.is_file() {
        run.crash = read_json(&crash, &mut run.problems);
    }
    if run.results.is_none() && run.crash.is_none() {
        run.problems
            .push("neither results.json nor crash.json is there: the run did not finish".into());
    }
    run.history = read_jsonl(&dir.join("history.jsonl"), usize::MAX, &mut run.problems);
    run.journal = read_jsonl(
        &dir.join("messages.jsonl"),
        MAX_JOURNAL_LINES,
        &mut run.problems,
    );
    run.nemesis = read_jsonl(&dir.join("nemesis.jsonl"), usize::MAX, &mut run.problems);
    if let Ok(entries) = std::fs::read_dir(dir.join("node-logs")) {
        run.node_logs = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        run.node_logs.sort_by(|a, b| natural_cmp(a, b));
    }
    run
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, problems: &mut Vec<String>) -> Option<T> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("{}: {e}", file_name(path)));
            return None;
        }
    };
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(format!("{}: {e}", file_name(path)));
            None
        }
    }
}

/// The most journal lines a report reads (about 300 000 messages): enough for any
/// challenge run, and a flood run's report stays quick to make. The page says when the
/// journal was longer.
pub const MAX_JOURNAL_LINES: usize = 600_000;

/// Reads a JSON-lines file, at most `max_lines` lines; lines that do not parse are
/// counted as one problem.
fn read_jsonl<T: for<'de> Deserialize<'de>>(
    path: &Path,
    max_lines: usize,
    problems: &mut Vec<String>,
) -> Vec<T> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            problems.push(format!("{}: {e}", file_name(path)));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    let mut bad = 0usize;
    let mut first_error = None;
    for line in BufReader::with_capacity(1 << 20, file).lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                problems.push(format!("{}: {e}", file_name(path)));
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        if out.len() + bad >= max_lines {
            problems.push(format!(
                "{} has more than {max_lines} lines: this report reads the first {max_lines}",
                file_name(path)
            ));
            break;
        }
        match serde_json::from_str(&line) {
            Ok(v) => out.push(v),
            Err(e) => {
                bad += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    if let Some(e) = first_error {
        problems.push(format!(
            "{}: {bad} line{} could not be read (first: {e})",
            file_name(path),
            if bad == 1 { "" } else { "s" }
        ));
    }
    out
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Orders ids the way people count: `n2` before `n10`, `c9` before `c10`, `n2.log`
/// before `n10.log` (runs of digits compare as numbers).
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for ((da, xa), (db, xb)) in ca.iter().zip(&cb) {
        let ord = if *da && *db {
            let (ta, tb) = (xa.trim_start_matches('0'), xb.trim_start_matches('0'));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            xa.cmp(xb)
        };
        if ord.is_ne() {
            return ord;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_read_all_three_shapes() {
        let v: Vec<Verdict> = serde_json::from_str(r#"[true, false, "unknown"]"#).unwrap();
        assert_eq!(v, vec![Verdict::Valid, Verdict::Invalid, Verdict::Unknown]);
    }

    #[test]
    fn results_with_missing_fields_still_parse() {
        let r: ResultsFile = serde_json::from_str(r#"{"valid": false}"#).unwrap();
        assert_eq!(r.valid, Verdict::Invalid);
        assert!(r.findings.is_empty());
        assert_eq!(r.net.servers.msg_count, 0);
    }

    #[test]
    fn quantile_maps_are_sorted_by_quantile() {
        let r: ResultsFile = serde_json::from_str(
            r#"{"workload": {"valid": true, "stable_latencies": {"1": 300, "0": 0, "0.5": 250}}}"#,
        )
        .unwrap();
        assert_eq!(
            r.workload_quantiles("stable_latencies"),
            vec![(0.0, 0.0), (0.5, 250.0), (1.0, 300.0)]
        );
        assert_eq!(r.workload_valid(), Verdict::Valid);
    }

    #[test]
    fn ids_sort_naturally() {
        let mut ids = vec!["n10", "n2", "c1", "n1", "lin-kv", "n10.log", "n2.log", ""];
        ids.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            ids,
            vec!["", "c1", "lin-kv", "n1", "n2", "n2.log", "n10", "n10.log"]
        );
    }

    #[test]
    fn a_run_folder_with_broken_files_is_read_as_far_as_it_goes() {
        let dir = std::env::temp_dir().join(format!("glomers-inputs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("node-logs")).unwrap();
        std::fs::write(
            dir.join("crash.json"),
            r#"{"kind":"node-exit","message":"boom"}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("history.jsonl"),
            "{\"index\":0,\"time\":5,\"process\":0,\"type\":\"invoke\",\"f\":\"echo\",\"value\":\"x\"}\nnot json\n",
        )
        .unwrap();
        std::fs::write(dir.join("node-logs/n10.log"), "").unwrap();
        std::fs::write(dir.join("node-logs/n2.log"), "").unwrap();
        let run = load_run(&dir, "echo/x");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(run.crash.as_ref().map(|c| c.message.as_str()), Some("boom"));
        assert!(run.results.is_none());
        assert_eq!(run.history.len(), 1);
        assert_eq!(run.node_logs, vec!["n2.log", "n10.log"]);
        assert!(run
            .problems
            .iter()
            .any(|p| p.starts_with("history.jsonl: 1 line")));
        assert!(run.problems.iter().any(|p| p.starts_with("messages.jsonl")));
    }
}
