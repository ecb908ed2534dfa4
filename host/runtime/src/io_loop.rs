//! The only place that touches stdin, stdout and the clock.
//!
//! A reader thread moves stdin to the event loop in chunks of whole lines. The loop feeds
//! each line to the [`Node`], fires due deadlines, and writes the node's output to stdout
//! when no more input is immediately waiting (so a lone message goes out at once and a
//! burst goes out in large writes) or when 64 KiB have piled up.
//!
//! With debug logging on, the loop also logs the node's bookkeeping sizes (pending RPCs,
//! timers, ...) every 10 s, so long runs can show that they stay flat.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::{Duration, Instant};

use slog::{debug, info, warn, Drain, Logger};

use crate::node::Node;

/// How often the bookkeeping sizes are logged when debug logging is on.
const BOOKKEEPING_EVERY: Duration = Duration::from_secs(10);

/// Output is written once this much has accumulated, even under continuous input.
const FLUSH_AT: usize = 64 * 1024;
/// Size of one stdin read.
const READ_CHUNK: usize = 64 * 1024;

enum Input {
    Lines(Vec<u8>),
    End,
}

/// Runs `node` on the process's stdin and stdout until stdin closes. Returns an error
/// only if stdout cannot be written.
pub fn run(node: &mut Node, log: &Logger) -> io::Result<()> {
    let (tx, rx) = mpsc::sync_channel(16);
    let reader_log = log.clone();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || read_stdin(tx, reader_log))?;
    // Write to fd 1 directly: Rust's `Stdout` is line-buffered, which would cost one
    // syscall per message.
    let mut stdout = std::fs::File::from(io::stdout().as_fd().try_clone_to_owned()?);
    event_loop(node, &rx, &mut stdout, log)
}

fn read_stdin(tx: SyncSender<Input>, log: Logger) {
    let mut stdin = io::stdin().lock();
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut buf = std::mem::take(&mut carry);
        let start = buf.len();
        buf.resize(start + READ_CHUNK, 0);
        let n = match stdin.read(&mut buf[start..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                buf.truncate(start);
                carry = buf;
                continue;
            }
            Err(e) => {
                warn!(
                    log,
                    "reading stdin failed: {e}; treating it as end of input"
                );
                0
            }
        };
        buf.truncate(start + n);
        if n == 0 {
            if !buf.is_empty() {
                // A last line without its newline still counts.
                buf.push(b'\n');
                let _ = tx.send(Input::Lines(buf));
            }
            let _ = tx.send(Input::End);
            return;
        }
        // The carried part holds no newline: search only what was just read, so a huge
        // line costs one pass, not one pass per read.
        match last_newline(&buf, start) {
            Some(last) => {
                carry = buf[last + 1..].to_vec();
                buf.truncate(last + 1);
                if tx.send(Input::Lines(buf)).is_err() {
                    return;
                }
            }
            None => carry = buf,
        }
    }
}

/// The index of the last newline in `buf`, searching only from `from` on.
fn last_newline(buf: &[u8], from: usize) -> Option<usize> {
    memchr::memrchr(b'\n', &buf[from..]).map(|i| from + i)
}

fn event_loop(
    node: &mut Node,
    rx: &Receiver<Input>,
    out: &mut impl Write,
    log: &Logger,
) -> io::Result<()> {
    let start = Instant::now();
    let mut next: Option<Input> = None;
    let mut next_report = log.is_debug_enabled().then_some(BOOKKEEPING_EVERY);
    loop {
        let input = match next.take() {
            Some(input) => input,
            None => match earliest(node.next_deadline(), next_report) {
                Some(deadline) => {
                    let now = start.elapsed();
                    if deadline <= now {
                        report_bookkeeping(node, log, &mut next_report, now);
                        node.handle_timeout(now);
                        write_out(node, out)?;
                        continue;
                    }
                    match rx.recv_timeout(deadline - now) {
                        Ok(input) => input,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => Input::End,
                    }
                }
                None => rx.recv().unwrap_or(Input::End),
            },
        };
        match input {
            Input::Lines(chunk) => {
                let now = start.elapsed();
                report_bookkeeping(node, log, &mut next_report, now);
                node.handle_timeout(now);
                // Chunks hold whole lines; drop the last newline so blank lines inside
                // still reach the node (which logs them) and nothing trails.
                let body = chunk.strip_suffix(b"\n").unwrap_or(&chunk);
                for line in lines(body) {
                    node.handle_line(now, line);
                    if node.output().len() >= FLUSH_AT {
                        write_out(node, out)?;
                    }
                }
                match rx.try_recv() {
                    Ok(more) => next = Some(more),
                    Err(TryRecvError::Empty) => write_out(node, out)?,
                    Err(TryRecvError::Disconnected) => next = Some(Input::End),
                }
            }
            Input::End => {
                write_out(node, out)?;
                info!(log, "stdin closed; exiting"; "pending_rpcs" => node.pending_rpcs());
                return Ok(());
            }
        }
    }
}

/// The lines of `chunk`, split at each newline (found with SIMD: this runs over every
/// input byte).
fn lines(chunk: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', chunk)
        .chain(std::iter::once(chunk.len()))
        .map(move |end| {
            let line = &chunk[start..end];
            start = end + 1;
            line
        })
}

fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Logs the node's bookkeeping sizes once `next` is due, and schedules the next report.
fn report_bookkeeping(node: &Node, log: &Logger, next: &mut Option<Duration>, now: Duration) {
    let Some(due) = *next else {
        return;
    };
    if now < due {
        return;
    }
    let b = node.bookkeeping();
    debug!(log, "bookkeeping";
        "uptime_s" => now.as_secs(),
        "pending_rpcs" => b.pending_rpcs,
        "rpc_deadlines" => b.rpc_deadlines,
        "timers" => b.timers,
        "timer_queue" => b.timer_queue,
        "held_before_init" => b.held_before_init);
    *next = Some(now + BOOKKEEPING_EVERY);
}

fn write_out(node: &mut Node, out: &mut impl Write) -> io::Result<()> {
    if !node.output().is_empty() {
        out.write_all(node.output())?;
        out.flush()?;
        node.clear_output();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fuzzer finding: with a 16 MB line arriving in 64 KB reads, the reader searched the
    // whole carried line for a newline after every read (quadratic: about 2 GB of
    // scanning for one line, 47 s in a debug build).
    #[test]
    fn lines_split_like_slice_split() {
        for chunk in [&b""[..], b"a", b"a\nb", b"\n", b"a\n\nb\n", b"\n\n"] {
            let ours: Vec<&[u8]> = lines(chunk).collect();
            let std: Vec<&[u8]> = chunk.split(|b| *b == b'\n').collect();
            assert_eq!(ours, std, "{:?}", String::from_utf8_lossy(chunk));
        }
    }

    #[test]
    fn the_newline_search_skips_the_carried_part() {
        let mut buf = vec![b'x'; 100];
        buf[10] = b'\n';
        assert_eq!(last_newline(&buf, 0), Some(10));
        assert_eq!(
            last_newline(&buf, 11),
            None,
            "the carried part is not searched again"
        );
        buf[50] = b'\n';
        assert_eq!(last_newline(&buf, 20), Some(50));
    }
}
