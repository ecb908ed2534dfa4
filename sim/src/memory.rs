//! Memory figures read from `/proc`: each node's resident set sampled over the run (so
//! long runs can show growth), each node's peak just before the kill, and the bench's own
//! peak.

use serde_json::{json, Map, Value};
use std::time::Duration;

/// How often each node's resident set is sampled during the main and final phases.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// A `kB` line of a `/proc/<pid>/status` text (`VmHWM:`, `VmRSS:`, …), in KiB.
pub fn status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The `field` figure of process `pid` (or `self`), in KiB; `None` once it is gone or
/// where /proc is unavailable.
pub fn proc_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_kib(&status, field)
}

/// The bench's own peak resident set so far, in KiB.
pub fn own_peak_rss_kib() -> Option<u64> {
    proc_kib("self", "VmHWM:")
}

/// Each node's resident set over time: `(seconds since the test start, KiB)` pairs.
#[derive(Debug, Default, Clone)]
pub struct RssSamples {
    per_node: Vec<Vec<(f64, u64)>>,
}

impl RssSamples {
    /// Records one sample per node; `rss` holds each node's VmRSS (None: not readable).
    pub fn record(&mut self, secs: f64, rss: &[Option<u64>]) {
        if self.per_node.len() < rss.len() {
            self.per_node.resize(rss.len(), Vec::new());
        }
        for (series, kib) in self.per_node.iter_mut().zip(rss) {
            if let Some(k) = kib {
                series.push((secs, *k));
            }
        }
    }

    /// results.json's `node_memory`: per node, the peak before the kill and the samples.
    pub fn to_json(&self, nodes: &[String], peaks: &[Option<u64>]) -> Map<String, Value> {
        nodes
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let samples: Vec<Value> = self
                    .per_node
                    .get(i)
                    .map(|s| s.iter().map(|(t, k)| json!([round_ms(*t), k])).collect())
                    .unwrap_or_default();
                let peak = peaks.get(i).copied().flatten();
                (
                    id.clone(),
                    json!({ "peak_rss_kib": peak, "rss_kib_samples": samples }),
                )
            })
            .collect()
    }
}

fn round_ms(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_figures_are_read_in_kib() {
        let status =
            "Name:\tglomers-host\nVmPeak:\t  10000 kB\nVmHWM:\t    4321 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(4321));
        assert_eq!(status_kib(status, "VmRSS:"), Some(4000));
        assert_eq!(status_kib("Name:\tx\n", "VmHWM:"), None);
        assert!(own_peak_rss_kib().is_some_and(|k| k > 0));
    }

    #[test]
    fn samples_are_kept_per_node_and_missing_readings_skipped() {
        let mut s = RssSamples::default();
        s.record(10.0, &[Some(100), None]);
        s.record(20.0004, &[Some(120), Some(50)]);
        let nodes = vec!["n0".to_string(), "n1".to_string()];
        let j = s.to_json(&nodes, &[Some(130), None]);
        assert_eq!(j["n0"]["peak_rss_kib"], 130);
        assert_eq!(
            j["n0"]["rss_kib_samples"],
            json!([[10.0, 100], [20.0, 120]])
        );
        assert_eq!(j["n1"]["peak_rss_kib"], Value::Null);
        assert_eq!(j["n1"]["rss_kib_samples"], json!([[20.0, 50]]));
    }
}
