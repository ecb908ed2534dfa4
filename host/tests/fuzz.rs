//! The fuzzer's short run, with a fixed seed: every preset (and counter's crdt mode)
//! in-process, and two presets through the real binary, huge lines included.
//! `cargo bench -p glomers-host --bench fuzz` runs the long one; `fuzz_planted.rs`
//! shows that the fuzzer catches planted bugs.

mod fuzzing;

use fuzzing::corpus::{self, targets};
use fuzzing::generate::Huge;
use fuzzing::session::{self, Plan};
use fuzzing::transport::{InProcess, Process};

const SEED: u64 = 15;

#[global_allocator]
static ALLOCATOR: fuzzing::CountingAlloc = fuzzing::CountingAlloc;

#[test]
fn every_registered_family_has_a_corpus() {
    glomers_handlers::link();
    let known: Vec<&str> = corpus::all().iter().map(|c| c.family).collect();
    for spec in glomers_runtime::registry::all_specs() {
        assert!(
            known.contains(&spec.family),
            "family `{}` has no entry in host/tests/fuzzing/corpus.rs (`all`): add its client \
             and peer bodies, one-way types and a sanity check",
            spec.family
        );
    }
}

/// Every preset, counter's crdt mode (which no preset runs), and each family that no
/// preset enables, alone.
fn short_targets() -> Vec<corpus::Target> {
    let all = targets();
    let presets: Vec<&corpus::Target> = all.iter().filter(|t| t.env.is_empty()).collect();
    let in_a_preset = |family: &str| {
        presets
            .iter()
            .any(|t| t.families().unwrap_or_default().iter().any(|f| f == family))
    };
    all.iter()
        .filter(|t| {
            t.env.is_empty()
                || t.name == "counter/crdt"
                || t.name
                    .strip_suffix("/alone")
                    .is_some_and(|family| !in_a_preset(family))
        })
        .cloned()
        .collect()
}

#[test]
fn every_target_survives_mutated_input_in_process() {
    let corpora = corpus::all();
    let mut failures = String::new();
    for (i, target) in short_targets().iter().enumerate() {
        // One 16 MB line in the first run, 1 MB ones in the others (a debug build parses
        // slowly).
        let huge = Huge {
            every: 600,
            bytes: if i == 0 { 16 << 20 } else { 1 << 20 },
        };
        let node = fuzzing::node(target, SEED).unwrap();
        let mut t = InProcess::new(node);
        let report = session::run(target, &corpora, &mut t, Plan::in_process(1200, SEED, huge));
        eprintln!(
            "{}: {} lines, {} requests, {} replies",
            report.target, report.tally.lines, report.tally.requests, report.tally.replies
        );
        assert!(
            report.tally.replies > 500,
            "{}: too few replies to mean much",
            report.target
        );
        if !report.clean() {
            failures.push_str(&format!(
                "{} (seed {}):\n{}",
                report.target,
                report.seed,
                report.findings()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn the_binary_never_exits_on_bad_input_and_gives_memory_back() {
    let corpora = corpus::all();
    // One 16 MB line through the default preset, 1 MB ones through kafka's.
    for (name, bytes) in [("default", 16 << 20), ("kafka", 1 << 20)] {
        let target = targets().into_iter().find(|t| t.name == name).unwrap();
        let command = fuzzing::command(env!("CARGO_BIN_EXE_glomers-host"), &target, SEED);
        let mut t = Process::spawn(command).unwrap();
        let huge = Huge { every: 1500, bytes };
        let report = session::run(&target, &corpora, &mut t, Plan::process(2000, SEED, huge));
        assert!(report.clean(), "{name}:\n{}", report.findings());
        let after = report.memory_after.unwrap_or(u64::MAX);
        assert!(
            after < 32 << 20,
            "{name}: RSS {after} bytes after the run (peak {:?})",
            report.memory_peak
        );
    }
}

/// Unit tests of `fuzzing::json`.
mod json_tests {
    use super::fuzzing::json::*;
    use serde_json::json;

    #[test]
    fn writes_compact_json_with_raw_literals_and_repeated_keys() {
        let mut j = J::from(json!({"a": [1, "x\n"], "b": null}));
        if let J::Obj(fields) = &mut j {
            fields.push(("a".into(), J::int("18446744073709551616")));
        }
        assert_eq!(
            String::from_utf8(j.to_bytes()).unwrap(),
            r#"{"a":[1,"x\n"],"b":null,"a":18446744073709551616}"#
        );
        assert_eq!(j.size(), 6);
        assert_eq!(j.nth_mut(3), Some(&mut J::Str("x\n".into())));
    }
}

/// Unit tests of `fuzzing::classify`.
mod classify_tests {
    use super::fuzzing::classify::*;

    fn request(line: &str) -> Option<(String, String)> {
        match inbound(line.as_bytes()) {
            Inbound::Request { src, msg_id, .. } => Some((src, msg_id)),
            Inbound::Other => None,
        }
    }

    #[test]
    fn requests_need_one_src_one_body_one_integer_msg_id_and_no_in_reply_to() {
        let ok = |id: &str| Some(("c1".to_string(), id.to_string()));
        assert_eq!(request(r#"{"src":"c1","body":{"msg_id":3}}"#), ok("3"));
        assert_eq!(
            request(r#"{"src":"c1","dest":null,"body":{"msg_id":-3}}"#),
            ok("-3")
        );
        assert_eq!(
            request(r#"{"src":"c1","body":{"msg_id":123456789012345678901234567890,"type":1}}"#),
            ok("123456789012345678901234567890")
        );
        for not_a_request in [
            r#"{"src":"c1","src":"c2","body":{"msg_id":3}}"#,
            r#"{"src":"c1","body":{"msg_id":3},"body":{"msg_id":4}}"#,
            r#"{"src":"c1","body":{"msg_id":3,"msg_id":3}}"#,
            r#"{"src":"c1","body":{"msg_id":3.0}}"#,
            r#"{"src":"c1","body":{"msg_id":"3"}}"#,
            r#"{"src":"c1","body":{"msg_id":3,"in_reply_to":null}}"#,
            r#"{"src":1,"body":{"msg_id":3}}"#,
            r#"{"src":"c1","body":[{"msg_id":3}]}"#,
            r#"{"src":"c1","body":{"msg_id":3}} x"#,
            "{\"src\":\"c1\",\"body\":{\"msg_id\":3}\u{0}}",
        ] {
            assert_eq!(request(not_a_request), None, "{not_a_request}");
        }
        assert_eq!(
            inbound(b"{\"src\":\"c\xff\",\"body\":{\"msg_id\":3}}"),
            Inbound::Other
        );
    }

    #[test]
    fn outputs_must_have_exactly_the_envelope_keys_and_a_typed_body() {
        let o = outbound(
            br#"{"src":"n0","dest":"c1","body":{"type":"error","in_reply_to":-3,"code":12}}"#,
        )
        .unwrap();
        assert_eq!(o.in_reply_to.as_deref(), Some("-3"));
        assert_eq!(o.code, Some(12));
        assert!(outbound(br#"{"src":"n0","dest":"c1","body":{"type":"x"},"id":1}"#).is_err());
        assert!(outbound(br#"{"src":"n0","dest":"c1","body":{}}"#).is_err());
        assert!(outbound(br#"{"src":"n0","dest":"c1","body":{"type":"x","msg_id":-1}}"#).is_err());
    }
}

/// Unit tests of `fuzzing::mutate`.
mod mutate_tests {
    use super::fuzzing::json::J;
    use super::fuzzing::mutate::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn nesting_is_exact_and_parses_only_within_the_limit() {
        let J::Raw(text) = nested(SERDE_DEPTH_LIMIT) else {
            panic!("raw text expected")
        };
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
        let J::Raw(text) = nested(SERDE_DEPTH_LIMIT + 1) else {
            panic!("raw text expected")
        };
        assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    }

    #[test]
    fn byte_mutations_never_add_a_newline() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..2000 {
            let mut line =
                br#"{"src":"c1","dest":"n0","body":{"type":"echo","echo":"a\nb"}}"#.to_vec();
            mutate_bytes(&mut rng, &mut line);
            assert!(!line.contains(&b'\n'));
        }
    }
}
