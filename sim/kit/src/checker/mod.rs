//! Verdicts over histories. Each workload's checker is a pure function from a [`History`]
//! (plus options) to a [`CheckResult`]; shared analyses live in the submodules.
//!
//! [`History`]: crate::history::History

use serde::{Serialize, Serializer};
use serde_json::Value;

/// Jepsen's three-valued validity; merges with the priority false > unknown > true.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// Checked and fine.
    Valid,
    /// A rule is broken.
    Invalid,
    /// Could not decide (no evidence, search budget exhausted, checker error).
    Unknown,
}

impl Validity {
    /// Combines two verdicts: invalid wins over unknown, unknown over valid.
    pub fn merge(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }

    /// From a boolean verdict.
    pub fn from_bool(ok: bool) -> Validity {
        if ok {
            Validity::Valid
        } else {
            Validity::Invalid
        }
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => s.serialize_bool(true),
            Validity::Invalid => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

/// One broken rule (or a note), told so a newcomer can act on it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Finding {
    /// Short machine name of the rule, e.g. "lost", "duplicate", "G1a", "wrong-echo".
    pub rule: String,
    /// One or two sentences: what happened and why the rule forbids it.
    pub explanation: String,
    /// History indexes of the operations involved (invokes or completions).
    pub ops: Vec<usize>,
    /// True when this is only a note (an anomaly outside the chosen model): it does not
    /// change the verdict.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub note: bool,
}

/// What a checker returns.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    /// The verdict.
    pub valid: Validity,
    /// The checker's fields for `results.json`, snake_case, shaped like Maelstrom's.
    pub details: Value,
    /// Broken rules and notes, for the report (at most a few dozen examples each).
    pub findings: Vec<Finding>,
}

// Shared by every workload.
pub mod availability;
pub mod stats;

// Part 1 workloads.
pub mod counter;
pub mod echo;
pub mod set_full;
pub mod unique_ids;

// Part 2 workloads.
pub mod cycles;
pub mod kafka;
pub mod linearizable;
pub mod list_append;
pub mod rw_register;
