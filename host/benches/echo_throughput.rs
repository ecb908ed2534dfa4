//! Pipes 1,000,000 echo requests through one `glomers-host` process and prints messages
//! per second (wall clock and per CPU-second of the host) and the host's peak RSS.
//!
//! Run: `cargo bench -p glomers-host --bench echo_throughput` (`ECHO_BENCH_COUNT=N` to
//! change the count). Targets: ≥ 1,000,000 msgs/s on one core, < 8 MB peak RSS.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_glomers-host");

fn main() {
    let count: usize = std::env::var("ECHO_BENCH_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    // Spawn first: a child forked from a process holding the whole input would report
    // that memory as its own peak RSS.
    #[allow(clippy::zombie_processes)] // reaped below with wait4, for its rusage
    let mut child = Command::new(BIN)
        .env("GLOMERS_LOG", "warning")
        .env_remove("GLOMERS_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn glomers-host");
    let mut input = Vec::with_capacity(count * 100);
    input.extend_from_slice(
        br#"{"id":0,"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}}"#,
    );
    input.push(b'\n');
    for i in 0..count {
        writeln!(
            input,
            r#"{{"id":{i},"src":"c4","dest":"n0","body":{{"echo":"Please echo {}","type":"echo","msg_id":{}}}}}"#,
            i % 128,
            i + 2
        )
        .expect("writing to a Vec cannot fail");
    }

    let pid = child.id() as libc::pid_t;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let started = Instant::now();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&input).expect("host reads its stdin");
    });
    let reader = std::thread::spawn(move || {
        let mut lines = 0usize;
        let mut last = String::new();
        let mut r = BufReader::with_capacity(1 << 16, stdout);
        loop {
            last.clear();
            match r.read_line(&mut last) {
                Ok(0) | Err(_) => break,
                Ok(_) => lines += 1,
            }
        }
        lines
    });
    writer.join().expect("writer thread");
    let lines = reader.join().expect("reader thread");
    let elapsed = started.elapsed();

    // wait4 gives the child's own peak RSS and CPU time.
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 on the host");
    let cpu = usage.ru_utime.tv_sec as f64
        + usage.ru_utime.tv_usec as f64 / 1e6
        + usage.ru_stime.tv_sec as f64
        + usage.ru_stime.tv_usec as f64 / 1e6;
    assert_eq!(lines, count + 1, "one reply per request plus init_ok");
    let secs = elapsed.as_secs_f64();
    println!("echo_throughput: {count} requests through one glomers-host process");
    println!("  wall time        {secs:.3} s");
    println!("  messages/s       {:.0} (wall clock)", count as f64 / secs);
    println!("  host CPU time    {cpu:.3} s (user + system, both host threads)");
    println!(
        "  messages/s/core  {:.0} (per CPU-second of the host)",
        count as f64 / cpu
    );
    println!(
        "  peak RSS         {:.1} MB",
        usage.ru_maxrss as f64 / 1024.0
    );
}
