//! Processes that outlive their node. Each node runs in its own process group, which the
//! bench kills at teardown; a descendant that left the group (`setsid`, a daemon's double
//! fork) survives that and may keep the node's pipes open. The bench therefore makes
//! itself the "subreaper" of its descendants (Linux `PR_SET_CHILD_SUBREAPER`): orphans are
//! re-parented to the bench instead of init, so after the kill it can find, kill and reap
//! every one of them, and name the node that started it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// How long the teardown keeps killing and reaping leftovers.
const REAP_FOR: Duration = Duration::from_secs(3);

/// Makes this process the reaper of its orphaned descendants. Idempotent; where the call
/// is not available, leftovers are re-parented to init and cannot be found.
pub fn become_subreaper() {
    // SAFETY: a plain prctl on our own process.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
    }
}

/// One process as seen in `/proc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcEntry {
    /// Process id.
    pub pid: i32,
    /// Parent process id.
    pub ppid: i32,
    /// One-letter state (`R`, `S`, `Z`, …).
    pub state: char,
    /// Process group id.
    pub pgrp: i32,
    /// Command name.
    pub comm: String,
}

/// Parses a `/proc/<pid>/stat` line: `pid (comm) state ppid …` (comm may hold spaces
/// and parentheses, so it ends at the last `)`).
pub fn parse_stat(stat: &str) -> Option<ProcEntry> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let pid = stat[..open].trim().parse().ok()?;
    let comm = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let pgrp = rest.next()?.parse().ok()?;
    Some(ProcEntry {
        pid,
        ppid,
        state,
        pgrp,
        comm,
    })
}

/// Every process visible in `/proc`.
pub fn process_table() -> Vec<ProcEntry> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|s| parse_stat(&s))
        .collect()
}

/// The pids of every descendant of `root` in `table` (not `root` itself).
pub fn descendants(root: i32, table: &[ProcEntry]) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in table {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            out.push(c);
            todo.push(c);
        }
    }
    out
}

/// The pids of this process's children right now.
pub fn own_children() -> HashSet<i32> {
    let me = std::process::id() as i32;
    process_table()
        .into_iter()
        .filter(|p| p.ppid == me)
        .map(|p| p.pid)
        .collect()
}

/// A process that was still running after its node's process group was killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// Its pid.
    pub pid: i32,
    /// Its command name.
    pub comm: String,
    /// Index of the node that started it, when known.
    pub node: Option<usize>,
}

/// Kills and reaps every child of the bench except `spared` (children it had before the
/// nodes started): once the nodes are killed and reaped, any other child is a node's
/// orphan. Killing one may orphan its own children, so this repeats until none is left
/// (or 3 s pass). `started_by` maps pids seen before the kill to their node. Returns the
/// ones that were still running outside the nodes' process groups `groups` (members of
/// those groups were killed with them and are only reaped, like zombies).
pub fn kill_leftovers(
    spared: &HashSet<i32>,
    groups: &HashSet<i32>,
    started_by: &HashMap<i32, usize>,
) -> Vec<Leftover> {
    let me = std::process::id() as i32;
    let deadline = Instant::now() + REAP_FOR;
    let mut found: Vec<Leftover> = Vec::new();
    let mut seen: HashSet<i32> = HashSet::new();
    while Instant::now() < deadline {
        let orphans: Vec<ProcEntry> = process_table()
            .into_iter()
            .filter(|p| p.ppid == me && !spared.contains(&p.pid))
            .collect();
        if orphans.is_empty() {
            break;
        }
        for p in &orphans {
            if p.state != 'Z' && !groups.contains(&p.pgrp) && seen.insert(p.pid) {
                found.push(Leftover {
                    pid: p.pid,
                    comm: p.comm.clone(),
                    node: started_by.get(&p.pid).copied(),
                });
            }
            // SAFETY: `p` is our own unreaped child, so its pid cannot have been reused.
            unsafe {
                libc::kill(p.pid, libc::SIGKILL);
            }
        }
        for p in &orphans {
            while Instant::now() < deadline {
                let mut status = 0;
                // SAFETY: waiting for our own child.
                let r = unsafe { libc::waitpid(p.pid, &mut status, libc::WNOHANG) };
                if r != 0 {
                    break; // reaped, or not ours to wait for
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let e = parse_stat("4242 (my (odd) prog) S 17 4242 4242 0 -1 4194560 99").unwrap();
        assert_eq!(
            e,
            ProcEntry {
                pid: 4242,
                ppid: 17,
                state: 'S',
                pgrp: 4242,
                comm: "my (odd) prog".into()
            }
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn descendants_follow_parent_links() {
        let p = |pid, ppid| ProcEntry {
            pid,
            ppid,
            state: 'S',
            pgrp: pid,
            comm: String::new(),
        };
        let table = vec![p(10, 1), p(11, 10), p(12, 11), p(13, 10), p(20, 1)];
        let mut d = descendants(10, &table);
        d.sort();
        assert_eq!(d, vec![11, 12, 13]);
        assert!(descendants(20, &table).is_empty());
    }

    #[test]
    fn this_process_appears_in_the_table() {
        let me = std::process::id() as i32;
        assert!(process_table().iter().any(|p| p.pid == me));
    }
}
