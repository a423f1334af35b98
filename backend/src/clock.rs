//! Time as the backend sees it: a [`Clock`] passed in through the config (so
//! tests move time by hand instead of sleeping), and the two date formats the
//! wire uses (HTTP dates in `Set-Cookie`, ISO-8601 in dj-rest-auth bodies).

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time, in microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    micros: i64,
}

impl Timestamp {
    /// The time `secs` whole seconds after the epoch.
    pub fn from_secs(secs: i64) -> Self {
        Self {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// The time `micros` microseconds after the epoch.
    pub fn from_micros(micros: i64) -> Self {
        Self { micros }
    }

    /// Whole seconds since the epoch, rounded down: what JWT `exp` and `iat`
    /// hold (SimpleJWT's `datetime_to_epoch` truncates the same way).
    pub fn secs(self) -> i64 {
        self.micros.div_euclid(1_000_000)
    }

    /// Microseconds since the epoch.
    pub fn micros(self) -> i64 {
        self.micros
    }

    /// Seconds since the epoch with the fraction, for comparisons against a
    /// JWT claim the way PyJWT makes them (`exp <= now - leeway`).
    pub fn secs_f64(self) -> f64 {
        // i64 microseconds fit f64's 53-bit mantissa until the year 2255.
        self.micros as f64 / 1_000_000.0
    }

    /// This time moved forward by `by`, saturating rather than overflowing.
    pub fn plus(self, by: Duration) -> Self {
        let by = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        Self {
            micros: self.micros.saturating_add(by),
        }
    }
}

/// Where the backend reads the current time.
///
/// Passed in through [`crate::Config`]; nothing in the backend reads the system
/// clock except [`SystemClock`].
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The real clock. This is the default.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        // A clock before 1970 is a broken machine; treat it as the epoch
        // rather than failing every request.
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp::from_micros(i64::try_from(since.as_micros()).unwrap_or(i64::MAX))
    }
}

/// A clock that moves only when told to, for tests of expiry, grace windows
/// and session caps without sleeping.
#[derive(Debug)]
pub struct ManualClock {
    micros: AtomicI64,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            micros: AtomicI64::new(start.micros()),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.micros.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.micros.load(Ordering::SeqCst))
    }
}

/// Another clock, put ahead by hand: what `--test-hooks` serves with, so an
/// end-to-end test can expire an access token at once (`POST
/// /api/_test/clock`) instead of sleeping through its lifetime. It never
/// runs backwards.
#[derive(Debug)]
pub struct AdjustableClock {
    base: Arc<dyn Clock>,
    ahead_micros: AtomicI64,
}

impl AdjustableClock {
    /// `base`'s time, not yet put ahead.
    pub fn new(base: Arc<dyn Clock>) -> Self {
        Self {
            base,
            ahead_micros: AtomicI64::new(0),
        }
    }

    /// Puts the clock `by` further ahead.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        // fetch_update cannot fail with a closure that always returns Some.
        let _ = self
            .ahead_micros
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |ahead| {
                Some(ahead.saturating_add(by))
            });
    }

    /// How far ahead of `base` it is.
    pub fn ahead(&self) -> Duration {
        Duration::from_micros(u64::try_from(self.ahead_micros.load(Ordering::SeqCst)).unwrap_or(0))
    }
}

impl Clock for AdjustableClock {
    fn now(&self) -> Timestamp {
        self.base.now().plus(self.ahead())
    }
}

/// A civil (proleptic Gregorian, UTC) date and time.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    weekday: u32,
}

/// Splits whole seconds since the epoch into a UTC date and time.
/// The day arithmetic is Howard Hinnant's `civil_from_days`.
fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month: u32::try_from(month).unwrap_or(1),
        day: u32::try_from(day).unwrap_or(1),
        hour: u32::try_from(rem / 3600).unwrap_or(0),
        minute: u32::try_from(rem % 3600 / 60).unwrap_or(0),
        second: u32::try_from(rem % 60).unwrap_or(0),
        // 1970-01-01 was a Thursday; 0 is Sunday.
        weekday: u32::try_from((days + 4).rem_euclid(7)).unwrap_or(0),
    }
}

/// An HTTP date (RFC 9110 IMF-fixdate), as in a cookie's `expires`:
/// `Thu, 01 Jan 1970 00:00:00 GMT`.
pub fn http_date(secs: i64) -> String {
    let c = civil(secs);
    let weekday = match c.weekday {
        0 => "Sun",
        1 => "Mon",
        2 => "Tue",
        3 => "Wed",
        4 => "Thu",
        5 => "Fri",
        _ => "Sat",
    };
    let month = match c.month {
        1 => "Jan",
        2 => "Feb",
        3 => "Mar",
        4 => "Apr",
        5 => "May",
        6 => "Jun",
        7 => "Jul",
        8 => "Aug",
        9 => "Sep",
        10 => "Oct",
        11 => "Nov",
        _ => "Dec",
    };
    format!(
        "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
        c.day, c.year, c.hour, c.minute, c.second
    )
}

/// ISO-8601 in UTC the way DRF's `DateTimeField` renders it (which is how
/// dj-rest-auth sends `access_expiration`): `2024-05-01T12:00:00Z`, with
/// `.ffffff` microseconds only when they are not zero.
pub fn iso8601(at: Timestamp) -> String {
    let c = civil(at.secs());
    let micros = at.micros().rem_euclid(1_000_000);
    let fraction = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date_matches_known_instants() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_445_412_480), "Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn iso8601_omits_zero_microseconds_like_drf() {
        assert_eq!(
            iso8601(Timestamp::from_secs(1_714_564_800)),
            "2024-05-01T12:00:00Z"
        );
        assert_eq!(
            iso8601(Timestamp::from_micros(1_714_564_800_000_042)),
            "2024-05-01T12:00:00.000042Z"
        );
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(Timestamp::from_secs(10));
        assert_eq!(clock.now().secs(), 10);
        clock.advance(Duration::from_millis(2500));
        assert_eq!(clock.now().micros(), 12_500_000);
    }

    #[test]
    fn adjustable_clock_runs_ahead_of_its_base_and_never_back() {
        let base = Arc::new(ManualClock::new(Timestamp::from_secs(100)));
        let clock = AdjustableClock::new(base.clone());
        assert_eq!(clock.now(), Timestamp::from_secs(100));
        clock.advance(Duration::from_secs(30));
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now(), Timestamp::from_secs(135));
        base.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), Timestamp::from_secs(136));
        clock.advance(Duration::MAX);
        assert!(
            clock.now() > Timestamp::from_secs(136),
            "saturates, never wraps"
        );
    }
}
