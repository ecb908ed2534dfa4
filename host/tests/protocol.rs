//! End-to-end: spawn the built `glomers-host`, pipe messages through it and check every
//! line it writes.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::Host;
use serde_json::{json, Value};

/// Runs the host on `input` (lines), returns (exit code, stdout lines as JSON, stderr).
fn run(args: &[&str], envs: &[(&str, &str)], input: &[String]) -> (i32, Vec<Value>, String) {
    let mut child = common::host_command(args)
        .envs(envs.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn glomers-host");
    let mut stdin = child.stdin.take().unwrap();
    // The host may exit early (a bad config): a broken pipe here is expected then.
    for line in input {
        let _ = stdin.write_all(line.as_bytes());
        let _ = stdin.write_all(b"\n");
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}"))
        })
        .collect();
    (
        out.status.code().unwrap_or(-1),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn init(node: &str, nodes: &[&str]) -> String {
    json!({"id": 0, "src": "c0", "dest": node,
        "body": {"type": "init", "msg_id": 1, "node_id": node, "node_ids": nodes}})
    .to_string()
}

fn req(msg_id: u64, body: Value) -> String {
    let mut body = body;
    body["msg_id"] = json!(msg_id);
    json!({"id": msg_id, "src": "c4", "dest": "n0", "body": body}).to_string()
}

#[test]
fn init_echo_generate_and_bad_lines_each_get_the_right_answer() {
    let input = vec![
        init("n0", &["n0", "n1"]),
        req(2, json!({"type": "echo", "echo": "Please echo 35"})),
        req(3, json!({"type": "generate"})),
        "not json at all".to_string(),
        String::new(),
        r#"{"src":"c4","dest":"n0","body":{"msg_id":4}}"#.to_string(),
        req(5, json!({"type": "teleport"})),
        req(6, json!({"type": "echo"})),
        r#"{"src":"c4","dest":"n0","body":{"type":"echo","msg_id":"7","echo":1}}"#.to_string(),
        req(8, json!({"type": "generate"})),
        r#"{"src":"c4","dest":"n0","body":{"type":"echo","msg_id":9,"echo":"no newline"}}"#
            .to_string(),
    ];
    let (code, out, stderr) = run(&[], &[], &input);
    assert_eq!(code, 0, "stderr: {stderr}");
    let bodies: Vec<&Value> = out.iter().map(|m| &m["body"]).collect();
    assert_eq!(bodies.len(), 8, "{out:#?}");
    assert_eq!(
        out[0],
        json!({"src": "n0", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1}})
    );
    assert_eq!(
        bodies[1],
        &json!({"type": "echo_ok", "in_reply_to": 2, "echo": "Please echo 35"})
    );
    assert_eq!(bodies[2]["type"], "generate_ok");
    assert_eq!(bodies[2]["in_reply_to"], 3);
    assert!(bodies[2]["id"].as_str().unwrap().starts_with("n0-"));
    for (i, (in_reply_to, code)) in [(4, 12), (5, 10), (6, 12)].iter().enumerate() {
        let b = bodies[3 + i];
        assert_eq!(b["type"], "error", "{b}");
        assert_eq!(b["in_reply_to"], *in_reply_to);
        assert_eq!(b["code"], *code, "{b}");
    }
    // msg_id "7" is not an integer: nobody to answer, only a log line.
    assert!(
        stderr.contains("`msg_id` must be an integer, not a string"),
        "{stderr}"
    );
    assert_ne!(bodies[6]["id"], bodies[2]["id"]);
    assert_eq!(bodies[7]["echo"], "no newline");
    for m in &out {
        let mut keys: Vec<&String> = m.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["body", "dest", "src"]);
        assert_eq!(m["src"], "n0");
    }
    assert!(stderr.contains("not a message envelope"), "{stderr}");
    assert!(stderr.contains("ignoring a blank input line"), "{stderr}");
}

#[test]
fn a_lone_message_is_answered_without_waiting_for_more_input() {
    let mut h = Host::spawn(&[], &[]);
    h.send_line(&init("n0", &["n0"]));
    // stdin stays open: the reply must come anyway. (A generous bound, not a speed test.)
    let line = h
        .next(Duration::from_secs(10))
        .expect("init_ok while stdin is open");
    assert_eq!(line["body"]["type"], "init_ok", "{line}");
    h.send_line(&req(2, json!({"type": "echo", "echo": 1})));
    let line = h
        .next(Duration::from_secs(10))
        .expect("echo_ok while stdin is open");
    assert_eq!(line["body"]["type"], "echo_ok", "{line}");
    assert!(h.finish().success());
}

#[test]
fn requests_before_init_are_held_not_dropped() {
    let input = vec![
        req(2, json!({"type": "echo", "echo": "early"})),
        init("n0", &["n0"]),
    ];
    let (code, out, _) = run(&[], &[], &input);
    assert_eq!(code, 0);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["body"]["type"], "init_ok");
    assert_eq!(
        out[1]["body"],
        json!({"type": "echo_ok", "in_reply_to": 2, "echo": "early"})
    );
}

#[test]
fn stray_command_line_words_are_logged_and_ignored() {
    let (code, out, stderr) = run(&["–-nemesis", "partition"], &[], &[init("n0", &["n0"])]);
    assert_eq!(code, 0);
    assert_eq!(out.len(), 1);
    assert!(
        stderr.contains("ignoring unknown command-line word, word: partition"),
        "{stderr}"
    );
}

#[test]
fn config_errors_stop_the_start_with_file_key_and_allowed_values() {
    let dir = std::env::temp_dir().join(format!("glomers-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "[node]\nhandlers = [\"echo\"]\n[echo]\nloud = true\n",
            "`echo.loud`: unknown key; this section takes no keys",
        ),
        (
            "[node]\nhandlers = [\"echo\", \"warp\"]\n",
            "names unknown family \"warp\"; known families: ",
        ),
        (
            "[node]\nhandlers = [\"echo\"]\nlog_level = 3\n",
            "`node.log_level`: expected a string, one of trace",
        ),
        (
            "[node]\nhandlers = [\"echo\"]\n[bogus]\n",
            "unknown section [bogus]",
        ),
        ("[node\n", "not valid TOML"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let path = dir.join(format!("case{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let (code, out, stderr) = run(
            &["--config", path.to_str().unwrap()],
            &[],
            &[init("n0", &["n0"])],
        );
        assert_eq!(code, 2, "case {i}: {stderr}");
        assert!(out.is_empty(), "case {i}: nothing on stdout");
        assert!(
            stderr.contains(path.to_str().unwrap()),
            "case {i} names the file: {stderr}"
        );
        assert!(stderr.contains(expected), "case {i}: {stderr}");
    }
    let (code, _, stderr) = run(&["--config", "missing.toml"], &[], &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("config `missing.toml` not found"),
        "{stderr}"
    );
}

#[test]
fn env_overrides_and_glomers_config_are_honoured() {
    let (code, out, _) = run(
        &[],
        &[("GLOMERS__NODE__HANDLERS", "[\"generate\"]")],
        &[
            init("n0", &["n0"]),
            req(2, json!({"type": "echo", "echo": 1})),
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(out[1]["body"]["code"], 10, "echo disabled by the override");
    let (code, _, stderr) = run(&[], &[("GLOMERS__NODE__LOG_LEVEL", "\"shout\"")], &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`node.log_level`: \"shout\" is not allowed"),
        "{stderr}"
    );
    // Presets are embedded: the name alone works from any working directory.
    let (code, out, _) = run(
        &[],
        &[("GLOMERS_CONFIG", "default.toml")],
        &[init("n0", &["n0"])],
    );
    assert_eq!(code, 0);
    assert_eq!(out.len(), 1);
}
