//! Node processes: spawn (working directory = the system temp dir, environment inherited,
//! extra words as arguments), one stdin writer, one stdout reader and one stderr logger
//! thread per node, exit watching and teardown.
//!
//! Each node runs in its own process group and gets `PR_SET_PDEATHSIG = SIGKILL`, so a
//! wrapper script's children die with it at teardown and nothing survives a crashed bench
//! (Maelstrom kills only the direct child; an orphan can survive it).
//!
//! After a fatal output fault, Maelstrom's reader stops reading (and spins), so the node
//! eventually blocks writing to a full pipe; ours keeps reading and discards. Either way
//! everything the node writes is lost; only the node's own blocking differs, which no
//! checker can observe.

use crate::net::envelope::parse_line;
use crate::net::{Net, RouterCmd, StdinBatch};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How many stderr lines per node are kept in memory for crash reports.
const TAIL_LINES: usize = 30;

/// One running node.
pub struct NodeProc {
    /// Node id.
    pub id: String,
    child: Child,
    tail: Arc<Mutex<VecDeque<String>>>,
    logger: Option<JoinHandle<()>>,
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
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    if let Some(stdin) = stdin {
        let name = format!("{id}-stdin");
        std::thread::Builder::new()
            .name(name)
            .spawn(move || write_stdin(stdin, stdin_rx))?;
    }
    if let Some(stdout) = stdout {
        let net = net.clone();
        let node = id.to_string();
        std::thread::Builder::new()
            .name(format!("{id}-stdout"))
            .spawn(move || read_stdout(stdout, index, &node, &net))?;
    }
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let logger = match stderr {
        Some(stderr) => {
            let path: PathBuf = spec.log_dir.join(format!("{id}.log"));
            let file = File::create(&path)?;
            let tail = tail.clone();
            let echo = spec.log_stderr.then(|| id.to_string());
            Some(
                std::thread::Builder::new()
                    .name(format!("{id}-stderr"))
                    .spawn(move || log_stderr(stderr, file, tail, echo))?,
            )
        }
        None => None,
    };
    Ok(NodeProc {
        id: id.to_string(),
        child,
        tail,
        logger,
        exited: None,
    })
}

fn write_stdin(stdin: ChildStdin, rx: Receiver<StdinBatch>) {
    let mut out = BufWriter::with_capacity(64 * 1024, stdin);
    let mut broken = false;
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
        if broken {
            continue; // the node is gone; keep draining so the router never blocks
        }
        for line in batch {
            if out.write_all(line.as_bytes()).is_err() || out.write_all(b"\n").is_err() {
                broken = true;
                break;
            }
        }
    }
    let _ = out.flush();
}

fn read_stdout<R: Read>(stdout: R, index: usize, node: &str, net: &Net) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if net.shared.is_dead(index) {
            continue; // keep draining so the node never blocks; discard
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        let line = match String::from_utf8(std::mem::take(&mut buf)) {
            Ok(l) => l,
            Err(e) => {
                let shown = String::from_utf8_lossy(e.as_bytes()).into_owned();
                net.shared
                    .fault(index, node, &shown, "line is not valid UTF-8".into(), true);
                continue;
            }
        };
        match parse_line(&line) {
            Ok(msg) => {
                if net
                    .tx
                    .send(RouterCmd::FromNode {
                        node: index,
                        line,
                        msg,
                    })
                    .is_err()
                {
                    // Router gone: the test is over; keep draining.
                    net.shared.dead[index].store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            Err(e) => net.shared.fault(index, node, &line, e.to_string(), true),
        }
    }
}

fn log_stderr<R: Read>(
    stderr: R,
    file: File,
    tail: Arc<Mutex<VecDeque<String>>>,
    echo: Option<String>,
) {
    let mut out = BufWriter::new(file);
    let mut reader = BufReader::new(stderr);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let _ = out.write_all(&buf);
        if !buf.ends_with(b"\n") {
            let _ = out.write_all(b"\n");
        }
        if reader.buffer().is_empty() {
            let _ = out.flush();
        }
        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
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
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        parse_vm_hwm(&status)
    }

    /// SIGKILLs the node's whole process group and reaps it; waits briefly for the
    /// stderr logger to flush.
    pub fn kill(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: plain syscalls on our own child's process group.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(h) = self.logger.take() {
            let deadline = Instant::now() + Duration::from_secs(2);
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

/// The `VmHWM` line of a `/proc/<pid>/status` text, in KiB.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
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

#[cfg(test)]
mod tests {
    #[test]
    fn vm_hwm_is_read_in_kib() {
        let status =
            "Name:\tglomers-host\nVmPeak:\t  10000 kB\nVmHWM:\t    4321 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(super::parse_vm_hwm(status), Some(4321));
        assert_eq!(super::parse_vm_hwm("Name:\tx\n"), None);
    }
}
