//! The partition nemesis (spec §3.4): alternating start/stop, the first start at about
//! t = 0, gaps uniform in [0, 2 × interval), a random shape per start. Stopped by the
//! runner at the time limit; for workloads with a final phase it then heals (and records a
//! `stop-partition`, as Jepsen's final generator does).

use crate::net::partition::{grudge, Grudge, Shape};
use crate::net::{Net, RouterCmd};
use crate::recorder::Recorder;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::json;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Nemesis settings.
pub struct NemesisPlan {
    /// Node ids.
    pub nodes: Vec<String>,
    /// Mean gap between operations.
    pub interval: Duration,
    /// End of the main phase.
    pub until: Instant,
    /// Heal (and record it) when stopped.
    pub heal_at_end: bool,
}

/// Gap before the next nemesis operation: uniform in [0, 2 × interval).
pub fn next_gap(interval: Duration, rng: &mut StdRng) -> Duration {
    let max = 2.0 * interval.as_secs_f64();
    Duration::from_secs_f64(rng.random_range(0.0..max))
}

/// Runs the nemesis until `stop` fires (or its sender is dropped) or the time limit.
pub fn run(plan: NemesisPlan, net: Net, rec: &Recorder, mut rng: StdRng, stop: Receiver<()>) {
    let mut next = Instant::now();
    let mut partitioned = false;
    loop {
        let now = Instant::now();
        if next >= plan.until {
            // Nothing more to do in the main phase: wait for the stop signal.
            let _ = stop.recv();
            break;
        }
        if next > now {
            match stop.recv_timeout(next - now) {
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        if partitioned {
            let _ = net.tx.send(RouterCmd::SetGrudge(Grudge::new()));
            rec.nemesis("stop-partition", json!("network-healed"));
        } else {
            let shape = Shape::random(&mut rng);
            let g = grudge(shape, &plan.nodes, &mut rng);
            let _ = net.tx.send(RouterCmd::SetGrudge(g.clone()));
            rec.nemesis(
                "start-partition",
                json!({"shape": shape.name(), "grudge": g}),
            );
        }
        partitioned = !partitioned;
        next += next_gap(plan.interval, &mut rng);
    }
    if plan.heal_at_end {
        let _ = net.tx.send(RouterCmd::SetGrudge(Grudge::new()));
        rec.nemesis("stop-partition", json!("network-healed"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn gaps_are_uniform_below_twice_the_interval() {
        let mut rng = StdRng::seed_from_u64(8);
        let i = Duration::from_secs(10);
        let gaps: Vec<f64> = (0..5000)
            .map(|_| next_gap(i, &mut rng).as_secs_f64())
            .collect();
        assert!(gaps.iter().all(|&g| (0.0..20.0).contains(&g)));
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((mean - 10.0).abs() < 0.5, "{mean}");
    }
}
