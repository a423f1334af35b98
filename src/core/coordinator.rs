//! The single-flight refresh state machine: events in, actions out.
//!
//! The host (the web layer, or a test) tells the coordinator what happened —
//! a request was issued, an answer came back, a refresh ended, time passed, a
//! caller aborted — and then drains [`Coordinator::poll_action`] and does what
//! it says. The coordinator does no I/O and reads no clock, so every rule in
//! the design can be driven step by step.
//!
//! The rules it keeps, by number in the design brief:
//! 1. one refresh at a time: a refresh starts only from [`Flight::Idle`];
//! 2. generations: a 401 for a request sent before the credential changed is
//!    replayed without a refresh;
//! 3. requests that got 401, and requests issued while a refresh is in
//!    flight, wait and are sent in issue order once it succeeds;
//! 4. every waiter is settled on every path: success, refusal, retries used
//!    up, timeouts, aborts (the host settles those);
//! 5. a refusal ends the session until the credential changes again, once
//!    confirmed (in cookie mode one waiter is sent with the cookie the jar
//!    holds now: another tab or client may have rotated it a moment ago);
//!    transient failures retry with backoff and keep the session;
//! 6. nothing here cancels a refresh: one left unanswered past its deadline
//!    is handled like a lost answer, and its late rotation is still adopted.
//!    Nothing waits on it for good, so the flight cannot wedge; a new login
//!    always starts afresh;
//! 7. a 401 to a replay whose credential is still fresh is returned, not
//!    refreshed again (no refresh loop); a replay whose credential outlived
//!    its life (see [`Credential`]) waits for the next refresh instead.
//!    Bodies that cannot be replayed fail instead of going out empty;
//! 8. a credential whose expiry is known is refreshed ahead of it, through
//!    the same flight, by the first request issued within the margin (or a
//!    visible tab's timer); a refresh ahead that fails costs nothing: the
//!    requests go with the credential that still works.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::action::{Action, Notice, RefreshId};
use super::backoff::{retry_delay, Jitter};
use super::config::Config;
use super::credential::Credential;
use super::generation::Generation;
use super::outcome::{Answer, Failure, RefreshOutcome, Unavailability};
use super::request::{Phase, RequestId, Tracked};
use super::shared::{Lock, Shared, SharedSession};
use super::slots::Slots;
use super::time::{Duration, Instant};

/// Whether the user is logged in, as far as the coordinator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// Refreshes are allowed.
    Active,
    /// A refresh was refused. 401s are failed with
    /// [`Failure::SessionExpired`] and start no refresh until
    /// [`Coordinator::credential_changed`] reports a new login.
    Ended,
    /// The app logged out ([`Coordinator::log_out`]). Like [`Session::Ended`],
    /// but 401s fail with [`Failure::LoggedOut`]: nothing expired, the user
    /// chose to leave.
    LoggedOut,
}

/// The refresh flight. Requests wait whenever it is not [`Flight::Idle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flight {
    Idle,
    /// A refresh request is on the wire. Its outcome ends this state, or
    /// its deadline: then it is left unanswered (see
    /// [`Coordinator::unanswered`]) and the flight goes on without it.
    Refreshing {
        refresh: RefreshId,
        /// When it was sent: the credential it brings is issued after this.
        sent: Instant,
        /// When the flight stops waiting for its answer.
        deadline: Instant,
        /// Sent ahead of the credential's expiry, no 401 seen yet: if it
        /// fails, the requests go with the credential that still works.
        ahead: bool,
        /// Another tab's newer credential was adopted while it was out. The
        /// lock stays held until its outcome: it may be rotating the very
        /// token the browser holds now, and a tab granted the lock before it
        /// ends would refresh that token too. Its rotation is the newest and
        /// is taken; any other outcome changes nothing.
        superseded: bool,
    },
    /// A refusal waits to be confirmed (see
    /// [`Coordinator::confirm_refusals_for`]) until `until`, in case the
    /// rotation that beat it is still landing. Next look at `next_check`:
    /// a probe in cookie mode; in bearer mode, the end (the host re-reads
    /// its store first and reports a change).
    Confirming {
        until: Instant,
        next_check: Instant,
        wait: Duration,
    },
    /// Attempt `attempt` waits for the browser-wide lock (cross-tab mode).
    /// Once granted, it refreshes, unless another tab rotated meanwhile.
    Locking {
        attempt: u32,
        /// When to stop waiting quietly: then, in cookie mode, a waiter asks
        /// whether the holder's rotation landed; the wait goes on either way.
        deadline: Instant,
        /// For a refresh ahead of expiry (see [`Flight::Refreshing`]).
        ahead: bool,
    },
    /// Attempt `attempt` failed transiently; the next starts at `until`.
    BackingOff {
        attempt: u32,
        until: Instant,
    },
    /// `probe`, a waiting request, is on the wire with the credential the
    /// browser holds now, to learn what `why` asks.
    Probing {
        probe: RequestId,
        /// When it was sent: a refusal stands only on a probe sent after
        /// its confirmation window closed.
        sent: Instant,
        deadline: Instant,
        why: ProbeFor,
    },
    /// A 401 came while a refresh sent by a previous page load may still be
    /// landing (see [`Coordinator::refresh_may_be_landing`]): instead of
    /// refreshing with the token it rotated, the first waiter is sent again
    /// at `next_probe` to see whether the new cookie arrived.
    Landing {
        landing: Landing,
        next_probe: Instant,
    },
}

/// What a probe is sent to learn. A probe that succeeds always means the
/// same: the browser holds a credential that works, so it is adopted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeFor {
    /// Attempt `attempt` got no answer (`cause`: lost, or none before its
    /// deadline): did its rotated cookie land anyway? If not, retry.
    LostAnswer { attempt: u32, cause: Unavailability },
    /// A refresh of a previous page load may be landing.
    Landing(Landing),
    /// The refresh was refused: was that a lost race (another tab or client
    /// rotated the shared cookie just before) or the end of the session?
    /// Asked again, after pauses growing from `wait`, until `until`.
    Refusal { until: Instant, wait: Duration },
    /// Attempt `attempt` waited for the lock past its deadline: did the
    /// holder (slow, frozen, gone) rotate the cookie anyway?
    LockWait { attempt: u32 },
}

/// Waiting for a refresh this coordinator did not send to land.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Landing {
    /// After this, stop waiting and refresh.
    until: Instant,
    /// The pause before the next probe; doubles after each failed one.
    wait: Duration,
}

/// The first pause before probing for a landing refresh. Short: on a page
/// that was reloaded mid-refresh, the answer is usually milliseconds away.
const FIRST_LANDING_WAIT: Duration = Duration::from_millis(50);
/// Pauses between probes grow up to this.
const MAX_LANDING_WAIT: Duration = Duration::from_secs(1);
/// The first pause before a refusal is checked again: another tab's
/// rotation that beat it is usually a network hop behind.
const FIRST_CONFIRM_WAIT: Duration = Duration::from_millis(100);

/// The coordinator of one credential: one flight, many requests.
#[derive(Debug)]
pub struct Coordinator {
    config: Config,
    session: Session,
    /// Moves forward by one on every known credential change, never back.
    generation: Generation,
    /// What is known of the credential of `generation`.
    credential: Credential,
    /// The browser-wide side: the shared generation and the lock.
    shared: Shared,
    flight: Flight,
    /// Every request between issue and settlement, in issue order.
    requests: Slots<Tracked>,
    /// How many requests are in [`Phase::Waiting`].
    waiting: usize,
    /// Deadlines of waiting requests, earliest first. May hold stale
    /// entries of requests that stopped waiting; an entry counts only while
    /// its request still waits with that deadline.
    deadlines: VecDeque<(Instant, RequestId)>,
    actions: VecDeque<Action>,
    /// Until when a refresh sent by a previous page load may still land;
    /// cleared once the credential is known to have changed.
    inherited_landing: Option<Instant>,
    /// How long a refusal may wait to be confirmed; zero ends at once.
    refusal_window: Duration,
    /// Refreshes still on the wire that the flight stopped waiting for
    /// (their deadline passed), with when each was sent. One that rotates
    /// after all is adopted; any other late outcome is ignored. Emptied by
    /// every credential change, so no late answer replaces a newer one.
    unanswered: Vec<(RefreshId, Instant)>,
    next_request: u64,
    next_refresh: u64,
    jitter: Jitter,
    /// Whether the page is visible (the host says): only a visible tab
    /// refreshes ahead on a timer. A hidden one's timers are throttled, and
    /// it refreshes ahead only when it has a request to send.
    visible: bool,
    /// In `[0, 1)`, drawn for each credential: how far into the second half
    /// of the margin this tab's timer wakes, so tabs that learned the same
    /// expiry do not all wake at once.
    wake_jitter: f64,
}

impl Coordinator {
    /// A coordinator with an active session at generation zero. `seed` feeds
    /// the backoff jitter.
    pub fn new(config: Config, seed: u64) -> Self {
        Self {
            config,
            session: Session::Active,
            generation: Generation::default(),
            credential: Credential::default(),
            shared: Shared::default(),
            flight: Flight::Idle,
            requests: Slots::default(),
            waiting: 0,
            deadlines: VecDeque::new(),
            actions: VecDeque::new(),
            inherited_landing: None,
            unanswered: Vec::new(),
            refusal_window: Duration::ZERO,
            next_request: 0,
            next_refresh: 0,
            jitter: Jitter::new(seed),
            visible: false,
            wake_jitter: 0.0,
        }
    }

    /// The app issued a request the coordinator is responsible for.
    /// `replayable` tells whether its body can be sent more than once.
    ///
    /// It is sent at once, or held if a refresh is in flight: sending it with
    /// the credential being replaced would only earn another 401.
    pub fn issue(&mut self, now: Instant, replayable: bool) -> RequestId {
        let id = RequestId::new(self.next_request);
        self.next_request = self.next_request.saturating_add(1);
        let phase = Phase::Sent {
            generation: self.generation,
            replay: false,
        };
        self.requests.insert(
            id,
            Tracked {
                replayable,
                outlived_once: false,
                phase,
            },
        );
        if self.session == Session::Active && self.holds_requests() {
            self.wait(id, now, None);
        } else if self.due_ahead(now) {
            // Sending it would only earn a 401 (or race the expiry): it
            // waits for the refresh it starts.
            self.begin_attempt(now, 1, true);
            self.wait(id, now, None);
        } else {
            self.send(id, false);
        }
        id
    }

    /// A request sent by [`Action::Send`] or [`Action::Probe`] got `answer`.
    /// Unknown ids (aborted or settled requests) are ignored.
    pub fn on_answer(&mut self, now: Instant, id: RequestId, answer: Answer) {
        let Some(tracked) = self.requests.get(id) else {
            return;
        };
        match tracked.phase {
            // Nothing of a waiting request is on the wire.
            Phase::Waiting { .. } => {}
            Phase::Probing { deadline } => self.on_probe_answer(now, id, answer, deadline),
            Phase::Sent { generation, replay } => match answer {
                Answer::Other => {
                    if generation == self.generation {
                        self.credential.accept();
                    }
                    self.settle(id, Action::Deliver { request: id });
                }
                Answer::Failed => self.settle(id, Action::Deliver { request: id }),
                Answer::Unauthorized => {
                    let replayable = tracked.replayable;
                    let outlived_once = tracked.outlived_once;
                    self.on_unauthorized(now, id, generation, replay, replayable, outlived_once);
                }
            },
        }
    }

    fn on_unauthorized(
        &mut self,
        now: Instant,
        id: RequestId,
        sent_with: Generation,
        was_replay: bool,
        replayable: bool,
        outlived_once: bool,
    ) {
        if self.session == Session::LoggedOut {
            self.fail(id, Failure::LoggedOut);
        } else if self.session == Session::Ended {
            self.fail(id, Failure::SessionExpired);
        } else if sent_with < self.generation {
            // Sent before the credential changed: the 401 is stale, the
            // current credential has not been tried. No refresh needed.
            if !replayable {
                self.fail(id, Failure::ReplayNotPossible);
            } else if self.holds_requests() {
                self.wait(id, now, Some(sent_with));
            } else {
                self.send(id, true);
            }
        } else if was_replay && !self.credential.outlived(now, outlived_once) {
            // The fresh credential was refused too. Refreshing again would
            // loop; the caller gets the 401.
            self.settle(id, Action::Deliver { request: id });
        } else {
            // A 401 for the current credential: a refresh ahead of its
            // expiry in flight is a refresh after expiry now, with its
            // retries and its confirmation of a refusal.
            self.ahead_is_late();
            if was_replay {
                // The replay left after the credential it carried expired
                // (a long queue, a short token): the session is fine, the
                // request waits for the next refresh like any first 401.
                if let Some(tracked) = self.requests.get_mut(id) {
                    tracked.outlived_once = true;
                }
            }
            if self.flight == Flight::Idle {
                self.start_flight(now);
            }
            if replayable {
                self.wait(id, now, Some(sent_with));
            } else {
                self.fail(id, Failure::ReplayNotPossible);
            }
        }
    }

    fn on_probe_answer(&mut self, now: Instant, id: RequestId, answer: Answer, deadline: Instant) {
        let (why, sent) = match self.flight {
            Flight::Probing { why, sent, .. } => (why, sent),
            // Not reachable: a probing request is always the flight's probe.
            // Treat it as an inconclusive probe after a lost answer.
            _ => (
                ProbeFor::LostAnswer {
                    attempt: 1,
                    cause: Unavailability::Network,
                },
                now,
            ),
        };
        self.flight = Flight::Idle;
        match answer {
            Answer::Other => {
                // The credential the browser holds works: the rotation (this
                // tab's, whose answer was lost, or someone else's) landed.
                // Its lifetime was in an answer this tab did not read; the
                // probe's answer is its first acceptance.
                self.settle(id, Action::Deliver { request: id });
                self.succeed(Credential::new(now, None));
                self.credential.accept();
            }
            Answer::Unauthorized => {
                // The credential did not change; the probe waits again.
                self.set_waiting(id, Some(self.generation), deadline);
                self.after_failed_probe(now, why, sent);
            }
            Answer::Failed => {
                // The caller gets its network error, as plain fetch would.
                self.settle(id, Action::Deliver { request: id });
                self.after_failed_probe(now, why, sent);
            }
        }
    }

    /// The refresh started by [`Action::StartRefresh`] ended with `outcome`.
    /// An unanswered refresh (its deadline passed) that rotated after all is
    /// adopted; every other outcome of a refresh the flight no longer waits
    /// for is ignored.
    pub fn on_refresh_outcome(
        &mut self,
        now: Instant,
        refresh: RefreshId,
        outcome: RefreshOutcome,
    ) {
        if let Some(at) = self.unanswered.iter().position(|&(r, _)| r == refresh) {
            let (_, sent) = self.unanswered.remove(at);
            if let RefreshOutcome::Rotated { lifetime } = outcome {
                if self.session == Session::LoggedOut {
                    // Out when the app logged out: the host keeps what it
                    // brought, for the logout to revoke, and nothing revives.
                    self.generation = self.generation.next();
                    self.take_credential(Credential::new(sent, lifetime));
                } else {
                    self.adopt_late_rotation(Credential::new(sent, lifetime));
                }
            }
            return;
        }
        let Flight::Refreshing {
            refresh: current,
            sent,
            ahead,
            superseded,
            ..
        } = self.flight
        else {
            return;
        };
        if current != refresh {
            return;
        }
        if superseded {
            // The browser holds a credential another tab brought meanwhile.
            self.flight = Flight::Idle;
            return match outcome {
                RefreshOutcome::Rotated { lifetime } => {
                    self.succeed(Credential::new(sent, lifetime))
                }
                _ => self.superseded_ended(Self::cause_of(outcome), ahead),
            };
        }
        if ahead && !matches!(outcome, RefreshOutcome::Rotated { .. }) {
            return self.ahead_failed(Self::cause_of(outcome));
        }
        // This attempt is over, whatever it says. The lock stays held for
        // its bookkeeping: a rotation or a confirmed end is persisted before
        // it goes, and a probe that confirms a refusal or looks for a lost
        // answer's cookie runs under it; a backoff or a give-up lets go.
        self.flight = Flight::Idle;
        match outcome {
            RefreshOutcome::Rotated { lifetime } => self.succeed(Credential::new(sent, lifetime)),
            RefreshOutcome::Refused => self.after_refusal(now),
            RefreshOutcome::Unavailable {
                status,
                retry_after,
            } => self.retry_or_give_up(
                now,
                refresh.attempt(),
                Unavailability::Status(status),
                retry_after,
            ),
            RefreshOutcome::Lost => {
                self.after_lost_answer(now, refresh.attempt(), Unavailability::Network)
            }
            RefreshOutcome::Redirected => self.give_up(Unavailability::Redirected),
        }
    }

    /// The refresh identified by `number` (as [`RefreshId::number`] gives
    /// it), if its outcome still counts: the one on the wire, or one left
    /// unanswered. Lets a host ask before it acts on an answer (a bearer
    /// host stores the tokens of a rotation only if the rotation counts).
    pub fn refresh_numbered(&self, number: u64) -> Option<RefreshId> {
        let current = match self.flight {
            Flight::Refreshing { refresh, .. } => Some(refresh),
            _ => None,
        };
        current
            .into_iter()
            .chain(self.unanswered.iter().map(|&(r, _)| r))
            .find(|r| r.number() == number)
    }

    /// An unanswered refresh rotated after all. Whatever the flight does
    /// now (a probe, a backoff, a retry with the token that one replaced) is
    /// moot: the waiters go with the new credential.
    fn adopt_late_rotation(&mut self, credential: Credential) {
        self.demote_probe();
        self.succeed(credential);
    }

    /// The credential is about to change under a probe on the wire: it
    /// becomes an ordinary request sent with the old credential, so a 401
    /// to it is stale and replayed.
    fn demote_probe(&mut self) {
        if let Flight::Probing { probe, .. } = self.flight {
            self.set_phase(
                probe,
                Phase::Sent {
                    generation: self.generation,
                    replay: false,
                },
            );
        }
    }

    /// A refusal, confirmed before it ends anything. In cookie mode the jar
    /// may hold a cookie another tab or client rotated a moment ago (the
    /// server refused the token that rotation replaced): one waiter sent with
    /// it tells which. Without a waiter there is nothing to ask with, and the
    /// server's word stands. (Bearer hosts compare the refused refresh token
    /// with their store's first and report a change as
    /// [`Coordinator::credential_changed`].)
    fn after_refusal(&mut self, now: Instant) {
        self.confirm_refusal(now, now.after(self.refusal_window));
    }

    /// Asks again whether the refusal stands, until `until`: a waiter sent
    /// with the cookie the jar holds now (cookie mode), or a pause after
    /// which the host has re-read its store (bearer mode). Nobody waiting,
    /// or the window over: the refusal stands.
    fn confirm_refusal(&mut self, now: Instant, until: Instant) {
        if self.config.probe_after_lost_answer {
            let why = ProbeFor::Refusal {
                until,
                wait: Duration::ZERO,
            };
            if !self.probe_first_waiter(now, why) {
                self.refusal_unconfirmed();
            }
        } else if now < until {
            // The host looks at its store again when the window closes,
            // whether or not anyone waits.
            self.flight = Flight::Confirming {
                until,
                next_check: until,
                wait: Duration::ZERO,
            };
        } else {
            self.end_session(false);
        }
    }

    /// Where tabs are not kept apart by the lock (no Web Locks, or another
    /// client sharing the credential), a refusal can arrive while the
    /// rotation that beat it is still on its way: the other tab has not
    /// stored its tokens yet, the jar not taken its cookie. A refusal then
    /// waits up to `window` to be confirmed: cookie mode probes again with
    /// growing pauses, bearer mode looks at its store at the end. Defaults
    /// to zero: a refusal is confirmed (or not) at once.
    pub fn confirm_refusals_for(&mut self, window: Duration) {
        self.refusal_window = window;
    }

    /// Time is now `now`: fire whatever deadline has passed. Call it at
    /// [`Coordinator::poll_timeout`], or whenever; early calls do nothing.
    pub fn on_timeout(&mut self, now: Instant) {
        while let Some((deadline, id)) = self.next_deadline() {
            if deadline > now {
                break;
            }
            self.fail(id, Failure::RefreshUnavailable(Unavailability::Timeout));
        }
        match self.flight {
            Flight::Refreshing {
                refresh,
                sent,
                deadline,
                ahead,
                superseded,
            } if deadline <= now => {
                // No answer in time. Never cancelled (it may have rotated
                // the token, and its late rotation is adopted), but no longer
                // waited for: handled like a lost answer, so the flight goes
                // on and cannot wedge on a refresh that never answers.
                self.unanswered.push((refresh, sent));
                self.flight = Flight::Idle;
                if superseded {
                    self.superseded_ended(Some(Unavailability::Timeout), ahead);
                } else if ahead {
                    self.ahead_failed(Some(Unavailability::Timeout));
                } else {
                    self.after_lost_answer(now, refresh.attempt(), Unavailability::Timeout);
                }
            }
            Flight::Locking {
                attempt,
                deadline,
                ahead,
            } if deadline <= now => {
                if ahead {
                    // Another tab holds the lock, most likely refreshing
                    // ahead of the same expiry: its rotation will be
                    // adopted; meanwhile the credential still works.
                    self.ahead_failed(Some(Unavailability::Timeout));
                } else {
                    self.after_lock_wait(now, attempt);
                }
            }
            Flight::Confirming {
                until,
                next_check,
                wait,
            } if next_check <= now => {
                if self.config.probe_after_lost_answer {
                    // Cookie mode looks again, and once more when the
                    // window closes: the last look decides.
                    if !self.probe_first_waiter(now, ProbeFor::Refusal { until, wait }) {
                        self.refusal_unconfirmed();
                    }
                } else {
                    // The window is over and the host found no change.
                    self.end_session(false);
                }
            }
            Flight::BackingOff { attempt, until } if until <= now => {
                if self.waiting == 0 {
                    // Everyone gave up or left; the next 401 starts afresh.
                    self.flight = Flight::Idle;
                } else {
                    self.begin_attempt(now, attempt.saturating_add(1), false);
                }
            }
            Flight::Landing {
                landing,
                next_probe,
            } if next_probe <= now => self.probe_for_landing(now, landing),
            Flight::Idle if self.wake_at().is_some_and(|wake| wake <= now) => {
                // A visible tab whose credential is about to expire: refresh
                // it before a request has to wait for it.
                self.begin_attempt(now, 1, true);
            }
            Flight::Probing {
                probe,
                sent,
                deadline,
                why,
            } if deadline <= now => {
                // The probe hangs. Let it finish as an ordinary request sent
                // with the unchanged credential, and carry on.
                self.set_phase(
                    probe,
                    Phase::Sent {
                        generation: self.generation,
                        replay: false,
                    },
                );
                self.flight = Flight::Idle;
                self.after_failed_probe(now, why, sent);
            }
            _ => {}
        }
    }

    /// The caller of `id` aborted. The request leaves the queue; the host
    /// rejects the caller with the abort reason. Returns whether the request
    /// was still tracked. The refresh is never cancelled.
    pub fn abort(&mut self, now: Instant, id: RequestId) -> bool {
        let Some(tracked) = self.requests.remove(id) else {
            return false;
        };
        match tracked.phase {
            Phase::Waiting { .. } => self.stopped_waiting(),
            Phase::Probing { .. } => {
                if let Flight::Probing { why, .. } = self.flight {
                    // The probe will never answer; ask another waiter.
                    self.flight = Flight::Idle;
                    match why {
                        ProbeFor::Landing(landing) => self.probe_for_landing(now, landing),
                        ProbeFor::LostAnswer { attempt, cause } => {
                            self.after_lost_answer(now, attempt, cause)
                        }
                        ProbeFor::Refusal { until, .. } => self.confirm_refusal(now, until),
                        ProbeFor::LockWait { attempt } => self.wait_for_lock_again(now, attempt),
                    }
                }
            }
            Phase::Sent { .. } => {}
        }
        true
    }

    /// The credential changed without this coordinator refreshing: the app
    /// logged in again or stored new tokens, or another tab rotated the
    /// shared credential. Starts a new generation, revives an ended session
    /// and releases every waiter to go with the new credential. A refresh
    /// still on the wire is forgotten (its late outcome is ignored): it
    /// refreshed the replaced credential, and a login always starts afresh.
    pub fn credential_changed(&mut self) {
        self.adopt(Session::Active);
        if self.shared.enabled {
            // Every tab starts the new session.
            let generation = self.shared.advance();
            self.publish(generation, SharedSession::Active);
        }
        self.release_waiters();
    }

    /// A credential this tab did not refresh becomes current, in `session`.
    fn adopt(&mut self, session: Session) {
        self.demote_probe();
        self.let_go_of_lock();
        self.flight = Flight::Idle;
        self.take_remote_credential(session);
    }

    /// The credential part of [`Coordinator::adopt`]: a new generation whose
    /// credential came from elsewhere, in `session`.
    fn take_remote_credential(&mut self, session: Session) {
        self.generation = self.generation.next();
        // Issued at a moment this side does not know: no expiry can be
        // counted for it (unless the other tab shares it, see
        // `shared_expiry`), so a replay's 401 with it is judged by acceptance.
        self.take_credential(Credential::default());
        self.session = session;
        self.inherited_landing = None;
        self.unanswered.clear();
    }

    /// Shares one flight with the other tabs (and workers) of the browser,
    /// for hosts with Web Locks whose credential is shared (the cookie jar,
    /// a shared token store): a refresh runs under the browser-wide lock
    /// ([`Action::AcquireLock`]), a tab granted the lock first checks whether
    /// another tab rotated meanwhile, and rotations, logins and session ends
    /// are published for every tab. `generation` is the browser-wide
    /// generation now (this page load's credential is that one): nothing is
    /// adopted or ended by it, only later changes count. Call it before the
    /// first request; without it the flight is this tab's alone.
    pub fn share_across_tabs(&mut self, generation: u64) {
        self.shared.enabled = true;
        self.shared.seen = self.shared.seen.max(generation);
    }

    /// The browser-wide state is `generation` in `session` (read from
    /// storage after another tab's message or a storage change). A newer
    /// generation is adopted: another tab rotated or logged in, so the
    /// waiters go with the credential the browser holds now. An end of the
    /// session is taken from any generation not older than this tab's own;
    /// an older one speaks of a credential already replaced, and is ignored.
    pub fn shared_state(&mut self, generation: u64, session: SharedSession) {
        if !self.shared.enabled || generation < self.shared.seen {
            return;
        }
        let newer = generation > self.shared.seen;
        self.shared.seen = generation;
        match session {
            SharedSession::Active if newer => {
                match &mut self.flight {
                    // This tab's refresh is still out: the lock stays held
                    // until it ends (see `Flight::Refreshing`).
                    Flight::Refreshing { superseded, .. } if self.shared.lock == Lock::Held => {
                        *superseded = true;
                        self.take_remote_credential(Session::Active);
                    }
                    _ => self.adopt(Session::Active),
                }
                self.notify(Notice::Adopted {
                    generation: self.generation,
                });
                self.release_waiters();
            }
            SharedSession::Active => {}
            SharedSession::Ended => {
                if self.session == Session::Active {
                    self.end_session(true);
                }
            }
            SharedSession::LoggedOut => self.log_out_here(true),
        }
    }

    /// The stored state of browser-wide generation `generation` says its
    /// credential expires at `expires` (this tab's clock; the host converts
    /// from the time the browser's tabs share). Read after
    /// [`Coordinator::shared_state`], [`Coordinator::lock_granted`] or
    /// [`Coordinator::share_across_tabs`]: if that generation is this tab's
    /// and its expiry unknown here (adopted, or this page load's), it is
    /// refreshed ahead of it like its own. An expiry this tab counted itself
    /// is kept.
    pub fn shared_expiry(&mut self, now: Instant, generation: u64, expires: Instant) {
        if !self.shared.enabled
            || generation != self.shared.seen
            || self.session != Session::Active
            || self.credential.expires().is_some()
        {
            return;
        }
        let accepted = self.credential.accepted();
        self.take_credential(Credential::new(now, Some(now.until(expires))));
        if accepted {
            self.credential.accept();
        }
    }

    /// The host granted the lock; `generation` and `session` are the shared
    /// state read right after. If another tab rotated meanwhile, that is
    /// adopted and no refresh is sent; otherwise this tab refreshes, holding
    /// the lock until the answer is handled.
    pub fn lock_granted(&mut self, now: Instant, generation: u64, session: SharedSession) {
        if self.shared.lock == Lock::Requested {
            self.shared.lock = Lock::Held;
        }
        self.shared_state(generation, session);
        match self.flight {
            Flight::Locking { attempt, ahead, .. } if self.shared.lock == Lock::Held => {
                self.refresh_holding_lock(now, attempt, ahead)
            }
            Flight::Probing {
                why: ProbeFor::LockWait { attempt },
                ..
            } if self.shared.lock == Lock::Held => {
                // Asked whether the holder's rotation landed; now the lock is
                // here. The probe finishes as an ordinary request.
                self.demote_probe();
                self.refresh_holding_lock(now, attempt, false);
            }
            _ => {
                // Not wanted any more (adopted, ended, withdrawn): give it back.
                if self.shared.lock == Lock::Held {
                    self.shared.lock = Lock::Free;
                    self.actions.push_back(Action::ReleaseLock);
                }
            }
        }
    }

    /// The lock is here: refresh, unless the host reported that the last
    /// holder's refresh may still be landing
    /// ([`Coordinator::refresh_may_be_landing`]: that tab was closed,
    /// reloaded or frozen mid-refresh, and its `keepalive` refresh goes on
    /// and lands its cookie). Refreshing now would send the token that one
    /// rotated, and on a server without a grace window end the session; so
    /// the waiters probe for its cookie first, holding the lock, as after a
    /// reload. A refresh ahead of expiry lets its requests go instead.
    fn refresh_holding_lock(&mut self, now: Instant, attempt: u32, ahead: bool) {
        match self.landing_until(now) {
            Some(_) if ahead => self.ahead_failed(Some(Unavailability::Timeout)),
            Some(until) => self.wait_for_landing(now, until),
            None => {
                self.inherited_landing = None;
                self.start_refresh(now, attempt, ahead);
            }
        }
    }

    /// Another browsing context saw the session end. Ends it here too, once
    /// (without a shared generation to compare: for hosts that share none).
    pub fn session_ended_elsewhere(&mut self) {
        if self.session == Session::Active {
            self.end_session(true);
        }
    }

    /// The next thing for the host to do, oldest first.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Coordinator::on_timeout`] next has something to do, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let flight = match self.flight {
            Flight::Refreshing { deadline, .. } | Flight::Locking { deadline, .. } => {
                Some(deadline)
            }
            Flight::Confirming { next_check, .. } => Some(next_check),
            Flight::BackingOff { until, .. } => Some(until),
            Flight::Probing { deadline, .. } => Some(deadline),
            Flight::Landing { next_probe, .. } => Some(next_probe),
            Flight::Idle => self.wake_at(),
        };
        let waiter = self
            .deadlines
            .iter()
            .find(|&&(deadline, id)| self.waits_until(id, deadline))
            .map(|&(deadline, _)| deadline);
        match (flight, waiter) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The current credential generation.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// Whether the session is active.
    pub fn session(&self) -> Session {
        self.session
    }

    /// Whether a refresh is in flight (sent, backing off or probing), so new
    /// requests wait.
    pub fn is_refreshing(&self) -> bool {
        self.flight != Flight::Idle
    }

    /// How many requests are waiting for the flight.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// How many requests the coordinator tracks (on the wire or waiting).
    pub fn tracked(&self) -> usize {
        self.requests.len()
    }

    /// Whether requests must wait rather than go out: a refresh is about to
    /// replace the credential.
    fn holds_requests(&self) -> bool {
        self.flight != Flight::Idle
    }

    /// The first 401 of a flight: refresh, unless a refresh sent by a
    /// previous page load may still be landing, in which case wait for it.
    fn start_flight(&mut self, now: Instant) {
        match self.landing_until(now) {
            Some(until) => self.wait_for_landing(now, until),
            None => {
                self.inherited_landing = None;
                self.begin_attempt(now, 1, false);
            }
        }
    }

    /// Until when a refresh this tab did not send may still land its cookie
    /// (cookie mode), if that is still ahead of `now`.
    fn landing_until(&self, now: Instant) -> Option<Instant> {
        self.inherited_landing
            .filter(|&until| now < until && self.config.probe_after_lost_answer)
    }

    /// Probes, with growing pauses, for that refresh's cookie until `until`.
    fn wait_for_landing(&mut self, now: Instant, until: Instant) {
        self.flight = Flight::Landing {
            landing: Landing {
                until,
                wait: FIRST_LANDING_WAIT,
            },
            next_probe: now.after(FIRST_LANDING_WAIT),
        };
    }

    /// From when the current credential is refreshed ahead of its expiry
    /// (rule 8), if it is: its expiry is known, no refresh ahead of it
    /// failed, and no refresh of a previous page load may be landing (that
    /// one is waited for by the first 401).
    fn refresh_due(&self) -> Option<Instant> {
        let margin = self.config.refresh_margin?;
        if self.session != Session::Active || self.inherited_landing.is_some() {
            return None;
        }
        self.credential.refresh_due(margin)
    }

    /// Whether a request issued at `now` waits for a refresh ahead of the
    /// credential's expiry instead of going out with it.
    fn due_ahead(&self, now: Instant) -> bool {
        self.flight == Flight::Idle && self.refresh_due().is_some_and(|due| now >= due)
    }

    /// When this tab's timer refreshes ahead without waiting for a request:
    /// only while it is visible, and only a credential the server accepted
    /// here (a page that just loaded, or adopted another tab's credential
    /// and sent nothing with it, waits for a request), jittered into the
    /// second half of the margin.
    fn wake_at(&self) -> Option<Instant> {
        if !self.visible || !self.credential.accepted() {
            return None;
        }
        let due = self.refresh_due()?;
        let slack = due.until(self.credential.expires()?) / 2;
        Some(due.after(slack.fraction(self.wake_jitter)))
    }

    /// A 401 came for the current credential: a refresh ahead of its expiry
    /// in flight is the refresh after it now, with retries, the refusal
    /// confirmed, and no falling back to the credential.
    fn ahead_is_late(&mut self) {
        match &mut self.flight {
            Flight::Refreshing { ahead, .. } | Flight::Locking { ahead, .. } => *ahead = false,
            _ => {}
        }
    }

    /// A refresh ahead of expiry did not rotate: `cause`, or `None` when the
    /// server refused it. The credential still works until it expires, so
    /// the session stays and the waiters go with it; a refusal that counts
    /// comes, confirmed, with the first 401. The credential is not refreshed
    /// ahead again.
    fn ahead_failed(&mut self, cause: Option<Unavailability>) {
        self.flight = Flight::Idle;
        self.let_go_of_lock();
        self.credential.ahead_failed();
        self.notify(Notice::SessionKept { cause, ahead: true });
        self.release_waiters();
    }

    /// A refusal to confirm in cookie mode, and nobody waits to confirm it
    /// with (the requests were aborted, timed out, or had bodies that cannot
    /// be sent twice). It may be a lost race: the jar may hold a cookie
    /// another tab or client rotated a moment before. Without a request to
    /// ask with, nothing is proven dead, so the session stays; the next 401
    /// refreshes, and has a request to confirm a refusal with.
    fn refusal_unconfirmed(&mut self) {
        self.flight = Flight::Idle;
        self.let_go_of_lock();
        self.notify(Notice::SessionKept {
            cause: None,
            ahead: false,
        });
    }

    /// A superseded refresh (see [`Flight::Refreshing`]) ended without a
    /// rotation: nothing to recover, the browser has a newer credential. The
    /// lock goes, and whoever waited behind the refresh goes too.
    fn superseded_ended(&mut self, cause: Option<Unavailability>, ahead: bool) {
        self.let_go_of_lock();
        self.notify(Notice::SessionKept { cause, ahead });
        self.release_waiters();
    }

    /// What an outcome other than a rotation says went wrong; `None` for a
    /// refusal.
    fn cause_of(outcome: RefreshOutcome) -> Option<Unavailability> {
        match outcome {
            RefreshOutcome::Refused => None,
            RefreshOutcome::Unavailable { status, .. } => Some(Unavailability::Status(status)),
            RefreshOutcome::Redirected => Some(Unavailability::Redirected),
            RefreshOutcome::Rotated { .. } | RefreshOutcome::Lost => Some(Unavailability::Network),
        }
    }

    /// Refresh ahead of a known expiry from `margin` before it, or only
    /// after a 401 (`None`): [`Config::refresh_margin`], changed.
    pub fn refresh_ahead_by(&mut self, margin: Option<Duration>) {
        self.config.refresh_margin = margin;
    }

    /// The host's page became visible or hidden (see [`Coordinator::wake_at`]).
    pub fn set_visible(&mut self, visible: bool) {
        self.visible = visible;
    }

    /// `credential` is current now; its timer's jitter is drawn afresh.
    fn take_credential(&mut self, credential: Credential) {
        self.credential = credential;
        self.wake_jitter = self.jitter.unit();
    }

    /// Refresh attempt `attempt`: at once, or (cross-tab) under the lock.
    /// `ahead` for a refresh ahead of expiry (rule 8).
    fn begin_attempt(&mut self, now: Instant, attempt: u32, ahead: bool) {
        if self.shared.enabled && self.shared.lock != Lock::Held {
            self.wait_for_lock(now, attempt, ahead);
        } else {
            self.start_refresh(now, attempt, ahead);
        }
    }

    /// Waits for the lock, for at most `lock_timeout` at a time.
    fn wait_for_lock(&mut self, now: Instant, attempt: u32, ahead: bool) {
        self.flight = Flight::Locking {
            attempt,
            deadline: now.after(self.config.lock_timeout),
            ahead,
        };
        if self.shared.request() {
            self.actions.push_back(Action::AcquireLock);
        }
    }

    /// The lock did not come in time: its holder is slow, frozen or gone.
    /// Never steal it and never end the session over it: in cookie mode a
    /// waiter asks whether the holder's rotated cookie landed (a frozen tab's
    /// keepalive refresh still completes), and the wait goes on.
    fn after_lock_wait(&mut self, now: Instant, attempt: u32) {
        let probing = self.config.probe_after_lost_answer
            && self.probe_first_waiter(now, ProbeFor::LockWait { attempt });
        if !probing {
            self.wait_for_lock_again(now, attempt);
        }
    }

    /// Another bounded wait for the lock, unless nobody is left to refresh
    /// for: then the request is withdrawn and the next 401 starts afresh.
    fn wait_for_lock_again(&mut self, now: Instant, attempt: u32) {
        if self.waiting == 0 {
            self.let_go_of_lock();
            self.flight = Flight::Idle;
        } else {
            self.wait_for_lock(now, attempt, false);
        }
    }

    /// Gives the lock back, or withdraws the request for it.
    fn let_go_of_lock(&mut self) {
        match self.shared.lock {
            Lock::Free => {}
            Lock::Requested => self.actions.push_back(Action::CancelLock),
            Lock::Held => self.actions.push_back(Action::ReleaseLock),
        }
        self.shared.lock = Lock::Free;
    }

    /// Stores the browser-wide state (the host keeps a newer one if there
    /// is one) and announces it after the lock is given back: persist,
    /// release, announce, so a tab woken by the message finds it stored.
    /// An active session's state carries the credential's expiry, when
    /// known, so the other tabs refresh ahead of it too.
    fn publish(&mut self, generation: u64, session: SharedSession) {
        let expires = match session {
            SharedSession::Active => self.credential.expires(),
            SharedSession::Ended | SharedSession::LoggedOut => None,
        };
        self.actions.push_back(Action::Persist {
            generation,
            session,
            expires,
        });
        self.let_go_of_lock();
        self.actions.push_back(Action::Announce {
            generation,
            session,
            expires,
        });
    }

    fn start_refresh(&mut self, now: Instant, attempt: u32, ahead: bool) {
        let refresh = RefreshId::new(self.next_refresh, attempt);
        self.next_refresh = self.next_refresh.saturating_add(1);
        self.flight = Flight::Refreshing {
            refresh,
            sent: now,
            deadline: now.after(self.config.refresh_timeout),
            ahead,
            superseded: false,
        };
        self.actions.push_back(Action::StartRefresh { refresh });
        self.notify(Notice::RefreshStarted { attempt, ahead });
    }

    /// A refresh brought `credential`: a new generation, and the waiters go.
    fn succeed(&mut self, credential: Credential) {
        self.generation = self.generation.next();
        self.take_credential(credential);
        self.inherited_landing = None;
        self.unanswered.clear();
        self.flight = Flight::Idle;
        if self.shared.enabled {
            // The browser holds a new credential: every tab learns it. (A
            // probe that found another tab's rotation publishes it too; the
            // holder's own announcement of it then changes nothing.)
            let generation = self.shared.advance();
            self.publish(generation, SharedSession::Active);
        } else {
            self.let_go_of_lock();
        }
        // Events go after the lock is released: an app callback that calls
        // back into the coordinator finds no lock held.
        self.notify(Notice::RefreshSucceeded {
            generation: self.generation,
        });
        self.release_waiters();
    }

    /// Attempt `attempt` got no answer (`cause`): probe whether its rotated
    /// cookie landed anyway, or retry.
    fn after_lost_answer(&mut self, now: Instant, attempt: u32, cause: Unavailability) {
        let probing = self.config.probe_after_lost_answer
            && self.probe_first_waiter(now, ProbeFor::LostAnswer { attempt, cause });
        if !probing {
            self.retry_or_give_up(now, attempt, cause, None);
        }
    }

    /// Sends the oldest waiter as a probe. False if nobody waits.
    fn probe_first_waiter(&mut self, now: Instant, why: ProbeFor) -> bool {
        let first = self
            .requests
            .ids()
            .find_map(|id| Some((id, self.waiting_deadline(id)?)));
        let Some((id, deadline)) = first else {
            return false;
        };
        self.set_phase(id, Phase::Probing { deadline });
        self.flight = Flight::Probing {
            probe: id,
            sent: now,
            deadline: now.after(self.config.refresh_timeout),
            why,
        };
        self.actions.push_back(Action::Probe { request: id });
        true
    }

    /// Probes for a landing refresh; with nobody left waiting, the flight
    /// ends (the next 401 starts over).
    fn probe_for_landing(&mut self, now: Instant, landing: Landing) {
        if !self.probe_first_waiter(now, ProbeFor::Landing(landing)) {
            self.flight = Flight::Idle;
            self.let_go_of_lock();
        }
    }

    /// The probe was refused, failed or hung: wait for a landing refresh a
    /// little longer, or refresh now, or retry after a lost answer, or take
    /// a refusal as confirmed.
    /// `sent`: when the probe went out.
    fn after_failed_probe(&mut self, now: Instant, why: ProbeFor, sent: Instant) {
        match why {
            ProbeFor::Landing(Landing { until, wait }) if now < until => {
                let wait = wait.saturating_mul(2).min(MAX_LANDING_WAIT);
                self.flight = Flight::Landing {
                    landing: Landing { until, wait },
                    next_probe: now.after(wait).min(until),
                };
            }
            ProbeFor::Landing(_) => {
                // It never landed: whatever happened to it, refresh now.
                self.inherited_landing = None;
                if self.waiting > 0 {
                    self.begin_attempt(now, 1, false);
                } else {
                    self.let_go_of_lock();
                }
            }
            // The rotated cookie did not land (or the probe could not
            // tell): retry. Waiters rejected in the end learn why the
            // refresh failed, not how the probe went.
            ProbeFor::LostAnswer { attempt, cause } => {
                self.retry_or_give_up(now, attempt, cause, None)
            }
            // The cookie in the jar is refused too (or could not be tried):
            // look again after a pause while the window lasts.
            ProbeFor::Refusal { until, wait } if now < until => {
                let wait = wait
                    .saturating_mul(2)
                    .max(FIRST_CONFIRM_WAIT)
                    .min(MAX_LANDING_WAIT);
                self.flight = Flight::Confirming {
                    until,
                    next_check: now.after(wait).min(until),
                    wait,
                };
            }
            // The window closed while this probe was out (a slow network,
            // or the tab was frozen): its answer tells of the jar as it was
            // then. One last look, with the cookie the jar holds now.
            ProbeFor::Refusal { until, wait } if sent < until => {
                if !self.probe_first_waiter(now, ProbeFor::Refusal { until, wait }) {
                    self.refusal_unconfirmed();
                }
            }
            // Refused by a probe sent after the window closed: it stands.
            ProbeFor::Refusal { .. } => self.end_session(false),
            // Not landed yet: keep waiting for the lock.
            ProbeFor::LockWait { attempt } => self.wait_for_lock_again(now, attempt),
        }
    }

    /// A refresh sent by a previous load of this page (a reload, a
    /// navigation), or by a tab that held the lock and is gone or frozen, may
    /// still be on its way and land its rotated cookie until `until`. A 401
    /// before then, or a grant of the lock, waits for it, probing, instead of
    /// refreshing with the token it already rotated. Cookie mode only
    /// ([`Config::probe_after_lost_answer`]).
    pub fn refresh_may_be_landing(&mut self, until: Instant) {
        self.inherited_landing = Some(until);
    }

    fn retry_or_give_up(
        &mut self,
        now: Instant,
        attempt: u32,
        cause: Unavailability,
        retry_after: Option<Duration>,
    ) {
        // Whatever follows, this attempt is done with the lock: the next
        // one asks for it again, and finds out then what other tabs did.
        self.let_go_of_lock();
        if self.waiting == 0 {
            // Nobody waits: stop here, the next 401 starts a new flight.
            self.flight = Flight::Idle;
            self.notify(Notice::RefreshFailed {
                cause,
                retrying: false,
            });
        } else if attempt > self.config.max_retries {
            self.give_up(cause);
        } else if retry_after.is_some_and(|asked| asked > self.config.max_retry_after) {
            self.give_up(Unavailability::RetryAfterTooLong);
        } else {
            let delay = retry_delay(
                attempt,
                self.config.backoff_base,
                self.config.backoff_max,
                self.jitter.unit(),
                retry_after,
            );
            self.flight = Flight::BackingOff {
                attempt,
                until: now.after(delay),
            };
            self.notify(Notice::RefreshFailed {
                cause,
                retrying: true,
            });
        }
    }

    fn give_up(&mut self, cause: Unavailability) {
        self.flight = Flight::Idle;
        self.let_go_of_lock();
        self.notify(Notice::RefreshFailed {
            cause,
            retrying: false,
        });
        self.fail_waiters(Failure::RefreshUnavailable(cause));
    }

    fn end_session(&mut self, remote: bool) {
        self.session = Session::Ended;
        if self.shared.enabled && !remote {
            // Stored before the lock goes: the next tab granted it finds
            // the session over, and refreshes nothing.
            self.publish(self.shared.seen, SharedSession::Ended);
        }
        self.wind_down_flight();
        self.fail_waiters(Failure::SessionExpired);
        self.notify(Notice::SessionExpired { remote });
    }

    /// Sends every waiting request, in issue order, with the current
    /// credential.
    fn release_waiters(&mut self) {
        for id in self.requests.ids() {
            let Some(tracked) = self.requests.get(id) else {
                continue;
            };
            let Phase::Waiting { sent_with, .. } = tracked.phase else {
                continue;
            };
            let sent_before = sent_with.is_some();
            if sent_before && !tracked.replayable {
                self.fail(id, Failure::ReplayNotPossible);
            } else {
                self.send(id, sent_before);
            }
        }
    }

    fn fail_waiters(&mut self, failure: Failure) {
        for id in self.requests.ids() {
            if self.waiting_deadline(id).is_some() {
                self.fail(id, failure);
            }
        }
    }

    /// The deadline of `id`, if it is waiting.
    fn waiting_deadline(&self, id: RequestId) -> Option<Instant> {
        match self.requests.get(id)?.phase {
            Phase::Waiting { deadline, .. } => Some(deadline),
            _ => None,
        }
    }

    fn send(&mut self, id: RequestId, replay: bool) {
        self.set_phase(
            id,
            Phase::Sent {
                generation: self.generation,
                replay,
            },
        );
        self.actions.push_back(Action::Send {
            request: id,
            replay,
        });
        if replay {
            self.notify(Notice::Replayed { request: id });
        }
    }

    /// Holds `id` until the flight ends. `sent_with` is the generation of its
    /// last send, `None` if it was never sent.
    fn wait(&mut self, id: RequestId, now: Instant, sent_with: Option<Generation>) {
        self.set_waiting(id, sent_with, now.after(self.config.waiter_timeout));
    }

    fn set_waiting(&mut self, id: RequestId, sent_with: Option<Generation>, deadline: Instant) {
        self.set_phase(
            id,
            Phase::Waiting {
                sent_with,
                deadline,
            },
        );
        self.waiting += 1;
        // Deadlines mostly arrive in order; a probe that waits again keeps
        // its earlier one, and moves back past the later ones.
        self.deadlines.push_back((deadline, id));
        let mut at = self.deadlines.len() - 1;
        while at > 0 {
            match self.deadlines.get(at - 1) {
                Some(&(before, _)) if before > deadline => self.deadlines.swap(at - 1, at),
                _ => break,
            }
            at -= 1;
        }
    }

    fn set_phase(&mut self, id: RequestId, phase: Phase) {
        if let Some(tracked) = self.requests.get_mut(id) {
            let was_waiting = matches!(tracked.phase, Phase::Waiting { .. });
            tracked.phase = phase;
            if was_waiting {
                self.stopped_waiting();
            }
        }
    }

    fn stopped_waiting(&mut self) {
        self.waiting = self.waiting.saturating_sub(1);
        if self.waiting == 0 {
            // Every entry is stale now.
            self.deadlines.clear();
        }
    }

    /// Whether `id` is waiting with exactly this deadline.
    fn waits_until(&self, id: RequestId, deadline: Instant) -> bool {
        matches!(
            self.requests.get(id),
            Some(Tracked { phase: Phase::Waiting { deadline: d, .. }, .. }) if *d == deadline
        )
    }

    /// The earliest deadline still in force, dropping stale entries before it.
    fn next_deadline(&mut self) -> Option<(Instant, RequestId)> {
        while let Some(&(deadline, id)) = self.deadlines.front() {
            if self.waits_until(id, deadline) {
                return Some((deadline, id));
            }
            self.deadlines.pop_front();
        }
        None
    }

    fn fail(&mut self, id: RequestId, failure: Failure) {
        self.settle(
            id,
            Action::Fail {
                request: id,
                failure,
            },
        );
    }

    /// Forgets `id` and queues the action that settles its caller.
    fn settle(&mut self, id: RequestId, action: Action) {
        if let Some(tracked) = self.requests.remove(id) {
            if let Phase::Waiting { .. } = tracked.phase {
                self.stopped_waiting();
            }
            self.actions.push_back(action);
        }
    }

    fn notify(&mut self, notice: Notice) {
        self.actions.push_back(Action::Notify(notice));
    }

    /// The app logged out. The session ends at once, without a refresh:
    /// every waiter fails with [`Failure::LoggedOut`], later 401s fail the
    /// same way and start no refresh, until
    /// [`Coordinator::credential_changed`] reports a new login. Answers to
    /// requests already on the wire still reach their callers.
    ///
    /// A refresh on the wire is not cancelled (it may rotate the token, and
    /// the host sends its logout request after it, with the newest
    /// credential); it holds nobody back, and its refusal ends nothing more.
    /// Logging out again changes nothing and tells nobody.
    pub fn log_out(&mut self) {
        self.log_out_here(false);
    }

    /// Logs this tab out; `remote` when another tab did and told this one,
    /// which is then not told back.
    fn log_out_here(&mut self, remote: bool) {
        if self.session == Session::LoggedOut {
            return;
        }
        self.session = Session::LoggedOut;
        self.inherited_landing = None;
        if self.shared.enabled && !remote {
            self.publish(self.shared.seen, SharedSession::LoggedOut);
        }
        // A refresh on the wire may rotate the token: its rotation still
        // counts (the host stores it, and the logout revokes it), though
        // nobody waits for it any more.
        if let Flight::Refreshing { refresh, sent, .. } = self.flight {
            self.unanswered.push((refresh, sent));
        }
        self.wind_down_flight_keeping_unanswered();
        self.fail_waiters(Failure::LoggedOut);
        self.notify(Notice::LoggedOut);
    }

    /// The session just ended (refused, or ended elsewhere): the flight
    /// stops holding anyone; a probe on the wire is left to finish, a
    /// refresh on the wire is forgotten.
    fn wind_down_flight(&mut self) {
        self.wind_down_flight_keeping_unanswered();
        // A refresh still out refreshed the credential that is now dead, or
        // (reported from elsewhere) a session that is over: its outcome no
        // longer counts; after a new login, a 401 starts afresh.
        self.unanswered.clear();
    }

    /// [`Coordinator::wind_down_flight`], leaving the unanswered refreshes
    /// (a logout's host still wants their rotations, to revoke them).
    fn wind_down_flight_keeping_unanswered(&mut self) {
        if let Flight::Probing { probe, .. } = self.flight {
            // On the wire already: let its answer decide (a 401 now fails
            // through the ended session).
            self.set_phase(
                probe,
                Phase::Sent {
                    generation: self.generation,
                    replay: true,
                },
            );
        }
        // Nobody waits for the flight any more, and it holds no lock.
        self.flight = Flight::Idle;
        self.let_go_of_lock();
    }
}
