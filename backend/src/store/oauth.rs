//! What the store keeps for Django OAuth Toolkit's `/o/token/`: opaque
//! access and refresh tokens as DOT's `AccessToken` and `RefreshToken`
//! models hold them, one access token per refresh token, a revoked refresh
//! token kept (with its revocation time) until `cleartokens` removes it.

use std::time::Duration;

use crate::clock::Timestamp;

/// A new access + refresh pair, issued by a password grant (a new family)
/// or by a refresh (the presented token's family).
#[derive(Debug, Clone)]
pub struct OAuthIssue<'a> {
    /// The owner.
    pub user_pk: i64,
    /// The client the pair is bound to.
    pub client_id: &'a str,
    /// Space-separated scopes.
    pub scope: &'a str,
    /// The opaque access token.
    pub access_token: &'a str,
    /// The opaque refresh token.
    pub refresh_token: &'a str,
    /// When the access token expires.
    pub access_expires_at: Timestamp,
}

/// A refresh token as the grant checks it, before any rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthRefreshState {
    /// The owner; `None` once the user is deleted.
    pub user_pk: Option<i64>,
    /// The client it was issued to.
    pub client_id: String,
    /// The scopes originally granted.
    pub scope: String,
    /// When it was used up, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// One refresh of an opaque refresh token, in a single transaction.
#[derive(Debug, Clone)]
pub struct OAuthRotation<'a> {
    /// The refresh token presented.
    pub presented: &'a str,
    /// The pair to issue if the presented token may be used; its
    /// `user_pk` and `scope` are the caller's reading of the presented one.
    pub successor: OAuthIssue<'a>,
    /// The time of the refresh.
    pub now: Timestamp,
    /// DOT's `REFRESH_TOKEN_GRACE_PERIOD_SECONDS`: within this time after its
    /// use, a refresh token gets the same pair again while that pair's
    /// refresh token is unused.
    pub grace: Option<Duration>,
    /// DOT's `REFRESH_TOKEN_REUSE_PROTECTION`: a used refresh token presented
    /// outside the grace window revokes its whole family.
    pub reuse_protection: bool,
    /// Refuse a token that is used up by the time the transaction runs.
    /// Without it (DOT's own behaviour), a token that the caller found
    /// unused but that a concurrent refresh used meanwhile is still
    /// exchanged, and the chain forks.
    pub exclusive: bool,
}

/// An access and refresh pair as the client gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthPair {
    /// The opaque access token.
    pub access_token: String,
    /// The opaque refresh token.
    pub refresh_token: String,
    /// Space-separated scopes.
    pub scope: String,
    /// When the access token expires.
    pub access_expires_at: Timestamp,
}

/// What an [`OAuthRotation`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthRotationOutcome {
    /// The presented token is revoked (its access token deleted) and the
    /// successor pair issued.
    Rotated,
    /// The presented token was used within the grace window and the pair it
    /// was exchanged for is still current: here it is again.
    GraceRepeat(OAuthPair),
    /// No such token, or another client's.
    Unknown,
    /// The token is used up; nothing changed.
    Used,
    /// The token is used up and reuse protection revoked its family.
    ReuseDetected {
        /// Refresh tokens this revoked (not counting ones already revoked).
        revoked: usize,
    },
}

/// An access token as a protected request checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthAccess {
    /// The owner; `None` once the user is deleted.
    pub user_pk: Option<i64>,
    /// When it expires.
    pub expires_at: Timestamp,
}

/// What DOT's `cleartokens` semantics removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OAuthFlushReport {
    /// Refresh tokens revoked, or whose access token expired, more than the
    /// refresh token lifetime ago.
    pub refresh: usize,
    /// Expired access tokens that no refresh token refers to.
    pub access: usize,
}

/// Row counts of the OAuth tables, for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OAuthCounts {
    /// Access tokens.
    pub access: usize,
    /// Refresh tokens, revoked ones included.
    pub refresh: usize,
    /// Refresh tokens pointing at an access token that is gone, or access
    /// tokens pointing at a refresh token that is gone (must stay 0).
    pub orphans: usize,
}

/// The `cleartokens` cutoff: `now` minus the refresh token lifetime, in
/// microseconds (the stores' unit).
pub fn flush_cutoff(now: Timestamp, refresh_lifetime: Duration) -> i64 {
    now.micros()
        .saturating_sub(i64::try_from(refresh_lifetime.as_micros()).unwrap_or(i64::MAX))
}
