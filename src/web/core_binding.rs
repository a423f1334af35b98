//! `Core`: the state machine as the JavaScript web layer drives it.
//!
//! Everything crosses the boundary as numbers: times in milliseconds of
//! `performance.now()`, request and refresh ids, small codes. The JS side
//! (`coordinator.js`) owns every JS object (requests, responses, signals,
//! timers) and asks this side what to do with them. Keeping the wasm free of
//! JS object handling is what keeps it small: the state machine alone is a
//! fraction of what binding each browser API through wasm-bindgen costs.
//!
//! Actions are read one at a time: [`Core::next_action`] returns its kind
//! and loads its operands into [`Core::action_id`] and
//! [`Core::action_detail`].

use wasm_bindgen::prelude::*;

use alloc::string::String;

use crate::core::{
    Action, Answer, Config, Coordinator, Duration, Failure, GrantError, Instant, Notice,
    RefreshOutcome, RequestId, RequestPolicy, Route, Session, SharedSession, Unavailability,
};

/// What [`Core::next_action`] returns. The numbers are part of the contract
/// with `coordinator.js`, which names them the same.
pub mod kind {
    /// No action pending.
    pub const NONE: u32 = 0;
    /// Send request `id` (detail 1: as a replay).
    pub const SEND: u32 = 1;
    /// Send waiting request `id` as a probe.
    pub const PROBE: u32 = 2;
    /// Settle request `id` with its last answer.
    pub const DELIVER: u32 = 3;
    /// Reject request `id`; detail is a [`failure`](super::failure) code,
    /// plus the HTTP status times 16 for an unavailability by status.
    pub const FAIL: u32 = 4;
    /// Send refresh `id` (its number); detail is the attempt.
    pub const START_REFRESH: u32 = 5;
    /// Event: refresh attempt `detail` started (`id` 1: ahead of expiry).
    pub const REFRESH_STARTED: u32 = 6;
    /// Event: refreshed, generation `id` is current.
    pub const REFRESH_SUCCEEDED: u32 = 7;
    /// Event: a refresh attempt failed; detail is a failure code (an
    /// unavailability), plus status × 16, plus 8 when a retry follows.
    pub const REFRESH_FAILED: u32 = 8;
    /// Event: request `id` was replayed.
    pub const REPLAYED: u32 = 9;
    /// Event: the session ended (detail 1: reported by another context).
    pub const SESSION_EXPIRED: u32 = 10;
    /// Event: the app logged out.
    pub const LOGGED_OUT: u32 = 11;
    /// Request the browser-wide refresh lock.
    pub const ACQUIRE_LOCK: u32 = 12;
    /// Withdraw the lock request.
    pub const CANCEL_LOCK: u32 = 13;
    /// Release the lock.
    pub const RELEASE_LOCK: u32 = 14;
    /// Store the shared state: generation `id`, [`shared`](super::shared)
    /// session `detail`, the credential's expiry in `actionTime` (negative
    /// when unknown).
    pub const PERSIST: u32 = 15;
    /// Tell the other tabs: generation `id`, session `detail`, expiry
    /// `actionTime`.
    pub const ANNOUNCE: u32 = 16;
    /// Event: another tab's rotation or login was adopted; generation `id` is current.
    pub const ADOPTED: u32 = 17;
    /// Event: a refresh did not rotate and the session stays, no retry
    /// (`id` 1: it was ahead of expiry); detail as `REFRESH_FAILED`'s
    /// without the retry bit, or 0 when the server refused it.
    pub const SESSION_KEPT: u32 = 18;
}

/// Shared session codes, in `PERSIST` and `ANNOUNCE` details and for
/// [`Core::shared_state`] and [`Core::lock_granted`].
pub mod shared {
    pub const ACTIVE: u32 = 0;
    pub const ENDED: u32 = 1;
    pub const LOGGED_OUT: u32 = 2;
}

/// Failure codes in an action's detail (low three bits).
pub mod failure {
    pub const SESSION_EXPIRED: u32 = 1;
    pub const REPLAY_NOT_POSSIBLE: u32 = 2;
    pub const TIMEOUT: u32 = 3;
    pub const NETWORK: u32 = 4;
    pub const STATUS: u32 = 5;
    pub const RETRY_AFTER_TOO_LONG: u32 = 6;
    pub const REDIRECTED: u32 = 7;
    /// Only in `FAIL` details, whose bit 3 is free (`REFRESH_FAILED` uses it
    /// for "retrying" and never carries this code).
    pub const LOGGED_OUT: u32 = 8;
}

/// Answer codes for [`Core::answer`].
pub mod answer {
    pub const UNAUTHORIZED: u32 = 1;
    pub const OTHER: u32 = 2;
    pub const FAILED: u32 = 3;
}

/// Refresh outcome codes for [`Core::refresh_ended`].
pub mod outcome {
    pub const ROTATED: u32 = 1;
    pub const REFUSED: u32 = 2;
    pub const UNAVAILABLE: u32 = 3;
    pub const LOST: u32 = 4;
    /// An HTTP answer that is not a success: the core classifies its status.
    pub const STATUS: u32 = 5;
    /// A redirect, not followed.
    pub const REDIRECTED: u32 = 6;
    /// OAuth 2.0 error answers, by their `error` code (the status goes
    /// with them): `invalid_grant`, `invalid_client`,
    /// `temporarily_unavailable`, and any other code.
    pub const INVALID_GRANT: u32 = 7;
    pub const INVALID_CLIENT: u32 = 8;
    pub const TEMPORARILY_UNAVAILABLE: u32 = 9;
    pub const OTHER_GRANT_ERROR: u32 = 10;
}

/// Route codes of [`Core::route`].
pub mod route {
    pub const COORDINATED: u32 = 1;
    pub const OPTED_OUT: u32 = 2;
    pub const EXCLUDED: u32 = 3;
    pub const FOREIGN: u32 = 4;
}

/// The coordinator core of one `createAuthFetch`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Core {
    core: Coordinator,
    policy: RequestPolicy,
    action_id: f64,
    action_detail: u32,
    action_time: f64,
    #[cfg(feature = "fault-injection")]
    fault: bool,
}

#[wasm_bindgen]
impl Core {
    /// A core with these settings (milliseconds; see `Config`) and a seed
    /// for the backoff jitter.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        max_retries: u32,
        backoff_base: f64,
        backoff_max: f64,
        max_retry_after: f64,
        refresh_timeout: f64,
        waiter_timeout: f64,
        probe_after_lost_answer: bool,
        seed: f64,
    ) -> Core {
        let config = Config {
            max_retries,
            backoff_base: millis(backoff_base),
            backoff_max: millis(backoff_max),
            max_retry_after: millis(max_retry_after),
            refresh_timeout: millis(refresh_timeout),
            waiter_timeout: millis(waiter_timeout),
            probe_after_lost_answer,
            // A holder holds the lock for one refresh, at most this long.
            lock_timeout: millis(refresh_timeout),
            ..Config::default()
        };
        Core {
            core: Coordinator::new(config, seed as u64),
            policy: RequestPolicy::default(),
            action_id: 0.0,
            action_detail: 0,
            action_time: -1.0,
            #[cfg(feature = "fault-injection")]
            fault: false,
        }
    }

    /// Credentials and refresh handling for this origin
    /// (`https://api.example.com`).
    pub fn allow(&mut self, origin: String) {
        self.policy.allow(origin);
    }

    /// No refresh handling for URLs starting with `prefix` (a path, or an
    /// absolute URL).
    pub fn exclude(&mut self, prefix: String) {
        self.policy.exclude(prefix);
    }

    /// How to treat a request to the absolute `url`: a [`route`] code.
    pub fn route(&self, url: &str, opted_out: bool) -> u32 {
        match self.policy.route(url, opted_out) {
            Route::Coordinated => route::COORDINATED,
            Route::OptedOut => route::OPTED_OUT,
            Route::Excluded => route::EXCLUDED,
            Route::Foreign => route::FOREIGN,
        }
    }

    /// A coordinated request was issued; returns its id.
    pub fn issue(&mut self, now: f64, replayable: bool) -> f64 {
        self.check_fault();
        id_out(self.core.issue(instant(now), replayable).get())
    }

    /// Request `id` got an answer (an [`answer`] code).
    pub fn answer(&mut self, now: f64, id: f64, answer: u32) {
        self.check_fault();
        let answer = match answer {
            answer::UNAUTHORIZED => Answer::Unauthorized,
            answer::OTHER => Answer::Other,
            _ => Answer::Failed,
        };
        self.core.on_answer(instant(now), request(id), answer);
    }

    /// Refresh number `refresh` ended with an [`outcome`] code; `status`
    /// and `retry_after` (ms, negative for none) go with an unavailability,
    /// `lifetime` (ms the new credential lives at least, counted from when
    /// the refresh was sent; negative when the answer did not say) with a
    /// rotation.
    #[wasm_bindgen(js_name = refreshEnded)]
    pub fn refresh_ended(
        &mut self,
        now: f64,
        refresh: f64,
        outcome: u32,
        status: u16,
        retry_after: f64,
        lifetime: f64,
    ) {
        self.check_fault();
        let Some(id) = self.core.refresh_numbered(number(refresh)) else {
            return;
        };
        let retry_after = millis_if_any(retry_after);
        let outcome = match outcome {
            outcome::STATUS => RefreshOutcome::from_status(status, retry_after),
            outcome::INVALID_GRANT
            | outcome::INVALID_CLIENT
            | outcome::TEMPORARILY_UNAVAILABLE
            | outcome::OTHER_GRANT_ERROR => RefreshOutcome::from_grant_error(
                status,
                match outcome {
                    outcome::INVALID_GRANT => GrantError::InvalidGrant,
                    outcome::INVALID_CLIENT => GrantError::InvalidClient,
                    outcome::TEMPORARILY_UNAVAILABLE => GrantError::TemporarilyUnavailable,
                    _ => GrantError::Other,
                },
                retry_after,
            ),
            outcome::ROTATED => RefreshOutcome::Rotated {
                lifetime: millis_if_any(lifetime),
            },
            outcome::REFUSED => RefreshOutcome::Refused,
            outcome::REDIRECTED => RefreshOutcome::Redirected,
            outcome::UNAVAILABLE => RefreshOutcome::Unavailable {
                status,
                retry_after,
            },
            _ => RefreshOutcome::Lost,
        };
        self.core.on_refresh_outcome(instant(now), id, outcome);
    }

    /// A refusal may wait `window` ms to be confirmed (see
    /// `Coordinator::confirm_refusals_for`).
    #[wasm_bindgen(js_name = confirmRefusalsFor)]
    pub fn confirm_refusals_for(&mut self, window: f64) {
        self.core.confirm_refusals_for(millis(window));
    }

    /// Share one flight with the other tabs; `generation` is the stored
    /// browser-wide generation now (see `Coordinator::share_across_tabs`).
    #[wasm_bindgen(js_name = shareAcrossTabs)]
    pub fn share_across_tabs(&mut self, generation: f64) {
        self.core.share_across_tabs(number(generation));
    }

    /// The stored shared state changed (another tab's message, a storage
    /// event): generation and a [`shared`] session code.
    #[wasm_bindgen(js_name = sharedState)]
    pub fn shared_state(&mut self, generation: f64, session: u32) {
        self.check_fault();
        self.core
            .shared_state(number(generation), shared_session(session));
    }

    /// The stored shared state of `generation` says its credential expires
    /// at `expires` (ms of this page's `performance.now()`).
    #[wasm_bindgen(js_name = sharedExpiry)]
    pub fn shared_expiry(&mut self, now: f64, generation: f64, expires: f64) {
        self.check_fault();
        self.core
            .shared_expiry(instant(now), number(generation), instant(expires));
    }

    /// Refresh ahead of a known expiry from `margin` ms before it; negative
    /// for refreshing only after a 401 (see `Config::refresh_margin`).
    #[wasm_bindgen(js_name = refreshAheadBy)]
    pub fn refresh_ahead_by(&mut self, margin: f64) {
        self.core.refresh_ahead_by(millis_if_any(margin));
    }

    /// The page became visible (or hidden): only a visible page refreshes
    /// ahead of expiry on a timer.
    #[wasm_bindgen(js_name = setVisible)]
    pub fn set_visible(&mut self, visible: bool) {
        self.core.set_visible(visible);
    }

    /// The lock was granted; the shared state read right after it.
    #[wasm_bindgen(js_name = lockGranted)]
    pub fn lock_granted(&mut self, now: f64, generation: f64, session: u32) {
        self.check_fault();
        self.core
            .lock_granted(instant(now), number(generation), shared_session(session));
    }

    /// Whether refresh number `refresh`'s outcome still counts: it is the
    /// one on the wire, or one left unanswered whose rotation would still be
    /// adopted. A bearer host stores a rotation's tokens only if it does.
    #[wasm_bindgen(js_name = refreshCounts)]
    pub fn refresh_counts(&self, refresh: f64) -> bool {
        self.core.refresh_numbered(number(refresh)).is_some()
    }

    /// Time passed; fires whatever deadline is due.
    pub fn tick(&mut self, now: f64) {
        self.check_fault();
        self.core.on_timeout(instant(now));
    }

    /// The caller of `id` aborted; true if it was still tracked.
    pub fn abort(&mut self, now: f64, id: f64) -> bool {
        self.check_fault();
        self.core.abort(instant(now), request(id))
    }

    /// The credential changed (login, new tokens, another tab rotated).
    #[wasm_bindgen(js_name = credentialChanged)]
    pub fn credential_changed(&mut self) {
        self.check_fault();
        self.core.credential_changed();
    }

    /// Another browsing context saw the session end.
    #[wasm_bindgen(js_name = sessionEndedElsewhere)]
    pub fn session_ended_elsewhere(&mut self) {
        self.check_fault();
        self.core.session_ended_elsewhere();
    }

    /// A refresh sent by a previous load of the page may land until `until`.
    #[wasm_bindgen(js_name = refreshMayBeLanding)]
    pub fn refresh_may_be_landing(&mut self, until: f64) {
        self.core.refresh_may_be_landing(instant(until));
    }

    /// The next action's [`kind`], loading its operands; `NONE` when done.
    #[wasm_bindgen(js_name = nextAction)]
    pub fn next_action(&mut self) -> u32 {
        self.check_fault();
        let Some(action) = self.core.poll_action() else {
            return kind::NONE;
        };
        self.action_time = -1.0;
        let (kind, id, detail) = match action {
            Action::Send { request, replay } => (kind::SEND, request.get(), u32::from(replay)),
            Action::Probe { request } => (kind::PROBE, request.get(), 0),
            Action::Deliver { request } => (kind::DELIVER, request.get(), 0),
            Action::Fail { request, failure } => (kind::FAIL, request.get(), failure_code(failure)),
            Action::StartRefresh { refresh } => {
                (kind::START_REFRESH, refresh.number(), refresh.attempt())
            }
            Action::AcquireLock => (kind::ACQUIRE_LOCK, 0, 0),
            Action::CancelLock => (kind::CANCEL_LOCK, 0, 0),
            Action::ReleaseLock => (kind::RELEASE_LOCK, 0, 0),
            Action::Persist {
                generation,
                session,
                expires,
            } => {
                self.action_time = time_out(expires);
                (kind::PERSIST, generation, shared_code(session))
            }
            Action::Announce {
                generation,
                session,
                expires,
            } => {
                self.action_time = time_out(expires);
                (kind::ANNOUNCE, generation, shared_code(session))
            }
            Action::Notify(notice) => match notice {
                Notice::RefreshStarted { attempt, ahead } => {
                    (kind::REFRESH_STARTED, u64::from(ahead), attempt)
                }
                Notice::RefreshSucceeded { generation } => {
                    (kind::REFRESH_SUCCEEDED, generation.get(), 0)
                }
                Notice::RefreshFailed { cause, retrying } => (
                    kind::REFRESH_FAILED,
                    0,
                    unavailability_code(cause) | (u32::from(retrying) << 3),
                ),
                Notice::Replayed { request } => (kind::REPLAYED, request.get(), 0),
                Notice::SessionExpired { remote } => (kind::SESSION_EXPIRED, 0, u32::from(remote)),
                Notice::LoggedOut => (kind::LOGGED_OUT, 0, 0),
                Notice::Adopted { generation } => (kind::ADOPTED, generation.get(), 0),
                Notice::SessionKept { cause, ahead } => (
                    kind::SESSION_KEPT,
                    u64::from(ahead),
                    cause.map_or(0, unavailability_code),
                ),
            },
        };
        self.action_id = id_out(id);
        self.action_detail = detail;
        kind
    }

    /// The id operand of the last action.
    #[wasm_bindgen(getter, js_name = actionId)]
    pub fn action_id(&self) -> f64 {
        self.action_id
    }

    /// The time operand of the last action (ms of `performance.now()`),
    /// negative for none.
    #[wasm_bindgen(getter, js_name = actionTime)]
    pub fn action_time(&self) -> f64 {
        self.action_time
    }

    /// The detail operand of the last action.
    #[wasm_bindgen(getter, js_name = actionDetail)]
    pub fn action_detail(&self) -> u32 {
        self.action_detail
    }

    /// When `tick` next has something to do; negative for never.
    #[wasm_bindgen(js_name = nextTimeout)]
    pub fn next_timeout(&self) -> f64 {
        self.core
            .poll_timeout()
            .map_or(-1.0, |at| at.as_millis() as f64)
    }

    /// The current credential generation.
    #[wasm_bindgen(getter)]
    pub fn generation(&self) -> f64 {
        id_out(self.core.generation().get())
    }

    /// Whether the session has ended.
    #[wasm_bindgen(getter)]
    pub fn ended(&self) -> bool {
        self.core.session() == Session::Ended
    }

    /// Whether a refresh is in flight.
    #[wasm_bindgen(getter)]
    pub fn refreshing(&self) -> bool {
        self.core.is_refreshing()
    }

    /// How many requests wait for the flight.
    #[wasm_bindgen(getter)]
    pub fn waiting(&self) -> u32 {
        u32::try_from(self.core.waiting()).unwrap_or(u32::MAX)
    }

    /// The app logged out: the session ends without a refresh.
    #[wasm_bindgen(js_name = logOut)]
    pub fn log_out(&mut self) {
        self.check_fault();
        self.core.log_out();
    }

    /// Whether the app logged out (and has not logged in since).
    #[wasm_bindgen(getter, js_name = loggedOut)]
    pub fn logged_out(&self) -> bool {
        self.core.session() == Session::LoggedOut
    }

    /// Test hook (feature `fault-injection`, never in a shipped build): the
    /// next call panics, as a bug would.
    #[cfg(feature = "fault-injection")]
    #[wasm_bindgen(js_name = injectFault)]
    pub fn inject_fault(&mut self) {
        self.fault = true;
    }
}

impl Core {
    #[cfg(feature = "fault-injection")]
    #[allow(clippy::panic)]
    fn check_fault(&self) {
        if self.fault {
            panic!("fault injected by the test");
        }
    }

    #[cfg(not(feature = "fault-injection"))]
    fn check_fault(&self) {}
}

fn shared_session(code: u32) -> SharedSession {
    match code {
        shared::ENDED => SharedSession::Ended,
        shared::LOGGED_OUT => SharedSession::LoggedOut,
        _ => SharedSession::Active,
    }
}

fn shared_code(session: SharedSession) -> u32 {
    match session {
        SharedSession::Active => shared::ACTIVE,
        SharedSession::Ended => shared::ENDED,
        SharedSession::LoggedOut => shared::LOGGED_OUT,
    }
}

fn failure_code(failure: Failure) -> u32 {
    match failure {
        Failure::SessionExpired => failure::SESSION_EXPIRED,
        Failure::ReplayNotPossible => failure::REPLAY_NOT_POSSIBLE,
        Failure::LoggedOut => failure::LOGGED_OUT,
        Failure::RefreshUnavailable(cause) => unavailability_code(cause),
    }
}

/// The failure code of an unavailability, with a status in the bits above.
fn unavailability_code(cause: Unavailability) -> u32 {
    match cause {
        Unavailability::Timeout => failure::TIMEOUT,
        Unavailability::Network => failure::NETWORK,
        Unavailability::Status(status) => failure::STATUS | (u32::from(status) << 4),
        Unavailability::RetryAfterTooLong => failure::RETRY_AFTER_TOO_LONG,
        Unavailability::Redirected => failure::REDIRECTED,
    }
}

/// Milliseconds from JS: negative or NaN is zero, fractions are dropped.
fn millis(ms: f64) -> Duration {
    Duration::from_millis(number(ms))
}

/// Milliseconds from JS where a negative number (or NaN) means none.
fn millis_if_any(ms: f64) -> Option<Duration> {
    (ms >= 0.0).then(|| millis(ms))
}

fn instant(ms: f64) -> Instant {
    Instant::from_millis(number(ms))
}

fn request(id: f64) -> RequestId {
    RequestId::new(number(id))
}

/// An id or number from JS: negative or NaN is zero, fractions are dropped
/// (what `as` does from a float: it saturates).
fn number(n: f64) -> u64 {
    n as u64
}

/// Ids and generations stay far below 2^53, where f64 is exact.
fn id_out(id: u64) -> f64 {
    id as f64
}

/// An instant for JS, negative for none.
fn time_out(at: Option<Instant>) -> f64 {
    at.map_or(-1.0, |at| at.as_millis() as f64)
}
