//! Rule 7's two sides: a replay whose credential expired while it queued
//! waits for the next refresh; a replay refused while its credential is
//! fresh is returned (no refresh loop). Regression tests for the flake in
//! which the last replays of a burst left after a 2 s token had expired and
//! their 401s reached the caller.

use refresh_coordinator::core::Duration;

use refresh_coordinator::core::{Answer, RequestId};

use crate::harness::{rotated_for, Host, Settled, ROTATED};

const LIFETIME: Duration = Duration::from_secs(10);

/// `n` requests, all 401'd, one refresh that the test ends; returns them.
fn burst_waiting_for_refresh(host: &mut Host, n: usize) -> Vec<RequestId> {
    let ids: Vec<_> = (0..n).map(|_| host.issue()).collect();
    for &id in &ids {
        host.answer(id, Answer::Unauthorized);
    }
    assert_eq!(host.refreshes.len(), 1);
    ids
}

#[test]
fn replay_that_outlived_its_credentials_known_lifetime_waits_for_the_next_refresh() {
    let mut host = Host::new();
    let ids = burst_waiting_for_refresh(&mut host, 3);
    host.refresh_ends(rotated_for(LIFETIME));
    assert_eq!(host.replays(), 3);

    // The first replay is served: the new credential works.
    host.answer(ids[0], Answer::Other);
    // The others queued on the way out until the credential expired.
    host.advance(LIFETIME);
    host.answer(ids[1], Answer::Unauthorized);
    host.answer(ids[2], Answer::Unauthorized);
    assert_eq!(
        host.outcome(ids[1]),
        None,
        "not returned: the session is fine"
    );
    assert_eq!(host.refreshes.len(), 2, "one more refresh, for both");
    assert_eq!(host.core.waiting(), 2);

    host.refresh_ends(rotated_for(LIFETIME));
    assert_eq!(
        host.sends_of(ids[1]),
        vec![(false, false), (true, false), (true, false)]
    );
    host.answer(ids[1], Answer::Other);
    host.answer(ids[2], Answer::Other);
    assert!(ids
        .iter()
        .all(|&id| host.outcome(id) == Some(Settled::Delivered)));
    assert_eq!(host.refreshes.len(), 2);
}

#[test]
fn replay_refused_while_its_credential_is_fresh_is_returned() {
    let mut host = Host::new();
    let ids = burst_waiting_for_refresh(&mut host, 2);
    host.refresh_ends(rotated_for(LIFETIME));
    host.answer(ids[0], Answer::Other);
    // Accepted, and a second short of its end: a refusal, not an expiry.
    host.advance(LIFETIME.saturating_sub(Duration::from_secs(1)));
    host.answer(ids[1], Answer::Unauthorized);
    assert_eq!(
        host.outcome(ids[1]),
        Some(Settled::Delivered),
        "the 401 reaches the caller"
    );
    assert_eq!(host.refreshes.len(), 1, "no second refresh");
}

#[test]
fn server_refusing_every_fresh_credential_gets_one_refresh_and_one_replay_each() {
    for lifetime in [Some(LIFETIME), None] {
        let mut host = Host::new();
        let ids = burst_waiting_for_refresh(&mut host, 5);
        host.refresh_ends(match lifetime {
            Some(l) => rotated_for(l),
            None => ROTATED,
        });
        // Even long after the credential's end: never accepted, so never
        // called expired.
        host.advance(LIFETIME.saturating_mul(2));
        for &id in &ids {
            host.answer(id, Answer::Unauthorized);
        }
        assert!(
            ids.iter()
                .all(|&id| host.outcome(id) == Some(Settled::Delivered)),
            "{lifetime:?}: every 401 returned"
        );
        assert_eq!(host.refreshes.len(), 1, "{lifetime:?}: one refresh");
        assert_eq!(host.replays(), 5, "{lifetime:?}: each replayed once");
    }
}

#[test]
fn request_queued_behind_two_expiries_is_replayed_with_each_refresh() {
    // A known lifetime gives no cap: every expiry it waits out is real.
    let mut host = Host::new();
    let queued = burst_waiting_for_refresh(&mut host, 1)[0];
    // Issued while the refresh is out: it waits, then goes first-hand and
    // shows the new credential works.
    let mut served = host.issue();
    for round in 1..=3 {
        host.refresh_ends(rotated_for(LIFETIME));
        host.answer(served, Answer::Other);
        assert_eq!(host.outcome(served), Some(Settled::Delivered));
        if round < 3 {
            host.advance(LIFETIME);
            host.answer(queued, Answer::Unauthorized);
            assert_eq!(host.refreshes.len(), round + 1, "round {round}");
            served = host.issue();
        }
    }
    host.answer(queued, Answer::Other);
    assert_eq!(host.outcome(queued), Some(Settled::Delivered));
    assert_eq!(
        host.sends_of(queued).len(),
        4,
        "first send and three replays"
    );
}

#[test]
fn with_unknown_lifetime_an_accepted_credential_gives_one_more_replay_not_a_loop() {
    let mut host = Host::new();
    let ids = burst_waiting_for_refresh(&mut host, 3);
    host.refresh_ends(ROTATED);
    host.answer(ids[0], Answer::Other);
    // Accepted, then refused: taken for an expiry once.
    host.answer(ids[1], Answer::Unauthorized);
    assert_eq!(host.refreshes.len(), 2);
    host.refresh_ends(ROTATED);
    let fresh = host.issue();
    host.answer(fresh, Answer::Other);
    // Refused again though the new credential was accepted too: this
    // request is refused for some other reason, and gets its 401.
    host.answer(ids[1], Answer::Unauthorized);
    assert_eq!(host.outcome(ids[1]), Some(Settled::Delivered));
    assert_eq!(host.refreshes.len(), 2, "no third refresh");
}

#[test]
fn acceptance_of_an_older_credential_does_not_count() {
    let mut host = Host::new();
    let slow = host.issue();
    let ids = burst_waiting_for_refresh(&mut host, 1);
    host.refresh_ends(rotated_for(LIFETIME));
    // `slow` went out with the old credential; its 200 says nothing of
    // the new one.
    host.answer(slow, Answer::Other);
    host.advance(LIFETIME.saturating_mul(2));
    host.answer(ids[0], Answer::Unauthorized);
    assert_eq!(host.outcome(ids[0]), Some(Settled::Delivered));
    assert_eq!(host.refreshes.len(), 1);
}

#[test]
fn lifetime_counts_from_when_the_refresh_was_sent() {
    // A slow refresh: the credential was issued some time after it left,
    // but no later than its answer; counting from the send never makes an
    // expired credential look fresh.
    let mut host = Host::new();
    let ids = burst_waiting_for_refresh(&mut host, 2);
    host.advance(Duration::from_secs(4));
    host.refresh_ends(rotated_for(LIFETIME));
    host.answer(ids[0], Answer::Other);
    host.advance(LIFETIME.saturating_sub(Duration::from_secs(4)));
    host.answer(ids[1], Answer::Unauthorized);
    assert_eq!(host.outcome(ids[1]), None, "waits: its lifetime ran out");
    assert_eq!(host.refreshes.len(), 2);
}
