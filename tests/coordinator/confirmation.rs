//! A refusal is confirmed before it ends the session (rule 5). In cookie
//! mode one waiter is sent with the cookie the jar holds now: if it works,
//! another tab or client rotated the cookie a moment before and this tab's
//! refresh lost the race (the server refused the token that rotation
//! replaced); the session lives on. Regression test for the tab that
//! declared a live session dead after losing such a race.

use refresh_coordinator::core::{Answer, Duration, Failure, Notice, Session};

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
fn refusal_with_nobody_waiting_keeps_the_session_until_a_401_can_confirm_it() {
    // Nothing to ask with: the jar may hold a cookie that beat the refused
    // token, so nothing is proven dead yet.
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.abort(id);
    host.refresh_ends(REFUSED);
    assert_eq!(host.core.session(), Session::Active);
    assert!(!host.core.is_refreshing());
    assert!(host.notices.contains(&Notice::SessionKept {
        cause: None,
        ahead: false
    }));
    assert_eq!(host.session_expired_notices(), 0);

    // The next 401 refreshes, and its request confirms the refusal.
    let next = host.issue();
    host.answer(next, Answer::Unauthorized);
    assert_eq!(host.refreshes.len(), 2);
    host.refresh_refused_for_good();
    assert_eq!(host.core.session(), Session::Ended);
    assert_eq!(
        host.outcome(next),
        Some(Settled::Failed(Failure::SessionExpired))
    );
}

#[test]
fn refusal_in_bearer_mode_ends_at_once() {
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

/// A refusal may wait this long to be confirmed (tabs without a lock).
const WINDOW: Duration = Duration::from_secs(2);

#[test]
fn without_a_lock_a_refusal_probes_again_until_the_winners_cookie_lands() {
    let mut host = Host::new();
    host.core.confirm_refusals_for(WINDOW);
    let ids = burst(&mut host, 2);
    host.refresh_ends(REFUSED);
    // The winner's cookie is not in the jar yet.
    host.answer(ids[0], Answer::Unauthorized);
    assert_eq!(
        host.core.session(),
        Session::Active,
        "not yet: it may be landing"
    );
    assert!(host.outcome(ids[0]).is_none(), "the probe waits again");
    host.fire_next_timer();
    assert_eq!(host.sends_of(ids[0]).len(), 3, "asked again after a pause");
    host.answer(ids[0], Answer::Other); // it landed
    assert_eq!(host.core.session(), Session::Active);
    assert_eq!(host.session_expired_notices(), 0);
    host.answer(ids[1], Answer::Other);
    assert!(ids
        .iter()
        .all(|&id| host.outcome(id) == Some(Settled::Delivered)));
}

#[test]
fn without_a_lock_a_refusal_that_still_stands_when_the_window_closes_ends_the_session() {
    let mut host = Host::new();
    host.core.confirm_refusals_for(WINDOW);
    let ids = burst(&mut host, 2);
    let refused_at = host.now;
    host.refresh_ends(REFUSED);
    for _ in 0..20 {
        if host.core.session() == Session::Ended {
            break;
        }
        if let Some(&(probe, _, true)) = host.sends.last() {
            if host.outcome(probe).is_none() && host.core.waiting() < 2 {
                host.answer(probe, Answer::Unauthorized);
                continue;
            }
        }
        host.fire_next_timer();
    }
    assert_eq!(host.core.session(), Session::Ended);
    assert!(
        host.now <= refused_at.after(WINDOW),
        "no later than the window"
    );
    assert_eq!(host.session_expired_notices(), 1);
    for &id in &ids {
        assert_eq!(
            host.outcome(id),
            Some(Settled::Failed(Failure::SessionExpired))
        );
    }
}

#[test]
fn without_a_lock_a_bearer_store_that_changes_within_the_window_is_adopted() {
    let mut host = Host::bearer();
    host.core.confirm_refusals_for(WINDOW);
    let ids = burst(&mut host, 2);
    host.refresh_ends(REFUSED);
    assert_eq!(
        host.core.session(),
        Session::Active,
        "waits for the store to change"
    );
    assert!(host.core.poll_timeout().is_some());
    // The winning tab stores its tokens; the host sees it and says so.
    host.core.credential_changed();
    host.drain();
    assert_eq!(host.core.session(), Session::Active);
    for &id in &ids {
        host.answer(id, Answer::Other);
        assert_eq!(host.outcome(id), Some(Settled::Delivered));
    }
    // Unchanged to the end, it stands.
    let mut host = Host::bearer();
    host.core.confirm_refusals_for(WINDOW);
    let _ = burst(&mut host, 1);
    host.refresh_ends(REFUSED);
    host.fire_next_timer();
    assert_eq!(host.core.session(), Session::Ended);
}
