//! Link-time registration of handler families and selection of the enabled set.
//!
//! A family submits a [`HandlerSpec`] with `inventory::submit!`; at start the host reads
//! `node.handlers` from the config, builds each named family from its own config section
//! and installs them in a [`Node`]. Unknown names, bad sections and two families
//! answering one message type are start-up errors.

use slog::Logger;

use crate::config::{Config, ConfigError, Section};
use crate::ctx::Seeds;
use crate::family::Family;
use crate::node::Node;

/// What a handler family registers. The message types it answers come from the message
/// enum of the handler its `build` returns.
pub struct HandlerSpec {
    /// The family's name, used in `node.handlers` and as its config section.
    pub family: &'static str,
    /// One line on what it does, shown in `--list`.
    pub summary: &'static str,
    /// Builds the family from its config section. It must read every key it supports
    /// through the [`Section`] (which rejects the rest) and validate the values.
    pub build: fn(&mut Section) -> Result<Family, ConfigError>,
}

impl HandlerSpec {
    /// The message types the family answers with its default settings.
    pub fn default_message_types(&self) -> Result<Vec<&'static str>, String> {
        let mut section = Config::empty().section(self.family);
        let family = (self.build)(&mut section).map_err(|e| e.to_string())?;
        family
            .message_types()
            .map(<[_]>::to_vec)
            .map_err(str::to_string)
    }
}

inventory::collect!(HandlerSpec);

/// Every family linked into this binary, sorted by name.
pub fn all_specs() -> Vec<&'static HandlerSpec> {
    let mut specs: Vec<&'static HandlerSpec> = inventory::iter::<HandlerSpec>.into_iter().collect();
    specs.sort_by_key(|s| s.family);
    specs
}

/// A start-up problem: the config or the combination of enabled families.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupError(pub String);

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartupError {}

impl From<ConfigError> for StartupError {
    fn from(e: ConfigError) -> Self {
        StartupError(e.to_string())
    }
}

/// The `[node]` section: which families run and how loudly the node logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    /// Enabled family names.
    pub handlers: Vec<String>,
    /// Log level name.
    pub log_level: String,
}

/// Reads and checks `[node]`.
pub fn node_settings(config: &Config) -> Result<NodeSettings, ConfigError> {
    let mut s = config.section("node");
    let handlers = s.strings("handlers", &[])?;
    let log_level = s.choice("log_level", "info", crate::logging::LEVELS)?;
    s.finish()?;
    Ok(NodeSettings {
        handlers,
        log_level,
    })
}

/// Builds a node with the families `config` enables, from the given specs, with `seeds`
/// for its randomness and nonce.
///
/// Every section present in the file must be `node` or a known family, and every known
/// family's section is validated even when the family is not enabled, so a typo in a
/// preset fails at once rather than when someone enables that family.
pub fn build_node(
    config: &Config,
    specs: &[&'static HandlerSpec],
    log: Logger,
    seeds: Seeds,
) -> Result<Node, StartupError> {
    let settings = node_settings(config)?;
    let known: Vec<&str> = specs.iter().map(|s| s.family).collect();
    for name in config.section_names() {
        if name != "node" && !known.contains(&name.as_str()) {
            return Err(StartupError(format!(
                "{}: unknown section [{name}]; sections are [node] and one per handler family: {}",
                config.source(),
                known.join(", ")
            )));
        }
    }
    if settings.handlers.is_empty() {
        return Err(StartupError(format!(
            "{}: `node.handlers` is empty or missing; list the families to enable, from: {}",
            config.source(),
            known.join(", ")
        )));
    }
    for (i, name) in settings.handlers.iter().enumerate() {
        if !known.contains(&name.as_str()) {
            return Err(StartupError(format!(
                "{}: `node.handlers` names unknown family \"{name}\"; known families: {}",
                config.source(),
                known.join(", ")
            )));
        }
        if settings.handlers[..i].contains(name) {
            return Err(StartupError(format!(
                "{}: `node.handlers` lists \"{name}\" twice",
                config.source()
            )));
        }
    }
    let mut installed = Vec::new();
    for spec in specs {
        let mut section = config.section(spec.family);
        let family = (spec.build)(&mut section)?.named(spec.family);
        section.finish()?;
        if settings.handlers.iter().any(|h| h == spec.family) {
            installed.push(family);
        }
    }
    // Keep the order the config lists them in.
    installed.sort_by_key(|f| settings.handlers.iter().position(|h| h == f.name()));
    Node::new(installed, log, seeds).map_err(|c| StartupError(format!("{}: {c}", config.source())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::Ctx;
    use crate::error::Result;
    use crate::handler::{Handler, Never, Sender};
    use serde::Deserialize;

    /// A family answering the message types of `M`, doing nothing.
    struct Nop<M>(std::marker::PhantomData<M>);

    impl<M: for<'de> Deserialize<'de> + 'static> Handler for Nop<M> {
        type Msg<'a> = M;
        type Timer = Never;
        type Rpc = Never;
        fn on_message(&mut self, _: &mut Ctx<Self>, _: Sender, _: M) -> Result<()> {
            Ok(())
        }
    }

    #[derive(Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum ReadA {
        Read,
        A,
    }

    #[derive(Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum ReadB {
        Read,
        B,
    }

    #[derive(Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum JustC {
        C,
    }

    fn build_nop<M: for<'de> Deserialize<'de> + 'static>(
        s: &mut Section,
    ) -> std::result::Result<Family, ConfigError> {
        s.u64("knob", 1, 1..=5)?;
        Ok(Family::new(Nop::<M>(std::marker::PhantomData)))
    }

    static A: HandlerSpec = HandlerSpec {
        family: "alpha",
        summary: "test family",
        build: build_nop::<ReadA>,
    };
    static B: HandlerSpec = HandlerSpec {
        family: "beta",
        summary: "test family",
        build: build_nop::<ReadB>,
    };
    static C: HandlerSpec = HandlerSpec {
        family: "gamma",
        summary: "test family",
        build: build_nop::<JustC>,
    };

    fn build(text: &str) -> std::result::Result<Node, StartupError> {
        let config = Config::parse("t.toml", text).unwrap();
        build_node(
            &config,
            &[&A, &B, &C],
            slog::Logger::root(slog::Discard, slog::o!()),
            Seeds::fixed(1, 1),
        )
    }

    #[test]
    fn message_types_come_from_the_message_enum() {
        assert_eq!(A.default_message_types().unwrap(), vec!["read", "a"]);
        assert_eq!(C.default_message_types().unwrap(), vec!["c"]);
    }

    #[test]
    fn conflict_names_both_families_and_the_type() {
        let err = build("[node]\nhandlers = [\"alpha\", \"beta\"]\n")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "t.toml: handler families `alpha` and `beta` both answer message type `read`; enable only one of them"
        );
    }

    #[test]
    fn disjoint_families_install() {
        assert!(build("[node]\nhandlers = [\"alpha\", \"gamma\"]\n").is_ok());
        assert!(build("[node]\nhandlers = [\"beta\"]\n[alpha]\nknob = 2\n").is_ok());
    }

    #[test]
    fn unknown_family_and_duplicates_are_rejected() {
        let err = build("[node]\nhandlers = [\"delta\"]\n").err().unwrap();
        assert_eq!(
            err.to_string(),
            "t.toml: `node.handlers` names unknown family \"delta\"; known families: alpha, beta, gamma"
        );
        let err = build("[node]\nhandlers = [\"gamma\", \"gamma\"]\n")
            .err()
            .unwrap();
        assert!(err.to_string().contains("twice"));
        let err = build("[node]\n").err().unwrap();
        assert!(err.to_string().contains("empty or missing"));
    }

    #[test]
    fn unknown_section_and_bad_keys_fail_even_for_disabled_families() {
        let err = build("[node]\nhandlers = [\"gamma\"]\n[omega]\n")
            .err()
            .unwrap();
        assert!(err.to_string().contains("unknown section [omega]"), "{err}");
        let err = build("[node]\nhandlers = [\"gamma\"]\n[alpha]\nknob = 9\n")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "t.toml:4: `alpha.knob`: 9 is out of range: allowed is an integer in 1..=5"
        );
        let err = build("[node]\nhandlers = [\"gamma\"]\n[beta]\nknbo = 1\n")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "t.toml:4: `beta.knbo`: unknown key; known keys are knob"
        );
    }

    #[test]
    fn bad_log_level_lists_levels() {
        let err = build("[node]\nhandlers = [\"gamma\"]\nlog_level = \"loud\"\n")
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("choose one of trace, debug"),
            "{err}"
        );
    }
}
