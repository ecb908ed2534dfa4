//! The network journal (spec §3.2): every send, delivery and partition drop, written to
//! `messages.jsonl` by a dedicated thread so the router never waits on the disk.
//!
//! One line per event: `{"kind":"send","time":NS,"id":N,"src":..,"dest":..,"body":{..}}`
//! for a send; `recv` (delivered) and `drop` (discarded by a partition) lines carry the
//! same fields without the body, which is on the send line with the same `id` (this halves
//! the journal). `time` is nanoseconds since the test start, `id` the network's message id.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

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

/// Handle to the journal thread.
pub struct Journal {
    tx: Sender<Vec<Event>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Journal {
    /// Starts a journal writing to `path`.
    pub fn create(path: &Path) -> std::io::Result<Journal> {
        let file = File::create(path)?;
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || write_all(rx, BufWriter::with_capacity(1 << 20, file)))?;
        Ok(Journal {
            tx,
            thread: Some(thread),
        })
    }

    /// A sender for events.
    pub fn sender(&self) -> Sender<Vec<Event>> {
        self.tx.clone()
    }

    /// Waits until every event sent so far is on disk (all senders must be dropped).
    pub fn finish(mut self) -> std::io::Result<()> {
        let Journal { tx, thread } = &mut self;
        drop(std::mem::replace(tx, channel().0));
        match thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("journal thread panicked")),
            None => Ok(()),
        }
    }
}

fn write_all<W: Write>(rx: Receiver<Vec<Event>>, mut out: W) -> std::io::Result<()> {
    for batch in rx {
        for e in &batch {
            write_event(&mut out, e)?;
        }
    }
    out.flush()
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
