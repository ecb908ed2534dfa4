//! From the command line to a running node: argument handling, config lookup (files and
//! the presets embedded in the binary), environment overrides and logging set-up.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use slog::{info, warn};

use crate::config::Config;
use crate::ctx::Seeds;
use crate::registry::{all_specs, build_node, node_settings};
use crate::{io_loop, logging};

/// A config file compiled into the binary, so nodes started from any directory (Maelstrom
/// starts them in /tmp) can name it.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// File name without `.toml`, e.g. "broadcast-3d".
    pub name: &'static str,
    /// The file's text.
    pub text: &'static str,
}

/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "GLOMERS_CONFIG";
/// Environment variable overriding the log level.
pub const LOG_ENV: &str = "GLOMERS_LOG";
/// Environment variable fixing the seed of the node's random number generator (to replay
/// a run); without it the seed is drawn at start.
pub const SEED_ENV: &str = "GLOMERS_SEED";

/// What the command line asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// `--config PATH`, `--config=PATH`, or a bare word ending in `.toml`.
    pub config: Option<String>,
    /// `--list`: print the handler families and presets.
    pub list: bool,
    /// `--help` / `-h`.
    pub help: bool,
    /// Words we do not understand; logged and ignored.
    pub ignored: Vec<String>,
}

/// Parses the arguments after the program name. Never fails: Maelstrom passes stray
/// words to the binary (see the spec on 6c), so unknown words are only reported.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Args {
    let mut parsed = Args::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--config" | "-c" => match it.next() {
                Some(path) => parsed.config = Some(path),
                None => parsed.ignored.push(arg),
            },
            "--list" => parsed.list = true,
            "--help" | "-h" => parsed.help = true,
            _ => {
                if let Some(path) = arg.strip_prefix("--config=") {
                    parsed.config = Some(path.to_string());
                } else if arg.ends_with(".toml") && !arg.starts_with('-') {
                    parsed.config = Some(arg);
                } else {
                    parsed.ignored.push(arg);
                }
            }
        }
    }
    parsed
}

/// Finds the config named `name`: a path as given (relative to the working directory),
/// then relative to the binary's folder and its parents (also under `config/`), then an
/// embedded preset with that file name. Returns a description of the source and the text.
pub fn resolve_config(name: &str, presets: &[Preset]) -> Result<(String, String), String> {
    let mut tried = Vec::new();
    let given = Path::new(name);
    let mut candidates: Vec<PathBuf> = vec![given.to_path_buf()];
    if given.is_relative() {
        if let Ok(exe) = std::env::current_exe() {
            for dir in exe.ancestors().skip(1) {
                candidates.push(dir.join(given));
                candidates.push(dir.join("config").join(given));
            }
        }
    }
    for path in candidates {
        match std::fs::read_to_string(&path) {
            Ok(text) => return Ok((path.display().to_string(), text)),
            Err(_) => tried.push(path.display().to_string()),
        }
    }
    let stem = given
        .file_name()
        .and_then(|f| f.to_str())
        .map(|f| f.strip_suffix(".toml").unwrap_or(f))
        .unwrap_or(name);
    if let Some(p) = presets.iter().find(|p| p.name == stem) {
        return Ok((
            format!("embedded preset {}.toml", p.name),
            p.text.to_string(),
        ));
    }
    let mut names: Vec<&str> = presets.iter().map(|p| p.name).collect();
    names.sort_unstable();
    let hint = closest_preset(stem, &names)
        .map(|p| format!("; did you mean {p}.toml?"))
        .unwrap_or_default();
    Err(format!(
        "config `{name}` not found: it is not one of the embedded presets ({}){hint} \
         (`glomers-host --list` lists them), and no file by that name exists (tried {})",
        names.join(", "),
        tried.join(", ")
    ))
}

/// The preset a mistyped name most likely meant: within two edits, or differing only in
/// dashes and case.
fn closest_preset<'a>(stem: &str, names: &[&'a str]) -> Option<&'a str> {
    let plain = |s: &str| s.replace(['-', '_'], "").to_lowercase();
    names
        .iter()
        .map(|n| {
            (
                edit_distance(stem, n).min(edit_distance(&plain(stem), &plain(n))),
                *n,
            )
        })
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, n)| n)
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Checks what only the environment can get wrong before the families see the config:
/// an override naming a section no family has, or `GLOMERS__NODE__HANDLERS` naming an
/// unknown family. The error names the variable, not the file.
pub fn check_overrides(config: &Config, families: &[&str]) -> Result<(), String> {
    let from_env = |section: &str, key: &str| {
        let origin = config.origin_of(section, key);
        origin
            .starts_with("environment variable ")
            .then_some(origin)
    };
    let known = families.join(", ");
    for section in config.section_names() {
        if section == "node" || families.contains(&section.as_str()) {
            continue;
        }
        if let Some(var) = config
            .keys(&section)
            .iter()
            .find_map(|k| from_env(&section, k))
        {
            return Err(format!(
                "{var}: unknown section [{section}]; sections are [node] and one per handler \
                 family: {known}"
            ));
        }
    }
    if let Some(var) = from_env("node", "handlers") {
        let handlers = config
            .section("node")
            .strings("handlers", &[])
            .map_err(|e| e.to_string())?;
        if let Some(bad) = handlers.iter().find(|h| !families.contains(&h.as_str())) {
            return Err(format!(
                "{var}: `node.handlers` names unknown family \"{bad}\"; known families: {known}"
            ));
        }
    }
    Ok(())
}

fn help_text(presets: &[Preset]) -> String {
    let names: Vec<&str> = presets.iter().map(|p| p.name).collect();
    format!(
        "glomers-host: a Maelstrom node with pluggable handler families.\n\n\
         usage: glomers-host [--config PATH | PATH.toml] [--list]\n\n\
         The config is also taken from ${CONFIG_ENV}; without one the embedded default.toml\n\
         is used. Relative paths are tried from the working directory, then from the\n\
         binary's folder upwards (and its config/ subfolders), then as embedded presets:\n  {}\n\
         Single keys can be overridden with GLOMERS__<SECTION>__<KEY>=<value>; the log level\n\
         with ${LOG_ENV}. Logs go to stderr; stdout carries protocol messages only.\n",
        names.join(", ")
    )
}

fn list_text(presets: &[Preset]) -> String {
    let mut text = String::from("handler families:\n");
    for spec in all_specs() {
        let types = match spec.default_message_types() {
            Ok(types) => types.join(", "),
            Err(e) => format!("cannot be routed: {e}"),
        };
        text.push_str(&format!(
            "  {:<10} {}  [{}]\n",
            spec.family, spec.summary, types
        ));
    }
    text.push_str("presets:\n");
    for p in presets {
        text.push_str(&format!("  {}.toml\n", p.name));
    }
    text
}

/// The whole program: parse arguments, load config, build the node, serve stdin.
/// Exit codes: 0 after stdin closed, 2 for a bad configuration, 1 if stdout failed.
pub fn main_with_presets(presets: &[Preset]) -> ExitCode {
    let args = parse_args(std::env::args().skip(1));
    if args.help {
        print!("{}", help_text(presets));
        return ExitCode::SUCCESS;
    }
    if args.list {
        print!("{}", list_text(presets));
        return ExitCode::SUCCESS;
    }
    let name = args
        .config
        .clone()
        .or_else(|| std::env::var(CONFIG_ENV).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "default.toml".to_string());
    let (source, text) = match resolve_config(&name, presets) {
        Ok(found) => found,
        Err(e) => return startup_failure(&e),
    };
    let mut config = match Config::parse(&source, &text) {
        Ok(c) => c,
        Err(e) => return startup_failure(&e.to_string()),
    };
    let overrides = match config.apply_overrides(std::env::vars()) {
        Ok(o) => o,
        Err(e) => return startup_failure(&e.to_string()),
    };
    let families: Vec<&str> = all_specs().iter().map(|s| s.family).collect();
    if let Err(e) = check_overrides(&config, &families) {
        return startup_failure(&e);
    }
    let level = match (std::env::var(LOG_ENV), node_settings(&config)) {
        (Ok(l), _) if logging::parse_level(&l).is_some() => l,
        (_, Ok(s)) => s.log_level,
        (_, Err(e)) => return startup_failure(&e.to_string()),
    };
    let log = logging::stderr_logger(&level);
    for word in &args.ignored {
        warn!(log, "ignoring unknown command-line word"; "word" => word);
    }
    let seeds = process_seeds();
    let mut node = match build_node(&config, &all_specs(), log.clone(), seeds) {
        Ok(n) => n,
        Err(e) => return startup_failure(&e.to_string()),
    };
    info!(log, "glomers-host ready"; "config" => &source, "overrides" => overrides.join("; "),
        "seed" => seeds.rng, "nonce" => format!("{:x}", seeds.nonce));
    match io_loop::run(&mut node, &log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            slog::error!(log, "stdout failed: {e}");
            ExitCode::from(1)
        }
    }
}

/// The seeds of this process: the generator's from `GLOMERS_SEED` or the OS, and as the
/// nonce the start time in nanoseconds since the Unix epoch, which differs between
/// restarts of a node as long as the wall clock does not run backwards.
pub fn process_seeds() -> Seeds {
    use std::hash::{BuildHasher, Hasher};
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    let rng = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            // std seeds each RandomState from the operating system's randomness.
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(nonce);
            h.finish()
        });
    Seeds { rng, nonce }
}

fn startup_failure(message: &str) -> ExitCode {
    eprintln!("glomers-host: {message}");
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn config_forms_and_stray_words() {
        assert_eq!(
            parse_args(words("--config a.toml")).config.as_deref(),
            Some("a.toml")
        );
        assert_eq!(parse_args(words("--config=b")).config.as_deref(), Some("b"));
        assert_eq!(
            parse_args(words("x/c.toml")).config.as_deref(),
            Some("x/c.toml")
        );
        let a = parse_args(words("–-nemesis partition"));
        assert_eq!(a.ignored, words("–-nemesis partition"));
        assert_eq!(a.config, None);
        assert_eq!(parse_args(words("--config")).ignored, words("--config"));
    }

    #[test]
    fn presets_resolve_by_name_and_missing_configs_say_where_they_looked() {
        // A name no file on disk has, so only the embedded preset can match.
        let presets = [Preset {
            name: "zz-only-embedded",
            text: "[node]\n",
        }];
        let (src, text) = resolve_config("config/zz-only-embedded.toml", &presets).unwrap();
        assert_eq!(src, "embedded preset zz-only-embedded.toml");
        assert_eq!(text, "[node]\n");
        assert!(resolve_config("zz-only-embedded", &presets).is_ok());
        let err = resolve_config("nope.toml", &presets).unwrap_err();
        assert!(
            err.starts_with(
                "config `nope.toml` not found: it is not one of the embedded presets \
                 (zz-only-embedded) (`glomers-host --list` lists them), and no file by that \
                 name exists (tried nope.toml, "
            ),
            "{err}"
        );
        let err = resolve_config("zz-only-embeded.toml", &presets).unwrap_err();
        assert!(
            err.contains("; did you mean zz-only-embedded.toml?"),
            "{err}"
        );
    }

    #[test]
    fn near_misses_of_preset_names_are_suggested() {
        let names = ["broadcast-3d", "broadcast-3e", "kafka", "kafka-5c", "txn"];
        assert_eq!(closest_preset("kafka5c", &names), Some("kafka-5c"));
        assert_eq!(closest_preset("Broadcast_3E", &names), Some("broadcast-3e"));
        assert_eq!(closest_preset("txm", &names), Some("txn"));
        assert_eq!(closest_preset("counter", &names), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn overrides_of_unknown_sections_or_families_name_the_variable() {
        let families = ["broadcast", "echo"];
        let mut c = Config::parse("f.toml", "[node]\nhandlers = [\"echo\"]\n").unwrap();
        c.apply_overrides(vec![(
            "GLOMERS__BORADCAST__FANOUT".to_string(),
            "3".to_string(),
        )])
        .unwrap();
        assert_eq!(
            check_overrides(&c, &families).unwrap_err(),
            "environment variable GLOMERS__BORADCAST__FANOUT: unknown section [boradcast]; \
             sections are [node] and one per handler family: broadcast, echo"
        );
        let mut c = Config::parse("f.toml", "[node]\nhandlers = [\"echo\"]\n").unwrap();
        c.apply_overrides(vec![(
            "GLOMERS__NODE__HANDLERS".to_string(),
            "[\"echo\", \"warp\"]".to_string(),
        )])
        .unwrap();
        assert_eq!(
            check_overrides(&c, &families).unwrap_err(),
            "environment variable GLOMERS__NODE__HANDLERS: `node.handlers` names unknown \
             family \"warp\"; known families: broadcast, echo"
        );
        // Problems in the file itself are left to the registry, which blames the file.
        let c = Config::parse("f.toml", "[node]\nhandlers = [\"warp\"]\n[bogus]\n").unwrap();
        assert_eq!(check_overrides(&c, &families), Ok(()));
    }
}
