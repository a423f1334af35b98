//! Backoff arithmetic and `Retry-After` parsing.

use std::time::Duration;

use refresh_coordinator::core::retry_after_seconds;

#[test]
fn retry_after_accepts_delta_seconds_only() {
    assert_eq!(retry_after_seconds("120"), Some(Duration::from_secs(120)));
    assert_eq!(retry_after_seconds(" 0 "), Some(Duration::ZERO));
    assert_eq!(retry_after_seconds("-1"), None);
    assert_eq!(retry_after_seconds("1.5"), None);
    assert_eq!(retry_after_seconds(""), None);
    assert_eq!(retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    assert_eq!(
        retry_after_seconds("99999999999999999999999"),
        Some(Duration::from_secs(u64::MAX))
    );
}
