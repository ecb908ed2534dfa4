//! A just-in-time linearizability search over one key (Lowe's JIT linearization, with
//! the memoisation of WGL): walk the history in order keeping every reachable
//! configuration (register value, which in-flight operations are already linearized,
//! how many indeterminate operations of each kind were used). Operations are
//! linearized only when a return forces it; a configuration with nothing left dies.
//!
//! Pruning that keeps the search exact:
//! - a read that matches the current value is linearized at once (it changes nothing,
//!   so doing it early is never worse);
//! - indeterminate operations with the same call are interchangeable and only counted,
//!   and a configuration that used fewer of them dominates one that used more.

use std::collections::HashMap;

use super::model::{Call, State, NULL};
use super::parse::KeyHistory;
use crate::checker::cycles::Budget;

/// Most operations that may be in flight at once on one key.
pub const MAX_IN_FLIGHT: usize = 128;

/// The result for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Some order of the operations explains every result.
    Linearizable {
        /// The most configurations alive at once (a measure of the search's effort).
        max_configs: usize,
    },
    /// No order explains the result of operation `op` (index into the key's ops).
    Violation(Violation),
    /// The budget ran out after `done` of the key's operations had returned.
    OutOfBudget {
        /// Returns processed.
        done: usize,
    },
    /// More than [`MAX_IN_FLIGHT`] operations were in flight at once.
    TooConcurrent,
}

/// Why a key is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The operation whose result no order explains.
    pub op: usize,
    /// The values the register could hold while it was in flight.
    pub possible: Vec<State>,
    /// Operations in flight at that moment (completed ones, then indeterminate ones).
    pub in_flight: Vec<usize>,
}

/// One search state. `used` names an interned vector of per-class counts of
/// indeterminate operations already linearized (see [`Used`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Config {
    state: State,
    /// Linearized in-flight operations, by slot.
    mask: u128,
    used: u32,
}

/// Interned per-class usage vectors (trailing zeros trimmed), so that configurations
/// stay small and cheap to hash.
#[derive(Default)]
struct Used {
    vecs: Vec<Vec<u16>>,
    ids: HashMap<Vec<u16>, u32>,
    bumped: HashMap<(u32, usize), u32>,
}

impl Used {
    fn new() -> Used {
        let mut u = Used::default();
        u.intern(Vec::new());
        u
    }

    fn intern(&mut self, v: Vec<u16>) -> u32 {
        if let Some(&id) = self.ids.get(&v) {
            return id;
        }
        let id = self.vecs.len() as u32;
        self.vecs.push(v.clone());
        self.ids.insert(v, id);
        id
    }

    fn count(&self, id: u32, class: usize) -> u16 {
        self.vecs[id as usize].get(class).copied().unwrap_or(0)
    }

    /// The vector `id` with one more use of `class`.
    fn bump(&mut self, id: u32, class: usize) -> u32 {
        if let Some(&b) = self.bumped.get(&(id, class)) {
            return b;
        }
        let mut v = self.vecs[id as usize].clone();
        if v.len() <= class {
            v.resize(class + 1, 0);
        }
        v[class] += 1;
        let b = self.intern(v);
        self.bumped.insert((id, class), b);
        b
    }

    /// True if every count of `a` is at most the matching count of `b`.
    fn at_most(&self, a: u32, b: u32) -> bool {
        let (a, b) = (&self.vecs[a as usize], &self.vecs[b as usize]);
        a.len() <= b.len() && a.iter().zip(b).all(|(x, y)| x <= y)
    }
}

/// Configurations with Pareto-minimal usage per (state, mask).
#[derive(Default)]
struct ConfigSet {
    map: HashMap<(State, u128), Vec<u32>>,
}

impl ConfigSet {
    /// Adds `c` unless an entry dominates it; returns whether it was added.
    fn insert(&mut self, c: Config, used: &Used) -> bool {
        let list = self.map.entry((c.state, c.mask)).or_default();
        if list.iter().any(|&u| used.at_most(u, c.used)) {
            return false;
        }
        list.retain(|&u| !used.at_most(c.used, u));
        list.push(c.used);
        true
    }

    fn len(&self) -> usize {
        self.map.values().map(Vec::len).sum()
    }

    fn drain(self) -> impl Iterator<Item = Config> {
        self.map.into_iter().flat_map(|((state, mask), l)| {
            l.into_iter().map(move |used| Config { state, mask, used })
        })
    }
}

/// The search over one key.
struct Search<'a> {
    kh: &'a KeyHistory,
    /// Slot -> operation in flight.
    slots: Vec<Option<usize>>,
    /// Occupied slots.
    occupied: u128,
    /// Indeterminate classes: call, instances invoked so far, their op indexes.
    classes: Vec<(Call, u16, Vec<usize>)>,
    used: Used,
}

impl Search<'_> {
    fn call(&self, slot: usize) -> Call {
        self.kh.ops[self.slots[slot].unwrap_or(0)].call
    }

    /// Linearizes every in-flight read that matches the register.
    fn saturate(&self, c: &mut Config) {
        let mut free = self.occupied & !c.mask;
        while free != 0 {
            let slot = free.trailing_zeros() as usize;
            free &= free - 1;
            if self.call(slot) == Call::Read(c.state) {
                c.mask |= 1 << slot;
            }
        }
    }

    /// Every configuration reachable from `configs` in which the operation in `x`
    /// has been linearized (its slot bit then cleared). Also returns every value
    /// the register could hold on the way.
    fn close(
        &mut self,
        configs: ConfigSet,
        x: usize,
        budget: &mut Budget,
    ) -> Option<(ConfigSet, Vec<State>)> {
        let bit = 1u128 << x;
        let mut next = ConfigSet::default();
        let mut seen_states: Vec<State> = Vec::new();
        // Visited configurations, Pareto-minimal in usage like `ConfigSet`: one that
        // used more indeterminate operations than a visited one adds nothing.
        let mut visited = ConfigSet::default();
        let mut stack: Vec<Config> = Vec::new();
        let mut succ: Vec<Config> = Vec::new();
        for c in configs.drain() {
            if visited.insert(c, &self.used) {
                stack.push(c);
            }
        }
        while let Some(cur) = stack.pop() {
            if !budget.spend(1) {
                return None;
            }
            if cur.mask & bit != 0 {
                next.insert(
                    Config {
                        mask: cur.mask & !bit,
                        ..cur
                    },
                    &self.used,
                );
                continue;
            }
            if !seen_states.contains(&cur.state) {
                seen_states.push(cur.state);
            }
            succ.clear();
            let mut free = self.occupied & !cur.mask;
            while free != 0 {
                let slot = free.trailing_zeros() as usize;
                free &= free - 1;
                if let Some(state) = self.call(slot).step(cur.state) {
                    succ.push(Config {
                        state,
                        mask: cur.mask | (1 << slot),
                        used: cur.used,
                    });
                }
            }
            for ci in 0..self.classes.len() {
                let (call, invoked, _) = &self.classes[ci];
                if self.used.count(cur.used, ci) >= *invoked {
                    continue;
                }
                if let Some(state) = call.step(cur.state) {
                    if state == cur.state {
                        // Same register, same obligations, one use fewer left:
                        // dominated by `cur` itself.
                        continue;
                    }
                    let used = self.used.bump(cur.used, ci);
                    succ.push(Config {
                        state,
                        mask: cur.mask,
                        used,
                    });
                }
            }
            for mut c in succ.drain(..) {
                self.saturate(&mut c);
                if visited.insert(c, &self.used) {
                    stack.push(c);
                }
            }
        }
        Some((next, seen_states))
    }
}

/// Checks one key.
pub fn check_key(kh: &KeyHistory, budget: &mut Budget) -> Outcome {
    // (history index, is invoke, op)
    let mut events: Vec<(usize, bool, usize)> = Vec::with_capacity(kh.ops.len() * 2);
    for (i, op) in kh.ops.iter().enumerate() {
        events.push((op.invoke, true, i));
        if let Some(c) = op.completion {
            events.push((c, false, i));
        }
    }
    events.sort_unstable();
    let mut s = Search {
        kh,
        slots: vec![None; MAX_IN_FLIGHT],
        occupied: 0,
        classes: Vec::new(),
        used: Used::new(),
    };
    let mut slot_of: Vec<usize> = vec![usize::MAX; kh.ops.len()];
    let mut configs = ConfigSet::default();
    configs.insert(
        Config {
            state: NULL,
            mask: 0,
            used: 0,
        },
        &s.used,
    );
    let mut max_configs = 1;
    let mut done = 0;
    for (_, is_invoke, i) in events {
        let op = kh.ops[i];
        if is_invoke {
            if op.completion.is_none() {
                match s.classes.iter_mut().find(|c| c.0 == op.call) {
                    Some(c) => {
                        c.1 += 1;
                        c.2.push(i);
                    }
                    None => s.classes.push((op.call, 1, vec![i])),
                }
                continue;
            }
            let Some(slot) = (0..MAX_IN_FLIGHT).find(|&b| s.occupied & (1 << b) == 0) else {
                return Outcome::TooConcurrent;
            };
            s.slots[slot] = Some(i);
            s.occupied |= 1 << slot;
            slot_of[i] = slot;
            continue;
        }
        let slot = slot_of[i];
        let in_flight: Vec<usize> = (0..MAX_IN_FLIGHT)
            .filter(|&b| s.occupied & (1 << b) != 0 && b != slot)
            .filter_map(|b| s.slots[b])
            .collect();
        let Some((next, possible)) = s.close(configs, slot, budget) else {
            return Outcome::OutOfBudget { done };
        };
        if next.len() == 0 {
            let mut in_flight = in_flight;
            in_flight.sort_unstable();
            in_flight.extend(s.classes.iter().flat_map(|c| c.2.iter().copied()));
            let mut possible = possible;
            possible.sort_unstable();
            return Outcome::Violation(Violation {
                op: i,
                possible,
                in_flight,
            });
        }
        s.occupied &= !(1 << slot);
        s.slots[slot] = None;
        configs = next;
        max_configs = max_configs.max(configs.len());
        done += 1;
    }
    Outcome::Linearizable { max_configs }
}

#[cfg(test)]
mod tests {
    use super::super::parse::LinOp;
    use super::*;
    use std::time::Duration;

    /// Ops as (invoke time, completion time or None, call).
    fn key(ops: &[(usize, Option<usize>, Call)]) -> KeyHistory {
        KeyHistory {
            key: None,
            ops: ops
                .iter()
                .map(|&(invoke, completion, call)| LinOp {
                    invoke,
                    completion,
                    call,
                })
                .collect(),
            values: Vec::new(),
        }
    }

    fn run(ops: &[(usize, Option<usize>, Call)]) -> Outcome {
        check_key(&key(ops), &mut Budget::new(Duration::from_secs(10)))
    }

    fn ok(o: &Outcome) -> bool {
        matches!(o, Outcome::Linearizable { .. })
    }

    use Call::*;

    #[test]
    fn sequential_histories() {
        assert!(ok(&run(&[(0, Some(1), Write(1)), (2, Some(3), Read(1))])));
        assert!(!ok(&run(&[
            (0, Some(1), Write(1)),
            (2, Some(3), Read(NULL))
        ])));
        assert!(!ok(&run(&[
            (0, Some(1), Read(NULL)),
            (2, Some(3), Cas(1, 2))
        ])));
        assert!(ok(&run(&[
            (0, Some(1), Write(1)),
            (2, Some(3), Cas(1, 2)),
            (4, Some(5), Read(2))
        ])));
    }

    #[test]
    fn concurrent_operations_may_take_effect_in_either_order() {
        // Write 1 overlaps a read of 1 and a read of null.
        assert!(ok(&run(&[
            (0, Some(5), Write(1)),
            (1, Some(2), Read(NULL)),
            (3, Some(4), Read(1))
        ])));
        // But once 1 was read, null cannot come back.
        let out = run(&[
            (0, Some(5), Write(1)),
            (1, Some(2), Read(1)),
            (3, Some(4), Read(NULL)),
        ]);
        let Outcome::Violation(v) = out else {
            panic!("{out:?}")
        };
        assert_eq!(v.op, 2);
        assert_eq!(v.possible, vec![1]);
        assert_eq!(v.in_flight, vec![0]);
    }

    #[test]
    fn indeterminate_operations() {
        // An info write that must have happened (its value is read later).
        assert!(ok(&run(&[(0, None, Write(2)), (1, Some(2), Read(2))])));
        // One that must not have happened: a read after a later overwrite.
        assert!(ok(&run(&[
            (0, Some(1), Write(1)),
            (2, None, Write(2)),
            (3, Some(4), Read(1)),
            (5, Some(6), Read(1)),
        ])));
        // It cannot take effect twice.
        assert!(!ok(&run(&[
            (0, None, Write(2)),
            (1, Some(2), Read(2)),
            (3, Some(4), Write(1)),
            (5, Some(6), Read(2)),
        ])));
        // Nor before it was invoked.
        assert!(!ok(&run(&[(0, Some(1), Read(2)), (2, None, Write(2))])));
        // Two identical info writes can each take effect once.
        assert!(ok(&run(&[
            (0, None, Write(2)),
            (1, None, Write(2)),
            (2, Some(3), Read(2)),
            (4, Some(5), Write(1)),
            (6, Some(7), Read(2)),
        ])));
    }

    #[test]
    fn budget_exhaustion_is_not_a_verdict() {
        let mut b = Budget::new(Duration::ZERO);
        while b.spend(1) {}
        let out = check_key(
            &key(&[(0, Some(1), Write(1)), (2, Some(3), Read(1))]),
            &mut b,
        );
        assert!(matches!(out, Outcome::OutOfBudget { .. }));
    }

    #[test]
    fn many_sequential_operations_stay_cheap() {
        let ops: Vec<(usize, Option<usize>, Call)> = (0..20_000)
            .map(|i| {
                let call = if i % 2 == 0 {
                    Write((i % 5) as State + 1)
                } else {
                    Read(((i - 1) % 5) as State + 1)
                };
                (2 * i, Some(2 * i + 1), call)
            })
            .collect();
        let out = run(&ops);
        assert_eq!(out, Outcome::Linearizable { max_configs: 1 });
    }

    /// Brute force: tries every order that respects real time; indeterminate
    /// operations may be left out.
    fn brute(ops: &[(usize, Option<usize>, Call)]) -> bool {
        fn go(ops: &[(usize, Option<usize>, Call)], done: &mut Vec<bool>, state: State) -> bool {
            if ops
                .iter()
                .zip(done.iter())
                .all(|(o, d)| *d || o.1.is_none())
            {
                return true;
            }
            for i in 0..ops.len() {
                if done[i] {
                    continue;
                }
                // Every completed op that returned before i began must come first.
                let blocked = ops
                    .iter()
                    .enumerate()
                    .any(|(j, o)| !done[j] && j != i && o.1.is_some_and(|c| c < ops[i].0));
                if blocked {
                    continue;
                }
                if let Some(next) = ops[i].2.step(state) {
                    done[i] = true;
                    let ok = go(ops, done, next);
                    done[i] = false;
                    if ok {
                        return true;
                    }
                }
            }
            false
        }
        go(ops, &mut vec![false; ops.len()], NULL)
    }

    #[test]
    fn agrees_with_brute_force_on_random_small_histories() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(7);
        let mut violations = 0;
        for _ in 0..4000 {
            let n = rng.random_range(1..=7);
            let mut times: Vec<usize> = (0..2 * n).collect();
            // Shuffle the event times.
            for i in (1..times.len()).rev() {
                times.swap(i, rng.random_range(0..=i));
            }
            let ops: Vec<(usize, Option<usize>, Call)> = (0..n)
                .map(|i| {
                    let (a, b) = (
                        times[2 * i].min(times[2 * i + 1]),
                        times[2 * i].max(times[2 * i + 1]),
                    );
                    let (x, y): (u32, u32) = (rng.random_range(0..3), rng.random_range(0..3));
                    let call = match rng.random_range(0..3) {
                        0 => Read(x),
                        1 => Write(x),
                        _ => Cas(x, y),
                    };
                    let info = rng.random_bool(0.2) && !call.is_read();
                    (a, if info { None } else { Some(b) }, call)
                })
                .collect();
            let expected = brute(&ops);
            let got = run(&ops);
            assert_eq!(ok(&got), expected, "{ops:?} -> {got:?}");
            violations += usize::from(!expected);
        }
        assert!(
            violations > 100,
            "the generator must produce violations too: {violations}"
        );
    }
}
