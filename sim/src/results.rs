//! Analysis and result files: `results.json` shaped like Maelstrom's `results.edn` (in
//! snake_case JSON), `history.jsonl`, `nemesis.jsonl`, `crash.json` for crashed runs, and
//! the `<store>/latest` symlink.
//!
//! Additions to Maelstrom's shape (they never change the verdict): `test` (the plan),
//! `node_faults` (what nodes did wrong: bad output, §1.6, and the hostile behaviours the
//! bench survives; the first few of each kind per node) with `node_fault_counts` (all of
//! them, per node and kind), `node_memory`, `nemesis` (partition events),
//! `net.dropped_count` and `findings` (every checker's broken rules and notes, with the
//! history indexes of the operations they name).

use crate::net::{FaultCounts, GroupStats, NetStats, NodeFault};
use crate::plan::TestPlan;
use crate::recorder::{ExceptionRecord, NemesisEvent};
use crate::workload::Workload;
use glomers_simkit::checker::{availability, stats, CheckResult, Validity};
use glomers_simkit::history::History;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

/// Why a test crashed (exit 255).
#[derive(Debug, Clone, Serialize)]
pub struct Crash {
    /// `node-exit`, `setup` or `bench`.
    pub kind: String,
    /// What happened, in one sentence.
    pub message: String,
    /// The node concerned, if any.
    pub node: Option<String>,
    /// Its exit status, if it exited.
    pub exit_status: Option<String>,
    /// The last lines of its stderr.
    pub log_tail: Vec<String>,
    /// Node faults seen before the crash (the first few of each kind per node).
    pub faults: Vec<NodeFault>,
    /// How many faults of each kind each node caused.
    pub fault_counts: FaultCounts,
}

impl Crash {
    /// The bench itself failed.
    pub fn bench(message: String) -> Crash {
        Crash {
            kind: "bench".into(),
            message,
            node: None,
            exit_status: None,
            log_tail: Vec::new(),
            faults: Vec::new(),
            fault_counts: FaultCounts::new(),
        }
    }

    /// Setup (init or topology) failed.
    pub fn setup(message: String) -> Crash {
        Crash {
            kind: "setup".into(),
            ..Crash::bench(message)
        }
    }

    /// The user interrupted the run (Ctrl-C or SIGTERM).
    pub fn interrupted() -> Crash {
        Crash {
            kind: "interrupted".into(),
            ..Crash::bench(
                "interrupted (SIGINT/SIGTERM): the test was stopped and every node killed".into(),
            )
        }
    }

    /// A node exited before teardown.
    pub fn node_exit(node: &str, status: &ExitStatus, log_tail: Vec<String>) -> Crash {
        let st = crate::process::describe_status(status);
        Crash {
            kind: "node-exit".into(),
            message: format!(
                "node {node} crashed ({st}) before the end of the test; Maelstrom crashes the \
                 whole test in this case"
            ),
            node: Some(node.to_string()),
            exit_status: Some(st),
            log_tail,
            ..Crash::bench(String::new())
        }
    }
}

/// Everything the report needs.
pub struct Analysis {
    /// results.json.
    pub json: Value,
    /// 0, 1 or 2.
    pub exit_code: i32,
    /// Overall verdict.
    pub valid: Validity,
    /// Workload checker result.
    pub workload: CheckResult,
    /// Stats checker result.
    pub stats: CheckResult,
    /// Availability checker result.
    pub availability: CheckResult,
    /// Client exceptions.
    pub exceptions: Vec<ExceptionRecord>,
    /// Node faults (the first few of each kind per node).
    pub faults: Vec<NodeFault>,
    /// How many faults of each kind each node caused.
    pub fault_counts: FaultCounts,
    /// Network statistics.
    pub net: NetStats,
    /// Client invocations (final phase included).
    pub invokes: usize,
}

/// `<store>/<workload>/<UTC timestamp>/`, created.
pub fn make_run_dir(store: &Path, workload: &str) -> std::io::Result<PathBuf> {
    let base = store.join(workload).join(timestamp());
    let mut dir = base.clone();
    let mut k = 1;
    while dir.exists() {
        dir = PathBuf::from(format!("{}-{k}", base.display()));
        k += 1;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// `YYYYMMDDTHHMMSS.mmmZ` for now, in UTC.
pub fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_utc(now.as_secs(), now.subsec_millis())
}

/// Formats Unix seconds + millis as `YYYYMMDDTHHMMSS.mmmZ`.
pub fn format_utc(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn write_jsonl<T: Serialize>(path: &Path, items: &[T]) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    for it in items {
        serde_json::to_writer(&mut out, it)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Writes `history.jsonl` and `nemesis.jsonl`.
pub fn write_run_files(
    dir: &Path,
    history: &History,
    nemesis: &[NemesisEvent],
) -> std::io::Result<()> {
    write_jsonl(&dir.join("history.jsonl"), &history.ops)?;
    write_jsonl(&dir.join("nemesis.jsonl"), nemesis)
}

/// Writes `crash.json`.
pub fn write_crash(dir: &Path, crash: &Crash) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(crash)?;
    std::fs::write(dir.join("crash.json"), text)
}

/// Writes `results.json` and points `<store>/latest` at the run.
pub fn write_results(dir: &Path, store: &Path, json: &Value) -> std::io::Result<()> {
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(json)?,
    )?;
    link_latest(dir, store)
}

/// Points `<store>/latest` at `dir`.
pub fn link_latest(dir: &Path, store: &Path) -> std::io::Result<()> {
    let latest = store.join("latest");
    let target = dir.strip_prefix(store).unwrap_or(dir);
    let _ = std::fs::remove_file(&latest);
    std::os::unix::fs::symlink(target, &latest)
}

fn group(g: &GroupStats, invokes: usize, per_op: bool) -> Value {
    let mut v = json!({
        "send_count": g.send_count,
        "recv_count": g.recv_count,
        "msg_count": g.msg_count,
    });
    if per_op {
        v["msgs_per_op"] = if invokes > 0 {
            json!(g.msg_count as f64 / invokes as f64)
        } else {
            Value::Null
        };
    }
    v
}

fn with_valid(details: &Value, valid: Validity) -> Value {
    let mut m = match details {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        other => {
            let mut m = Map::new();
            m.insert("details".into(), other.clone());
            m
        }
    };
    m.entry("valid")
        .or_insert_with(|| serde_json::to_value(valid).unwrap_or(Value::Null));
    Value::Object(m)
}

/// Every checker's findings, each tagged with its checker, for results.json (the HTML
/// report tells their stories from there).
fn findings_json(checks: &[(&str, &CheckResult)]) -> Value {
    Value::Array(
        checks
            .iter()
            .flat_map(|(checker, r)| {
                r.findings.iter().map(move |f| {
                    let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
                    if let Value::Object(m) = &mut v {
                        m.insert("checker".into(), json!(checker));
                    }
                    v
                })
            })
            .collect(),
    )
}

/// Runs the checkers and composes results.json.
pub fn analyse(
    plan: &TestPlan,
    workload: &dyn Workload,
    history: &History,
    net: &NetStats,
    exceptions: &[ExceptionRecord],
    faults: &[NodeFault],
    nemesis: &[NemesisEvent],
) -> Analysis {
    let invokes = history.invoke_count();
    let wl = workload.check(history, plan);
    let stats = stats::check(history);
    let availability = availability::check(history, plan.availability);
    let valid = wl.valid.merge(stats.valid).merge(availability.valid);
    let exit_code = match valid {
        Validity::Valid => 0,
        Validity::Invalid => 1,
        Validity::Unknown => 2,
    };
    let json = json!({
        "valid": valid,
        "net": {
            "all": group(&net.all, invokes, true),
            "clients": group(&net.clients, invokes, false),
            "servers": group(&net.servers, invokes, true),
            "dropped_count": net.dropped,
            "valid": true,
        },
        "stats": with_valid(&stats.details, stats.valid),
        "availability": with_valid(&availability.details, availability.valid),
        "exceptions": {
            "valid": true,
            "count": exceptions.len(),
            "exceptions": exceptions.iter().take(100).collect::<Vec<_>>(),
        },
        "workload": with_valid(&wl.details, wl.valid),
        "node_faults": faults,
        "nemesis": nemesis,
        "findings": findings_json(&[("workload", &wl), ("stats", &stats), ("availability", &availability)]),
        "test": {
            "workload": workload.name(),
            "bin": plan.bin,
            "args": plan.bin_args,
            "nodes": plan.nodes,
            "concurrency": plan.concurrency,
            "time_limit": plan.time_limit.as_secs(),
            "rate": plan.rate,
            "latency": plan.latency.mean_ms,
            "latency_dist": format!("{:?}", plan.latency.dist).to_lowercase(),
            "nemesis": if plan.nemesis_partition { json!(["partition"]) } else { json!([]) },
            "nemesis_interval": plan.nemesis_interval.as_secs_f64(),
            "topology": format!("{:?}", plan.topology).to_lowercase(),
            "recovery_time": plan.recovery_time.as_secs_f64(),
            "seed": plan.seed,
            "invoke_count": invokes,
        },
    });
    Analysis {
        json,
        exit_code,
        valid,
        workload: wl,
        stats,
        availability,
        exceptions: exceptions.to_vec(),
        faults: faults.to_vec(),
        fault_counts: FaultCounts::new(),
        net: *net,
        invokes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps() {
        assert_eq!(format_utc(0, 0), "19700101T000000.000Z");
        assert_eq!(format_utc(951_782_400 + 3661, 7), "20000229T010101.007Z");
        assert_eq!(format_utc(1_700_000_000, 123), "20231114T221320.123Z");
    }

    #[test]
    fn msgs_per_op_divides_by_invocations() {
        let g = GroupStats {
            send_count: 30,
            recv_count: 28,
            msg_count: 30,
        };
        assert_eq!(group(&g, 10, true)["msgs_per_op"], json!(3.0));
        assert!(group(&g, 10, false).get("msgs_per_op").is_none());
        assert_eq!(group(&g, 0, true)["msgs_per_op"], Value::Null);
    }
}
