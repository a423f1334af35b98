//! A refresh that never answers cannot wedge the flight (rule 6): past its
//! deadline it is handled like a lost answer (probe in cookie mode, retry
//! with backoff in bearer mode), its late rotation is still adopted, and a
//! login always starts afresh. Regression tests for the tab that, after one
//! refresh hung, failed every later 401 with a timeout and never sent a
//! refresh again until reloaded.

use refresh_coordinator::core::Duration;

use refresh_coordinator::core::{Answer, Config, Failure, Session, Unavailability};

use crate::harness::{Host, Settled, REFUSED, ROTATED};

const TIMEOUT: Duration = Duration::from_secs(10);

fn timed_out() -> Option<Settled> {
    Some(Settled::Failed(Failure::RefreshUnavailable(
        Unavailability::Timeout,
    )))
}

#[test]
fn unanswered_refresh_is_probed_then_retried_in_cookie_mode() {
    let mut host = Host::new();
    let ids: Vec<_> = (0..3).map(|_| host.issue()).collect();
    for &id in &ids {
        host.answer(id, Answer::Unauthorized);
    }
    host.advance(TIMEOUT);
    assert_eq!(
        host.sends_of(ids[0]),
        vec![(false, false), (true, true)],
        "did its cookie land? the oldest waiter asks"
    );
    assert!(host.outcome(ids[1]).is_none(), "nobody is rejected yet");
    host.answer(ids[0], Answer::Unauthorized);
    host.fire_next_timer();
    assert_eq!(host.refreshes.len(), 2, "a retry, not a wedge");
    host.refresh_ends(ROTATED);
    for &id in &ids {
        host.answer(id, Answer::Other);
        assert_eq!(host.outcome(id), Some(Settled::Delivered));
    }
}

#[test]
fn unanswered_refresh_is_retried_with_backoff_in_bearer_mode() {
    let mut host = Host::bearer();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    host.advance(TIMEOUT);
    assert_eq!(
        host.sends_of(id).len(),
        1,
        "no probe: a bearer token is in the answer"
    );
    assert!(host.core.is_refreshing(), "backing off");
    host.fire_next_timer();
    assert_eq!(host.refreshes.len(), 2);
    host.refresh_ends(ROTATED);
    host.answer(id, Answer::Other);
    assert_eq!(host.outcome(id), Some(Settled::Delivered));
}

#[test]
fn refreshes_that_never_answer_end_in_a_timeout_and_the_next_401_refreshes_again() {
    let config = Config {
        max_retries: 1,
        ..Config::default()
    };
    let mut host = Host::with(Config {
        probe_after_lost_answer: false,
        ..config
    });
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    for _ in 0..10 {
        if host.outcome(id).is_some() {
            break;
        }
        host.fire_next_timer();
    }
    assert_eq!(host.outcome(id), timed_out());
    assert_eq!(host.refreshes.len(), 2, "the first and one retry");
    assert!(!host.core.is_refreshing(), "the flight is over");
    assert_eq!(
        host.core.session(),
        Session::Active,
        "a timeout ends nothing"
    );

    let later = host.issue();
    assert_eq!(host.sends_of(later).len(), 1, "sent at once, not held");
    host.answer(later, Answer::Unauthorized);
    assert_eq!(host.refreshes.len(), 3, "a new flight starts");
    host.refresh_ends(ROTATED);
    host.answer(later, Answer::Other);
    assert_eq!(host.outcome(later), Some(Settled::Delivered));
}

#[test]
fn late_rotation_of_an_unanswered_refresh_is_adopted() {
    let mut host = Host::bearer();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    let first = host.refreshes[0];
    host.advance(TIMEOUT);
    assert!(host.core.is_refreshing(), "backing off before the retry");
    let before = host.core.generation();
    // It answers after all: the rotation happened, the waiter goes now.
    host.refresh_ends_for(first, ROTATED);
    assert!(host.core.generation() > before);
    assert_eq!(host.sends_of(id), vec![(false, false), (true, false)]);
    assert!(!host.core.is_refreshing(), "the backoff is moot");
    host.fire_next_timer();
    assert_eq!(host.refreshes.len(), 1, "no retry after the rotation");
}

#[test]
fn late_refusal_of_an_unanswered_refresh_ends_nothing() {
    let mut host = Host::bearer();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    let first = host.refreshes[0];
    host.advance(TIMEOUT);
    host.fire_next_timer();
    assert_eq!(host.refreshes.len(), 2);
    // The retry rotates; then the first one's late refusal arrives.
    host.refresh_ends(ROTATED);
    host.refresh_ends_for(first, REFUSED);
    assert_eq!(host.core.session(), Session::Active);
    host.answer(id, Answer::Other);
    assert_eq!(host.outcome(id), Some(Settled::Delivered));
}

#[test]
fn a_login_while_a_refresh_hangs_starts_afresh() {
    let mut host = Host::new();
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    let hung = host.refreshes[0];
    host.core.credential_changed(); // the app logged in again
    host.drain();
    assert_eq!(
        host.sends_of(id),
        vec![(false, false), (true, false)],
        "goes with the new login"
    );
    assert!(!host.core.is_refreshing());
    // The new credential expires: a refresh starts at once, not after the
    // hung one.
    host.answer(id, Answer::Unauthorized);
    let other = host.issue();
    host.answer(other, Answer::Unauthorized);
    assert_eq!(host.refreshes.len(), 2);
    // The hung refresh refreshed the replaced credential: its late outcome,
    // whatever it is, is ignored.
    let generation = host.core.generation();
    host.refresh_ends_for(hung, ROTATED);
    assert_eq!(host.core.generation(), generation);
    host.refresh_ends_for(hung, REFUSED);
    assert_eq!(host.core.session(), Session::Active);
    host.refresh_ends(ROTATED);
    host.answer(other, Answer::Other);
    assert_eq!(host.outcome(other), Some(Settled::Delivered));
}
