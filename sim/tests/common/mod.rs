//! The harness shared by the end-to-end test files: locating the test nodes in
//! `tests/nodes/`, running the built `glomers-sim` binary in a throw-away store and
//! reading what the run left there.

// Each test binary includes this module and uses a different part of it.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The path of the test node `name` in `tests/nodes/`.
pub fn node(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/nodes")
        .join(name)
        .display()
        .to_string()
}

/// One finished `glomers-sim` run.
pub struct Run {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
    /// The run's directory in the store (`latest`, or the store itself if absent).
    pub dir: PathBuf,
    /// Wall time of the run.
    pub elapsed: std::time::Duration,
    _store: TempStore,
}

impl Run {
    /// The JSON file `file` of the run.
    pub fn json(&self, file: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join(file)).unwrap()).unwrap()
    }

    /// The run's results.json.
    pub fn results(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.join("results.json")).unwrap_or_else(|e| {
            panic!(
                "no results.json in {}: {e}\n{}",
                self.dir.display(),
                self.stdout
            )
        });
        serde_json::from_str(&text).unwrap()
    }

    /// Every line of the JSON-lines file `file` of the run.
    pub fn jsonl(&self, file: &str) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join(file))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// A store directory that is removed when the run is dropped.
struct TempStore(PathBuf);

impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `glomers-sim BEFORE… --store STORE AFTER…` in a fresh store named after
/// `tag`, prints its stdout and the last `tail_lines` lines of its stderr, and keeps
/// the store until the returned run is dropped.
pub fn run_sim(tag: &str, before: &[&str], after: &[&str], tail_lines: usize) -> Run {
    run_sim_env(tag, before, after, tail_lines, &[])
}

/// A fresh, unused store directory named after `tag`.
pub fn fresh_store(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ))
}

/// [`run_sim`] with extra environment variables for the bench (and so its nodes).
pub fn run_sim_env(
    tag: &str,
    before: &[&str],
    after: &[&str],
    tail_lines: usize,
    envs: &[(&str, &str)],
) -> Run {
    let store = fresh_store(tag);
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_glomers-sim"))
        .args(before)
        .arg("--store")
        .arg(&store)
        .args(after)
        .envs(envs.iter().copied())
        .output()
        .expect("run glomers-sim");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!(
        "--- stdout\n{stdout}\n--- stderr (tail)\n{}",
        tail(&stderr, tail_lines)
    );
    finished(
        out.status.code().unwrap_or(-1),
        stdout,
        stderr,
        elapsed,
        store,
    )
}

/// A [`Run`] over the store `store` that a finished bench left.
pub fn finished(
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: std::time::Duration,
    store: PathBuf,
) -> Run {
    let dir = std::fs::read_link(store.join("latest"))
        .map(|t| store.join(t))
        .unwrap_or_else(|_| store.clone());
    Run {
        code,
        stdout,
        stderr,
        dir,
        elapsed,
        _store: TempStore(store),
    }
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
