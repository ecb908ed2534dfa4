//! End-to-end: every start-up error of `glomers-host` blames the right source, checked
//! word for word on the built binary: a bad `GLOMERS__SECTION__KEY` names the variable, a
//! bad file names the file, the line and the key, an unknown preset lists the presets.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

/// Runs the host with `args` and `envs` and no input; returns (exit code, stderr).
fn start(args: &[&str], envs: &[(&str, &str)]) -> (i32, String) {
    let out = common::host_command(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run glomers-host");
    assert!(
        out.stdout.is_empty(),
        "stdout carries protocol messages only"
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A config file with `text` in a fresh temporary directory.
fn config_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "glomers-config-errors-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn a_bad_environment_override_names_the_variable_not_the_file() {
    // The example, which used to blame config/broadcast-3d.toml.
    let (code, stderr) = start(
        &["broadcast-3d.toml"],
        &[("GLOMERS__BROADCAST__FANOUT", "abc")],
    );
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "glomers-host: environment variable GLOMERS__BROADCAST__FANOUT: `broadcast.fanout`: \
         expected an integer in 1..=1024, found string `\"abc\"`\n"
    );
    let (code, stderr) = start(&[], &[("GLOMERS__BORADCAST__FANOUT", "3")]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "glomers-host: environment variable GLOMERS__BORADCAST__FANOUT: unknown section \
             [boradcast]; sections are [node] and one per handler family: "
        ),
        "{stderr}"
    );
    let (code, stderr) = start(&[], &[("GLOMERS__NODE__HANDLERS", "[\"echo\", \"warp\"]")]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "glomers-host: environment variable GLOMERS__NODE__HANDLERS: `node.handlers` names \
             unknown family \"warp\"; known families: "
        ),
        "{stderr}"
    );
}

#[test]
fn a_bad_file_names_the_file_the_line_and_the_key() {
    let text = "# broadcast tuned badly\n[node]\nhandlers = [\"broadcast\"]\n\n[broadcast]\n\
                topology = \"star\"\nfanout = 0\n";
    let path = config_file("bad-fanout.toml", text);
    let p = path.display().to_string();
    let (code, stderr) = start(&["--config", &p], &[]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "glomers-host: {p}:7: `broadcast.fanout`: 0 is out of range: allowed is an integer \
             in 1..=1024\n"
        )
    );
    let path = config_file(
        "typo.toml",
        "[node]\nhandlers = [\"echo\"]\n[echo]\nloud = true\n",
    );
    let p = path.display().to_string();
    let (_, stderr) = start(&["--config", &p], &[]);
    assert_eq!(
        stderr,
        format!("glomers-host: {p}:4: `echo.loud`: unknown key; this section takes no keys\n")
    );
    let path = config_file("broken.toml", "[node]\nhandlers = [\"echo\"]\n[echo\n");
    let p = path.display().to_string();
    let (_, stderr) = start(&["--config", &p], &[]);
    assert!(
        stderr.starts_with(&format!("glomers-host: {p}:3: not valid TOML: ")),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap_or(&path));
}

#[test]
fn an_unknown_preset_lists_the_presets_and_suggests_the_closest() {
    let (code, stderr) = start(&["kafka5c.toml"], &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "glomers-host: config `kafka5c.toml` not found: it is not one of the embedded \
             presets (broadcast, broadcast-3d, broadcast-3e, default, g-counter, g-set, \
             kafka, kafka-5c, lin-kv, pn-counter, txn, txn-list-append, txn-rw-register); \
             did you mean kafka-5c.toml? (`glomers-host --list` lists them), \
             and no file by that name exists (tried kafka5c.toml, "
        ),
        "{stderr}"
    );
}
