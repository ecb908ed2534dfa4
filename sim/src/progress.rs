//! The progress line on stderr: elapsed time and operation counts, once per second;
//! rewritten in place when stderr is a terminal, one line per second otherwise.

use crate::recorder::Counts;
use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Progress printer.
pub struct Progress {
    enabled: bool,
    tty: bool,
    start: Instant,
    last: Instant,
    printed: bool,
}

impl Progress {
    /// A printer counting from `start`; does nothing when `enabled` is false.
    pub fn new(enabled: bool, start: Instant) -> Progress {
        Progress {
            enabled,
            tty: std::io::stderr().is_terminal(),
            start,
            last: start,
            printed: false,
        }
    }

    /// Prints if a second has passed since the last line.
    pub fn tick(&mut self, c: &Counts) {
        if !self.enabled || self.last.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last = Instant::now();
        self.print(c);
    }

    fn print(&mut self, c: &Counts) {
        let line = line(self.start.elapsed(), c);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
        self.printed = true;
    }

    /// Ends the in-place line.
    pub fn finish(&mut self, c: &Counts) {
        if self.enabled && self.tty && self.printed {
            self.print(c);
            eprintln!();
        }
    }
}

/// The text of one progress line.
pub fn line(elapsed: Duration, c: &Counts) -> String {
    format!(
        "[{:6.1} s] ops {} (ok {}, fail {}, info {})",
        elapsed.as_secs_f64(),
        c.invokes.load(Ordering::Relaxed),
        c.ok.load(Ordering::Relaxed),
        c.fail.load(Ordering::Relaxed),
        c.info.load(Ordering::Relaxed)
    )
}
