//! Time as the core sees it: numbers handed in by the caller.
//!
//! The core never reads a clock. The web layer passes `performance.now()`
//! (monotonic, in milliseconds), and tests pass whatever their fake clock says,
//! which is what makes every timing rule testable step by step.

use core::time::Duration;

/// A point in time, in milliseconds since an origin the caller picks.
///
/// Only differences between instants mean anything; the core assumes the
/// caller's clock never runs backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The instant `millis` milliseconds after the caller's origin.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the caller's origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + duration`, saturating at the end of time instead of overflowing.
    pub fn after(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(millis(duration)))
    }

    /// How long from `self` until `later`; zero when `later` is not later.
    pub fn until(self, later: Instant) -> Duration {
        Duration::from_millis(later.0.saturating_sub(self.0))
    }
}

/// Whole milliseconds of a duration, saturating instead of truncating to a
/// small number when the duration is absurdly long.
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
