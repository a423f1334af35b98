//! What a coordinator shares with the other tabs (and workers) of the
//! browser: the browser-wide credential generation, the state of the
//! session as the last tab to change it left it, and the one lock under
//! which a refresh runs. The host keeps the shared state in storage and
//! carries it in messages; this is the coordinator's side of it.

/// The session as stored and announced for every tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedSession {
    /// Logged in: a refresh or a login brought the credential.
    Active,
    /// A refresh was refused: every tab's session is over.
    Ended,
    /// The app logged out: every tab's session is over, no expiry.
    LoggedOut,
}

/// This tab's side of the browser-wide lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Lock {
    /// Neither asked for nor held.
    #[default]
    Free,
    /// Asked for; the host has not granted it yet.
    Requested,
    /// Granted; held for one refresh request and its bookkeeping.
    Held,
}

/// The browser-wide generation this tab's credential belongs to, and the
/// lock. Disabled (one flight per tab) where the host has no Web Locks or
/// the credential is not shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Shared {
    /// Whether tabs share one flight.
    pub(crate) enabled: bool,
    /// The browser-wide generation of this tab's credential. Moves forward
    /// only: with this tab's own rotations and logins, and when it adopts a
    /// newer one another tab published.
    pub(crate) seen: u64,
    pub(crate) lock: Lock,
}

impl Shared {
    /// Asks for the lock unless it is asked for or held already. True when
    /// the host must be told to request it.
    pub(crate) fn request(&mut self) -> bool {
        if self.lock == Lock::Free {
            self.lock = Lock::Requested;
            true
        } else {
            false
        }
    }

    /// The next browser-wide generation, taken by a rotation or a login of
    /// this tab.
    pub(crate) fn advance(&mut self) -> u64 {
        self.seen = self.seen.saturating_add(1);
        self.seen
    }
}
