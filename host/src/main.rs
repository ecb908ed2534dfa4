//! `glomers-host`: the binary Maelstrom runs with `--bin`. All logic lives in the runtime
//! (`host/runtime`) and the handler families (`handlers/`); this file links them together
//! with the config presets the handlers crate embeds at build time.

use std::process::ExitCode;

use glomers_runtime::startup::main_with_presets;

fn main() -> ExitCode {
    glomers_handlers::link();
    main_with_presets(glomers_handlers::PRESETS)
}
