//! Ctrl-C handling: SIGINT and SIGTERM only set a flag; the runner sees it within 50 ms,
//! stops the test, kills every node's process group (so wrapper children die too) and
//! writes what it has. The run exits 130.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Installs the handler for SIGINT and SIGTERM (call once, from `main`).
pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// True once an interrupt arrived.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
