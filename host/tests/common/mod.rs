//! Shared harness of the host end-to-end tests (`mod common;` in each test file).
//!
//! - [`Host`]: one built `glomers-host` process driven over stdin/stdout, its output
//!   read by a thread into JSON values.
//! - [`run_bench`]: one `glomers-sim test` run against the built host, into a fresh
//!   temporary store, returning a [`BenchRun`] to read `results.json` from. When the
//!   bench is not built it is built first (with the profile of this test), and a bench
//!   that still cannot be found fails the test.
//!
//! Not every test file uses every helper, hence the module-wide `dead_code` allowance.
#![allow(dead_code)]

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The host binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_glomers-host");

/// How long [`Host::next_to`] waits for a message before failing the test.
pub const NEXT_TO_WITHIN: Duration = Duration::from_secs(5);

/// A `glomers-host` command with `args`, run in the temp directory with stdin and
/// stdout piped and `GLOMERS_CONFIG` removed (so the caller's environment cannot pick
/// the config); stderr is left for the caller to set.
pub fn host_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("GLOMERS_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .current_dir(std::env::temp_dir());
    cmd
}

/// A running host with a reader thread turning its stdout into JSON values (a line
/// that is not JSON panics that thread, which ends the stream). Dropping it closes
/// stdin and kills the process; [`Host::finish`] lets it exit by itself instead.
pub struct Host {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    /// Messages read by [`Host::next_to`] while looking for another destination, oldest
    /// first; the other readers return them before anything newer.
    held: RefCell<Vec<Value>>,
}

impl Host {
    /// Starts the host with the config `preset` (a file name such as `kafka.toml`) and
    /// the extra environment `envs`; stderr is discarded.
    pub fn start(preset: &str, envs: &[(&str, &str)]) -> Host {
        Host::spawn(&[preset], envs)
    }

    /// Starts the host with the command-line words `args` and the extra environment
    /// `envs`; stderr is discarded.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Host {
        let mut child = host_command(args)
            .envs(envs.iter().copied())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn glomers-host");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Host {
            stdin: child.stdin.take(),
            child,
            lines,
            held: RefCell::new(Vec::new()),
        }
    }

    /// Writes the message `{"src", "dest", "body"}` as one line.
    pub fn send(&mut self, src: &str, dest: &str, body: Value) {
        let line = json!({"src": src, "dest": dest, "body": body}).to_string();
        self.send_line(&line);
    }

    /// Writes `line` as it is, plus a newline.
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends `init` from client `c0` (msg_id 1) to `node` with the cluster `nodes`, and
    /// checks that the next message to `c0` is `init_ok`.
    pub fn init(&mut self, node: &str, nodes: &[&str]) {
        self.send(
            "c0",
            node,
            json!({"type": "init", "msg_id": 1, "node_id": node, "node_ids": nodes}),
        );
        assert_eq!(self.next_to("c0")["body"]["type"], "init_ok");
    }

    /// The next line written, within `wait`.
    pub fn next(&self, wait: Duration) -> Option<Value> {
        let mut held = self.held.borrow_mut();
        if !held.is_empty() {
            return Some(held.remove(0));
        }
        self.lines.recv_timeout(wait).ok()
    }

    /// Every line written within `wait`.
    pub fn drain(&self, wait: Duration) -> Vec<Value> {
        let mut out: Vec<Value> = self.held.borrow_mut().drain(..).collect();
        let end = Instant::now() + wait;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(v) => out.push(v),
                Err(_) => break,
            }
        }
        out
    }

    /// The next message the host writes to `dest` (others are kept for later calls).
    /// Fails after [`NEXT_TO_WITHIN`].
    pub fn next_to(&self, dest: &str) -> Value {
        let mut held = self.held.borrow_mut();
        if let Some(i) = held.iter().position(|m| m["dest"] == dest) {
            return held.remove(i);
        }
        let deadline = Instant::now() + NEXT_TO_WITHIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!("no message to {dest} within {NEXT_TO_WITHIN:?}; others: {held:?}")
            });
            if m["dest"] == dest {
                return m;
            }
            held.push(m);
        }
    }

    /// Closes stdin and waits for the host to exit by itself.
    pub fn finish(mut self) -> ExitStatus {
        drop(self.stdin.take());
        self.child.wait().unwrap()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static BUILD_BENCH: Mutex<()> = Mutex::new(());

/// The bench binary next to the host binary, built first (with the same profile) when it
/// is missing. Panics, saying how to build it, when that fails.
pub fn bench() -> PathBuf {
    let host = Path::new(BIN);
    let here = host.with_file_name("glomers-sim");
    let _building = BUILD_BENCH.lock().unwrap_or_else(|p| p.into_inner());
    if here.is_file() {
        return here;
    }
    let release = host.parent().and_then(Path::file_name) == Some("release".as_ref());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = Command::new(cargo);
    build.args(["build", "-p", "glomers-sim", "--bin", "glomers-sim"]);
    if release {
        build.arg("--release");
    }
    let status = build.current_dir(env!("CARGO_MANIFEST_DIR")).status();
    assert!(
        status.is_ok_and(|s| s.success()) && here.is_file(),
        "glomers-sim is not built and building it failed; run `cargo build -p glomers-sim{}` \
         (expected at {})",
        if release { " --release" } else { "" },
        here.display()
    );
    here
}

static ONE_BENCH: Mutex<()> = Mutex::new(());
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// While the returned guard lives, other callers in this test binary wait: for tests
/// whose bench runs are heavy enough to disturb each other.
pub fn one_bench_at_a_time() -> MutexGuard<'static, ()> {
    ONE_BENCH.lock().unwrap_or_else(|p| p.into_inner())
}

/// A finished `glomers-sim test` run.
pub struct BenchRun {
    /// The name the test gave the run, used in messages.
    pub label: String,
    /// The bench's exit code (0: the run is valid).
    pub code: Option<i32>,
    /// What the bench printed on stdout (its report).
    pub report: String,
    /// What the bench printed on stderr.
    pub errors: String,
    /// The store the run wrote into (a fresh temporary directory).
    pub store: PathBuf,
}

/// Runs `glomers-sim test --bin <host> <args> --store <fresh temp dir>` with the extra
/// environment `envs` (and `GLOMERS_CONFIG` removed), in the temp directory.
pub fn run_bench(label: &str, args: &[&str], envs: &[(&str, &str)]) -> BenchRun {
    let sim = bench();
    let tag: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let store = std::env::temp_dir().join(format!(
        "glomers-e2e-{tag}-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::SeqCst)
    ));
    let out = Command::new(&sim)
        .args(["test", "--bin", BIN])
        .args(args)
        .arg("--store")
        .arg(&store)
        .envs(envs.iter().copied())
        .env_remove("GLOMERS_CONFIG")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("spawn glomers-sim");
    BenchRun {
        label: label.to_string(),
        code: out.status.code(),
        report: String::from_utf8_lossy(&out.stdout).into_owned(),
        errors: String::from_utf8_lossy(&out.stderr).into_owned(),
        store,
    }
}

impl BenchRun {
    /// The run's results.json; fails the test (showing the bench's output) if there is
    /// none.
    pub fn results(&self) -> Value {
        let path = find_results(&self.store).unwrap_or_else(|| {
            panic!(
                "{}: no results.json under {}\n{}\n{}",
                self.label,
                self.store.display(),
                self.report,
                self.errors
            )
        });
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// The run's results.json, after checking the bench exited with 0 (its verdict that
    /// the run is valid).
    pub fn valid_results(&self) -> Value {
        let results = self.results();
        assert_eq!(
            self.code,
            Some(0),
            "{}: the bench says the run is not valid\n{}",
            self.label,
            self.report
        );
        results
    }

    /// Deletes the store (call it once the checks passed; a failing test leaves it).
    pub fn remove_store(self) {
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// The first `results.json` anywhere under `dir`.
pub fn find_results(dir: &Path) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_results(&path) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == "results.json") {
            return Some(path);
        }
    }
    None
}

/// `net.servers.msgs_per_op` of a results.json, or NaN when absent.
pub fn servers_msgs_per_op(results: &Value) -> f64 {
    results["net"]["servers"]["msgs_per_op"]
        .as_f64()
        .unwrap_or(f64::NAN)
}
