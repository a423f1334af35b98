//! Time as the core sees it: numbers handed in by the caller.
//!
//! The core never reads a clock. The web layer passes `performance.now()`
//! (monotonic, in milliseconds), and tests pass whatever their fake clock says,
//! which is what makes every timing rule testable step by step.
//!
//! Both types count whole milliseconds in a `u64`, the resolution every
//! timing rule is stated in. (`core::time::Duration` would do too, but its
//! seconds-and-nanoseconds arithmetic is a sizeable share of the `.wasm`
//! for no precision the host can give.)

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
    pub const fn after(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(duration.0))
    }

    /// How long from `self` until `later`; zero when `later` is not later.
    pub const fn until(self, later: Instant) -> Duration {
        Duration(later.0.saturating_sub(self.0))
    }
}

/// A span of time in whole milliseconds. Its arithmetic saturates instead
/// of overflowing (or panicking).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(u64);

impl Duration {
    /// No time at all.
    pub const ZERO: Self = Self(0);

    /// `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// Its length in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self * factor`, saturating at the end of time.
    pub const fn saturating_mul(self, factor: u64) -> Self {
        Self(self.0.saturating_mul(factor))
    }

    /// `self - other`, zero when `other` is longer.
    pub const fn saturating_sub(self, other: Duration) -> Self {
        Self(self.0.saturating_sub(other.0))
    }

    /// `self * fraction` for a `fraction` in `[0, 1]` (clamped into it),
    /// rounded down.
    pub fn fraction(self, fraction: f64) -> Self {
        Self((self.0 as f64 * fraction.clamp(0.0, 1.0)) as u64)
    }
}

impl core::ops::Div<u64> for Duration {
    type Output = Self;

    /// `self / divisor`, rounded down. The core divides by constants only.
    fn div(self, divisor: u64) -> Self {
        Self(self.0 / divisor)
    }
}
