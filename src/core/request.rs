//! The coordinator's record of one request it is responsible for.

use super::generation::Generation;
use super::time::Instant;

/// Identifies a request for as long as the coordinator tracks it.
///
/// Ids are handed out in increasing order, so sorting by id is sorting by the
/// order the app issued its requests, which is the order replays go out in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(u64);

impl RequestId {
    pub(crate) const fn new(number: u64) -> Self {
        Self(number)
    }

    /// The id's number, unique within one coordinator.
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// A request between `issue` and its settlement.
#[derive(Debug, Clone)]
pub(crate) struct Tracked {
    /// Whether the body can be sent again. Fixed at issue.
    pub(crate) replayable: bool,
    /// A replay of it was answered 401 because its credential had expired
    /// (not refused while fresh), and it waited for the next refresh. With
    /// the credential's lifetime unknown, that happens once per request.
    pub(crate) outlived_once: bool,
    pub(crate) phase: Phase,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Phase {
    /// On the wire with the credential of `generation`. `replay` is true when
    /// this send is a replay, so a 401 to it is returned to the caller rather
    /// than refreshed again.
    Sent {
        generation: Generation,
        replay: bool,
    },
    /// Held until the refresh finishes. `sent_with` is the generation of the
    /// request's last send (it got a 401), or `None` if it was queued on
    /// issue (issued while a refresh was in flight); a request that went out
    /// before is replayed, one that did not is sent for the first time.
    /// `deadline` bounds the wait.
    Waiting {
        sent_with: Option<Generation>,
        deadline: Instant,
    },
    /// Sent as the probe after a refresh whose answer was lost, to learn
    /// whether the rotated credential landed. Keeps its waiting deadline for
    /// when it has to wait again.
    Probing { deadline: Instant },
}
