//! Where users, outstanding tokens and blacklisted tokens live: the
//! [`TokenStore`] trait, and its SQLite implementation.
//!
//! The model follows SimpleJWT's `token_blacklist` app: every refresh token
//! issued is an outstanding token, and blacklisting adds a row pointing at
//! it. Two columns go beyond it: a token's `family` (the jti of the login
//! that started its chain, for the record) and, on a blacklist row, the
//! `successor` a rotation issued, which the grace window hands out again and
//! reuse detection follows to the live head of the chain.

mod oauth;
mod postgres;
mod sqlite;
mod sqlite_oauth;

use std::fmt;
use std::time::Duration;

use crate::clock::Timestamp;

pub use oauth::{
    OAuthAccess, OAuthCounts, OAuthFlushReport, OAuthIssue, OAuthPair, OAuthRefreshState,
    OAuthRotation, OAuthRotationOutcome,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A user, as dj-rest-auth's `UserDetailsSerializer` shows one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The integer primary key.
    pub pk: i64,
    /// A UUID that is not the primary key, for `--user-id-field uuid`.
    pub uuid: String,
    /// The login name.
    pub username: String,
    /// Always empty for users made with `--user`.
    pub email: String,
    /// Always empty for users made with `--user`.
    pub first_name: String,
    /// Always empty for users made with `--user`.
    pub last_name: String,
    /// Inactive users cannot log in or refresh.
    pub is_active: bool,
    /// The salted hash from [`crate::password`].
    pub password_hash: String,
}

/// A refresh token the store knows was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutstandingToken {
    /// The token's `jti`.
    pub jti: String,
    /// The owner's primary key; `None` once the user is deleted (SimpleJWT's
    /// `on_delete=SET_NULL`).
    pub user_pk: Option<i64>,
    /// The jti of the login token that started this chain.
    pub family: String,
    /// The encoded token, so a grace-window reuse can hand out the same one.
    pub token: String,
    /// Issue time, whole seconds.
    pub created_at: i64,
    /// The token's `exp`, whole seconds.
    pub expires_at: i64,
}

/// One refresh token consumed for a successor, in a single transaction.
#[derive(Debug, Clone)]
pub struct Rotation<'a> {
    /// The token presented. Recorded as outstanding first if it is not yet.
    pub presented: &'a OutstandingToken,
    /// The token to issue when the presented one is still unused. Its
    /// `family` is ignored: it inherits the presented token's family.
    pub successor: &'a OutstandingToken,
    /// The time of the rotation.
    pub now: Timestamp,
    /// Within this time after its rotation, the immediately previous token
    /// gets its successor again.
    pub grace: Option<Duration>,
    /// Reuse of a rotated token outside the grace window revokes the family.
    pub reuse_detection: bool,
}

/// What a [`Rotation`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotationOutcome {
    /// The presented token is now blacklisted and the successor outstanding.
    Rotated,
    /// The presented token was rotated within the grace window and its
    /// successor is still current: here is that successor again.
    GraceReuse {
        /// The successor token, as first issued.
        token: String,
        /// Its `exp`.
        expires_at: i64,
    },
    /// The presented token is blacklisted; nothing changed.
    Blacklisted,
    /// The presented token had been rotated and was used again outside the
    /// grace window: its family is revoked (the live head of its chain is
    /// now blacklisted; the rest already was).
    ReuseDetected {
        /// How many tokens this blacklisted (not counting ones already on it).
        revoked: usize,
    },
}

/// What `flush-expired-tokens` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushReport {
    /// Outstanding tokens past their `exp`.
    pub outstanding: usize,
    /// Blacklist rows that pointed at them.
    pub blacklisted: usize,
}

/// Row counts, for tests and for the flush command's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreCounts {
    /// Outstanding tokens.
    pub outstanding: usize,
    /// Blacklisted tokens.
    pub blacklisted: usize,
    /// Blacklist rows whose outstanding token is gone (must stay 0).
    pub orphans: usize,
}

/// A failure of the storage itself, never of the request.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused or failed.
    Sqlite(rusqlite::Error),
    /// The operating system gave no randomness for a new UUID.
    Randomness(String),
    /// The checkpoint thread (or the PostgreSQL I/O runtime) could not be
    /// started.
    Thread(String),
    /// PostgreSQL refused or failed.
    Postgres(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(e) => write!(f, "sqlite: {e}"),
            Self::Randomness(e) => write!(f, "no randomness: {e}"),
            Self::Thread(e) => write!(f, "cannot start a store thread: {e}"),
            Self::Postgres(e) => write!(f, "postgres: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

/// Storage for users and tokens.
///
/// Calls are synchronous and short; the backend makes them from request
/// handlers without moving to a blocking thread, because each is a handful
/// of indexed queries on a local database.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// Creates the user, or resets the password of the existing one.
    ///
    /// # Errors
    /// On a storage failure.
    fn upsert_user(&self, username: &str, password_hash: &str) -> Result<User, StoreError>;

    /// The user with this login name.
    ///
    /// # Errors
    /// On a storage failure.
    fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// The user with this primary key.
    ///
    /// # Errors
    /// On a storage failure.
    fn user_by_pk(&self, pk: i64) -> Result<Option<User>, StoreError>;

    /// The user with this UUID (canonical lowercase, hyphenated).
    ///
    /// # Errors
    /// On a storage failure.
    fn user_by_uuid(&self, uuid: &str) -> Result<Option<User>, StoreError>;

    /// Deletes a user; their outstanding tokens stay, with no owner.
    /// Returns whether there was such a user.
    ///
    /// # Errors
    /// On a storage failure.
    fn delete_user(&self, username: &str) -> Result<bool, StoreError>;

    /// Records an issued refresh token.
    ///
    /// # Errors
    /// On a storage failure.
    fn outstand(&self, token: &OutstandingToken) -> Result<(), StoreError>;

    /// Whether the token with this jti is blacklisted.
    ///
    /// # Errors
    /// On a storage failure.
    fn is_blacklisted(&self, jti: &str) -> Result<bool, StoreError>;

    /// Blacklists a token, recording it as outstanding first if needed
    /// (SimpleJWT's two `get_or_create`s). Blacklisting twice is not an
    /// error. Returns the token's family.
    ///
    /// # Errors
    /// On a storage failure.
    fn blacklist(&self, token: &OutstandingToken, now: Timestamp) -> Result<String, StoreError>;

    /// SimpleJWT's rotation without its check: blacklists the presented
    /// token when asked, then records the successor (in the presented
    /// token's family), in one transaction. Nothing stops two callers that
    /// both passed [`TokenStore::is_blacklisted`] from both recording a
    /// successor: that is SimpleJWT's fork, kept on purpose.
    ///
    /// # Errors
    /// On a storage failure; the transaction is then rolled back.
    fn record_rotation(
        &self,
        presented: &OutstandingToken,
        successor: &OutstandingToken,
        now: Timestamp,
        blacklist_presented: bool,
    ) -> Result<(), StoreError>;

    /// Consumes a refresh token for its successor in one transaction.
    ///
    /// # Errors
    /// On a storage failure; the transaction is then rolled back.
    fn rotate(&self, rotation: &Rotation<'_>) -> Result<RotationOutcome, StoreError>;

    /// Deletes outstanding tokens whose `exp` is at or before `now`, with
    /// their blacklist rows.
    ///
    /// # Errors
    /// On a storage failure; nothing is deleted then.
    fn flush_expired(&self, now: Timestamp) -> Result<FlushReport, StoreError>;

    /// Row counts.
    ///
    /// # Errors
    /// On a storage failure.
    fn counts(&self) -> Result<StoreCounts, StoreError>;

    /// Records the pair a password grant issued, as a new family.
    ///
    /// # Errors
    /// On a storage failure.
    fn oauth_issue(&self, issue: &OAuthIssue<'_>) -> Result<(), StoreError>;

    /// An opaque refresh token as the refresh grant checks it first.
    ///
    /// # Errors
    /// On a storage failure.
    fn oauth_refresh_state(&self, token: &str) -> Result<Option<OAuthRefreshState>, StoreError>;

    /// Exchanges an opaque refresh token in one transaction.
    ///
    /// # Errors
    /// On a storage failure; the transaction is then rolled back.
    fn oauth_rotate(
        &self,
        rotation: &OAuthRotation<'_>,
    ) -> Result<OAuthRotationOutcome, StoreError>;

    /// An opaque access token, if it exists (expired or not).
    ///
    /// # Errors
    /// On a storage failure.
    fn oauth_access(&self, token: &str) -> Result<Option<OAuthAccess>, StoreError>;

    /// DOT's `cleartokens`, with `refresh_lifetime` as its
    /// `REFRESH_TOKEN_EXPIRE_SECONDS`.
    ///
    /// # Errors
    /// On a storage failure; nothing is deleted then.
    fn oauth_flush(
        &self,
        now: Timestamp,
        refresh_lifetime: Option<Duration>,
    ) -> Result<OAuthFlushReport, StoreError>;

    /// Row counts of the OAuth tables.
    ///
    /// # Errors
    /// On a storage failure.
    fn oauth_counts(&self) -> Result<OAuthCounts, StoreError>;
}
