//! The fuzzer can fail: a family with planted bugs (a panic, a double reply, a missing
//! reply) is registered in this test binary only, and the short run must report each;
//! and a "node" that stops reading and exits early must be reported as a crash.

mod fuzzing;

use std::process::Command;

use glomers_runtime::{
    ConfigError, Ctx, Family, Handler, HandlerSpec, Never, Result, Section, Sender,
};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use fuzzing::corpus::{self, Ask, FamilyCorpus, Target};
use fuzzing::generate::Huge;
use fuzzing::session::{self, Plan};
use fuzzing::transport::{InProcess, Process};

#[global_allocator]
static ALLOCATOR: fuzzing::CountingAlloc = fuzzing::CountingAlloc;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum PlantMsg {
    Plant { x: i64 },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum PlantReply {
    PlantOk,
}

/// Panics on negative x, answers x = 7 (mod 50) twice, never answers x above 1000.
struct Planted;

impl Handler for Planted {
    type Msg<'a> = PlantMsg;
    type Timer = Never;
    type Rpc = Never;

    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: Sender, msg: PlantMsg) -> Result<()> {
        let PlantMsg::Plant { x } = msg;
        assert!(x >= 0, "planted panic on x = {x}");
        if x <= 1000 {
            ctx.reply(&from, &PlantReply::PlantOk);
        }
        if x % 50 == 7 {
            ctx.reply(&from, &PlantReply::PlantOk);
        }
        Ok(())
    }
}

fn build(_: &mut Section) -> std::result::Result<Family, ConfigError> {
    Ok(Family::new(Planted))
}

glomers_runtime::inventory::submit! {
    HandlerSpec { family: "planted", summary: "test family with planted bugs", build }
}

fn plant_client(rng: &mut rand::rngs::StdRng, _: &corpus::Cluster) -> serde_json::Value {
    let x = if rng.random_bool(0.05) {
        -1
    } else {
        rng.random_range(0i64..1100)
    };
    json!({"type": "plant", "x": x})
}

fn plant_sanity(ask: &mut dyn Ask) -> std::result::Result<(), String> {
    ask.ask(json!({"type": "plant", "x": 1})).map(|_| ())
}

#[test]
fn planted_bugs_are_reported() {
    let mut corpora = corpus::all();
    corpora.push(FamilyCorpus {
        family: "planted",
        client: plant_client,
        peer: None,
        one_way: &[],
        sanity: plant_sanity,
        handoffs: None,
        epoch: None,
    });
    let target = Target {
        name: "planted".into(),
        preset: "planted".into(),
        env: Vec::new(),
        text: Some("[node]\nhandlers = [\"planted\"]\n".into()),
    };
    let node = fuzzing::node(&target, 1).unwrap();
    let mut t = InProcess::new(node);
    let huge = Huge { every: 0, bytes: 0 };
    let report = session::run(&target, &corpora, &mut t, Plan::in_process(1500, 1, huge));
    let findings = report.findings();
    assert!(
        report.crashes.iter().any(|c| c.contains("planted panic")),
        "{findings}"
    );
    assert!(
        findings.contains("a handler crashed (error 13)"),
        "{findings}"
    );
    assert!(
        findings.contains("more answers than requests"),
        "{findings}"
    );
    assert!(findings.contains("never answered"), "{findings}");
}

#[test]
fn a_process_that_exits_early_is_a_crash() {
    let target = corpus::targets().remove(0);
    let mut command = Command::new("sh");
    command.args(["-c", "head -c 30000 >/dev/null"]);
    let mut t = Process::spawn(command).unwrap();
    let huge = Huge { every: 0, bytes: 0 };
    let mut plan = Plan::process(3000, 1, huge);
    plan.max_steps = 50;
    let report = session::run(&target, &corpus::all(), &mut t, plan);
    assert!(
        report
            .crashes
            .iter()
            .any(|c| c.contains("exited on its own")),
        "{}",
        report.findings()
    );
    assert!(
        report.findings().contains("never answered"),
        "{}",
        report.findings()
    );
}
