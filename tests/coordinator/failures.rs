//! Rules 4–6: terminal vs transient, timeouts, every waiter settled.

use refresh_coordinator::core::Duration;

use refresh_coordinator::core::{
    Answer, Config, Failure, GrantError, Notice, RefreshOutcome, Session, Unavailability,
};

use crate::harness::{server_error, Host, Settled, ROTATED};

fn unavailable(cause: Unavailability) -> Option<Settled> {
    Some(Settled::Failed(Failure::RefreshUnavailable(cause)))
}

#[test]
fn refused_refresh_rejects_every_waiter_with_one_error_and_notifies_once() {
    let mut host = Host::new();
    let ids: Vec<_> = (0..20).map(|_| host.issue()).collect();
    for &id in &ids {
        host.answer(id, Answer::Unauthorized);
    }
    host.refresh_refused_for_good();
    for &id in &ids {
        assert_eq!(
            host.outcome(id),
            Some(Settled::Failed(Failure::SessionExpired))
        );
    }
    assert_eq!(host.session_expired_notices(), 1);
    assert!(host
        .notices
        .contains(&Notice::SessionExpired { remote: false }));
    assert_eq!(host.core.session(), Session::Ended);
    assert_eq!(host.core.tracked(), 0);
    assert_eq!(host.replays_not_probes(), 0);
}

#[test]
fn after_session_end_401s_start_no_refresh_until_a_new_login() {
    let mut host = Host::new();
    let first = host.issue();
    host.answer(first, Answer::Unauthorized);
    host.refresh_refused_for_good();

    let later = host.issue();
    assert_eq!(
        host.sends_of(later).len(),
        1,
        "still sent: it may be public"
    );
    host.answer(later, Answer::Unauthorized);
    assert_eq!(
        host.outcome(later),
        Some(Settled::Failed(Failure::SessionExpired))
    );
    assert_eq!(
        host.refreshes.len(),
        1,
        "no refresh after the session ended"
    );
    assert_eq!(host.session_expired_notices(), 1, "told once");

    host.core.credential_changed(); // the app logged in again
    host.drain();
    assert_eq!(host.core.session(), Session::Active);
    let fresh = host.issue();
    host.answer(fresh, Answer::Unauthorized);
    assert_eq!(host.refreshes.len(), 2, "a new session refreshes again");
}

#[test]
fn request_in_flight_when_the_session_ends_fails_with_session_expired() {
    let mut host = Host::new();
    let a = host.issue();
    let b = host.issue();
    host.answer(a, Answer::Unauthorized);
    host.refresh_refused_for_good();
    host.answer(b, Answer::Unauthorized);
    assert_eq!(
        host.outcome(b),
        Some(Settled::Failed(Failure::SessionExpired))
    );
    assert_eq!(host.refreshes.len(), 1);
}

#[test]
fn session_ended_elsewhere_fails_waiters_and_is_not_echoed() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.core.session_ended_elsewhere();
    host.drain();
    host.core.session_ended_elsewhere();
    host.drain();
    assert_eq!(
        host.outcome(id),
        Some(Settled::Failed(Failure::SessionExpired))
    );
    assert_eq!(
        host.notices
            .iter()
            .filter(|n| **n == Notice::SessionExpired { remote: true })
            .count(),
        1
    );
}

#[test]
fn transient_failures_retry_with_backoff_then_succeed() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.refresh_ends(server_error(500));
    assert_eq!(host.refreshes.len(), 1, "no retry before the backoff");
    let at = host.core.poll_timeout().expect("a backoff timer");
    let first_delay = host.now.until(at);
    assert!(first_delay >= Duration::from_millis(150) && first_delay <= Duration::from_millis(300));
    host.fire_next_timer();
    assert_eq!(host.refreshes.len(), 2);
    assert_eq!(host.refreshes[1].attempt(), 2);

    host.refresh_ends(server_error(503));
    let second_delay = host.now.until(host.core.poll_timeout().expect("timer"));
    assert!(
        second_delay >= Duration::from_millis(300) && second_delay <= Duration::from_millis(600)
    );
    host.fire_next_timer();
    host.refresh_ends(ROTATED);
    assert_eq!(host.sends_of(id), vec![(false, false), (true, false)]);
    assert_eq!(host.core.session(), Session::Active);
}

#[test]
fn transient_failures_exhausted_reject_waiters_and_keep_the_session() {
    let config = Config {
        max_retries: 2,
        ..Config::default()
    };
    let mut host = Host::with(config);
    let ids: Vec<_> = (0..3).map(|_| host.issue()).collect();
    for &id in &ids {
        host.answer(id, Answer::Unauthorized);
    }
    for _ in 0..3 {
        host.refresh_ends(server_error(502));
        host.fire_next_timer();
    }
    assert_eq!(host.refreshes.len(), 3, "one try and two retries");
    for &id in &ids {
        assert_eq!(host.outcome(id), unavailable(Unavailability::Status(502)));
    }
    assert_eq!(host.core.session(), Session::Active, "the session is kept");
    assert_eq!(host.session_expired_notices(), 0);
    assert!(!host.core.is_refreshing());

    let next = host.issue();
    host.answer(next, Answer::Unauthorized);
    assert_eq!(host.refreshes.len(), 4, "the next 401 tries again");
}

#[test]
fn retry_after_is_a_lower_bound_on_the_backoff() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.refresh_ends(RefreshOutcome::Unavailable {
        status: 429,
        retry_after: Some(Duration::from_secs(4)),
    });
    let at = host.core.poll_timeout().expect("timer");
    assert_eq!(host.now.until(at), Duration::from_secs(4));
    host.advance(Duration::from_millis(3_999));
    assert_eq!(host.refreshes.len(), 1, "not before Retry-After");
    host.advance(Duration::from_millis(1));
    assert_eq!(host.refreshes.len(), 2);
}

#[test]
fn retry_after_longer_than_allowed_rejects_at_once() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.refresh_ends(RefreshOutcome::Unavailable {
        status: 429,
        retry_after: Some(Duration::from_secs(3_600)),
    });
    assert_eq!(
        host.outcome(id),
        unavailable(Unavailability::RetryAfterTooLong)
    );
    assert_eq!(host.core.session(), Session::Active);
}

#[test]
fn waiter_deadline_bounds_the_wait_through_retries() {
    let config = Config {
        waiter_timeout: Duration::from_secs(2),
        backoff_base: Duration::from_secs(4),
        backoff_max: Duration::from_secs(4),
        ..Config::default()
    };
    let mut host = Host::with(config);
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.refresh_ends(server_error(500));
    host.fire_next_timer();
    assert_eq!(host.outcome(id), unavailable(Unavailability::Timeout));
    assert!(host.now.as_millis() <= 1_000 + 2_000);
    // Nobody waits any more: the backoff ends without a new attempt.
    host.fire_next_timer();
    assert_eq!(host.refreshes.len(), 1);
    assert!(!host.core.is_refreshing());
}

#[test]
fn no_timer_is_left_when_nothing_is_pending() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.refresh_ends(ROTATED);
    host.answer(id, Answer::Other);
    assert_eq!(host.core.poll_timeout(), None);
}

#[test]
fn refresh_status_classification_follows_simplejwt() {
    assert_eq!(
        RefreshOutcome::from_status(200, None),
        RefreshOutcome::Rotated { lifetime: None }
    );
    assert_eq!(
        RefreshOutcome::from_status(401, None),
        RefreshOutcome::Refused
    );
    assert_eq!(
        RefreshOutcome::from_status(403, None),
        RefreshOutcome::Refused
    );
    assert_eq!(
        RefreshOutcome::from_status(400, None),
        RefreshOutcome::Refused
    );
    for status in [408, 429, 500, 502, 503, 504] {
        assert!(matches!(
            RefreshOutcome::from_status(status, None),
            RefreshOutcome::Unavailable { .. }
        ));
    }
}

#[test]
fn oauth2_error_codes_decide_before_the_status() {
    // invalid_grant and invalid_client end the session on any status.
    for status in [400, 401, 403, 503] {
        assert_eq!(
            RefreshOutcome::from_grant_error(status, GrantError::InvalidGrant, None),
            RefreshOutcome::Refused
        );
        assert_eq!(
            RefreshOutcome::from_grant_error(status, GrantError::InvalidClient, None),
            RefreshOutcome::Refused
        );
    }
    // temporarily_unavailable is transient, even on a 400, and keeps its
    // Retry-After.
    let wait = Some(Duration::from_secs(2));
    assert_eq!(
        RefreshOutcome::from_grant_error(400, GrantError::TemporarilyUnavailable, wait),
        RefreshOutcome::Unavailable {
            status: 400,
            retry_after: wait
        }
    );
    // Other codes go by status.
    assert_eq!(
        RefreshOutcome::from_grant_error(400, GrantError::Other, None),
        RefreshOutcome::Refused
    );
    assert_eq!(
        RefreshOutcome::from_grant_error(503, GrantError::Other, wait),
        RefreshOutcome::Unavailable {
            status: 503,
            retry_after: wait
        }
    );
}
