//! Embeds every `config/*.toml` of the repository as a preset, so a node started from any
//! directory can name one (`glomers-host broadcast-3d.toml`), and the deterministic driver
//! can run the same configs in-process.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let config_dir = Path::new(&manifest).join("../config");
    println!("cargo:rerun-if-changed={}", config_dir.display());
    let mut entries: Vec<_> = std::fs::read_dir(&config_dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    entries.sort();
    let mut code =
        String::from("/// Config files embedded at build time.\npub static PRESETS: &[glomers_runtime::startup::Preset] = &[\n");
    for path in entries {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("config file names are UTF-8");
        let abs = path.canonicalize().expect("config file exists");
        writeln!(
            code,
            "    glomers_runtime::startup::Preset {{ name: {name:?}, text: include_str!({:?}) }},",
            abs.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("presets.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
