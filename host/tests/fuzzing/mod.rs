//! The fuzzer of the host's input path, shared by `host/tests/fuzz.rs` (a short run with
//! a fixed seed under `cargo test`) and `host/benches/fuzz.rs` (a million lines per
//! target, with figures).
//!
//! It runs on stable Rust with no fuzzing engine: a structure-aware mutator over a seeded
//! random number generator ([`generate`], [`mutate`]) turns valid messages of every
//! family ([`corpus`]) into hostile ones, feeds them to a node ([`transport`]: the
//! runtime's `Node` in this process, or the real binary over pipes), plays the services
//! and peers the node talks to ([`peers`]), and checks the output ([`oracle`], with its
//! own reading of lines in [`classify`]). [`session`] runs it all.

#![allow(dead_code)]

pub mod classify;
pub mod corpus;
pub mod generate;
pub mod json;
pub mod mutate;
pub mod oracle;
pub mod peers;
pub mod session;
pub mod transport;

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use glomers_runtime::registry::{all_specs, build_node};
use glomers_runtime::{Node, Seeds};

use corpus::Target;

/// Builds the node `target` configures, in this process, logging nowhere.
pub fn node(target: &Target, seed: u64) -> Result<Node, String> {
    glomers_handlers::link();
    let config = target.config()?;
    let log = slog::Logger::root(slog::Discard, slog::o!());
    build_node(&config, &all_specs(), log, Seeds::fixed(seed, 0x5eed)).map_err(|e| e.to_string())
}

/// The command that starts the binary `bin` with `target`'s preset and overrides.
pub fn command(bin: &str, target: &Target, seed: u64) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg(format!("{}.toml", target.preset))
        .envs(target.env.iter().cloned())
        .env_remove("GLOMERS_CONFIG")
        .env_remove("GLOMERS_LOG")
        .env("GLOMERS_SEED", seed.to_string())
        .current_dir(std::env::temp_dir());
    cmd
}

/// Bytes the whole fuzzing process may hold; an allocation beyond it fails, which aborts
/// the process. A node that runs away with memory on some input then fails the run at
/// once instead of taking the machine's memory with it.
pub const MEMORY_CAP: usize = 4 << 30;

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting the bytes live and refusing to go past
/// [`MEMORY_CAP`]. Each fuzzing binary installs it with `#[global_allocator]`.
pub struct CountingAlloc;

/// Bytes live in this process (with [`CountingAlloc`] installed).
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn reserve(size: usize) -> bool {
    if LIVE.fetch_add(size, Ordering::Relaxed) + size > MEMORY_CAP {
        LIVE.fetch_sub(size, Ordering::Relaxed);
        eprintln!("fuzzing: refusing to allocate {size} bytes past the {MEMORY_CAP}-byte cap");
        return false;
    }
    true
}

// SAFETY: every call goes to the system allocator unchanged, or fails with a null
// pointer as the GlobalAlloc contract allows; only a counter is kept besides.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !reserve(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout is passed on as it is.
        let ptr = unsafe { System.alloc(layout) };
        if ptr.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() && !reserve(new_size - layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: `ptr` came from this allocator with this layout.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if new.is_null() {
            if new_size > layout.size() {
                LIVE.fetch_sub(new_size - layout.size(), Ordering::Relaxed);
            }
        } else if new_size < layout.size() {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        new
    }
}
