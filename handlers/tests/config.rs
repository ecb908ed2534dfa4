//! The shipped configuration against every registered family: `config/default.toml`
//! documents each family's built-in defaults (every key a family reads is present there,
//! with the value the family uses when the key is absent), and every preset in `config/`
//! builds a node.

use std::path::{Path, PathBuf};

use glomers_runtime::config::Config;
use glomers_runtime::logging;
use glomers_runtime::registry::{all_specs, build_node};
use glomers_runtime::Seeds;

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config")
}

fn load(name: &str) -> Config {
    let path = config_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Config::parse(name, &text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn default_toml_documents_every_familys_defaults() {
    glomers_handlers::link();
    let shipped = load("default.toml");
    let specs = all_specs();
    assert!(specs.len() >= 6, "the families are linked");
    for spec in specs {
        assert!(
            shipped.section_names().iter().any(|s| s == spec.family),
            "default.toml has no [{}] section",
            spec.family
        );
        // Reading an empty section records every key with the default it falls back to.
        let mut empty = Config::empty().section(spec.family);
        if let Err(e) = (spec.build)(&mut empty) {
            panic!("{} does not build from its defaults: {e}", spec.family);
        }
        let documented = shipped.section(spec.family);
        for (key, default) in empty.defaults() {
            match documented.get(key) {
                Some(value) => assert_eq!(
                    value, default,
                    "default.toml says {}.{key} = {value}, but the built-in default is {default}",
                    spec.family
                ),
                None => panic!(
                    "default.toml does not document {}.{key} (built-in default {default})",
                    spec.family
                ),
            }
        }
    }
}

#[test]
fn every_preset_builds_a_node() {
    glomers_handlers::link();
    let mut names: Vec<String> = std::fs::read_dir(config_dir())
        .expect("config/ is readable")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        let config = load(&name);
        let node = build_node(
            &config,
            &all_specs(),
            logging::stderr_logger("critical"),
            Seeds::fixed(1, 1),
        );
        if let Err(e) = node {
            panic!("{name}: {e}");
        }
    }
}
