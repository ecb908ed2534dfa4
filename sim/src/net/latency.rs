//! Per-message latency (spec §3.1): zero when either end is a client, else drawn from the
//! distribution in whole milliseconds.
//!
//! Deviations: `uniform` draws from [0, 2·mean) (Maelstrom's upper bound is unclear);
//! `exponential` with a mean of 0 gives 0 where Maelstrom would divide by zero.

use crate::plan::PlanError;
use rand::rngs::StdRng;
use rand::Rng;

/// The shape of the latency distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyDist {
    /// Exactly the mean.
    Constant,
    /// Integer-uniform in [0, 2·mean).
    Uniform,
    /// Exponential with the given mean, truncated to whole ms.
    Exponential,
}

impl LatencyDist {
    /// Parses `--latency-dist`.
    pub fn parse(s: &str) -> Result<LatencyDist, PlanError> {
        match s {
            "constant" => Ok(LatencyDist::Constant),
            "uniform" => Ok(LatencyDist::Uniform),
            "exponential" => Ok(LatencyDist::Exponential),
            other => Err(PlanError(format!(
                "--latency-dist {other:?}: expected constant, uniform or exponential"
            ))),
        }
    }
}

/// Mean and distribution of inter-server latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyModel {
    /// Mean latency in ms.
    pub mean_ms: u64,
    /// Distribution.
    pub dist: LatencyDist,
}

impl LatencyModel {
    /// True when every draw is the same (so per-destination order is FIFO).
    pub fn is_constant(&self) -> bool {
        self.dist == LatencyDist::Constant || self.mean_ms == 0
    }

    /// Draws one server-to-server latency in ms.
    pub fn draw(&self, rng: &mut StdRng) -> u64 {
        if self.mean_ms == 0 {
            return 0;
        }
        match self.dist {
            LatencyDist::Constant => self.mean_ms,
            LatencyDist::Uniform => rng.random_range(0..2 * self.mean_ms),
            LatencyDist::Exponential => {
                let u: f64 = rng.random();
                let u = 1.0 - u; // in (0, 1]
                (-u.ln() * self.mean_ms as f64) as u64
            }
        }
    }
}

/// True when `id` names a client (Maelstrom: first character `c`).
pub fn is_client(id: &str) -> bool {
    id.starts_with('c')
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn sample(m: LatencyModel, n: usize) -> Vec<u64> {
        let mut rng = StdRng::seed_from_u64(42);
        (0..n).map(|_| m.draw(&mut rng)).collect()
    }

    #[test]
    fn constant_is_exact() {
        let m = LatencyModel {
            mean_ms: 100,
            dist: LatencyDist::Constant,
        };
        assert!(sample(m, 100).iter().all(|&x| x == 100));
        assert!(m.is_constant());
    }

    #[test]
    fn uniform_stays_in_range_with_the_right_mean() {
        let m = LatencyModel {
            mean_ms: 50,
            dist: LatencyDist::Uniform,
        };
        let s = sample(m, 20_000);
        assert!(s.iter().all(|&x| x < 100));
        assert!(s.contains(&0) && s.contains(&99));
        let mean = s.iter().sum::<u64>() as f64 / s.len() as f64;
        assert!((mean - 49.5).abs() < 1.5, "mean {mean}");
    }

    #[test]
    fn exponential_has_the_right_mean_and_a_tail() {
        let m = LatencyModel {
            mean_ms: 100,
            dist: LatencyDist::Exponential,
        };
        let s = sample(m, 20_000);
        let mean = s.iter().sum::<u64>() as f64 / s.len() as f64;
        // Truncation to whole ms lowers the mean by about 0.5.
        assert!((mean - 99.5).abs() < 4.0, "mean {mean}");
        assert!(s.iter().any(|&x| x > 400));
        assert!(!m.is_constant());
    }

    #[test]
    fn zero_mean_is_zero_for_every_shape() {
        for dist in [
            LatencyDist::Constant,
            LatencyDist::Uniform,
            LatencyDist::Exponential,
        ] {
            let m = LatencyModel { mean_ms: 0, dist };
            assert!(sample(m, 10).iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn clients_are_ids_starting_with_c() {
        assert!(is_client("c12"));
        assert!(!is_client("n0"));
        assert!(!is_client("lin-kv"));
        assert!(LatencyDist::parse("normal").is_err());
    }
}
