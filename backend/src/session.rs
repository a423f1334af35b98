//! The token lifecycle: a pair issued at login, refresh tokens exchanged
//! (and rotated) for new access tokens, refresh tokens blacklisted at
//! logout. Both the body-mode and the cookie-mode endpoints call in here;
//! they differ only in where the token comes from and where it goes.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::app::AppState;
use crate::clock::Timestamp;
use crate::config::UserIdField;
use crate::error::ApiError;
use crate::ids::{canonical_uuid, new_jti};
use crate::jwt::{
    DecodedToken, TokenError, TokenType, AUTH_TIME_CLAIM, JTI_CLAIM, TOKEN_TYPE_CLAIM,
};
use crate::metrics::RefreshOutcome;
use crate::store::{OutstandingToken, Rotation, RotationOutcome, StoreError, User};

/// An encoded token with its `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The JWT.
    pub token: String,
    /// Its `exp`, whole seconds.
    pub expires_at: i64,
}

/// What a login hands out.
#[derive(Debug, Clone)]
pub struct IssuedPair {
    /// The access token.
    pub access: Issued,
    /// The refresh token.
    pub refresh: Issued,
}

/// What a successful refresh hands out.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// A new access token.
    pub access: Issued,
    /// The refresh token to use next, when rotating.
    pub refresh: Option<Issued>,
    /// Whether `refresh` is a successor handed out again inside the grace window.
    pub grace_reuse: bool,
}

/// A refused refresh: the answer and the outcome to count.
#[derive(Debug)]
pub struct Refused {
    /// What the client gets.
    pub error: ApiError,
    /// What `/metrics` counts.
    pub outcome: RefreshOutcome,
}

impl Refused {
    fn new(error: ApiError, outcome: RefreshOutcome) -> Self {
        Self { error, outcome }
    }

    /// The refusal for a token error, counted under the matching outcome.
    pub fn token(error: TokenError) -> Self {
        let outcome = match error {
            TokenError::Expired => RefreshOutcome::Expired,
            TokenError::Blacklisted => RefreshOutcome::Blacklisted,
            TokenError::WrongType | TokenError::NoType => RefreshOutcome::WrongType,
            TokenError::NoId | TokenError::NoExp => RefreshOutcome::MissingClaim,
            _ => RefreshOutcome::Invalid,
        };
        Self::new(ApiError::Token(error), outcome)
    }

    /// The refusal for a request that never got as far as a token.
    pub fn request(error: ApiError) -> Self {
        let outcome = match &error {
            ApiError::Fields(fields)
                if fields
                    .iter()
                    .all(|(_, m)| m.iter().all(|m| m == "This field is required.")) =>
            {
                RefreshOutcome::Missing
            }
            ApiError::TokenDetail(_) => RefreshOutcome::Missing,
            ApiError::Server => RefreshOutcome::ServerError,
            _ => RefreshOutcome::BadRequest,
        };
        Self::new(error, outcome)
    }

    fn server(context: &str, cause: &dyn std::fmt::Display) -> Self {
        Self::new(
            ApiError::internal(context, cause),
            RefreshOutcome::ServerError,
        )
    }
}

/// SimpleJWT's message when the user id claim is missing.
pub const NO_USER_CLAIM: &str = "Token contained no recognizable user identification";
/// SimpleJWT's refresh message for a token whose user is gone or inactive.
const NO_ACTIVE_ACCOUNT_FOR_TOKEN: &str = "No active account found for the given token.";

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// `now + lifetime` in whole seconds, truncated as SimpleJWT does, and held
/// under the session cap when there is one.
fn expiry(now: Timestamp, lifetime: Duration, cap: Option<i64>) -> i64 {
    let exp = now.plus(lifetime).secs();
    cap.map_or(exp, |cap| exp.min(cap))
}

impl AppState {
    /// The user a user id claim names, under the configured id field.
    ///
    /// A claim that cannot be a value of that field (text for an integer
    /// key, a non-UUID for `uuid`) is no user, never an error: SimpleJWT
    /// answers 500 there (#874's type confusion).
    ///
    /// # Errors
    /// On a storage failure.
    pub fn user_for_claim(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        let store = &self.config.store;
        match self.config.user_id_field {
            UserIdField::Id => match user_id.trim().parse::<i64>() {
                Ok(pk) => store.user_by_pk(pk),
                Err(_) => Ok(None),
            },
            UserIdField::Uuid => match canonical_uuid(user_id) {
                Some(uuid) => store.user_by_uuid(&uuid),
                None => Ok(None),
            },
        }
    }

    fn user_claim_value(&self, user: &User) -> String {
        match self.config.user_id_field {
            UserIdField::Id => user.pk.to_string(),
            UserIdField::Uuid => user.uuid.clone(),
        }
    }

    fn sign(&self, claims: &Map<String, Value>) -> Result<String, ApiError> {
        self.codec
            .sign(claims)
            .map_err(|e| ApiError::internal("signing a token", &e))
    }

    /// An access token derived from refresh claims, as SimpleJWT's
    /// `RefreshToken.access_token` does: every claim copied but the type,
    /// `exp` and `jti`.
    fn derive_access(
        &self,
        refresh_claims: &Map<String, Value>,
        now: Timestamp,
        cap: Option<i64>,
    ) -> Result<Issued, ApiError> {
        let expires_at = expiry(now, self.config.access_token_lifetime, cap);
        let mut claims = Map::new();
        claims.insert(
            TOKEN_TYPE_CLAIM.to_owned(),
            TokenType::Access.as_str().into(),
        );
        stamp(&mut claims, expires_at, now, jti()?);
        for (name, value) in refresh_claims {
            if ![TOKEN_TYPE_CLAIM, "exp", "iat", JTI_CLAIM].contains(&name.as_str()) {
                claims.insert(name.clone(), value.clone());
            }
        }
        Ok(Issued {
            token: self.sign(&claims)?,
            expires_at,
        })
    }

    /// A new pair for `user` at login; the refresh token becomes outstanding
    /// (the head of a new family) when the blacklist store is on.
    ///
    /// # Errors
    /// [`ApiError::Server`] on a storage or signing failure.
    pub fn issue_pair(&self, user: &User) -> Result<IssuedPair, ApiError> {
        let now = self.config.clock.now();
        let cap = self
            .config
            .session_max_lifetime
            .map(|max| now.secs().saturating_add(secs(max)));
        let expires_at = expiry(now, self.config.refresh_token_lifetime, cap);
        let jti = jti()?;
        let mut claims = Map::new();
        claims.insert(
            TOKEN_TYPE_CLAIM.to_owned(),
            TokenType::Refresh.as_str().into(),
        );
        stamp(&mut claims, expires_at, now, jti.clone());
        claims.insert(
            self.config.user_id_claim.clone(),
            self.user_claim_value(user).into(),
        );
        if self.config.session_max_lifetime.is_some() {
            claims.insert(AUTH_TIME_CLAIM.to_owned(), now.secs().into());
        }
        let refresh = Issued {
            token: self.sign(&claims)?,
            expires_at,
        };
        if self.config.blacklist_store {
            let outstanding = OutstandingToken {
                jti: jti.clone(),
                user_pk: Some(user.pk),
                family: jti,
                token: refresh.token.clone(),
                created_at: now.secs(),
                expires_at,
            };
            self.config
                .store
                .outstand(&outstanding)
                .map_err(|e| ApiError::internal("recording an outstanding token", &e))?;
        }
        let access = self.derive_access(&claims, now, cap)?;
        Ok(IssuedPair { access, refresh })
    }

    /// Exchanges a refresh token, as SimpleJWT's `TokenRefreshSerializer`
    /// does, with the fixes and options of this backend.
    ///
    /// By default the blacklist check and the blacklisting are separate
    /// store calls with a yield between them, as they are separate queries
    /// in Django: concurrent refreshes of one token can then all succeed and
    /// fork the chain, which is the failure the coordinator is tested
    /// against. `--atomic-rotation` (and the grace window and reuse
    /// detection, which build on it) make the exchange one transaction.
    ///
    /// # Errors
    /// A [`Refused`] with SimpleJWT's answer and the outcome to count.
    pub async fn refresh(&self, raw: &str) -> Result<Refreshed, Refused> {
        let config = &self.config;
        let now = config.clock.now();
        let decoded = self.codec.decode(raw, now).map_err(Refused::token)?;
        let transactional = config.transactional_simplejwt_rotation();
        if config.blacklist_store && !transactional {
            // SimpleJWT reads `payload["jti"]` here and crashes (500) when it
            // is missing; this answers "Token has no id" instead.
            let jti = decoded.jti().ok_or(Refused::token(TokenError::NoId))?;
            match config.store.is_blacklisted(jti) {
                Ok(true) => return Err(Refused::token(TokenError::Blacklisted)),
                Ok(false) => {}
                Err(e) => return Err(Refused::server("checking the blacklist", &e)),
            }
            // A separate query in Django: another refresh of the same token
            // can pass this check before this one blacklists it.
            tokio::task::yield_now().await;
        }
        decoded
            .check(Some(TokenType::Refresh))
            .map_err(Refused::token)?;
        let cap = self.session_cap(&decoded, now)?;
        let user_id = decoded.user_id(&config.user_id_claim).ok_or(Refused::new(
            ApiError::TokenDetail(NO_USER_CLAIM),
            RefreshOutcome::MissingClaim,
        ))?;
        let user = match self.user_for_claim(&user_id) {
            Ok(Some(user)) if user.is_active => user,
            // SimpleJWT answers 500 for a user that no longer exists.
            Ok(_) => {
                return Err(Refused::new(
                    ApiError::AuthenticationFailed(NO_ACTIVE_ACCOUNT_FOR_TOKEN),
                    RefreshOutcome::NoUser,
                ))
            }
            Err(e) => return Err(Refused::server("looking up the user", &e)),
        };
        let access = self
            .derive_access(decoded.claims(), now, cap)
            .map_err(Refused::request)?;
        if !config.rotate_refresh_tokens {
            return Ok(Refreshed {
                access,
                refresh: None,
                grace_reuse: false,
            });
        }

        let (successor, new_jti) = self
            .successor(&decoded, now, cap)
            .map_err(Refused::request)?;
        if !config.blacklist_store {
            // SimpleJWT 5.5.0 crashed here without the blacklist app (#875):
            // rotation needs no store when nothing is blacklisted.
            return Ok(Refreshed {
                access,
                refresh: Some(successor),
                grace_reuse: false,
            });
        }
        let old_jti = decoded.jti().unwrap_or_default().to_owned();
        let presented = OutstandingToken {
            jti: old_jti.clone(),
            user_pk: Some(user.pk),
            family: old_jti.clone(),
            token: raw.to_owned(),
            created_at: decoded
                .claims()
                .get("iat")
                .and_then(Value::as_i64)
                .unwrap_or(now.secs()),
            expires_at: decoded.exp().unwrap_or(now.secs()),
        };
        let successor_row = OutstandingToken {
            jti: new_jti,
            user_pk: Some(user.pk),
            family: old_jti,
            token: successor.token.clone(),
            created_at: now.secs(),
            expires_at: successor.expires_at,
        };

        if transactional {
            let rotation = Rotation {
                presented: &presented,
                successor: &successor_row,
                now,
                grace: config.rotation_grace,
                reuse_detection: config.reuse_detection,
            };
            return match config.store.rotate(&rotation) {
                Ok(RotationOutcome::Rotated) => {
                    self.metrics.rotation();
                    Ok(Refreshed {
                        access,
                        refresh: Some(successor),
                        grace_reuse: false,
                    })
                }
                Ok(RotationOutcome::GraceReuse { token, expires_at }) => Ok(Refreshed {
                    access,
                    refresh: Some(Issued { token, expires_at }),
                    grace_reuse: true,
                }),
                Ok(RotationOutcome::ReuseDetected { .. }) => Err(Refused::new(
                    ApiError::Token(TokenError::Blacklisted),
                    RefreshOutcome::ReuseDetected,
                )),
                Ok(_) => Err(Refused::token(TokenError::Blacklisted)),
                Err(e) => Err(Refused::server("rotating a refresh token", &e)),
            };
        }

        if let Err(e) = config.store.record_rotation(
            &presented,
            &successor_row,
            now,
            config.blacklist_after_rotation,
        ) {
            return Err(Refused::server("recording a rotation", &e));
        }
        self.metrics.rotation();
        Ok(Refreshed {
            access,
            refresh: Some(successor),
            grace_reuse: false,
        })
    }

    /// The end of the session under `--session-max-lifetime`, or `None`.
    fn session_cap(&self, decoded: &DecodedToken, now: Timestamp) -> Result<Option<i64>, Refused> {
        let Some(max) = self.config.session_max_lifetime else {
            return Ok(None);
        };
        let auth_time = decoded
            .auth_time()
            .ok_or(Refused::token(TokenError::Invalid))?;
        let cap = auth_time.saturating_add(secs(max));
        if now.secs() >= cap {
            return Err(Refused::new(
                ApiError::Token(TokenError::Expired),
                RefreshOutcome::SessionExpired,
            ));
        }
        Ok(Some(cap))
    }

    /// The rotated refresh token: the presented claims with a new `jti`,
    /// `exp` and `iat` (SimpleJWT's `set_jti`, `set_exp`, `set_iat`).
    fn successor(
        &self,
        decoded: &DecodedToken,
        now: Timestamp,
        cap: Option<i64>,
    ) -> Result<(Issued, String), ApiError> {
        let expires_at = expiry(now, self.config.refresh_token_lifetime, cap);
        let jti = jti()?;
        let mut claims = decoded.claims().clone();
        stamp(&mut claims, expires_at, now, jti.clone());
        let issued = Issued {
            token: self.sign(&claims)?,
            expires_at,
        };
        Ok((issued, jti))
    }

    /// Blacklists a refresh token at logout or through
    /// `/api/token/blacklist/`, after SimpleJWT's checks. A no-op without
    /// the blacklist store, as in SimpleJWT without the app.
    ///
    /// # Errors
    /// The token error SimpleJWT gives, or [`ApiError::Server`] on a storage
    /// failure.
    pub fn blacklist(&self, raw: &str) -> Result<(), ApiError> {
        let now = self.config.clock.now();
        let decoded = self.codec.decode(raw, now).map_err(ApiError::Token)?;
        if self.config.blacklist_store {
            let jti = decoded.jti().ok_or(ApiError::Token(TokenError::NoId))?;
            match self.config.store.is_blacklisted(jti) {
                Ok(true) => {
                    self.metrics.blacklist_hit();
                    return Err(ApiError::Token(TokenError::Blacklisted));
                }
                Ok(false) => {}
                Err(e) => return Err(ApiError::internal("checking the blacklist", &e)),
            }
        }
        decoded
            .check(Some(TokenType::Refresh))
            .map_err(ApiError::Token)?;
        if !self.config.blacklist_store {
            return Ok(());
        }
        let user_pk = decoded
            .user_id(&self.config.user_id_claim)
            .and_then(|id| self.user_for_claim(&id).ok().flatten())
            .map(|u| u.pk);
        let jti = decoded.jti().unwrap_or_default().to_owned();
        let token = OutstandingToken {
            jti: jti.clone(),
            user_pk,
            family: jti,
            token: raw.to_owned(),
            created_at: now.secs(),
            expires_at: decoded.exp().unwrap_or(now.secs()),
        };
        self.config
            .store
            .blacklist(&token, now)
            .map(|_| ())
            .map_err(|e| ApiError::internal("blacklisting a refresh token", &e))
    }

    /// SimpleJWT's `TokenVerifySerializer`: any type, and the blacklist
    /// consulted only when `BLACKLIST_AFTER_ROTATION` is on, as there.
    ///
    /// # Errors
    /// The token error SimpleJWT gives; a blacklisted token is the
    /// serializer's `ValidationError`, 400 `non_field_errors`, not a 401.
    pub fn verify(&self, raw: &str) -> Result<(), ApiError> {
        let now = self.config.clock.now();
        let decoded = self.codec.decode(raw, now).map_err(ApiError::Token)?;
        decoded.check(None).map_err(ApiError::Token)?;
        if self.config.blacklist_after_rotation && self.config.blacklist_store {
            let jti = decoded.jti().unwrap_or_default();
            match self.config.store.is_blacklisted(jti) {
                Ok(true) => {
                    self.metrics.blacklist_hit();
                    return Err(ApiError::field(
                        "non_field_errors",
                        TokenError::Blacklisted.message(),
                    ));
                }
                Ok(false) => {}
                Err(e) => return Err(ApiError::internal("checking the blacklist", &e)),
            }
        }
        Ok(())
    }
}

/// Sets a new token's `exp`, `iat` and `jti` (SimpleJWT's `set_exp`,
/// `set_iat`, `set_jti`).
fn stamp(claims: &mut Map<String, Value>, expires_at: i64, now: Timestamp, jti: String) {
    claims.insert("exp".to_owned(), expires_at.into());
    claims.insert("iat".to_owned(), now.secs().into());
    claims.insert(JTI_CLAIM.to_owned(), jti.into());
}

fn jti() -> Result<String, ApiError> {
    new_jti().map_err(|e| ApiError::internal("making a token id", &e))
}
