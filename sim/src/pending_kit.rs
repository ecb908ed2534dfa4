//! TEMPORARY stand-ins for simkit pieces that have not landed yet (availability parsing
//! and the part 1 checkers). Each function has the exact signature of the simkit one it
//! stands for; when simkit lands, callers switch to simkit and this module goes away.

use glomers_simkit::checker::{CheckResult, Validity};
use glomers_simkit::history::History;
use serde_json::json;

/// Stand-in for `checker::availability::Availability`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Availability {
    /// Every operation must succeed.
    Total,
    /// At least this fraction must succeed.
    AtLeast(f64),
}

/// Stand-in for `checker::availability::parse`.
pub fn parse_availability(s: &str) -> Result<Availability, String> {
    if s == "total" {
        return Ok(Availability::Total);
    }
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(Availability::AtLeast(f)),
        _ => Err("expected `total` or a number in [0, 1]".into()),
    }
}

/// Placeholder verdict for any checker that has not landed.
pub fn not_landed(_h: &History) -> CheckResult {
    CheckResult {
        valid: Validity::Unknown,
        details: json!({"valid": "unknown", "note": "checker not landed yet"}),
        findings: vec![],
    }
}
