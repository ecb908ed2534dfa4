//! Node processes: spawn (working directory = the system temp dir, environment inherited,
//! extra words as arguments), one stdin writer, one stdout reader and one stderr logger
//! thread per node, exit watching and teardown.
//!
//! Each node runs in its own process group and gets `PR_SET_PDEATHSIG = SIGKILL`, so a
//! wrapper script's children die with it at teardown and nothing survives a crashed bench
//! (Maelstrom kills only the direct child; an orphan can survive it). Descendants that
//! left the group are found and killed too ([`reap`]).
//!
//! Hostile output is bounded ([`lines`]): a stdout line may be at most
//! [`MAX_LINE_BYTES`]; a longer one is discarded and reported with its size (Maelstrom
//! has no limit). Lines wait for the router within a per-node byte budget, so a node
//! writing faster than the router routes is slowed down by its own pipe; messages for a
//! node that does not read its stdin wait within another budget, beyond which they are
//! dropped (see the router). A stderr line is cut at [`MAX_LOG_LINE_BYTES`] and a node's
//! log file at [`MAX_LOG_FILE_BYTES`].
//!
//! After a fatal output fault, Maelstrom's reader stops reading (and spins), so the node
//! eventually blocks writing to a full pipe; ours keeps reading and discards. Either way
//! everything the node writes is lost; only the node's own blocking differs, which no
//! checker can observe.

pub mod lines;
pub mod reap;

use crate::net::envelope::{parse_line, LineError};
use crate::net::{FaultKind, Net, NodeFault, RouterCmd, Shared, StdinBatch};
use lines::{Line, LineReader};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How many stderr lines per node are kept in memory for crash reports.
const TAIL_LINES: usize = 30;
/// The longest stdout line the bench accepts from a node.
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// Stderr lines are cut after this many bytes (in the log file and the crash tail).
pub const MAX_LOG_LINE_BYTES: usize = 1 << 20;
/// A node's log file stops growing at this size; the rest of its stderr is discarded.
pub const MAX_LOG_FILE_BYTES: u64 = 512 << 20;
/// How long teardown waits for the IO threads of killed nodes to finish.
const IO_THREADS_GRACE: Duration = Duration::from_secs(2);

/// One running node.
pub struct NodeProc {
    /// Node id.
    pub id: String,
    index: usize,
    child: Child,
    tail: Arc<Mutex<VecDeque<String>>>,
    /// The stdout reader and the stderr logger.
    io_threads: Vec<JoinHandle<()>>,
    exited: Option<ExitStatus>,
}

/// How to start the nodes.
pub struct SpawnSpec<'a> {
    /// Absolute path of the binary.
    pub bin: &'a Path,
    /// Its arguments.
    pub args: &'a [String],
    /// Directory for `<node>.log` files.
    pub log_dir: &'a Path,
    /// Echo stderr lines on our stderr.
    pub log_stderr: bool,
}

/// Creates the stdin queue of a node (the router holds the sender).
pub fn stdin_queue() -> (Sender<StdinBatch>, Receiver<StdinBatch>) {
    channel()
}

/// Prepares the bench for spawning nodes: it becomes the reaper of their orphans. Returns
/// the children it already has, which teardown must leave alone.
pub fn prepare() -> HashSet<i32> {
    reap::become_subreaper();
    reap::own_children()
}

/// Spawns node `index` (`id`) and its three IO threads.
pub fn spawn(
    spec: &SpawnSpec<'_>,
    index: usize,
    id: &str,
    stdin_rx: Receiver<StdinBatch>,
    net: &Net,
) -> std::io::Result<NodeProc> {
    let mut cmd = Command::new(spec.bin);
    cmd.args(spec.args)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let mut io_threads = Vec::new();
    if let Some(stdin) = child.stdin.take() {
        // Not joined at teardown: it ends when the router drops the node's queue.
        let shared = net.shared.clone();
        std::thread::Builder::new()
            .name(format!("{id}-stdin"))
            .spawn(move || write_stdin(stdin, stdin_rx, &shared, index))?;
    }
    if let Some(stdout) = child.stdout.take() {
        let net = net.clone();
        let node = id.to_string();
        io_threads.push(
            std::thread::Builder::new()
                .name(format!("{id}-stdout"))
                .spawn(move || read_stdout(stdout, index, &node, &net))?,
        );
    }
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(stderr) = child.stderr.take() {
        let path: PathBuf = spec.log_dir.join(format!("{id}.log"));
        let file = File::create(&path)?;
        let tail = tail.clone();
        let echo = spec.log_stderr.then(|| id.to_string());
        io_threads.push(
            std::thread::Builder::new()
                .name(format!("{id}-stderr"))
                .spawn(move || log_stderr(stderr, file, tail, echo))?,
        );
    }
    Ok(NodeProc {
        id: id.to_string(),
        index,
        child,
        tail,
        io_threads,
        exited: None,
    })
}

/// Writes batches to the node's stdin, giving their bytes back to the node's backlog
/// budget once written (or once the node is gone and they are discarded).
fn write_stdin(stdin: ChildStdin, rx: Receiver<StdinBatch>, shared: &Shared, index: usize) {
    let mut out = BufWriter::with_capacity(64 * 1024, stdin);
    let mut broken = false;
    let release = |batch: &StdinBatch| {
        if let Some(b) = shared.stdin_backlog.get(index) {
            b.release(batch.iter().map(|l| l.len() + 1).sum());
        }
    };
    loop {
        let batch = match rx.try_recv() {
            Ok(l) => l,
            Err(TryRecvError::Empty) => {
                if !broken && out.flush().is_err() {
                    broken = true;
                }
                match rx.recv() {
                    Ok(l) => l,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        if !broken {
            for line in &batch {
                if out.write_all(line.as_bytes()).is_err() || out.write_all(b"\n").is_err() {
                    broken = true; // the node is gone; keep draining so the router never blocks
                    break;
                }
            }
        }
        release(&batch);
    }
    let _ = out.flush();
}

/// Reads the node's stdout: each line is checked against the envelope schema and handed
/// to the router; a bad line is a fault. At the end of the output, the time is noted.
fn read_stdout<R: Read>(stdout: R, index: usize, node: &str, net: &Net) {
    let mut reader = LineReader::new(stdout, MAX_LINE_BYTES);
    loop {
        if net.shared.is_dead(index) {
            reader.drain(); // keep draining so the node never blocks; discard
            break;
        }
        let line = match reader.next_line() {
            Ok(Some(Line::Complete(bytes))) => bytes,
            Ok(Some(Line::TooLong { len, prefix })) => {
                let shown = format!("{}…", String::from_utf8_lossy(&prefix));
                let problem = format!(
                    "a line of {len} bytes is over the bench's limit of {} MiB per line; it \
                     was discarded (Maelstrom has no limit and would have parsed it)",
                    MAX_LINE_BYTES >> 20
                );
                net.shared.fault(
                    index,
                    NodeFault::new(node, FaultKind::LineTooLong, problem).with_line(&shown),
                );
                continue;
            }
            Ok(None) | Err(_) => break,
        };
        if let Some(msg) = accept(line, index, node, &net.shared) {
            let (line, msg) = msg;
            let budget = net.shared.inbound.get(index);
            if budget.is_some_and(|b| !b.acquire(line.len())) {
                break; // the router has stopped: the test is over
            }
            let cmd = RouterCmd::FromNode {
                node: index,
                line,
                msg,
            };
            if net.tx.send(cmd).is_err() {
                break; // router gone: the test is over
            }
        }
    }
    net.shared.mark_stdout_closed(index);
    reader.drain();
}

/// A stdout line as text with its parsed envelope, or `None` after recording why it is
/// unacceptable (a fatal fault, as in Maelstrom).
fn accept(
    mut bytes: Vec<u8>,
    index: usize,
    node: &str,
    shared: &Shared,
) -> Option<(String, crate::net::envelope::NodeMessage)> {
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    let line = match String::from_utf8(bytes) {
        Ok(l) => l,
        Err(e) => {
            let shown = String::from_utf8_lossy(e.as_bytes()).into_owned();
            shared.fault(
                index,
                NodeFault::new(node, FaultKind::NotUtf8, "line is not valid UTF-8")
                    .with_line(&shown)
                    .fatal(),
            );
            return None;
        }
    };
    match parse_line(&line) {
        Ok(msg) => Some((line, msg)),
        Err(e) => {
            let kind = match e {
                LineError::NotJson(_) => FaultKind::NotJson,
                LineError::Schema(_) => FaultKind::Schema,
            };
            shared.fault(
                index,
                NodeFault::new(node, kind, e.to_string())
                    .with_line(&line)
                    .fatal(),
            );
            None
        }
    }
}

/// Copies the node's stderr to its log file (cut per line and in total), keeps the last
/// lines for crash reports, and echoes them with `--log-stderr`.
fn log_stderr<R: Read>(
    stderr: R,
    file: File,
    tail: Arc<Mutex<VecDeque<String>>>,
    echo: Option<String>,
) {
    let mut out = BufWriter::new(file);
    let mut reader = LineReader::new(stderr, MAX_LOG_LINE_BYTES);
    let mut written: u64 = 0;
    loop {
        let text = match reader.next_line() {
            Ok(Some(Line::Complete(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(Some(Line::TooLong { len, prefix })) => format!(
                "{}… [glomers-sim: this stderr line of {len} bytes was cut]",
                String::from_utf8_lossy(&prefix)
            ),
            Ok(None) | Err(_) => break,
        };
        if written < MAX_LOG_FILE_BYTES {
            written += text.len() as u64 + 1;
            let _ = writeln!(out, "{text}");
            if written >= MAX_LOG_FILE_BYTES {
                let _ = writeln!(
                    out,
                    "[glomers-sim: the log reached {} MiB; the rest of stderr is discarded]",
                    MAX_LOG_FILE_BYTES >> 20
                );
            }
            if !reader.has_buffered() {
                let _ = out.flush(); // flush when caught up, not on every line of a burst
            }
        }
        let line = text.trim_end().to_string();
        if let Some(node) = &echo {
            eprintln!("[{node}] {line}");
        }
        if let Ok(mut t) = tail.lock() {
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    }
    let _ = out.flush();
}

impl NodeProc {
    /// The exit status if the process has already exited.
    pub fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            if let Ok(Some(st)) = self.child.try_wait() {
                self.exited = Some(st);
            }
        }
        self.exited
    }

    /// The last lines of the node's stderr.
    pub fn log_tail(&self) -> Vec<String> {
        self.tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The node process's peak resident set size so far, in KiB (`VmHWM` in
    /// `/proc/<pid>/status`), while it runs. For a wrapper script this is the wrapper's
    /// own figure, not its children's. `None` where /proc is unavailable.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        crate::memory::proc_kib(&self.child.id().to_string(), "VmHWM:")
    }

    /// The node process's current resident set size, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> Option<u64> {
        crate::memory::proc_kib(&self.child.id().to_string(), "VmRSS:")
    }
}

/// Ends every node: notes nodes that closed their stdout but kept running, SIGKILLs each
/// node's process group and reaps it, then kills every descendant that had left its group
/// (naming the node that started it), and waits briefly for the IO threads so the last
/// faults and log lines are in. `spared` are the bench's children from before the nodes.
pub fn kill_all(procs: &mut [NodeProc], shared: &Shared, spared: &HashSet<i32>) {
    for p in procs.iter_mut() {
        report_closed_stdout(p, shared);
    }
    let table = reap::process_table();
    let mut started_by: HashMap<i32, usize> = HashMap::new();
    for (i, p) in procs.iter().enumerate() {
        for pid in reap::descendants(p.child.id() as i32, &table) {
            started_by.insert(pid, i);
        }
    }
    // Each node leads its own process group; members still in it die with the group kill.
    let groups: HashSet<i32> = procs.iter().map(|p| p.child.id() as i32).collect();
    for p in procs.iter_mut() {
        let pid = p.child.id() as i32;
        // SAFETY: plain syscalls on our own child's process group.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = p.child.kill();
    }
    for p in procs.iter_mut() {
        let _ = p.child.wait();
    }
    for left in reap::kill_leftovers(spared, &groups, &started_by) {
        let (index, node) = match left.node.and_then(|i| procs.get(i)) {
            Some(p) => (p.index, p.id.clone()),
            None => (usize::MAX, "a node".to_string()),
        };
        let problem = format!(
            "process {} ({}), started by {node}, was still running after {node}'s process \
             group was killed (it had left the group); the bench killed it (Maelstrom would \
             have left it running)",
            left.pid, left.comm
        );
        shared.fault(
            index,
            NodeFault::new(&node, FaultKind::LeftoverProcess, problem),
        );
    }
    let deadline = Instant::now() + IO_THREADS_GRACE;
    for p in procs.iter_mut() {
        for h in std::mem::take(&mut p.io_threads) {
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

/// A node whose stdout ended while the process kept running has silently stopped
/// talking: say so (unless its output was already dead for another reason).
fn report_closed_stdout(p: &mut NodeProc, shared: &Shared) {
    let Some(at) = shared.stdout_closed_at(p.index) else {
        return;
    };
    if p.poll_exit().is_some() || shared.is_dead(p.index) {
        return;
    }
    let problem = format!(
        "{} closed its stdout at {:.3} s but kept running: nothing it wrote afterwards \
         could reach the network",
        p.id,
        at as f64 / 1e9
    );
    shared.fault(
        p.index,
        NodeFault::new(&p.id, FaultKind::StdoutClosed, problem).at(at.max(1)),
    );
}

/// Describes an exit status for people ("exit code 3", "killed by signal 9").
pub fn describe_status(st: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "unknown exit status".into(),
    }
}
