//! What the coordinator knows of the credential of the current generation,
//! and the one question it answers with it: did a replay's 401 come because
//! that credential outlived its life, or because the server refuses it
//! while it is fresh?
//!
//! The difference decides between two rules that would otherwise conflict.
//! A server that rejects what it just issued must not cause a refresh loop,
//! so a 401 to a replay is returned to the caller. But with short access
//! tokens and a long queue, the last replays can leave after the fresh token
//! already expired; returning their 401s would fail requests of a live
//! session. Those wait for the next refresh instead.

use super::time::{Duration, Instant};

/// The current credential, as far as the coordinator knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Credential {
    /// The credential was issued no earlier than this: the moment the
    /// refresh that produced it was sent, or the moment a change was
    /// reported. Any expiry counted from here is never later than the real
    /// one.
    issued_after: Instant,
    /// How long it lives at least, counted from `issued_after`, if the
    /// server said (the refresh answer's `access_expiration`, or the JWT's
    /// `exp − iat`). The host hands it in already rounded down to what the
    /// server's clock granularity allows.
    lifetime: Option<Duration>,
    /// Some request sent with it got an answer other than 401: the server
    /// accepted it at least once. A credential never accepted may be one
    /// the server refuses outright, and is never called outlived.
    accepted: bool,
    /// A refresh ahead of its expiry was tried and did not bring a new
    /// one: it is used until it expires (or a 401 says it did), and not
    /// refreshed ahead again, so a refresh endpoint that is down is not
    /// asked on every request.
    ahead_tried: bool,
}

impl Credential {
    /// A credential issued no earlier than `issued_after`, living at least
    /// `lifetime` when known, not yet accepted by any answer.
    pub(crate) const fn new(issued_after: Instant, lifetime: Option<Duration>) -> Self {
        Self {
            issued_after,
            lifetime,
            accepted: false,
            ahead_tried: false,
        }
    }

    /// The moment it expires at the earliest, if its lifetime is known.
    pub(crate) fn expires(&self) -> Option<Instant> {
        self.lifetime
            .map(|lifetime| self.issued_after.after(lifetime))
    }

    /// From when it is refreshed ahead of its expiry (see
    /// [`Config::refresh_margin`](crate::core::Config)): `margin` before it
    /// expires, or a third of its known lifetime before if that is less.
    /// `None` when its expiry is unknown, or a refresh ahead was tried.
    pub(crate) fn refresh_due(&self, margin: Duration) -> Option<Instant> {
        let lifetime = self.lifetime.filter(|_| !self.ahead_tried)?;
        let margin = margin.min(lifetime / 3);
        Some(self.issued_after.after(lifetime.saturating_sub(margin)))
    }

    /// Whether a request sent with it has been answered other than 401.
    pub(crate) fn accepted(&self) -> bool {
        self.accepted
    }

    /// A refresh ahead of its expiry did not replace it.
    pub(crate) fn ahead_failed(&mut self) {
        self.ahead_tried = true;
    }

    /// An answer other than 401 came back for a request sent with it.
    pub(crate) fn accept(&mut self) {
        self.accepted = true;
    }

    /// Whether a 401 arriving at `now` for a replay sent with this
    /// credential means the credential expired, rather than that the server
    /// refuses it while fresh.
    ///
    /// It did expire only if the server accepted it before (a refused-while-
    /// fresh credential never is) and, where the lifetime is known, that
    /// lifetime has run out by `now`. With the lifetime unknown, acceptance
    /// alone has to do; `repeated` (this request already waited out one
    /// expiry) then says no, so that an endpoint that refuses a credential
    /// others accept gets one extra replay, never a refresh loop.
    pub(crate) fn outlived(&self, now: Instant, repeated: bool) -> bool {
        if !self.accepted {
            return false;
        }
        match self.lifetime {
            Some(lifetime) => now >= self.issued_after.after(lifetime),
            None => !repeated,
        }
    }
}

impl Default for Credential {
    /// The credential the coordinator starts with: issued at some unknown
    /// past moment, lifetime unknown, not yet seen accepted.
    fn default() -> Self {
        Self::new(Instant::default(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFETIME: Duration = Duration::from_secs(10);

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn never_accepted_is_never_outlived() {
        let credential = Credential::new(at(0), Some(LIFETIME));
        assert!(!credential.outlived(at(60_000), false));
        assert!(!Credential::new(at(0), None).outlived(at(60_000), false));
    }

    #[test]
    fn accepted_with_known_lifetime_is_outlived_from_its_end_on() {
        let mut credential = Credential::new(at(1_000), Some(LIFETIME));
        credential.accept();
        assert!(!credential.outlived(at(10_999), false), "still fresh");
        assert!(credential.outlived(at(11_000), false));
        assert!(
            credential.outlived(at(11_000), true),
            "known expiry: no cap"
        );
    }

    #[test]
    fn refreshed_ahead_by_the_margin_or_a_third_of_its_life() {
        let long = Credential::new(at(0), Some(Duration::from_secs(300)));
        assert_eq!(long.refresh_due(Duration::from_secs(30)), Some(at(270_000)));
        assert_eq!(
            long.refresh_due(Duration::from_secs(150)),
            Some(at(200_000)),
            "a margin longer than a third of the life"
        );
        assert_eq!(Credential::new(at(0), None).refresh_due(LIFETIME), None);
        let mut tried = long;
        tried.ahead_failed();
        assert_eq!(tried.refresh_due(Duration::from_secs(30)), None);
        assert_eq!(tried.expires(), Some(at(300_000)), "still expires");
    }

    #[test]
    fn accepted_with_unknown_lifetime_is_outlived_once_per_request() {
        let mut credential = Credential::new(at(0), None);
        credential.accept();
        assert!(credential.outlived(at(1), false));
        assert!(!credential.outlived(at(1), true));
    }
}
