//! glomers-sim: a Maelstrom-compatible test bench (see the library docs for the modules).
//!
//! Exit codes, as Maelstrom: 0 valid, 1 invalid, 2 unknown, 254 bad arguments, 255 crash.

use clap::Parser;
use glomers_sim::cli::{Cli, Command};
use glomers_sim::plan::TestPlan;
use glomers_sim::runner::{run_test, RunOptions};
use glomers_sim::workload::lookup;

fn main() {
    glomers_sim::interrupt::install();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 254 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match cli.command {
        Command::Test(args) => {
            let workload = match lookup(&args.workload) {
                Ok(w) => w,
                Err(e) => {
                    eprintln!("glomers-sim: {e}");
                    std::process::exit(254);
                }
            };
            let plan = match TestPlan::from_args(&args) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("glomers-sim: {e}");
                    std::process::exit(254);
                }
            };
            if let Err(e) = workload.validate(&plan) {
                eprintln!("glomers-sim: {e}");
                std::process::exit(workload.refusal_exit_code());
            }
            if args.deterministic {
                glomers_sim::deterministic::store::run_in_process(&plan, workload.as_ref(), true)
                    .exit_code
            } else {
                run_test(
                    &plan,
                    workload.as_ref(),
                    RunOptions {
                        report: true,
                        progress: true,
                    },
                )
                .exit_code
            }
        }
        Command::Challenges(args) => glomers_sim::challenges::run(&args),
        Command::Explore(args) => glomers_sim::explore::run(&args),
        Command::Report(args) => glomers_sim::report_html::run_cli(&args),
    };
    if std::env::var_os("GLOMERS_SIM_TIMING").is_some() {
        if let Some(kib) = glomers_sim::memory::own_peak_rss_kib() {
            eprintln!("glomers-sim: peak RSS of the bench: {kib} KiB");
        }
    }
    std::process::exit(code);
}
