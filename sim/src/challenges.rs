//! The Gossip Glomers scorecard: runs every challenge command of the spec's §6 table with
//! one node binary and prints a row per command: verdict, servers msgs-per-op, stable
//! latency (median/max) or availability, and the challenge's own target.
//!
//! Each challenge may have a config preset; `--config <dir>/<preset>.toml` is passed to
//! the node (after `--`) only when that file exists. Exit 0 when every supported row is
//! valid, 1 otherwise (the numeric targets are shown, not enforced).

use crate::cli::{ChallengesArgs, Cli, Command};
use crate::plan::TestPlan;
use crate::runner::{run_test, RunOptions};
use crate::workload::lookup;
use clap::Parser;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A numeric target beyond validity.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Efficient broadcast: servers msgs-per-op, median and max stable latency (ms), each
    /// below its bound.
    Latency {
        /// Servers msgs-per-op must be below this.
        msgs_per_op: f64,
        /// Median stable latency (ms) must be below this.
        median_ms: f64,
        /// Max stable latency (ms) must be below this.
        max_ms: f64,
    },
    /// Efficient kafka (our own target: the challenge names no number): servers
    /// msgs-per-op at most this, availability at least that.
    Efficiency {
        /// Servers msgs-per-op must not exceed this.
        max_msgs_per_op: f64,
        /// The availability ok fraction must reach this.
        min_availability: f64,
    },
    /// Servers msgs-per-op at most this.
    MsgsPerOp {
        /// Servers msgs-per-op must not exceed this.
        max_msgs_per_op: f64,
    },
}

/// One challenge command.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// Row id, e.g. "3d" or "6b/2".
    pub id: &'static str,
    /// Selector used by `--only` (6b's two rows share "6b").
    pub group: &'static str,
    /// Title.
    pub title: &'static str,
    /// The Maelstrom flags (without --bin).
    pub flags: &'static str,
    /// Config preset name (file `<preset>.toml`).
    pub preset: &'static str,
    /// What the challenge asks for, in words.
    pub goal: &'static str,
    /// Numeric target, if any.
    pub target: Option<Target>,
    /// A row of the "beyond the challenges" section (run only with `--all`).
    pub beyond: bool,
}

/// Builds rows of the challenges (`beyond` false) or of the "beyond" section from
/// (id, group, title, flags, preset, goal, target).
fn row_maker(
    beyond: bool,
) -> impl Fn(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<Target>,
) -> Challenge {
    move |id, group, title, flags, preset, goal, target| Challenge {
        id,
        group,
        title,
        flags,
        preset,
        goal,
        target,
        beyond,
    }
}

/// The §6 table.
pub fn table() -> Vec<Challenge> {
    let c = row_maker(false);
    vec![
        c("1", "1", "Echo", "-w echo --node-count 1 --time-limit 10", "default", "valid", None),
        c("2", "2", "Unique IDs", "-w unique-ids --time-limit 30 --rate 1000 --node-count 3 --availability total --nemesis partition", "default", "valid, total availability", None),
        c("3a", "3a", "Single-node broadcast", "-w broadcast --node-count 1 --time-limit 20 --rate 10", "broadcast", "valid", None),
        c("3b", "3b", "Multi-node broadcast", "-w broadcast --node-count 5 --time-limit 20 --rate 10", "broadcast", "valid", None),
        c("3c", "3c", "Fault-tolerant broadcast", "-w broadcast --node-count 5 --time-limit 20 --rate 10 --nemesis partition", "broadcast", "valid", None),
        c("3d", "3d", "Efficient broadcast I", "-w broadcast --node-count 25 --time-limit 20 --rate 100 --latency 100", "broadcast-3d", "msgs/op < 30, median < 400 ms, max < 600 ms",
          Some(Target::Latency { msgs_per_op: 30.0, median_ms: 400.0, max_ms: 600.0 })),
        c("3e", "3e", "Efficient broadcast II", "-w broadcast --node-count 25 --time-limit 20 --rate 100 --latency 100", "broadcast-3e", "msgs/op < 20, median < 1 s, max < 2 s",
          Some(Target::Latency { msgs_per_op: 20.0, median_ms: 1000.0, max_ms: 2000.0 })),
        c("4", "4", "Grow-only counter", "-w g-counter --node-count 3 --rate 100 --time-limit 20 --nemesis partition", "g-counter", "valid", None),
        c("5a", "5a", "Single-node kafka", "-w kafka --node-count 1 --concurrency 2n --time-limit 20 --rate 1000", "kafka", "valid", None),
        c("5b", "5b", "Multi-node kafka", "-w kafka --node-count 2 --concurrency 2n --time-limit 20 --rate 1000", "kafka", "valid", None),
        c("5c", "5c", "Efficient kafka", "-w kafka --node-count 2 --concurrency 2n --time-limit 20 --rate 1000", "kafka-5c", "valid; ours: msgs/op <= 1.0, availability >= 0.999",
          Some(Target::Efficiency { max_msgs_per_op: 1.0, min_availability: 0.999 })),
        c("6a", "6a", "Single-node txn", "-w txn-rw-register --node-count 1 --time-limit 20 --rate 1000 --concurrency 2n --consistency-models read-uncommitted --availability total", "txn", "valid, total availability", None),
        c("6b/1", "6b", "Read uncommitted", "-w txn-rw-register --node-count 2 --concurrency 2n --time-limit 20 --rate 1000 --consistency-models read-uncommitted", "txn", "valid", None),
        c("6b/2", "6b", "Read uncommitted, partitions", "-w txn-rw-register --node-count 2 --concurrency 2n --time-limit 20 --rate 1000 --consistency-models read-uncommitted --availability total --nemesis partition", "txn", "valid, total availability", None),
        c("6c", "6c", "Read committed", "-w txn-rw-register --node-count 2 --concurrency 2n --time-limit 20 --rate 1000 --consistency-models read-committed --availability total --nemesis partition", "txn", "valid, total availability", None),
    ]
}

/// The "beyond the challenges" section: Maelstrom's other workloads, with the commands
/// and targets of our issue 12 (run only with `--all`).
pub fn beyond() -> Vec<Challenge> {
    let c = row_maker(true);
    vec![
        c("g-set", "g-set", "Grow-only set", "-w g-set --node-count 5 --time-limit 20 --rate 10 --nemesis partition", "g-set", "valid, msgs/op <= 2",
          Some(Target::MsgsPerOp { max_msgs_per_op: 2.0 })),
        c("pn-counter", "pn-counter", "PN-counter", "-w pn-counter --node-count 3 --rate 100 --time-limit 20 --nemesis partition", "pn-counter", "valid, exact final reads", None),
        c("lin-kv/3", "lin-kv", "Linearizable kv, 3 nodes", "-w lin-kv --node-count 3 --concurrency 2n --time-limit 30 --rate 100 --nemesis partition", "lin-kv", "valid (linearizable)", None),
        c("lin-kv/5", "lin-kv", "Linearizable kv, 5 nodes", "-w lin-kv --node-count 5 --concurrency 4n --time-limit 30 --rate 100 --nemesis partition", "lin-kv", "valid (linearizable)", None),
        c("txn-rw", "txn", "Strict-serializable txn-rw-register", "-w txn-rw-register --node-count 3 --concurrency 2n --time-limit 20 --rate 100 --consistency-models strict-serializable --nemesis partition", "txn-rw-register", "valid", None),
        c("txn-la", "txn", "Strict-serializable txn-list-append", "-w txn-list-append --node-count 3 --concurrency 2n --time-limit 20 --rate 100 --consistency-models strict-serializable --nemesis partition", "txn-list-append", "valid", None),
    ]
}

/// Finds the directory holding `config/` by walking up from `start`.
pub fn find_config_dir(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join("config"))
        .find(|c| c.is_dir())
}

/// One scorecard row.
#[derive(Debug, Clone)]
pub struct Row {
    /// Challenge.
    pub challenge: Challenge,
    /// "valid", "INVALID", "unknown", "CRASH", "not supported yet", "error".
    pub verdict: String,
    /// Counts toward the exit code as a failure.
    pub failed: bool,
    /// Servers msgs-per-op.
    pub msgs_per_op: Option<f64>,
    /// Median and max stable latency in ms.
    pub latency: Option<(f64, f64)>,
    /// Availability ok fraction.
    pub ok_fraction: Option<f64>,
    /// Target met? (None when there is no numeric target or no numbers.)
    pub target_met: Option<bool>,
    /// Where the results are.
    pub dir: Option<PathBuf>,
}

impl Row {
    /// Prints `message` on stderr and marks the row as a failed "error".
    fn error(mut self, message: String) -> Row {
        eprintln!("{message}");
        self.verdict = "error".into();
        self.failed = true;
        self
    }
}

/// Reads the figures of a row out of results.json.
pub fn figures(results: &Value) -> (Option<f64>, Option<(f64, f64)>, Option<f64>) {
    let mpo = results["net"]["servers"]["msgs_per_op"].as_f64();
    let l = &results["workload"]["stable_latencies"];
    let lat = match (l["0.5"].as_f64(), l["1"].as_f64()) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    let okf = results["availability"]["ok_fraction"].as_f64();
    (mpo, lat, okf)
}

/// Whether the figures (msgs-per-op, median/max latency, availability) meet a target;
/// `None` when a figure the target needs is missing.
pub fn meets(
    t: &Target,
    mpo: Option<f64>,
    lat: Option<(f64, f64)>,
    ok_fraction: Option<f64>,
) -> Option<bool> {
    let mpo = mpo?;
    match *t {
        Target::Latency {
            msgs_per_op,
            median_ms,
            max_ms,
        } => {
            let (med, max) = lat?;
            Some(mpo < msgs_per_op && med < median_ms && max < max_ms)
        }
        Target::Efficiency {
            max_msgs_per_op,
            min_availability,
        } => Some(mpo <= max_msgs_per_op && ok_fraction? >= min_availability),
        Target::MsgsPerOp { max_msgs_per_op } => Some(mpo <= max_msgs_per_op),
    }
}

/// Runs the scorecard; returns the exit code.
pub fn run(args: &ChallengesArgs) -> i32 {
    let exe = std::env::current_exe().ok();
    let exe_dir = exe.as_deref().and_then(Path::parent).map(Path::to_path_buf);
    let bin = match (&args.bin, &exe_dir) {
        (Some(b), _) => b.clone(),
        (None, Some(d)) => d.join("glomers-host"),
        (None, None) => {
            eprintln!("glomers-sim: cannot locate this executable; pass --bin");
            return 254;
        }
    };
    if !args.deterministic && !bin.is_file() {
        eprintln!(
            "glomers-sim: node binary {} not found. Build it with `cargo build --release -p \
             glomers-host`, or pass --bin PATH.",
            bin.display()
        );
        return 254;
    }
    let config_dir = args
        .config_dir
        .clone()
        .or_else(|| exe_dir.as_deref().and_then(find_config_dir));
    let only: Option<Vec<String>> = args
        .only
        .as_ref()
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    let extra = if args.all { beyond() } else { Vec::new() };
    let chosen: Vec<Challenge> = table()
        .into_iter()
        .chain(extra)
        .filter(|c| {
            only.as_ref()
                .is_none_or(|o| o.iter().any(|x| x == c.group || x == c.id))
        })
        .collect();
    if chosen.is_empty() {
        eprintln!("glomers-sim: --only matched no challenge (ids: 1 2 3a 3b 3c 3d 3e 4 5a 5b 5c 6a 6b 6c; with --all also g-set pn-counter lin-kv txn)");
        return 254;
    }
    let subject = if args.deterministic {
        "the linked host on the deterministic driver".to_string()
    } else {
        bin.display().to_string()
    };
    println!(
        "Gossip Glomers scorecard for {} ({} challenge command{})",
        subject,
        chosen.len(),
        if chosen.len() == 1 { "" } else { "s" }
    );
    match &config_dir {
        Some(d) => println!("Config presets from {}", d.display()),
        None => println!("No config/ directory found: nodes run without --config"),
    }
    let mut rows = Vec::new();
    for (k, ch) in chosen.into_iter().enumerate() {
        let seed = args.seed.map(|s| crate::seed::derive(s, ch.id, 0));
        let row = run_one(ch, &bin, config_dir.as_deref(), seed, args);
        println!("  [{}] {}", k + 1, row_line(&row));
        rows.push(row);
        if crate::interrupt::requested() {
            println!("  interrupted: skipping the remaining challenges");
            break;
        }
    }
    println!();
    print_table(&rows);
    let failed = rows.iter().filter(|r| r.failed).count();
    let supported = rows
        .iter()
        .filter(|r| r.verdict != "not supported yet")
        .count();
    println!();
    let summary = if failed == 0 {
        format!("All {supported} supported challenge commands are valid.")
    } else {
        format!("{failed} of {supported} supported challenge commands did not pass; see the results directories above.")
    };
    println!("{summary}");
    write_scorecard_page(&args.store, &bin, &rows, &summary);
    i32::from(failed != 0)
}

/// Writes `<store>/scorecard.html`: the table above, each row linked to its report.
fn write_scorecard_page(store: &Path, bin: &Path, rows: &[Row], summary: &str) {
    use crate::report_html::scorecard::{self, ScoreRow};
    let html_rows: Vec<ScoreRow> = rows
        .iter()
        .map(|r| {
            let mut cells = cells(r).to_vec();
            cells.pop(); // the results folder becomes the link
            ScoreRow {
                cells,
                run: r
                    .dir
                    .as_deref()
                    .map(|d| crate::report_html::run_name(d, store)),
                class: match r.verdict.as_str() {
                    "valid" => "valid",
                    "INVALID" | "error" => "invalid",
                    "CRASH" => "crash",
                    _ => "unknown",
                },
            }
        })
        .collect();
    let headers = [
        "challenge",
        "verdict",
        "msgs/op",
        "latency med/max or avail",
        "target",
    ];
    let title = format!("for {}", bin.display());
    match scorecard::write(store, &title, &headers, &html_rows, summary) {
        Ok(path) => println!("Scorecard: {}", path.display()),
        Err(e) => eprintln!("glomers-sim: could not write scorecard.html: {e}"),
    }
}

fn run_one(
    ch: Challenge,
    bin: &Path,
    config_dir: Option<&Path>,
    seed: Option<u64>,
    args: &ChallengesArgs,
) -> Row {
    let mut row = Row {
        challenge: ch.clone(),
        verdict: String::new(),
        failed: false,
        msgs_per_op: None,
        latency: None,
        ok_fraction: None,
        target_met: None,
        dir: None,
    };
    let mut argv: Vec<String> = vec!["glomers-sim".into(), "test".into()];
    argv.extend(ch.flags.split_whitespace().map(String::from));
    argv.push("--bin".into());
    argv.push(bin.display().to_string());
    argv.push("--store".into());
    argv.push(args.store.display().to_string());
    argv.push("--recovery-time".into());
    argv.push(args.recovery_time.to_string());
    if let Some(s) = seed {
        argv.push("--seed".into());
        argv.push(s.to_string());
    }
    if let Some(d) = config_dir {
        let preset = d.join(format!("{}.toml", ch.preset));
        if preset.is_file() {
            argv.push("--".into());
            argv.push("--config".into());
            argv.push(preset.display().to_string());
        }
    }
    let test_args = match parse_test_args(&argv) {
        Ok(t) => t,
        Err(e) => return row.error(format!("glomers-sim: challenge {}: {e}", ch.id)),
    };
    let workload = match lookup(&test_args.workload) {
        Ok(w) => w,
        Err(e) => return row.error(e.to_string()),
    };
    let plan = match TestPlan::from_args(&test_args).and_then(|p| {
        workload
            .validate(&p)
            .map(|()| p)
            .map_err(crate::plan::PlanError)
    }) {
        Ok(p) => p,
        Err(e) => return row.error(format!("glomers-sim: challenge {}: {e}", ch.id)),
    };
    eprintln!(
        "glomers-sim: challenge {} ({}): {}",
        ch.id, ch.title, ch.flags
    );
    let out = if args.deterministic {
        crate::deterministic::store::run_in_process(&plan, workload.as_ref(), false)
    } else {
        run_test(
            &plan,
            workload.as_ref(),
            RunOptions {
                report: false,
                progress: true,
            },
        )
    };
    row.dir = out.dir.clone();
    match (&out.results, &out.crash) {
        (Some(r), _) => {
            let (mpo, lat, okf) = figures(r);
            row.msgs_per_op = mpo;
            row.latency = lat;
            row.ok_fraction = okf;
            row.target_met = ch.target.as_ref().and_then(|t| meets(t, mpo, lat, okf));
            row.verdict = match out.exit_code {
                0 => "valid",
                1 => "INVALID",
                _ => "unknown",
            }
            .into();
            row.failed = out.exit_code != 0;
        }
        (None, Some(c)) => {
            eprintln!("glomers-sim: challenge {} crashed: {}", ch.id, c.message);
            row.verdict = "CRASH".into();
            row.failed = true;
        }
        (None, None) => {
            row.verdict = "error".into();
            row.failed = true;
        }
    }
    row
}

/// Parses a `glomers-sim test ...` argument vector.
pub fn parse_test_args(argv: &[String]) -> Result<crate::cli::TestArgs, String> {
    match Cli::try_parse_from(argv) {
        Ok(Cli {
            command: Command::Test(t),
        }) => Ok(t),
        Ok(_) => Err("not a test command".into()),
        Err(e) => Err(format!("bad flags: {e}")),
    }
}

fn cells(r: &Row) -> [String; 6] {
    let lat = match (r.latency, r.ok_fraction) {
        (Some((a, b)), _) => format!("{a:.0} / {b:.0} ms"),
        // Enough digits to tell 0.999 from 0.9985.
        (None, Some(f)) => format!("avail {:.2}%", f * 100.0),
        _ => "-".into(),
    };
    let mpo = match r.msgs_per_op {
        Some(m) if m < 10.0 => format!("{m:.2}"),
        Some(m) => format!("{m:.1}"),
        None => "-".into(),
    };
    let target = match r.target_met {
        Some(true) => format!("{} (met)", r.challenge.goal),
        Some(false) => format!("{} (MISSED)", r.challenge.goal),
        None => r.challenge.goal.to_string(),
    };
    [
        format!("{} {}", r.challenge.id, r.challenge.title),
        r.verdict.clone(),
        mpo,
        lat,
        target,
        r.dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
    ]
}

fn row_line(r: &Row) -> String {
    let c = cells(r);
    format!(
        "{}: {} | msgs/op {} | {} | target: {}",
        c[0], c[1], c[2], c[3], c[4]
    )
}

fn print_table(rows: &[Row]) {
    let header = [
        "challenge",
        "verdict",
        "msgs/op",
        "latency med/max or avail",
        "target",
        "results",
    ];
    let all: Vec<[String; 6]> = rows.iter().map(cells).collect();
    let mut w = header.map(|h| h.chars().count());
    for c in &all {
        for i in 0..6 {
            w[i] = w[i].max(c[i].chars().count());
        }
    }
    let line = |c: [&str; 6]| {
        let mut s = String::new();
        for i in 0..6 {
            let pad = w[i] - c[i].chars().count();
            s.push_str(c[i]);
            if i < 5 {
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s
    };
    println!("{}", line(header));
    println!(
        "{}",
        line(w.map(|n| "-".repeat(n)).each_ref().map(String::as_str))
    );
    for (r, c) in rows.iter().zip(&all) {
        if r.challenge.beyond && r.challenge.id == first_beyond(rows) {
            println!("beyond the challenges (Maelstrom's other workloads)");
        }
        println!("{}", line(c.each_ref().map(String::as_str)));
    }
}

/// The id of the first row of the "beyond the challenges" section, if any.
fn first_beyond(rows: &[Row]) -> &'static str {
    rows.iter()
        .find(|r| r.challenge.beyond)
        .map_or("", |r| r.challenge.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command line of a challenge row, run against `/bin/true`.
    fn test_argv(c: &Challenge) -> Vec<String> {
        ["glomers-sim", "test", "--bin", "/bin/true"]
            .into_iter()
            .map(String::from)
            .chain(c.flags.split_whitespace().map(String::from))
            .collect()
    }

    #[test]
    fn table_covers_every_challenge_command() {
        let ids: Vec<&str> = table().iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            vec![
                "1", "2", "3a", "3b", "3c", "3d", "3e", "4", "5a", "5b", "5c", "6a", "6b/1",
                "6b/2", "6c"
            ]
        );
        for c in table() {
            let argv = test_argv(&c);
            assert!(Cli::try_parse_from(&argv).is_ok(), "{}", c.id);
        }
    }

    #[test]
    fn targets_need_all_three_numbers() {
        let t = Target::Latency {
            msgs_per_op: 30.0,
            median_ms: 400.0,
            max_ms: 600.0,
        };
        assert_eq!(
            meets(&t, Some(20.0), Some((300.0, 500.0)), None),
            Some(true)
        );
        assert_eq!(
            meets(&t, Some(31.0), Some((300.0, 500.0)), None),
            Some(false)
        );
        assert_eq!(
            meets(&t, Some(20.0), Some((300.0, 700.0)), None),
            Some(false)
        );
        assert_eq!(meets(&t, None, Some((300.0, 500.0)), None), None);
    }

    #[test]
    fn kafka_efficiency_needs_msgs_per_op_and_availability() {
        let five_c = table().into_iter().find(|c| c.id == "5c").unwrap();
        let t = five_c.target.unwrap();
        assert_eq!(meets(&t, Some(1.0), None, Some(0.9995)), Some(true));
        assert_eq!(meets(&t, Some(1.2), None, Some(0.9995)), Some(false));
        assert_eq!(meets(&t, Some(0.8), None, Some(0.99)), Some(false));
        assert_eq!(meets(&t, Some(0.8), None, None), None);
    }

    #[test]
    fn beyond_rows_are_separate_and_parse() {
        let ids: Vec<&str> = beyond().iter().map(|c| c.id).collect();
        assert_eq!(
            ids,
            vec![
                "g-set",
                "pn-counter",
                "lin-kv/3",
                "lin-kv/5",
                "txn-rw",
                "txn-la"
            ]
        );
        assert!(beyond().iter().all(|c| c.beyond));
        assert!(table().iter().all(|c| !c.beyond));
        for c in beyond() {
            let t = parse_test_args(&test_argv(&c)).unwrap();
            assert!(lookup(&t.workload).is_ok(), "{}: {}", c.id, t.workload);
        }
        let g_set = beyond().into_iter().find(|c| c.id == "g-set").unwrap();
        let t = g_set.target.unwrap();
        assert_eq!(meets(&t, Some(1.9), None, None), Some(true));
        assert_eq!(meets(&t, Some(2.1), None, None), Some(false));
    }

    #[test]
    fn part_two_rows_are_supported_workloads() {
        for c in table() {
            let argv = test_argv(&c);
            let t = parse_test_args(&argv).unwrap();
            assert!(lookup(&t.workload).is_ok(), "{}: {}", c.id, t.workload);
        }
    }

    #[test]
    fn figures_come_from_results_json() {
        let r = serde_json::json!({
            "net": {"servers": {"msgs_per_op": 12.5}},
            "workload": {"stable_latencies": {"0.5": 100, "1": 300}},
            "availability": {"ok_fraction": 0.9}
        });
        assert_eq!(figures(&r), (Some(12.5), Some((100.0, 300.0)), Some(0.9)));
    }
}
