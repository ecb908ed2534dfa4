//! The deterministic driver end to end, through the library: runs replay byte for byte,
//! and the explorer finds, shrinks and replays a planted bug.

use clap::Parser;
use glomers_sim::cli::{Cli, Command, TestArgs};
use glomers_sim::deterministic::host::HostConfig;
use glomers_sim::deterministic::store::run_in_process;
use glomers_sim::explore::case::Case;
use glomers_sim::explore::shrink::shrink;
use glomers_sim::explore::{read_replay, ReplayFile};
use glomers_sim::faults::{draw, FaultKind, FaultMode};
use glomers_sim::plan::TestPlan;
use glomers_sim::workload::lookup;
use std::path::{Path, PathBuf};

/// The `test` flags of `words` (a `glomers-sim test` command line without the program).
fn test_args(words: &str) -> TestArgs {
    let mut argv = vec!["glomers-sim", "test"];
    argv.extend(words.split_whitespace());
    match Cli::parse_from(argv).command {
        Command::Test(a) => a,
        _ => unreachable!("parsed as test"),
    }
}

fn temp_store(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("glomers-det-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run_files(words: &str, store: &Path) -> (Vec<u8>, Vec<u8>, i32) {
    let mut args = test_args(words);
    args.store = store.to_path_buf();
    let workload = lookup(&args.workload).unwrap();
    let plan = TestPlan::from_args(&args).unwrap();
    let out = run_in_process(&plan, workload.as_ref(), false);
    let dir = out.dir.expect("a run directory");
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    (read("history.jsonl"), read("messages.jsonl"), out.exit_code)
}

#[test]
fn one_seed_gives_byte_identical_history_and_journal() {
    glomers_handlers::link();
    for words in [
        "-w broadcast --deterministic --node-count 5 --time-limit 5 --rate 50 --latency 50 \
         --nemesis partition --nemesis-interval 2 --recovery-time 2 --seed 7 broadcast-3d.toml",
        "-w kafka --deterministic --node-count 2 --concurrency 2n --time-limit 4 --rate 200 \
         --nemesis partition --nemesis-interval 1 --recovery-time 2 --seed 3 kafka.toml",
    ] {
        let store = temp_store("bytes");
        let (h1, m1, code1) = run_files(words, &store);
        let (h2, m2, code2) = run_files(words, &store);
        assert_eq!(code1, 0, "{words}");
        assert_eq!(code2, 0, "{words}");
        assert!(h1.len() > 1000 && m1.len() > 1000, "the runs did something");
        assert!(
            h1 == h2,
            "history.jsonl differs between two runs of one seed: {words}"
        );
        assert!(
            m1 == m2,
            "messages.jsonl differs between two runs of one seed: {words}"
        );
        let (h3, _, _) = run_files(
            &words
                .replace("--seed 7", "--seed 8")
                .replace("--seed 3", "--seed 4"),
            &store,
        );
        assert_ne!(h1, h3, "another seed gives another run");
        let _ = std::fs::remove_dir_all(&store);
    }
}

/// Broadcast without anti-entropy: a value sent during a partition is never repaired.
fn unsafe_broadcast() -> Case {
    let args = test_args(
        "-w broadcast --deterministic --node-count 5 --time-limit 10 --rate 20 --latency 100 \
         --recovery-time 5 broadcast-3e.toml",
    );
    let config = HostConfig::preset("broadcast-3e", glomers_handlers::PRESETS)
        .unwrap()
        .with_override("broadcast", "anti_entropy_ms", "0");
    Case {
        args,
        config,
        faults: Vec::new(),
    }
}

#[test]
fn the_explorer_finds_shrinks_and_replays_a_planted_bug() {
    glomers_handlers::link();
    let template = unsafe_broadcast();
    let nodes = glomers_sim::deterministic::host::HostNodes::new(&template.config).unwrap();
    let (_, plan) = template.plan().unwrap();
    // Explore: the first seed (of at most 100) whose run is invalid.
    let mut found = None;
    for seed in 1..=100u64 {
        let mut case = template.clone();
        case.args.seed = Some(seed);
        case.faults = draw(
            &[FaultMode::Partition],
            &plan.nodes,
            std::time::Duration::from_secs(3),
            plan.time_limit,
            seed,
        );
        let v = case.run_with(&nodes, false, false);
        if v.failed() {
            found = Some((case, v));
            break;
        }
    }
    let (case, verdict) = found.expect("an invalid run within 100 seeds");
    assert!(
        verdict.rules.contains("workload:lost"),
        "{:?}",
        verdict.rules
    );
    // Shrink: at most two faults left, and still the same rule.
    let s = shrink(&case, &verdict, &nodes, 200);
    assert!(s.case.faults.len() <= 2, "{:?}", s.case.faults);
    assert!(s
        .case
        .faults
        .iter()
        .all(|f| matches!(f.kind, FaultKind::Partition { .. })));
    assert!(s.verdict.rules.contains("workload:lost"));
    assert!(s.case.args.time_limit <= case.args.time_limit);
    // Replay: through a file, the same lost element.
    let store = temp_store("replay");
    std::fs::create_dir_all(&store).unwrap();
    let path = store.join("replay.json");
    let file = ReplayFile {
        glomers_sim: "test".into(),
        case: s.case.clone(),
        expect: glomers_sim::explore::Expectation {
            exit_code: s.verdict.exit_code,
            rules: s.verdict.rules.iter().cloned().collect(),
            findings: s.verdict.findings.clone(),
        },
    };
    std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
    let back = read_replay(&path).unwrap();
    let again = back.case.run(false, false);
    assert_eq!(
        again.findings, s.verdict.findings,
        "the replay loses the same element"
    );
    assert!(
        again.findings[0].contains("was lost"),
        "{}",
        again.findings[0]
    );
    let _ = std::fs::remove_dir_all(&store);
}
