//! Logging out (issue 11): the session ends at once, without a refresh and
//! without a session-expired notice; a 401 after it fails with its own
//! failure; a new login starts afresh.

use refresh_coordinator::core::{Answer, Failure, Notice, Session};

use crate::harness::{Host, Settled, LOST, REFUSED, ROTATED};

const LOGGED_OUT: Option<Settled> = Some(Settled::Failed(Failure::LoggedOut));

fn logged_out_notices(host: &Host) -> usize {
    host.notices
        .iter()
        .filter(|n| matches!(n, Notice::LoggedOut))
        .count()
}

fn log_out(host: &mut Host) {
    host.core.log_out();
    host.drain();
}

#[test]
fn log_out_fails_every_waiter_and_tells_once_without_a_session_expiry() {
    let mut host = Host::new();
    let ids: Vec<_> = (0..5).map(|_| host.issue()).collect();
    for &id in &ids {
        host.answer(id, Answer::Unauthorized);
    }
    assert_eq!(host.core.waiting(), 5);
    log_out(&mut host);
    for &id in &ids {
        assert_eq!(host.outcome(id), LOGGED_OUT);
    }
    assert_eq!(host.core.session(), Session::LoggedOut);
    assert_eq!(logged_out_notices(&host), 1);
    assert_eq!(host.session_expired_notices(), 0);
    assert_eq!(host.core.tracked(), 0);
    assert_eq!(host.replays(), 0);
}

#[test]
fn a_401_after_log_out_fails_with_logged_out_and_starts_no_refresh() {
    let mut host = Host::new();
    log_out(&mut host);
    let later = host.issue();
    assert_eq!(
        host.sends_of(later).len(),
        1,
        "still sent: it may be public"
    );
    host.answer(later, Answer::Unauthorized);
    assert_eq!(host.outcome(later), LOGGED_OUT);
    assert!(host.refreshes.is_empty(), "no refresh after a logout");
    assert_eq!(host.session_expired_notices(), 0);
}

#[test]
fn answers_on_the_wire_at_log_out_still_reach_their_callers() {
    let mut host = Host::new();
    let ok = host.issue();
    let refused = host.issue();
    log_out(&mut host);
    host.answer(ok, Answer::Other);
    host.answer(refused, Answer::Unauthorized);
    assert_eq!(host.outcome(ok), Some(Settled::Delivered));
    assert_eq!(host.outcome(refused), LOGGED_OUT);
    assert!(host.refreshes.is_empty());
}

#[test]
fn a_refresh_on_the_wire_at_log_out_holds_nobody_and_its_refusal_ends_nothing_more() {
    let mut host = Host::new();
    let first = host.issue();
    host.answer(first, Answer::Unauthorized);
    assert_eq!(host.refreshes.len(), 1);
    log_out(&mut host);
    assert_eq!(host.outcome(first), LOGGED_OUT);
    assert!(
        !host.core.is_refreshing(),
        "not cancelled, but no longer waited for"
    );

    // A request issued now is not held behind the refresh.
    let after = host.issue();
    assert_eq!(host.sends_of(after).len(), 1);

    host.refresh_ends(REFUSED);
    assert_eq!(host.core.session(), Session::LoggedOut);
    assert_eq!(host.session_expired_notices(), 0, "a logout is no expiry");
    assert!(!host.core.is_refreshing());
}

#[test]
fn a_rotation_landing_after_log_out_keeps_the_session_logged_out() {
    let mut host = Host::new();
    let first = host.issue();
    host.answer(first, Answer::Unauthorized);
    log_out(&mut host);
    let generation = host.core.generation();
    host.refresh_ends(ROTATED);
    assert!(
        host.core.generation() > generation,
        "the rotation is known: the host keeps it for the logout to revoke"
    );
    assert_eq!(host.core.session(), Session::LoggedOut);
    let later = host.issue();
    host.answer(later, Answer::Unauthorized);
    assert_eq!(host.outcome(later), LOGGED_OUT);
    assert_eq!(host.refreshes.len(), 1);
}

#[test]
fn a_probe_on_the_wire_at_log_out_answers_its_caller() {
    let mut host = Host::new();
    let a = host.issue();
    let b = host.issue();
    host.answer(a, Answer::Unauthorized);
    host.answer(b, Answer::Unauthorized);
    host.refresh_ends(LOST);
    assert_eq!(
        host.sends_of(a),
        vec![(false, false), (true, true)],
        "a probes"
    );
    log_out(&mut host);
    assert_eq!(host.outcome(b), LOGGED_OUT, "the waiter fails at once");
    host.answer(a, Answer::Unauthorized);
    assert_eq!(host.outcome(a), LOGGED_OUT, "the probe's 401 too");
    assert_eq!(host.refreshes.len(), 1, "and no retry follows");
    assert!(!host.core.is_refreshing());
}

#[test]
fn logging_out_twice_tells_once() {
    let mut host = Host::new();
    log_out(&mut host);
    log_out(&mut host);
    assert_eq!(logged_out_notices(&host), 1);
}

#[test]
fn log_out_after_a_session_expiry_is_a_logout() {
    let mut host = Host::new();
    let first = host.issue();
    host.answer(first, Answer::Unauthorized);
    host.refresh_refused_for_good();
    assert_eq!(host.core.session(), Session::Ended);
    log_out(&mut host);
    assert_eq!(host.core.session(), Session::LoggedOut);
    assert_eq!(logged_out_notices(&host), 1);
    assert_eq!(
        host.session_expired_notices(),
        1,
        "the expiry was told, once"
    );
}

#[test]
fn a_login_after_log_out_starts_afresh() {
    let mut host = Host::new();
    log_out(&mut host);
    host.core.credential_changed(); // the app logged in again
    host.drain();
    assert_eq!(host.core.session(), Session::Active);
    let fresh = host.issue();
    host.answer(fresh, Answer::Unauthorized);
    assert_eq!(host.refreshes.len(), 1, "a new session refreshes");
    host.refresh_ends(ROTATED);
    assert_eq!(host.sends_of(fresh), vec![(false, false), (true, false)]);
    assert_eq!(host.outcome(fresh), None, "its replay is on the wire");
}
