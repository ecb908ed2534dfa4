//! The `[raft]` config section. `config/default.toml` documents every key; the defaults
//! here match it.

use std::time::Duration;

use glomers_runtime::{ConfigError, Section};

/// Which state machine runs on the log (the `machine` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineKind {
    /// `lin-kv`: read, write, cas ([`super::kv`]).
    LinKv,
    /// `txn-rw-register`: transactions over registers ([`super::txn`]).
    TxnRwRegister,
    /// `txn-list-append`: transactions over lists ([`super::txn`]).
    TxnListAppend,
}

impl MachineKind {
    /// Every accepted name, as the config spells it.
    pub const NAMES: &'static [&'static str] = &["lin-kv", "txn-rw-register", "txn-list-append"];

    fn from_name(name: &str) -> Option<MachineKind> {
        match name {
            "lin-kv" => Some(MachineKind::LinKv),
            "txn-rw-register" => Some(MachineKind::TxnRwRegister),
            "txn-list-append" => Some(MachineKind::TxnListAppend),
            _ => None,
        }
    }
}

/// Everything the raft family reads from config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The state machine.
    pub machine: MachineKind,
    /// Longest silence of a leader towards a follower: with nothing to send, it sends an
    /// empty append this often.
    pub heartbeat: Duration,
    /// Shortest election timeout; each node draws its timeout anew, uniformly in
    /// [`election_timeout`, 2 × `election_timeout`]. Also how long a leader stays without
    /// hearing from a majority before it steps down, and how long after a leader's last
    /// append a node refuses to vote for anyone else.
    pub election_timeout: Duration,
    /// While client requests wait, the leader starts a replication round at most this
    /// often, so one round carries every request of the interval.
    pub batch: Duration,
    /// Most entries in one append.
    pub max_append_entries: usize,
    /// How long a follower holds a client request for the leader's next append (whose
    /// reply carries it over); then the request is refused with error 11 (it never
    /// reached a log). A node that no leader reached for this long refuses at once.
    pub leader_wait: Duration,
    /// Serve read-only requests from a leader lease when one holds, instead of waiting
    /// for a round to confirm the read index (see [`super::clients`]).
    pub read_lease: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            machine: MachineKind::LinKv,
            heartbeat: Duration::from_millis(DEFAULT_HEARTBEAT_MS),
            election_timeout: Duration::from_millis(DEFAULT_ELECTION_TIMEOUT_MS),
            batch: Duration::from_millis(DEFAULT_BATCH_MS),
            max_append_entries: DEFAULT_MAX_APPEND_ENTRIES as usize,
            leader_wait: Duration::from_millis(DEFAULT_LEADER_WAIT_MS),
            read_lease: false,
        }
    }
}

const DEFAULT_HEARTBEAT_MS: u64 = 100;
const DEFAULT_ELECTION_TIMEOUT_MS: u64 = 500;
const DEFAULT_BATCH_MS: u64 = 50;
const DEFAULT_MAX_APPEND_ENTRIES: u64 = 1000;
const DEFAULT_LEADER_WAIT_MS: u64 = 500;

impl Settings {
    /// Reads and checks the section (unknown keys are rejected by the registry).
    pub fn from_section(s: &mut Section) -> Result<Settings, ConfigError> {
        let name = s.choice("machine", "lin-kv", MachineKind::NAMES)?;
        let machine = MachineKind::from_name(&name)
            .ok_or_else(|| s.error("machine", format!("unknown machine {name}")))?;
        let heartbeat = s.millis("heartbeat_ms", DEFAULT_HEARTBEAT_MS, 1..=60_000)?;
        let election_timeout = s.millis(
            "election_timeout_ms",
            DEFAULT_ELECTION_TIMEOUT_MS,
            2..=600_000,
        )?;
        if heartbeat >= election_timeout {
            return Err(s.error(
                "heartbeat_ms",
                "must be below election_timeout_ms, or followers elect a new leader between two heartbeats",
            ));
        }
        let batch = s.millis("batch_ms", DEFAULT_BATCH_MS, 0..=60_000)?;
        let max_append_entries = s.u64(
            "max_append_entries",
            DEFAULT_MAX_APPEND_ENTRIES,
            1..=1_000_000,
        )? as usize;
        let leader_wait = s.millis("leader_wait_ms", DEFAULT_LEADER_WAIT_MS, 0..=60_000)?;
        let read_lease = s.bool("read_lease", false)?;
        Ok(Settings {
            machine,
            heartbeat,
            election_timeout,
            batch,
            max_append_entries,
            leader_wait,
            read_lease,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glomers_runtime::config::Config;

    fn read(text: &str) -> Result<Settings, ConfigError> {
        let config = Config::parse("t.toml", &format!("[raft]\n{text}")).unwrap();
        Settings::from_section(&mut config.section("raft"))
    }

    #[test]
    fn defaults_and_choices() {
        assert_eq!(read("").unwrap(), Settings::default());
        let s = read("machine = \"txn-list-append\"\nbatch_ms = 0").unwrap();
        assert_eq!(s.machine, MachineKind::TxnListAppend);
        assert!(s.batch.is_zero());
        assert!(read("machine = \"paxos\"").is_err());
    }

    #[test]
    fn heartbeat_must_beat_the_election_timeout() {
        let err = read("heartbeat_ms = 500\nelection_timeout_ms = 500").unwrap_err();
        assert!(err.to_string().contains("heartbeat_ms"), "{err}");
    }
}
