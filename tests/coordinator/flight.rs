//! Rules 1–3 and 7: one refresh, generations, queue then replay, loop guard.

use refresh_coordinator::core::Duration;

use refresh_coordinator::core::{Answer, Failure, Notice, Session};

use crate::harness::{Host, Settled, ROTATED};

fn burst_of_401s_gives_one_refresh_and_n_replays(n: usize) {
    let mut host = Host::new();
    let ids: Vec<_> = (0..n).map(|_| host.issue()).collect();
    assert_eq!(host.sends.len(), n, "all go out at once while idle");

    for &id in &ids {
        host.answer(id, Answer::Unauthorized);
    }
    assert_eq!(host.refreshes.len(), 1, "one refresh for {n} 401s");
    assert_eq!(host.core.waiting(), n);

    host.refresh_ends(ROTATED);
    assert_eq!(host.refreshes.len(), 1);
    assert_eq!(host.replays(), n, "every waiter replayed once");
    let replayed: Vec<_> = host.sends[n..].iter().map(|&(id, _, _)| id).collect();
    assert_eq!(replayed, ids, "replayed in issue order");

    for &id in &ids {
        host.answer(id, Answer::Other);
    }
    assert!(ids
        .iter()
        .all(|&id| host.outcome(id) == Some(Settled::Delivered)));
    assert_eq!(host.core.tracked(), 0);
    assert_eq!(host.refreshes.len(), 1);
}

#[test]
fn one_401_gives_one_refresh_and_one_replay() {
    burst_of_401s_gives_one_refresh_and_n_replays(1);
}

#[test]
fn two_concurrent_401s_give_one_refresh_and_two_replays() {
    burst_of_401s_gives_one_refresh_and_n_replays(2);
}

#[test]
fn fifty_concurrent_401s_give_one_refresh_and_fifty_replays() {
    burst_of_401s_gives_one_refresh_and_n_replays(50);
}

#[test]
fn ten_thousand_concurrent_401s_give_one_refresh_and_ten_thousand_replays() {
    burst_of_401s_gives_one_refresh_and_n_replays(10_000);
}

#[test]
fn late_401_for_old_generation_replays_without_second_refresh() {
    let mut host = Host::new();
    let fast = host.issue();
    let slow = host.issue();
    host.answer(fast, Answer::Unauthorized);
    host.refresh_ends(ROTATED);
    host.answer(fast, Answer::Other);

    // `slow` was sent with the old credential and only now comes back 401.
    host.answer(slow, Answer::Unauthorized);
    assert_eq!(host.refreshes.len(), 1, "a stale 401 starts no refresh");
    assert_eq!(host.sends_of(slow), vec![(false, false), (true, false)]);
    host.answer(slow, Answer::Other);
    assert_eq!(host.outcome(slow), Some(Settled::Delivered));
}

#[test]
fn late_401_during_next_refresh_waits_for_it() {
    let mut host = Host::new();
    let a = host.issue();
    let slow = host.issue();
    host.answer(a, Answer::Unauthorized);
    host.refresh_ends(ROTATED);
    // The replay of `a` is refused too, but it is a replay: returned.
    host.answer(a, Answer::Unauthorized);
    let b = host.issue();
    host.answer(b, Answer::Unauthorized);
    assert_eq!(
        host.refreshes.len(),
        2,
        "a fresh 401 at the new generation refreshes"
    );

    host.answer(slow, Answer::Unauthorized);
    assert_eq!(host.sends_of(slow).len(), 1, "waits behind the flight");
    host.refresh_ends(ROTATED);
    assert_eq!(host.sends_of(slow), vec![(false, false), (true, false)]);
}

#[test]
fn replay_that_gets_401_again_is_returned_not_refreshed() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.refresh_ends(ROTATED);
    host.answer(id, Answer::Unauthorized);
    assert_eq!(
        host.outcome(id),
        Some(Settled::Delivered),
        "the 401 reaches the caller"
    );
    assert_eq!(
        host.refreshes.len(),
        1,
        "no second refresh for a replay's 401"
    );
}

#[test]
fn forbidden_is_a_permission_answer_not_an_expiry() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::from_status(403));
    assert_eq!(host.outcome(id), Some(Settled::Delivered));
    assert!(host.refreshes.is_empty());
    assert_eq!(Answer::from_status(401), Answer::Unauthorized);
}

#[test]
fn requests_issued_during_a_refresh_wait_and_go_in_issue_order() {
    let mut host = Host::new();
    let first = host.issue();
    host.answer(first, Answer::Unauthorized);
    let later: Vec<_> = (0..5).map(|_| host.issue()).collect();
    assert_eq!(
        host.sends.len(),
        1,
        "nothing goes out with the old credential"
    );
    assert_eq!(host.core.waiting(), 6);

    host.refresh_ends(ROTATED);
    let order: Vec<_> = host.sends[1..].iter().map(|&(id, _, _)| id).collect();
    let mut expected = vec![first];
    expected.extend(&later);
    assert_eq!(order, expected);
    // Queued on issue, they were never sent: their first send is no replay,
    // so a 401 to it may still refresh.
    assert!(later
        .iter()
        .all(|&id| host.sends_of(id) == vec![(false, false)]));
    assert_eq!(host.sends_of(first), vec![(false, false), (true, false)]);
}

#[test]
fn unreplayable_body_fails_clearly_but_the_refresh_still_runs() {
    let mut host = Host::new();
    let stream = host.issue_body(false);
    let plain = host.issue();
    host.answer(stream, Answer::Unauthorized);
    assert_eq!(
        host.outcome(stream),
        Some(Settled::Failed(Failure::ReplayNotPossible))
    );
    assert_eq!(host.refreshes.len(), 1, "the session is still refreshed");
    host.answer(plain, Answer::Unauthorized);
    host.refresh_ends(ROTATED);
    assert_eq!(host.sends_of(plain), vec![(false, false), (true, false)]);
    assert_eq!(host.sends_of(stream).len(), 1, "never resent");
}

#[test]
fn unreplayable_body_issued_during_a_refresh_is_sent_once_after_it() {
    let mut host = Host::new();
    let first = host.issue();
    host.answer(first, Answer::Unauthorized);
    let stream = host.issue_body(false);
    host.refresh_ends(ROTATED);
    assert_eq!(
        host.sends_of(stream),
        vec![(false, false)],
        "its first send"
    );
}

#[test]
fn aborted_waiter_leaves_the_flight_and_the_others_untouched() {
    let mut host = Host::new();
    let ids: Vec<_> = (0..4).map(|_| host.issue()).collect();
    for &id in &ids {
        host.answer(id, Answer::Unauthorized);
    }
    assert!(host.abort(ids[1]));
    assert!(host.abort(ids[3]));
    assert!(!host.abort(ids[3]), "an abort is taken once");
    assert_eq!(host.core.waiting(), 2);
    assert!(
        host.core.is_refreshing(),
        "the shared refresh is not cancelled"
    );

    host.refresh_ends(ROTATED);
    assert_eq!(host.replays(), 2);
    assert_eq!(host.sends_of(ids[1]).len(), 1);
    host.answer(ids[0], Answer::Other);
    host.answer(ids[2], Answer::Other);
    assert_eq!(host.outcome(ids[0]), Some(Settled::Delivered));
    assert_eq!(host.outcome(ids[1]), Some(Settled::Aborted));
    assert_eq!(host.core.tracked(), 0);
}

#[test]
fn aborting_every_waiter_keeps_the_refresh_and_uses_its_outcome() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.abort(id);
    assert!(host.core.is_refreshing());
    let before = host.core.generation();
    host.refresh_ends(ROTATED);
    assert!(host.core.generation() > before, "the rotation is adopted");
}

#[test]
fn answers_for_unknown_requests_are_ignored() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Other);
    host.answer(id, Answer::Unauthorized);
    assert_eq!(host.settle_count[&id], 1);
    assert!(host.refreshes.is_empty());
}

#[test]
fn refresh_success_is_announced_with_the_new_generation() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.refresh_ends(ROTATED);
    assert!(host.notices.contains(&Notice::RefreshStarted {
        attempt: 1,
        ahead: false
    }));
    assert!(host.notices.contains(&Notice::RefreshSucceeded {
        generation: host.core.generation()
    }));
    assert!(host.notices.contains(&Notice::Replayed { request: id }));
    assert_eq!(host.core.session(), Session::Active);
}

#[test]
fn stale_refresh_outcome_is_ignored() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    let first = host.refreshes[0];
    host.refresh_ends(ROTATED);
    host.answer(id, Answer::Other);
    let generation = host.core.generation();
    host.refresh_ends_for(first, ROTATED);
    assert_eq!(
        host.core.generation(),
        generation,
        "reported twice, counted once"
    );
}

#[test]
fn waiting_requests_are_released_when_the_credential_changes_elsewhere() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    let queued = host.issue();
    // Another tab rotated the shared cookie while ours was out.
    host.core.credential_changed();
    host.drain();
    assert_eq!(host.sends_of(id), vec![(false, false), (true, false)]);
    assert_eq!(host.sends_of(queued), vec![(false, false)]);
    // Our own refresh, sent with the replaced token, is then refused: that
    // ends nothing.
    host.refresh_ends(crate::harness::REFUSED);
    assert_eq!(host.core.session(), Session::Active);
    assert_eq!(host.session_expired_notices(), 0);
    host.advance(Duration::from_secs(60));
    host.answer(id, Answer::Other);
    host.answer(queued, Answer::Other);
    assert_eq!(host.core.tracked(), 0);
}
