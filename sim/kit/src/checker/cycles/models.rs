//! Consistency models and the anomalies each one prohibits, following the sets Elle
//! 0.2 derives from its model graph (spec §5.7).

use std::fmt;

use super::graph::Rel;

/// A transactional consistency model accepted by `--consistency-models`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Model {
    /// No dirty writes (G0).
    ReadUncommitted,
    /// No dirty reads (G1a, G1b, G1c) either.
    ReadCommitted,
    /// No item anti-dependency cycles (G2-item) or lost updates either.
    RepeatableRead,
    /// No G-single and no internal inconsistency, but write skew (G2-item) is allowed.
    SnapshotIsolation,
    /// No dependency cycles at all.
    Serializable,
    /// Serializable, and consistent with real time.
    StrictSerializable,
}

/// Anomalies every model from read-uncommitted up prohibits.
const READ_UNCOMMITTED: &[&str] = &["G0", "cyclic-versions", "duplicate-elements"];
/// Added by read-committed.
const READ_COMMITTED: &[&str] = &[
    "G1",
    "G1a",
    "G1b",
    "G1c",
    "dirty-update",
    "incompatible-order",
    "future-read",
];
/// Added by repeatable-read.
const REPEATABLE_READ: &[&str] = &[
    "G2-item",
    "G-single-item",
    "G-nonadjacent-item",
    "G-cursor",
    "lost-update",
];
/// Added by snapshot isolation.
const SNAPSHOT_ISOLATION: &[&str] = &[
    "internal",
    "G-single",
    "G-single-item",
    "G-nonadjacent",
    "G-nonadjacent-item",
    "G-SI",
    "G-SIa",
    "G-SIb",
    "lost-update",
];
/// Added by serializable.
const SERIALIZABLE: &[&str] = &["G2", "write-skew", "predicate-read-miss", "internal"];
/// Cycle classes whose process and real-time variants strict serializability adds.
const CYCLE_BASES: &[&str] = &[
    "G0",
    "G1c",
    "G1",
    "G-single",
    "G-single-item",
    "G-nonadjacent",
    "G-nonadjacent-item",
    "G2",
    "G2-item",
];

impl Model {
    /// Every model, weakest first.
    pub const ALL: [Model; 6] = [
        Model::ReadUncommitted,
        Model::ReadCommitted,
        Model::RepeatableRead,
        Model::SnapshotIsolation,
        Model::Serializable,
        Model::StrictSerializable,
    ];

    /// Parses a model name as given on the command line ("read-committed", also with
    /// underscores; "strong-serializable" and "strict-serializable" are the same).
    pub fn parse(name: &str) -> Option<Model> {
        let n = name
            .trim()
            .trim_start_matches(':')
            .replace('_', "-")
            .to_ascii_lowercase();
        Some(match n.as_str() {
            "read-uncommitted" => Model::ReadUncommitted,
            "read-committed" => Model::ReadCommitted,
            "repeatable-read" => Model::RepeatableRead,
            "snapshot-isolation" => Model::SnapshotIsolation,
            "serializable" => Model::Serializable,
            "strict-serializable" | "strong-serializable" => Model::StrictSerializable,
            _ => return None,
        })
    }

    /// The model's name.
    pub const fn name(self) -> &'static str {
        match self {
            Model::ReadUncommitted => "read-uncommitted",
            Model::ReadCommitted => "read-committed",
            Model::RepeatableRead => "repeatable-read",
            Model::SnapshotIsolation => "snapshot-isolation",
            Model::Serializable => "serializable",
            Model::StrictSerializable => "strict-serializable",
        }
    }

    /// The models this one directly implies (a history satisfying `self` satisfies them).
    fn weaker(self) -> &'static [Model] {
        match self {
            Model::ReadUncommitted => &[],
            Model::ReadCommitted => &[Model::ReadUncommitted],
            Model::RepeatableRead | Model::SnapshotIsolation => &[Model::ReadCommitted],
            Model::Serializable => &[Model::RepeatableRead, Model::SnapshotIsolation],
            Model::StrictSerializable => &[Model::Serializable],
        }
    }

    /// True if `self` implies `other` (or is it).
    pub fn implies(self, other: Model) -> bool {
        self == other || self.weaker().iter().any(|w| w.implies(other))
    }

    /// True if a history showing `anomaly` cannot satisfy this model.
    pub fn prohibits(self, anomaly: &str) -> bool {
        let direct = match self {
            Model::ReadUncommitted => READ_UNCOMMITTED.contains(&anomaly),
            Model::ReadCommitted => READ_COMMITTED.contains(&anomaly),
            Model::RepeatableRead => REPEATABLE_READ.contains(&anomaly),
            Model::SnapshotIsolation => SNAPSHOT_ISOLATION.contains(&anomaly),
            Model::Serializable => SERIALIZABLE.contains(&anomaly),
            Model::StrictSerializable => CYCLE_BASES.iter().any(|base| {
                anomaly
                    .strip_prefix(base)
                    .is_some_and(|rest| rest == "-process" || rest == "-realtime")
            }),
        };
        direct || self.weaker().iter().any(|w| w.prohibits(anomaly))
    }

    /// True if the model's anomalies include real-time variants (real-time edges are
    /// needed in the graph).
    pub fn needs_realtime(self) -> bool {
        self == Model::StrictSerializable
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The models a check holds a history to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Models(Vec<Model>);

impl Models {
    /// Parses model names; an empty list means strict-serializable (Maelstrom's
    /// default). Returns the unknown names as the error.
    pub fn parse(names: &[String]) -> Result<Models, Vec<String>> {
        let mut models = Vec::new();
        let mut unknown = Vec::new();
        for name in names {
            match Model::parse(name) {
                Some(m) => models.push(m),
                None => unknown.push(name.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(unknown);
        }
        if models.is_empty() {
            models.push(Model::StrictSerializable);
        }
        models.sort();
        models.dedup();
        Ok(Models(models))
    }

    /// The models, weakest first.
    pub fn list(&self) -> &[Model] {
        &self.0
    }

    /// The models prohibiting `anomaly`, if any.
    pub fn prohibiting(&self, anomaly: &str) -> Vec<Model> {
        self.0
            .iter()
            .copied()
            .filter(|m| m.prohibits(anomaly))
            .collect()
    }

    /// True if some model prohibits `anomaly`.
    pub fn prohibit(&self, anomaly: &str) -> bool {
        self.0.iter().any(|m| m.prohibits(anomaly))
    }

    /// The order relation whose cycle variants matter (realtime for strict
    /// serializability), if any.
    pub fn order_edges(&self) -> Option<Rel> {
        self.0
            .iter()
            .any(|m| m.needs_realtime())
            .then_some(Rel::Realtime)
    }

    /// True if G-nonadjacent must be told apart from G2-item (snapshot isolation).
    pub fn nonadjacent_matters(&self) -> bool {
        self.0.contains(&Model::SnapshotIsolation)
    }

    /// The names joined for prose: "read-committed and serializable".
    pub fn describe(&self) -> String {
        join_names(&self.0)
    }
}

/// Models ruled out by a set of anomalies: `(weakest ruled-out models, the others)`,
/// like Elle's `:not` and `:also-not`.
pub fn ruled_out<'a>(
    anomalies: impl IntoIterator<Item = &'a str> + Clone,
) -> (Vec<Model>, Vec<Model>) {
    let out: Vec<Model> = Model::ALL
        .into_iter()
        .filter(|m| anomalies.clone().into_iter().any(|a| m.prohibits(a)))
        .collect();
    let (weakest, also): (Vec<Model>, Vec<Model>) = out
        .iter()
        .partition(|m| !out.iter().any(|o| o != *m && m.implies(*o)));
    (weakest, also)
}

/// Joins model names for prose.
pub fn join_names(models: &[Model]) -> String {
    let names: Vec<&str> = models.iter().map(|m| m.name()).collect();
    match names.len() {
        0 => String::new(),
        1 => names[0].to_string(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prohibited_sets_follow_the_spec_table() {
        use Model::*;
        assert!(ReadUncommitted.prohibits("G0"));
        assert!(!ReadUncommitted.prohibits("G1c"));
        for a in ["G1a", "G1b", "G1c", "dirty-update", "incompatible-order"] {
            assert!(ReadCommitted.prohibits(a), "{a}");
        }
        for a in [
            "internal",
            "lost-update",
            "G-single-item",
            "G2-item",
            "G1c-realtime",
        ] {
            assert!(!ReadCommitted.prohibits(a), "{a}");
        }
        assert!(RepeatableRead.prohibits("G2-item") && RepeatableRead.prohibits("lost-update"));
        assert!(!RepeatableRead.prohibits("internal"));
        assert!(
            SnapshotIsolation.prohibits("internal") && SnapshotIsolation.prohibits("G-single-item")
        );
        assert!(!SnapshotIsolation.prohibits("G2-item"));
        assert!(Serializable.prohibits("G2-item") && Serializable.prohibits("internal"));
        assert!(!Serializable.prohibits("G2-item-realtime"));
        for a in [
            "G0-realtime",
            "G1c-realtime",
            "G-single-item-realtime",
            "G2-item-process",
            "G1a",
        ] {
            assert!(StrictSerializable.prohibits(a), "{a}");
        }
        assert!(!StrictSerializable.prohibits("empty-transaction-graph"));
    }

    #[test]
    fn parsing_defaults_and_rejects() {
        assert_eq!(
            Models::parse(&[]).unwrap().list(),
            &[Model::StrictSerializable]
        );
        let m = Models::parse(&["serializable".into(), "read_committed".into()]).unwrap();
        assert_eq!(m.list(), &[Model::ReadCommitted, Model::Serializable]);
        assert_eq!(
            Models::parse(&["linearizable".into()]),
            Err(vec!["linearizable".to_string()])
        );
    }

    #[test]
    fn ruled_out_splits_weakest_from_the_rest() {
        let (not, also) = ruled_out(["G2-item"]);
        assert_eq!(not, vec![Model::RepeatableRead]);
        assert_eq!(also, vec![Model::Serializable, Model::StrictSerializable]);
        let (not, _) = ruled_out(["G1c", "internal"]);
        assert_eq!(not, vec![Model::ReadCommitted]);
    }
}
