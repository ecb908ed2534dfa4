//! Handler families for the Gossip Glomers challenges. Each module registers itself with
//! the runtime's registry at link time (`inventory::submit!`); the host binary links this
//! crate and the config decides which families run.
//!
//! | family     | challenge | message types |
//! |------------|-----------|---------------|
//! | `echo`     | 1         | echo          |
//! | `generate` | 2         | generate      |

pub mod echo;
pub mod generate;

/// Referenced by the host binary so the linker keeps this crate (and with it every
/// family's registration) even though nothing else in it is called by name.
pub fn link() {}
