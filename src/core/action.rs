//! What the core asks its host to do, and what it reports.

use super::generation::Generation;
use super::outcome::{Failure, Unavailability};
use super::request::RequestId;
use super::shared::SharedSession;
use super::time::Instant;

/// One thing for the host (the web layer, or a test) to do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send the request with the current credential. `replay` is true when it
    /// went out before and this is its replay after a refresh.
    Send { request: RequestId, replay: bool },
    /// Settle the request with what its last send produced (a response, or
    /// the network error). The coordinator has forgotten it.
    Deliver { request: RequestId },
    /// Send this waiting request, with the current credential, as a probe:
    /// the last refresh got no answer, and the probe's answer tells whether
    /// the rotated credential landed anyway (see
    /// [`Config::probe_after_lost_answer`](crate::core::Config)). Report its
    /// answer like any other.
    Probe { request: RequestId },
    /// Reject the request with this failure. The coordinator has forgotten it.
    Fail {
        request: RequestId,
        failure: Failure,
    },
    /// Send refresh attempt `refresh`, and report its outcome with the same id.
    StartRefresh { refresh: RefreshId },
    /// Tell the app (events, callbacks, other tabs).
    Notify(Notice),
    /// Request the browser-wide refresh lock; report its grant with
    /// [`Coordinator::lock_granted`](crate::core::Coordinator::lock_granted).
    AcquireLock,
    /// Withdraw the lock request not granted yet (if the grant comes anyway,
    /// the coordinator releases it at once).
    CancelLock,
    /// Release the lock this coordinator holds.
    ReleaseLock,
    /// Store the browser-wide state for every tab (never replacing a newer
    /// generation with an older one). Comes before the lock is released.
    Persist {
        generation: u64,
        session: SharedSession,
        /// When the credential of an active session expires, if known (see
        /// [`Coordinator::shared_expiry`](crate::core::Coordinator::shared_expiry)).
        expires: Option<Instant>,
    },
    /// Tell the other tabs the stored state changed (a hint: receivers
    /// re-read what is stored). Comes after the lock is released.
    Announce {
        generation: u64,
        session: SharedSession,
        expires: Option<Instant>,
    },
}

/// Identifies one refresh attempt, so a late outcome of an attempt the core
/// no longer waits for is recognised and used or ignored deliberately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RefreshId {
    number: u64,
    attempt: u32,
}

impl RefreshId {
    pub(crate) const fn new(number: u64, attempt: u32) -> Self {
        Self { number, attempt }
    }

    /// Unique among the refreshes of one coordinator.
    pub const fn number(self) -> u64 {
        self.number
    }

    /// Which attempt of its flight this is: 1 for the first, 2 for the first
    /// retry, and so on.
    pub const fn attempt(self) -> u32 {
        self.attempt
    }
}

/// Something the app may want to know. Notices never change the outcome of a
/// request; they are for events, logs and other tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// A refresh attempt was sent; `ahead` of the credential's known
    /// expiry, before any 401 (rule 8), or after one.
    RefreshStarted { attempt: u32, ahead: bool },
    /// The credential is fresh: a refresh succeeded (here, or confirmed by a
    /// probe), and `generation` is current now.
    RefreshSucceeded { generation: Generation },
    /// A refresh attempt failed. `retrying` tells whether another attempt
    /// follows; if not, the waiters were rejected with `cause`.
    RefreshFailed {
        cause: Unavailability,
        retrying: bool,
    },
    /// A refresh did not rotate (`cause`, or `None` when the server
    /// refused it), and the session stays without a retry: it was sent
    /// `ahead` of expiry and the credential still works; or the refusal has
    /// nobody waiting to confirm it with (the next 401 will); or another
    /// tab's newer credential was adopted while it was out.
    SessionKept {
        cause: Option<Unavailability>,
        ahead: bool,
    },
    /// A request was replayed after a refresh.
    Replayed { request: RequestId },
    /// The session ended. `remote` is true when another browsing context
    /// reported it, so the host does not broadcast it back.
    SessionExpired { remote: bool },
    /// Another tab rotated the credential (or logged in), and this tab took
    /// its result instead of refreshing: `generation` is current now.
    Adopted { generation: Generation },
    /// The app logged out ([`Coordinator::log_out`](crate::core::Coordinator::log_out)).
    LoggedOut,
}
