//! What the core can be told to do differently. Every field has a default.

use super::time::Duration;

/// Settings of one coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How many times a refresh that failed transiently (network error, 5xx,
    /// 429, 408, timeout) is tried again before the waiters are rejected with
    /// [`Failure::RefreshUnavailable`](crate::core::Failure). Defaults to 3.
    pub max_retries: u32,
    /// Backoff before the first retry; doubled for each further retry.
    /// Defaults to 300 ms.
    pub backoff_base: Duration,
    /// Upper bound of the exponential backoff. Defaults to 5 s.
    pub backoff_max: Duration,
    /// The longest `Retry-After` the coordinator is willing to wait out. A
    /// server asking for more gets no retry: the waiters are rejected at once
    /// rather than held for minutes. Defaults to 30 s.
    pub max_retry_after: Duration,
    /// How long to wait for one refresh attempt's answer. Past that the
    /// attempt is handled like a lost answer (probe, then retry with
    /// backoff), so a refresh that never answers cannot wedge the flight.
    /// It is never cancelled (it may already have rotated the token), and
    /// its late rotation is still adopted. Defaults to 10 s.
    pub refresh_timeout: Duration,
    /// The longest a request waits behind refreshes (retries and backoff
    /// included) before it is rejected. Defaults to 30 s.
    pub waiter_timeout: Duration,
    /// After a refresh whose answer never arrived, send one waiting request as
    /// a probe before trying again: if it succeeds, the rotated credential
    /// landed (the cookie jar got it even though the page lost the answer) and
    /// nothing needs refreshing. Right for cookie mode, where the browser
    /// stores the credential; useless in bearer mode, where a lost answer is a
    /// lost token. Defaults to `true`.
    pub probe_after_lost_answer: bool,
    /// In cross-tab mode (see
    /// [`Coordinator::share_across_tabs`](crate::core::Coordinator::share_across_tabs)),
    /// how long to wait for the lock before asking, in cookie mode, whether
    /// the holder's rotated cookie already landed, and then waiting again.
    /// The lock is never stolen and a long wait ends no session. Defaults to
    /// 10 s, the refresh timeout: a holder holds it no longer than that
    /// unless it is frozen or gone.
    pub lock_timeout: Duration,
    /// How long before its known expiry a credential is refreshed ahead
    /// (rule 8), so no request is sent with a token about to lapse; `None`
    /// refreshes only after a 401. Never more than a third of the
    /// credential's known lifetime: a short-lived token is refreshed after
    /// two thirds of its life, not over and over. Only credentials whose
    /// expiry the host reported are refreshed ahead. Defaults to 30 s: room
    /// for a refresh round trip on a slow mobile network and the requests
    /// held behind it, at the cost of one refresh in ten more with
    /// five-minute tokens.
    pub refresh_margin: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_retries: 3,
            backoff_base: Duration::from_millis(300),
            backoff_max: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
            refresh_timeout: Duration::from_secs(10),
            waiter_timeout: Duration::from_secs(30),
            probe_after_lost_answer: true,
            lock_timeout: Duration::from_secs(10),
            refresh_margin: Some(Duration::from_secs(30)),
        }
    }
}
