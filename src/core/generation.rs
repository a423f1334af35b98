//! Credential generations: how the coordinator tells a stale 401 from a fresh one.

/// Which credential a request was sent with.
///
/// The generation starts at zero and moves forward by one each time the
/// credential is known to have changed: a refresh of this tab succeeded,
/// another tab reported a rotation, or the app logged in again. A request
/// records the generation it was sent with, so a 401 for an older generation
/// is known to be stale (it was sent before the last refresh finished) and is
/// replayed without a new refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Generation(u64);

impl Generation {
    /// The generation with the given number; generations from another tab
    /// arrive as plain numbers.
    pub const fn new(number: u64) -> Self {
        Self(number)
    }

    /// The generation's number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The generation after this one.
    pub(crate) fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}
