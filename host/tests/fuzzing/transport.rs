//! The two ways the fuzzer reaches a node:
//! - [`InProcess`]: the runtime's `Node` on a virtual clock, every call inside
//!   `catch_unwind`, every panic (contained by the runtime or not) recorded by a hook;
//! - [`Process`]: a real `glomers-host` over pipes, with threads writing its stdin and
//!   reading its stdout and stderr, its memory read from `/proc`.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use glomers_runtime::Node;

/// What the fuzzer needs from a node.
pub trait Transport {
    /// Hands the node one line (without newline).
    fn send(&mut self, line: &[u8]);
    /// Lets `by` pass (virtual time fires what is due; real time sleeps) and appends the
    /// lines the node wrote to `out`.
    fn pass(&mut self, by: Duration, out: &mut Vec<Vec<u8>>);
    /// Crashes so far: panics, or the process ending; described.
    fn crashes(&mut self) -> Vec<String>;
    /// Memory after the run, in bytes, and its peak, if known.
    fn memory(&mut self) -> (Option<u64>, Option<u64>);
    /// Ends the node the normal way (end of input) and says what went wrong, if anything.
    fn finish(&mut self) -> Result<(), String>;
}

thread_local! {
    /// Panics recorded on this thread while it runs node code.
    static PANICS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// True while this thread runs node code.
    static IN_NODE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

static HOOK: Once = Once::new();

/// Routes panics raised in node code (see [`InProcess`]) into a list instead of stderr;
/// other panics keep the default hook.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let captured = IN_NODE.get()
                && PANICS.with(|p| match p.try_borrow_mut() {
                    Ok(mut list) => {
                        list.push(info.to_string());
                        true
                    }
                    Err(_) => false,
                });
            if !captured {
                default(info);
            }
        }));
    });
}

/// A node in this process on a virtual clock.
pub struct InProcess {
    node: Option<Node>,
    now: Duration,
    escaped: Vec<String>,
}

impl InProcess {
    /// Wraps `node`; panics on this thread are recorded from now on.
    pub fn new(node: Node) -> InProcess {
        install_panic_hook();
        PANICS.with(|p| p.borrow_mut().clear());
        InProcess {
            node: Some(node),
            now: Duration::ZERO,
            escaped: Vec::new(),
        }
    }

    /// Runs `f` on the node, recording an escaped panic (after which the node is gone:
    /// its state can no longer be trusted).
    fn call(&mut self, f: impl FnOnce(&mut Node, Duration)) {
        let now = self.now;
        let Some(node) = self.node.as_mut() else {
            return;
        };
        IN_NODE.set(true);
        let result = catch_unwind(AssertUnwindSafe(|| f(node, now)));
        IN_NODE.set(false);
        if result.is_err() {
            let last = PANICS.with(|p| p.borrow().last().cloned());
            self.escaped.push(format!(
                "panic escaped the node: {}",
                last.unwrap_or_default()
            ));
            self.node = None;
        }
    }

    fn collect(&mut self, out: &mut Vec<Vec<u8>>) {
        if let Some(node) = self.node.as_mut() {
            let bytes = node.output();
            out.extend(
                bytes
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec),
            );
            node.clear_output();
        }
    }

    /// Drops the node, so a counting allocator can tell how much it held.
    pub fn drop_node(&mut self) {
        self.node = None;
    }
}

impl Transport for InProcess {
    fn send(&mut self, line: &[u8]) {
        self.call(|n, now| n.handle_line(now, line));
    }

    fn pass(&mut self, by: Duration, out: &mut Vec<Vec<u8>>) {
        self.now += by;
        self.call(|n, now| {
            if n.next_deadline().is_some_and(|d| d <= now) {
                n.handle_timeout(now);
            }
        });
        self.collect(out);
    }

    fn crashes(&mut self) -> Vec<String> {
        // Every panic went through the hook, contained by the runtime or not; the ones
        // that escaped are also reported by `finish`.
        PANICS.with(|p| p.borrow().iter().map(|m| format!("panic: {m}")).collect())
    }

    fn memory(&mut self) -> (Option<u64>, Option<u64>) {
        (None, None)
    }

    fn finish(&mut self) -> Result<(), String> {
        match self.node {
            Some(_) => Ok(()),
            None => Err(format!("the node was lost: {}", self.escaped.join("; "))),
        }
    }
}

/// What the stderr reader saw.
#[derive(Default)]
struct Stderr {
    lines: u64,
    panics: Vec<String>,
}

/// A `glomers-host` process.
pub struct Process {
    child: Child,
    stdin: Option<SyncSender<Vec<u8>>>,
    writer: Option<std::thread::JoinHandle<()>>,
    stdout: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    stderr: Arc<Mutex<Stderr>>,
    write_failed: Arc<AtomicU64>,
    exit: Option<String>,
    peak_kb: u64,
    sampled: Instant,
}

/// Bytes batched before a write to the node's stdin.
const CHUNK: usize = 64 * 1024;

/// A field of `/proc/PID/status` in kB (`VmRSS`, `VmHWM`).
pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

impl Process {
    /// Starts `command` with piped stdin, stdout and stderr.
    pub fn spawn(mut command: Command) -> std::io::Result<Process> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take().ok_or(std::io::ErrorKind::BrokenPipe)?;
        let stdout = child.stdout.take().ok_or(std::io::ErrorKind::BrokenPipe)?;
        let stderr = child.stderr.take().ok_or(std::io::ErrorKind::BrokenPipe)?;
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(64);
        let write_failed = Arc::new(AtomicU64::new(0));
        let failed = write_failed.clone();
        let writer = std::thread::spawn(move || {
            for chunk in rx {
                if stdin.write_all(&chunk).is_err() {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        });
        let (out_tx, out_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::with_capacity(1 << 16, stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if line.last() == Some(&b'\n') {
                            line.pop();
                        }
                        if out_tx.send(line).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let seen = Arc::new(Mutex::new(Stderr::default()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = Vec::new();
            while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                if let Ok(mut s) = sink.lock() {
                    s.lines += 1;
                    if line.windows(8).any(|w| w == b"panicked") && s.panics.len() < 8 {
                        s.panics
                            .push(String::from_utf8_lossy(&line).trim().to_string());
                    }
                }
                line.clear();
            }
        });
        Ok(Process {
            child,
            stdin: Some(tx),
            writer: Some(writer),
            stdout: out_rx,
            chunk: Vec::with_capacity(CHUNK * 2),
            stderr: seen,
            write_failed,
            exit: None,
            peak_kb: 0,
            sampled: Instant::now(),
        })
    }

    /// Lines the node wrote to stderr so far.
    pub fn stderr_lines(&self) -> u64 {
        self.stderr.lock().map(|s| s.lines).unwrap_or(0)
    }

    fn flush(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK * 2));
        if let Some(tx) = &self.stdin {
            if tx.send(chunk).is_err() {
                self.write_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn check_alive(&mut self) {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(format!("the process exited on its own ({status})"));
            }
        }
    }

    fn sample(&mut self) {
        if self.sampled.elapsed() >= Duration::from_millis(200) {
            self.sampled = Instant::now();
            if let Some(kb) = proc_status_kb(self.child.id(), "VmHWM") {
                self.peak_kb = self.peak_kb.max(kb);
            }
        }
    }
}

impl Transport for Process {
    fn send(&mut self, line: &[u8]) {
        self.chunk.extend_from_slice(line);
        self.chunk.push(b'\n');
        if self.chunk.len() >= CHUNK {
            self.flush();
        }
    }

    fn pass(&mut self, by: Duration, out: &mut Vec<Vec<u8>>) {
        self.flush();
        if !by.is_zero() {
            std::thread::sleep(by);
        }
        out.extend(self.stdout.try_iter());
        self.sample();
        self.check_alive();
    }

    fn crashes(&mut self) -> Vec<String> {
        self.check_alive();
        let mut all: Vec<String> = self.exit.iter().cloned().collect();
        if self.write_failed.load(Ordering::Relaxed) > 0 {
            all.push("writing to the process's stdin failed".into());
        }
        if let Ok(s) = self.stderr.lock() {
            all.extend(s.panics.iter().map(|p| format!("stderr: {p}")));
        }
        all
    }

    fn memory(&mut self) -> (Option<u64>, Option<u64>) {
        let pid = self.child.id();
        let rss = proc_status_kb(pid, "VmRSS").map(|kb| kb * 1024);
        let peak = proc_status_kb(pid, "VmHWM").map(|kb| kb.max(self.peak_kb) * 1024);
        (rss, peak)
    }

    fn finish(&mut self) -> Result<(), String> {
        self.flush();
        self.check_alive();
        if let Some(exit) = &self.exit {
            return Err(exit.clone());
        }
        self.stdin = None;
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // Keep draining stdout so the node can finish writing.
            let _ = self.stdout.try_iter().count();
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(format!("exit after end of input: {status}")),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err("did not exit within 20 s of the end of its input".into());
                }
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stdin = None;
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
