//! A refusal is confirmed before it ends the session (rule 5). In cookie
//! mode one waiter is sent with the cookie the jar holds now: if it works,
//! another tab or client rotated the cookie a moment before and this tab's
//! refresh lost the race (the server refused the token that rotation
//! replaced); the session lives on. Regression test for the tab that
//! declared a live session dead after losing such a race.

use refresh_coordinator::core::{Answer, Failure, Notice, Session};

use crate::harness::{Host, Settled, REFUSED};

fn burst(host: &mut Host, n: usize) -> Vec<refresh_coordinator::core::RequestId> {
    let ids: Vec<_> = (0..n).map(|_| host.issue()).collect();
    for &id in &ids {
        host.answer(id, Answer::Unauthorized);
    }
    ids
}

#[test]
fn refusal_after_a_lost_race_is_not_a_session_end_in_cookie_mode() {
    let mut host = Host::new();
    let ids = burst(&mut host, 3);
    let before = host.core.generation();
    host.refresh_ends(REFUSED);
    assert_eq!(
        host.sends_of(ids[0]),
        vec![(false, false), (true, true)],
        "the oldest waiter is sent with the cookie the jar holds now"
    );
    assert_eq!(host.session_expired_notices(), 0, "nothing ends yet");
    // Someone else's rotated cookie is in the jar: it works.
    host.answer(ids[0], Answer::Other);
    assert_eq!(host.core.session(), Session::Active);
    assert!(host.core.generation() > before, "the rotation is adopted");
    for &id in &ids[1..] {
        assert_eq!(host.sends_of(id), vec![(false, false), (true, false)]);
        host.answer(id, Answer::Other);
    }
    assert!(ids
        .iter()
        .all(|&id| host.outcome(id) == Some(Settled::Delivered)));
    assert_eq!(host.session_expired_notices(), 0);
    assert_eq!(
        host.refreshes.len(),
        1,
        "no refresh with the replaced token"
    );
}

#[test]
fn confirmed_refusal_ends_the_session_once() {
    let mut host = Host::new();
    let ids = burst(&mut host, 3);
    host.refresh_ends(REFUSED);
    host.answer(ids[0], Answer::Unauthorized);
    for &id in &ids {
        assert_eq!(
            host.outcome(id),
            Some(Settled::Failed(Failure::SessionExpired))
        );
    }
    assert_eq!(host.core.session(), Session::Ended);
    assert_eq!(host.session_expired_notices(), 1);
    assert!(host
        .notices
        .contains(&Notice::SessionExpired { remote: false }));
}

#[test]
fn probe_that_fails_on_the_network_leaves_the_refusal_standing() {
    let mut host = Host::new();
    let ids = burst(&mut host, 2);
    host.refresh_ends(REFUSED);
    host.answer(ids[0], Answer::Failed);
    assert_eq!(
        host.outcome(ids[0]),
        Some(Settled::Delivered),
        "its own network error"
    );
    assert_eq!(
        host.outcome(ids[1]),
        Some(Settled::Failed(Failure::SessionExpired))
    );
    assert_eq!(host.core.session(), Session::Ended);
}

#[test]
fn aborted_probe_hands_the_confirmation_to_the_next_waiter() {
    let mut host = Host::new();
    let ids = burst(&mut host, 2);
    host.refresh_ends(REFUSED);
    host.abort(ids[0]);
    assert_eq!(host.sends_of(ids[1]), vec![(false, false), (true, true)]);
    host.answer(ids[1], Answer::Other);
    assert_eq!(host.core.session(), Session::Active);
}

#[test]
fn refusal_with_nobody_waiting_or_in_bearer_mode_ends_at_once() {
    // Nothing to ask with: the server's word stands.
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.abort(id);
    host.refresh_ends(REFUSED);
    assert_eq!(host.core.session(), Session::Ended);

    // Bearer mode compares refresh tokens instead (in the host): an
    // unchanged store means the refusal is this tab's own, and final.
    let mut host = Host::bearer();
    let ids = burst(&mut host, 2);
    host.refresh_ends(REFUSED);
    assert_eq!(host.sends.len(), 2, "no probe");
    assert_eq!(
        host.outcome(ids[1]),
        Some(Settled::Failed(Failure::SessionExpired))
    );
}

#[test]
fn bearer_store_that_changed_under_a_refusal_is_adopted() {
    // The host saw another tab's tokens in the shared store, different from
    // the refresh token that was refused, and reports a credential change
    // before the refusal: the refusal then refers to a forgotten refresh.
    let mut host = Host::bearer();
    let ids = burst(&mut host, 2);
    host.core.credential_changed();
    host.drain();
    host.refresh_ends(REFUSED);
    assert_eq!(host.core.session(), Session::Active);
    assert_eq!(host.session_expired_notices(), 0);
    for &id in &ids {
        host.answer(id, Answer::Other);
        assert_eq!(host.outcome(id), Some(Settled::Delivered));
    }
}
