//! Rule 8: a credential whose expiry is known is refreshed ahead of it,
//! through the same flight, so no request spends a 401 round trip on it; a
//! refresh ahead that fails costs nothing, since the credential still works.

use refresh_coordinator::core::Duration;

use refresh_coordinator::core::{
    Answer, Config, Failure, Instant, Notice, RequestId, Session, Unavailability,
};

use crate::harness::{rotated_for, server_error, Host, Settled, LOST, REFUSED, ROTATED};

/// SimpleJWT's default access lifetime, less the second the host takes off.
const LIFETIME: Duration = Duration::from_secs(299);
const MARGIN: Duration = Duration::from_secs(30);

/// A host whose credential came from a refresh answered with `LIFETIME` at
/// the host's `now`, and was accepted by one request; returns when that
/// credential is due for a refresh ahead.
fn with_known_expiry(host: &mut Host) -> Instant {
    let first = host.issue();
    host.answer(first, Answer::Unauthorized);
    host.refresh_ends(rotated_for(LIFETIME));
    host.answer(first, Answer::Other);
    host.now.after(LIFETIME.saturating_sub(MARGIN))
}

fn advance_to(host: &mut Host, at: Instant) {
    let by = host.now.until(at);
    host.advance(by);
}

fn ahead_starts(host: &Host) -> usize {
    host.notices
        .iter()
        .filter(|n| matches!(n, Notice::RefreshStarted { ahead: true, .. }))
        .count()
}

#[test]
fn a_request_inside_the_margin_waits_for_one_refresh_ahead_and_goes_once() {
    let mut host = Host::new();
    let due = with_known_expiry(&mut host);
    advance_to(&mut host, due);

    let ids: Vec<RequestId> = (0..3).map(|_| host.issue()).collect();
    assert_eq!(host.refreshes.len(), 2, "one refresh ahead for all three");
    assert_eq!(ahead_starts(&host), 1);
    assert_eq!(host.core.waiting(), 3, "none sent with the lapsing token");

    host.refresh_ends(rotated_for(LIFETIME));
    for &id in &ids {
        assert_eq!(
            host.sends_of(id),
            vec![(false, false)],
            "sent once, no replay"
        );
        host.answer(id, Answer::Other);
        assert_eq!(host.outcome(id), Some(Settled::Delivered));
    }
}

#[test]
fn a_request_before_the_margin_goes_out_at_once() {
    let mut host = Host::new();
    let due = with_known_expiry(&mut host);
    host.now = Instant::from_millis(due.as_millis() - 1);
    let id = host.issue();
    assert_eq!(host.sends_of(id), vec![(false, false)]);
    assert_eq!(host.refreshes.len(), 1);
}

#[test]
fn an_unknown_expiry_is_never_refreshed_ahead() {
    let mut host = Host::new();
    let first = host.issue();
    host.answer(first, Answer::Unauthorized);
    host.refresh_ends(ROTATED);
    host.answer(first, Answer::Other);
    host.advance(Duration::from_secs(3_600));
    let id = host.issue();
    assert_eq!(host.sends_of(id), vec![(false, false)]);
    assert_eq!(host.refreshes.len(), 1);
}

#[test]
fn no_margin_means_refresh_after_a_401_only() {
    let mut host = Host::with(Config {
        refresh_margin: None,
        ..Config::default()
    });
    let due = with_known_expiry(&mut host);
    advance_to(&mut host, due.after(MARGIN));
    let id = host.issue();
    assert_eq!(host.sends_of(id), vec![(false, false)]);
    assert_eq!(host.refreshes.len(), 1);
    host.core.set_visible(true);
    assert_eq!(host.core.poll_timeout(), None, "no timer either");
}

#[test]
fn the_margin_is_at_most_a_third_of_a_short_lifetime() {
    let mut host = Host::new();
    let first = host.issue();
    host.answer(first, Answer::Unauthorized);
    let rotated_at = host.now;
    host.refresh_ends(rotated_for(Duration::from_secs(15)));
    host.answer(first, Answer::Other);

    host.now = rotated_at.after(Duration::from_millis(9_999));
    let early = host.issue();
    assert_eq!(
        host.sends_of(early),
        vec![(false, false)],
        "not at two thirds yet"
    );
    host.now = rotated_at.after(Duration::from_secs(10));
    host.issue();
    assert_eq!(host.refreshes.len(), 2, "from two thirds of its life on");
}

#[test]
fn a_failed_refresh_ahead_keeps_the_session_and_sends_with_the_working_credential() {
    for (outcome, cause) in [
        (server_error(503), Some(Unavailability::Status(503))),
        (LOST, Some(Unavailability::Network)),
        (REFUSED, None),
    ] {
        let mut host = Host::new();
        let due = with_known_expiry(&mut host);
        advance_to(&mut host, due);
        let id = host.issue();
        host.refresh_ends(outcome);

        assert_eq!(host.core.session(), Session::Active, "{outcome:?}");
        assert!(
            !host.core.is_refreshing(),
            "no retry, no probe: {outcome:?}"
        );
        assert_eq!(host.sends_of(id), vec![(false, false)], "{outcome:?}");
        assert!(host
            .notices
            .contains(&Notice::SessionKept { cause, ahead: true }));
        host.answer(id, Answer::Other);
        assert_eq!(host.outcome(id), Some(Settled::Delivered));

        // Not asked again on every request: the next one goes out too.
        let next = host.issue();
        assert_eq!(host.sends_of(next), vec![(false, false)], "{outcome:?}");
        assert_eq!(host.refreshes.len(), 2, "{outcome:?}");

        // Once the credential does expire, a 401 refreshes as ever.
        host.answer(next, Answer::Unauthorized);
        assert_eq!(host.refreshes.len(), 3, "{outcome:?}");
        assert_eq!(ahead_starts(&host), 1);
        host.refresh_ends(rotated_for(LIFETIME));
        assert_eq!(host.sends_of(next), vec![(false, false), (true, false)]);
    }
}

#[test]
fn a_refusal_after_a_refresh_ahead_failed_still_ends_the_session() {
    let mut host = Host::bearer();
    let due = with_known_expiry(&mut host);
    advance_to(&mut host, due);
    let id = host.issue();
    host.refresh_ends(REFUSED);
    assert_eq!(host.core.session(), Session::Active);

    host.answer(id, Answer::Unauthorized);
    host.refresh_ends(REFUSED);
    assert_eq!(host.core.session(), Session::Ended);
    assert_eq!(
        host.outcome(id),
        Some(Settled::Failed(Failure::SessionExpired))
    );
    assert_eq!(host.session_expired_notices(), 1);
}

#[test]
fn a_401_during_a_refresh_ahead_makes_it_an_ordinary_refresh() {
    let mut host = Host::new();
    let due = with_known_expiry(&mut host);
    // Sent just before the margin; its answer comes once the refresh ahead
    // is out: the credential expired sooner than it said.
    host.now = Instant::from_millis(due.as_millis() - 1);
    let early = host.issue();
    advance_to(&mut host, due);
    let late = host.issue();
    assert_eq!(host.refreshes.len(), 2);
    host.answer(early, Answer::Unauthorized);
    assert_eq!(host.core.waiting(), 2);

    // Now a failure is retried, not fallen back from.
    host.refresh_ends(server_error(503));
    assert!(host.core.is_refreshing(), "backing off");
    assert!(host.notices.contains(&Notice::RefreshFailed {
        cause: Unavailability::Status(503),
        retrying: true
    }));
    assert!(host.fire_next_timer());
    assert_eq!(host.refreshes.len(), 3, "the retry");
    host.refresh_ends(rotated_for(LIFETIME));
    assert_eq!(host.sends_of(early), vec![(false, false), (true, false)]);
    assert_eq!(host.sends_of(late), vec![(false, false)]);
}

#[test]
fn a_refresh_ahead_left_unanswered_lets_the_requests_go_and_its_late_rotation_counts() {
    let mut host = Host::new();
    let due = with_known_expiry(&mut host);
    advance_to(&mut host, due);
    let id = host.issue();
    let ahead = *host.refreshes.last().unwrap();
    host.advance(Config::default().refresh_timeout);
    assert_eq!(
        host.sends_of(id),
        vec![(false, false)],
        "not held past the bound"
    );
    assert!(!host.core.is_refreshing());

    let generation = host.core.generation();
    host.refresh_ends_for(ahead, rotated_for(LIFETIME));
    assert!(host.core.generation() > generation, "adopted");
}

#[test]
fn a_visible_tab_refreshes_ahead_on_a_timer_a_hidden_one_does_not() {
    let mut host = Host::new();
    let due = with_known_expiry(&mut host);
    assert_eq!(host.core.poll_timeout(), None, "hidden: no timer");

    host.core.set_visible(true);
    let wake = host.core.poll_timeout().expect("a timer while visible");
    assert!(wake >= due, "not before the margin");
    assert!(
        wake < due.after(MARGIN / 2),
        "jittered into the first half of the margin's slack"
    );
    assert!(host.fire_next_timer());
    assert_eq!(host.refreshes.len(), 2);
    assert_eq!(ahead_starts(&host), 1);
    host.refresh_ends(rotated_for(LIFETIME));
    assert_eq!(host.core.session(), Session::Active);

    host.core.set_visible(false);
    assert_eq!(host.core.poll_timeout(), None);
}

#[test]
fn no_timer_before_the_server_accepted_the_credential_here() {
    let mut host = Host::new();
    host.core.set_visible(true);
    let first = host.issue();
    host.answer(first, Answer::Unauthorized);
    host.refresh_ends(rotated_for(LIFETIME));
    assert_eq!(
        host.core.poll_timeout(),
        None,
        "its replay is not answered yet"
    );
    host.answer(first, Answer::Other);
    assert!(host.core.poll_timeout().is_some());
}

#[test]
fn a_refresh_of_a_previous_page_load_that_may_land_is_not_refreshed_ahead_of() {
    let mut host = Host::new();
    let due = with_known_expiry(&mut host);
    advance_to(&mut host, due);
    host.core
        .refresh_may_be_landing(due.after(Duration::from_secs(5)));
    let id = host.issue();
    assert_eq!(host.sends_of(id), vec![(false, false)]);
    assert_eq!(host.refreshes.len(), 1);
}
