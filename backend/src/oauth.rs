//! Django OAuth Toolkit 3.4's token endpoint, `/o/token/`: the password
//! grant (a login, for tests) and the refresh grant (RFC 6749 §6), with
//! oauthlib's order of checks and answers, and without DOT's failures
//! (concurrent refreshes that all succeed under `--atomic-rotation`, a
//! grace repeat that reports the full lifetime, a 500 under concurrent
//! reuse).

use std::collections::HashMap;

use axum::http::{header, HeaderMap};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::body::percent_decode;
use crate::clock::Timestamp;
use crate::error::{ApiError, OAuthError};
use crate::ids::alphanumeric;
use crate::metrics::RefreshOutcome;
use crate::store::{OAuthIssue, OAuthPair, OAuthRotation, OAuthRotationOutcome, User};

/// oauthlib's `generate_token` length.
const TOKEN_LENGTH: usize = 30;

/// The parameters of a token request: the form body, the last value of a
/// repeated key winning, as DOT reads `request.POST`.
pub type TokenParams = HashMap<String, String>;

/// A refused token request: the answer, and for a refresh grant the
/// outcome to count.
#[derive(Debug)]
pub struct TokenRefusal {
    /// What the client gets.
    pub error: ApiError,
    /// What `/metrics` counts, for refresh grants.
    pub outcome: RefreshOutcome,
}

impl From<OAuthError> for TokenRefusal {
    fn from(error: OAuthError) -> Self {
        let outcome = match error {
            OAuthError::InvalidGrant(_) => RefreshOutcome::Invalid,
            OAuthError::InvalidRequest(_) => RefreshOutcome::Missing,
            _ => RefreshOutcome::BadRequest,
        };
        Self {
            error: ApiError::OAuth(error),
            outcome,
        }
    }
}

impl From<ApiError> for TokenRefusal {
    fn from(error: ApiError) -> Self {
        let outcome = if matches!(error, ApiError::Server) {
            RefreshOutcome::ServerError
        } else {
            RefreshOutcome::BadRequest
        };
        Self { error, outcome }
    }
}

fn refused(error: OAuthError, outcome: RefreshOutcome) -> TokenRefusal {
    TokenRefusal {
        error: ApiError::OAuth(error),
        outcome,
    }
}

/// What a grant hands out.
#[derive(Debug)]
pub struct Granted {
    /// The pair.
    pub pair: OAuthPair,
    /// Seconds the access token has left.
    pub expires_in: i64,
    /// Whether this is a grace repeat of an earlier answer.
    pub grace_repeat: bool,
}

impl Granted {
    /// oauthlib's `BearerToken` body, in its order.
    pub fn body(&self) -> Value {
        json!({
            "access_token": self.pair.access_token,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
            "scope": self.pair.scope,
            "refresh_token": self.pair.refresh_token,
        })
    }
}

/// The client a request names, by HTTP Basic (`id:` with an empty secret,
/// both percent-encoded as RFC 6749 §2.3.1 says) or by `client_id` in the
/// body, if it is one of `clients`.
fn client<'a>(
    headers: &HeaderMap,
    params: &TokenParams,
    clients: &'a [String],
) -> Result<&'a str, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    let id = match basic {
        Some((_, credentials)) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(credentials.trim())
                .map_err(|_| OAuthError::InvalidClient)?;
            let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::InvalidClient)?;
            let (id, secret) = decoded.split_once(':').ok_or(OAuthError::InvalidClient)?;
            if !secret.is_empty() {
                // A public client has no secret to match.
                return Err(OAuthError::InvalidClient);
            }
            String::from_utf8(percent_decode(id.as_bytes(), true))
                .map_err(|_| OAuthError::InvalidClient)?
        }
        None => params
            .get("client_id")
            .cloned()
            .ok_or(OAuthError::InvalidClient)?,
    };
    clients
        .iter()
        .find(|c| **c == id)
        .map(String::as_str)
        .ok_or(OAuthError::InvalidClient)
}

/// The scopes asked for, if they are all within `granted`; all of
/// `granted` when none is asked for.
fn scope(params: &TokenParams, granted: &[&str]) -> Result<String, OAuthError> {
    let Some(asked) = params.get("scope").filter(|s| !s.trim().is_empty()) else {
        return Ok(granted.join(" "));
    };
    let asked: Vec<&str> = asked.split_whitespace().collect();
    if asked.iter().all(|s| granted.contains(s)) {
        Ok(asked.join(" "))
    } else {
        Err(OAuthError::InvalidScope)
    }
}

fn new_token() -> Result<String, ApiError> {
    alphanumeric(TOKEN_LENGTH).map_err(|e| ApiError::internal("making an OAuth token", &e))
}

/// Seconds from `now` to `at`, never negative.
fn seconds_left(at: Timestamp, now: Timestamp) -> i64 {
    at.micros()
        .saturating_sub(now.micros())
        .div_euclid(1_000_000)
        .max(0)
}

/// The store's record of `pair`, issued to `user` through `client_id`.
fn issuing<'a>(pair: &'a OAuthPair, user: &User, client_id: &'a str) -> OAuthIssue<'a> {
    OAuthIssue {
        user_pk: user.pk,
        client_id,
        scope: &pair.scope,
        access_token: &pair.access_token,
        refresh_token: &pair.refresh_token,
        access_expires_at: pair.access_expires_at,
    }
}

impl AppState {
    /// Fresh tokens for `scope`, and the access token's `expires_in`.
    fn new_pair(&self, scope: String, now: Timestamp) -> Result<(OAuthPair, i64), ApiError> {
        let lifetime = self.config.oauth.access_token_lifetime;
        let pair = OAuthPair {
            access_token: new_token()?,
            refresh_token: new_token()?,
            scope,
            access_expires_at: now.plus(lifetime),
        };
        Ok((pair, i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)))
    }

    /// `grant_type=password`: a login. oauthlib checks the parameters, then
    /// the client, then the credentials.
    ///
    /// # Errors
    /// `invalid_request` for a missing username or password,
    /// `invalid_client`, `invalid_grant` "Invalid credentials given.",
    /// `invalid_scope`; a 500 only on a storage failure.
    pub fn oauth_password_grant(
        &self,
        headers: &HeaderMap,
        params: &TokenParams,
    ) -> Result<Granted, TokenRefusal> {
        let present = |name: &str| params.get(name).filter(|v| !v.is_empty());
        let username = present("username").ok_or(OAuthError::InvalidRequest(
            "Request is missing username parameter.",
        ))?;
        let password = present("password").ok_or(OAuthError::InvalidRequest(
            "Request is missing password parameter.",
        ))?;
        let client_id = client(headers, params, &self.config.oauth.clients)?;
        let user = self.check_credentials(username, password)?;
        self.metrics.login(user.is_some());
        let user = user.ok_or(OAuthError::InvalidGrant(Some("Invalid credentials given.")))?;
        let all: Vec<&str> = self
            .config
            .oauth
            .scopes
            .iter()
            .map(String::as_str)
            .collect();
        let scope = scope(params, &all)?;
        let (pair, expires_in) = self.new_pair(scope, self.config.clock.now())?;
        self.config
            .store
            .oauth_issue(&issuing(&pair, &user, client_id))
            .map_err(|e| ApiError::internal("issuing OAuth tokens", &e))?;
        Ok(Granted {
            pair,
            expires_in,
            grace_repeat: false,
        })
    }

    /// `grant_type=refresh_token`, as oauthlib orders its checks: the
    /// parameter, the client, the token, the scope.
    ///
    /// By default the check and the exchange are separate steps with a
    /// yield between, as DOT's validator and `save_bearer_token` are
    /// (separate queries; SQLite ignores its `select_for_update`), so
    /// concurrent refreshes of one token can all succeed. With atomic
    /// rotation, a grace window or reuse protection the exchange re-checks
    /// the token inside its transaction, and exactly one wins.
    ///
    /// # Errors
    /// `invalid_request` without a `refresh_token`, `invalid_client`,
    /// `invalid_grant` for a token that is unknown, another client's, used
    /// (reuse detection revokes its family first) or whose user is gone,
    /// `invalid_scope`; a 500 only on a storage failure.
    pub async fn oauth_refresh_grant(
        &self,
        headers: &HeaderMap,
        params: &TokenParams,
    ) -> Result<Granted, TokenRefusal> {
        let config = &self.config;
        let presented = params
            .get("refresh_token")
            .ok_or(OAuthError::InvalidRequest(
                "Missing refresh token parameter.",
            ))?;
        let client_id = client(headers, params, &config.oauth.clients)?;
        let now = config.clock.now();
        let found = config
            .store
            .oauth_refresh_state(presented)
            .map_err(|e| ApiError::internal("reading an OAuth refresh token", &e))?;
        let state = found
            .filter(|s| s.client_id == client_id)
            .ok_or(OAuthError::InvalidGrant(None))?;
        let exclusive = config.transactional_rotation();
        if state.revoked_at.is_some() && !exclusive {
            return Err(refused(
                OAuthError::InvalidGrant(None),
                RefreshOutcome::Blacklisted,
            ));
        }
        let user = self.active_user(state.user_pk)?;
        let granted: Vec<&str> = state.scope.split_whitespace().collect();
        let scope = scope(params, &granted)?;
        if !exclusive {
            // A separate query in DOT: another refresh of the same token
            // can pass the check above before this one revokes it.
            tokio::task::yield_now().await;
        }
        let (pair, expires_in) = self.new_pair(scope, now)?;
        let rotation = OAuthRotation {
            presented,
            successor: issuing(&pair, &user, client_id),
            now,
            grace: config.rotation_grace,
            reuse_protection: config.reuse_detection,
            exclusive,
        };
        let outcome = config
            .store
            .oauth_rotate(&rotation)
            .map_err(|e| ApiError::internal("rotating an OAuth refresh token", &e))?;
        match outcome {
            OAuthRotationOutcome::Rotated => {
                self.metrics.rotation();
                Ok(Granted {
                    pair,
                    expires_in,
                    grace_repeat: false,
                })
            }
            // DOT repeats the full lifetime here, for a token that expires
            // sooner.
            OAuthRotationOutcome::GraceRepeat(pair) => Ok(Granted {
                expires_in: seconds_left(pair.access_expires_at, now),
                pair,
                grace_repeat: true,
            }),
            OAuthRotationOutcome::ReuseDetected { .. } => Err(refused(
                OAuthError::InvalidGrant(None),
                RefreshOutcome::ReuseDetected,
            )),
            OAuthRotationOutcome::Used => Err(refused(
                OAuthError::InvalidGrant(None),
                RefreshOutcome::Blacklisted,
            )),
            _ => Err(OAuthError::InvalidGrant(None).into()),
        }
    }

    /// The active user with this key; a token of a deleted or inactive
    /// user is as good as none.
    fn active_user(&self, pk: Option<i64>) -> Result<User, TokenRefusal> {
        let user = match pk {
            Some(pk) => self
                .config
                .store
                .user_by_pk(pk)
                .map_err(|e| ApiError::internal("looking up the user", &e))?,
            None => None,
        };
        user.filter(|u| u.is_active).ok_or(refused(
            OAuthError::InvalidGrant(None),
            RefreshOutcome::NoUser,
        ))
    }

    /// The user of an opaque access token from `/o/token/`, if it is one
    /// that exists and has not expired (a rotation deletes the old one).
    ///
    /// # Errors
    /// On a storage failure.
    pub fn oauth_access_user(&self, raw: &str) -> Result<Option<User>, ApiError> {
        if self.config.oauth.clients.is_empty() || raw.len() != TOKEN_LENGTH {
            return Ok(None);
        }
        let store = &self.config.store;
        let access = store
            .oauth_access(raw)
            .map_err(|e| ApiError::internal("reading an OAuth access token", &e))?;
        let Some(access) = access.filter(|a| a.expires_at > self.config.clock.now()) else {
            return Ok(None);
        };
        let user = match access.user_pk {
            Some(pk) => store
                .user_by_pk(pk)
                .map_err(|e| ApiError::internal("looking up the user", &e))?,
            None => None,
        };
        Ok(user.filter(|u| u.is_active))
    }
}
