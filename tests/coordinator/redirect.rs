//! A refresh answered with a redirect (issue 11): the refresh does not
//! follow it, since it would carry the refresh token wherever it points.
//! Nothing was refreshed and nothing proves the session over, so the waiters
//! fail at once as unavailable, without retries, and the session is kept.

use refresh_coordinator::core::{Answer, Failure, Notice, RefreshOutcome, Session, Unavailability};

use crate::harness::{Host, Settled, ROTATED};

#[test]
fn a_redirected_refresh_fails_its_waiters_at_once_and_keeps_the_session() {
    let mut host = Host::new();
    let ids: Vec<_> = (0..3).map(|_| host.issue()).collect();
    for &id in &ids {
        host.answer(id, Answer::Unauthorized);
    }
    host.refresh_ends(RefreshOutcome::Redirected);
    let redirected = Some(Settled::Failed(Failure::RefreshUnavailable(
        Unavailability::Redirected,
    )));
    for &id in &ids {
        assert_eq!(host.outcome(id), redirected);
    }
    assert_eq!(
        host.refreshes.len(),
        1,
        "no retry: it would be redirected again"
    );
    assert_eq!(host.core.session(), Session::Active);
    assert_eq!(host.session_expired_notices(), 0);
    assert!(host.notices.contains(&Notice::RefreshFailed {
        cause: Unavailability::Redirected,
        retrying: false,
    }));
    assert!(!host.core.is_refreshing());

    // The next 401 tries again.
    let later = host.issue();
    host.answer(later, Answer::Unauthorized);
    assert_eq!(host.refreshes.len(), 2);
    host.refresh_ends(ROTATED);
    assert_eq!(host.sends_of(later), vec![(false, false), (true, false)]);
}
