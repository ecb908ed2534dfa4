//! The compare-and-set register model (initial value null) that lin-kv keys follow.

/// A register value: 0 is null, `n > 0` is the `n`-th distinct value of the key.
pub type State = u32;

/// The null (never written) state.
pub const NULL: State = 0;

/// What an operation does to the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    /// A read that returned this value.
    Read(State),
    /// A write of this value.
    Write(State),
    /// A compare-and-set from the first value to the second.
    Cas(State, State),
}

impl Call {
    /// The register after applying the call to `state`, or `None` if the call
    /// cannot happen in that state (a read of another value, a cas whose `from`
    /// does not match).
    pub fn step(self, state: State) -> Option<State> {
        match self {
            Call::Read(v) => (v == state).then_some(state),
            Call::Write(v) => Some(v),
            Call::Cas(from, to) => (from == state).then_some(to),
        }
    }

    /// True for reads (which never change the register).
    pub fn is_read(self) -> bool {
        matches!(self, Call::Read(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_register_semantics() {
        assert_eq!(Call::Read(NULL).step(NULL), Some(NULL));
        assert_eq!(Call::Read(1).step(NULL), None);
        assert_eq!(Call::Write(2).step(1), Some(2));
        assert_eq!(Call::Cas(1, 3).step(1), Some(3));
        assert_eq!(Call::Cas(1, 3).step(NULL), None);
        assert!(Call::Read(0).is_read() && !Call::Write(0).is_read());
    }
}
