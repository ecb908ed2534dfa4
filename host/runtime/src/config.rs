//! TOML configuration: the `[node]` section the runtime reads and one section per handler
//! family, each validated by its family through [`Section`].
//!
//! Every key can be overridden from the environment without editing a file:
//! `GLOMERS__<SECTION>__<KEY>=<toml value>`, e.g. `GLOMERS__BROADCAST__FANOUT=4` or
//! `GLOMERS__NODE__HANDLERS='["echo"]'`. A value that does not parse as TOML is taken as a
//! string, so `GLOMERS__BROADCAST__TOPOLOGY=tree` works.
//!
//! Errors blame where the value came from: `FILE:LINE` for a key read from a file, the
//! variable's name for an override.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use toml::{Spanned, Table, Value};

/// Prefix of the environment variables that override single keys.
pub const ENV_PREFIX: &str = "GLOMERS__";

/// A configuration problem, reported at start with the file, the key and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the offending value came from: `FILE:LINE` (or the file alone), or
    /// "environment variable NAME".
    pub source: String,
    /// The offending key as `section.key`, or the section alone.
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.source, self.message)
        } else {
            write!(f, "{}: `{}`: {}", self.source, self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Where each key's value came from, by section and key (`FILE:LINE` or an env var).
type Origins = BTreeMap<String, BTreeMap<String, String>>;

/// A whole configuration: the parsed TOML plus where it came from.
#[derive(Debug, Clone)]
pub struct Config {
    source: String,
    table: Table,
    origins: Origins,
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl Config {
    /// Parses TOML text; `source` names it in error messages, with line numbers.
    pub fn parse(source: &str, text: &str) -> Result<Config, ConfigError> {
        let at = |offset: Option<usize>| match offset {
            Some(o) => format!("{source}:{}", line_of(text, o)),
            None => source.to_string(),
        };
        let table: Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
            source: at(e.span().map(|s| s.start)),
            key: String::new(),
            message: format!("not valid TOML: {}", e.message().trim_end()),
        })?;
        // The same text again, keeping where each value starts.
        let spans: BTreeMap<String, Spanned<Value>> = toml::from_str(text).unwrap_or_default();
        for (name, value) in &table {
            if !value.is_table() {
                return Err(ConfigError {
                    source: at(spans.get(name).map(|v| v.span().start)),
                    key: name.clone(),
                    message: "top-level keys must be sections like [node] or [broadcast]"
                        .to_string(),
                });
            }
        }
        let keys: BTreeMap<String, BTreeMap<String, Spanned<Value>>> =
            toml::from_str(text).unwrap_or_default();
        let origins = keys
            .iter()
            .map(|(section, entries)| {
                let lines = entries
                    .iter()
                    .map(|(key, v)| (key.clone(), at(Some(v.span().start))))
                    .collect();
                (section.clone(), lines)
            })
            .collect();
        Ok(Config {
            source: source.to_string(),
            table,
            origins,
        })
    }

    /// A configuration with no sections: every family at its defaults.
    pub fn empty() -> Config {
        Config {
            source: "no config".to_string(),
            table: Table::new(),
            origins: Origins::new(),
        }
    }

    /// Applies `GLOMERS__SECTION__KEY=value` overrides from `vars` (normally the process
    /// environment). Section and key are lower-cased.
    pub fn apply_overrides<I>(&mut self, vars: I) -> Result<Vec<String>, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut applied = Vec::new();
        for (name, raw) in vars {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                return Err(ConfigError {
                    source: format!("environment variable {name}"),
                    key: String::new(),
                    message: format!("expected {ENV_PREFIX}<SECTION>__<KEY>=value"),
                });
            };
            let (section, key) = (section.to_lowercase(), key.to_lowercase());
            self.origins
                .entry(section.clone())
                .or_default()
                .insert(key.clone(), format!("environment variable {name}"));
            let value = parse_override_value(&raw);
            let entry = self
                .table
                .entry(section.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            if let Value::Table(t) = entry {
                t.insert(key.clone(), value);
            }
            applied.push(format!("{section}.{key}={raw} (from {name})"));
        }
        Ok(applied)
    }

    /// Where the configuration came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Where `section.key`'s value came from: `FILE:LINE`, "environment variable NAME",
    /// or the file alone when the key is absent.
    pub fn origin_of(&self, section: &str, key: &str) -> String {
        self.origins
            .get(section)
            .and_then(|keys| keys.get(key))
            .cloned()
            .unwrap_or_else(|| self.source.clone())
    }

    /// The names of the sections present, in file order (sorted by TOML's map).
    pub fn section_names(&self) -> Vec<String> {
        self.table.keys().cloned().collect()
    }

    /// The keys present in `section` (none when it is absent).
    pub fn keys(&self, section: &str) -> Vec<String> {
        match self.table.get(section) {
            Some(Value::Table(t)) => t.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// A checked view of one section; an absent section is empty.
    pub fn section(&self, name: &str) -> Section {
        let table = match self.table.get(name) {
            Some(Value::Table(t)) => t.clone(),
            _ => Table::new(),
        };
        Section {
            source: self.source.clone(),
            name: name.to_string(),
            table,
            origins: self.origins.get(name).cloned().unwrap_or_default(),
            used: Vec::new(),
            defaults: Vec::new(),
        }
    }
}

fn parse_override_value(raw: &str) -> Value {
    let wrapped = format!("v = {raw}");
    match wrapped.parse::<Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| Value::String(raw.to_string())),
        Err(_) => Value::String(raw.to_string()),
    }
}

/// One section of the configuration, read key by key with defaults and checks. Call
/// [`Section::finish`] at the end: it rejects every key nobody asked for (a typo).
#[derive(Debug, Clone)]
pub struct Section {
    source: String,
    name: String,
    table: Table,
    /// Where each key's value came from.
    origins: BTreeMap<String, String>,
    used: Vec<String>,
    defaults: Vec<(String, Value)>,
}

impl Section {
    /// Every key read so far with the default it was read with, in reading order: what a
    /// family's built-in defaults are, for checking that a file documents them.
    pub fn defaults(&self) -> &[(String, Value)] {
        &self.defaults
    }

    /// The value this section holds for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.table.get(key)
    }

    /// An error about `key` of this section, blaming where its value came from.
    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            source: self
                .origins
                .get(key)
                .cloned()
                .unwrap_or_else(|| self.source.clone()),
            key: format!("{}.{}", self.name, key),
            message: message.into(),
        }
    }

    fn take(&mut self, key: &str, default: Value) -> Option<Value> {
        self.used.push(key.to_string());
        self.defaults.push((key.to_string(), default));
        self.table.get(key).cloned()
    }

    /// An integer in `range`, or `default` when absent.
    pub fn u64(
        &mut self,
        key: &str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let allowed = || format!("an integer in {}..={}", range.start(), range.end());
        let default_value = Value::Integer(i64::try_from(default).unwrap_or(i64::MAX));
        match self.take(key, default_value) {
            None => Ok(default),
            Some(Value::Integer(i)) if i >= 0 && range.contains(&(i as u64)) => Ok(i as u64),
            Some(Value::Integer(i)) => Err(self.error(
                key,
                format!("{i} is out of range: allowed is {}", allowed()),
            )),
            Some(other) => Err(self.error(
                key,
                format!(
                    "expected {}, found {} `{other}`",
                    allowed(),
                    other.type_str()
                ),
            )),
        }
    }

    /// A duration written in milliseconds as an integer key (by convention named `*_ms`).
    pub fn millis(
        &mut self,
        key: &str,
        default_ms: u64,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        self.u64(key, default_ms, range).map(Duration::from_millis)
    }

    /// A boolean, or `default` when absent.
    pub fn bool(&mut self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.take(key, Value::Boolean(default)) {
            None => Ok(default),
            Some(Value::Boolean(b)) => Ok(b),
            Some(other) => Err(self.error(
                key,
                format!(
                    "expected true or false, found {} `{other}`",
                    other.type_str()
                ),
            )),
        }
    }

    /// One of `allowed`, or `default` when absent.
    pub fn choice(
        &mut self,
        key: &str,
        default: &str,
        allowed: &[&str],
    ) -> Result<String, ConfigError> {
        let list = allowed.join(", ");
        match self.take(key, Value::String(default.to_string())) {
            None => Ok(default.to_string()),
            Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(s),
            Some(Value::String(s)) => {
                Err(self.error(key, format!("\"{s}\" is not allowed: choose one of {list}")))
            }
            Some(other) => Err(self.error(
                key,
                format!(
                    "expected a string, one of {list}; found {} `{other}`",
                    other.type_str()
                ),
            )),
        }
    }

    /// A list of strings, or `default` when absent.
    pub fn strings(&mut self, key: &str, default: &[&str]) -> Result<Vec<String>, ConfigError> {
        let default_value = Value::Array(default.iter().map(|s| Value::from(*s)).collect());
        match self.take(key, default_value) {
            None => Ok(default.iter().map(|s| s.to_string()).collect()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.error(
                        key,
                        format!("expected a list of strings, found an item `{other}`"),
                    )),
                })
                .collect(),
            Some(other) => Err(self.error(
                key,
                format!(
                    "expected a list of strings, found {} `{other}`",
                    other.type_str()
                ),
            )),
        }
    }

    /// Rejects keys that were present but never read: they are typos or stale options.
    pub fn finish(self) -> Result<(), ConfigError> {
        let mut allowed = self.used.clone();
        allowed.sort();
        allowed.dedup();
        for key in self.table.keys() {
            if !self.used.iter().any(|u| u == key) {
                let what = if allowed.is_empty() {
                    "this section takes no keys".to_string()
                } else {
                    format!("known keys are {}", allowed.join(", "))
                };
                return Err(self.error(key, format!("unknown key; {what}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        Config::parse("test.toml", text).unwrap()
    }

    #[test]
    fn reads_values_and_defaults() {
        let c = cfg("[b]\nfanout = 3\nacks = true\ntopology = \"tree\"\nlist = [\"a\"]\n");
        let mut s = c.section("b");
        assert_eq!(s.u64("fanout", 1, 1..=10).unwrap(), 3);
        assert_eq!(s.u64("missing", 7, 1..=10).unwrap(), 7);
        assert!(s.bool("acks", false).unwrap());
        assert_eq!(
            s.choice("topology", "grid", &["grid", "tree"]).unwrap(),
            "tree"
        );
        assert_eq!(s.strings("list", &[]).unwrap(), vec!["a"]);
        s.finish().unwrap();
    }

    #[test]
    fn out_of_range_names_file_key_and_range() {
        let c = cfg("[b]\nfanout = 0\n");
        let err = c.section("b").u64("fanout", 1, 1..=10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.toml:2: `b.fanout`: 0 is out of range: allowed is an integer in 1..=10"
        );
    }

    #[test]
    fn wrong_type_says_what_was_found() {
        let c = cfg("[b]\nfanout = \"3\"\nacks = 1\n");
        let mut s = c.section("b");
        let err = s.u64("fanout", 1, 1..=10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.toml:2: `b.fanout`: expected an integer in 1..=10, found string `\"3\"`"
        );
        let err = s.bool("acks", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.toml:3: `b.acks`: expected true or false, found integer `1`"
        );
    }

    #[test]
    fn bad_choice_lists_the_options() {
        let c = cfg("[b]\ntopology = \"ring\"\n");
        let err = c
            .section("b")
            .choice("topology", "grid", &["grid", "tree"])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.toml:2: `b.topology`: \"ring\" is not allowed: choose one of grid, tree"
        );
    }

    #[test]
    fn unknown_key_is_rejected_with_known_ones() {
        let c = cfg("[b]\nfanuot = 3\n");
        let mut s = c.section("b");
        s.u64("fanout", 1, 1..=10).unwrap();
        let err = s.finish().unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.toml:2: `b.fanuot`: unknown key; known keys are fanout"
        );
    }

    #[test]
    fn invalid_toml_and_bare_keys_are_rejected() {
        let err = Config::parse("x.toml", "[a]\nk = 1\n[b\n").unwrap_err();
        assert!(
            err.to_string().starts_with("x.toml:3: not valid TOML: "),
            "{err}"
        );
        let err = Config::parse("x.toml", "# comment\nfanout = 3\n").unwrap_err();
        assert_eq!(err.key, "fanout");
        assert_eq!(err.source, "x.toml:2");
    }

    #[test]
    fn env_overrides_parse_toml_or_fall_back_to_string() {
        let mut c = cfg("[b]\nfanout = 3\n");
        let applied = c
            .apply_overrides(vec![
                ("GLOMERS__B__FANOUT".to_string(), "5".to_string()),
                ("GLOMERS__B__TOPOLOGY".to_string(), "tree".to_string()),
                (
                    "GLOMERS__NODE__HANDLERS".to_string(),
                    "[\"echo\"]".to_string(),
                ),
                ("UNRELATED".to_string(), "1".to_string()),
            ])
            .unwrap();
        assert_eq!(applied.len(), 3);
        let mut s = c.section("b");
        assert_eq!(s.u64("fanout", 1, 1..=10).unwrap(), 5);
        assert_eq!(
            s.choice("topology", "grid", &["grid", "tree"]).unwrap(),
            "tree"
        );
        assert_eq!(
            c.section("node").strings("handlers", &[]).unwrap(),
            vec!["echo"]
        );
    }

    #[test]
    fn malformed_override_name_is_an_error() {
        let mut c = cfg("");
        let err = c
            .apply_overrides(vec![("GLOMERS__FANOUT".to_string(), "1".to_string())])
            .unwrap_err();
        assert!(err.source.contains("GLOMERS__FANOUT"));
    }

    #[test]
    fn errors_name_the_line_of_the_key_in_a_longer_file() {
        let text = "# a preset\n[node]\nhandlers = [\"b\"]\n\n[b]\n# the overlay\ntopology = \"star\"\nfanout = \"many\"\n";
        let c = Config::parse("presets/b.toml", text).unwrap();
        let mut s = c.section("b");
        s.choice("topology", "grid", &["grid", "star"]).unwrap();
        let err = s.u64("fanout", 1, 1..=10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "presets/b.toml:8: `b.fanout`: expected an integer in 1..=10, found string `\"many\"`"
        );
        assert_eq!(c.origin_of("node", "handlers"), "presets/b.toml:3");
        assert_eq!(c.origin_of("b", "absent"), "presets/b.toml");
    }

    #[test]
    fn a_bad_override_names_the_variable_not_the_file() {
        let mut c = cfg("[b]\nfanout = 3\n");
        c.apply_overrides(vec![("GLOMERS__B__FANOUT".to_string(), "abc".to_string())])
            .unwrap();
        let err = c.section("b").u64("fanout", 1, 1..=10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable GLOMERS__B__FANOUT: `b.fanout`: expected an integer in \
             1..=10, found string `\"abc\"`"
        );
        // An override of a key the file lacks, and an unknown key, blame the variable too.
        c.apply_overrides(vec![("GLOMERS__B__FANUOT".to_string(), "2".to_string())])
            .unwrap();
        let mut s = c.section("b");
        let _ = s.u64("fanout", 1, 1..=100);
        let err = s.finish().unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable GLOMERS__B__FANUOT: `b.fanuot`: unknown key; known keys are \
             fanout"
        );
        assert_eq!(
            c.origin_of("b", "fanout"),
            "environment variable GLOMERS__B__FANOUT"
        );
    }
}
