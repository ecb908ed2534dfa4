//! The `[broadcast]` config section: overlay, batching, anti-entropy and acknowledgements.
//! `config/default.toml` documents every key; the defaults here match it.

use std::time::Duration;

use glomers_runtime::{ConfigError, Section};

use super::layout::Layout;

/// Everything the broadcast family reads from config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The overlay (`topology` and `fanout` keys).
    pub layout: Layout,
    /// How long a node that only originates holds new values before sending them.
    pub origin_batch: Duration,
    /// How long a relaying node holds new values before forwarding them.
    pub relay_batch: Duration,
    /// Period of the anti-entropy check; `None` turns it off.
    pub anti_entropy: Option<Duration>,
    /// Age after which a value a neighbour has not confirmed is sent again by the check.
    pub retry_after: Duration,
    /// Margin, beyond the batching interval, before a value absent from a neighbour's
    /// fresh summary counts as lost and is pushed at once.
    pub repair_grace: Duration,
    /// Ask the receiver of every gossip message to confirm it right away.
    pub acks: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            layout: Layout::Star,
            origin_batch: Duration::ZERO,
            relay_batch: Duration::from_millis(DEFAULT_RELAY_BATCH_MS),
            anti_entropy: Some(Duration::from_millis(DEFAULT_ANTI_ENTROPY_MS)),
            retry_after: Duration::from_millis(DEFAULT_RETRY_AFTER_MS),
            repair_grace: Duration::from_millis(DEFAULT_REPAIR_GRACE_MS),
            acks: false,
        }
    }
}

const DEFAULT_RELAY_BATCH_MS: u64 = 150;
const DEFAULT_ANTI_ENTROPY_MS: u64 = 1000;
const DEFAULT_RETRY_AFTER_MS: u64 = 2000;
const DEFAULT_REPAIR_GRACE_MS: u64 = 500;

impl Settings {
    /// Reads and checks the section (unknown keys are rejected by the registry).
    pub fn from_section(s: &mut Section) -> Result<Settings, ConfigError> {
        let name = s.choice("topology", "star", Layout::NAMES)?;
        let fanout = s.u64("fanout", 4, 1..=1024)? as usize;
        let layout = Layout::from_name(&name, fanout)
            .ok_or_else(|| s.error("topology", format!("unknown layout {name}")))?;
        let origin_batch = s.millis("origin_batch_ms", 0, 0..=60_000)?;
        let relay_batch = s.millis("relay_batch_ms", DEFAULT_RELAY_BATCH_MS, 0..=60_000)?;
        let anti_entropy = s.millis("anti_entropy_ms", DEFAULT_ANTI_ENTROPY_MS, 0..=600_000)?;
        let retry_after = s.millis("retry_after_ms", DEFAULT_RETRY_AFTER_MS, 1..=600_000)?;
        let repair_grace = s.millis("repair_grace_ms", DEFAULT_REPAIR_GRACE_MS, 0..=600_000)?;
        let acks = s.bool("acks", false)?;
        Ok(Settings {
            layout,
            origin_batch,
            relay_batch,
            anti_entropy: (!anti_entropy.is_zero()).then_some(anti_entropy),
            retry_after,
            repair_grace,
            acks,
        })
    }
}
