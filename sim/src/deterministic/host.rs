//! The nodes of a deterministic run: the host's real [`Node`] (runtime plus the handler
//! families linked into this binary), built in-process from the same config words the
//! host would get on its command line, with seeds derived from the run's seed.

use crate::seed;
use glomers_runtime::config::Config;
use glomers_runtime::registry::{all_specs, build_node};
use glomers_runtime::startup::{parse_args, resolve_config, Preset, CONFIG_ENV};
use glomers_runtime::{logging, Node, Seeds};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A node the deterministic driver can run: sans-IO, driven by lines and a clock.
pub trait SimNode {
    /// Handles one input line (without newline) at `now`.
    fn handle_line(&mut self, now: Duration, line: &[u8]);
    /// Fires what is due at `now`.
    fn handle_timeout(&mut self, now: Duration);
    /// When [`SimNode::handle_timeout`] next has work.
    fn next_deadline(&mut self) -> Option<Duration>;
    /// Lines written since the last [`SimNode::clear_output`].
    fn output(&self) -> &[u8];
    /// Forgets the output.
    fn clear_output(&mut self);
}

impl SimNode for Node {
    fn handle_line(&mut self, now: Duration, line: &[u8]) {
        Node::handle_line(self, now, line)
    }
    fn handle_timeout(&mut self, now: Duration) {
        Node::handle_timeout(self, now)
    }
    fn next_deadline(&mut self) -> Option<Duration> {
        Node::next_deadline(self)
    }
    fn output(&self) -> &[u8] {
        Node::output(self)
    }
    fn clear_output(&mut self) {
        Node::clear_output(self)
    }
}

/// Builds the nodes of a run.
pub trait NodeFactory {
    /// Node number `index` (id `id`) of a run with seed `seed`.
    fn build(&self, index: usize, id: &str, seed: u64) -> Result<Box<dyn SimNode>, String>;
}

/// The text of a run's host config and the overrides applied to it: everything needed
/// to build the same nodes again (a replay file carries it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostConfig {
    /// Where it came from (a path or an embedded preset).
    pub source: String,
    /// The TOML text.
    pub text: String,
    /// `GLOMERS__SECTION__KEY` overrides, as (variable, value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<(String, String)>,
}

impl HostConfig {
    /// Resolves the config named by the node arguments `args`, as `glomers-host` resolves
    /// its own: a `--config PATH` or bare `x.toml` word, else `GLOMERS_CONFIG`, else
    /// `default.toml`; files first, then the embedded presets; with the process's
    /// `GLOMERS__SECTION__KEY` overrides.
    pub fn from_args(args: &[String], presets: &[Preset]) -> Result<HostConfig, String> {
        let parsed = parse_args(args.iter().cloned());
        let name = parsed
            .config
            .or_else(|| std::env::var(CONFIG_ENV).ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "default.toml".to_string());
        let (source, text) = resolve_config(&name, presets)?;
        let overrides = std::env::vars()
            .filter(|(k, _)| k.starts_with(glomers_runtime::config::ENV_PREFIX))
            .collect();
        Ok(HostConfig {
            source,
            text,
            overrides,
        })
    }

    /// The embedded preset `name` (`broadcast-3e` or `broadcast-3e.toml`) without
    /// overrides. Unlike [`HostConfig::from_args`] it reads neither files nor the
    /// process environment, so tests running side by side each get exactly their own
    /// config; add overrides with [`HostConfig::with_override`].
    pub fn preset(name: &str, presets: &[Preset]) -> Result<HostConfig, String> {
        let stem = name.strip_suffix(".toml").unwrap_or(name);
        let preset = presets.iter().find(|p| p.name == stem).ok_or_else(|| {
            let names: Vec<&str> = presets.iter().map(|p| p.name).collect();
            format!(
                "no embedded preset `{stem}` (there are {})",
                names.join(", ")
            )
        })?;
        Ok(HostConfig {
            source: format!("embedded preset {}.toml", preset.name),
            text: preset.text.to_string(),
            overrides: Vec::new(),
        })
    }

    /// This config with `[section] key = value` overridden, as the host's
    /// `GLOMERS__SECTION__KEY=value` would (`value` is a TOML value: `0`, `"total"`,
    /// `true`).
    pub fn with_override(mut self, section: &str, key: &str, value: &str) -> HostConfig {
        let variable = format!(
            "{}{}__{}",
            glomers_runtime::config::ENV_PREFIX,
            section.to_uppercase(),
            key.to_uppercase()
        );
        self.overrides.push((variable, value.to_string()));
        self
    }
}

/// Builds the host's nodes from a [`HostConfig`].
pub struct HostNodes {
    config: Config,
    log_level: &'static str,
}

impl HostNodes {
    /// Resolves the config named by the node arguments `args` (see
    /// [`HostConfig::from_args`]).
    pub fn from_args(args: &[String], presets: &[Preset]) -> Result<HostNodes, String> {
        HostNodes::new(&HostConfig::from_args(args, presets)?)
    }

    /// Parses `c` and applies its overrides.
    pub fn new(c: &HostConfig) -> Result<HostNodes, String> {
        let mut config = Config::parse(&c.source, &c.text).map_err(|e| e.to_string())?;
        config
            .apply_overrides(c.overrides.iter().cloned())
            .map_err(|e| e.to_string())?;
        Ok(HostNodes {
            config,
            log_level: "off",
        })
    }

    /// Lets the nodes log at `level` on stderr (they are silent by default).
    pub fn logging(mut self, level: &'static str) -> HostNodes {
        self.log_level = level;
        self
    }

    /// Where the config came from.
    pub fn source(&self) -> &str {
        self.config.source()
    }
}

/// The seeds of node `index` in a run with `seed`.
pub fn node_seeds(seed: u64, index: usize) -> Seeds {
    Seeds {
        rng: seed::derive(seed, "node-rng", index as u64),
        nonce: seed::derive(seed, "node-nonce", index as u64),
    }
}

impl NodeFactory for HostNodes {
    fn build(&self, index: usize, id: &str, seed: u64) -> Result<Box<dyn SimNode>, String> {
        let log = logging::stderr_logger(self.log_level).new(slog::o!("node" => id.to_string()));
        build_node(&self.config, &all_specs(), log, node_seeds(seed, index))
            .map(|n| Box::new(n) as Box<dyn SimNode>)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preset_is_found_by_name_and_overrides_apply_when_nodes_are_built() {
        glomers_handlers::link();
        let presets = glomers_handlers::PRESETS;
        let c = HostConfig::preset("broadcast-3e.toml", presets).unwrap();
        assert_eq!(c, HostConfig::preset("broadcast-3e", presets).unwrap());
        assert!(c.text.contains("round_ms = 1700") && c.overrides.is_empty());
        let err = HostConfig::preset("broadcast-9z", presets).unwrap_err();
        assert!(err.contains("broadcast-3e"), "{err}");
        let c = c.with_override("broadcast", "fanout", "\"many\"");
        assert_eq!(
            c.overrides,
            vec![(
                "GLOMERS__BROADCAST__FANOUT".to_string(),
                "\"many\"".to_string()
            )]
        );
        let nodes = HostNodes::new(&c).unwrap();
        let refused = nodes
            .build(0, "n0", 1)
            .err()
            .expect("a bad override is refused");
        assert!(refused.contains("broadcast.fanout"), "{refused}");
    }
}
