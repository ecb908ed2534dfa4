//! Real-time and process order edges between transactions.

use super::graph::{GraphBuilder, Rel};

/// Where a transaction sits in the history (indexes into `History::ops`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Index of the invoke entry.
    pub invoke: usize,
    /// Index of the completion entry, if any.
    pub completion: Option<usize>,
    /// True if the completion is `ok`.
    pub ok: bool,
    /// The Jepsen process.
    pub process: u64,
}

/// Adds `a -> b` (realtime) whenever `a` completed `ok` before `b` was invoked,
/// keeping only a transitive reduction, as Elle does: an edge from `a` is dropped
/// once some `c` with `a -> c` has itself completed (then `a -> c -> b` covers it).
/// `spans[i]` is transaction `i` of the builder.
pub fn add_realtime_edges(b: &mut GraphBuilder, spans: &[Span]) {
    // (history index, is completion, transaction)
    let mut events: Vec<(usize, bool, u32)> = Vec::with_capacity(spans.len() * 2);
    for (t, s) in spans.iter().enumerate() {
        events.push((s.invoke, false, t as u32));
        if let Some(c) = s.completion {
            events.push((c, true, t as u32));
        }
    }
    events.sort_unstable();
    let mut frontier: Vec<u32> = Vec::new();
    for (_, is_completion, t) in events {
        let span = spans[t as usize];
        if !is_completion {
            for &f in &frontier {
                b.add(f as usize, t as usize, Rel::Realtime);
            }
        } else if span.ok {
            // Ops that completed before t began now reach later ops through t.
            frontier.retain(|&f| {
                spans[f as usize]
                    .completion
                    .is_some_and(|c| c >= span.invoke)
            });
            frontier.push(t);
        }
    }
}

/// Adds `a -> b` (process) between consecutive `ok` transactions of each process.
pub fn add_process_edges(b: &mut GraphBuilder, spans: &[Span]) {
    let mut order: Vec<u32> = (0..spans.len() as u32)
        .filter(|&t| spans[t as usize].ok)
        .collect();
    order.sort_unstable_by_key(|&t| (spans[t as usize].process, spans[t as usize].invoke));
    for w in order.windows(2) {
        if spans[w[0] as usize].process == spans[w[1] as usize].process {
            b.add(w[0] as usize, w[1] as usize, Rel::Process);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(invoke: usize, completion: usize, ok: bool, process: u64) -> Span {
        Span {
            invoke,
            completion: Some(completion),
            ok,
            process,
        }
    }

    #[test]
    fn realtime_edges_are_a_transitive_reduction() {
        // a: 0-1, b: 2-3, c: 4-5 sequential; d: 2-7 concurrent with b and c.
        let spans = [
            span(0, 1, true, 0),
            span(2, 3, true, 0),
            span(4, 5, true, 0),
            span(6, 7, true, 1),
        ];
        let mut b = GraphBuilder::new(4);
        add_realtime_edges(&mut b, &spans);
        let g = b.build();
        assert!(g.rels_between(0, 1).contains(Rel::Realtime));
        assert!(g.rels_between(1, 2).contains(Rel::Realtime));
        assert!(g.rels_between(2, 3).contains(Rel::Realtime));
        assert!(g.rels_between(0, 2).is_empty(), "covered by 0 -> 1 -> 2");
        assert!(g.rels_between(3, 2).is_empty());
    }

    #[test]
    fn failed_ops_precede_nothing_but_follow_others() {
        let spans = [
            span(0, 1, false, 0),
            span(2, 3, true, 1),
            span(4, 5, true, 0),
        ];
        let mut b = GraphBuilder::new(3);
        add_realtime_edges(&mut b, &spans);
        let g = b.build();
        assert!(g.rels_between(0, 1).is_empty() && g.rels_between(0, 2).is_empty());
        assert!(g.rels_between(1, 2).contains(Rel::Realtime));
    }

    #[test]
    fn process_edges_link_consecutive_oks() {
        let spans = [
            span(0, 1, true, 7),
            span(2, 3, true, 8),
            span(4, 5, false, 7),
            span(6, 9, true, 7),
        ];
        let mut b = GraphBuilder::new(4);
        add_process_edges(&mut b, &spans);
        let g = b.build();
        assert!(g.rels_between(0, 3).contains(Rel::Process));
        assert_eq!(g.edge_count(), 1);
    }
}
