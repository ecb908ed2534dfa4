//! Phase timings of a run, printed on stderr when `GLOMERS_SIM_TIMING` is set (for the
//! benchmark).

use std::time::{Duration, Instant};

/// Phase timings, printed on stderr when `GLOMERS_SIM_TIMING` is set (for the benchmark).
pub(super) struct Timing {
    on: bool,
    last: Instant,
    phases: Vec<(&'static str, Duration)>,
}

impl Timing {
    pub(super) fn new() -> Timing {
        Timing {
            on: std::env::var_os("GLOMERS_SIM_TIMING").is_some(),
            last: Instant::now(),
            phases: Vec::new(),
        }
    }

    pub(super) fn mark(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.phases.push((phase, now - self.last));
        self.last = now;
    }

    pub(super) fn print(&self) {
        if self.on {
            let parts: Vec<String> = self
                .phases
                .iter()
                .map(|(p, d)| format!("{p} {:.3} s", d.as_secs_f64()))
                .collect();
            eprintln!("glomers-sim timing: {}", parts.join(", "));
        }
    }
}
