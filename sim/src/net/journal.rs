//! The network journal (spec §3.2): every send, delivery and partition drop, written to
//! `messages.jsonl` by a dedicated thread so the router never waits on the disk.
//!
//! One line per event: `{"kind":"send","time":NS,"id":N,"src":..,"dest":..,"body":{..}}`
//! for a send; `recv` (delivered) and `drop` (discarded by a partition) lines carry the
//! same fields without the body, which is on the send line with the same `id` (this halves
//! the journal). `time` is nanoseconds since the test start, `id` the network's message id.
//!
//! Events waiting for the disk are held within a byte budget (64 MiB): when the disk falls
//! behind, the router waits for it rather than growing the bench's memory. A write error
//! stops the writing, not the draining, so the router never waits on a dead journal.

use super::budget::ByteBudget;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Bytes of events that may wait for the disk.
const JOURNAL_BUDGET: usize = 64 << 20;

/// What happened to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Handed to the network.
    Send,
    /// Delivered to its destination.
    Recv,
    /// Discarded by a partition.
    Drop,
}

impl EventKind {
    fn as_str(self) -> &'static str {
        match self {
            EventKind::Send => "send",
            EventKind::Recv => "recv",
            EventKind::Drop => "drop",
        }
    }
}

/// One journal event; `wire` is the message as delivered (`{"id":..,"src":..,..}`).
pub struct Event {
    /// Send, recv or drop.
    pub kind: EventKind,
    /// Nanoseconds since the test start.
    pub time: u64,
    /// The message's wire form.
    pub wire: Arc<str>,
    /// Where the body starts in `wire` (just after `"body":`).
    pub body_at: usize,
}

impl Event {
    /// The bytes this event holds on to (its share of the budget).
    fn weight(&self) -> usize {
        self.wire.len() + 64
    }
}

/// Where the router hands its event batches: a channel to the writer thread, guarded by
/// the journal's byte budget.
pub struct JournalSink {
    tx: Sender<Vec<Event>>,
    budget: Arc<ByteBudget>,
}

impl JournalSink {
    /// A sink sending to `tx` within `budget` (the receiver must release what it takes).
    pub fn new(tx: Sender<Vec<Event>>, budget: Arc<ByteBudget>) -> JournalSink {
        JournalSink { tx, budget }
    }

    /// Hands a batch over, waiting while the writer is more than the budget behind.
    pub fn send(&self, batch: Vec<Event>) {
        let weight = batch.iter().map(Event::weight).sum();
        if !self.budget.acquire(weight) {
            return;
        }
        if self.tx.send(batch).is_err() {
            self.budget.release(weight);
        }
    }
}

/// Handle to the journal thread.
pub struct Journal {
    tx: Sender<Vec<Event>>,
    budget: Arc<ByteBudget>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Journal {
    /// Starts a journal writing to `path`.
    pub fn create(path: &Path) -> std::io::Result<Journal> {
        let file = File::create(path)?;
        let (tx, rx) = channel();
        let budget = Arc::new(ByteBudget::new(JOURNAL_BUDGET));
        let writer_budget = budget.clone();
        let thread = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || {
                write_all(rx, BufWriter::with_capacity(1 << 20, file), &writer_budget)
            })?;
        Ok(Journal {
            tx,
            budget,
            thread: Some(thread),
        })
    }

    /// A sink for events.
    pub fn sender(&self) -> JournalSink {
        JournalSink::new(self.tx.clone(), self.budget.clone())
    }

    /// Waits until every event sent so far is on disk (all senders must be dropped).
    pub fn finish(mut self) -> std::io::Result<()> {
        let Journal { tx, thread, .. } = &mut self;
        drop(std::mem::replace(tx, channel().0));
        match thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("journal thread panicked")),
            None => Ok(()),
        }
    }
}

fn write_all<W: Write>(
    rx: Receiver<Vec<Event>>,
    mut out: W,
    budget: &ByteBudget,
) -> std::io::Result<()> {
    let mut failed = None;
    for batch in rx {
        if failed.is_none() {
            if let Err(e) = batch.iter().try_for_each(|e| write_event(&mut out, e)) {
                failed = Some(e);
            }
        }
        budget.release(batch.iter().map(Event::weight).sum());
    }
    match failed {
        Some(e) => Err(e),
        None => out.flush(),
    }
}

/// Writes one event as a JSON line.
pub fn write_event<W: Write>(out: &mut W, e: &Event) -> std::io::Result<()> {
    // The wire form is a JSON object starting with '{': splice our two fields in front.
    let rest = e.wire.strip_prefix('{').unwrap_or(&e.wire);
    let head = format!("{{\"kind\":\"{}\",\"time\":{},", e.kind.as_str(), e.time);
    if e.kind == EventKind::Send {
        return writeln!(out, "{head}{rest}");
    }
    let envelope = e
        .wire
        .get(1..e.body_at)
        .and_then(|s| s.strip_suffix(",\"body\":"))
        .unwrap_or(rest);
    writeln!(out, "{head}{envelope}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_carry_the_body_and_other_events_only_the_envelope() {
        let text = r#"{"id":4,"src":"c1","dest":"n0","body":{"type":"echo"}}"#;
        let body_at = text.find("{\"type").unwrap();
        let wire: Arc<str> = Arc::from(text);
        for kind in [EventKind::Send, EventKind::Drop] {
            let mut buf = Vec::new();
            let ev = Event {
                kind,
                time: 17,
                wire: wire.clone(),
                body_at,
            };
            write_event(&mut buf, &ev).unwrap();
            let line = String::from_utf8(buf).unwrap();
            let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
            assert_eq!(v["time"], 17);
            assert_eq!(v["id"], 4);
            assert_eq!(v["src"], "c1");
            assert_eq!(v["dest"], "n0");
            if kind == EventKind::Send {
                assert_eq!(v["kind"], "send");
                assert_eq!(v["body"]["type"], "echo");
            } else {
                assert_eq!(v["kind"], "drop");
                assert!(v.get("body").is_none());
            }
        }
    }
}
