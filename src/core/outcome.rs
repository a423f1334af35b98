//! What a refresh, or a request, came back with, reduced to what the
//! coordinator decides on.

use super::time::Duration;

/// The result of one refresh attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The server issued a new credential and this tab holds it (the cookie
    /// jar took the rotated cookie, or the new tokens were stored).
    Rotated {
        /// How long the new credential lives at least, counted from when the
        /// refresh was sent, if the answer said: dj-rest-auth's
        /// `access_expiration` against the answer's `Date`, or the access
        /// JWT's `exp − iat`, rounded down by the claims' one-second
        /// granularity. Tells an expired replay from a refused one (see
        /// [`Coordinator`](crate::core::Coordinator)'s rule 7).
        lifetime: Option<Duration>,
    },
    /// The server refused the refresh credential: it is expired, blacklisted,
    /// missing or invalid. The session is over.
    Refused,
    /// The server answered that it cannot refresh right now (5xx, 429, 408).
    /// Nothing was rotated; trying again later is safe.
    Unavailable {
        /// The HTTP status of the answer.
        status: u16,
        /// How long the server asked the client to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// No answer could be read (network error, connection cut, body cut off).
    /// The server may have rotated the token and blacklisted the old one.
    Lost,
    /// The server answered with a redirect, which the refresh does not follow
    /// (it would carry the refresh token, as a cookie or in the body, to
    /// wherever it points). Nothing was refreshed, and nothing proves the
    /// session over; trying again would only be redirected again.
    Redirected,
}

impl RefreshOutcome {
    /// Classifies a refresh answer by status alone.
    ///
    /// 2xx is a rotation (of unknown lifetime: the status does not say). 401 and 403 are SimpleJWT's refusals (`token_not_valid`,
    /// "Token is blacklisted", dj-rest-auth's "No valid refresh token found.").
    /// 408, 429 and 5xx are transient. Any other 4xx means the request for a
    /// refresh itself was rejected (SimpleJWT answers 400 when the refresh
    /// token is missing), which no retry will change, so it ends the session
    /// too. 1xx/3xx cannot reach a `fetch` caller except as opaque redirects,
    /// which are treated as transient: nothing proves the session is over.
    pub fn from_status(status: u16, retry_after: Option<Duration>) -> Self {
        match status {
            200..=299 => Self::Rotated { lifetime: None },
            408 | 429 | 500..=599 => Self::Unavailable {
                status,
                retry_after,
            },
            400..=499 => Self::Refused,
            _ => Self::Unavailable {
                status,
                retry_after,
            },
        }
    }
}

/// The `error` code of an OAuth 2.0 token endpoint's error answer (RFC 6749
/// §5.2), the part of it the coordinator decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantError {
    /// The refresh token is invalid, expired, revoked or used up.
    InvalidGrant,
    /// The server does not know or accept this client.
    InvalidClient,
    /// The server cannot answer now (overloaded, in maintenance).
    TemporarilyUnavailable,
    /// Any other code (`invalid_request`, `invalid_scope`,
    /// `unsupported_grant_type`, ...), or none at all.
    Other,
}

impl RefreshOutcome {
    /// Classifies an OAuth 2.0 token endpoint's answer that is not a
    /// success, by its `error` code first and its status second.
    ///
    /// `invalid_grant` and `invalid_client` end the session whatever the
    /// status: the server said this credential, or this client, will never
    /// be refreshed. `temporarily_unavailable` is transient, even on a 400.
    /// Any other code is classified by status, as [`Self::from_status`]
    /// does: a 4xx the same request would get again ends the session, 5xx,
    /// 408 and 429 are transient.
    pub fn from_grant_error(status: u16, error: GrantError, retry_after: Option<Duration>) -> Self {
        match error {
            GrantError::InvalidGrant | GrantError::InvalidClient => Self::Refused,
            GrantError::TemporarilyUnavailable => Self::Unavailable {
                status,
                retry_after,
            },
            GrantError::Other => Self::from_status(status, retry_after),
        }
    }
}

/// What came back for a request the coordinator sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// HTTP 401: the credential was not accepted.
    Unauthorized,
    /// Any other HTTP status, 403 included: 403 is a permission answer, not an
    /// expiry, and refreshing would not change it.
    Other,
    /// No response (network error). The caller gets the error as `fetch`
    /// would give it.
    Failed,
}

impl Answer {
    /// Classifies an HTTP status: only 401 asks for a refresh.
    pub fn from_status(status: u16) -> Self {
        if status == 401 {
            Self::Unauthorized
        } else {
            Self::Other
        }
    }
}

/// Why the coordinator rejected a request instead of delivering an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The refresh was refused: the user must log in again.
    SessionExpired,
    /// Refreshing failed for now (retries used up, timed out, or asked to
    /// wait too long); the session is kept.
    RefreshUnavailable(Unavailability),
    /// The request needs a replay but its body was a stream, already
    /// consumed by the first send.
    ReplayNotPossible,
    /// The app logged out: a 401 now means no session, not an expiry.
    LoggedOut,
}

/// Why a refresh is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unavailability {
    /// The refresh, or the wait for it, took longer than allowed.
    Timeout,
    /// The refresh got no answer, every time it was tried.
    Network,
    /// The server kept answering with this status (5xx, 408, 429).
    Status(u16),
    /// The server asked to wait longer than `max_retry_after`.
    RetryAfterTooLong,
    /// The refresh endpoint answered with a redirect (see
    /// [`RefreshOutcome::Redirected`]).
    Redirected,
}
