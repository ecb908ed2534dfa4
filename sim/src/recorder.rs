//! Records the history as workers run, plus the side lists the results need: client
//! exceptions and nemesis events (kept out of the history so `invoke_count` counts client
//! invocations only), and live counters for the progress line.

use crate::client::outcome::Completion;
use glomers_simkit::history::{History, Op, OpType};
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// An unhandled client exception (Maelstrom's `:exceptions`).
#[derive(Debug, Clone, Serialize)]
pub struct ExceptionRecord {
    /// History index of the info completion.
    pub index: usize,
    /// Process.
    pub process: u64,
    /// Node.
    pub node: String,
    /// Client.
    pub client: String,
    /// Request msg_id.
    pub msg_id: Option<u64>,
    /// Operation name.
    pub f: String,
    /// What happened.
    pub message: String,
}

/// One nemesis operation.
#[derive(Debug, Clone, Serialize)]
pub struct NemesisEvent {
    /// Nanoseconds since the test start.
    pub time: u64,
    /// Always "nemesis".
    pub process: &'static str,
    /// `start-partition` or `stop-partition`.
    pub f: String,
    /// The partition (shape and grudge) or null.
    pub value: Value,
}

/// Live counts for the progress line.
#[derive(Default)]
pub struct Counts {
    /// Invocations.
    pub invokes: AtomicU64,
    /// Ok completions.
    pub ok: AtomicU64,
    /// Fail completions.
    pub fail: AtomicU64,
    /// Info completions.
    pub info: AtomicU64,
}

/// Where a recorder's times come from.
enum Clock {
    /// Nanoseconds since this instant.
    Wall(Instant),
    /// The time a driver last set, in nanoseconds.
    Virtual(AtomicU64),
}

/// Thread-safe history recorder.
pub struct Recorder {
    clock: Clock,
    history: Mutex<History>,
    exceptions: Mutex<Vec<ExceptionRecord>>,
    nemesis: Mutex<Vec<NemesisEvent>>,
    /// Live counters.
    pub counts: Counts,
}

/// Who performs an operation.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Jepsen process.
    pub process: u64,
    /// Node addressed.
    pub node: String,
    /// Client id.
    pub client: String,
    /// Request msg_id.
    pub msg_id: Option<u64>,
}

impl Recorder {
    /// A recorder whose times count from `start`.
    pub fn new(start: Instant) -> Recorder {
        Recorder::with_clock(Clock::Wall(start))
    }

    /// A recorder whose times are set by the driver with [`Recorder::set_time`].
    pub fn virtual_clock() -> Recorder {
        Recorder::with_clock(Clock::Virtual(AtomicU64::new(0)))
    }

    /// Sets the time of the next records (virtual-clock recorders only).
    pub fn set_time(&self, nanos: u64) {
        if let Clock::Virtual(t) = &self.clock {
            t.store(nanos, Ordering::Relaxed);
        }
    }

    fn with_clock(clock: Clock) -> Recorder {
        Recorder {
            clock,
            history: Mutex::new(History::default()),
            exceptions: Mutex::new(Vec::new()),
            nemesis: Mutex::new(Vec::new()),
            counts: Counts::default(),
        }
    }

    fn now(&self) -> u64 {
        match &self.clock {
            Clock::Wall(start) => start.elapsed().as_nanos() as u64,
            Clock::Virtual(t) => t.load(Ordering::Relaxed),
        }
    }

    fn push(&self, op: Op) -> usize {
        match self.history.lock() {
            Ok(mut h) => h.push(op),
            Err(p) => p.into_inner().push(op),
        }
    }

    /// Records an invocation and returns its index.
    pub fn invoke(&self, who: &Actor, f: &str, value: &Value, final_phase: bool) -> usize {
        self.counts.invokes.fetch_add(1, Ordering::Relaxed);
        self.push(Op {
            index: 0,
            time: self.now(),
            process: who.process,
            kind: OpType::Invoke,
            f: f.to_string(),
            value: value.clone(),
            node: Some(who.node.clone()),
            client: Some(who.client.clone()),
            msg_id: who.msg_id,
            error: None,
            final_phase,
        })
    }

    /// Records a completion and returns its type and history index.
    pub fn complete(
        &self,
        who: &Actor,
        f: &str,
        c: Completion,
        final_phase: bool,
    ) -> (OpType, usize) {
        let (kind, value, error, exception) = match c {
            Completion::Ok(v) => (OpType::Ok, v, None, None),
            Completion::Fail { value, error } => (OpType::Fail, value, Some(error), None),
            Completion::Info {
                value,
                error,
                exception,
            } => (OpType::Info, value, Some(error), exception),
        };
        let counter = match kind {
            OpType::Ok => &self.counts.ok,
            OpType::Fail => &self.counts.fail,
            _ => &self.counts.info,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let index = self.push(Op {
            index: 0,
            time: self.now(),
            process: who.process,
            kind,
            f: f.to_string(),
            value,
            node: Some(who.node.clone()),
            client: Some(who.client.clone()),
            msg_id: who.msg_id,
            error,
            final_phase,
        });
        if let Some(message) = exception {
            if let Ok(mut ex) = self.exceptions.lock() {
                ex.push(ExceptionRecord {
                    index,
                    process: who.process,
                    node: who.node.clone(),
                    client: who.client.clone(),
                    msg_id: who.msg_id,
                    f: f.to_string(),
                    message,
                });
            }
        }
        (kind, index)
    }

    /// A copy of the entry at `index`.
    pub fn op(&self, index: usize) -> Option<Op> {
        self.history.lock().ok()?.ops.get(index).cloned()
    }

    /// Records a nemesis operation.
    pub fn nemesis(&self, f: &str, value: Value) {
        let ev = NemesisEvent {
            time: self.now(),
            process: "nemesis",
            f: f.to_string(),
            value,
        };
        if let Ok(mut n) = self.nemesis.lock() {
            n.push(ev);
        }
    }

    /// Takes the recorded history out (call once every worker is done).
    pub fn take_history(&self) -> History {
        match self.history.lock() {
            Ok(mut h) => std::mem::take(&mut *h),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    /// A copy of the history so far.
    pub fn history(&self) -> History {
        self.history
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// The exceptions so far.
    pub fn exceptions(&self) -> Vec<ExceptionRecord> {
        self.exceptions
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    /// The nemesis events so far.
    pub fn nemesis_events(&self) -> Vec<NemesisEvent> {
        self.nemesis.lock().map(|e| e.clone()).unwrap_or_default()
    }
}
