//! The `[broadcast]` config section: overlay, batching, anti-entropy, acknowledgements and
//! failover. `config/default.toml` documents every key; the defaults here match it.

use std::time::Duration;

use glomers_runtime::{ConfigError, Section};

use super::layout::Layout;

/// When nodes send what they batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batching {
    /// Each node runs its own timer: a batch leaves `origin_batch` (or `relay_batch`)
    /// after its first value. The two hops of a star wait independently.
    Independent,
    /// Every node sends on a grid of rounds. Relays keep their own grid; leaves shift
    /// theirs, from the relay's answers, so that their batches arrive just before the
    /// relay's next round, which forwards them at once: one round carries both hops.
    Rounds {
        /// The round length.
        period: Duration,
        /// How long before the relay's round a leaf's batch is meant to arrive (and, with
        /// markers, how long past it the relay waits at most for a missing one).
        slack: Duration,
        /// Leaves without values of their own in a round still send a marker when they
        /// have something to confirm, so the relay knows when every batch of the round is
        /// in and forwards at once.
        markers: bool,
    },
}

impl Batching {
    /// The names accepted by the `batching` key.
    pub const NAMES: &'static [&'static str] = &["independent", "rounds"];
}

/// Everything the broadcast family reads from config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The overlay (`topology` and `fanout` keys).
    pub layout: Layout,
    /// When batches leave (`batching`, `round_ms`, `round_slack_ms`).
    pub batching: Batching,
    /// Independent batching: how long a node that only originates holds new values.
    pub origin_batch: Duration,
    /// Independent batching: how long a relaying node holds new values.
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
    /// How long, beyond the relay's own wait, a leaf waits for its relay to answer a
    /// batch before it routes around it through a standby; `None` turns failover off.
    pub failover: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            layout: Layout::Star,
            batching: Batching::Independent,
            origin_batch: Duration::ZERO,
            relay_batch: Duration::from_millis(DEFAULT_RELAY_BATCH_MS),
            anti_entropy: Some(Duration::from_millis(DEFAULT_ANTI_ENTROPY_MS)),
            retry_after: Duration::from_millis(DEFAULT_RETRY_AFTER_MS),
            repair_grace: Duration::from_millis(DEFAULT_REPAIR_GRACE_MS),
            acks: false,
            failover: Some(Duration::from_millis(DEFAULT_FAILOVER_MS)),
        }
    }
}

const DEFAULT_RELAY_BATCH_MS: u64 = 150;
const DEFAULT_ANTI_ENTROPY_MS: u64 = 1000;
const DEFAULT_RETRY_AFTER_MS: u64 = 2000;
const DEFAULT_REPAIR_GRACE_MS: u64 = 500;
const DEFAULT_ROUND_MS: u64 = 400;
const DEFAULT_ROUND_SLACK_MS: u64 = 30;
const DEFAULT_FAILOVER_MS: u64 = 500;

impl Settings {
    /// Reads and checks the section (unknown keys are rejected by the registry).
    pub fn from_section(s: &mut Section) -> Result<Settings, ConfigError> {
        let name = s.choice("topology", "star", Layout::NAMES)?;
        let fanout = s.u64("fanout", 4, 1..=1024)? as usize;
        let layout = Layout::from_name(&name, fanout)
            .ok_or_else(|| s.error("topology", format!("unknown layout {name}")))?;
        let batching = s.choice("batching", "independent", Batching::NAMES)?;
        let origin_batch = s.millis("origin_batch_ms", 0, 0..=60_000)?;
        let relay_batch = s.millis("relay_batch_ms", DEFAULT_RELAY_BATCH_MS, 0..=60_000)?;
        let period = s.millis("round_ms", DEFAULT_ROUND_MS, 1..=60_000)?;
        let slack = s.millis("round_slack_ms", DEFAULT_ROUND_SLACK_MS, 0..=60_000)?;
        if slack >= period {
            return Err(s.error("round_slack_ms", "must be shorter than round_ms"));
        }
        let markers = s.bool("round_markers", true)?;
        let batching = match batching.as_str() {
            "rounds" => Batching::Rounds {
                period,
                slack,
                markers,
            },
            _ => Batching::Independent,
        };
        let anti_entropy = s.millis("anti_entropy_ms", DEFAULT_ANTI_ENTROPY_MS, 0..=600_000)?;
        let retry_after = s.millis("retry_after_ms", DEFAULT_RETRY_AFTER_MS, 1..=600_000)?;
        let repair_grace = s.millis("repair_grace_ms", DEFAULT_REPAIR_GRACE_MS, 0..=600_000)?;
        let acks = s.bool("acks", false)?;
        let failover = s.millis("failover_ms", DEFAULT_FAILOVER_MS, 0..=600_000)?;
        Ok(Settings {
            layout,
            batching,
            origin_batch,
            relay_batch,
            anti_entropy: (!anti_entropy.is_zero()).then_some(anti_entropy),
            retry_after,
            repair_grace,
            acks,
            failover: (!failover.is_zero()).then_some(failover),
        })
    }

    /// The longest a relay holds a value it learned before forwarding it.
    pub fn relay_wait(&self) -> Duration {
        match self.batching {
            Batching::Independent => self.relay_batch,
            Batching::Rounds { period, .. } => period,
        }
    }

    /// How long a standby collects the batches routed through it before relaying them:
    /// in rounds they all leave their senders together, so a short window catches them.
    pub fn standby_gather(&self) -> Duration {
        match self.batching {
            Batching::Independent => self.relay_batch,
            Batching::Rounds { slack, .. } => slack,
        }
    }
}
