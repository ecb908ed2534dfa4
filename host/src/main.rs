//! `glomers-host`: the binary Maelstrom runs with `--bin`. All logic lives in the runtime
//! (`host/runtime`) and the handler families (`handlers/`); this file links them together
//! with the config presets the handlers crate embeds at build time.

use std::process::ExitCode;

use glomers_runtime::startup::main_with_presets;

/// Allocations of at least this size get a mapping of their own, given back to the
/// system as soon as they are freed.
const OWN_MAPPING_FROM: i32 = 256 * 1024;

/// Makes glibc return the memory of huge lines once they are handled. By default it
/// raises its mapping threshold to the largest block freed so far (up to 32 MB), so
/// after a 16 MB input line every later big buffer came from the heap and stayed there:
/// the fuzzer measured 24 MB of RSS kept after a few such lines by a stateless node.
/// Setting the threshold fixes it (and turns the dynamic raising off).
fn return_big_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING_FROM);
    }
}

fn main() -> ExitCode {
    return_big_allocations();
    glomers_handlers::link();
    main_with_presets(glomers_handlers::PRESETS)
}
