//! A refresh whose answer never arrived: the server may have rotated.

use refresh_coordinator::core::Duration;

use refresh_coordinator::core::{Answer, Config, Failure, Session, Unavailability};

use crate::harness::{Host, Settled, LOST, ROTATED};

#[test]
fn lost_answer_probe_that_succeeds_adopts_the_rotation_without_refreshing_again() {
    let mut host = Host::new();
    let ids: Vec<_> = (0..3).map(|_| host.issue()).collect();
    for &id in &ids {
        host.answer(id, Answer::Unauthorized);
    }
    let before = host.core.generation();
    host.refresh_ends(LOST);
    assert_eq!(
        host.sends_of(ids[0]),
        vec![(false, false), (true, true)],
        "the oldest waiter probes"
    );
    assert!(host.core.is_refreshing(), "the others keep waiting");
    assert_eq!(host.sends_of(ids[1]).len(), 1);

    // The rotated cookie landed even though the page lost the answer.
    host.answer(ids[0], Answer::Other);
    assert_eq!(host.outcome(ids[0]), Some(Settled::Delivered));
    assert!(host.core.generation() > before);
    assert_eq!(host.sends_of(ids[1]), vec![(false, false), (true, false)]);
    assert_eq!(
        host.refreshes.len(),
        1,
        "no refresh with the blacklisted token"
    );
}

#[test]
fn lost_answer_probe_refused_retries_once_and_a_refusal_ends_the_session_cleanly() {
    let mut host = Host::new();
    let ids: Vec<_> = (0..3).map(|_| host.issue()).collect();
    for &id in &ids {
        host.answer(id, Answer::Unauthorized);
    }
    host.refresh_ends(LOST);
    host.answer(ids[0], Answer::Unauthorized); // the cookie did not land
    host.fire_next_timer();
    assert_eq!(host.refreshes.len(), 2, "one retry");
    // A no-grace server refuses the old token; the cookie in the jar is
    // refused too.
    host.refresh_refused_for_good();
    for &id in &ids {
        assert_eq!(
            host.outcome(id),
            Some(Settled::Failed(Failure::SessionExpired))
        );
    }
    assert_eq!(host.session_expired_notices(), 1);
    assert_eq!(host.refreshes.len(), 2, "no retry storm");
}

#[test]
fn lost_answer_retry_against_a_grace_window_gets_the_session_back() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.refresh_ends(LOST);
    host.answer(id, Answer::Unauthorized);
    host.fire_next_timer();
    host.refresh_ends(ROTATED); // same successor, within the grace window
    assert_eq!(
        host.sends_of(id),
        vec![(false, false), (true, true), (true, false)]
    );
    host.answer(id, Answer::Other);
    assert_eq!(host.outcome(id), Some(Settled::Delivered));
    assert_eq!(host.core.session(), Session::Active);
}

#[test]
fn bearer_mode_retries_a_lost_answer_without_probing() {
    let mut host = Host::bearer();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.refresh_ends(LOST);
    assert_eq!(
        host.sends_of(id).len(),
        1,
        "a lost body is a lost token: no probe"
    );
    host.fire_next_timer();
    assert_eq!(host.refreshes.len(), 2);
}

#[test]
fn probe_network_error_reaches_its_caller_and_the_flight_retries() {
    let mut host = Host::new();
    let a = host.issue();
    let b = host.issue();
    host.answer(a, Answer::Unauthorized);
    host.answer(b, Answer::Unauthorized);
    host.refresh_ends(LOST);
    host.answer(a, Answer::Failed);
    assert_eq!(
        host.outcome(a),
        Some(Settled::Delivered),
        "the fetch error, as fetch gives it"
    );
    host.fire_next_timer();
    host.refresh_ends(ROTATED);
    assert_eq!(host.sends_of(b), vec![(false, false), (true, false)]);
}

#[test]
fn aborted_probe_hands_the_question_to_the_next_waiter() {
    let mut host = Host::new();
    let a = host.issue();
    let b = host.issue();
    host.answer(a, Answer::Unauthorized);
    host.answer(b, Answer::Unauthorized);
    host.refresh_ends(LOST);
    host.abort(a);
    assert_eq!(host.sends_of(b), vec![(false, false), (true, true)]);
}

#[test]
fn hanging_probe_times_out_into_a_retry() {
    let mut host = Host::new();
    let a = host.issue();
    let b = host.issue();
    host.answer(a, Answer::Unauthorized);
    host.answer(b, Answer::Unauthorized);
    host.refresh_ends(LOST);
    host.advance(Config::default().refresh_timeout);
    host.fire_next_timer();
    assert_eq!(host.refreshes.len(), 2, "retried after the probe hung");
    host.refresh_ends(ROTATED);
    assert_eq!(host.sends_of(b), vec![(false, false), (true, false)]);
    // The probe's late answer is an ordinary stale 401: replayed.
    host.answer(a, Answer::Unauthorized);
    assert_eq!(host.sends_of(a).last(), Some(&(true, false)));
    host.advance(Duration::from_secs(1));
    assert_eq!(host.refreshes.len(), 2);
}

#[test]
fn lost_answers_exhausting_retries_reject_with_network_unavailable() {
    let mut host = Host::bearer();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    for _ in 0..4 {
        host.refresh_ends(LOST);
        host.fire_next_timer();
    }
    assert_eq!(
        host.outcome(id),
        Some(Settled::Failed(Failure::RefreshUnavailable(
            Unavailability::Network
        )))
    );
}

/// A reload cut the page off from its refresh, whose rotated cookie may
/// still land: the next load waits for it instead of refreshing with the
/// token it rotated (which a no-grace server refuses).
#[test]
fn a_401_while_a_previous_loads_refresh_may_land_waits_and_probes_instead_of_refreshing() {
    let mut host = Host::new();
    host.core
        .refresh_may_be_landing(host.now.after(Duration::from_secs(10)));
    let ids: Vec<_> = (0..3).map(|_| host.issue()).collect();
    for &id in &ids {
        host.answer(id, Answer::Unauthorized);
    }
    assert!(
        host.refreshes.is_empty(),
        "no refresh with the rotated token"
    );
    assert!(host.core.is_refreshing(), "the waiters wait");
    host.fire_next_timer();
    assert_eq!(
        host.sends_of(ids[0]),
        vec![(false, false), (true, true)],
        "a probe"
    );
    host.answer(ids[0], Answer::Unauthorized); // not landed yet
    host.fire_next_timer();
    host.answer(ids[0], Answer::Unauthorized);
    host.fire_next_timer();
    assert_eq!(
        host.sends_of(ids[0]).len(),
        4,
        "probing again, with growing pauses"
    );
    host.answer(ids[0], Answer::Other); // the cookie landed
    assert_eq!(host.outcome(ids[0]), Some(Settled::Delivered));
    assert_eq!(host.sends_of(ids[1]), vec![(false, false), (true, false)]);
    assert!(host.refreshes.is_empty());
    // Landed: a later expiry refreshes normally.
    host.answer(ids[1], Answer::Other);
    host.answer(ids[2], Answer::Other);
    let next = host.issue();
    host.answer(next, Answer::Unauthorized);
    assert_eq!(host.refreshes.len(), 1);
}

#[test]
fn a_refresh_that_never_lands_is_waited_for_only_until_its_deadline() {
    let mut host = Host::new();
    let until = host.now.after(Duration::from_secs(2));
    host.core.refresh_may_be_landing(until);
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    for _ in 0..20 {
        if !host.refreshes.is_empty() {
            break;
        }
        host.fire_next_timer();
        if host.sends_of(id).last() == Some(&(true, true)) {
            host.answer(id, Answer::Unauthorized);
        }
    }
    assert_eq!(host.refreshes.len(), 1, "then it refreshes");
    assert!(host.now >= until && host.now <= until.after(Duration::from_secs(1)));
    host.refresh_ends(ROTATED);
    assert_eq!(host.sends_of(id).last(), Some(&(true, false)));
}

#[test]
fn a_landing_deadline_already_past_or_bearer_mode_refreshes_at_once() {
    let mut host = Host::new();
    host.core.refresh_may_be_landing(host.now);
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    assert_eq!(host.refreshes.len(), 1);

    let mut bearer = Host::bearer();
    bearer
        .core
        .refresh_may_be_landing(bearer.now.after(Duration::from_secs(10)));
    let id = bearer.issue();
    bearer.answer(id, Answer::Unauthorized);
    assert_eq!(bearer.refreshes.len(), 1, "a lost body cannot land");
}
