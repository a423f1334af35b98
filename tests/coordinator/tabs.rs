//! Rule 9: tabs share one flight. Several coordinators ("tabs") in one
//! simulated browser: one Web Lock granted in request order, the stored
//! shared state (never replaced by an older generation), and messages
//! delivered when the test says. Rules 1 and 5 across tabs: one refresh per
//! expiry per browser, a session end in every tab, a login starts every
//! tab again.

use refresh_coordinator::core::Duration;
use std::collections::VecDeque;

use refresh_coordinator::core::{
    Action, Answer, Failure, Instant, Notice, RequestId, Session, SharedSession,
};

use crate::harness::{rotated_for, Host, Settled, REFUSED, ROTATED};

struct Browser {
    tabs: Vec<Host>,
    holder: Option<usize>,
    queue: VecDeque<usize>,
    stored: (u64, SharedSession),
    /// The stored expiry of the stored generation's credential. Every tab's
    /// clock is the same here, so it needs no converting.
    stored_expiry: Option<Instant>,
    /// Announcements not yet delivered: (from, generation, session).
    messages: VecDeque<(usize, u64, SharedSession)>,
}

impl Browser {
    fn new(tabs: usize, bearer: bool) -> Self {
        let tabs = (0..tabs)
            .map(|_| {
                let mut host = if bearer { Host::bearer() } else { Host::new() };
                host.core.share_across_tabs(0);
                host
            })
            .collect();
        Self {
            tabs,
            holder: None,
            queue: VecDeque::new(),
            stored: (0, SharedSession::Active),
            stored_expiry: None,
            messages: VecDeque::new(),
        }
    }

    /// Carries out every tab's lock, persist and announce actions until
    /// nothing more happens.
    fn settle(&mut self) {
        loop {
            let mut acted = false;
            for t in 0..self.tabs.len() {
                let actions: Vec<Action> = self.tabs[t].browser.drain(..).collect();
                for action in actions {
                    acted = true;
                    self.act(t, action);
                }
            }
            if !acted {
                break;
            }
        }
    }

    fn act(&mut self, tab: usize, action: Action) {
        match action {
            Action::AcquireLock => {
                if self.holder.is_none() {
                    self.grant(tab);
                } else {
                    self.queue.push_back(tab);
                }
            }
            Action::CancelLock => self.queue.retain(|&t| t != tab),
            Action::ReleaseLock => {
                assert_eq!(self.holder, Some(tab), "released by its holder");
                self.holder = None;
                if let Some(next) = self.queue.pop_front() {
                    self.grant(next);
                }
            }
            Action::Persist {
                generation,
                session,
                expires,
            } => {
                if generation >= self.stored.0 {
                    self.stored = (generation, session);
                    self.stored_expiry = expires;
                }
            }
            Action::Announce {
                generation,
                session,
                ..
            } => self.messages.push_back((tab, generation, session)),
            _ => unreachable!("only browser actions are routed here"),
        }
    }

    fn grant(&mut self, tab: usize) {
        self.holder = Some(tab);
        let (generation, session) = self.stored;
        let host = &mut self.tabs[tab];
        host.core.lock_granted(host.now, generation, session);
        if let Some(expires) = self.stored_expiry {
            host.core.shared_expiry(host.now, generation, expires);
        }
        host.drain();
    }

    /// Delivers every announcement; receivers re-read what is stored.
    fn deliver(&mut self) {
        while let Some((from, _, _)) = self.messages.pop_front() {
            let (generation, session) = self.stored;
            for t in 0..self.tabs.len() {
                if t != from {
                    let tab = &mut self.tabs[t];
                    tab.core.shared_state(generation, session);
                    if let Some(expires) = self.stored_expiry {
                        tab.core.shared_expiry(tab.now, generation, expires);
                    }
                    tab.drain();
                }
            }
            self.settle();
        }
    }

    /// Tab `tab` issues `n` requests that all get 401.
    fn expired_burst(&mut self, tab: usize, n: usize) -> Vec<RequestId> {
        let host = &mut self.tabs[tab];
        let ids: Vec<_> = (0..n).map(|_| host.issue()).collect();
        for &id in &ids {
            host.answer(id, Answer::Unauthorized);
        }
        self.settle();
        ids
    }

    fn refreshes(&self) -> usize {
        self.tabs.iter().map(|t| t.refreshes.len()).sum()
    }
}

#[test]
fn tabs_hitting_one_expiry_send_one_refresh_and_the_others_adopt_it() {
    for tabs in [2, 4] {
        let mut browser = Browser::new(tabs, false);
        let bursts: Vec<_> = (0..tabs).map(|t| browser.expired_burst(t, 50)).collect();
        assert_eq!(
            browser.refreshes(),
            1,
            "{tabs} tabs: one refresh in the browser"
        );
        assert_eq!(browser.holder, Some(0), "the first tab holds the lock");
        browser.tabs[0].refresh_ends(ROTATED);
        browser.settle();
        assert_eq!(browser.stored, (1, SharedSession::Active), "persisted");
        assert_eq!(
            browser.refreshes(),
            1,
            "granted next, the others adopt instead"
        );
        assert_eq!(browser.holder, None, "and give the lock back");
        for (t, ids) in bursts.iter().enumerate() {
            let host = &mut browser.tabs[t];
            for &id in ids {
                assert_eq!(
                    host.sends_of(id),
                    vec![(false, false), (true, false)],
                    "tab {t} replays"
                );
                host.answer(id, Answer::Other);
                assert_eq!(host.outcome(id), Some(Settled::Delivered));
            }
        }
        for t in 1..tabs {
            assert!(browser.tabs[t]
                .notices
                .iter()
                .any(|n| matches!(n, Notice::Adopted { .. })));
        }
    }
}

#[test]
fn on_success_the_holder_persists_then_releases_then_announces_then_tells_the_app() {
    let mut host = Host::new();
    host.core.share_across_tabs(4);
    let id = host.core.issue(host.now, true);
    host.core.on_answer(host.now, id, Answer::Unauthorized);
    let mut order = Vec::new();
    while let Some(action) = host.core.poll_action() {
        order.push(action);
    }
    assert_eq!(
        order,
        vec![
            Action::Send {
                request: id,
                replay: false
            },
            Action::AcquireLock
        ]
    );
    host.core.lock_granted(host.now, 4, SharedSession::Active);
    let refresh = match host.core.poll_action() {
        Some(Action::StartRefresh { refresh }) => refresh,
        other => panic!("expected a refresh, got {other:?}"),
    };
    while host.core.poll_action().is_some() {}
    host.core.on_refresh_outcome(host.now, refresh, ROTATED);
    let mut order = Vec::new();
    while let Some(action) = host.core.poll_action() {
        order.push(action);
    }
    let position = |wanted: fn(&Action) -> bool| order.iter().position(wanted).unwrap();
    let persist = position(|a| {
        matches!(
            a,
            Action::Persist {
                generation: 5,
                session: SharedSession::Active,
                ..
            }
        )
    });
    let release = position(|a| *a == Action::ReleaseLock);
    let announce = position(|a| matches!(a, Action::Announce { generation: 5, .. }));
    let told = position(|a| matches!(a, Action::Notify(Notice::RefreshSucceeded { .. })));
    assert!(
        persist < release && release < announce && announce < told,
        "{order:?}"
    );
}

#[test]
fn a_message_that_arrives_before_the_lock_is_adopted_and_the_request_withdrawn() {
    let mut browser = Browser::new(2, false);
    let a = browser.expired_burst(0, 1);
    let b = browser.expired_burst(1, 1);
    browser.tabs[0].refresh_ends(ROTATED);
    // Tab 1 hears of the rotation before its grant is handled: here the
    // lock went to it already; with the message first, it withdraws.
    let mut browser2 = Browser::new(2, false);
    let _ = browser2.expired_burst(0, 1);
    let b2 = browser2.expired_burst(1, 1);
    browser2.tabs[1].core.shared_state(1, SharedSession::Active);
    browser2.tabs[1].drain();
    assert!(browser2.tabs[1].browser.contains(&Action::CancelLock));
    assert_eq!(
        browser2.tabs[1].sends_of(b2[0]).len(),
        2,
        "replayed with the browser's credential"
    );
    browser2.settle();
    assert!(browser2.queue.is_empty());
    assert_eq!(browser2.refreshes(), 1);
    let _ = (a, b);
}

#[test]
fn a_refusal_in_one_tab_ends_the_session_in_every_tab_once_and_a_login_in_any_starts_all_again() {
    let mut browser = Browser::new(3, true);
    let bursts: Vec<_> = (0..3).map(|t| browser.expired_burst(t, 2)).collect();
    browser.tabs[0].refresh_ends(REFUSED);
    browser.settle();
    assert_eq!(browser.stored, (0, SharedSession::Ended));
    browser.deliver();
    for (t, ids) in bursts.iter().enumerate() {
        let host = &browser.tabs[t];
        assert_eq!(host.core.session(), Session::Ended, "tab {t}");
        for &id in ids {
            assert_eq!(
                host.outcome(id),
                Some(Settled::Failed(Failure::SessionExpired))
            );
        }
        assert_eq!(host.session_expired_notices(), 1, "tab {t}: told once");
    }
    assert_eq!(browser.refreshes(), 1, "the others never refreshed");
    assert_eq!(browser.holder, None);

    // A login in tab 2: every tab's session starts again.
    browser.tabs[2].core.credential_changed();
    browser.tabs[2].drain();
    browser.settle();
    assert_eq!(browser.stored, (1, SharedSession::Active));
    browser.deliver();
    for t in 0..3 {
        assert_eq!(browser.tabs[t].core.session(), Session::Active, "tab {t}");
    }
    let ids = browser.expired_burst(0, 1);
    assert_eq!(browser.refreshes(), 2, "the next expiry refreshes again");
    browser.tabs[0].refresh_ends(ROTATED);
    browser.settle();
    browser.tabs[0].answer(ids[0], Answer::Other);
    assert_eq!(browser.tabs[0].outcome(ids[0]), Some(Settled::Delivered));
}

#[test]
fn an_ended_message_about_an_older_generation_is_ignored() {
    let mut host = Host::bearer();
    host.core.share_across_tabs(3);
    host.core.shared_state(2, SharedSession::Ended);
    host.drain();
    assert_eq!(host.core.session(), Session::Active);
    host.core.shared_state(3, SharedSession::Ended);
    host.drain();
    assert_eq!(
        host.core.session(),
        Session::Ended,
        "its own generation's end counts"
    );
}

#[test]
fn a_timed_out_lock_wait_probes_never_steals_and_ends_nothing() {
    let mut browser = Browser::new(2, false);
    let _held = browser.expired_burst(0, 1);
    let ids = browser.expired_burst(1, 2);
    // The holder is frozen: its refresh neither answers nor times out here.
    browser.tabs[1].advance(Duration::from_secs(10));
    browser.settle();
    let waiter = &mut browser.tabs[1];
    assert_eq!(
        waiter.sends_of(ids[0]),
        vec![(false, false), (true, true)],
        "asks whether the cookie landed"
    );
    waiter.answer(ids[0], Answer::Unauthorized);
    browser.settle();
    assert_eq!(
        browser.tabs[1].refreshes.len(),
        0,
        "no refresh without the lock"
    );
    assert_eq!(browser.tabs[1].core.session(), Session::Active);
    assert_eq!(browser.holder, Some(0), "never stolen");
    // Later the frozen tab's keepalive refresh lands its cookie: the next
    // probe finds it.
    browser.tabs[1].advance(Duration::from_secs(10));
    browser.settle();
    browser.tabs[1].answer(ids[0], Answer::Other);
    browser.settle();
    let waiter = &browser.tabs[1];
    assert!(waiter.browser.is_empty());
    assert!(
        !browser.queue.contains(&1),
        "the lock request was withdrawn"
    );
    assert_eq!(waiter.sends_of(ids[1]), vec![(false, false), (true, false)]);
    assert_eq!(browser.refreshes(), 1);
}

#[test]
fn the_lock_is_held_while_a_refusal_is_confirmed_and_the_end_stored_before_it_goes() {
    let mut browser = Browser::new(2, false);
    let ids = browser.expired_burst(0, 1);
    let other = browser.expired_burst(1, 1);
    browser.tabs[0].refresh_ends(REFUSED);
    browser.settle();
    assert_eq!(
        browser.holder,
        Some(0),
        "still held: the probe is this refresh's bookkeeping"
    );
    assert_eq!(
        browser.tabs[0].sends_of(ids[0]),
        vec![(false, false), (true, true)]
    );
    browser.tabs[0].answer(ids[0], Answer::Unauthorized);
    browser.settle();
    assert_eq!(browser.stored, (0, SharedSession::Ended));
    assert_eq!(browser.holder, None);
    // Granted next, tab 1 found the session over in storage.
    assert_eq!(
        browser.tabs[1].outcome(other[0]),
        Some(Settled::Failed(Failure::SessionExpired))
    );
    assert_eq!(browser.refreshes(), 1);
}

/// Rule 8 across tabs: the expiry travels with the generation, so every
/// tab refreshes ahead of it, and the lock keeps that to one refresh.
#[test]
fn ten_tabs_that_learned_one_expiry_refresh_ahead_of_it_once() {
    const LIFETIME: Duration = Duration::from_secs(299);
    let mut browser = Browser::new(10, false);
    let first = browser.expired_burst(0, 1)[0];
    browser.tabs[0].refresh_ends(rotated_for(LIFETIME));
    browser.settle();
    browser.deliver();
    browser.tabs[0].answer(first, Answer::Other);
    assert_eq!(browser.stored, (1, SharedSession::Active));

    let due = browser.tabs[0]
        .now
        .after(LIFETIME.saturating_sub(Duration::from_secs(30)));
    let ids: Vec<RequestId> = (0..10)
        .map(|t| {
            let host = &mut browser.tabs[t];
            host.now = due;
            host.issue()
        })
        .collect();
    browser.settle();
    assert_eq!(browser.refreshes(), 2, "the first refresh, and one ahead");
    let holder = browser.holder.expect("one tab refreshes ahead");
    assert!(ids
        .iter()
        .enumerate()
        .all(|(t, &id)| browser.tabs[t].sends_of(id).is_empty()));

    browser.tabs[holder].refresh_ends(rotated_for(LIFETIME));
    browser.settle();
    browser.deliver();
    assert_eq!(browser.refreshes(), 2, "the other nine adopt it");
    for (t, &id) in ids.iter().enumerate() {
        assert_eq!(
            browser.tabs[t].sends_of(id),
            vec![(false, false)],
            "tab {t}"
        );
        assert_eq!(browser.tabs[t].core.session(), Session::Active);
    }
    // And they know the new expiry: the next due point is the holder's.
    let next_due = due.after(LIFETIME.saturating_sub(Duration::from_secs(30)));
    for t in 0..10 {
        let host = &mut browser.tabs[t];
        host.now = Instant::from_millis(next_due.as_millis() - 1);
        let early = host.issue();
        assert_eq!(host.sends_of(early), vec![(false, false)], "tab {t}");
    }
    assert_eq!(browser.refreshes(), 2);
}

#[test]
fn a_tab_that_joins_takes_the_stored_expiry_and_an_older_or_own_one_changes_nothing() {
    let mut host = Host::new();
    host.core.share_across_tabs(3);
    host.core
        .shared_expiry(host.now, 2, host.now.after(Duration::from_secs(60)));
    let id = host.issue();
    assert_eq!(
        host.sends_of(id),
        vec![(false, false)],
        "an older generation's"
    );

    host.core
        .shared_expiry(host.now, 3, host.now.after(Duration::from_secs(60)));
    host.now = host.now.after(Duration::from_secs(40));
    host.issue();
    assert_eq!(
        host.browser.last(),
        Some(&Action::AcquireLock),
        "ahead of the stored expiry"
    );
    host.core.lock_granted(host.now, 3, SharedSession::Active);
    host.drain();
    assert_eq!(host.refreshes.len(), 1);
    host.refresh_ends(rotated_for(Duration::from_secs(299)));
    // Its own expiry now; the stored one of the generation it published
    // (the same) is not taken over it.
    host.core
        .shared_expiry(host.now, 4, host.now.after(Duration::from_secs(1)));
    let later = host.issue();
    assert_eq!(host.sends_of(later), vec![(false, false)]);
}

/// The holder was closed (or reloaded, or frozen) mid-refresh: its
/// `keepalive` refresh goes on and lands its cookie. The next tab granted
/// the lock must not refresh with the token that one rotated.
#[test]
fn granted_while_the_last_holders_refresh_may_land_probes_for_its_cookie_first() {
    let mut host = Host::new();
    host.core.share_across_tabs(3);
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    assert_eq!(host.browser, vec![Action::AcquireLock]);
    host.core
        .refresh_may_be_landing(host.now.after(Duration::from_secs(10)));
    host.core.lock_granted(host.now, 3, SharedSession::Active);
    host.drain();
    assert!(
        host.refreshes.is_empty(),
        "no refresh with the rotated token"
    );

    host.advance(Duration::from_millis(50));
    assert_eq!(host.sends_of(id).last(), Some(&(true, true)), "a probe");
    host.answer(id, Answer::Unauthorized); // not landed yet
    host.advance(Duration::from_millis(100));
    host.answer(id, Answer::Other); // landed
    assert_eq!(host.outcome(id), Some(Settled::Delivered));
    assert!(host.refreshes.is_empty());
    assert!(
        host.browser.contains(&Action::ReleaseLock),
        "and lets the lock go"
    );
    assert!(host.browser.iter().any(|a| matches!(
        a,
        Action::Persist {
            generation: 4,
            session: SharedSession::Active,
            ..
        }
    )));
}

#[test]
fn granted_after_the_last_holders_refresh_could_have_landed_refreshes() {
    let mut host = Host::new();
    host.core.share_across_tabs(3);
    let id = host.issue();
    host.answer(id, Answer::Unauthorized);
    let until = host.now.after(Duration::from_millis(500));
    host.core.refresh_may_be_landing(until);
    host.core.lock_granted(host.now, 3, SharedSession::Active);
    host.drain();
    for _ in 0..20 {
        if !host.refreshes.is_empty() {
            break;
        }
        assert!(host.fire_next_timer());
        if let Some(&(_, true, true)) = host.sends.last() {
            if host.outcome(id).is_none() {
                host.answer(id, Answer::Unauthorized);
            }
        }
    }
    assert_eq!(host.refreshes.len(), 1, "it never landed: refresh now");
    assert!(host.now >= until);
    assert!(
        !host.browser.contains(&Action::ReleaseLock),
        "still under the lock"
    );
    host.refresh_ends(ROTATED);
    assert_eq!(host.outcome(id), None);
    host.answer(id, Answer::Other);
    assert_eq!(host.outcome(id), Some(Settled::Delivered));
}
